"""DeepDream properties: steps raise the objective, tiling is exact or local, rolling hides seams."""

import numpy as np
import pytest

from render.backend import current
from render.backend.api import STATS
from render.backend.kerasops import ops
from render.engines.dream import DreamStepper
from render.engines.geometry import OCTAVE_BUCKET, octave_sizes
from render.engines.motion import apply_motion
from render.engines.objectives import Term
from render.engines.tiling import even_split, roll_offsets, tiled_gradient
from render.models import build, catalog


def stepper_for(vgg16, layers, channels=None):
    info = catalog.resolve("vgg16")
    extractor = build.feature_extractor(info, layers, base=vgg16)
    channels = channels or [None] * len(layers)
    terms = [Term(extractor.layers.index(l), c, f"{l}:{c}") for l, c in zip(layers, channels)]
    return DreamStepper(extractor, terms)


def run_steps(stepper, image, steps, tile=512, step_size=0.02, weights=None):
    h, w = image.shape[:2]
    shifts = roll_offsets(np.random.default_rng(0), steps, h, w, tile)
    weights = weights if weights is not None else [1.0] * len(stepper.terms)
    return stepper.run(image, shifts, tile, np.asarray(weights, np.float32), np.float32(step_size))


@pytest.mark.parametrize("layers", [["block4_conv3"], ["block3_conv1", "block5_conv1"]])
def test_dream_steps_raise_the_objective(vgg16, cat_image, layers):
    stepper = stepper_for(vgg16, layers)
    weights = np.ones(len(layers), np.float32)
    before = stepper.value(cat_image, weights)
    after_two = run_steps(stepper, cat_image, 2)
    after_four = run_steps(stepper, cat_image, 4)
    assert stepper.value(after_two, weights) > before * 1.05
    assert stepper.value(after_four, weights) > stepper.value(after_two, weights)


def test_channel_objective_raises_that_channel(vgg16, cat_image):
    stepper = stepper_for(vgg16, ["block4_conv1"], [7])
    activations = lambda img: np.asarray(stepper.extractor(np.asarray(img, np.float32)[np.newaxis])[0])
    mean_channel = lambda img: float(activations(img)[..., 7].mean())
    dreamed = np.asarray(run_steps(stepper, cat_image, 3))
    assert mean_channel(dreamed) > mean_channel(cat_image) * 1.2
    # ... and far more than the layer's other channels rose on average
    acts_before = activations(cat_image).mean(axis=(0, 1, 2))
    acts_after = activations(dreamed).mean(axis=(0, 1, 2))
    gain = acts_after - acts_before
    assert gain[7] > np.median(gain) + 3 * gain.std() / 2


def gradients(vgg16, image, layer, tile, shift=(0, 0)):
    """The tiled gradient of ``layer``'s mean: one compiled gradient per tile, as the stepper runs it."""
    stepper = stepper_for(vgg16, [layer])
    backend = current()
    value_and_grad = backend.value_and_grad(lambda patch, share, weights: stepper.loss(patch[None], weights) * share)
    tile_gradient = backend.compile(lambda patch, share, weights: value_and_grad(patch, share, weights)[1],
                                    [stepper.extractor.model], name="test tile gradient")
    return np.asarray(tiled_gradient(tile_gradient, np.asarray(image, np.float32), np.asarray(shift, np.int32), tile,
                                     np.ones(1, np.float32)))


def test_single_tile_gradient_equals_untiled(vgg16, cat_image):
    stepper = stepper_for(vgg16, ["block3_conv3"])
    backend = current()
    untiled_gradient = backend.compile(
        backend.value_and_grad(lambda image, weights: stepper.loss(image[None], weights)),
        [stepper.extractor.model], name="test untiled gradient")
    untiled = np.asarray(untiled_gradient(cat_image, np.ones(1, np.float32))[1])
    tiled = gradients(vgg16, cat_image, "block3_conv3", tile=64)
    np.testing.assert_allclose(tiled, untiled, rtol=1e-5, atol=1e-9)
    assert not np.any(roll_offsets(np.random.default_rng(1), 4, 48, 64, 64)), "no roll for a single tile"


def test_tiled_gradient_matches_away_from_tile_borders(vgg16):
    image = np.random.default_rng(5).uniform(0, 1, (96, 96, 3)).astype(np.float32)
    whole = gradients(vgg16, image, "block2_conv1", tile=96)
    tiled = gradients(vgg16, image, "block2_conv1", tile=48)
    # block2_conv1 sees 10 px around a pixel (two 3x3 convs, a pool, a 3x3 conv): stay 12 px clear
    inner = np.zeros((96, 96), bool)
    for start in (0, 48):
        inner[start + 12:start + 36, :] = True
    inner &= inner.T
    np.testing.assert_allclose(tiled[inner], whole[inner], rtol=1e-4, atol=1e-8)
    border = ~inner
    assert not np.allclose(tiled[border], whole[border], rtol=1e-4, atol=1e-8), "borders do differ"


def seam_strength(dreamed, start, tile):
    """How much less (or more) the tile-border rows/columns changed than a typical one: 0 = no seam.

    Zero padding at a tile's edge weakens the gradient there, so a fixed tile grid leaves lines of
    under-dreamed pixels."""
    change = np.abs(dreamed - start)
    profile = (change.mean(axis=(0, 2)) + change.mean(axis=(1, 2))) / 2
    borders = [i for b in range(tile, len(profile), tile) for i in (b - 1, b)]
    return abs(profile[borders].mean() / np.median(profile) - 1.0)


def test_rolling_hides_tile_seams(vgg16):
    rng = np.random.default_rng(2)
    flat = (np.full((96, 96, 3), 0.5) + rng.normal(0, 0.01, (96, 96, 3))).astype(np.float32)
    stepper = stepper_for(vgg16, ["block3_conv1"])
    args = (32, np.ones(1, np.float32), np.float32(0.03))
    fixed = np.asarray(stepper.run(flat, np.zeros((6, 2), np.int32), *args))
    rolled = np.asarray(stepper.run(flat, roll_offsets(np.random.default_rng(3), 6, 96, 96, 32), *args))
    assert seam_strength(fixed, flat, 32) > 0.3, "a fixed tile grid shows (so this test can fail)"
    assert seam_strength(rolled, flat, 32) < 0.15


def test_octave_sizes_end_at_full_size():
    # intermediate octaves are bucketed to multiples of 32 (render.engines.geometry): 48 x 64 / 1.5 is
    # 32 x 42.7, which becomes 32 x 32 (before bucketing it was 32 x 43)
    assert octave_sizes(48, 64, 3, 1.5) == [(32, 32), (32, 32), (48, 64)]
    assert octave_sizes(360, 640, 1, 1.4) == [(360, 640)]
    assert octave_sizes(360, 640, 3, 1.4) == [(192, 320), (256, 448), (360, 640)]  # 183.7 x 326.5, 257 x 457
    assert octave_sizes(100, 100, 4, 3.0, min_side=48) == [(48, 48), (48, 48), (48, 48), (100, 100)]


def test_octave_sizes_are_bucketed_so_a_keyframed_scale_compiles_few_graphs():
    """Every intermediate side is a multiple of the bucket, and (the module's own example) a 1080p
    frame whose scale moves from 1.3 to 1.5 over 240 frames passes through 26 octave shapes, against
    455 without buckets."""
    seen, unbucketed = set(), set()
    for scale in np.linspace(1.3, 1.5, 240):
        sizes = octave_sizes(1080, 1920, 3, float(scale))
        assert sizes[-1] == (1080, 1920)
        for h, w in sizes[:-1]:
            assert h % OCTAVE_BUCKET == 0 and w % OCTAVE_BUCKET == 0, (scale, h, w)
        seen.update(sizes[:-1])
        unbucketed.update((round(1080 * scale ** -k), round(1920 * scale ** -k)) for k in (1, 2))
    assert len(seen) <= 26 and len(unbucketed) >= 400, (len(seen), len(unbucketed))


def test_motion_identity_and_integer_pan():
    image = np.random.default_rng(0).uniform(0, 1, (20, 30, 3)).astype(np.float32)
    np.testing.assert_array_equal(apply_motion(image, 1.0, 0.0, 0.0, 0.0), image)
    moved = apply_motion(image, 1.0, 0.0, 3.0, 2.0)
    np.testing.assert_allclose(moved[2:, 3:], image[:-2, :-3], atol=1e-6)  # content moves right/down


def test_zoom_enlarges_the_centre():
    image = np.zeros((41, 41, 3), np.float32)
    image[18:23, 18:23] = 1.0  # a 5 px bright square in the middle
    zoomed = apply_motion(image, 2.0, 0.0, 0.0, 0.0)
    assert (zoomed[..., 0] > 0.5).sum() > 3 * (image[..., 0] > 0.5).sum()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_both_precisions_raise_the_objective(vgg16, cat_image, precision):
    info = catalog.resolve("vgg16")
    extractor = build.feature_extractor(info, ["block4_conv2"], base=vgg16, precision=precision)
    stepper = DreamStepper(extractor, [Term(0, None, "block4_conv2")])
    reference = stepper_for(vgg16, ["block4_conv2"])  # measured in float32 either way
    before = reference.value(cat_image, np.ones(1, np.float32))
    after = reference.value(run_steps(stepper, cat_image, 3), np.ones(1, np.float32))
    assert after > before * 1.1


def test_auto_precision_follows_the_cpu_flags(tmp_path):
    from render.backend.devices import cpu_has_bf16
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor : 0\nflags : fpu sse avx2 avx512f avx512_bf16\n")
    without = tmp_path / "b"
    without.write_text("processor : 0\nflags : fpu sse avx2\n")
    assert cpu_has_bf16(with_bf16) and not cpu_has_bf16(without)
    assert not cpu_has_bf16(tmp_path / "missing")
    from render.backend.devices import Device, choose_precision, resolve_precision
    cpu = [Device("cpu", "CPU")]
    assert choose_precision("tensorflow", cpu, bf16_cpu=True)[0] == "bfloat16"
    assert choose_precision("tensorflow", cpu, bf16_cpu=False)[0] == "float32"
    assert choose_precision("jax", cpu, bf16_cpu=True)[0] == "float32"  # XLA on CPUs: no faster
    assert choose_precision("jax", cpu + [Device("gpu", "A100", (8, 0))], bf16_cpu=False)[0] == "bfloat16"
    assert choose_precision("tensorflow", cpu + [Device("gpu", "T4", (7, 5))], bf16_cpu=True)[0] == "float32"
    assert resolve_precision("float32", "tensorflow") == ("float32", "asked for")


def test_color_match_moves_statistics_to_the_reference():
    from render.engines.color import channel_stats, match_colors
    rng = np.random.default_rng(4)
    reference_image = rng.uniform(0.3, 0.7, (32, 32, 3)).astype(np.float32)
    drifted = np.clip(reference_image * 1.3 + np.array([0.1, -0.1, 0.0], np.float32) - 0.1, 0, 1)
    reference = channel_stats(reference_image)
    assert match_colors(drifted, reference, 0.0) is drifted
    full = channel_stats(match_colors(drifted, reference, 1.0))
    np.testing.assert_allclose(full[0], reference[0], atol=2e-3)
    np.testing.assert_allclose(full[1], reference[1], atol=2e-3)
    half = channel_stats(match_colors(drifted, reference, 0.5))
    start = channel_stats(drifted)
    assert np.all(np.abs(half[1] - reference[1]) < np.abs(start[1] - reference[1]))


def test_steps_compile_once_per_image_and_tile_shape(vgg16):
    """Graphs are compiled per image or tile shape (octave sizes are bucketed so a video needs few):
    sizes seen before, with new images, weights, step sizes, rolls and step counts, compile nothing."""
    stepper = stepper_for(vgg16, ["block2_conv2"])
    compiled = lambda: STATS.snapshot()[0]
    start = compiled()
    sizes = ((32, 40), (48, 64), (57, 33))  # one tile; two 48 x 32 tiles; 29 x 33 and 28 x 33 tiles
    for size in sizes:
        run_steps(stepper, np.full(size + (3,), 0.5, np.float32), 1, tile=48)
    first = compiled() - start
    assert first >= len(sizes)
    for size in sizes:
        image = np.random.default_rng(sum(size)).uniform(0, 1, size + (3,)).astype(np.float32)
        run_steps(stepper, image, 3, tile=48, step_size=0.05, weights=[0.5])
    assert compiled() - start == first
    run_steps(stepper, np.full((48, 64, 3), 0.5, np.float32), 1, tile=40)  # 48 x 64 in other tiles: new graphs
    assert compiled() - start > first


def test_init_image_covers_the_frame_and_honours_exif_rotation(tmp_path):
    from PIL import Image
    from render.media import load_image as load_init_image
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20] = (255, 0, 0)  # left half red, right half blue
    image[:, 20:] = (0, 0, 255)
    Image.fromarray(image).save(tmp_path / "plain.png")
    square = load_init_image(tmp_path / "plain.png", 10, 10)
    assert square.shape == (10, 10, 3)
    assert square[5, 0, 0] > 0.9 and square[5, 9, 2] > 0.9  # centre crop keeps both halves
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(image).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    upright = load_init_image(tmp_path / "phone.jpg", 20, 40)  # displayed as 20 wide, 40 tall
    assert upright[5, 10, 0] > 0.8 and upright[35, 10, 2] > 0.8  # red on top, blue below


def test_tiles_are_split_evenly(vgg16):
    """520 px with tile 512 is two 260 px pieces: the tiled gradient still matches the untiled one
    away from the single border, which sits at 260, not 512."""
    assert even_split(512, 512) == [(0, 512)]
    assert even_split(520, 512) == [(0, 260), (260, 520)]
    assert even_split(1100, 512) == [(0, 367), (367, 734), (734, 1100)]
    image = np.random.default_rng(6).uniform(0, 1, (40, 104, 3)).astype(np.float32)
    whole = gradients(vgg16, image, "block1_conv2", tile=104)
    tiled = gradients(vgg16, image, "block1_conv2", tile=100)  # -> two 52 px columns of tiles
    np.testing.assert_allclose(tiled[:, :48], whole[:, :48], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(tiled[:, 56:], whole[:, 56:], rtol=1e-4, atol=1e-8)
    assert not np.allclose(tiled[:, 50:54], whole[:, 50:54], rtol=1e-4, atol=1e-8)


def tiny_engine(write_recipe, vgg16, overrides=()):
    from render.engines.dream import DreamEngine
    from render.recipe import load_recipe
    recipe = load_recipe(write_recipe(), list(overrides))
    from render.plan import make_plan
    return DreamEngine.from_recipe(recipe, base_model=vgg16), make_plan(recipe)


def test_octaves_carry_the_dream_detail_upward(write_recipe, vgg16, cat_image):
    """Each octave starts from the previous octave's dream (upsampled), not from the plain image: a
    two-octave dream differs from a one-octave dream with the same final steps, and its change from
    the start has more coarse (low-frequency) structure."""
    engine, plan = tiny_engine(write_recipe, vgg16, ["output.size=[64,48]", "dream.tile=64"])
    row = dict(plan.row(0), **{"dream.steps": 4.0, "dream.step_size": 0.03})
    one = engine.dream(cat_image, dict(row, **{"dream.octaves": 1.0}), 0)
    two = engine.dream(cat_image, dict(row, **{"dream.octaves": 2.0, "dream.octave_scale": 2.0}), 0)
    assert np.abs(two - one).mean() > 0.01
    blur = lambda img: np.asarray(ops.image.resize(ops.image.resize(img, (12, 16), antialias=True), (48, 64)))
    coarse = lambda img: np.abs(blur(img - cat_image)).mean()
    assert coarse(two) > 1.2 * coarse(one)


def test_rolls_depend_on_the_frame_index(write_recipe, vgg16):
    """Frames larger than a tile are rolled with offsets drawn from (seed, frame, octave): the same
    start image dreamed as frame 1 and as frame 2 differs, and as frame 1 twice does not."""
    from render.contracts import FrameJob
    engine, plan = tiny_engine(write_recipe, vgg16, ["output.size=[128,48]"])
    assert engine.tile == 64
    start = np.full((48, 128, 3), 128, np.uint8)
    start[::7] = 200
    render = lambda index: engine.render_batch([FrameJob(index, plan.row(1), start, None)])[0]
    assert np.array_equal(render(1), render(1))
    assert not np.array_equal(render(1), render(2))
