"""Run folders: rerun reuses frames, a killed run resumes to identical frames, one writer at a time,
frames are written atomically, and resuming trusts size and mtime instead of re-hashing."""

import json
import os
import shutil

import pytest

from render.errors import OutputError
from render.recipe import load_recipe
from render.runner import parse_frame_range, render
from render.store import RunStore
from tests.helpers import CHELSEA, TINY_RECIPE, counting_factory, frame_bytes, kill_and_resume


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    """The tiny recipe rendered in one go: (recipe path, run folder)."""
    folder = tmp_path_factory.mktemp("unbroken")
    shutil.copyfile(CHELSEA, folder / "chelsea.png")
    path = folder / "tiny.toml"
    path.write_text(TINY_RECIPE)
    result = render(load_recipe(path), folder / "run")
    assert result.rendered == [0, 1, 2, 3] and result.video is not None
    return path, folder / "run"


def copy_run(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def test_rerun_renders_nothing_and_frames_differ(unbroken):
    path, run = unbroken
    built = []
    result = render(load_recipe(path), run, engine_factory=lambda r: built.append(r))
    assert result.rendered == [] and result.reused == 4 and built == []
    frames = frame_bytes(run, 4)
    assert len(set(frames)) == 4, "each frame moves on from the last"
    meta = json.loads((run / "run.json").read_text())
    assert meta["resolved"]["output"]["size"] == [80, 48]


def test_run_json_records_where_the_frames_came_from(unbroken):
    meta = json.loads((unbroken[1] / "run.json").read_text())
    recipe = load_recipe(unbroken[0])
    assert meta["precision"] == recipe.precision in ("float32", "bfloat16")
    prov = meta["provenance"]
    assert prov["device"]["cpu"]["model"] and isinstance(prov["device"]["cpu"]["vector_features"], list)
    assert set(prov["versions"]) >= {"tensorflow", "keras", "numpy", "renderer"}
    assert prov["versions"]["tensorflow"] and prov["versions"]["numpy"]


@pytest.mark.parametrize("frame", [1, 2, 3])
def test_changed_keyframe_rerenders_that_frame_and_the_rest_of_the_chain(unbroken, tmp_path, frame):
    """A change at frame k re-renders k..3 and nothing before, and those frames really change."""
    path, run = unbroken
    copy = copy_run(run, tmp_path)
    engines = []
    rotate = "{" + ", ".join(f"{i} = {(-2.0 if i == frame else 1.0)}" for i in range(4)) + ", interp = \"step\"}"
    render(load_recipe(path, [f"motion.rotate={rotate}"]), copy, engine_factory=counting_factory(engines))
    assert engines[0].calls == list(range(frame, 4))
    assert frame_bytes(copy, range(frame)) == frame_bytes(run, range(frame))
    assert all(a != b for a, b in zip(frame_bytes(copy, range(frame, 4)), frame_bytes(run, range(frame, 4))))


def test_frames_option_renders_missing_predecessors(unbroken, tmp_path):
    path, run = unbroken
    engines = []
    result = render(load_recipe(path), tmp_path / "part", frames=parse_frame_range("2", 4),
                    engine_factory=counting_factory(engines))
    assert engines[0].calls == [0, 1, 2] and result.video is None
    assert frame_bytes(tmp_path / "part", 3) == frame_bytes(run, 3)
    assert parse_frame_range("0-1,3-", 6) == [0, 1, 3, 4, 5]
    with pytest.raises(ValueError):
        parse_frame_range("5-2", 6)


def test_resume_from_the_middle_matches_the_unbroken_run(unbroken, tmp_path):
    """Frames 2 and 3 rendered by a new process-like run from stored 0 and 1 (colour reference loaded
    from the store) equal the unbroken ones."""
    path, run = unbroken
    copy = copy_run(run, tmp_path)
    for index in (2, 3):
        (copy / "frames" / f"frame_{index:06d}.json").unlink()
    engines = []
    render(load_recipe(path), copy, engine_factory=counting_factory(engines))
    assert engines[0].calls == [2, 3]
    assert frame_bytes(copy, 4) == frame_bytes(run, 4)


@pytest.mark.parametrize("kill_at", [1, 3])
def test_killed_run_resumes_to_identical_frames(unbroken, tmp_path, kill_at):
    path, run = unbroken
    out = tmp_path / "killed"
    kill_and_resume(path, out, kill_at)
    assert frame_bytes(out, 4) == frame_bytes(run, 4)


def test_a_torn_frame_is_rendered_again(unbroken, tmp_path):
    path, run = unbroken
    copy = copy_run(run, tmp_path)
    (copy / "frames" / "frame_000002.png").write_bytes(b"\x89PNG truncated")
    engines = []
    render(load_recipe(path), copy, engine_factory=counting_factory(engines))
    assert engines[0].calls == [2]  # frame 3 still matches its key and bytes
    assert frame_bytes(copy, 4) == frame_bytes(run, 4)


def test_resume_rehashes_only_frames_whose_size_or_mtime_changed(unbroken, tmp_path, monkeypatch):
    path, run = unbroken
    copy = copy_run(run, tmp_path)  # copytree keeps mtimes
    keys = [json.loads((copy / "frames" / f"frame_{i:06d}.json").read_text())["key"] for i in range(4)]
    import hashlib
    hashed = []
    real = hashlib.sha256
    monkeypatch.setattr("render.store.hashlib.sha256", lambda data=b"": hashed.append(len(data)) or real(data))
    store = RunStore(copy)
    assert all(store.is_done(i, keys[i]) for i in range(4)) and hashed == []
    os.utime(copy / "frames" / "frame_000001.png", ns=(1, 1))  # same bytes, other mtime: hashed, accepted
    assert RunStore(copy).is_done(1, keys[1]) and len(hashed) == 1
    png = copy / "frames" / "frame_000002.png"
    data = bytearray(png.read_bytes())
    data[-20] ^= 0xFF
    png.write_bytes(bytes(data))  # same size, new mtime, other bytes: rejected
    assert not RunStore(copy).is_done(2, keys[2])


def test_two_runs_in_one_folder_are_refused(unbroken):
    path, run = unbroken
    with RunStore(run):
        with pytest.raises(OutputError, match="in use by another render"):
            render(load_recipe(path), run)


def test_write_failures_are_output_errors(tmp_path):
    from render.store import atomic_write
    with pytest.raises(OutputError, match="cannot write"):
        atomic_write(tmp_path / "no-such-folder" / "frame.png", b"x")


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    """Frames go to a temporary file and are renamed: a write that fails midway never touches the
    file already there, and leaves no temporary behind."""
    from render.store import atomic_write
    target = tmp_path / "frame.png"
    target.write_bytes(b"the old frame")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("render.store.os.fsync", failing_fsync)
    with pytest.raises(OutputError, match="No space left"):
        atomic_write(target, b"a new frame that never completes")
    assert target.read_bytes() == b"the old frame"
    assert [p.name for p in tmp_path.iterdir()] == ["frame.png"]


def test_a_rerun_with_nothing_changed_keeps_the_video_and_any_change_encodes_it_again(unbroken, tmp_path):
    """The video is made again only when what it is made of changed: a frame, a video setting or the
    file itself (touched or replaced); otherwise the run says it is up to date."""
    import time
    path, run = unbroken
    run = copy_run(run, tmp_path)
    first = render(load_recipe(path), run)           # a copy has new times: encoded once more, recorded
    video = first.video
    stamp = video.stat().st_mtime_ns
    again = render(load_recipe(path), run)
    assert (again.video, again.video_reused, again.rendered) == (video, True, [])
    assert video.stat().st_mtime_ns == stamp          # not written at all
    time.sleep(0.01)
    quality = render(load_recipe(path, ["output.quality=30"]), run)   # a video setting: encoded, nothing rendered
    assert (quality.video_reused, quality.rendered) == (False, []) and video.stat().st_mtime_ns != stamp
    assert render(load_recipe(path, ["output.quality=30"]), run).video_reused
    video.write_bytes(video.read_bytes()[:-10])       # a damaged video is made again
    assert not render(load_recipe(path, ["output.quality=30"]), run).video_reused
    edited = render(load_recipe(path, ["output.quality=30", "dream.step_size=0.03"]), run)  # frames changed
    assert edited.rendered and not edited.video_reused
