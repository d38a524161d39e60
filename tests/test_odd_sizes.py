"""Odd frame sizes (issue 16): no recipe is refused for one; a video whose codec needs even sides is
padded by repeating the edge pixels, says so in one note and records it in a ``padded`` tag; every
format decodes to the expected size with output position ``p`` showing stored frame ``order[p]``."""

import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from render.cli import main
from render.outputs.ffmpeg_tool import ffmpeg_exe
from render.outputs.formats import CODECS, VIDEO_FORMATS
from render.outputs.probe import probe_video, video_tags
from render.outputs.video import encode_video, loop_order, video_path
from tests.helpers import pixels

CASE = """\
# Case 10: frames of an odd size (97x65, e.g. a crop chosen by eye) rendered as a GIF, then
# re-encoded to H.264 for sharing with `render encode --video mp4`.
kind = "walk"
seed = 10

[output]
size = [97, 65]
fps = 4
video = "gif"

[model]
name = "dcgan-faces64"

[walk]
keys = [1, 2]
frames_per_key = 2
batch = 4
"""  # case 10 of the issue, as given (a copy: the case folder is not in the repository)
PADDED = {"mp4": (64, 48), "hevc": (64, 48), "webm": (64, 48), "prores": (64, 47), "prores4444": (63, 47),
          "gif": (63, 47)}  # from 63x47, measured: see Codec in render/outputs/formats.py
RED, BLUE = (220, 30, 30), (30, 30, 220)


def moving(index: int, size=(63, 47)) -> np.ndarray:
    """Frame ``index``: its own grey level and a square that moves, a red last column and a blue last
    row (an edge that a pad of black, or a chroma sample shared with the wrong pixels, would spoil)."""
    width, height = size
    frame = np.full((height, width, 3), 20 + 45 * index, np.uint8)
    frame[10:22, 6 + 9 * index:18 + 9 * index] = (250, 250, 120)
    frame[:, -1] = RED
    frame[-1, :-1] = BLUE
    return frame


def decode(path, size) -> np.ndarray:
    """Every frame of the video as stored (no frame rate conversion), ``(n, H, W, 3)`` uint8."""
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-fps_mode", "passthrough", "-"], capture_output=True, check=True).stdout
    width, height = size
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def difference(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_shows_stored_frames(decoded, stored, order, close=12.0, edges=True):
    """Position ``p`` is stored frame ``order[p]``, edge pixels repeated into the padding: close to it,
    and closer to it than to any other stored frame (a swapped, repeated or dropped frame fails).
    ``edges``: the last column and row (and the padding) keep their colour on their own."""
    assert len(decoded) == len(order)
    height, width = decoded.shape[1:3]
    padded = [np.pad(frame, ((0, height - frame.shape[0]), (0, width - frame.shape[1]), (0, 0)), mode="edge")
              for frame in stored]
    for position, index in enumerate(order):
        errors = [difference(decoded[position], frame) for frame in padded]
        assert errors[index] < close, (position, index, errors)
        assert errors[index] == min(errors) and errors.count(errors[index]) == 1, (position, index, errors)
        if not edges:
            continue
        edge = (slice(None, -2), slice(stored[index].shape[1] - 1, None))
        assert difference(decoded[position][edge], padded[index][edge]) < 3 * close, (position, "column")
        edge = (slice(stored[index].shape[0] - 1, None), slice(None, -2))
        assert difference(decoded[position][edge], padded[index][edge]) < 3 * close, (position, "row")


@pytest.mark.parametrize("video", VIDEO_FORMATS)
def test_odd_frames_encode_in_every_format_in_order(tmp_path, notes, video):
    stored = [moving(i) for i in range(5)]
    order = loop_order(5, "pingpong")  # 0 1 2 3 4 3 2 1
    tags = {"title": "odd", "comment": "neural-render recipe 0123"}
    path = encode_video(lambda i: stored[i], order, (63, 47), 12.0, video, 20, video_path(tmp_path, "odd", video),
                        tags=tags)
    coded = PADDED[video]
    assert CODECS[video].padded_size(63, 47) == coded
    facts = probe_video(path)
    assert (facts.width, facts.height, facts.frames) == (*coded, len(order))
    assert_shows_stored_frames(decode(path, coded), stored, order)
    if coded == (63, 47):
        assert notes == []
        assert video == "gif" or "padded" not in video_tags(path)
        return
    assert len(notes) == 1 and notes[0].startswith(f"63x47 frames padded to {coded[0]}x{coded[1]} for the "
                                                    f"{video} video {path.name} ("), notes
    assert notes[0].endswith("edge pixels repeated)")
    read_back = video_tags(path)
    assert read_back["padded"] == f"63x47 -> {coded[0]}x{coded[1]}"
    assert read_back["title"] == "odd" and read_back["comment"] == "neural-render recipe 0123"


def test_even_frames_are_not_padded(tmp_path, notes):
    stored = [moving(i, (64, 48)) for i in range(3)]
    path = encode_video(lambda i: stored[i], [0, 1, 2], (64, 48), 12.0, "mp4", 20, tmp_path / "even.mp4",
                        tags={"title": "even"})
    assert notes == [] and "padded" not in video_tags(path) and video_tags(path)["title"] == "even"
    # (a one-pixel red column shares its chroma with grey at an even width: no edge check here)
    assert_shows_stored_frames(decode(path, (64, 48)), stored, [0, 1, 2], edges=False)


def test_case_10_odd_walk_gif_encodes_to_padded_h264(tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(CASE)
    out = tmp_path / "run"
    rendered = CliRunner().invoke(main, ["run", str(recipe), "--out", str(out)])
    assert rendered.exit_code == 0, rendered.output
    assert (probe_video(out / "recipe.gif").width, probe_video(out / "recipe.gif").height) == (97, 65)
    assert "padded" not in rendered.output  # GIF takes odd sizes as they are

    encoded = CliRunner().invoke(main, ["encode", str(recipe), "--out", str(out), "--video", "mp4"])
    assert encoded.exit_code == 0, encoded.output
    assert "ffmpeg" not in encoded.output
    notes = [line for line in encoded.stderr.splitlines() if line.startswith("note: ")]
    assert notes == ["note: 97x65 frames padded to 98x66 for the mp4 video recipe.mp4 (H.264 needs an even "
                     "width and height; edge pixels repeated)"], encoded.output
    video = out / "recipe.mp4"
    facts = probe_video(video)
    assert (facts.codec, facts.width, facts.height, facts.frames) == ("h264", 98, 66, 3)  # keys 1@0, 2@2
    stored = [pixels(path) for path in sorted((out / "frames").glob("frame_*.png"))]
    assert len(stored) == 3 and stored[0].shape == (65, 97, 3)
    assert_shows_stored_frames(decode(video, (98, 66)), stored, [0, 1, 2])
    tags = video_tags(video)
    assert tags["padded"] == "97x65 -> 98x66" and tags["title"] == "recipe"
    assert tags["comment"].startswith("neural-render recipe ")
    inspected = CliRunner().invoke(main, ["inspect", str(video)])
    assert inspected.exit_code == 0 and "padded      97x65 -> 98x66" in inspected.output, inspected.output

    direct = tmp_path / "direct.toml"  # the same walk with video = "mp4": loaded, rendered, padded
    direct.write_text(CASE.replace('video = "gif"', 'video = "mp4"'))
    run = CliRunner().invoke(main, ["run", str(direct), "--out", str(tmp_path / "direct")])
    assert run.exit_code == 0, run.output
    assert "note: 97x65 frames padded to 98x66 for the mp4 video direct.mp4" in run.stderr
    assert (probe_video(tmp_path / "direct" / "direct.mp4").width,
            probe_video(tmp_path / "direct" / "direct.mp4").height) == (98, 66)
    again = [pixels(path) for path in sorted((tmp_path / "direct" / "frames").glob("frame_*.png"))]
    assert len(again) == 3 and all(np.array_equal(a, b) for a, b in zip(again, stored))
    assert_shows_stored_frames(decode(tmp_path / "direct" / "direct.mp4", (98, 66)), stored, [0, 1, 2])
