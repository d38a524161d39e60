"""Another recipe's frames as footage: ``content = { recipe = "walk.toml" }`` (style),
``input = { recipe = "zoom.toml" }`` (translate), ``[dream] source = { recipe = ... }``.

The upstream recipe is loaded with the downstream one (its own mistakes are reported as its own, with
its file and line); output frame ``n`` of the downstream shows upstream frame ``n`` (one to one, like a
folder; past the end the last is held), and the downstream plays at the upstream's frame rate when it
gives none.  The frames are the PNGs stored in the upstream's run folder (``out = "folder"``, relative
to the recipe; default the folder `render run` gives it, ``renders/<name>``), fitted like any picture.

A frame's identity, for the downstream's frame keys, is the upstream's *frame key* of that frame, so
editing the upstream recipe re-renders the downstream exactly where upstream frames changed.  Before
a downstream render, :meth:`RecipeSource.render_missing` renders the upstream frames it needs that are
not stored (or are stale); :meth:`RecipeSource.read` renders a missing frame itself as a last resort.

Recipes that name each other in a circle are refused while loading: :func:`recipe_chain` is the stack
of recipes being loaded (kept by :func:`render.recipe.load_recipe`).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .pictures import load_picture
from .source import MediaError, MediaSource

_LOADING: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("recipes_being_loaded", default=())


def recipe_chain() -> tuple[Path, ...]:
    """The recipes being loaded now, outermost first (resolved paths)."""
    return _LOADING.get()


@contextlib.contextmanager
def loading(path: Path):
    """Mark ``path`` as being loaded while the block runs (for the cycle check)."""
    token = _LOADING.set(_LOADING.get() + (Path(path).resolve(),))
    try:
        yield
    finally:
        _LOADING.reset(token)


def _chain_text(chain: tuple[Path, ...]) -> str:
    names = [path.name for path in chain]
    if len(set(names)) < len(set(chain)):  # two recipes of one name in different folders: say which
        names = [str(path) for path in chain]
    return " -> ".join(names)


@dataclass
class RecipeSource(MediaSource):
    """``path`` is the upstream recipe file, ``upstream`` the loaded recipe, ``out_dir`` its run folder."""

    upstream: Any = None
    out_dir: Path = Path(".")
    _cache: dict = field(default_factory=dict, repr=False, compare=False)   # its frame keys, its RunStore

    @property
    def native_fps(self) -> float | None:
        return float(self.upstream.output.fps)

    @property
    def count(self) -> int:
        return self.upstream.output.frames

    def source_index(self, index: int) -> int:
        return min(index, self.count - 1)

    @property
    def keys(self) -> list[str]:
        """The upstream's frame keys (computed once: they hash its model and input files)."""
        if "keys" not in self._cache:
            from ..framekeys import frame_keys
            from ..plan import make_plan
            self._cache["keys"] = frame_keys(make_plan(self.upstream))
        return self._cache["keys"]

    def identity(self, index: int) -> str:
        """The upstream frame key of the frame output frame ``index`` shows."""
        return self.keys[self.source_index(index)]

    def _store(self):
        from ..store import RunStore
        if "store" not in self._cache:
            self._cache["store"] = RunStore(self.out_dir)
        return self._cache["store"]

    def missing(self, indices=None) -> list[int]:
        """Upstream frames (of ``indices``, default all) not stored for their current key."""
        store, keys = self._store(), self.keys
        wanted = range(self.count) if indices is None else sorted(set(indices))
        return [i for i in wanted if not store.is_done(i, keys[i])]

    def render_missing(self, indices, progress=None):
        """Render the upstream frames ``indices`` (upstream frame numbers) that are not stored;
        returns the upstream's :class:`render.runner.RunResult`, or None when nothing was missing."""
        todo = self.missing(indices)
        if not todo:
            return None
        from ..runner import render
        return render(self.upstream, self.out_dir, frames=todo, encode=False, progress=progress)

    def read(self, index: int, width: int, height: int) -> np.ndarray:
        source = self.source_index(index)
        if self._last[:3] == (source, width, height):
            return self._last[3].copy()
        if self.missing([source]):  # not rendered first (a print, a test): render it now
            self.render_missing([source])
        frame = load_picture(self._store().frame_path(source), width, height, self.background)
        self._last = (source, width, height, frame)
        return frame.copy()

    def describe(self) -> str:
        count, fps = self.count, self.upstream.output.fps
        missing = len(self.missing())
        stored = ("all stored" if not missing else "none stored yet" if missing == count
                  else f"{count - missing} stored, {missing} not yet")
        return (f"{self.upstream.kind.name} recipe, {count} frame{'s' if count != 1 else ''} at {fps:g} fps "
                f"(frame n shows its frame n); {stored} in {self.out_dir}"
                + ("" if not missing else " (`render run` renders those its frames need first)"))


def open_recipe_source(raw: dict, base_dir: Path) -> RecipeSource:
    """``{ recipe = "path.toml", out = "folder" }`` (paths relative to ``base_dir``) -> the upstream as
    a source (bound to 30 fps and a white background until :meth:`MediaSource.bound`).  Raises
    :class:`MediaError` for a malformed table, a missing file or a cycle; the upstream's own mistakes
    raise its :class:`render.errors.RecipeError`."""
    unknown = [key for key in raw if key not in ("recipe", "out")]
    if unknown:
        raise MediaError(f"unknown key {unknown[0]!r} in the table; it takes recipe = \"file.toml\" and "
                         "optionally out = \"run folder\"")
    name, out = raw.get("recipe"), raw.get("out")
    if not isinstance(name, str) or not name.strip():
        raise MediaError('expected { recipe = "file.toml" }: the recipe whose frames to use')
    if out is not None and (not isinstance(out, str) or not out.strip()):
        raise MediaError(f"out: expected the upstream's run folder as a path, got {out!r}")
    path = Path(name) if Path(name).is_absolute() else base_dir / name
    if not path.is_file():
        raise MediaError(f"recipe not found: {path} (paths are relative to the recipe)")
    chain = recipe_chain()
    if path.resolve() in chain:
        loop = chain[chain.index(path.resolve()):] + (path.resolve(),)
        raise MediaError(f"recipes name each other in a cycle: {_chain_text(loop)}; a recipe cannot use its "
                         "own frames as footage")
    from ..recipe import load_recipe
    from ..runner import default_out_dir
    upstream = load_recipe(path)
    if out is None:
        folder = default_out_dir(upstream)  # where `render run` of it stores them, from here
    else:
        folder = Path(out) if Path(out).is_absolute() else base_dir / out
    return RecipeSource(path, "recipe", (), upstream=upstream, out_dir=folder, size=upstream.output.size)
