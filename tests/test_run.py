"""Run folders: rerun reuses frames, a killed run resumes to identical frames, one writer at a time."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from render.errors import OutputError
from render.recipe import load_recipe
from render.runner import parse_frame_range, render
from render.store import RunStore


def frame_bytes(folder, frames):
    return [(folder / "frames" / f"frame_{i:06d}.png").read_bytes() for i in range(frames)]


class CountingEngine:
    def __init__(self, recipe):
        from render.engines.base import engine_for
        self.inner, self.calls = engine_for(recipe), []

    def render_frame(self, index, params, previous, first):
        self.calls.append(index)
        return self.inner.render_frame(index, params, previous, first)


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    """The tiny recipe rendered in one go: (recipe path, run folder)."""
    import shutil
    from tests.conftest import CHELSEA, TINY_RECIPE
    folder = tmp_path_factory.mktemp("unbroken")
    shutil.copyfile(CHELSEA, folder / "chelsea.png")
    path = folder / "tiny.toml"
    path.write_text(TINY_RECIPE)
    result = render(load_recipe(path), folder / "run")
    assert result.rendered == [0, 1, 2, 3] and result.video is not None
    return path, folder / "run"


def test_rerun_renders_nothing_and_frames_differ(unbroken):
    path, run = unbroken
    built = []
    result = render(load_recipe(path), run, engine_factory=lambda r: built.append(r) or CountingEngine(r))
    assert result.rendered == [] and result.reused == 4 and built == []
    frames = frame_bytes(run, 4)
    assert len(set(frames)) == 4, "each frame moves on from the last"
    meta = json.loads((run / "run.json").read_text())
    assert meta["resolved"]["output"]["size"] == [64, 48]


def test_changed_keyframe_rerenders_only_affected_frames(unbroken, tmp_path):
    import shutil
    path, run = unbroken
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    engines = []
    factory = lambda r: engines.append(CountingEngine(r)) or engines[-1]
    recipe = load_recipe(path, ["motion.rotate={0=1.0, 2=1.0, 3=-2.0}"])
    render(recipe, copy, engine_factory=factory)
    assert engines[0].calls == [3]
    assert frame_bytes(copy, 3) == frame_bytes(run, 3)


def test_frames_option_renders_missing_predecessors(unbroken, tmp_path):
    path, run = unbroken
    engines = []
    factory = lambda r: engines.append(CountingEngine(r)) or engines[-1]
    result = render(load_recipe(path), tmp_path / "part", frames=parse_frame_range("2", 4), engine_factory=factory)
    assert engines[0].calls == [0, 1, 2] and result.video is None
    assert frame_bytes(tmp_path / "part", 3) == frame_bytes(run, 3)
    assert parse_frame_range("0-1,3-", 6) == [0, 1, 3, 4, 5]
    with pytest.raises(ValueError):
        parse_frame_range("5-2", 6)


def test_killed_run_resumes_to_identical_frames(unbroken, tmp_path):
    path, run = unbroken
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "render.cli", "run", str(path), "--out", str(out), "--quiet",
               "--set", "output.video='none'"]
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and not (out / "frames" / "frame_000001.json").exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = sorted(p.name for p in (out / "frames").glob("*.json"))
    assert "frame_000001.json" in done_before and "frame_000003.json" not in done_before
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert frame_bytes(out, 4) == frame_bytes(run, 4)


def test_a_torn_frame_is_rendered_again(unbroken, tmp_path):
    import shutil
    path, run = unbroken
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "frames" / "frame_000002.png").write_bytes(b"\x89PNG truncated")
    engines = []
    render(load_recipe(path), copy, engine_factory=lambda r: engines.append(CountingEngine(r)) or engines[-1])
    assert engines[0].calls == [2]  # frame 3 still matches its key and bytes
    assert frame_bytes(copy, 4) == frame_bytes(run, 4)


def test_two_runs_in_one_folder_are_refused(unbroken):
    path, run = unbroken
    with RunStore(run):
        with pytest.raises(OutputError, match="in use by another render"):
            render(load_recipe(path), run)


def test_write_failures_are_output_errors(tmp_path):
    from render.store import atomic_write
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write(tmp_path / "no-such-folder" / "frame.png", b"x")
