"""The Ray render farm on a local instance of two workers (RAY_AUTH_MODE=disabled, small).  Skipped
without the optional extra (pip install -e ".[ray]")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

ray = pytest.importorskip("ray", reason="the farm needs the optional extra: pip install -e \".[ray]\"")

from render.farm.cluster import Farm, FarmError  # noqa: E402
from render.farm.engine import FarmEngine, farm_engine_factory  # noqa: E402
from render.gallery import build_gallery  # noqa: E402
from render.recipe import load_recipe  # noqa: E402
from render.runner import render  # noqa: E402
from tests.helpers import REPO, frame_bytes  # noqa: E402

pytestmark = pytest.mark.ray

WALK = """kind = "walk"
[output]
size = [32, 32]
fps = 8
video = "none"
[model]
name = "dcgan-faces64"
[walk]
keys = [1, 2, 3]
frames_per_key = 4
loop = true
batch = 3
"""


@pytest.fixture(scope="module")
def farm():
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, namespace="neural-render")
    farm = Farm(workers=2, cpus_per_worker=1)
    yield farm
    farm.shutdown()
    ray.shutdown()


@pytest.fixture
def walk(tmp_path):
    path = tmp_path / "walk.toml"
    path.write_text(WALK)
    return load_recipe(path)


def test_a_walk_on_the_farm_equals_the_local_walk_frame_for_frame(farm, walk, tmp_path):
    engines = []
    result = render(walk, tmp_path / "farm", engine_factory=farm_engine_factory(farm, engines=engines))
    local = render(walk, tmp_path / "local")
    assert sorted(result.rendered) == list(range(12)) and len(local.rendered) == 12
    assert frame_bytes(tmp_path / "farm", 12) == frame_bytes(tmp_path / "local", 12)
    assert len(set(engines[0].pids)) == 2   # both workers took batches


def test_a_farm_run_resumes_locally_and_a_local_run_on_the_farm(farm, walk, tmp_path):
    render(walk, tmp_path / "mixed", frames=list(range(5)), engine_factory=farm_engine_factory(farm))
    rest = render(walk, tmp_path / "mixed")
    assert sorted(rest.rendered) == list(range(5, 12))
    render(walk, tmp_path / "other", frames=list(range(7)))
    engines = []
    farm_rest = render(walk, tmp_path / "other", engine_factory=farm_engine_factory(farm, engines=engines))
    assert sorted(farm_rest.rendered) == list(range(7, 12))
    render(walk, tmp_path / "local")
    assert frame_bytes(tmp_path / "mixed", 12) == frame_bytes(tmp_path / "local", 12) == frame_bytes(tmp_path / "other", 12)


def test_a_gallery_on_the_farm_runs_each_chained_recipe_on_one_worker(farm, write_recipe, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dream = write_recipe(name="zoom.toml")
    walks = []
    for name, keys in (("a", "[1, 2]"), ("b", "[3, 4]")):
        path = tmp_path / f"{name}.toml"
        path.write_text(WALK.replace("keys = [1, 2, 3]", f"keys = {keys}").replace("loop = true", "loop = false"))
        walks.append(path)
    built = []
    import render.farm.engine as farm_engine
    original = farm_engine.FarmEngine

    class Recording(original):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)
    monkeypatch.setattr(farm_engine, "FarmEngine", Recording)
    entries = build_gallery([dream] + walks, tmp_path / "gallery", farm=farm)
    assert [e.status for e in entries] == ["rendered"] * 3, [e.reason for e in entries]
    chained = [e for e in built if e.chained]
    assert len(chained) == 1 and len(chained[0].pids) == 4 and len(set(chained[0].pids)) == 1
    local = load_recipe(dream)
    render(local, tmp_path / "local-zoom")
    assert frame_bytes(tmp_path / "renders" / "zoom", 4) == frame_bytes(tmp_path / "local-zoom", 4)


def test_killing_a_worker_mid_batch_loses_and_doubles_no_frame(farm, walk, tmp_path):
    engines = []

    def factory(recipe):
        engine = FarmEngine(farm, recipe)
        submitted = []

        def kill_third(number):
            submitted.append(number)
            if len(submitted) == 3:   # a batch is now in flight on this worker: kill its process
                os.kill(farm.info[number]["pid"], signal.SIGKILL)
        engine.on_submit = kill_third
        engines.append(engine)
        return engine
    result = render(walk, tmp_path / "farm", engine_factory=factory)
    assert engines[0].retries >= 1
    assert sorted(result.rendered) == list(range(12))   # each frame stored exactly once
    render(walk, tmp_path / "local")
    assert frame_bytes(tmp_path / "farm", 12) == frame_bytes(tmp_path / "local", 12)
    assert len(farm.workers) == 2   # the dead worker was replaced


def test_asking_for_a_gpu_nobody_has_fails_fast_with_one_line(farm):
    started = time.perf_counter()
    with pytest.raises(FarmError, match="1 GPU per worker, but the cluster has no GPU"):
        Farm(gpus_per_worker=1)
    assert time.perf_counter() - started < 5


def test_the_command_reports_an_impossible_request_as_one_line(tmp_path):
    path = tmp_path / "walk.toml"
    path.write_text(WALK)
    env = dict(os.environ, PYTHONPATH=str(REPO), RAY_AUTH_MODE="disabled")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "render.cli", "run", str(path), "--out", str(tmp_path / "r"),
                           "--ray", "--gpus-per-worker", "1"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert [l for l in done.stderr.splitlines() if l.startswith("error:")] == [
        l for l in done.stderr.splitlines() if "GPU" in l]
    assert time.perf_counter() - started < 60


def test_a_print_on_a_farm_worker_equals_the_local_print(farm, tmp_path):
    from render.farm.engine import print_on_farm
    from render.prints.driver import make_print, options_for, plan_print
    recipe = load_recipe(REPO / "recipes" / "walk-poster.toml", ["output.size=[192,128]"])
    options = options_for(recipe, size="300x200px", dpi=100, fmt="png")
    info = print_on_farm(farm, recipe, options, tmp_path / "farm-run", tmp_path / "farm.png")
    local = make_print(plan_print(recipe, options), tmp_path / "local-run", tmp_path / "local.png")
    assert info["worker_pid"] in {i["pid"] for i in farm.info.values()}
    from tests.helpers import pixels
    assert (pixels(tmp_path / "farm.png") == pixels(local.path)).all()


def test_farm_status_lists_each_worker_its_device_and_work(farm):
    from render.farm.cluster import farm_status, format_status
    rows = farm_status(ray)
    assert len(rows) == 2 and all(r["pid"] in {i["pid"] for i in farm.info.values()} for r in rows)
    text = format_status(ray, rows)
    assert "workers: 2" in text and "CPU" in text and "idle" in text
