"""Kinds are plug-ins: two toy kinds registered from this test suite through the real entry point
mechanism (a dist-info folder on sys.path), with no file under render/ edited."""

import textwrap

import numpy as np
import pytest

from render.errors import RecipeError
from render.framekeys import frame_keys
from render.kinds import ENTRY_POINT_GROUP, default_registry
from render.plan import make_plan
from render.recipe import load_recipe
from render.runner import parse_frame_range, render
from tests.helpers import counting_factory, frame_bytes, pixels

TOY_MODULE = '''
"""Two toy kinds: "fill" (independent: each frame one keyframed colour) and "drift" (chained: each
frame is the previous one plus a keyframed step)."""
import numpy as np
from render.kinds.base import Kind
from render.recipe.fields import Number, Vector


class Fill(Kind):
    name = "fill"
    description = "a frame filled with one colour"
    chained = False
    default_batch = 3
    default_model = "vgg16"
    sections = {"fill": {"color": Vector([0.5, 0.5, 0.5], 3, 0.0, 1.0, help="RGB 0..1"),
                         "batch": Number(3, 1, 64, integer=True, help="frames per call")}}

    def batch_size(self, recipe):
        return recipe.sections["fill"]["batch"]

    def min_side(self, model):
        return 8  # no network looks at these frames

    def build_engine(self, recipe):
        width, height = recipe.output.size
        return FillEngine(width, height)


class FillEngine:
    def __init__(self, width, height):
        self.width, self.height = width, height

    def render_batch(self, jobs):
        return [np.tile(np.round(np.asarray(job.row["fill.color"]) * 255).astype(np.uint8),
                        (self.height, self.width, 1)) for job in jobs]


class Drift(Kind):
    name = "drift"
    description = "each frame brightens the previous one"
    chained = True
    default_model = "vgg16"
    sections = {"drift": {"step": Number(1, 0, 50, integer=True, keyframed=True)}}

    def min_side(self, model):
        return 8

    def build_engine(self, recipe):
        width, height = recipe.output.size
        return DriftEngine(width, height)


class DriftEngine:
    def __init__(self, width, height):
        self.width, self.height = width, height

    def render_batch(self, jobs):
        assert len(jobs) == 1, "chained kinds get one frame at a time"
        job = jobs[0]
        start = np.zeros((self.height, self.width, 3), np.uint8) if job.previous is None else job.previous
        return [np.clip(start.astype(int) + int(job.row["drift.step"]), 0, 255).astype(np.uint8)]


FILL = Fill()
DRIFT = Drift
'''


@pytest.fixture
def toy_kinds(tmp_path, monkeypatch):
    """Install the toy kinds as a distribution with entry points, visible only to this test."""
    site = tmp_path / "site"
    dist = site / "toykinds-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "toykinds.py").write_text(TOY_MODULE)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toykinds\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nfill = toykinds:FILL\ndrift = toykinds:DRIFT\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    import sys
    sys.modules.pop("toykinds", None)


FILL_RECIPE = """\
kind = "fill"
[output]
size = [8, 8]
frames = 10
fps = 10
video = "none"
[fill]
batch = 4
color = { 0 = [1.0, 0.0, 0.0], 9 = [0.0, 0.0, 1.0] }
"""

DRIFT_RECIPE = """\
kind = "drift"
[output]
size = [8, 8]
frames = 8
video = "none"
[drift]
step = 10
"""


def write(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_entry_points_register_the_toy_kinds(toy_kinds):
    registry = default_registry()
    assert {"dream", "fill", "drift"} <= set(registry.names())
    assert registry.get("fill").chained is False and registry.get("drift").chained is True


def test_independent_kind_renders_only_the_frames_asked_for_in_batches(toy_kinds, tmp_path):
    recipe = load_recipe(write(tmp_path, FILL_RECIPE, "fill.toml"))
    engines = []
    render(recipe, tmp_path / "run", frames=parse_frame_range("3", 10), engine_factory=counting_factory(engines))
    assert engines[0].batches == [[3]]
    assert sorted(p.name for p in (tmp_path / "run" / "frames").glob("*.png")) == ["frame_000003.png"]
    render(recipe, tmp_path / "run", engine_factory=counting_factory(engines))
    assert engines[1].batches == [[0, 1, 2, 4], [5, 6, 7, 8], [9]]  # batch = 4 from the recipe
    first, last = pixels(tmp_path / "run" / "frames" / "frame_000000.png"), \
        pixels(tmp_path / "run" / "frames" / "frame_000009.png")
    assert first[0, 0].tolist() == [255, 0, 0] and last[0, 0].tolist() == [0, 0, 255]


def test_independent_kind_rerenders_exactly_the_changed_rows(toy_kinds, tmp_path):
    path = write(tmp_path, FILL_RECIPE, "fill.toml")
    render(load_recipe(path), tmp_path / "run")
    before = frame_bytes(tmp_path / "run", 10)
    engines = []
    # a key added at frame 6 changes frames 1..8 (the segments on both sides of it), not 0 or 9
    changed = load_recipe(path, ["fill.color={ 0 = [1.0, 0.0, 0.0], 6 = [1.0, 0.0, 0.0], 9 = [0.0, 0.0, 1.0] }"])
    old_rows = make_plan(load_recipe(path)).columns["fill.color"]
    new_rows = make_plan(changed).columns["fill.color"]
    differs = [i for i in range(10) if not np.array_equal(old_rows[i], new_rows[i])]
    render(changed, tmp_path / "run", engine_factory=counting_factory(engines))
    assert engines[0].calls == differs == list(range(1, 9))
    after = frame_bytes(tmp_path / "run", 10)
    assert after[0] == before[0] and after[9] == before[9]


def test_a_failing_batch_keeps_the_batches_before_it(toy_kinds, tmp_path):
    recipe = load_recipe(write(tmp_path, FILL_RECIPE, "fill.toml"))

    class FailsThirdBatch:
        def __init__(self, r):
            self.inner, self.count = r.kind.build_engine(r), 0

        def render_batch(self, jobs):
            self.count += 1
            if self.count == 3:
                raise RuntimeError("out of memory in batch 3")
            return self.inner.render_batch(jobs)

    with pytest.raises(RuntimeError, match="batch 3"):
        render(recipe, tmp_path / "run", engine_factory=FailsThirdBatch)
    stored = sorted(int(p.stem[-6:]) for p in (tmp_path / "run" / "frames").glob("*.json"))
    assert stored == [0, 1, 2, 3, 4, 5, 6, 7]
    engines = []
    render(recipe, tmp_path / "run", engine_factory=counting_factory(engines))
    assert engines[0].calls == [8, 9]


def test_independent_keys_do_not_chain(toy_kinds, tmp_path):
    path = write(tmp_path, FILL_RECIPE, "fill.toml")
    red, blue = "[1.0, 0.0, 0.0]", "[0.0, 0.0, 1.0]"
    keys = frame_keys(make_plan(load_recipe(path, [f"fill.color={{ 0 = {red}, 4 = {red}, 9 = {blue} }}"])))
    edited = frame_keys(make_plan(load_recipe(
        path, [f"fill.color={{ 0 = {red}, 2 = [0.0, 1.0, 0.0], 4 = {red}, 9 = {blue} }}"])))
    # only rows 1..3 changed; a chain would have changed every key from frame 1 on
    assert [i for i in range(10) if keys[i] != edited[i]] == [1, 2, 3]


def test_chained_kind_change_at_frame_5_rerenders_5_onwards(toy_kinds, tmp_path):
    path = write(tmp_path, DRIFT_RECIPE, "drift.toml")
    render(load_recipe(path), tmp_path / "run")
    assert pixels(tmp_path / "run" / "frames" / "frame_000007.png")[0, 0, 0] == 80
    before = frame_bytes(tmp_path / "run", 8)
    engines = []
    render(load_recipe(path, ["drift.step={ 0 = 10, 5 = 20, interp = \"step\" }"]), tmp_path / "run",
           engine_factory=counting_factory(engines))
    assert engines[0].batches == [[5], [6], [7]]
    assert frame_bytes(tmp_path / "run", 5) == before[:5]
    assert pixels(tmp_path / "run" / "frames" / "frame_000007.png")[0, 0, 0] == 50 + 3 * 20


def test_toy_kind_tables_are_validated_like_built_in_ones(toy_kinds, tmp_path):
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, FILL_RECIPE.replace("batch = 4", "batch = 0"), "bad.toml"))
    assert err.value.key == "fill.batch" and err.value.line == 8
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, FILL_RECIPE.replace("[0.0, 0.0, 1.0]", "[0.0, 2.0, 1.0]"), "bad.toml"))
    assert err.value.key == "fill.color.9.1" and "out of range" in err.value.message
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, FILL_RECIPE.replace("9 = [0.0, 0.0, 1.0]", "12 = [0.0, 0.0, 1.0], cycle = true"),
                          "bad.toml"))
    assert err.value.key == "fill.color" and "cycle" in err.value.message


def test_frames_waiting_for_a_writer_are_bounded(toy_kinds, tmp_path, monkeypatch):
    """A fast engine does not run ahead of slow PNG writers without limit (memory on long runs)."""
    import os
    import threading
    import time
    from render.store import RunStore
    recipe = load_recipe(write(tmp_path, FILL_RECIPE.replace("frames = 10", "frames = 60"), "fill.toml"))
    saved, lock = [], threading.Lock()
    real_save = RunStore.save

    def slow_save(self, index, image, key):
        time.sleep(0.02)
        real_save(self, index, image, key)
        with lock:
            saved.append(index)

    monkeypatch.setattr(RunStore, "save", slow_save)
    waiting = []

    class Watching:
        def __init__(self, r):
            self.inner, self.asked = r.kind.build_engine(r), 0

        def render_batch(self, jobs):
            with lock:
                waiting.append(self.asked - len(saved))
            self.asked += len(jobs)
            return self.inner.render_batch(jobs)

    render(recipe, tmp_path / "run", engine_factory=Watching)
    bound = 2 * max(4, (os.cpu_count() or 1) + 1)
    assert max(waiting) <= bound + 4 and len(saved) == 60
    assert max(waiting) >= 4  # the writers did fall behind, so the bound was exercised
