"""The house: the layers of render/ import only downwards, with no circle anywhere (imports inside
functions included, read from the source), and the recipe graph leaves every example recipe's frame
keys as they were before it (recorded from the commit before it, in tests/data/recipe-keys.json).
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "render"

# The layers of render/, top to bottom, written once: a module may import modules of its own layer
# and of the layers below it, never of a layer above.  A name is a module or a package (all of it).
LAYERS = [
    ["cli"],
    ["gallery", "gallery_page", "inspect", "doctor", "plot", "training.cli_support", "style_sheet"],  # whole tasks
    ["farm"],                                                                            # Ray workers
    ["graph"],                                                             # recipes that use recipes
    ["runner", "prints.driver", "upscale_stage"],                                          # one recipe's frames, prints
    ["plan", "framekeys", "metadata", "provenance"],                      # per-frame table, frame keys
    ["recipe.__init__", "recipe.loader", "recipe.json_schema"],           # TOML -> Recipe
    ["kinds"],                                                            # one plug-in per kind
    ["recipe"],                                                   # fields, the Recipe type, schemas
    ["prints"],                                                   # per-kind print renderers
    ["engines", "training"],                                      # pixels
    ["models", "temporal", "media", "audio", "signals", "expressions", "schedule"],
    ["backend", "outputs", "store", "cachedir", "notices", "contracts", "errors", "tfsetup", "progress", "__init__",
     "prints.paper", "prints.files"],
]


def module_names(package: Path = PACKAGE) -> dict[str, Path]:
    """``"recipe.loader"`` (relative to the package; a package's own file is ``"media.__init__"``) ->
    its file."""
    return {".".join(path.relative_to(package).with_suffix("").parts): path for path in package.rglob("*.py")}


def layer_of(module: str) -> int:
    """The layer of ``module``: the one naming it, else the one naming its closest package."""
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        name = ".".join(parts[:depth])
        for index, layer in enumerate(LAYERS):
            if name in layer:
                return index
    raise AssertionError(f"render.{module} is in no layer: add it to LAYERS")


def imports_of(path: Path, modules: dict[str, Path], package: Path = PACKAGE) -> set[str]:
    """The render modules ``path`` imports anywhere in its source (inside functions too)."""
    here = path.relative_to(package).with_suffix("").parts[:-1]   # the package this file is in
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(("render",) + here[:len(here) - node.level + 1] + ((base,) if base else ()))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            if name.split(".")[0] != "render":
                continue
            target = resolve(name.split(".")[1:], modules)
            if target is not None:
                found.add(target)
                break
    return found


def resolve(parts: list[str], modules: dict[str, Path]) -> str | None:
    """The module a dotted name (without ``render.``) lands in: the longest module prefix."""
    for depth in range(len(parts), -1, -1):
        name = ".".join(parts[:depth])
        if name in modules:
            return name
        if f"{name}.__init__" in modules or (not name and "__init__" in modules):
            return f"{name}.__init__" if name else "__init__"
    return None


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: imports_of(path, modules, package) - {name} for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"render.{module} (layer {layer_of(module)}) imports render.{target} (layer {layer_of(target)})"
            for module, targets in sorted(graph.items()) for target in sorted(targets)
            if layer_of(target) < layer_of(module)]


def test_every_module_imports_only_its_own_layer_and_those_below():
    upward = upward_imports(import_graph())
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_anywhere_in_render():
    assert cycles(import_graph()) == []


def test_the_checks_see_lazy_imports_and_circles(tmp_path):
    """On a made-up package: an import inside a function is an arrow (media reaching up to the runner
    is refused), and a circle through a lazy import is found."""
    package = tmp_path / "render"
    (package / "media").mkdir(parents=True)
    for name, text in {"__init__.py": "", "media/__init__.py": "from .stored import read\n",
                       "media/stored.py": "def read():\n    from ..runner import render\n    return render\n",
                       "runner.py": "from .media import read\n\n\ndef render():\n    pass\n"}.items():
        (package / name).write_text(text)
    graph = import_graph(package)
    assert graph["media.stored"] == {"runner"} and graph["runner"] == {"media.__init__"}
    assert upward_imports(graph) == ["render.media.stored (layer 11) imports render.runner (layer 4)"]
    assert cycles(graph) == [["media.__init__", "media.stored", "runner"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# --- frame keys of the example recipes -------------------------------------------------------------

RECORDED = Path(__file__).parent / "data" / "recipe-keys.json"
# Previews of recipes that use another recipe's frames now preview that recipe too (their keys name
# the upstream draft's frame keys, so they change by design); their full keys do not.
PREVIEW_OF_UPSTREAM = {"dream-footage.toml --preview", "style-footage.toml --preview"}


def recipe_keys(edits: dict[str, tuple[str, ...]] | None = None) -> dict[str, dict]:
    """Every example recipe's frame keys, whole and ``--preview``, as recorded in RECORDED; ``edits``
    maps a recipe file to ``--set`` strings applied to it."""
    from render.graph import load_graph
    out = {}
    for path in sorted((REPO / "recipes").glob("*.toml")):
        for preview in (False, True):
            keys = load_graph(path, (edits or {}).get(path.name, ()), preview=preview).root.keys
            out[path.name + (" --preview" if preview else "")] = {
                "frames": len(keys), "first": keys[0], "last": keys[-1],
                "all": hashlib.sha256("\n".join(keys).encode()).hexdigest()}
    return out


@pytest.fixture
def auto_is_float32(monkeypatch):
    """``precision = "auto"`` resolved as on a CPU without bfloat16 (keys name the precision)."""
    import render.backend.devices as devices
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)


# models/edges2faces/generator.weights.h5 when the keys were recorded: float32, sha256 below.  It is
# stored in float16 since (its pictures within 1/255 of these: tests/test_models.py), and keys name a
# weights file by its sha256, so the translate recipes' keys changed with it and with nothing else.
EDGES2FACES_FLOAT32 = "6acf614f802176d76ca594b8cd42a37c9de1096871a32e315ef854ce20a8e865"
TRANSLATE = ("translate-photo.toml", "translate-sketches.toml")
# The same for models/dcgan-faces64/generator.weights.h5, stored in float16 since issue 28 (its faces
# within a third of a uint8 level of these: tests/test_walk.py): the walks' keys, and those of the
# recipes whose frames come from a walk, changed with it.
DCGAN_FLOAT32 = "2488e50d053a5508e0bfa10e12fed7c86dbc981282e64b4d5bf06bd64b7feab8"
WALKS = ("walk-loop.toml", "walk-poster.toml", "music-walk.toml")
# The style engine's version when the keys were recorded; style-3 defines the TV term for flat frames.
STYLE_ENGINE = "style-2"
# Dream footage keeps new detail only where the dream was not carried: a key part ("carry") since,
# and recipes/dream-footage.toml dreams its later frames with all its steps (it said 3).
DREAM_FOOTAGE = ("dream-footage.toml",)
RECIPE_EDITS = {"dream-footage.toml": ("dream.steps_per_frame=3",)}
# Recipes written since, on the networks from packages (issues 27 and 28): not in the record.
ADDED = {name + preview for name in ("inception-atlas.toml", "inception-zoom.toml", "walk-poster-esrgan.toml",
                                     "style-fast-footage.toml", "style-fast-morph.toml")
         for preview in ("", " --preview")}
STYLE = ("music-morph.toml", "style-footage.toml", "style-morph.toml", "style-print.toml", "style-still.toml")


def test_the_example_recipes_keep_their_frame_keys(auto_is_float32, monkeypatch):
    import render.framekeys as framekeys
    monkeypatch.chdir(REPO)   # upstream run folders are named from where one runs, as recorded
    recorded = json.loads(RECORDED.read_text())
    now = recipe_keys()
    assert sorted(set(now) - set(recorded)) == sorted(ADDED)
    now = {name: keys for name, keys in now.items() if name in recorded}
    changed = {name for name in now if now[name] != recorded[name]}
    assert changed == {name + preview for name in TRANSLATE + STYLE + DREAM_FOOTAGE + WALKS
                       for preview in ("", " --preview")}

    identity = framekeys.model_identity   # the float32 files' digests put back: every other key as recorded
    float32 = {"edges2faces": EDGES2FACES_FLOAT32, "dcgan-faces64": DCGAN_FLOAT32}
    monkeypatch.setattr(framekeys, "model_identity", lambda recipe: f"{recipe.model.name}:{float32[recipe.model.name]}"
                        if recipe.model.name in float32 else identity(recipe))
    from render.kinds.style import KIND as STYLE_KIND
    monkeypatch.setattr(STYLE_KIND, "engine_version", STYLE_ENGINE)   # and the style engine's version
    from render.kinds.dream import KIND as DREAM_KIND
    parts = DREAM_KIND.key_parts
    monkeypatch.setattr(DREAM_KIND, "key_parts", lambda recipe: {k: v for k, v in parts(recipe).items() if k != "carry"})
    again = {name: keys for name, keys in recipe_keys(RECIPE_EDITS).items() if name in recorded}
    assert {name for name in again if again[name] != recorded[name]} == PREVIEW_OF_UPSTREAM


# --- the footage recipes render the same pixels ------------------------------------------------------

SMALL = {  # the example footage recipes, cut to 4 tiny frames (a chain longer than two)
    "dream-footage.toml": ["output.size=[64,64]", "dream.octaves=1", "dream.steps=2", "dream.steps_per_frame=1",
                           "dream.tile=64"],
    "style-footage.toml": ["output.size=[64,64]", "style.steps=2", "style.steps_per_frame=1", "style.scales=[1.0]"],
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_footage_recipe_renders_what_it_renders_over_a_folder_of_its_upstream_frames(name, tmp_path, monkeypatch):
    """The reference reads copies of the stored upstream frames from a plain folder: the recipe graph
    must hand the downstream exactly those pixels, frame by frame, through a chain of four frames."""
    import shutil

    from render.graph import load_graph, render_graph
    from render.store import RunStore
    from tests.helpers import frame_bytes, frame_pixels

    monkeypatch.chdir(tmp_path)
    walk = (REPO / "recipes" / "walk-loop.toml").read_text().replace("size = [384, 384]", "size = [64, 64]")
    (tmp_path / "walk-loop.toml").write_text(walk.replace("frames_per_key = 36", "frames_per_key = 1"))
    text = (REPO / "recipes" / name).read_text().replace('"assets/', f'"{REPO}/recipes/assets/')
    (tmp_path / name).write_text(text)
    small = SMALL[name] + ["output.frames=4", 'output.video="none"']
    done = render_graph(load_graph(tmp_path / name, small))
    assert done.upstream[0][1].rendered == [0, 1, 2, 3] and done.result.rendered == [0, 1, 2, 3]

    copies = tmp_path / "copies"
    copies.mkdir()
    upstream = RunStore(tmp_path / "renders" / "walk-loop")
    for i in range(4):
        shutil.copyfile(upstream.frame_path(i), copies / f"frame_{i}.png")
    assert len(set(frame_bytes(tmp_path / "renders" / "walk-loop", 4))) == 4   # four different faces
    assert text.count('{ recipe = "walk-loop.toml" }') == 1
    (tmp_path / "ref.toml").write_text(text.replace('{ recipe = "walk-loop.toml" }', '"copies"'))
    render_graph(load_graph(tmp_path / "ref.toml", small, out_dir=tmp_path / "ref"))
    made = frame_pixels(tmp_path / "renders" / name.removesuffix(".toml"), 4)
    expected = frame_pixels(tmp_path / "ref", 4)
    for i in range(4):
        assert made[i] == expected[i], f"frame {i}"
