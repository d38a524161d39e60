"""Feature visualization: every objective and parameterisation climbs, the Fourier basis and the
colour transform are what they say, randomness is reproducible and re-drawn each step, the diversity
term pushes variants apart, atlas cells equal single-channel renders, and the kind's recipes work."""

from __future__ import annotations

import numpy as np
import pytest

from render.engines import parameterization as param
from render.engines.featurevis import Settings, Target, Visualizer, gram_similarity, objective
from render.engines.robustness import Transforms
from render.models import build, catalog
from render.recipe import load_recipe


@pytest.fixture(scope="module")
def extractor(vgg16):
    return build.feature_extractor(catalog.resolve("vgg16", None), ["block3_conv1", "block4_conv1"], base=vgg16)


TARGETS = [Target(1, "channel", 97, label="channel"), Target(1, "neuron", 7, label="neuron"),
           Target(0, "layer", label="layer"),
           Target(1, "direction", direction=tuple(np.eye(512)[5] * 0.6 + np.eye(512)[9] * 0.8), label="direction")]


@pytest.mark.parametrize("kind, decorrelate", [("pixels", False), ("fft", True), ("fft", False)])
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.label)
def test_a_few_steps_raise_every_objective(extractor, target, kind, decorrelate):
    vis = Visualizer(extractor, [target])
    weights = np.ones((1, 1), np.float32)
    settings = Settings(kind, decorrelate, 1.0, Transforms.none(), 0.05, 6)
    start = param.image_of(vis.start([(2, 0)], (48, 48), settings), kind, decorrelate,
                           param.spectrum_scale(48, 48))
    images, _ = vis.render([(2, 0)], weights, (48, 48), settings)
    assert vis.value(images, weights)[0] > vis.value(np.asarray(start), weights)[0] + 1e-3


def test_the_fourier_basis_is_numpys_inverse_fft_and_colours_are_always_valid():
    rng = np.random.default_rng(0)
    params = param.init_parameters("fft", 2, 24, 40, rng, std=3.0)
    scale = param.spectrum_scale(24, 40)
    expected = np.real(np.fft.ifft2((params[:, 0] + 1j * params[:, 1]) * scale[None, :, :, None], axes=(1, 2))) / 4
    np.testing.assert_allclose(np.asarray(param.linear_image(params, "fft", scale)), expected, atol=1e-4)
    wild = rng.standard_normal((1, 2, 24, 40, 3)).astype(np.float32) * 1e4
    images = np.asarray(param.image_of(wild, "fft", True, scale))
    assert np.isfinite(images).all() and images.min() >= 0.0 and images.max() <= 1.0
    assert scale[0, 0] == pytest.approx(np.sqrt(24 * 40) * 40)              # the lowest frequency: 1/max side
    assert scale[0, 1] > scale[0, 5] > scale[12, 20]                         # falls as 1/f


def test_decay_moves_the_steps_between_frequencies_not_their_level():
    lucid, smooth = param.spectrum_scale(24, 40, 1.0), param.spectrum_scale(24, 40, 1.5)
    assert np.sqrt(np.mean(smooth ** 2)) == pytest.approx(np.sqrt(np.mean(lucid ** 2)), rel=1e-5)
    assert smooth[0, 2] / smooth[0, 8] == pytest.approx(4 ** 1.5, rel=1e-5)     # f = 2/40 against 8/40
    assert lucid[0, 2] / lucid[0, 8] == pytest.approx(4.0, rel=1e-5)


def test_the_colour_transform_is_the_documented_basis_once():
    linear = np.random.default_rng(1).standard_normal((1, 4, 4, 3)).astype(np.float32)
    basis = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    basis = basis / np.linalg.norm(basis, axis=0).max()
    expected = 1 / (1 + np.exp(-(linear @ basis.T)))
    np.testing.assert_allclose(np.asarray(param.to_image(linear, True)), expected, atol=1e-5)
    assert abs(np.linalg.det(param.COLOR_CORRELATION_SQRT)) > 1e-3        # invertible: any colour is reachable
    recovered = np.linalg.solve(param.COLOR_CORRELATION_SQRT, (linear.reshape(-1, 3) @ basis.T).T).T
    np.testing.assert_allclose(recovered, linear.reshape(-1, 3), atol=1e-4)


@pytest.mark.parametrize("views", [1, 3])
def test_same_seed_same_image_and_a_batch_equals_one_at_a_time(extractor, views):
    vis = Visualizer(extractor, [TARGETS[0], Target(1, "channel", 12)])
    settings = Settings("fft", True, 1.0, Transforms(pad=4, jitter=2, rotate=5.0), 0.05, 4, views)
    weights = np.array([[1.0, 0.0], [0.3, 0.7]], np.float32)
    together, _ = vis.render([(5, 0), (5, 1)], weights, (40, 40), settings)
    alone = [vis.render([start], weights[i:i + 1], (40, 40), settings)[0][0] for i, start in enumerate([(5, 0), (5, 1)])]
    np.testing.assert_allclose(together, np.stack(alone), atol=2e-5)
    again, _ = vis.render([(5, 0)], weights[:1], (40, 40), settings)
    np.testing.assert_array_equal(again[0], alone[0])


def test_transforms_are_drawn_afresh_every_step(extractor, monkeypatch):
    drawn = []
    original = Transforms.draw

    def spy(self, rng, batch):
        values = original(self, rng, batch)
        drawn.append(values.tobytes())
        return values
    monkeypatch.setattr(Transforms, "draw", spy)
    vis = Visualizer(extractor, [TARGETS[0]])
    vis.render([(1, 0)], np.ones((1, 1), np.float32), (32, 32), Settings(transforms=Transforms(), steps=6))
    assert len(drawn) == 6 and len(set(drawn)) == 6


def test_views_average_the_objective_over_each_images_own_copies(extractor, monkeypatch):
    from render.engines import featurevis
    seen = []
    original = featurevis.apply

    def spy(images, moves, pad):
        seen.append((images.shape[0], moves.shape[0]))
        return original(images, moves, pad)
    monkeypatch.setattr(featurevis, "apply", spy)
    vis = Visualizer(extractor, [TARGETS[0]])
    weights = np.ones((2, 1), np.float32)
    settings = Settings(transforms=Transforms(pad=4, jitter=3), steps=5, views=3)
    start, _ = vis.render([(3, 0), (3, 1)], weights, (32, 32), Settings(steps=0))
    images, value = vis.render([(3, 0), (3, 1)], weights, (32, 32), settings)
    assert seen[-1] == (6, 6)                   # 2 images x 3 views, each copy its own transform
    assert (vis.value(images, weights) > vis.value(start, weights)).all()
    # the reported objective is per image, not summed over the views
    assert value < 1.5 * vis.value(images, weights).sum()


def test_the_diversity_term_pushes_variants_apart(extractor):
    vis = Visualizer(extractor, [TARGETS[0]])
    settings = Settings("fft", True, 1.0, Transforms.none(), 0.05, 12)
    weights = np.ones((3, 1), np.float32)
    starts = [(4, 0), (4, 1), (4, 2)]

    def similarity(diversity):
        images, _ = vis.render(starts, weights, (40, 40), settings, diversity, 1)
        return float(gram_similarity(extractor(images.astype(np.float32))[1]))

    assert similarity(50.0) < similarity(0.0) - 1e-3


def test_objective_sums_weighted_targets_per_image(extractor):
    images = np.random.default_rng(3).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    acts = extractor(images)
    weights = np.array([[1.0, 0.5], [0.0, 2.0]], np.float32)
    targets = [TARGETS[0], TARGETS[2]]
    channel = np.asarray(acts[1])[..., 97].mean(axis=(1, 2))
    layer = (np.asarray(acts[0]) ** 2).mean(axis=(1, 2, 3))
    expected = (weights[:, 0] * channel + weights[:, 1] * layer).sum()
    assert float(objective(acts, targets, weights, 0.0, -1)) == pytest.approx(expected, rel=1e-4)


VISUALIZE = """\
kind = "visualize"
seed = 3

[output]
size = [{width}, 48]
frames = {frames}
video = "none"

[visualize]
steps = 4
batch = 2
{extra}
"""


def test_an_atlas_cell_is_the_single_channel_render(write_recipe, tmp_path):
    from render.runner import render
    from tests.helpers import pixels
    one = load_recipe(write_recipe(VISUALIZE.format(width=48, frames=1, extra='objective = { "block4_conv1:12" = 1.0 }'),
                                   "one.toml"))
    atlas = load_recipe(write_recipe(VISUALIZE.format(width=144, frames=1, extra='atlas = { layer = "block4_conv1", '
                                                                               'channels = [97, 12, 3], columns = 3 }'),
                                     "atlas.toml"))
    render(one, tmp_path / "one")
    render(atlas, tmp_path / "atlas")
    single = pixels(tmp_path / "one" / "one.png")
    sheet = pixels(tmp_path / "atlas" / "atlas.png")
    np.testing.assert_array_equal(sheet[:, 48:96], single)
    assert np.abs(sheet[:, :48].astype(int) - single.astype(int)).mean() > 5     # another channel, another picture


def test_recipe_mistakes_name_the_key(write_recipe):
    """Unknown layers and channels, a frame whose weights are all 0 (it would stay grey),
    atlas cells under 16 px (16 channels of 48 px in 4 columns: 12 px), variants in an atlas."""
    from render.errors import RecipeError
    for extra, key in (('objective = { "block4_conv9:1" = 1.0 }', "visualize.objective.block4_conv9:1"),
                       ('objective = { "block4_conv1:999" = 1.0 }', "visualize.objective.block4_conv1:999"),
                       ('objective = { "direction:x" = 1.0 }', "visualize.objective.direction:x"),
                       ('objective = { "block4_conv1:1" = "0 * t", "block4_conv1:2" = 0.0 }', "visualize.objective"),
                       ('atlas = { layer = "block2_conv1", channels = 16, columns = 4 }', "visualize.atlas"),
                       ('variants = 2\natlas = { layer = "block2_conv1", channels = 2 }', "visualize.variants")):
        with pytest.raises(RecipeError) as err:
            load_recipe(write_recipe(VISUALIZE.format(width=48, frames=1, extra=extra)))
        assert err.value.key == key


def test_an_atlas_print_re_renders_its_cells(write_recipe, tmp_path):
    """Printed at twice the size, every cell is optimised again: more top-octave detail than the
    poster upscaled, and the cells tile the paper with no grey seam between them."""
    from PIL import Image
    from render.prints.driver import make_print, options_for, plan_print
    from render.runner import render
    from tests.helpers import pixels
    recipe = load_recipe(write_recipe(VISUALIZE.format(width=96, frames=1, extra='atlas = { layer = "block4_conv1", '
                                                                             'channels = [97, 12], columns = 2 }'),
                                      "atlas.toml"))
    render(recipe, tmp_path / "run")
    plan = plan_print(recipe, options_for(recipe, size="192x96px", fmt="png"))
    events = []
    printed = pixels(make_print(plan, tmp_path / "run", progress=events.append).path).astype(np.float64) / 255
    assert_progress_ends_at_the_last_step(events)
    poster = Image.open(tmp_path / "run" / "atlas.png").resize((192, 96), Image.BICUBIC)
    upscaled = np.asarray(poster).astype(np.float64) / 255

    def top_octave(image):
        grey = image.mean(axis=2) - image.mean()
        power = np.abs(np.fft.fft2(grey)) ** 2
        radius = np.hypot(np.fft.fftfreq(grey.shape[0])[:, None], np.fft.fftfreq(grey.shape[1])[None, :])
        return power[radius > 0.25].sum() / power.sum()

    assert top_octave(printed) > 2 * top_octave(upscaled)
    grey_columns = [x for x in range(192) if np.all(np.abs(printed[:, x] - 0.5) < 1 / 255)]
    assert not grey_columns


def test_a_dead_channel_says_its_cell_stays_grey(write_recipe, tmp_path, notes):
    """block3_conv3's channel 1 does not fire on this seed's start (VGG16's embedded weights): no
    gradient reaches the picture, and the run says so instead of leaving a silent grey square."""
    from render.runner import render
    recipe = load_recipe(write_recipe(VISUALIZE.format(width=96, frames=1, extra='atlas = { targets = '
                                                                            '["block3_conv3:1", "block4_conv1:97"], labels = true }'),
                                      "dead.toml"))
    render(recipe, tmp_path / "run")
    assert any("block3_conv3:1" in n and "never responded" in n for n in notes), notes
    assert not any("block4_conv1:97" in n and "never responded" in n for n in notes)


MORPH = 'objective = { "block4_conv1:97" = { 0 = 1.0, 5 = 0.0 }, "block4_conv1:12" = { 0 = 0.0, 5 = 1.0 } }\nrefine = 8'


@pytest.fixture(scope="module")
def morph_engine(tmp_path_factory):
    from render.engines.visualize import VisualizeEngine
    folder = tmp_path_factory.mktemp("morph")
    (folder / "morph.toml").write_text(VISUALIZE.format(width=48, frames=6, extra=MORPH).replace("steps = 4", "steps = 64"))
    return VisualizeEngine.from_recipe(load_recipe(folder / "morph.toml"))


def test_a_morph_keeps_its_layout_from_frame_to_frame(morph_engine):
    """Anchored frames (each from the blend of the two channels' own images) change far less from one
    frame to the next than frames optimised from the shared seeded start, every step of the way, and
    the morph goes somewhere: each frame is further from the first than the one before."""
    import dataclasses
    weights = np.stack([np.linspace(1, 0, 6), np.linspace(0, 1, 6)], axis=1).astype(np.float32)
    starts = [(3, 0)] * 6
    anchored = morph_engine.render_cells(starts, weights, (48, 48), morph_engine.settings)
    plain = dataclasses.replace(morph_engine, refine=0).render_cells(starts, weights, (48, 48), morph_engine.settings)
    steps = [np.abs(np.diff(images, axis=0)).mean(axis=(1, 2, 3)) for images in (anchored, plain)]
    # measured: 0.605 of the plain steps on a 2-core AVX-512 Xeon in float32, less on bfloat16 machines;
    # without anchors the two are the same frames (1.0)
    assert steps[0].mean() < 0.7 * steps[1].mean(), steps
    from_first = np.abs(anchored - anchored[0]).mean(axis=(1, 2, 3))
    assert np.all(np.diff(from_first) > 0), from_first
    assert from_first[-1] > 0.1                                    # not a stalled picture
    assert from_first[-1] > 0.75 * steps[0].sum()                  # a straight path, not flicker back and forth


def test_a_morph_frame_is_the_same_alone_and_starts_from_its_anchors(morph_engine):
    from render.engines.anchors import Anchors
    vis, settings = morph_engine.visualizer, morph_engine.settings
    weights = np.array([[0.75, 0.25], [0.0, 0.0], [0.2, 0.6]], np.float32)
    starts = [(3, 0)] * 3
    together = morph_engine.render_cells(starts, weights, (48, 48), settings)
    for i in range(3):
        alone = morph_engine.render_cells(starts[i:i + 1], weights[i:i + 1], (48, 48), settings)
        np.testing.assert_allclose(alone[0], together[i], atol=2e-5)
    # the start: |weight|-blend of each channel optimised alone from the seeded start
    blend = Anchors(vis).start(starts, weights, (48, 48), settings)
    alone_a, _ = vis.optimise(vis.start(starts[:1], (48, 48), settings), starts[:1], [[1.0, 0.0]], (48, 48), settings)
    alone_b, _ = vis.optimise(vis.start(starts[:1], (48, 48), settings), starts[:1], [[0.0, 1.0]], (48, 48), settings)
    np.testing.assert_allclose(blend[0], 0.75 * alone_a[0] + 0.25 * alone_b[0], atol=1e-5)
    np.testing.assert_allclose(blend[2], 0.25 * alone_a[0] + 0.75 * alone_b[0], atol=1e-5)
    np.testing.assert_array_equal(blend[1], vis.start(starts[:1], (48, 48), settings)[0])   # no weight: seeded
    away, _ = vis.optimise(vis.start(starts[:1], (48, 48), settings), starts[:1], [[-1.0, 0.0]], (48, 48), settings)
    np.testing.assert_allclose(Anchors(vis).start(starts[:1], [[-2.0, 0.0]], (48, 48), settings)[0], away[0], atol=1e-5)


def test_labels_fit_their_cells_and_keep_the_pictures_depth(notes):
    from render.engines.visualize import label_cells
    frame = np.full((128, 256, 3), 0.3001, np.float32)
    labelled = label_cells(frame, ["block4_conv1:97", "block5_conv3:300"], 2, (128, 128))
    assert labelled.dtype == np.float32
    assert labelled[:20, :128].max() > 0.95 and labelled[:20, 128:].max() > 0.95       # a label in each cell
    assert labelled[:20].min() < 0.05                                                  # on its dark shadow
    np.testing.assert_array_equal(labelled[32:], frame[32:])                           # 16-bit values untouched
    narrow = label_cells(frame, ["block4_conv1:97"], 8, (32, 128))
    np.testing.assert_array_equal(narrow, frame)
    assert any("too narrow for their labels" in n for n in notes)


def test_objectives_before_the_relu_wake_a_unit_that_is_off_everywhere(vgg16):
    """block3_conv1's channel 14 is off at every position of seed 2's start (48 px): on the layer's
    output no gradient reaches the picture and it stays grey; on the values before the ReLU (the
    kind's way, as Lucid's) six steps make it fire."""
    info = catalog.resolve("vgg16", None)
    post = build.feature_extractor(info, ["block3_conv1"], base=vgg16)
    pre = build.feature_extractor(info, ["block3_conv1"], base=vgg16, pre_activation=True)
    images = np.random.default_rng(0).uniform(size=(2, 40, 40, 3)).astype(np.float32)
    np.testing.assert_allclose(np.maximum(np.asarray(pre(images)[0]), 0), np.asarray(post(images)[0]), atol=1e-4)
    settings = Settings(transforms=Transforms.none(), steps=6)
    start, _ = Visualizer(post, [Target(0, "channel", 14)]).render([(2, 0)], [[1.0]], (48, 48), Settings(steps=0))
    assert np.asarray(post(start)[0])[..., 14].max() <= 0
    for extractor, fires in ((post, False), (pre, True)):
        vis = Visualizer(extractor, [Target(0, "channel", 14)])
        images, _ = vis.render([(2, 0)], [[1.0]], (48, 48), settings)
        assert bool(vis.value(images, [[1.0]], rectified=True)[0] > 0.5) == fires


def test_a_print_of_variants_keeps_their_diversity_term(write_recipe, tmp_path):
    from render.prints.driver import make_print, options_for, plan_print
    from render.runner import render
    from tests.helpers import pixels
    printed = []
    for diversity in (0.0, 1000.0):
        recipe = load_recipe(write_recipe(VISUALIZE.format(width=96, frames=1, extra=f"variants = 2\ndiversity = {diversity}"),
                                          f"v{int(diversity)}.toml"))
        render(recipe, tmp_path / f"run{int(diversity)}")
        plan = plan_print(recipe, options_for(recipe, size="192x96px", fmt="png"))
        events = []
        printed.append(pixels(make_print(plan, tmp_path / f"run{int(diversity)}", progress=events.append).path)
                       .astype(np.float64))
        assert_progress_ends_at_the_last_step(events)
    assert np.abs(printed[0] - printed[1]).mean() > 1.0


def assert_progress_ends_at_the_last_step(events):
    """The print progress never counts past a stage's steps (it once ended at 65/64) and ends at
    exactly all of the work."""
    assert events and all(0 <= e.step < e.steps for e in events), [(e.step, e.steps) for e in events]
    last = events[-1]
    assert (last.stage + 1, last.step + 1) == (last.stages, last.steps)
    assert last.work_done == pytest.approx(last.work_total)


def test_a_direction_between_two_copies_of_one_picture_is_refused(write_recipe, tmp_path):
    import shutil
    from render.engines.visualize import VisualizeEngine
    from render.errors import RecipeError
    from tests.helpers import CHELSEA
    shutil.copyfile(CHELSEA, tmp_path / "a.png")
    shutil.copyfile(CHELSEA, tmp_path / "b.png")
    text = VISUALIZE.format(width=48, frames=1, extra='objective = { "direction:same" = 1.0 }\n'
                            '[visualize.directions.same]\nlayer = "block3_conv1"\ntoward = "a.png"\naway = "b.png"')
    recipe = load_recipe(write_recipe(text, "same.toml"))
    with pytest.raises(RecipeError) as err:
        VisualizeEngine.from_recipe(recipe)
    assert err.value.key == "visualize.directions.same" and "same" in str(err.value)


def test_the_kind_optimises_values_before_the_relu(write_recipe, vgg16):
    """The recipe's frame of block3_conv1's channel 14 (off everywhere on seed 2's start) fires."""
    from render.engines.visualize import VisualizeEngine
    text = VISUALIZE.format(width=48, frames=1, extra='objective = { "block3_conv1:14" = 1.0 }\npad = 0\njitter = 0\n'
                            'scales = [1.0]\nrotate = 0.0').replace("seed = 3", "seed = 2").replace("steps = 4", "steps = 6")
    engine = VisualizeEngine.from_recipe(load_recipe(write_recipe(text, "wake.toml")), base_model=vgg16)
    image = engine.render_cells([(2, 0)], [[1.0]], (48, 48), engine.settings)
    post = build.feature_extractor(catalog.resolve("vgg16", None), ["block3_conv1"], base=vgg16)
    assert np.asarray(post(image)[0])[..., 14].mean() > 0.5


def test_the_random_transforms_stay_in_their_stated_ranges_and_reach_both_ends():
    """Jitter up to N pixels either way (whole pixels), rotation up to R degrees either way, scales
    from the stated list: 4000 draws stay inside and reach both ends of each range."""
    transforms = Transforms(pad=4, jitter=3, scales=(0.8, 0.9, 1.2), rotate=15.0)
    params = transforms.draw(np.random.default_rng(0), 4000)
    scale, angle, shift = params[:, 0], np.degrees(params[:, 1]), params[:, 2:]
    assert set(np.round(scale.astype(float), 6)) == {0.8, 0.9, 1.2}
    assert angle.min() >= -15.0 and angle.max() <= 15.0 and angle.min() < -14.9 and angle.max() > 14.9
    assert set(np.unique(shift)) == {-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0}   # both ends, whole pixels
    assert not Transforms.none().draw(np.random.default_rng(0), 10)[:, 1:].any()
