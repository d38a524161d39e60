"""Encoding: every codec, read back with ffmpeg for frame count, size and fps; clear ffmpeg errors."""

import numpy as np
import pytest

from render.errors import OutputError
from render.outputs.probe import probe_video
from render.outputs.video import CODECS, encode_video, loop_order, video_path


def synthetic(index, size=(64, 48)):
    width, height = size
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, : (index * 7) % width] = (255, 128, 0)
    frame[(index * 5) % height:, :, 2] = 200
    return frame


@pytest.mark.parametrize("video,codec", [("mp4", "h264"), ("hevc", "hevc"), ("prores", "prores"),
                                         ("prores4444", "prores"), ("webm", "vp9"), ("gif", "gif")])
def test_every_codec_round_trips_count_size_fps(tmp_path, video, codec):
    path = encode_video(synthetic, list(range(6)), (64, 48), 12.0, video, 20, video_path(tmp_path, "t", video))
    assert path.suffix == "." + CODECS[video].extension and path.exists()
    facts = probe_video(path)
    assert (facts.codec, facts.width, facts.height, facts.frames) == (codec, 64, 48, 6)
    if video != "gif":  # gif stores delays in 1/100 s
        assert facts.fps == pytest.approx(12.0)
    assert not list(tmp_path.glob(".*partial*"))


def test_pingpong_plays_back_and_forth():
    assert loop_order(4, "pingpong") == [0, 1, 2, 3, 2, 1]
    assert loop_order(4, "forward") == [0, 1, 2, 3]


def test_ffmpeg_failure_reports_ffmpegs_message(tmp_path):
    with pytest.raises(OutputError, match=r"ffmpeg failed encoding t\.mp4 \(mp4\): .*crf"):
        encode_video(synthetic, [0, 1], (64, 48), 12.0, "mp4", -5, tmp_path / "t.mp4")  # crf out of range
    assert not (tmp_path / "t.mp4").exists() and not list(tmp_path.glob(".*partial*"))


def test_run_video_matches_recipe(tmp_path, write_recipe):
    from render.recipe import load_recipe
    from render.runner import encode_stored, render
    recipe = load_recipe(write_recipe(), ["output.frames=3", "output.fps=10", "dream.steps=1",
                                          "output.loop='pingpong'"])
    result = render(recipe, tmp_path / "run")
    facts = probe_video(result.video)
    assert (facts.width, facts.height, facts.frames, facts.fps) == (80, 48, 4, 10.0)
    webm = encode_stored(recipe, tmp_path / "run", "webm")
    assert probe_video(webm).frames == 4 and webm.suffix == ".webm"
    with pytest.raises(OutputError, match="missing or out of date"):
        encode_stored(load_recipe(write_recipe(), ["output.frames=5"]), tmp_path / "run")
