"""The upscale stage: `render upscale` on files and run folders, `[output] upscale`, `render print
--upscale`; networks are swapped for Lanczos or a numpy stand-in so nothing is fetched."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from PIL import Image

from render.cli import main
from render.errors import RecipeError
from render.prints.files import ICC_TAG, read_print_info, srgb_profile

WALK = """\
kind = "walk"
seed = 2

[output]
size = [32, 32]
frames = 3
fps = 4
video = "mp4"
{upscale}

[model]
name = "dcgan-faces64"

[walk]
keys = [3, 9]
"""


def lanczos_oracle(image: np.ndarray, factor: int) -> np.ndarray:
    """Pillow's Lanczos in float mode, channel by channel (no 8-bit rounding between passes)."""
    h, w = image.shape[:2]
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c]), mode="F")
                                .resize((w * factor, h * factor), Image.LANCZOS)) for c in range(3)], -1)


def test_a_16_bit_tiff_stays_16_bit_with_its_dpi_profile_and_metadata(tmp_path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:56]
    image = np.stack([x / 55.0, y / 39.0, 0.5 + 0.3 * np.sin(x / 5.0)], -1) + rng.normal(0, 0.002, (40, 56, 3))
    data = np.rint(np.clip(image, 0, 1) * 65535).astype(np.uint16)
    icc = srgb_profile()
    source = tmp_path / "print.tif"
    tifffile.imwrite(source, data, photometric="rgb", resolution=(240, 240), resolutionunit="INCH", metadata=None,
                     description=json.dumps({"recipe": "kind = 'walk'", "print_size": "56x40px", "shape": [40, 56]}),
                     extratags=[(ICC_TAG, "B", len(icc), icc, True)])
    result = CliRunner().invoke(main, ["upscale", str(source), "--model", "lanczos-x2", "-q"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "print.lanczos-x2.tif"
    assert result.output.strip() == str(out)
    info = read_print_info(out)
    assert (info.width, info.height, info.bits) == (112, 80, 16)
    assert info.dpi == (240.0, 240.0) and info.icc_description == read_print_info(source).icc_description
    assert info.metadata["recipe"] == "kind = 'walk'" and info.metadata["upscaled"] == "lanczos-x2"
    assert "print_size" not in info.metadata and "shape" not in info.metadata   # they described the old pixels
    shown = CliRunner().invoke(main, ["inspect", str(out)])
    assert shown.exit_code == 0 and "upscaled    lanczos-x2" in shown.output
    got = tifffile.imread(out)
    assert got.dtype == np.uint16
    assert np.mean(got % 257 != 0) > 0.5            # not 8-bit values stretched to 16 bits
    want = np.clip(lanczos_oracle(data.astype(np.float32) / 65535, 2), 0, 1)
    assert np.max(np.abs(got / 65535.0 - want)) < 2e-4


def test_an_8_bit_png_keeps_its_text_and_upscales_by_the_chain(tmp_path):
    from PIL import PngImagePlugin
    image = (np.random.default_rng(1).random((12, 20, 3)) * 255).astype(np.uint8)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("recipe", "seed = 4")
    Image.fromarray(image).save(tmp_path / "a.png", pnginfo=info, dpi=(72, 72))
    result = CliRunner().invoke(main, ["upscale", str(tmp_path / "a.png"), "--model", "lanczos-x2,lanczos-x3",
                                       "--out", str(tmp_path / "b.png")])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "b.png") as out:
        assert out.size == (120, 72) and out.mode == "RGB"
        assert out.info["recipe"] == "seed = 4" and out.info["upscaled"] == "lanczos-x2+lanczos-x3"


@pytest.mark.parametrize("models, message", [("esrgan-x5", "unknown upscaler 'esrgan-x5'"),
                                             ("lanczos-x9", "2 to 8 times")])
def test_a_wrong_model_is_one_line_and_exit_2(tmp_path, models, message):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    result = CliRunner().invoke(main, ["upscale", str(tmp_path / "a.png"), "--model", models])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("upscale, key, message", [
    ('upscale = "esrgan-x5"', "output.upscale.model", "unknown upscaler"),
    ('upscale = { model = "esrgan-x4", factor = 2 }', "output.upscale.model", 'factor goes with "lanczos" alone'),
    ('upscale = { model = "lanczos-x2", factor = 3 }', "output.upscale.model", 'factor goes with "lanczos" alone'),
    ('upscale = "lanczos-x2,esrgan-x2"', "output.upscale.model", "as a list"),
    ('upscale = "esrgn-x4"', "output.upscale.model", "did you mean 'esrgan-x4'"),
    ('upscale = { model = "lanczos-x4", tile = "big" }', "output.upscale.tile", "expected a whole number"),
    ('upscale = { model = "lanczos", size = 2 }', "output.upscale.size", "unknown key"),
    ('upscale = { model = ["esrgan-x8", "esrgan-x4"] }', "output.upscale.model", "enlarge 32 times"),
    ('upscale = { model = "lanczos-x4", tile = 8 }', "output.upscale.tile", "48..2048"),
])
def test_recipe_mistakes_name_the_key(write_recipe, upscale, key, message):
    from render.recipe import load_recipe
    with pytest.raises(RecipeError) as caught:
        load_recipe(write_recipe(WALK.format(upscale=upscale)))
    assert caught.value.key == key and message in caught.value.message


def test_output_upscale_makes_the_video_bigger_and_a_rerun_reuses_it(write_recipe, tmp_path):
    from render.outputs.probe import probe_video
    path = write_recipe(WALK.format(upscale='upscale = { model = "lanczos", factor = 2 }'))
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(path), "--out", str(tmp_path / "run"), "-q"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    frames = sorted((run / "upscaled").glob("frame_*.png"))
    assert len(frames) == 3
    stored = np.asarray(Image.open(run / "frames" / "frame_000001.png"), np.float32) / 255
    upscaled = np.asarray(Image.open(frames[1]), np.float32) / 255
    assert upscaled.shape == (64, 64, 3)
    assert np.max(np.abs(upscaled - np.clip(lanczos_oracle(stored, 2), 0, 1))) <= 1.01 / 255
    video = probe_video(run / "tiny.mp4")
    assert (video.width, video.height) == (64, 64)
    stamps = [f.stat().st_mtime_ns for f in frames]
    again = runner.invoke(main, ["run", str(path), "--out", str(run)])
    assert again.exit_code == 0 and "up to date" in again.output
    assert [f.stat().st_mtime_ns for f in frames] == stamps          # nothing upscaled again
    changed = runner.invoke(main, ["run", str(path), "--out", str(run), "--set",
                                   'output.upscale={ model = "lanczos", factor = 3 }', "-q"])
    assert changed.exit_code == 0, changed.output
    assert Image.open(frames[1]).size == (96, 96)                   # the stage is in the frames' keys
    assert (probe_video(run / "tiny.mp4").width, probe_video(run / "tiny.mp4").height) == (96, 96)


def test_a_run_folder_upscales_its_frames_in_order_beside_the_recipes_own(write_recipe, tmp_path):
    path = write_recipe(WALK.format(upscale='upscale = { model = "lanczos", factor = 3 }'))
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(path), "--out", str(tmp_path / "run"), "-q"]).exit_code == 0
    own = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run" / "upscaled").iterdir()}
    result = runner.invoke(main, ["upscale", str(tmp_path / "run"), "--model", "lanczos-x2"])
    assert result.exit_code == 0 and "upscaled 3 frames x2" in result.output, result.output
    for index in range(3):
        stored = np.asarray(Image.open(tmp_path / "run" / "frames" / f"frame_{index:06d}.png"), np.float32) / 255
        got = np.asarray(Image.open(tmp_path / "run" / "upscaled-lanczos-x2" / f"frame_{index:06d}.png"),
                         np.float32) / 255
        assert np.max(np.abs(got - np.clip(lanczos_oracle(stored, 2), 0, 1))) <= 1.01 / 255, index
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "run" / "upscaled").iterdir()} == own
    refused = runner.invoke(main, ["upscale", str(tmp_path / "run"), "--model", "lanczos-x2", "--out",
                                   str(tmp_path / "run" / "upscaled")])
    assert refused.exit_code == 2 and "belongs to the run" in refused.output


def test_pictures_are_read_as_the_media_loader_reads_them(tmp_path):
    """CMYK as ink (R = 255 - C - K for K = 0), EXIF orientation applied (a left-red/right-blue picture
    stored for a 90 degree clockwise turn comes out red on top), grey + alpha over white."""
    runner = CliRunner()
    Image.new("CMYK", (20, 12), (98, 119, 131, 0)).save(tmp_path / "cmyk.tif")
    assert runner.invoke(main, ["upscale", str(tmp_path / "cmyk.tif"), "--model", "lanczos-x2"]).exit_code == 0
    got = np.asarray(Image.open(tmp_path / "cmyk.lanczos-x2.tif").convert("RGB"), np.float64)
    assert got.shape == (24, 40, 3) and np.abs(got - (157, 136, 124)).max() <= 1

    stored = np.zeros((16, 24, 3), np.uint8)
    stored[:, :12] = (255, 0, 0)
    stored[:, 12:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "turned.jpg", exif=exif, quality=98)
    assert runner.invoke(main, ["upscale", str(tmp_path / "turned.jpg"), "--model", "lanczos-x2"]).exit_code == 0
    turned = np.asarray(Image.open(tmp_path / "turned.lanczos-x2.jpg"), np.float64)
    assert turned.shape == (48, 32, 3)
    assert turned[4, :, 0].mean() > 200 and turned[-4, :, 2].mean() > 200   # red above, blue below

    grey = np.zeros((10, 10, 2), np.uint8)
    grey[..., 0], grey[..., 1] = 0, 0            # black, fully transparent: white after compositing
    Image.fromarray(grey, "LA").save(tmp_path / "clear.png")
    result = runner.invoke(main, ["upscale", str(tmp_path / "clear.png"), "--model", "lanczos-x2"])
    assert result.exit_code == 0 and "transparency" in result.output
    assert np.asarray(Image.open(tmp_path / "clear.lanczos-x2.png")).min() >= 254


def test_the_output_format_follows_the_extension_and_never_replaces_the_source(tmp_path):
    runner = CliRunner()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(tmp_path / "a.png")
    assert runner.invoke(main, ["upscale", str(tmp_path / "a.png"), "--model", "lanczos-x2", "--out",
                                str(tmp_path / "b.jpg")]).exit_code == 0
    assert Image.open(tmp_path / "b.jpg").format == "JPEG"
    for out, message in ((tmp_path / "b.gif", "write .tif, .png or .jpg"), (tmp_path / "a.png", "the picture itself")):
        result = runner.invoke(main, ["upscale", str(tmp_path / "a.png"), "--model", "lanczos-x2", "--out", str(out)])
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_print_with_upscale_renders_smaller_then_enlarges_to_the_exact_size(write_recipe, tmp_path):
    path = write_recipe(WALK.replace("frames = 3", "frames = 1").format(upscale=""))
    out = tmp_path / "poster.tif"
    result = CliRunner().invoke(main, ["print", str(path), "--size", "130x90px", "--orientation", "landscape", "--dpi", "100", "--upscale",
                                       "lanczos-x4", "--file", str(out), "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "then lanczos-x4 to 130x90" in result.output and "33x23" in result.output
    info = read_print_info(out)
    assert (info.width, info.height, info.bits, info.dpi) == (130, 90, 16, (100.0, 100.0))


def test_a_print_plan_counts_the_enlargement_in_its_memory(write_recipe):
    """The upscale stage's peak (canvas + one window of the network, `engines.upscale.upscale_memory`)
    enters the print's estimate, and a budget below it is refused before anything renders; no network
    is loaded to plan."""
    from render.engines.upscale import upscale_memory
    from render.models import packages
    from render.models.upscalers import OVERLAP, activation_bytes
    from render.prints.driver import PrintError, options_for, plan_print
    from render.recipe import load_recipe
    recipe = load_recipe(write_recipe(WALK.replace("frames = 3", "frames = 1").format(upscale="")))
    plain = plan_print(recipe, options_for(recipe, size="2000x2000px", dpi=300))
    enlarged = plan_print(recipe, options_for(recipe, size="2000x2000px", dpi=300, upscale=("esrgan-x4",)))
    assert enlarged.render_size == (500, 500)
    need = upscale_memory(500, 500, 4, 256, activation_bytes(packages.PACKAGED["esrgan-thick-x4"]), OVERLAP)
    small = plan_print(recipe, options_for(recipe, size="500x500px", dpi=300))   # the stages alone, rendered small
    assert enlarged.estimate == max(need, small.estimate) and need > small.estimate
    assert plain.estimate > small.estimate
    smallest = upscale_memory(500, 500, 4, 48, activation_bytes(packages.PACKAGED["esrgan-thick-x4"]), OVERLAP)
    assert smallest > small.estimate      # a budget the kind's stages fit and the enlargement does not
    with pytest.raises(PrintError, match="esrgan-thick-x4 does not fit"):
        plan_print(recipe, options_for(recipe, size="2000x2000px", dpi=300, upscale=("esrgan-x4",),
                                       max_memory=smallest - 1))
