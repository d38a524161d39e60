"""Prints: sizes, files, tiled losses, memory plan, resume, out-of-memory retry, the command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from render.prints.driver import PrintError, make_print, options_for, plan_print
from render.prints.files import encode_print, read_print_info, write_print
from render.prints.paper import SizeError, parse_memory, parse_size
from render.recipe import load_recipe
from render.runner import render
from tests.helpers import REPO

SMALL_STYLE = ["output.size=[96,64]", "style.steps=4", "style.scales=[1.0]", "model.precision='float32'"]


# --- sizes -------------------------------------------------------------------------------------------
def test_paper_and_units_become_pixels():
    a4 = parse_size("A4", 300)
    assert (a4.width, a4.height) == (2480, 3508)
    assert (parse_size("a4", 300, "landscape").width, parse_size("a4", 300, "landscape").height) == (3508, 2480)
    assert (parse_size("A3", 300).width, parse_size("A3", 300).height) == (3508, 4961)
    cm = parse_size("60x40cm", 100, "auto")
    assert (cm.width, cm.height) == (2362, 1575)
    inches = parse_size("24x36in", 150, "auto")
    assert (inches.width, inches.height) == (3600, 5400)
    assert (parse_size("7087x4724px", 300, "auto").width, parse_size("7087x4724px", 300, "auto").height) == (7087, 4724)
    bled = parse_size("A4", 300, bleed="3mm")
    assert (bled.width, bled.height, bled.bleed_px) == (2480 + 2 * 35, 3508 + 2 * 35, 35)
    assert parse_memory("4GiB") == 4 * 2**30 and parse_memory("500MB") == 500_000_000


@pytest.mark.parametrize("size, dpi, words", [("A9", 300, "unknown print size"), ("60x40", 300, "no unit"),
                                              ("A4", 20, "out of range"), ("A4", 2401, "out of range"),
                                              ("60x40furlongs", 300, "unknown unit")])
def test_bad_sizes_are_refused_with_a_reason(size, dpi, words):
    with pytest.raises(SizeError, match=words):
        parse_size(size, dpi)


# --- files -------------------------------------------------------------------------------------------
def test_tiff_reads_back_as_16_bit_rgb_with_dpi_profile_and_recipe(tmp_path):
    gradient = np.linspace(0, 1, 50 * 70 * 3, dtype=np.float32).reshape(50, 70, 3)
    path = write_print(tmp_path / "p.tif", gradient, "tiff", 300, {"recipe": "kind = \"dream\"\n", "renderer": "x"})
    info = read_print_info(path)
    assert (info.width, info.height, info.bits) == (70, 50, 16)
    assert info.dpi == (300.0, 300.0)
    assert "sRGB" in info.icc_description
    assert info.metadata["recipe"] == "kind = \"dream\"\n"
    import tifffile
    data = tifffile.imread(path)
    assert data.dtype == np.uint16 and data.shape == (50, 70, 3)
    assert np.abs(data / 65535.0 - gradient).max() <= 0.5 / 65535 + 1e-7  # never through 8 bits
    assert len(np.unique(data)) > 256


@pytest.mark.parametrize("fmt, suffix", [("png", ".png"), ("jpeg", ".jpg")])
def test_png_and_jpeg_carry_dpi_profile_and_recipe(tmp_path, fmt, suffix):
    image = np.random.default_rng(0).random((40, 30, 3), dtype=np.float32)
    path = tmp_path / f"p{suffix}"
    path.write_bytes(encode_print(image, fmt, 150, {"recipe": "seed = 1\n"}))
    info = read_print_info(path)
    assert (info.width, info.height, info.bits) == (30, 40, 8)
    assert info.dpi == pytest.approx((150, 150), abs=0.05)  # PNG stores dots per metre
    assert "sRGB" in info.icc_description and info.metadata["recipe"] == "seed = 1\n"


# --- tiled losses ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def style_parts():
    from render.engines.style import StyleEngine
    from render.engines.style_tiled import TiledStyle
    from render.models import build
    recipe = load_recipe(REPO / "recipes" / "style-still.toml", ["output.size=[224,160]", "model.precision='float32'"])
    engine = StyleEngine.from_recipe(recipe, base_model=build.embedded_vgg16())
    tiled = TiledStyle(engine.objective)
    from render.plan import make_plan
    content = engine.source.read(0, 224, 160)
    return recipe, engine, tiled, make_plan(recipe).row(0), content


def test_gram_accumulated_over_overlapping_tiles_matches_the_whole_image_gram(style_parts):
    from render.engines.style_tiled import tile_windows
    recipe, engine, tiled, row, content = style_parts
    windows = tile_windows(160, 224, 128, 48)
    assert len(windows) > 2 and any(w.pad != w.core for w in windows)
    tiled_grams, counts = tiled.image_grams(content, windows)
    whole = engine.objective.style_grams(content)
    for layer, (a, b) in enumerate(zip(tiled_grams, whole)):
        error = float(np.linalg.norm(a - b) / np.linalg.norm(b))
        assert error < (1e-4 if layer < 3 else 0.08), (layer, error)  # deep layers see the margins' edges
    # every feature position is counted once: block1 (stride 1) counts every pixel
    assert counts[0] == 160 * 224


def test_one_window_gives_exactly_the_untiled_loss_and_gradient(style_parts):
    from render.engines.style_tiled import tiled_losses_and_gradient, tiled_targets
    recipe, engine, tiled, row, content = style_parts
    image = np.clip(content + np.random.default_rng(1).normal(0, 0.1, content.shape), 0, 1).astype(np.float32)
    targets, weights, _ = engine.prepare(content, row)
    term, style_w, content_w = weights
    losses, gradient = engine.loop.value_and_gradient(image, targets, weights)
    whole = tiled_targets(tiled, content, list(targets.style), content_w, 1024, 32)
    tiled_losses, tiled_gradient = tiled_losses_and_gradient(tiled, image, whole, term, style_w)
    np.testing.assert_allclose(tiled_losses, losses, rtol=1e-4)
    assert np.linalg.norm(tiled_gradient - gradient) / np.linalg.norm(gradient) < 1e-4
    split = tiled_targets(tiled, content, list(targets.style), content_w, 128, 48)
    _, split_gradient = tiled_losses_and_gradient(tiled, image, split, term, style_w)
    assert np.linalg.norm(split_gradient - gradient) / np.linalg.norm(gradient) < 0.05


def test_a_tiled_style_step_lowers_the_style_loss(style_parts):
    from render.engines.style_tiled import adam_tiled, tiled_targets
    recipe, engine, tiled, row, content = style_parts
    targets, (term, style_w, content_w), _ = engine.prepare(content, row)
    split = tiled_targets(tiled, content, list(targets.style), content_w, 128, 32)
    _, losses = adam_tiled(tiled, content.copy(), split, term, style_w, 0.02, 4)
    assert losses[-1, 2] < losses[0, 2] * 0.97 and losses[-1, 0] < losses[0, 0]


def test_a_tiled_dream_gradient_matches_the_untiled_one_away_from_tile_borders(vgg16, cat_image):
    from render.backend import current
    from render.backend.kerasops import ops
    from render.engines.dream import DreamStepper
    from render.engines.objectives import build_terms
    from render.engines.tiling import tiled_gradient
    from render.kinds.dream import LayerTarget
    from render.models import build
    from render.models.catalog import BUILTIN
    extractor = build.feature_extractor(BUILTIN["vgg16"], ["block2_conv2"], base=vgg16)
    stepper = DreamStepper(extractor, build_terms([LayerTarget("block2_conv2", "block2_conv2", None, "w")],
                                                  extractor.layers))
    backend = current()
    value_and_grad = backend.value_and_grad(lambda patch, share, weights: stepper.loss(patch[None], weights) * share)
    tile_gradient = backend.compile(lambda patch, share, weights: value_and_grad(patch, share, weights)[1],
                                    [extractor.model], name="test tile gradient")
    image = np.asarray(ops.image.resize(cat_image, (96, 128)), np.float32)
    shift, weights = np.zeros(2, np.int32), np.ones(1, np.float32)
    whole = np.asarray(tiled_gradient(tile_gradient, image, shift, 256, weights))
    tiled = np.asarray(tiled_gradient(tile_gradient, image, shift, 64, weights))  # 2 x 2 tiles
    away = np.ones((96, 128), bool)
    away[48 - 12:48 + 12, :] = False
    away[:, 64 - 12:64 + 12] = False
    away[:12, :] = away[-12:, :] = False
    away[:, :12] = away[:, -12:] = False
    assert np.abs(tiled - whole)[away].max() < 1e-3 * np.abs(whole).max()
    assert np.abs(tiled - whole)[~away].max() > 1e-3 * np.abs(whole).max()  # the borders do differ


# --- planning ----------------------------------------------------------------------------------------
def test_max_memory_picks_smaller_tiles_and_refuses_what_cannot_fit():
    recipe = load_recipe(REPO / "recipes" / "zoom.toml")
    roomy = plan_print(recipe, options_for(recipe, size="A3", max_memory=parse_memory("16GiB")))
    assert (roomy.size.width, roomy.size.height) == (4961, 3508)  # landscape like the frame
    tight_budget = int(roomy.estimate * 0.97)
    tight = plan_print(recipe, options_for(recipe, size="A3", max_memory=tight_budget))
    assert tight.tile < roomy.tile and tight.estimate <= tight_budget
    with pytest.raises(PrintError, match="even with 64 px tiles"):
        plan_print(recipe, options_for(recipe, size="A3", max_memory=parse_memory("1GiB")))


def test_dream_print_stages_are_the_frames_octaves_at_print_size():
    recipe = load_recipe(REPO / "recipes" / "zoom.toml")
    plan = plan_print(recipe, options_for(recipe, size="A4", steps=2))
    assert [(s.width, s.height) for s in plan.stages][-1] == (3508, 2480)
    assert len(plan.stages) == int(plan.row["dream.octaves"]) and all(s.steps == 2 for s in plan.stages)
    widths = [s.width for s in plan.stages]
    assert widths == sorted(widths) and widths[0] > recipe.output.size[0]


# --- rendering ---------------------------------------------------------------------------------------
def backend_out_of_memory() -> Exception:
    """The error the active backend raises when an accelerator runs out of memory."""
    from render.backend import current
    backend = current()
    if backend.name == "tensorflow":
        import tensorflow as tf
        error = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    else:
        from jax.errors import JaxRuntimeError
        error = JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.00GiB.")
    assert backend.is_out_of_memory(error) and not backend.is_out_of_memory(ValueError("shapes differ"))
    return error


class Interrupting:
    """Wraps a kind's printer; raises KeyboardInterrupt when asked for stage ``stop_at`` (a kill)."""

    def __init__(self, recipe, stop_at=None, oom_above=None):
        self.inner = recipe.kind.build_printer(recipe)
        self.stop_at, self.oom_above, self.stages_run = stop_at, oom_above, []

    def begin(self, request):
        return self.inner.begin(request)

    def run_stage(self, request, stage, state, tile, on_step):
        if stage == self.stop_at:
            raise KeyboardInterrupt
        if self.oom_above is not None and tile > self.oom_above:
            raise backend_out_of_memory()
        self.stages_run.append((stage, tile))
        return self.inner.run_stage(request, stage, state, tile, on_step)

    def finish(self, request, state):
        return self.inner.finish(request, state)


@pytest.fixture
def tiny_dream(write_recipe, tmp_path):
    recipe = load_recipe(write_recipe(), ["output.frames=2", "output.video='none'"])
    render(recipe, tmp_path / "run")
    return recipe, tmp_path / "run"


def test_a_killed_print_resumes_from_its_last_stage_and_equals_an_unbroken_one(tiny_dream, tmp_path):
    recipe, run = tiny_dream
    plan = plan_print(recipe, options_for(recipe, size="200x120px", dpi=100, steps=1))
    assert len(plan.stages) == 2
    unbroken = make_print(plan, run, tmp_path / "unbroken.tif")
    printers = []

    def killer(r):
        printers.append(Interrupting(r, stop_at=1))
        return printers[-1]
    with pytest.raises(KeyboardInterrupt):
        make_print(plan, run, tmp_path / "resumed.tif", printer_factory=killer)
    assert not (tmp_path / "resumed.tif").exists()
    assert (tmp_path / ".resumed.tif.state" / "state.npz").exists()

    def counting(r):
        printers.append(Interrupting(r))
        return printers[-1]
    resumed = make_print(plan, run, tmp_path / "resumed.tif", printer_factory=counting)
    assert resumed.resumed_from == 1 and [s for s, _ in printers[-1].stages_run] == [1]
    assert (tmp_path / "resumed.tif").read_bytes() == unbroken.path.read_bytes()
    assert not (tmp_path / ".resumed.tif.state").exists()
    # a changed print (other steps) does not reuse another print's state
    other = plan_print(recipe, options_for(recipe, size="200x120px", dpi=100, steps=2))
    with pytest.raises(KeyboardInterrupt):
        make_print(other, run, tmp_path / "other.tif", printer_factory=lambda r: Interrupting(r, stop_at=1))
    again = make_print(plan, run, tmp_path / "other.tif")
    assert again.resumed_from == 0


def test_running_out_of_memory_retries_the_stage_with_smaller_tiles(tiny_dream, tmp_path):
    recipe, run = tiny_dream
    plan = plan_print(recipe, options_for(recipe, size="200x120px", dpi=100, steps=1, tile=256))
    holder = []

    def factory(r):
        holder.append(Interrupting(r, oom_above=96))
        return holder[-1]
    result = make_print(plan, run, tmp_path / "p.tif", printer_factory=factory)
    assert result.tiles_used == [96, 96] and holder[0].stages_run == [(0, 96), (1, 96)]
    with pytest.raises(PrintError, match="out of memory"):
        make_print(plan, run, tmp_path / "q.tif", printer_factory=lambda r: Interrupting(r, oom_above=10))


def test_a_print_of_a_frame_not_in_the_run_folder_is_refused(write_recipe, tmp_path):
    recipe = load_recipe(write_recipe(), ["output.frames=3"])
    plan = plan_print(recipe, options_for(recipe, size="200x120px", dpi=100, frame=2))
    with pytest.raises(PrintError, match="frame 2 is not rendered"):
        make_print(plan, tmp_path / "empty-run", tmp_path / "p.tif")


def test_style_print_adds_detail_at_each_scale_without_seams(write_recipe, tmp_path):
    style = write_recipe(f"""\
        kind = "style"
        [output]
        size = [96, 64]
        [style]
        content = "chelsea.png"
        images = {{ dreamed = "{REPO / 'recipes' / 'assets' / 'dreamed-filter.png'}" }}
        steps = 20
        scales = [1.0]
        """, "style.toml")
    recipe = load_recipe(style)
    plan = plan_print(recipe, options_for(recipe, size="320x224px", dpi=100, steps=6, tile=128))
    sizes = [(s.width, s.height) for s in plan.stages]
    assert len(sizes) == 2 and sizes[-1] == (320, 224) and 96 < sizes[0][0] and 320 / sizes[0][0] <= 2
    result = make_print(plan, tmp_path / "run", tmp_path / "style.tif")
    import tifffile
    image = tifffile.imread(result.path).astype(np.float32) / 65535
    frame = load_frame(tmp_path / "run")
    from PIL import Image
    upscaled = np.asarray(Image.fromarray(frame).resize((320, 224), Image.Resampling.BICUBIC), np.float32) / 255
    # new detail, not a blurred copy of the frame: more high-frequency energy than the plain upscale
    assert high_pass_energy(image) > 1.5 * high_pass_energy(upscaled)
    # no seam at the tile cores' borders: the rows and columns there are as smooth as elsewhere
    from render.engines.style_tiled import tile_windows
    from render.prints.style import MARGIN
    borders = sorted({w.core[0] for w in tile_windows(224, 320, 128, MARGIN)} - {0})
    assert borders, "the last scale must be tiled"
    steps_y = np.abs(np.diff(image, axis=0)).mean(axis=(1, 2))
    assert steps_y[[b - 1 for b in borders]].max() < 2.0 * np.median(steps_y)


def load_frame(run: Path) -> np.ndarray:
    from tests.helpers import pixels
    return pixels(run / "frames" / "frame_000000.png")


def high_pass_energy(image: np.ndarray) -> float:
    return float(np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean())


def test_walk_print_at_its_native_cell_size_equals_the_stored_poster(tmp_path):
    recipe = load_recipe(REPO / "recipes" / "walk-poster.toml", ["output.size=[384,256]"])
    render(recipe, tmp_path / "run")
    plan = plan_print(recipe, options_for(recipe, size="384x256px", dpi=100, fmt="png"))
    result = make_print(plan, tmp_path / "run", tmp_path / "poster.png")
    from tests.helpers import pixels
    printed = pixels(result.path).astype(int)
    stored = load_frame(tmp_path / "run").astype(int)
    assert np.abs(printed - stored).max() <= 2   # bfloat16 batches vs one call round differently


# --- the command -------------------------------------------------------------------------------------
def run_cli(*args, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "render.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd)


@pytest.mark.parametrize("args, words", [
    (["--size", "A9"], "unknown print size 'A9'"), (["--size", "60x40"], "has no unit"),
    (["--size", "A4", "--dpi", "10"], "dpi 10 is out of range"),
    (["--size", "A4", "--frame", "3"], "frame 3 is not rendered"),
    (["--size", "A0", "--dpi", "600", "--max-memory", "2GiB"], "more than the 2.00 GiB allowed"),
])
def test_bad_print_requests_are_one_line_before_any_rendering(write_recipe, tmp_path, args, words):
    recipe = write_recipe()
    result = run_cli("print", recipe, "--out", tmp_path / "run", *args)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "frames" / "frame_000000.png").exists()


def test_print_command_with_proof_writes_a_small_tagged_png(write_recipe, tmp_path):
    recipe = write_recipe(textwrap.dedent("""\
        kind = "walk"
        [output]
        size = [128, 64]
        [model]
        name = "dcgan-faces64"
        [walk]
        keys = [5]
        poster = true
        grid = [2, 1]
        [print]
        size = "A3"
        dpi = 300
        """), "faces.toml")
    result = run_cli("print", recipe, "--out", tmp_path / "run", "--proof", "--quiet")
    assert result.returncode == 0, result.stderr
    proof = next((tmp_path / "run" / "prints").glob("*-proof.png"))
    assert result.stdout == f"{proof}\n" and "memory" not in result.stderr, (result.stdout, result.stderr)
    info = read_print_info(proof)
    assert max(info.width, info.height) <= 1024 and info.width > info.height   # landscape like the frame
    assert 'kind = "walk"' in info.metadata["recipe"] and info.dpi[0] < 300


def test_a_tiny_print_at_a_larger_size_keeps_memory_near_the_tiles(write_recipe, tmp_path):
    """1024x1024 with 128 px tiles: the network would need about 3 GiB for the whole image at once
    (block4 activations); tiled, the print's peak stays a few hundred MiB above the start-up peak."""
    script = textwrap.dedent("""
        import resource, sys
        from pathlib import Path
        from render.recipe import load_recipe
        from render.runner import render
        from render.prints.driver import make_print, options_for, plan_print
        recipe = load_recipe(sys.argv[1], ["output.frames=1", "dream.layers={block4_conv3=1.0}", "dream.steps=1",
                                           "dream.octaves=1"])
        render(recipe, Path(sys.argv[2]))   # start-up: TensorFlow, the model, a first small step
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        plan = plan_print(recipe, options_for(recipe, size="1024x1024px", dpi=100, steps=1, tile=128))
        make_print(plan, Path(sys.argv[2]), Path(sys.argv[2]) / "p.tif")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(before, after, plan.estimate)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script, str(write_recipe()), str(tmp_path / "run")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    before, after, estimate = (int(v) for v in done.stdout.split()[-3:])
    assert after - before < 0.6 * 2**30, (before, after, estimate)
    # the plan does not underestimate what the print adds on top of the process (the benchmark checks
    # the whole estimate against whole-process peaks; start-up peaks here vary with the machine's state)
    from render.kinds.dream import PROCESS_BASELINE
    assert estimate - PROCESS_BASELINE >= after - before, (before, after, estimate)


@pytest.mark.parametrize("features_hw", [(4, 3), (3, 2)])   # 'same' (ceil) and 'valid' (floor) pooling
def test_window_masks_take_the_size_of_each_layers_own_map(features_hw):
    """A 50x37 window's mask resized to a stride-16 map of either rounding: the map's shape, and the
    share of the map it covers equals the share of the window's pixels it covered."""
    from render.backend.kerasops import ops
    from render.engines.style_tiled import area_resize, layer_mask
    mask = np.zeros((50, 37), np.float32)
    mask[:30, 5:] = 1.0
    h, w = features_hw
    resized = np.asarray(layer_mask(ops.convert_to_tensor(mask), np.zeros((1, h, w, 8), np.float32)))
    assert resized.shape == (1, h, w, 1)
    np.testing.assert_allclose(resized.mean(), mask.mean(), rtol=1e-5)
    np.testing.assert_allclose(resized[0, :, :, 0], area_resize(mask, h, w), atol=1e-6)
    # an exact 2x2 area is the plain mean of each block
    np.testing.assert_allclose(area_resize(np.arange(16, dtype=np.float32).reshape(4, 4), 2, 2),
                               [[2.5, 4.5], [10.5, 12.5]])
