"""The inputs artists bring (issue 16, cases 01, 02, 05, 06 and 07 of ``shared/cases/inputs``, and b02
of its second set), each rendered by the real machinery and checked against the value its README
expects.

Each case is made here from its description (a clean clone has no shared folder), with the same sizes
and values as the shared file; where the shared case is present (``RENDER_CASES`` or the checkout's
``../shared/cases/inputs``) the same test also runs on it, recipe and asset as they are.

Order is checked by *where each output frame comes from*: a sequence's output frame i must equal the
still that a recipe whose input is the sequence's i-th file (or frame) alone renders.  translate
renders each frame from its own input alone, and style with 0 steps passes its content through, so
equal pixels say "this frame was made from that input", and the references are checked to differ
from each other, so two swapped inputs fail the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from render.recipe import load_recipe
from render.runner import render
from tests.helpers import REPO, pixels

SHARED = Path(os.environ.get("RENDER_CASES", REPO.parent / "shared" / "cases" / "inputs"))
ORIGINS = ("generated", "shared")


# --- the cases, as their README and files describe them --------------------------------------------------

RECIPE_01 = """\
kind = "dream"
seed = 1

[output]
size = [64, 48]
frames = 1

[model]
name = "vgg16"

[dream]
init = "ramp16.png"
layers = { block3_conv1 = 1.0 }
octaves = 1
steps = 0
"""

RECIPE_02 = """\
kind = "style"
seed = 1

[output]
size = [64, 48]
frames = 1

[model]
name = "vgg16"

[style]
content = "cutout.png"
images = { pattern = "style.png" }
steps = 0
scales = [1.0]
"""

RECIPE_05 = """\
kind = "style"
seed = 1

[output]
size = [64, 48]
frames = 12
fps = 12
video = "gif"

[model]
name = "vgg16"

[style]
content = "frames"
images = { grey = "frames/frame_6.png" }
steps = 0
steps_per_frame = 0
scales = [1.0]
carry = 0.0
"""

RECIPE_06 = """\
kind = "translate"

[output]
size = [64, 64]
fps = 4
video = "gif"

[model]
name = "edges2faces"

[translate]
input = "sketches"
batch = 4
"""

RECIPE_07 = """\
kind = "translate"

[output]
size = [64, 64]
fps = 6
video = "gif"

[model]
name = "edges2faces"

[translate]
input = "talking.gif"
batch = 6
"""

RECIPE_B02 = """\
# A stereo track whose right channel has its polarity inverted (left = -right). It sounds like
# the in-phase take on any speaker; the walk's truncation should kick on each drum hit (every 0.5 s).
kind = "walk"
seed = 3

[output]
size = [64, 48]
fps = 10
duration = "audio"
video = "mp4"

[model]
name = "dcgan-faces64"

[audio]
file = "drums-antiphase.flac"

[audio.features.kick]
kind = "onset"

[walk]
keys = [1, 2]
truncation = "0.2 + 0.6 * kick"
"""

APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4096 - 24)  # a ._ sidecar's header
DS_STORE = b"\x00\x00\x00\x01Bud1" + bytes(120)


def ramp16() -> np.ndarray:
    """01: 64x48 uint16, a ramp over 0..65535 left to right, a disc of 4000 around (x 20, y 24)."""
    values = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (48, 1))
    yy, xx = np.mgrid[:48, :64]
    values[(yy - 24) ** 2 + (xx - 20) ** 2 < 100] = 4000
    return values


def make_01(folder: Path) -> None:
    Image.fromarray(ramp16()).save(folder / "ramp16.png")  # mode I;16
    (folder / "recipe.toml").write_text(RECIPE_01)


def make_02(folder: Path) -> None:
    yy, xx = np.mgrid[:48, :64].astype(np.float64)
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., 0] = 128 + 127 * np.sin(xx / 5)
    rgba[..., 1] = 96 + 100 * np.abs(np.cos(yy / 9))
    rgba[..., 2] = 128 + 127 * np.cos((xx + yy) / 7)
    rgba[12:30, 40:52, :3] = (0, 120, 60)       # a figure in the opaque half
    rgba[..., 3] = 255
    rgba[:, :32] = (255, 0, 0, 0)               # transparent, pure red kept underneath
    Image.fromarray(rgba, "RGBA").save(folder / "cutout.png")
    pattern = np.stack([(xx * 4) % 256, (yy * 5) % 256, ((xx + yy) * 3) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(pattern).save(folder / "style.png")
    (folder / "recipe.toml").write_text(RECIPE_02)


def make_05(folder: Path) -> None:
    (folder / "frames").mkdir()
    for n in range(1, 13):
        Image.fromarray(np.full((48, 64, 3), 20 * n + 10, np.uint8)).save(folder / "frames" / f"frame_{n}.png")
    (folder / "recipe.toml").write_text(RECIPE_05)


def face(mouth: tuple[int, int, int, int], smile: bool = False) -> Image.Image:
    """A 64x64 line drawing, black on white: a head, two eyes and a mouth (an ellipse or a smile)."""
    image = Image.new("RGB", (64, 64), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((12, 6, 52, 58), outline="black")
    draw.line((23, 24, 28, 24), fill="black")
    draw.line((36, 24, 41, 24), fill="black")
    if smile:
        draw.arc(mouth, 20, 160, fill="black")
    else:
        draw.ellipse(mouth, outline="black")
    return image


def drawings_06() -> list[Image.Image]:
    """Four smiles, each a little wider and lower than the last."""
    return [face((22 - i, 30 + 2 * i, 42 + i, 44 + 2 * i), smile=True) for i in range(4)]


def drawings_07() -> list[Image.Image]:
    """Six frames of a mouth opening."""
    return [face((26 - i // 2, 40 - i, 38 + i // 2, 42 + i)) for i in range(6)]


def make_06(folder: Path) -> None:
    sketches = folder / "sketches"
    sketches.mkdir()
    for i, drawing in enumerate(drawings_06()):
        drawing.save(sketches / f"frame_{i:04d}.png")
        (sketches / f"._frame_{i:04d}.png").write_bytes(APPLEDOUBLE)
    (sketches / ".DS_Store").write_bytes(DS_STORE)
    (folder / "recipe.toml").write_text(RECIPE_06)


def make_07(folder: Path) -> None:
    first, *rest = [d.convert("P", palette=Image.Palette.ADAPTIVE, colors=2) for d in drawings_07()]
    first.save(folder / "talking.gif", save_all=True, append_images=rest, duration=80, loop=0)
    (folder / "recipe.toml").write_text(RECIPE_07)


def make_b02(folder: Path) -> None:
    """Two 4 s stereo FLAC takes at 22050 Hz of a kick every 0.5 s from 0 s: right = -left, right = left."""
    from render.outputs.ffmpeg_tool import ffmpeg_exe
    from tests.audio_signals import FORMATS, drums, stereo, write_wav
    y = drums([0.5 * k for k in range(8)], 4.0)
    for name, right in (("drums-antiphase", -y), ("drums-inphase", y)):
        wav = write_wav(folder / f"{name}.wav", stereo(y, right))
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(wav), *FORMATS["flac"][1],
                        str(folder / f"{name}.flac")], check=True)
        wav.unlink()
    (folder / "recipe.toml").write_text(RECIPE_B02)


CASES = {"01-gray16-init": make_01, "02-rgba-hidden-colour": make_02, "05-frame-numbering": make_05,
         "06-appledouble-sidecars": make_06, "07-animated-gif-input": make_07, "b02-stereo-antiphase": make_b02}


def copy_case(source: Path, target: Path) -> None:
    """The shared case into ``target``, hidden files included, writable (the shared files are not)."""
    for path in sorted(source.rglob("*")):
        if path.is_dir():
            (target / path.relative_to(source)).mkdir(parents=True, exist_ok=True)
        else:
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / path.relative_to(source))


def case_folder(name: str, origin: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    if origin == "shared":
        if not (SHARED / name / "recipe.toml").is_file():
            pytest.skip(f"shared case {SHARED / name} not present")
        copy_case(SHARED / name, folder)
    else:
        folder.mkdir()
        CASES[name](folder)
    return folder


# --- rendering ----------------------------------------------------------------------------------------


def run(recipe: Path, text: str | None = None, name: str | None = None):
    """Render ``recipe`` (or ``text`` written next to it as ``name``.toml) in-process into a run folder
    beside it; returns (recipe, result)."""
    if text is not None:
        recipe = recipe.parent / f"{name}.toml"
        recipe.write_text(text)
    loaded = load_recipe(recipe)
    return loaded, render(loaded, recipe.parent / f"run-{recipe.stem}")


def stored(result, index: int = 0) -> np.ndarray:
    return pixels(result.folder / "frames" / f"frame_{index:06d}.png").astype(int)


def single_file_references(folder: Path, recipe_text: str, key_value: str, files: list[str]) -> list[np.ndarray]:
    """For each of ``files``: the still a recipe whose input is that one file renders (``key_value``,
    the recipe's input value as written, replaced by the file)."""
    assert key_value in recipe_text
    references = []
    for i, file in enumerate(files):
        _, result = run(folder / "recipe.toml", recipe_text.replace(key_value, f'"{file}"'), f"single{i}")
        assert result.still is not None
        references.append(stored(result))
    for i in range(len(references)):  # a swap of two inputs would show: every input renders differently
        for j in range(i):
            assert np.abs(references[i] - references[j]).max() > 8, (files[i], files[j])
    return references


def assert_frames_come_from(result, references: list[np.ndarray], what: list[str]) -> None:
    """Stored frame i equals reference i (and no other), for every i."""
    for i, reference in enumerate(references):
        frame = stored(result, i)
        matches = [what[j] for j, other in enumerate(references) if np.array_equal(frame, other)]
        assert matches == [what[i]], f"output frame {i} is made of {matches or 'none of the inputs'}, not {what[i]}"


# --- 01: a 16-bit greyscale init is scaled, not clamped -------------------------------------------------


@pytest.mark.parametrize("origin", ORIGINS)
def test_01_gray16_init_is_scaled_to_8_bits(origin, tmp_path):
    folder = case_folder("01-gray16-init", origin, tmp_path)
    values = np.asarray(Image.open(folder / "ramp16.png"), np.int64)  # what the file holds, 0..65535
    _, result = run(folder / "recipe.toml")
    assert result.still is not None
    still = stored(result)
    assert still.shape == (48, 64, 3)
    assert np.array_equal(still[..., 0], still[..., 1]) and np.array_equal(still[..., 0], still[..., 2])
    grey = still[..., 0]
    disc = values == 4000
    assert disc.sum() > 200
    assert np.abs(grey[disc] - 4000 / 65535 * 255).max() <= 1.0, "the disc (4000 of 65535) is not grey 16"
    # every pixel is its 16-bit value scaled to 8 bits (the ramp included): not 98% white
    assert np.abs(grey - values * 255 / 65535).max() <= 1.0
    top = grey[0]
    assert np.all(np.diff(top) >= 0) and top[-1] - top[0] >= 250, "the ramp does not rise left to right"
    assert top[0] <= 1 and top[-1] >= 254
    assert 100 < grey.mean() < 140


# --- 02: transparent pixels are laid on the background, never their hidden colour ------------------------


@pytest.mark.parametrize("background", [None, "#336699"])
@pytest.mark.parametrize("origin", ORIGINS)
def test_02_transparent_half_shows_the_background_not_the_hidden_red(origin, background, tmp_path):
    folder = case_folder("02-rgba-hidden-colour", origin, tmp_path)
    rgba = np.asarray(Image.open(folder / "cutout.png").convert("RGBA"), np.int64)
    clear, opaque = rgba[..., 3] == 0, rgba[..., 3] == 255
    assert clear[:, :32].all() and opaque[:, 32:].all()
    assert (np.abs(rgba[clear][:, :3] - (255, 0, 0)).max(axis=-1) == 0).all()  # the trap: red underneath
    text = (folder / "recipe.toml").read_text()
    if background is None:
        expected = (255, 255, 255)  # the documented default: white
        _, result = run(folder / "recipe.toml")
    else:
        expected = (0x33, 0x66, 0x99)
        _, result = run(folder / "recipe.toml", f'background = "{background}"\n' + text, "coloured")
    assert result.still is not None
    still = stored(result)
    left, right = still[:, :32], still[:, 32:]
    assert np.abs(left - expected).max() <= 1, f"transparent half is {np.unique(left.reshape(-1, 3), axis=0)[:4]}"
    assert np.abs(right - rgba[:, 32:, :3]).max() <= 1, "the opaque half is not the picture's own pixels"

    def reds(image):
        return int((np.abs(image - (255, 0, 0)).max(axis=-1) < 64).sum())

    assert reds(still) == reds(rgba[:, 32:, :3]), "red shows where the cut-out is transparent"


# --- 05: a folder numbered without padding is taken in natural order --------------------------------------


@pytest.mark.parametrize("origin", ORIGINS)
def test_05_unpadded_frame_numbers_play_in_natural_order(origin, tmp_path):
    folder = case_folder("05-frame-numbering", origin, tmp_path)
    recipe, result = run(folder / "recipe.toml")
    assert recipe.output.frames == 12 and result.missing == 0
    greys = []
    for i in range(12):
        frame = stored(result, i)
        assert np.ptp(frame) <= 1, f"output frame {i} is not flat grey"
        greys.append(int(round(frame.mean())))
    # output position i comes from the folder's i-th file, frame_{i+1}.png, grey 20 * (i + 1) + 10
    assert greys == [20 * (i + 1) + 10 for i in range(12)], f"frames play as greys {greys}"


# --- 06: AppleDouble sidecars and .DS_Store are not frames -----------------------------------------------


@pytest.mark.parametrize("origin", ORIGINS)
def test_06_hidden_sidecars_are_not_frames_and_each_frame_is_its_drawing(origin, tmp_path):
    folder = case_folder("06-appledouble-sidecars", origin, tmp_path)
    sketches = folder / "sketches"
    assert len(list(sketches.glob("._frame_*.png"))) == 4 and (sketches / ".DS_Store").is_file()
    recipe, result = run(folder / "recipe.toml")
    assert recipe.output.frames == 4 and result.missing == 0
    assert result.video is not None and result.video.is_file()
    assert sorted(p.name for p in (result.folder / "frames").glob("*.png")) == [f"frame_{i:06d}.png" for i in range(4)]
    files = [f"sketches/frame_{i:04d}.png" for i in range(4)]
    references = single_file_references(folder, (folder / "recipe.toml").read_text(), '"sketches"', files)
    assert_frames_come_from(result, references, files)


# --- 07: an animated GIF is a sequence: one output frame per GIF frame ------------------------------------


@pytest.mark.parametrize("origin", ORIGINS)
def test_07_animated_gif_input_renders_each_of_its_frames(origin, tmp_path):
    folder = case_folder("07-animated-gif-input", origin, tmp_path)
    with Image.open(folder / "talking.gif") as gif:
        assert gif.n_frames == 6
        durations = []
        for i in range(6):  # each GIF frame as a PNG of its own, as Pillow shows it
            gif.seek(i)
            durations.append(gif.info["duration"])
            gif.convert("RGB").save(folder / f"gif_frame_{i}.png")
    assert durations == [80] * 6
    recipe, result = run(folder / "recipe.toml")
    assert recipe.output.frames == 6 and result.missing == 0
    assert result.video is not None and result.video.suffix == ".gif" and result.video.is_file()
    with Image.open(result.video) as video:
        assert video.n_frames == 6
    files = [f"gif_frame_{i}.png" for i in range(6)]
    references = single_file_references(folder, (folder / "recipe.toml").read_text(), '"talking.gif"', files)
    assert_frames_come_from(result, references, files)


# --- b02: a channel in inverted polarity still kicks on every hit ------------------------------------------


def stereo_samples(path: Path) -> np.ndarray:
    """(2, samples) float32 of an audio file as the bundled ffmpeg decodes it (a mono file: both equal)."""
    from render.outputs.ffmpeg_tool import ffmpeg_exe
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-ac", "2", "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(pcm, "<f4").reshape(-1, 2).T


@pytest.mark.parametrize("origin", ORIGINS)
def test_b02_an_inverted_channel_kicks_on_every_hit_like_the_in_phase_take(origin, tmp_path):
    from render.audio import Track, tempo
    from render.plan import make_plan
    folder = case_folder("b02-stereo-antiphase", origin, tmp_path)
    antiphase, inphase = stereo_samples(folder / "drums-antiphase.flac"), stereo_samples(folder / "drums-inphase.flac")
    assert np.abs(antiphase[0]).max() > 0.5 and np.abs(antiphase[0] + antiphase[1]).max() == 0   # the trap: L = -R
    assert np.array_equal(antiphase[0], inphase[0]) and np.array_equal(inphase[0], inphase[1])
    text = (folder / "recipe.toml").read_text()
    assert 'file = "drums-antiphase.flac"' in text
    hits = list(range(0, 40, 5))                       # a hit every 0.5 s at 10 fps, from 0 s
    for take in ("drums-antiphase.flac", "drums-inphase.flac"):
        path = folder / f"{take.split('.')[0]}.toml"
        path.write_text(text.replace("drums-antiphase.flac", take))
        recipe = load_recipe(path)
        assert recipe.output.frames == 40, take        # duration = "audio": 4 s at 10 fps
        kick = (np.asarray(make_plan(recipe).columns["walk.truncation"], np.float64) - 0.2) / 0.6
        peaks = [n for n in range(40) if kick[n] > 0.5 and kick[n] >= kick[max(0, n - 1)]
                 and kick[n] >= kick[min(39, n + 1)]]
        assert peaks == hits, (take, np.round(kick, 2))
        assert np.delete(kick, hits).max() < 0.2, (take, np.round(kick, 2))
        assert tempo(Track.open(folder / take)) == pytest.approx(120, rel=0.02), take
    # rendered by the real machinery: every frame, and the video carries the antiphase take
    _, result = run(folder / "recipe.toml")
    assert result.missing == 0 and len(result.rendered) == 40
    assert result.video is not None and result.video.is_file()


# --- any GIF timing: output frame n shows the GIF frame on screen after n of its shortest delays ----------


GIF_PASS_THROUGH = RECIPE_05.replace("frames = 12\nfps = 12\n", "").replace('"frames"', '"greys.gif"').replace(
    '"frames/frame_6.png"', '"style.png"')


@pytest.mark.parametrize("delays, shows", [
    ([70] * 6, [0, 1, 2, 3, 4, 5]),                      # 1 / 70 ms is no round frame rate
    ([60, 120, 60, 60, 180, 60], [0, 1, 1, 2, 3, 4, 4, 4, 5]),  # held frames are held
])
def test_each_gif_frame_plays_for_its_own_delay(delays, shows, tmp_path):
    greys = [Image.new("P", (64, 48), 0) for _ in delays]
    for i, image in enumerate(greys):
        image.putpalette([30 + 40 * i] * 3 * 256)
    greys[0].save(tmp_path / "greys.gif", save_all=True, append_images=greys[1:], duration=delays, loop=0)
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "style.png")
    assert "frames =" not in GIF_PASS_THROUGH and '"greys.gif"' in GIF_PASS_THROUGH
    recipe, result = run(tmp_path / "x.toml", GIF_PASS_THROUGH, "gif")
    assert recipe.output.frames == len(shows) and result.missing == 0
    played = [(int(round(stored(result, n).mean())) - 30) / 40 for n in range(len(shows))]
    assert played == shows, f"output frames show GIF frames {played}"


# --- a style recipe over a sequence takes its frame count from it ------------------------------------------


STYLE_OVER = """\
kind = "style"
seed = 1
[output]
size = [64, 48]
{fps}video = "gif"
[model]
name = "vgg16"
[style]
content = "{content}"
images = {{ a = "style.png" }}
steps = 0
steps_per_frame = 0
scales = [1.0]
"""


def make_video(path: Path, frames: int, fps: int) -> None:
    """``frames`` flat grey frames at a constant ``fps`` (H.264), made with the bundled ffmpeg."""
    import imageio_ffmpeg
    data = b"".join(np.full((48, 64, 3), 20 * i + 10, np.uint8).tobytes() for i in range(frames))
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
                    "-pix_fmt", "rgb24", "-s", "64x48", "-r", str(fps), "-i", "-", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(path)], input=data, check=True)


def test_style_over_a_sequence_takes_its_frame_count_from_the_sequence(tmp_path):
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "style.png")
    shots = tmp_path / "shots"
    shots.mkdir()
    for n in range(1, 12):  # shot 1 .. shot 11, unpadded, plus the clutter of three systems
        Image.fromarray(np.full((48, 64, 3), 20 * n, np.uint8)).save(shots / f"shot {n}.png")
    (shots / "._shot 1.png").write_bytes(APPLEDOUBLE)
    (shots / ".DS_Store").write_bytes(DS_STORE)
    (shots / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
    (shots / "desktop.ini").write_text("[.ShellClassInfo]\n")
    (shots / "old").mkdir()
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(shots / "old" / "shot 0.png")
    make_video(tmp_path / "clip.mp4", frames=10, fps=5)  # 2 s
    delays = [100, 100, 200, 100]  # 0.5 s; its shortest delay, 100 ms, is one output frame
    greys = [Image.new("P", (64, 48), i) for i in range(4)]
    for i, image in enumerate(greys):
        image.putpalette([40 * i, 40 * i, 40 * i] * 256)
    greys[0].save(tmp_path / "anim.gif", save_all=True, append_images=greys[1:], duration=delays, loop=0)

    expected = {
        ("shots", ""): 11,               # one per picture file; clutter, hidden files and sub-folders are not
        ("clip.mp4", "fps = 10\n"): 20,  # 2 s at the recipe's 10 fps
        ("clip.mp4", ""): 10,            # 2 s at its own 5 fps
        ("anim.gif", "fps = 10\n"): 5,   # 0.5 s / 100 ms: the 200 ms frame held for two
    }
    for (content, fps), frames in expected.items():
        path = tmp_path / "style.toml"
        path.write_text(STYLE_OVER.format(content=content, fps=fps))
        assert load_recipe(path).output.frames == frames, (content, fps)

    from render.cli import main
    path.write_text(STYLE_OVER.format(content="shots", fps=""))
    shown = CliRunner().invoke(main, ["plan", str(path)])
    assert shown.exit_code == 0, shown.output
    content_line = next(line for line in shown.output.splitlines() if line.startswith("content"))
    assert "11 frames" in content_line and "shot 1.png ... shot 11.png" in content_line, content_line
    assert "._shot" not in shown.output


# --- quiet means quiet ------------------------------------------------------------------------------------


def test_a_palette_png_with_transparency_is_quiet_under_quiet_and_one_note_line_otherwise(tmp_path):
    indices = np.zeros((48, 64), np.uint8)
    indices[:, 32:] = 1
    indices[:24, 32:] = 2
    picture = Image.fromarray(indices, "P")
    picture.putpalette([255, 0, 0, 0, 128, 255, 20, 200, 40] + [0] * 759)
    picture.save(tmp_path / "palette.png", transparency=bytes([0, 255, 128]))  # Pillow warns converting it
    with Image.open(tmp_path / "palette.png") as check:
        assert check.mode == "P" and isinstance(check.info.get("transparency"), bytes)
    text = RECIPE_02.replace("cutout.png", "palette.png").replace("style.png", "palette.png")
    (tmp_path / "quiet.toml").write_text(text)
    # a user's shell: this process's TensorFlow set TF_CPP_MIN_LOG_LEVEL, which a user has not chosen
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(PYTHONPATH=str(REPO), PYTHONWARNINGS="default")
    command = [sys.executable, "-m", "render.cli", "run", str(tmp_path / "quiet.toml"), "--no-encode"]
    quiet = subprocess.run(command + ["--quiet", "--out", str(tmp_path / "q")], env=env, capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "", f"--quiet wrote to stderr: {quiet.stderr!r}"
    loud = subprocess.run(command + ["--out", str(tmp_path / "l")], env=env, capture_output=True, text=True)
    assert loud.returncode == 0, loud.stderr
    lines = [line.strip() for line in loud.stderr.replace("\r", "\n").splitlines() if line.strip()]
    progress = [line for line in lines if line.startswith("frame ")]
    others = [line for line in lines if line not in progress]
    assert len(others) <= 1 and all(line.startswith("note:") for line in others), others


# --- a variable-frame-rate clip, end to end: stored frame n is the source frame on screen at n / fps -------


def test_a_variable_frame_rate_clip_renders_each_frame_from_its_time(tmp_path):
    from tests.media_corpus import vfr_video
    stamps, levels = [0.0, 0.3, 0.4, 1.2], [30, 90, 150, 210]  # held 0.3 s, 0.1 s, 0.8 s, then the tail
    vfr_video(tmp_path / "phone clip.mkv", levels, stamps)
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "style.png")
    text = GIF_PASS_THROUGH.replace('"greys.gif"', '"phone clip.mkv"').replace("[output]\n", "[output]\nfps = 10\n")
    recipe, result = run(tmp_path / "clip.toml", text, "clip")
    # 1.2 s + the median interval (0.3 s) = 1.5 s at 10 fps: 15 frames
    assert recipe.output.frames == 15 and result.missing == 0
    expected = [levels[max(i for i, s in enumerate(stamps) if s <= n / 10 + 1e-9)] for n in range(15)]
    got = [int(round(stored(result, n).mean())) for n in range(15)]
    assert np.abs(np.array(got) - expected).max() <= 2, (got, expected)


# --- b11: a GIF at 60 fps plays as long as asked in a browser ----------------------------------------------

RECIPE_B11 = """\
# A GIF at 60 fps (12 frames, 0.2 s). GIF delays are whole centiseconds and browsers show any
# delay under 20 ms as 100 ms, so the GIF should still play in about 0.2 s in a browser (50 fps delays,
# dropped frames), or be refused in one line.
kind = "walk"
seed = 3

[output]
size = [64, 48]
frames = 12
fps = 60
video = "gif"

[model]
name = "dcgan-faces64"

[walk]
keys = [1, 2, 3]
frames_per_key = 4
"""


def make_b11(folder: Path) -> None:
    (folder / "recipe.toml").write_text(RECIPE_B11)


CASES["b11-gif-60fps"] = make_b11


def browser_delays(path: Path) -> list[int]:
    """Each frame's delay in ms as Pillow reads it (the GIF's own centiseconds, times ten)."""
    with Image.open(path) as gif:
        delays = []
        for n in range(gif.n_frames):
            gif.seek(n)
            delays.append(gif.info["duration"])
    return delays


@pytest.mark.parametrize("origin", ORIGINS)
def test_b11_a_60_fps_gif_plays_in_its_0_2_s_in_a_browser(origin, tmp_path, caplog):
    folder = case_folder("b11-gif-60fps", origin, tmp_path)
    with caplog.at_level("INFO", logger="render.notes"):
        recipe, result = run(folder / "recipe.toml")
    assert (recipe.output.frames, recipe.output.fps, recipe.output.video) == (12, 60, "gif")
    assert result.missing == 0 and result.video is not None and result.video.suffix == ".gif"
    delays = browser_delays(result.video)
    # a browser plays any delay under 20 ms as 100 ms: none may be under 20 ms (today: 20, 10, 20, ... ms)
    assert min(delays) >= 20, delays
    asked = 1000 * recipe.output.frames / recipe.output.fps   # 200 ms
    assert abs(sum(delays) - asked) <= 10, (delays, sum(delays), asked)
    assert len(delays) < 12   # frames dropped to fit, and said so in one line naming output.fps
    notes = [r.message for r in caplog.records if r.name == "render.notes" and result.video.name in r.message]
    assert len(notes) == 1 and "output.fps" in notes[0] and "\n" not in notes[0], notes
