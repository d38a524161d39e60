"""GAN latent walks: the converted generator equals PyTorch's, paths land on their keys, loops have no
seam, batches change nothing, and frames are independent (render, resume and re-render one by one)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from render.errors import RecipeError
from render.engines.geometry import key_latent
from render.plan import make_plan
from render.recipe import load_recipe
from render.runner import parse_frame_range, render
from tests.helpers import REPO, counting_factory, frame_bytes, frame_pixels, kill_and_resume, pixels

WALK = """\
kind = "walk"
seed = 11
[output]
size = [64, 64]
fps = 12
video = "none"
[model]
precision = "float32"
[walk]
keys = [4, 17, 42, 7]
frames_per_key = 4
batch = 5
"""


def write(tmp_path, text=WALK, name="walk.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def generator():
    from render.models.catalog import resolve
    from render.engines.walk import load_generator
    return load_generator(resolve("dcgan-faces64"), "float32")


def engine_factory(generator):
    from render.engines.walk import WalkEngine
    return lambda recipe: WalkEngine.from_recipe(recipe, generator)


def test_converted_generator_reproduces_pytorch(generator):
    """The shipped file stores its weights in float16 (models/dcgan-faces64/convert.py): the Keras
    generator equals PyTorch's on those weights (the checkpoint's rounded to float16) within 1e-4, and
    the rounding moves PyTorch's own pictures by at most 0.0026 in -1..1 (measured; a third of a uint8
    level), so the faces are the checkpoint's."""
    import h5py
    reference = np.load(REPO / "models" / "dcgan-faces64" / "reference_outputs.npz")
    ours = np.asarray(generator(reference["latents"], training=False))
    assert ours.shape == reference["images"].shape == reference["images_float16"].shape == (6, 64, 64, 3)
    assert np.abs(ours - reference["images_float16"]).max() < 1e-4
    assert np.abs(reference["images"] - reference["images_float16"]).max() < 0.004
    assert reference["images"].std() > 0.2  # real faces, not a constant
    with h5py.File(REPO / "models" / "dcgan-faces64" / "generator.weights.h5", "r") as f:
        kinds = set()
        f.visititems(lambda name, item: kinds.add(item.dtype) if isinstance(item, h5py.Dataset) else None)
    assert kinds == {np.dtype(np.float16)}
    assert {w.dtype for w in generator.weights} == {"float32"}  # storage only: the model is float32


def test_the_path_lands_exactly_on_the_key_latents(tmp_path):
    recipe = load_recipe(write(tmp_path))
    assert recipe.output.frames == 13  # 3 spans of 4 frames, ending on the last key
    latents = make_plan(recipe).columns["walk.latent"]
    for position, seed in zip((0, 4, 8, 12), (4, 17, 42, 7)):
        np.testing.assert_array_equal(latents[position], key_latent(seed, 0, 100))


def test_slerp_keeps_the_norm_between_the_keys_norms(tmp_path):
    latents = make_plan(load_recipe(write(tmp_path))).columns["walk.latent"]
    norms = np.linalg.norm(latents, axis=1)
    for start in (0, 4, 8):
        low, high = sorted(norms[[start, start + 4]])
        assert np.all(norms[start:start + 5] >= low - 1e-9) and np.all(norms[start:start + 5] <= high + 1e-9)
    lerp = make_plan(load_recipe(write(tmp_path), ["walk.path='lerp'"])).columns["walk.latent"]
    assert np.linalg.norm(lerp[2]) < min(norms[0], norms[4]) - 1.0  # lerp cuts through the middle


@pytest.mark.parametrize("mode", ["loop", "circle"])
def test_a_loop_has_no_seam(tmp_path, generator, mode):
    overrides = (["walk.loop=true", "walk.frames_per_key=10"] if mode == "loop"
                 else ["walk.mode='circle'", "walk.frames_per_key=20"])
    recipe = load_recipe(write(tmp_path), overrides)
    latents = make_plan(recipe).columns["walk.latent"]
    # Steps differ a little between keys (random latents lie at slightly different angles and norms);
    # a seam would be a jump of a whole segment, about 4x a step here.
    steps = np.linalg.norm(np.diff(latents, axis=0), axis=1)
    wrap = np.linalg.norm(latents[0] - latents[-1])
    assert wrap <= np.median(steps) * 1.25, (wrap, np.median(steps))
    render(recipe, tmp_path / "run", engine_factory=engine_factory(generator))
    images = [pixels(tmp_path / "run" / "frames" / f"frame_{i:06d}.png").astype(float)
              for i in range(recipe.output.frames)]
    pixel_steps = [np.abs(a - b).mean() for a, b in zip(images, images[1:])]
    # in pixels the generator is more sensitive near some faces than others: compare the wrap with the
    # steps on either side of it (a jump to another face moves the pixels several times more)
    seam = np.abs(images[-1] - images[0]).mean()
    assert seam <= 1.25 * max(pixel_steps[0], pixel_steps[-1]), (seam, pixel_steps)
    assert seam <= 2 * np.median(pixel_steps), (seam, pixel_steps)
    unlooped = make_plan(load_recipe(write(tmp_path), overrides[1:] + ["walk.loop=false"])).columns["walk.latent"]
    assert np.linalg.norm(unlooped[0] - unlooped[-1]) > 3 * np.median(steps)  # so the test can fail


def test_batched_frames_equal_unbatched_ones(tmp_path, generator):
    path = write(tmp_path)
    engines = []
    render(load_recipe(path, ["walk.batch=1"]), tmp_path / "one", engine_factory=engine_factory(generator))
    render(load_recipe(path, ["walk.batch=6"]), tmp_path / "six", engine_factory=lambda r: (
        engines.append(counting_factory([])(r)) or engines[-1]))
    assert [len(b) for b in engines[0].batches] == [6, 6, 1]
    assert frame_pixels(tmp_path / "one", 13) == frame_pixels(tmp_path / "six", 13)  # the PNGs carry their --set


def test_same_seed_same_video_across_processes(tmp_path):
    path = write(tmp_path, WALK.replace("frames_per_key = 4", "frames_per_key = 2"))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for name in ("a", "b"):
        done = subprocess.run([sys.executable, "-m", "render.cli", "run", str(path), "--out", str(tmp_path / name),
                               "--quiet"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert frame_bytes(tmp_path / "a", 7) == frame_bytes(tmp_path / "b", 7)


def test_killed_walk_resumes_to_identical_frames(tmp_path, generator):
    path = write(tmp_path)
    render(load_recipe(path), tmp_path / "unbroken")
    kill_and_resume(path, tmp_path / "killed", kill_at=10)  # the third batch of five
    assert frame_bytes(tmp_path / "killed", 13) == frame_bytes(tmp_path / "unbroken", 13)


def test_changing_the_third_key_rerenders_only_its_neighbourhood(tmp_path, generator):
    path = write(tmp_path)
    render(load_recipe(path), tmp_path / "run", engine_factory=engine_factory(generator))
    engines = []
    changed = load_recipe(path, ["walk.keys=[4, 17, 99, 7]"])
    render(changed, tmp_path / "run", engine_factory=lambda r: engines.append(counting_factory([])(r)) or engines[-1])
    assert engines[0].calls == [5, 6, 7, 8, 9, 10, 11]  # strictly between the second and fourth keys
    frames = parse_frame_range("12", 13)
    engines.clear()
    render(changed, tmp_path / "run", frames=frames, force=True,
           engine_factory=lambda r: engines.append(counting_factory([])(r)) or engines[-1])
    assert engines[0].calls == [12]  # independent frames: no predecessors rendered


def test_a_one_frame_walk_is_a_poster_sheet(tmp_path, generator):
    path = write(tmp_path, WALK.replace("size = [64, 64]", "size = [192, 128]"))
    recipe = load_recipe(path, ["output.frames=1", "walk.grid=[3, 2]"])
    result = render(recipe, tmp_path / "poster", engine_factory=engine_factory(generator))
    sheet = pixels(result.still)
    assert sheet.shape == (128, 192, 3) and result.video is None
    cells = [sheet[r * 64:(r + 1) * 64, c * 64:(c + 1) * 64].astype(float) for r in range(2) for c in range(3)]
    assert min(np.abs(a - b).mean() for i, a in enumerate(cells) for b in cells[i + 1:]) > 10  # six faces
    latents = make_plan(recipe).columns["walk.latent"][0].reshape(6, 100)
    np.testing.assert_array_equal(latents[5], key_latent(4 + 5, 0, 100))  # consecutive seeds from the first key


BAD = [
    ("keys = [4, 17, 42, 7]", "keys = [4, 1.5]", "walk.keys.1", "whole number"),
    ("keys = [4, 17, 42, 7]", "keys = [4]", "walk.keys", "at least two seeds"),
    ("frames_per_key = 4", "frames_per_key = 0", "walk.frames_per_key", "out of range"),
    ("batch = 5", "batch = 5\ntruncation = 2.5", "walk.truncation", "out of range"),
    ("batch = 5", "batch = 5\nlatent_size = 128", "walk.latent_size", "does not match"),
]


@pytest.mark.parametrize("old,new,key,message", BAD, ids=[b[2] for b in BAD])
def test_bad_walk_recipes_get_one_clear_line(tmp_path, old, new, key, message):
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, WALK.replace(old, new)))
    assert err.value.key == key and message in err.value.message, str(err.value)


def test_a_model_that_is_not_a_generator_is_refused(tmp_path):
    from render.backend.kerasops import keras
    inputs = keras.Input((100,))
    x = keras.layers.Dense(4 * 4 * 8)(inputs)
    x = keras.layers.Reshape((4, 4, 8))(x)
    x = keras.layers.Conv2DTranspose(5, 4, strides=2, padding="same", name="out")(x)
    keras.Model(inputs, x).save(tmp_path / "five.keras")
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, WALK.replace("[model]", "[model]\nname = \"five.keras\"")))
    assert err.value.key == "model.name" and "not make an image" in err.value.message
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, WALK.replace("[model]", "[model]\nname = \"vgg16\"")))
    assert err.value.key == "model.name" and "needs a generator" in err.value.message


def test_a_users_keras_generator_walks(tmp_path):
    from render.backend.kerasops import keras
    inputs = keras.Input((16,))
    x = keras.layers.Dense(8 * 8 * 3)(inputs)
    x = keras.layers.Reshape((8, 8, 3))(x)
    x = keras.layers.Activation("sigmoid", name="rgb")(x)
    keras.Model(inputs, x).save(tmp_path / "tiny-gen.keras")
    path = write(tmp_path, WALK.replace("[model]", "[model]\nname = \"tiny-gen.keras\""))
    recipe = load_recipe(path)
    assert recipe.settings.latent_size == 16 and recipe.settings.output_range == (0.0, 1.0)
    result = render(recipe, tmp_path / "run")
    assert result.rendered == list(range(13))


@pytest.mark.parametrize("out_hw", [(512, 384), (40, 50)])
def test_matmul_lanczos_equals_tensorflows(out_hw):
    """The reference is TensorFlow's own Lanczos-3 resize (on purpose: the walk frames were made with it)."""
    import tensorflow as tf
    from render.engines.resample import make_resizer
    images = np.random.default_rng(12).uniform(0, 1, (3, 64, 128, 3)).astype(np.float32)
    ours = np.asarray(make_resizer((64, 128), out_hw)(images))
    theirs = tf.image.resize(images, out_hw, method="lanczos3", antialias=True).numpy()
    assert ours.shape == theirs.shape and np.abs(ours - theirs).max() < 1e-4


@pytest.mark.parametrize("keys, loop, frames", [("[4, 17]", "false", 5), ("[4, 17]", "true", 8),
                                                ("[4, 17, 42, 7]", "false", 13), ("[4, 17, 42, 7]", "true", 16)])
def test_the_frame_count_without_output_frames_is_the_readme_s(keys, loop, frames, tmp_path):
    """README: keys x frames_per_key with loop = true, else (keys - 1) x frames_per_key + 1 (a two-key
    walk without a loop ends on its second key)."""
    text = WALK.replace("keys = [4, 17, 42, 7]", f"keys = {keys}\nloop = {loop}")
    recipe = load_recipe(write(tmp_path, text))
    count = len(keys.split(","))
    assert recipe.output.frames == frames == (count * 4 if loop == "true" else (count - 1) * 4 + 1)
