"""Style transfer: the losses move the right way, mixes blend Grams, morphs travel from one style to
the other, warm starts pay, colours can be kept, and bad recipes get one clear line."""

import shutil
import textwrap

import numpy as np
import pytest

from render.errors import RecipeError
from render.framekeys import frame_keys
from render.contracts import FrameJob
from render.plan import make_plan
from render.recipe import load_recipe
from render.runner import render
from tests.helpers import CHELSEA, REPO, frame_bytes, kill_and_resume, pixels

ASSETS = REPO / "recipes" / "assets"

MORPH = """\
kind = "style"
seed = 5
[output]
size = [64, 48]
frames = 3
video = "none"
[style]
content = "chelsea.png"
images = { hubble = "hubble.jpg", cells = "ihc.jpg" }
mix = { hubble = { 0 = 1.0, 2 = 0.0 }, cells = { 0 = 0.0, 2 = 1.0 } }
style_layers = { block1_conv1 = 1.0, block2_conv1 = 1.0, block3_conv1 = 1.0 }
content_layers = { block3_conv2 = 1.0 }
steps = 30
steps_per_frame = 30
scales = [1.0]
learning_rate = 0.03
"""


@pytest.fixture
def style_dir(tmp_path):
    for name in ("chelsea.png", "hubble.jpg", "ihc.jpg"):
        shutil.copyfile(ASSETS / name if name != "chelsea.png" else CHELSEA, tmp_path / name)
    return tmp_path


def write(folder, text=MORPH, name="morph.toml", overrides=()):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return load_recipe(path, list(overrides)), path


def engine_for(recipe, vgg16):
    from render.engines.style import StyleEngine
    return StyleEngine.from_recipe(recipe, base_model=vgg16)


def test_steps_lower_the_style_and_total_loss(style_dir, vgg16):
    recipe, _ = write(style_dir)
    engine = engine_for(recipe, vgg16)
    row = make_plan(recipe).row(0)
    content = recipe.settings.content.read(0, 64, 48)
    _, losses = engine.optimize(content, content, row, 12)
    assert losses[-1, 0] < 0.7 * losses[0, 0]  # total
    assert losses[-1, 2] < 0.7 * losses[0, 2]  # style
    assert losses[0, 1] == pytest.approx(0.0, abs=1e-3)  # starts from the content itself


def test_lbfgs_lowers_the_loss_too(style_dir, vgg16):
    recipe, _ = write(style_dir, overrides=["style.optimizer='lbfgs'"])
    engine = engine_for(recipe, vgg16)
    row = make_plan(recipe).row(0)
    content = recipe.settings.content.read(0, 64, 48)
    _, losses = engine.optimize(content, content, row, 10)
    assert losses[-1, 0] < 0.7 * losses[0, 0] and np.all(np.diff(losses[:, 0]) <= 1e-6)  # never goes up


def test_blended_target_is_the_weighted_sum_of_grams(style_dir, vgg16):
    recipe, _ = write(style_dir)
    engine = engine_for(recipe, vgg16)
    a = engine.style_grams("hubble", 48, 64, 1.0)
    b = engine.style_grams("cells", 48, 64, 1.0)
    content = recipe.settings.content.read(0, 64, 48)
    row = dict(make_plan(recipe).row(0), **{"style.mix.hubble": 3.0, "style.mix.cells": 1.0})
    targets = engine.targets(content, row)
    for layer, target in enumerate(targets.style):
        np.testing.assert_allclose(np.asarray(target), 0.75 * a[layer] + 0.25 * b[layer], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[0], b[0])
    only_hubble, _ = write(style_dir, name="one.toml", overrides=["style.mix={ hubble = 2.0 }"])
    targets = engine_for(only_hubble, vgg16).targets(content, make_plan(only_hubble).row(0))
    np.testing.assert_allclose(np.asarray(targets.style[0]), a[0], rtol=1e-5)  # cells left out: weight 0


def gram_distance(engine, image, grams):
    ours = engine.objective.style_grams(image.astype(np.float32) / 255.0)
    return sum(float(np.sum(np.square(o - g)) / np.sum(np.square(g))) for o, g in zip(ours, grams))


def test_a_morph_travels_from_style_a_to_style_b(style_dir, vgg16):
    recipe, _ = write(style_dir)
    out = style_dir / "run"
    render(recipe, out, engine_factory=lambda r: engine_for(r, vgg16))
    engine = engine_for(recipe, vgg16)
    a, b = engine.style_grams("hubble", 48, 64, 1.0), engine.style_grams("cells", 48, 64, 1.0)
    first, last = pixels(out / "frames" / "frame_000000.png"), pixels(out / "frames" / "frame_000002.png")
    assert gram_distance(engine, first, a) < gram_distance(engine, first, b)
    assert gram_distance(engine, last, b) < gram_distance(engine, last, a)


def test_killed_morph_resumes_to_identical_frames(style_dir, vgg16):
    _, path = write(style_dir, MORPH.replace("steps = 30", "steps = 4").replace("steps_per_frame = 30",
                                                                                "steps_per_frame = 4"))
    render(load_recipe(path), style_dir / "unbroken", engine_factory=lambda r: engine_for(r, vgg16))
    kill_and_resume(path, style_dir / "killed", kill_at=2)
    assert frame_bytes(style_dir / "killed", 3) == frame_bytes(style_dir / "unbroken", 3)


def steps_to_reach(losses, target):
    below = np.flatnonzero(losses[:, 0] <= target)
    return int(below[0]) if below.size else len(losses)


def test_a_warm_started_frame_needs_fewer_steps(style_dir, vgg16):
    """Frame 1 of a morph (mix moved a little) from frame 0's result reaches the loss a cold start
    reaches after 40 steps in far fewer steps."""
    recipe, _ = write(style_dir, overrides=["style.mix={ hubble = { 0 = 1.0, 9 = 0.0 }, cells = { 0 = 0.0, 9 = 1.0 } }",
                                            "output.frames=10"])
    engine = engine_for(recipe, vgg16)
    plan = make_plan(recipe)
    content = recipe.settings.content.read(0, 64, 48)
    frame0, _ = engine.optimize(content, content, plan.row(0), 40)
    _, cold = engine.optimize(content, content, plan.row(1), 40)
    _, warm = engine.optimize(frame0, content, plan.row(1), 40)
    target = cold[-1, 0]
    assert steps_to_reach(warm, target) * 3 <= steps_to_reach(cold, target)


def ycbcr(image):
    from render.engines.color import RGB_TO_YCBCR
    return image.reshape(-1, 3).astype(np.float32) / 255.0 @ RGB_TO_YCBCR.T


def test_preserve_colors_keeps_the_content_chroma(style_dir, vgg16):
    free, _ = write(style_dir, overrides=["output.frames=1"])
    kept, _ = write(style_dir, name="kept.toml", overrides=["output.frames=1", "style.preserve_colors=true"])
    content = (free.settings.content.read(0, 64, 48) * 255).round().astype(np.uint8)
    chroma = ycbcr(content)[:, 1:]
    styled = {}
    for name, recipe in (("free", free), ("kept", kept)):
        engine = engine_for(recipe, vgg16)
        styled[name] = engine.render_batch([FrameJob(0, make_plan(recipe).row(0))])[0]
    kept_error = np.abs(ycbcr(styled["kept"])[:, 1:] - chroma).mean()
    free_error = np.abs(ycbcr(styled["free"])[:, 1:] - chroma).mean()
    assert kept_error < 0.01 < free_error
    assert np.abs(ycbcr(styled["kept"])[:, 0] - ycbcr(content)[:, 0]).mean() > 0.01  # luminance did change


def test_a_one_frame_recipe_writes_a_still_and_no_video(style_dir, vgg16):
    recipe, _ = write(style_dir, overrides=["output.frames=1", "output.video='mp4'", "style.steps=2"])
    result = render(recipe, style_dir / "still", engine_factory=lambda r: engine_for(r, vgg16))
    assert result.video is None and result.still == style_dir / "still" / "morph.png"
    assert result.still.read_bytes() == frame_bytes(style_dir / "still", 1)[0]
    assert not list((style_dir / "still").glob("*.mp4"))


def test_a_changed_content_frame_rerenders_from_there(style_dir, vgg16):
    """A folder of content frames: each frame's key covers its own content file's bytes."""
    frames = style_dir / "frames"
    frames.mkdir()
    from PIL import Image
    cat = Image.open(CHELSEA).convert("RGB")
    for i in range(3):
        cat.rotate(i * 5).save(frames / f"{i:03d}.png")
    recipe, path = write(style_dir, MORPH.replace('content = "chelsea.png"', 'content = "frames"'),
                         overrides=["style.steps=2", "style.steps_per_frame=2"])
    assert recipe.settings.content.count == 3
    before = frame_keys(make_plan(recipe))
    cat.rotate(40).save(frames / "001.png")
    after = frame_keys(make_plan(load_recipe(path, ["style.steps=2", "style.steps_per_frame=2"])))
    assert before[0] == after[0] and before[1] != after[1] and before[2] != after[2]


BAD = [
    ('mix = { hubble = { 0 = 1.0, 2 = 0.0 }, cells = { 0 = 0.0, 2 = 1.0 } }',
     'mix = { hubble = 1.0, monet = 1.0 }', "style.mix.monet", "no style image named 'monet'"),
    ('mix = { hubble = { 0 = 1.0, 2 = 0.0 }, cells = { 0 = 0.0, 2 = 1.0 } }',
     'mix = { hubble = { 0 = 1.0, 1 = 0.0 }, cells = 0.0 }', "style.mix", "all zero at frame 1"),
    ('style_layers = { block1_conv1', 'style_layers = { block6_conv1', "style.style_layers.block6_conv1", "has no layer"),
    ('images = { hubble = "hubble.jpg"', 'images = { hubble = "missing.jpg"', "style.images.hubble", "not found"),
    ('content = "chelsea.png"', 'content = "broken.png"', "style.content", "cannot read image"),
    ('content = "chelsea.png"', 'content = "clip.mp4"', "style.content", "cannot read video"),
    ('content = "chelsea.png"', 'content = "empty"', "style.content", "has no images"),
    ("scales = [1.0]", "scales = [1.0, 0.5]", "style.scales.1", "must increase"),
    ("scales = [1.0]", "scales = [0.5, 1.5]", "style.scales.1", "out of range"),
]


@pytest.mark.parametrize("old,new,key,message", BAD, ids=[b[2] + ":" + b[3] for b in BAD])
def test_bad_style_recipes_get_one_clear_line(style_dir, old, new, key, message):
    (style_dir / "broken.png").write_bytes(b"not a png")
    (style_dir / "clip.mp4").write_bytes(b"not a video")
    (style_dir / "empty").mkdir()
    assert old in MORPH
    with pytest.raises(RecipeError) as err:
        write(style_dir, MORPH.replace(old, new))
    assert err.value.key == key and message in err.value.message, str(err.value)
    assert err.value.line is not None


FLAT_CARD = """\
kind = "style"
seed = 2
[output]
size = [64, 48]
fps = 4
video = "none"
[model]
precision = "float32"
[style]
content = "frames"
images = {{ hubble = "{hubble}" }}
steps = 40
steps_per_frame = 40
scales = [1.0]
carry = 0.0
learning_rate = 0.03
"""


def test_a_flat_card_between_textured_frames_is_styled_too(tmp_path):
    """A title card with no texture at all (its variation is 0) between two photo frames: the TV term
    is measured against a share of the style's busyness there, not against the card's own zero, so
    the card takes the style's texture; the photo frames keep their own reference."""
    from PIL import Image
    from render.engines.style_losses import TV_STYLE_SHARE, tv_reference
    from render.engines.style_tiled import variation_of
    from render.media import load_image
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copyfile(CHELSEA, frames / "f0.png")
    Image.new("RGB", (64, 48), (128, 128, 128)).save(frames / "f1.png")
    shutil.copyfile(CHELSEA, frames / "f2.png")
    hubble = REPO / "recipes" / "assets" / "hubble.jpg"
    (tmp_path / "card.toml").write_text(FLAT_CARD.format(hubble=hubble))
    render(load_recipe(tmp_path / "card.toml"), tmp_path / "run")
    made = [pixels(tmp_path / "run" / "frames" / f"frame_{i:06d}.png").astype(np.float32) / 255 for i in range(3)]
    style = variation_of(load_image(hubble, 64, 48))
    assert variation_of(made[1]) > 0.1 * style, (variation_of(made[1]), style)   # textured, not left flat
    assert variation_of(made[1]) > 0.25 * variation_of(made[0])
    photo = variation_of(load_image(CHELSEA, 64, 48))
    assert tv_reference(photo, style) == photo and tv_reference(0.0, style) == TV_STYLE_SHARE * style > 0
