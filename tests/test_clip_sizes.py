"""A clip whose frame size changes mid-stream (case b06 of ``shared/cases/inputs``: a window resized
while recording, a phone turned): every frame keeps its own proportions, fitted like a picture of its
size (scaled to cover, centre-cropped), never squashed to the first frame's size.

The generated clip is two MPEG-TS halves joined byte for byte (3 frames of 64x48, then 3 of 48x64),
each frame a disc on its own grey; the oracle is the raw frame fitted by the picture loader, which
never sees the clip.  The shared case runs too when present, against its frames decoded one by one.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from render.graph import load_graph, render_graph
from render.media import fit_array, probe_clip
from tests.helpers import pixels
from tests.test_input_cases import SHARED, copy_case

RECIPE = """\
kind = "style"
seed = 1

[output]
size = [64, 48]
fps = 4
video = "none"

[model]
name = "vgg16"

[style]
content = "{clip}"
images = {{ strokes = "style.png" }}
steps = 0
steps_per_frame = 0
scales = [1.0]
carry = 0.0
"""


def ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def disc(width: int, height: int, grey: int) -> np.ndarray:
    """A white disc touching the frame's shorter sides, on ``grey``: squashed, it is an ellipse."""
    picture = Image.new("RGB", (width, height), (grey, grey, grey))
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    ImageDraw.Draw(picture).ellipse((left + 2, top + 2, left + side - 3, top + side - 3), fill=(255, 255, 255))
    return np.asarray(picture)


def make_clip(folder: Path) -> list[np.ndarray]:
    """``clip.ts``: frames 0-2 at 64x48, 3-5 at 48x64, 4 fps, near-lossless H.264; returns the frames."""
    frames = [disc(64, 48, 20 + 30 * i) for i in range(3)] + [disc(48, 64, 20 + 30 * i) for i in range(3, 6)]
    with open(folder / "clip.ts", "wb") as clip:
        for half, start in ((frames[:3], 0.0), (frames[3:], 0.75)):
            height, width = half[0].shape[:2]
            made = subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                                   "-s", f"{width}x{height}", "-r", "4", "-i", "-", "-c:v", "libx264", "-qp", "0",
                                   "-pix_fmt", "yuv444p", "-g", "1", "-bf", "0", "-output_ts_offset", str(start),
                                   "-f", "mpegts", "-"], input=b"".join(f.tobytes() for f in half),
                                  capture_output=True, check=True)
            clip.write(made.stdout)
    return frames


def decoded_one_by_one(clip: Path, count: int, fps: float) -> list[np.ndarray]:
    """Each frame decoded alone (a seek to its time), so ffmpeg sizes it as it is."""
    frames = []
    for i in range(count):
        made = subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-ss", str(i / fps), "-i", str(clip),
                               "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-"], capture_output=True, check=True)
        frames.append(np.asarray(Image.open(io.BytesIO(made.stdout)).convert("RGB")))
    return frames


@pytest.mark.parametrize("origin", ["generated", "shared"])
def test_each_frame_of_a_clip_whose_size_changes_keeps_its_proportions(origin, tmp_path, notes):
    folder = tmp_path / "case"
    if origin == "shared":
        if not (SHARED / "b06-resolution-change" / "recipe.toml").is_file():
            pytest.skip("shared case b06 not present")
        copy_case(SHARED / "b06-resolution-change", folder)
        clip = folder / "screen.webm"
        sources = decoded_one_by_one(clip, 6, 4.0)
    else:
        folder.mkdir()
        sources = make_clip(folder)
        clip = folder / "clip.ts"
        Image.new("RGB", (32, 32), (200, 120, 40)).save(folder / "style.png")
        (folder / "recipe.toml").write_text(RECIPE.format(clip=clip.name))
    assert [s.shape[:2] for s in sources] == [(48, 64)] * 3 + [(64, 48)] * 3
    assert probe_clip(clip).sizes == ((64, 48), (48, 64))

    done = render_graph(load_graph(folder / "recipe.toml", ["output.video=\"none\""], out_dir=tmp_path / "run"))
    assert done.result.rendered == list(range(6))
    assert any("frame size changes mid-clip (64x48, then 48x64)" in n for n in notes), notes
    assert not any("damaged" in n for n in notes), notes   # parts joined end to end are not damage
    for i, source in enumerate(sources):
        made = pixels(tmp_path / "run" / "frames" / f"frame_{i:06d}.png").astype(int)
        fitted = np.round(fit_array(source, 64, 48) * 255).astype(int)           # cover, centre-crop
        squashed = np.asarray(Image.fromarray(source).resize((64, 48), Image.Resampling.BILINEAR)).astype(int)
        assert np.abs(made - fitted).mean() < 2.5 and np.abs(made - fitted).max() <= 40, (i, np.abs(made - fitted).mean())
        if i >= 3:  # a portrait frame squashed into landscape would differ clearly
            assert np.abs(made - squashed).mean() > 3 * max(np.abs(made - fitted).mean(), 1.0), i
    if origin == "generated":   # order: each frame shows its own grey
        greys = [int(np.median(pixels(tmp_path / "run" / "frames" / f"frame_{i:06d}.png")[:, :, 0][:4, :4]))
                 for i in range(6)]
        assert all(abs(g - (20 + 30 * i)) <= 3 for i, g in enumerate(greys)), greys
