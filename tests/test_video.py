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


# --- what each format can hold (render/outputs/limits.py): measured with the bundled ffmpeg -------------


def bar(index, size=(128, 8)):
    """Frame ``index``: a white bar ``4 * (index + 1)`` px wide on black (two colours: a GIF keeps them
    exactly, so each GIF frame says which frame it shows)."""
    width, height = size
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, : 4 * (index + 1)] = 255
    return frame


def gif_frames(path):
    """``(delays in ms, frame index shown)`` of each frame of a GIF, read with Pillow."""
    from PIL import Image
    delays, shown = [], []
    with Image.open(path) as gif:
        for n in range(gif.n_frames):
            gif.seek(n)
            delays.append(gif.info["duration"])
            shown.append(int((np.asarray(gif.convert("L"))[0] > 128).sum()) // 4 - 1)
    return delays, shown


def gif_notes(caplog, name):
    return [r.message for r in caplog.records if r.name == "render.notes" and r.message.startswith(name)]


@pytest.mark.parametrize("frames, fps", [(12, 60), (13, 60), (24, 100), (24, 240), (30, 50.5), (7, 59.94)])
def test_a_gif_above_50_fps_plays_as_long_as_asked_in_a_browser(tmp_path, caplog, frames, fps):
    """Browsers play a GIF delay under 20 ms as 100 ms: frames are dropped evenly, every delay is 20 ms
    or more, the whole lasts frames / fps (to the centisecond), and a note names output.fps."""
    with caplog.at_level("INFO", logger="render.notes"):
        path = encode_video(bar, list(range(frames)), (128, 8), fps, "gif", 20, tmp_path / "fast.gif")
    delays, shown = gif_frames(path)
    assert min(delays) >= 20, delays
    assert abs(sum(delays) - 1000 * frames / fps) <= 5, (delays, sum(delays), 1000 * frames / fps)
    # each GIF frame shows the frame on screen at its start (the GIF's length is frames / fps to the
    # centisecond, so its start is taken as that fraction of the clip)
    starts = np.cumsum([0] + delays[:-1]) / sum(delays)
    assert shown == [int(start * frames + 1e-9) for start in starts], (shown, delays)
    assert len(shown) < frames and shown[0] == 0 and shown == sorted(shown)
    notes = gif_notes(caplog, "fast.gif")
    assert len(notes) == 1 and f"keeps {len(shown)} of them" in notes[0] and "output.fps" in notes[0], notes


@pytest.mark.parametrize("frames, fps", [(6, 12), (10, 24), (10, 29.97), (10, 50), (5, 1), (3, 0.01)])
def test_a_gif_at_50_fps_or_less_keeps_every_frame(tmp_path, caplog, frames, fps):
    with caplog.at_level("INFO", logger="render.notes"):
        path = encode_video(bar, list(range(frames)), (128, 8), fps, "gif", 20, tmp_path / "calm.gif")
    delays, shown = gif_frames(path)
    assert shown == list(range(frames)) and min(delays) >= 20
    assert abs(sum(delays) - 1000 * frames / fps) <= 5 and max(delays) - min(delays) <= 10
    assert not gif_notes(caplog, "calm.gif")


def test_a_gif_frame_longer_than_a_gif_delay_is_repeated(tmp_path, caplog):
    """A GIF delay is 16 bits of centiseconds: ffmpeg wrote 1000 s frames (fps = 0.001) as 655.35 s."""
    with caplog.at_level("INFO", logger="render.notes"):
        path = encode_video(bar, [0, 1, 2], (128, 8), 0.001, "gif", 20, tmp_path / "slow.gif")
    delays, shown = gif_frames(path)
    assert sum(delays) == 3_000_000 and max(delays) <= 655_350
    starts = np.cumsum([0] + delays[:-1]) / 1000
    assert shown == [int(start * 0.001 + 1e-9) for start in starts] == [0, 0, 1, 1, 2]
    assert "each is repeated" in gif_notes(caplog, "slow.gif")[0]


def test_a_pingpong_gif_above_50_fps_keeps_its_order(tmp_path):
    order = loop_order(10, "pingpong")   # 0..9..1: 18 frames at 90 fps, 200 ms
    delays, shown = gif_frames(encode_video(bar, order, (128, 8), 90, "gif", 20, tmp_path / "pp.gif"))
    assert min(delays) >= 20 and sum(delays) == 200
    assert shown == [order[int(start * 90 + 1e-6)] for start in np.cumsum([0] + delays[:-1]) / 1000]


def test_gif_timing_drops_evenly_and_sums_exactly():
    from render.outputs.limits import gif_timing
    timing = gif_timing(12, 60)   # b11: 12 frames at 60 fps
    assert timing.picks == (0, 1, 2, 3, 4, 6, 7, 8, 9, 10) and timing.delays == [2] * 10 and timing.total == 20
    for frames in range(1, 300, 7):
        for fps in (0.0007, 0.3, 12, 25, 30, 50, 59.94, 60, 75, 120, 144, 240):
            timing = gif_timing(frames, fps)
            delays = timing.delays
            assert sum(delays) == timing.total == max(2, round(100 * frames / fps))
            assert min(delays) >= 2 and max(delays) <= 65535 and max(delays) - min(delays) <= 1
            assert list(timing.picks) == sorted(timing.picks) and timing.picks[0] == 0
            if fps <= 50 and 100 / fps <= 65535:
                assert timing.picks == tuple(range(frames))


def test_hevc_pads_a_thin_frame_wider_than_4216_px_to_32(tmp_path, caplog):
    """libx265 codes a side under 32 px in 16 px blocks, which level 5 (past 4216 px) forbids: 4216x16
    encodes, 4218x16 does not (measured below with the bundled ffmpeg); such frames are padded."""
    import subprocess
    from render.outputs.ffmpeg_tool import ffmpeg_exe

    def x265(size):
        return subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"color=s={size}:d=0.1:r=10",
                               "-c:v", "libx265", "-x265-params", "log-level=error", "-f", "null", "-"],
                              capture_output=True, text=True)

    assert x265("4216x16").returncode == 0
    refused = x265("4218x16")
    assert refused.returncode != 0 and "Cannot open libx265 encoder" in refused.stderr
    hevc = CODECS["hevc"]
    assert hevc.padded_size(4216, 16) == (4216, 16) and hevc.padded_size(4218, 16) == (4218, 32)
    assert hevc.padded_size(8, 16384) == (32, 16384) and hevc.padded_size(640, 9) == (640, 16)
    assert CODECS["mp4"].padded_size(16384, 8) == (16384, 8)
    with caplog.at_level("INFO", logger="render.notes"):
        path = encode_video(lambda i: bar(i, (16384, 8)), [0, 1, 2], (16384, 8), 12.0, "hevc", 28,
                            tmp_path / "wide.hevc.mp4")
    facts = probe_video(path)
    assert (facts.codec, facts.width, facts.height, facts.frames) == ("hevc", 16384, 32, 3)
    assert any("16384x8 frames padded to 16384x32" in r.message and "over 4216 px" in r.message
               for r in caplog.records)


@pytest.mark.parametrize("video", ["mp4", "hevc", "prores", "prores4444", "webm", "gif"])
def test_a_size_ffmpeg_cannot_take_is_refused_naming_output_size(tmp_path, video):
    """Every ffmpeg frame buffer needs (8 x width + 1024) x (height + 128) < 2^31: 16384x16384 (which
    output.size allows) is refused by the bundled ffmpeg, 16384x16128 is not."""
    import subprocess
    from render.outputs.ffmpeg_tool import ffmpeg_exe
    from render.outputs.limits import ffmpeg_takes

    def opens(size):
        done = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size,
                               "-i", "-", "-f", "null", "-"], input=b"\0" * 64, capture_output=True, text=False)
        return b"Picture size" not in done.stderr

    assert not opens("16384x16384") and not opens("16256x16384") and opens("16384x16128") and opens("16000x16384")
    assert not ffmpeg_takes(16384, 16384) and not ffmpeg_takes(16256, 16384)
    assert ffmpeg_takes(16384, 16128) and ffmpeg_takes(16000, 16384)

    def never(index):
        raise AssertionError("no frame is read for a size that cannot be encoded")

    with pytest.raises(OutputError, match=r"^output\.size 16384x16384 is too large for a video") as err:
        encode_video(never, [0, 1], (16384, 16384), 12.0, video, 20, tmp_path / "huge")
    assert "\n" not in str(err.value) and not list(tmp_path.iterdir())


def test_a_recipe_too_large_for_a_video_is_refused_when_read(write_recipe):
    from render.errors import RecipeError
    from render.recipe import load_recipe
    path = write_recipe()
    with pytest.raises(RecipeError) as err:
        load_recipe(path, ["output.size=[16384, 16384]"])
    assert err.value.key == "output.size" and "too large for a video" in err.value.message
    assert load_recipe(path, ["output.size=[16384, 16384]", "output.video='none'"]).output.size == (16384, 16384)
    assert load_recipe(path, ["output.size=[16384, 16384]", "output.frames=1"]).output.frames == 1  # a still


@pytest.mark.parametrize("video", ["mp4", "hevc", "prores", "prores4444", "webm"])
@pytest.mark.parametrize("fps", [0.001, 29.97, 240.0])
def test_other_formats_play_any_recipe_fps_at_its_rate(tmp_path, video, fps):
    """output.fps takes (0, 240]: H.264, H.265, ProRes and VP9 keep every frame at its time (WebM
    within its 1 ms grid), so they need no adaptation."""
    import re
    import subprocess
    from render.outputs.ffmpeg_tool import ffmpeg_exe
    path = encode_video(synthetic, list(range(6)), (64, 48), fps, video, 20, video_path(tmp_path, "r", video))
    shown = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path), "-vf", "showinfo", "-f", "null", "-"],
                           capture_output=True, text=True).stderr
    times = [float(t) for t in re.findall(r"pts_time:\s*([\d.]+)", shown)]
    np.testing.assert_allclose(times, np.arange(6) / fps, atol=0.0006)


def test_every_gif_frame_keeps_its_own_colours(tmp_path):
    """Six flat greys 0, 10, ..., 50: each GIF frame decodes to its own grey (a palette built from the
    changes between frames once left the last frame's grey out and showed 40 for 50)."""
    greys = [0, 10, 20, 30, 40, 50]
    path = encode_video(lambda i: np.full((8, 16, 3), greys[i], np.uint8), list(range(6)), (16, 8), 10, "gif", 20,
                        tmp_path / "greys.gif")
    from PIL import Image
    with Image.open(path) as gif:
        shown = []
        for n in range(gif.n_frames):
            gif.seek(n)
            shown.append(int(np.median(np.asarray(gif.convert("RGB")))))
    assert shown == greys
