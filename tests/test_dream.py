"""DeepDream properties: steps raise the objective, tiling is exact or local, rolling hides seams."""

import numpy as np
import pytest

from render.engines.dream import DreamStepper, octave_sizes
from render.engines.motion import apply_motion
from render.engines.objectives import Term
from render.engines.tiling import make_tiled_gradient, roll_offsets
from render.models import build, catalog
from render.tfsetup import tf


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
    return stepper.run(tf.constant(image), shifts, tf.constant(tile), tf.constant(weights, tf.float32),
                       tf.constant(step_size))


@pytest.mark.parametrize("layers", [["block4_conv3"], ["block3_conv1", "block5_conv1"]])
def test_dream_steps_raise_the_objective(vgg16, cat_image, layers):
    stepper = stepper_for(vgg16, layers)
    weights = tf.ones(len(layers))
    before = float(stepper.value(tf.constant(cat_image), weights))
    after_two = run_steps(stepper, cat_image, 2)
    after_four = run_steps(stepper, cat_image, 4)
    assert float(stepper.value(after_two, weights)) > before * 1.05
    assert float(stepper.value(after_four, weights)) > float(stepper.value(after_two, weights))


def test_channel_objective_raises_that_channel(vgg16, cat_image):
    stepper = stepper_for(vgg16, ["block4_conv1"], [7])
    mean_channel = lambda img: float(tf.reduce_mean(stepper.extractor(tf.constant(img)[tf.newaxis])[0][..., 7]))
    dreamed = run_steps(stepper, cat_image, 3).numpy()
    assert mean_channel(dreamed) > mean_channel(cat_image) * 1.2
    # ... and far more than the layer's other channels rose on average
    acts_before = stepper.extractor(tf.constant(cat_image)[tf.newaxis])[0].numpy().mean(axis=(0, 1, 2))
    acts_after = stepper.extractor(tf.constant(dreamed)[tf.newaxis])[0].numpy().mean(axis=(0, 1, 2))
    gain = acts_after - acts_before
    assert gain[7] > np.median(gain) + 3 * gain.std() / 2


def gradients(vgg16, image, layer, tile, shift=(0, 0)):
    stepper = stepper_for(vgg16, [layer])
    grad = tf.function(make_tiled_gradient(stepper.loss))
    return grad(tf.constant(image), tf.constant(shift, tf.int32), tf.constant(tile), tf.ones(1)).numpy()


def test_single_tile_gradient_equals_untiled(vgg16, cat_image):
    stepper = stepper_for(vgg16, ["block3_conv3"])
    image = tf.constant(cat_image)
    with tf.GradientTape() as tape:
        tape.watch(image)
        loss = stepper.loss(image[tf.newaxis], tf.ones(1))
    untiled = tape.gradient(loss, image).numpy()
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
    args = (tf.constant(32), tf.ones(1), tf.constant(0.03))
    fixed = stepper.run(tf.constant(flat), np.zeros((6, 2), np.int32), *args).numpy()
    rolled = stepper.run(tf.constant(flat), roll_offsets(np.random.default_rng(3), 6, 96, 96, 32), *args).numpy()
    assert seam_strength(fixed, flat, 32) > 0.3, "a fixed tile grid shows (so this test can fail)"
    assert seam_strength(rolled, flat, 32) < 0.15


def test_octave_sizes_end_at_full_size():
    assert octave_sizes(48, 64, 3, 1.5) == [(32, 32), (32, 43), (48, 64)]
    assert octave_sizes(360, 640, 1, 1.4) == [(360, 640)]


def test_motion_identity_and_integer_pan():
    image = np.random.default_rng(0).uniform(0, 1, (20, 30, 3)).astype(np.float32)
    np.testing.assert_array_equal(apply_motion(tf.constant(image), 1.0, 0.0, 0.0, 0.0).numpy(), image)
    moved = apply_motion(tf.constant(image), 1.0, 0.0, 3.0, 2.0).numpy()
    np.testing.assert_allclose(moved[2:, 3:], image[:-2, :-3], atol=1e-6)  # content moves right/down


def test_zoom_enlarges_the_centre():
    image = np.zeros((41, 41, 3), np.float32)
    image[18:23, 18:23] = 1.0  # a 5 px bright square in the middle
    zoomed = apply_motion(tf.constant(image), 2.0, 0.0, 0.0, 0.0).numpy()
    assert (zoomed[..., 0] > 0.5).sum() > 3 * (image[..., 0] > 0.5).sum()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_both_precisions_raise_the_objective(vgg16, cat_image, precision):
    info = catalog.resolve("vgg16")
    extractor = build.feature_extractor(info, ["block4_conv2"], base=vgg16, precision=precision)
    stepper = DreamStepper(extractor, [Term(0, None, "block4_conv2")])
    reference = stepper_for(vgg16, ["block4_conv2"])  # measured in float32 either way
    before = float(reference.value(tf.constant(cat_image), tf.ones(1)))
    after = float(reference.value(run_steps(stepper, cat_image, 3), tf.ones(1)))
    assert after > before * 1.1


def test_auto_precision_follows_the_cpu_flags(tmp_path):
    from render.models.precision import cpu_has_bf16
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor : 0\nflags : fpu sse avx2 avx512f avx512_bf16\n")
    without = tmp_path / "b"
    without.write_text("processor : 0\nflags : fpu sse avx2\n")
    assert cpu_has_bf16(with_bf16) and not cpu_has_bf16(without)
    assert not cpu_has_bf16(tmp_path / "missing")


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


def test_octaves_of_new_sizes_do_not_retrace(vgg16):
    stepper = stepper_for(vgg16, ["block2_conv2"])
    for size in ((32, 40), (48, 64), (57, 33)):
        run_steps(stepper, np.full(size + (3,), 0.5, np.float32), 1, tile=48)
    assert stepper.run.experimental_get_tracing_count() == 1


def test_init_image_covers_the_frame_and_honours_exif_rotation(tmp_path):
    from PIL import Image
    from render.engines.dream import load_init_image
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
    from render.engines.tiling import _even_split
    assert [_even_split(n, 512) for n in (512, 520, 1100)] == [512, 260, 367]
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
    blur = lambda img: tf.image.resize(tf.image.resize(img, (12, 16), antialias=True), (48, 64)).numpy()
    coarse = lambda img: np.abs(blur(img - cat_image)).mean()
    assert coarse(two) > 1.2 * coarse(one)


def test_rolls_depend_on_the_frame_index(write_recipe, vgg16):
    """Frames larger than a tile are rolled with offsets drawn from (seed, frame, octave): the same
    start image dreamed as frame 1 and as frame 2 differs, and as frame 1 twice does not."""
    from render.kinds.base import FrameJob
    engine, plan = tiny_engine(write_recipe, vgg16, ["output.size=[128,48]"])
    assert engine.tile == 64
    start = np.full((48, 128, 3), 128, np.uint8)
    start[::7] = 200
    render = lambda index: engine.render_batch([FrameJob(index, plan.row(1), start, None)])[0]
    assert np.array_equal(render(1), render(1))
    assert not np.array_equal(render(1), render(2))
