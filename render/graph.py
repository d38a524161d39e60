"""Recipes that use other recipes' frames, as a graph above the runner.

A recipe may take another recipe's frames as its footage (``content = { recipe = "walk.toml" }``, and
that recipe may do the same).  Loading a recipe reads such a key into a plain
:class:`render.recipe.model.RecipeRef`; this module owns everything else:

- :func:`load_graph` loads the asked recipe and, depth first, every recipe it reaches; a recipe that
  reaches itself is refused with one line naming the chain (``a.toml -> b.toml -> a.toml``), at the key
  that closes it, and an upstream's own mistake names the downstream keys that reached it.  Each
  upstream becomes a :class:`Node` (its recipe, run folder and frame keys), and the key that named it a
  :class:`render.media.stored.StoredFrames` reading that folder by those keys.  ``preview`` makes every
  level a draft (:func:`render.plan.preview_recipe`) stored in ``<run folder>-preview``.
- :func:`render_graph` works out, from the asked recipe down, which frames of each level are needed and
  not stored (a chained downstream frame also needs the frame before it: optical flow reads both), then
  renders them from the bottom up, each level once, and the asked recipe last.  Upstream levels are
  never encoded, and a level with nothing missing is not touched (its run folder is not even locked).

Frame keys do not change: a downstream frame's key names the upstream frame key it reads, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .framekeys import frame_keys
from .media import MediaError
from .media.stored import StoredFrames
from .plan import Plan, format_plan, make_plan, preview_recipe
from .errors import RecipeError, RenderError
from .recipe import Recipe, load_recipe
from .recipe.model import RecipeRef
from .runner import Progress, RunResult, default_out_dir, ensure_networks, frames_to_render, render
from .store import RunStore


@dataclass
class Node:
    """One recipe of the graph: ``recipe`` as loaded (a draft when previewing), ``out_dir`` its run
    folder, ``keys`` its frame keys, ``uses`` the sources its frames read from upstream nodes."""

    recipe: Recipe
    out_dir: Path
    plan: Plan
    keys: list[str]
    uses: list[tuple[StoredFrames, "Node"]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return Path(self.recipe.path).name


@dataclass
class RecipeGraph:
    """``nodes`` in render order: every node after the nodes it reads; the asked recipe last."""

    nodes: list[Node]

    @property
    def root(self) -> Node:
        return self.nodes[-1]

    @property
    def recipe(self) -> Recipe:
        return self.root.recipe

    @property
    def upstream(self) -> list[Node]:
        return self.nodes[:-1]

    def readers(self, node: Node) -> str:
        """The names of the recipes that read ``node``'s frames, comma-separated."""
        return ", ".join(reader.name for reader in self.nodes if any(used is node for _, used in reader.uses))


def _chain_text(chain: Iterable[Path]) -> str:
    chain = list(chain)
    names = [path.name for path in chain]
    if len(set(names)) < len(set(chain)):  # two recipes of one name in different folders: say which
        names = [str(path) for path in chain]
    return " -> ".join(names)


class _Loader:
    """Loads nodes depth first; ``chain`` is the path of recipes from the asked one to the one loading."""

    def __init__(self, registry, preview: bool):
        self.registry, self.preview = registry, preview
        self.nodes: dict[tuple[Path, Path | None], Node] = {}
        self.order: list[Node] = []

    def load(self, path: Path, out_dir: Path | None, chain: tuple[Path, ...], overrides=(), text=None) -> Node:
        uses: list[tuple[StoredFrames, Node]] = []
        here = chain + (Path(path).resolve(),)

        def open_frames(ref: RecipeRef) -> StoredFrames:
            if ref.path.resolve() in here:
                loop = here[here.index(ref.path.resolve()):] + (ref.path.resolve(),)
                raise MediaError(f"recipes name each other in a cycle: {_chain_text(loop)}; a recipe cannot use "
                                 "its own frames as footage")
            node = self.upstream(ref, here)
            source = StoredFrames(ref.path, "recipe", (), size=node.recipe.output.size, keys=tuple(node.keys),
                                  folder=node.out_dir, rate=float(node.recipe.output.fps),
                                  maker=node.recipe.kind.name)
            if not any(used is node for _, used in uses):
                uses.append((source, node))
            return source

        recipe = load_recipe(path, overrides, self.registry, text, recipes=open_frames)
        if self.preview:
            recipe = preview_recipe(recipe)
        if out_dir is None:
            out_dir = default_out_dir(recipe, self.preview)
        plan = make_plan(recipe)
        node = Node(recipe, Path(out_dir), plan, frame_keys(plan), uses)
        self.order.append(node)
        return node

    def upstream(self, ref: RecipeRef, chain: tuple[Path, ...]) -> Node:
        """The node ``ref`` names, loaded once however many recipes read it (per run folder)."""
        out = ref.out
        if out is not None and self.preview:
            out = out.with_name(out.name + "-preview")
        known = (ref.path.resolve(), out.resolve() if out is not None else None)
        if known not in self.nodes:
            self.nodes[known] = self.load(ref.path, out, chain)
        return self.nodes[known]


def load_graph(path: str | Path, overrides: Iterable[str] = (), *, text: str | None = None, preview: bool = False,
               out_dir: Path | None = None, registry=None) -> RecipeGraph:
    """The recipe at ``path`` (``overrides`` and ``text`` as :func:`render.recipe.load_recipe` takes
    them) and every recipe whose frames it uses, directly or not.  ``out_dir`` is the asked recipe's
    run folder (default: the one `render run` gives it, ``-preview`` added when previewing); upstream
    recipes use the ``out`` their reference gives, or their own default.  Raises
    :class:`render.errors.RecipeError` for any recipe's mistake and for a cycle."""
    loader = _Loader(registry, preview)
    loader.load(Path(path), out_dir, (), tuple(overrides), text)
    return RecipeGraph(loader.order)


@dataclass(frozen=True)
class Need:
    """Of one level: ``needed``, the frames that must be stored (the asked recipe: the frames asked for;
    an upstream: those the frames rendered above it read), and ``todo``, the frames to render (those of
    ``needed`` not stored, and for chained kinds the missing ones before them)."""

    needed: list[int]
    todo: list[int]


def needed_frames(graph: RecipeGraph, frames: list[int] | None = None, force: bool = False) -> list[Need]:
    """One :class:`Need` per node of ``graph``, in its order, for rendering the asked recipe's ``frames``
    (default: all; ``force``: all of them again).  Worked out from the top down: a level's frames to
    render, and for a chained kind the frame before each (its optical flow reads both), are what its
    upstream levels must have stored."""
    last = len(graph.nodes) - 1
    needed: dict[int, set[int]] = {last: set(frames if frames is not None else range(graph.root.recipe.output.frames))}
    position = {id(node): i for i, node in enumerate(graph.nodes)}
    needs: dict[int, Need] = {}
    for i in reversed(range(len(graph.nodes))):
        node, chosen = graph.nodes[i], sorted(needed.get(i, ()))
        chained = node.recipe.kind.chained
        todo = frames_to_render(RunStore(node.out_dir), node.keys, chosen, force and i == last, chained) if chosen else []
        needs[i] = Need(chosen, todo)
        reads = set(todo) | ({f - 1 for f in todo if f > 0} if chained else set())
        for source, upstream in node.uses:
            needed.setdefault(position[id(upstream)], set()).update(source.source_index(f) for f in reads)
    return [needs[i] for i in range(len(graph.nodes))]


@dataclass
class GraphRun:
    """What :func:`render_graph` did: one (node, result) per level, upstream first, the asked recipe
    last.  An upstream level's ``reused`` counts the frames the levels above read that were stored
    already (none when the levels above rendered nothing)."""

    levels: list[tuple[Node, RunResult]]

    @property
    def result(self) -> RunResult:
        return self.levels[-1][1]

    @property
    def upstream(self) -> list[tuple[Node, RunResult]]:
        return self.levels[:-1]


def render_upstream(graph: RecipeGraph, frames: list[int] | None = None, progress=None,
                    engine_factory=None) -> list[tuple[Node, RunResult]]:
    """Render what the upstream levels miss for the asked recipe's ``frames`` (default: all), bottom
    up; nothing is encoded.  Returns one (node, result) per upstream level."""
    needs = needed_frames(graph, frames)
    done = []
    for node, need in zip(graph.upstream, needs):
        if not need.todo:  # all stored: the level's run folder is left alone (not even locked)
            done.append((node, RunResult(node.out_dir, reused=len(need.needed))))
            continue
        try:
            done.append((node, render(node.recipe, node.out_dir, need.needed, encode=False, progress=progress,
                                      engine_factory=engine_factory)))
        except RecipeError:
            raise
        except RenderError as err:  # say which recipe's frames were being made, and for whom
            raise type(err)(f"{err} (rendering the frames of {node.recipe.path} that {graph.readers(node)} uses)") from None
    return done


def render_graph(graph: RecipeGraph, frames: list[int] | None = None, force: bool = False, encode: bool = True,
                 progress: Callable[[Progress], None] | None = None, engine_factory=None) -> GraphRun:
    """Render the asked recipe's ``frames`` (default: all; ``force`` renders them again) into its run
    folder, after the upstream frames they need; then encode its video when every frame is there.
    Every level's packaged networks are fetched first: offline, nothing renders."""
    for node in graph.nodes:
        ensure_networks(node.recipe)
    levels = render_upstream(graph, frames, progress, engine_factory)
    root = graph.root
    result = render(root.recipe, root.out_dir, frames, force, encode, progress, engine_factory)
    return GraphRun(levels + [(root, result)])


def format_chain(graph: RecipeGraph, limit: int | None = 6, plans: bool = True) -> str:
    """``render plan``'s lines for the upstream levels: the render order, then for each upstream what
    reads it and how many of its frames are stored, and (``plans``) its own plan, indented, with
    ``limit`` rows of its table (None: all)."""
    lines = ["order    " + " -> ".join(node.name for node in graph.nodes) + " (each renders before those after it)"]
    for node in graph.upstream:
        store = RunStore(node.out_dir)
        stored = sum(store.is_done(i, key) for i, key in enumerate(node.keys))
        lines.append(f"upstream {node.name}, whose frames {graph.readers(node)} uses: {stored} of {len(node.keys)} stored in "
                     f"{node.out_dir}")
        if plans:
            lines += ["  " + line for line in format_plan(node.plan, limit).splitlines()] + [""]
    return "\n".join(lines)
