"""The media loader over a generated corpus (tests/media_corpus.py): pixel modes scaled, transparency
composited, EXIF orientation everywhere, natural folder order without clutter, animations and
variable-frame-rate video by time, awkward names.  Expected values come from the values written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from render.media import (fit, folder_frames, load_image, load_picture, natural_key, open_source, picture_info,
                          IMAGE_SUFFIXES)
from tests import media_corpus as corpus
from tests.media_corpus import H, W

CASES = [(mode, fmt) for mode, formats in corpus.MODE_FORMATS.items() for fmt in formats]


def _close(got: np.ndarray, expected: np.ndarray, fmt: str = "PNG") -> None:
    assert got.shape == expected.shape
    error = np.abs(got.astype(float) - expected)
    if fmt in corpus.LOSSY:
        assert error.mean() < corpus.LOSSY[fmt], f"mean error {error.mean():.3f}"
    else:
        assert error.max() <= 1.5 / 255, f"max error {error.max() * 255:.1f}/255 at {np.unravel_index(error.argmax(), error.shape)}"


@pytest.mark.parametrize("mode,fmt", CASES, ids=[f"{m}-{f}" for m, f in CASES])
def test_every_pixel_mode_becomes_rgb_scaled_to_0_1(tmp_path, mode, fmt):
    path, expected = corpus.pixel_mode_case(mode, fmt, tmp_path)
    got = load_picture(path, W, H)
    assert got.dtype == np.float32 and got.min() >= 0.0 and got.max() <= 1.0
    _close(got, expected, fmt)


def test_sixteen_bit_grey_is_scaled_not_clamped(tmp_path):
    """The 16-bit ramp keeps its middle grey (clamping to 8-bit values would make it 98% white)."""
    path, expected = corpus.pixel_mode_case("I;16", "PNG", tmp_path)
    got = load_picture(path, W, H)
    assert abs(got.mean() - expected.mean()) < 1e-3 and 0.4 < got.mean() < 0.6
    assert got[5, 5, 0] == pytest.approx(4000 / 65535, abs=1e-4)  # the dark square, 16-bit precise


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_sixteen_bit_rgb_png_and_tiff(tmp_path, fmt):
    path, expected = corpus.sixteen_bit_rgb(tmp_path, fmt)
    _close(load_picture(path, W, H), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_float_rgb_tiff_pillow_cannot_read(tmp_path, dtype):
    path, expected = corpus.float_rgb_tiff(tmp_path, dtype)
    _close(load_picture(path, W, H), expected)


def test_transparency_lies_on_the_chosen_background(tmp_path):
    path, _ = corpus.pixel_mode_case("RGBA", "PNG", tmp_path)
    teal = (0.0, 0.5, 0.5)
    got = load_picture(path, W, H, background=teal)
    assert np.allclose(got[:, :4], teal, atol=1e-6)  # alpha 0: the background, never the red kept under it
    values = np.asarray(Image.open(path), float) / 255.0
    a = values[..., 3:]
    assert np.allclose(got, values[..., :3] * a + np.asarray(teal) * (1 - a), atol=1e-5)


# --- orientation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_eight_exif_orientations(tmp_path, orientation, fmt):
    path, expected = corpus.oriented_case(orientation, tmp_path, fmt)
    info = picture_info(path)
    assert (info.width, info.height) == (expected.shape[1], expected.shape[0])
    got = load_picture(path, info.width, info.height)
    assert np.abs(got - expected).mean() < 0.03
    corner = (got[:3, :3].mean(axis=(0, 1)) * 255).round()
    assert np.abs(corner - expected[:3, :3].mean(axis=(0, 1)) * 255).max() < 40  # the right corner on top


def test_tiff_orientation_tag_in_the_tifffile_path(tmp_path):
    import tifffile
    upright = corpus.colour_picture().astype(np.float32)
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # orientation 6 shows it turned back clockwise
    tifffile.imwrite(tmp_path / "turned.tif", stored, photometric="rgb", extratags=[(274, "H", 1, 6, True)])
    info = picture_info(tmp_path / "turned.tif")
    assert (info.width, info.height) == (W, H)
    _close(load_picture(tmp_path / "turned.tif", W, H), upright)


def test_orientation_in_every_place_a_picture_is_read(tmp_path, vgg16):
    """A sideways phone photo is upright as a folder frame, a still, a style image's aspect and a
    training pair's size."""
    path, expected = corpus.oriented_case(6, tmp_path, "JPEG")  # stored 24x16, seen 16x24
    seen = expected.shape[1], expected.shape[0]
    folder = tmp_path / "frames"
    folder.mkdir()
    path.rename(folder / "frame_1.jpg")
    source = open_source(folder)
    assert source.size == seen
    assert np.abs(source.read(0, *seen) - expected).mean() < 0.03
    assert np.abs(open_source(folder / "frame_1.jpg").read(0, *seen) - expected).mean() < 0.03
    # a style image's aspect (the size its Gram matrices are taken at)
    from render.engines.style import StyleEngine
    from render.recipe import load_recipe
    Image.fromarray(corpus.marked_picture()).save(tmp_path / "content.png")
    recipe_path = tmp_path / "style.toml"
    recipe_path.write_text(textwrap.dedent("""
        kind = "style"
        [output]
        size = [64, 64]
        [style]
        content = "content.png"
        images = { phone = "frames/frame_1.jpg" }
        steps = 0
    """))
    engine = StyleEngine.from_recipe(load_recipe(recipe_path), base_model=vgg16)
    h, w = engine.style_size("phone", 240, 160, 1.0)
    assert h > w and h / w == pytest.approx(24 / 16, rel=0.02)
    # training pairs: A/ sideways JPEG (seen 16x24) next to B/ upright 16x24 is one size, not two
    from render.training.pairs import folder_pairs
    for side in "AB":
        (tmp_path / "pairs" / side).mkdir(parents=True)
    Image.fromarray(np.full((H, W, 3), 255, np.uint8)).save(tmp_path / "pairs/A/x.png")  # stored 24x16
    exif = Image.Exif()
    exif[0x0112] = 8
    Image.open(tmp_path / "pairs/A/x.png").save(tmp_path / "pairs/A/x.png", exif=exif.tobytes())
    Image.fromarray(np.zeros((W, H, 3), np.uint8)).save(tmp_path / "pairs/B/x.png")   # 16x24 upright
    sketches, pictures = folder_pairs(tmp_path / "pairs", 16)
    assert sketches.shape[0] == pictures.shape[0] == 1


# --- folders -------------------------------------------------------------------------------------

def test_natural_order_ignores_padding_and_case():
    names = ["frame_10.png", "frame_2.png", "Frame_1.png", "frame_02.png", "frame_1b.png", "frame-100.png",
             "frame 3.png"]
    assert sorted(names, key=natural_key) == ["Frame_1.png", "frame_1b.png", "frame_02.png", "frame_2.png",
                                              "frame 3.png", "frame_10.png", "frame-100.png"]
    # names whose case disagrees with their order: a case-sensitive sort gives A1, B2, a9, a10, b, c
    mixed = ["b.png", "A1.png", "c.png", "B2.png", "a10.png", "a9.png"]
    assert sorted(mixed, key=natural_key) == ["A1.png", "a9.png", "a10.png", "B2.png", "b.png", "c.png"]


def test_folder_traps(tmp_path):
    """frame_1..frame_12 unpadded, with AppleDouble sidecars, .DS_Store, Thumbs.db, desktop.ini, a
    sub-folder of pictures and a text file: twelve frames, read in numeric order."""
    folder = tmp_path / "shots #1"
    (folder / "extra.png").mkdir(parents=True)  # a sub-folder, even one named like a picture
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(folder / "extra.png" / "frame_0.png")
    for n in range(1, 13):
        Image.fromarray(np.full((H, W, 3), 20 * n + 10, np.uint8)).save(folder / f"frame_{n}.png")
        (folder / f"._frame_{n}.png").write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 60)
    for junk in (".DS_Store", "Thumbs.db", "desktop.ini", "notes.txt", ".hidden.png"):
        (folder / junk).write_bytes(b"junk")
    assert [p.name for p in folder_frames(folder, IMAGE_SUFFIXES)] == [f"frame_{n}.png" for n in range(1, 13)]
    source = open_source(folder)
    assert source.count == 12 and "frame_1.png ... frame_12.png" in source.describe()
    greys = [round(float(source.read(i, W, H).mean()) * 255) for i in range(13)]
    assert greys == [20 * n + 10 for n in range(1, 13)] + [250]  # past the end: the last frame held


# --- animations ----------------------------------------------------------------------------------

LEVELS = [0, 60, 120, 180]
DELAYS = [100, 100, 300, 100]  # the third frame is held three times as long


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_pictures_are_sequences_with_their_timing(tmp_path, fmt):
    path = corpus.animation(tmp_path, fmt, LEVELS, DELAYS)
    source = open_source(path).bound(fps=24)
    assert source.kind == "animation" and source.native_fps == 10
    # one output frame per shortest delay (100 ms): the held frame is held for three
    expected = [0, 60, 120, 120, 120, 180]
    assert source.count == len(expected)
    greys = [round(float(source.read(i, W, H).mean()) * 255) for i in range(source.count)]
    assert greys == expected
    # as a still (init, style image), the first frame
    assert load_image(path, W, H).mean() == pytest.approx(0.0, abs=1e-3)


def test_gif_delays_under_20ms_are_shown_for_100ms_as_browsers_do(tmp_path):
    path = corpus.animation(tmp_path, "GIF", [0, 100, 200], [0, 10, 200])
    source = open_source(path)
    assert source.timeline.starts == (0.0, 0.1, 0.2) and source.timeline.duration == pytest.approx(0.4)


# --- video ---------------------------------------------------------------------------------------

STAMPS = [0.0, 0.5, 0.6, 1.5]
VIDEO_LEVELS = [20, 80, 140, 200]


def _on_screen(t: float) -> int:
    """Written out here, not taken from the loader: the last frame stamped at or before t."""
    return max(i for i, s in enumerate(STAMPS) if s <= t + 1e-9)


@pytest.mark.parametrize("codec,name", [("ffv1", "vfr.mkv"), ("libx264", "vfr.mp4"), ("libvpx-vp9", "vfr.webm")])
def test_variable_frame_rate_video_is_read_by_presentation_time(tmp_path, codec, name):
    path = corpus.vfr_video(tmp_path / name, VIDEO_LEVELS, STAMPS, codec)
    source = open_source(path).bound(fps=10)
    # lasts 1.5 s + the last frame's time (the median interval, 0.5 s): 2 s, 20 frames at 10 fps
    assert source.count == 20
    expected = [VIDEO_LEVELS[_on_screen(n / 10)] for n in range(20)]
    greys = [round(float(source.read(n, 32, 16).mean()) * 255) for n in range(20)]
    assert np.abs(np.array(greys) - expected).max() <= 3, (greys, expected)
    # the same clip at another rate keeps its timing: 25 fps, 50 frames
    at25 = open_source(path).bound(fps=25)
    assert at25.count == 50 and [at25.source_index(n) for n in (12, 13, 15, 37, 38)] == [0, 1, 2, 2, 3]
    assert source.native_fps == 2.0  # 4 frames in 2 s: the rate a recipe without fps plays it at


def test_video_frames_read_backwards_restart_the_decoder(tmp_path):
    path = corpus.vfr_video(tmp_path / "cfr.mkv", [10, 70, 130, 190, 250], [0, 0.25, 0.5, 0.75, 1.0])
    source = open_source(path).bound(fps=4)
    order = [4, 0, 3, 1, 2, 2]
    greys = [round(float(source.read(i, 32, 16).mean()) * 255) for i in order]
    assert greys == [[10, 70, 130, 190, 250][i] for i in order]


def test_a_clips_rotation_flag_is_honoured(tmp_path):
    path = corpus.rotated_video(tmp_path / "phone.mp4", 90)
    source = open_source(path)
    assert source.size == (H * 2, W * 2)  # portrait, as the phone showed it
    picture = np.repeat(np.repeat(corpus.marked_picture(), 2, axis=0), 2, axis=1)
    expected = np.rot90(picture, 1) / 255.0  # display rotation 90 = a quarter turn counter-clockwise
    got = source.read(0, H * 2, W * 2)
    assert np.abs(got - expected).mean() < 0.03


def test_rotated_clip_says_nothing_on_stderr(tmp_path, capfd):
    path = corpus.rotated_video(tmp_path / "phone.mp4", 90)
    capfd.readouterr()
    open_source(path).read(0, 16, 16)
    assert capfd.readouterr().err == ""


# --- names ---------------------------------------------------------------------------------------

def test_names_with_spaces_accents_apostrophes_hash_question_percent(tmp_path):
    folder = tmp_path / "Nuit d'été #2 ?50%"
    folder.mkdir()
    for n in range(3):
        Image.fromarray(np.full((H, W, 3), 40 + 80 * n, np.uint8)).save(folder / f"plan n°{n} ?%.png")
    assert [round(float(open_source(folder).read(i, W, H).mean()) * 255) for i in range(3)] == [40, 120, 200]
    video = corpus.vfr_video(folder / "clip #1 ?100%.mkv", [30, 90], [0, 0.5])
    assert [round(float(open_source(video).bound(2).read(i, 32, 16).mean()) * 255) for i in range(2)] == [30, 90]


def test_fit_covers_and_centre_crops_floats_like_pictures():
    values = np.zeros((10, 40, 3), np.float32)
    values[:, 18:22] = 1.0  # a white band in the middle; the centre crop is columns 15..24
    square = fit(values, 10, 10)
    assert square.shape == (10, 10, 3) and square[:, 3:7].mean() > 0.99 and square[:, [0, 1, 8, 9]].max() < 0.01


# --- TIFFs Pillow reads wrongly: real sample types, planes, associated alpha, all orientations ------

@pytest.mark.parametrize("dtype", [np.uint32, np.int16, np.int32, np.uint16])
def test_integer_tiffs_are_scaled_by_their_own_type(tmp_path, dtype):
    import tifffile
    top = np.iinfo(dtype).max
    values = np.round(corpus.ramp() * top).astype(dtype)
    tifffile.imwrite(tmp_path / "ramp.tif", values)
    got = load_picture(tmp_path / "ramp.tif", W, H)
    _close(got, np.repeat((values / float(top))[..., None], 3, axis=2))


def test_planar_sixteen_bit_rgb_tiff(tmp_path):
    import tifffile
    values = np.round(corpus.colour_picture() * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(values, -1, 0), photometric="rgb", planarconfig="separate")
    _close(load_picture(tmp_path / "planar.tif", W, H), values / 65535.0)


def test_associated_alpha_tiff_is_not_multiplied_twice(tmp_path):
    import tifffile
    colour = np.broadcast_to(np.array([1.0, 0.5, 0.5], np.float32), (H, W, 3))
    alpha = np.full((H, W, 1), 0.5, np.float32)
    tifffile.imwrite(tmp_path / "premul.tif", np.concatenate([colour * alpha, alpha], -1), photometric="rgb",
                     extrasamples=[1])
    got = load_picture(tmp_path / "premul.tif", W, H)
    assert np.allclose(got, [1.0, 0.75, 0.75], atol=1e-4)  # (1, .5, .5) half over white


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tifffile_path_honours_all_eight_orientations(tmp_path, orientation):
    """Float RGB TIFFs (read with tifffile) turn like Pillow turns the same pixels for that EXIF value."""
    import tifffile
    from PIL import ImageOps
    stored = corpus.marked_picture()
    tifffile.imwrite(tmp_path / "f.tif", stored.astype(np.float32) / 255, photometric="rgb",
                     extratags=[(274, "H", 1, orientation, True)])
    exif = Image.Exif()
    exif[0x0112] = orientation
    reference = Image.fromarray(stored)
    reference.info["exif"] = exif.tobytes()
    reference.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(reference), float) / 255.0
    info = picture_info(tmp_path / "f.tif")
    assert info.decoder == "tifffile" and (info.width, info.height) == expected.shape[1::-1]
    _close(load_picture(tmp_path / "f.tif", info.width, info.height), expected)


def test_sixteen_bit_png_with_a_transparent_grey_value(tmp_path):
    values = np.full((H, W), 30000, np.uint16)
    values[:, : W // 2] = 0
    image = Image.fromarray(values)
    image.save(tmp_path / "trns.png", transparency=0)
    got = load_picture(tmp_path / "trns.png", W, H)
    assert np.allclose(got[:, : W // 2], 1.0) and np.allclose(got[:, W // 2:], 30000 / 65535, atol=1e-4)


# --- inputs that cannot work say why, in one line ------------------------------------------------

def test_videos_without_pictures_and_damaged_videos_say_so(tmp_path, caplog):
    from render.media import MediaError
    corpus.ffmpeg(["-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", str(tmp_path / "voice.mp4")])
    (tmp_path / "empty.mp4").write_bytes(b"")
    for name, words in (("voice.mp4", "no video stream (audio only)"), ("empty.mp4", "empty")):
        with pytest.raises(MediaError, match=words.replace("(", r"\(").replace(")", r"\)")):
            open_source(tmp_path / name)
    corpus.ffmpeg(["-f", "lavfi", "-i", "testsrc=s=32x32:r=10", "-t", "4", "-c:v", "libx264", str(tmp_path / "full.mkv")])
    data = (tmp_path / "full.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) * 6 // 10])
    with caplog.at_level("INFO", logger="render.notes"):
        cut = open_source(tmp_path / "cut.mkv")
        whole = open_source(tmp_path / "full.mkv")
    assert whole.timeline.frames == 40 and 0 < cut.timeline.frames < 40
    assert [r.message for r in caplog.records if "cut.mkv" in r.message and "damaged" in r.message]
    assert not [r.message for r in caplog.records if "full.mkv" in r.message]


@pytest.mark.parametrize("value,words", [('"frames"', "is a folder"), ('"clip.mkv"', "is a video")])
def test_a_folder_or_video_where_one_picture_is_expected(tmp_path, value, words):
    from render.errors import RecipeError
    from render.recipe import load_recipe
    (tmp_path / "frames").mkdir()
    corpus.vfr_video(tmp_path / "clip.mkv", [10, 20], [0, 0.5])
    (tmp_path / "r.toml").write_text(f'kind = "dream"\n[output]\nsize = [64, 48]\n[dream]\ninit = {value}\n')
    with pytest.raises(RecipeError, match=f"r.toml:5: dream.init: .*{words}"):
        load_recipe(tmp_path / "r.toml")


def test_a_background_is_opaque(tmp_path):
    from render.errors import RecipeError
    from render.recipe import load_recipe
    (tmp_path / "r.toml").write_text('kind = "dream"\nbackground = "#00000080"\n[output]\nsize = [64, 48]\n')
    with pytest.raises(RecipeError, match="r.toml:2: background: .*transparent"):
        load_recipe(tmp_path / "r.toml")
    (tmp_path / "r.toml").write_text('kind = "dream"\nbackground = "teal"\n[output]\nsize = [64, 48]\n')
    assert load_recipe(tmp_path / "r.toml").background == pytest.approx((0, 128 / 255, 128 / 255), abs=1e-6)


@pytest.mark.parametrize("fmt, dtype", [("PNG", np.uint16), ("TIFF", np.uint16), ("TIFF", np.uint32),
                                        ("TIFF", np.int16)])
def test_the_end_points_of_a_high_bit_depth_picture_read_exactly(tmp_path, fmt, dtype):
    """The largest code value reads as exactly 1.0, the one below it as exactly (top - 1) / top, zero
    as 0.0: a scale off by one code value (dividing 16 bits by 65536, or by 65280) is caught, which a
    tolerance of 1/255 never would."""
    from render.media import read_picture
    top = int(np.iinfo(dtype).max)
    values = np.array([[0, 1, top // 2], [top - 1, top, top]], dtype)
    path = tmp_path / f"ends.{fmt.lower()}"
    if fmt == "PNG":
        Image.fromarray(values.astype(np.uint16)).save(path)   # a 16-bit greyscale PNG
    else:
        import tifffile
        tifffile.imwrite(path, values)
    got = read_picture(path)[..., 0]
    expected = (values.astype(np.float64) / top).astype(np.float32)
    assert got.dtype == np.float32 and got[1, 1] == 1.0 and got[0, 0] == 0.0
    np.testing.assert_array_equal(got, expected)
