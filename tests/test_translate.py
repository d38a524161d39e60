"""pix2pix: the networks, the pair makers, deterministic resumable training, and the translate kind
(independent frames keyed by their own input)."""

import os
import subprocess
from dataclasses import astuple
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from render.errors import RecipeError
from render.recipe import load_recipe
from render.runner import render
from render.training.pix2pix import Pix2PixTrainer, TrainConfig
from tests.helpers import REPO, counting_factory, frame_bytes, pixels

TINY = TrainConfig(size=32, steps=4, batch=2, seed=3, ngf=8, checkpoint_every=2)


def tiny_pairs(n=6, size=32):
    rng = np.random.default_rng(0)
    pictures = rng.uniform(0, 1, (n, size, size, 3)).astype(np.float32)
    sketches = pictures.mean(axis=-1, keepdims=True)  # a learnable mapping: grey -> colour
    return sketches, pictures


def test_unet_and_patchgan_shapes():
    from render.models.pix2pix import patch_discriminator, unet_generator
    unet = unet_generator(32, 1, 3, ngf=8)
    out = np.asarray(unet(np.zeros((2, 32, 32, 1), np.float32)))
    assert out.shape == (2, 32, 32, 3) and float(np.abs(out).max()) <= 1.0
    patches = patch_discriminator(1, 3, ndf=8)([np.zeros((2, 32, 32, 1), np.float32),
                                                np.zeros((2, 32, 32, 3), np.float32)])
    assert patches.shape == (2, 4, 4, 1)
    with pytest.raises(ValueError, match="power-of-two"):
        unet_generator(48)


def test_a_training_step_lowers_the_l1_on_a_fixed_batch(tmp_path):
    sketches, pictures = tiny_pairs(2)
    trainer = Pix2PixTrainer(sketches, pictures, tmp_path, TrainConfig(size=32, batch=2, ngf=8, learning_rate=2e-3))
    x, y = sketches * 2 - 1, pictures * 2 - 1
    l1 = lambda: float(np.mean(np.abs(np.asarray(trainer.generator(x, training=True)) - y)))
    before = l1()
    trainer.train(1)
    assert l1() < before


def test_synthetic_pairs_are_sketches_and_faces():
    from render.training.pairs import synthetic_face_pairs
    sketches, faces = synthetic_face_pairs(4, 64, seed=5)
    assert sketches.shape == (4, 64, 64, 1) and faces.shape == (4, 64, 64, 3)
    assert sketches.min() >= 0 and sketches.max() <= 1 and faces.min() >= 0 and faces.max() <= 1
    assert sketches.mean() > 0.6 and (sketches < 0.5).mean() > 0.02  # mostly paper, some dark lines
    assert faces.std() > 0.1


KILLED_TRAINING = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from render.training.pix2pix import Pix2PixTrainer, TrainConfig
    from tests.test_translate import TINY, tiny_pairs

    def stop(losses):
        if losses.step == 3:
            os.kill(os.getpid(), signal.SIGKILL)  # after the checkpoint at step 2, before step 4

    Pix2PixTrainer(*tiny_pairs(), sys.argv[1], TINY).train(TINY.steps, stop)
""")


def test_killed_training_resumes_with_the_same_losses(tmp_path):
    unbroken = Pix2PixTrainer(*tiny_pairs(), tmp_path / "unbroken", TINY).train(TINY.steps)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    killed = subprocess.run([sys.executable, "-c", KILLED_TRAINING, str(tmp_path / "killed")], env=env,
                            capture_output=True, text=True, cwd=REPO)
    assert killed.returncode == -9, killed.stderr
    resumed = Pix2PixTrainer(*tiny_pairs(), tmp_path / "killed", TINY)
    assert int(resumed.step) == 2  # the last checkpoint
    rest = resumed.train(TINY.steps)
    assert [h.step for h in rest] == [3, 4]
    for ours, theirs in zip(rest, unbroken[2:]):
        assert astuple(ours) == pytest.approx(astuple(theirs), rel=1e-5)
    logged = (tmp_path / "killed" / "losses.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in logged[1:]] == ["1", "2", "3", "4"]  # step 3 once, not twice


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A model folder as `render train` writes it, trained two steps at 32 px."""
    out = tmp_path_factory.mktemp("model") / "tiny-p2p"
    trainer = Pix2PixTrainer(*tiny_pairs(), out, TrainConfig(size=32, steps=2, batch=2, ngf=8))
    trainer.train(2)
    trainer.save_model({"name": "tiny-p2p", "data": "test"})
    return out


def drawings(folder, count=3):
    folder.mkdir(exist_ok=True)
    for i in range(count):
        image = np.full((40, 40, 3), 255, np.uint8)
        image[5 + 3 * i:35, 18:21] = 0
        Image.fromarray(image).save(folder / f"{i:03d}.png")


RECIPE = """\
kind = "translate"
[output]
size = [48, 48]
fps = 4
video = "mp4"
[model]
name = "{model}"
[translate]
input = "drawings"
batch = 2
"""


def test_translate_renders_frames_and_a_video_and_rerenders_only_a_changed_input(tmp_path, tiny_model):
    drawings(tmp_path / "drawings")
    path = tmp_path / "t.toml"
    path.write_text(RECIPE.format(model=tiny_model))
    recipe = load_recipe(path)
    assert recipe.output.frames == 3  # one frame per input image
    engines = []
    result = render(recipe, tmp_path / "run", engine_factory=counting_factory(engines))
    assert engines[0].batches == [[0, 1], [2]] and result.video is not None
    assert pixels(tmp_path / "run" / "frames" / "frame_000000.png").shape == (48, 48, 3)
    before = frame_bytes(tmp_path / "run", 3)
    image = np.full((40, 40, 3), 255, np.uint8)
    image[10:12, :] = 0
    Image.fromarray(image).save(tmp_path / "drawings" / "001.png")
    engines.clear()
    render(load_recipe(path), tmp_path / "run", engine_factory=counting_factory(engines))
    assert engines[0].calls == [1]
    after = frame_bytes(tmp_path / "run", 3)
    assert after[0] == before[0] and after[2] == before[2] and after[1] != before[1]


def test_bad_translate_recipes(tmp_path, tiny_model):
    (tmp_path / "empty").mkdir()
    (tmp_path / "clip.mp4").write_bytes(b"no video")
    for text, key, message in [
        (RECIPE.format(model=tiny_model).replace('"drawings"', '"empty"'), "translate.input", "has no images"),
        (RECIPE.format(model=tiny_model).replace('"drawings"', '"clip.mp4"'), "translate.input", "cannot read video"),
        (RECIPE.format(model="vgg16").replace('"drawings"', '"empty"'), "model.name", "needs an image-to-image"),
    ]:
        path = tmp_path / "bad.toml"
        path.write_text(text)
        with pytest.raises(RecipeError) as err:
            load_recipe(path)
        assert err.value.key == key and message in err.value.message, str(err.value)


def test_pair_folders_name_unmatched_and_mixed_files(tmp_path):
    from render.training.pairs import PairsError, folder_pairs
    for sub in ("A", "B"):
        (tmp_path / sub).mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "A" / "one.png")
    Image.new("RGB", (16, 16)).save(tmp_path / "B" / "one.png")
    Image.new("RGB", (16, 16)).save(tmp_path / "A" / "two.png")
    with pytest.raises(PairsError, match="two.png"):
        folder_pairs(tmp_path, 16)
    Image.new("RGB", (20, 16)).save(tmp_path / "B" / "two.png")
    with pytest.raises(PairsError, match="two.png is 16x16 in A/ but 20x16 in B/"):
        folder_pairs(tmp_path, 16)


def test_train_command_on_a_pairs_folder(tmp_path):
    from render.cli import main
    for sub in ("A", "B"):
        (tmp_path / "pairs" / sub).mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((64, 64, 3), 40 * i, np.uint8)).save(tmp_path / "pairs" / "A" / f"{i}.png")
        Image.fromarray(np.full((64, 64, 3), 200 - 40 * i, np.uint8)).save(tmp_path / "pairs" / "B" / f"{i}.png")
    out = tmp_path / "model"
    result = CliRunner().invoke(main, ["train", "pix2pix", "--pairs", str(tmp_path / "pairs"), "--steps", "2",
                                       "--batch", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {"generator.weights.h5", "model.json", "README.md", "samples.png", "losses.csv"} <= {p.name for p in out.iterdir()}
    assert "render train pix2pix --pairs" in (out / "README.md").read_text()
    missing = CliRunner().invoke(main, ["train", "pix2pix", "--out", str(out)])
    assert missing.exit_code == 2 and "--pairs DIR or --synthetic-faces N" in missing.output
