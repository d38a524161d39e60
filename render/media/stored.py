"""Another recipe's rendered frames as a source: ``content = { recipe = "walk.toml" }`` (style),
``input = { recipe = ... }`` (translate), ``[dream] source = { recipe = ... }``.

A :class:`StoredFrames` reads the PNGs of the upstream's run folder by their frame keys: frame ``n``
counts as there only when its sidecar holds key ``keys[n]`` (:class:`render.store.RunStore`), so a
stale frame is never read.  Output frame ``n`` shows upstream frame ``n`` (one to one, like a folder;
past the end the last is held), fitted like any picture.  A frame's identity, for the downstream's frame
keys, is the upstream's frame key, so editing the upstream re-renders the downstream exactly where
upstream frames changed.

This module only reads: which recipe the frames come from, their keys and their folder are worked out
by :mod:`render.graph`, which also renders the missing upstream frames before the downstream asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import RenderError
from ..store import RunStore
from .pictures import load_picture
from .source import MediaSource


@dataclass
class StoredFrames(MediaSource):
    """``path`` is the upstream recipe file, ``keys`` its frame keys (one per frame), ``folder`` its
    run folder, ``rate`` its frame rate (fps) and ``maker`` its kind's name; ``size`` is its frame
    size (width, height).  ``kind`` is ``"recipe"``."""

    keys: tuple[str, ...] = ()
    folder: Path = Path(".")
    rate: float = 30.0
    maker: str = ""
    _store: RunStore | None = field(default=None, repr=False, compare=False)

    @property
    def native_fps(self) -> float:
        return float(self.rate)

    @property
    def count(self) -> int:
        return len(self.keys)

    def source_index(self, index: int) -> int:
        return min(index, self.count - 1)

    def identity(self, index: int) -> str:
        """The upstream frame key of the frame output frame ``index`` shows."""
        return self.keys[self.source_index(index)]

    @property
    def store(self) -> RunStore:
        if self._store is None:
            self._store = RunStore(self.folder)
        return self._store

    def missing(self, indices=None) -> list[int]:
        """Upstream frames (of ``indices``, default all) not stored for their current key, in order."""
        wanted = range(self.count) if indices is None else sorted(set(indices))
        return [i for i in wanted if not self.store.is_done(i, self.keys[i])]

    def read(self, index: int, width: int, height: int) -> np.ndarray:
        """Output frame ``index`` as float32 ``(height, width, 3)`` in 0..1; :class:`RenderError` when
        the upstream frame is not stored for its current key (the graph renders it first)."""
        source = self.source_index(index)
        if self._last[:3] == (source, width, height):
            return self._last[3].copy()
        if self.missing([source]):
            raise RenderError(f"frame {source} of {self.path} is not rendered in {self.folder} (or is out of date); "
                              f"`render run` of the recipe using it renders it first")
        frame = load_picture(self.store.frame_path(source), width, height, self.background)
        self._last = (source, width, height, frame)
        return frame.copy()

    def describe(self) -> str:
        count, missing = self.count, len(self.missing())
        stored = ("all stored" if not missing else "none stored yet" if missing == count
                  else f"{count - missing} stored, {missing} not yet")
        return (f"{self.maker} recipe, {count} frame{'s' if count != 1 else ''} at {self.rate:g} fps "
                f"(frame n shows its frame n); {stored} in {self.folder}"
                + ("" if not missing else " (`render run` renders those its frames need first)"))
