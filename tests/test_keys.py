"""Frame keys change exactly when pixels change: every dream field, the chain, files by content."""

import dataclasses
import shutil

import numpy as np
import pytest

from render.framekeys import frame_keys
from render.plan import make_plan
from render.recipe import load_recipe
from render.runner import render
from tests.helpers import CHELSEA, pixels

BASE = """\
kind = "dream"
seed = 3
[output]
size = [80, 48]
frames = 2
fps = 8
video = "mp4"
quality = 18
loop = "forward"
[model]
name = "vgg16"
precision = "auto"
[dream]
init = "chelsea.png"
layers = { block3_conv1 = 1.0, block2_conv2 = 0.5 }
octaves = 2
octave_scale = 1.5
steps = 1
step_size = 0.03
tile = 40
color_coherence = 0.5
[motion]
zoom = 1.05
rotate = 2.0
pan = [1.0, 0.0]
"""

# (override, a reason when the pixels must stay the same) -- every field of a dream recipe
VARIANTS = [
    ("seed=4", None),
    ("output.size=[96,48]", None),
    ("output.frames=3", "more frames leave the first ones alone"),
    ("output.fps=12", "keys are frame numbers: fps changes nothing"),
    ("output.video='webm'", "video settings are not pixels"),
    ("output.quality=30", "video settings are not pixels"),
    ("output.loop='pingpong'", "video settings are not pixels"),
    ("output.upscale='lanczos-x2'", "a stage after rendering: stored frames stay, the enlarged ones have keys "
                                    "of their own (tests/test_upscale_stage.py)"),
    ("model.precision='float32'", "maybe"),
    ("model.precision='bfloat16'", "maybe"),
    ("dream.init='noise'", None),
    ("dream.init='same-cat.png'", "the same bytes under another name"),
    # (with a single term, scaling its weight is invisible: gradients are normalised by their spread)
    ("dream.layers={ block3_conv1 = 1.0, block2_conv2 = 1.0 }", None),
    ("dream.layers={ block3_conv1 = 1.0 }", None),
    ("dream.layers={ \"block3_conv1:5\" = 1.0, block2_conv2 = 0.5 }", None),
    ("dream.octaves=1", None),
    ("dream.octave_scale=2.5", None),
    ("dream.octave_scale=1.3", "octave sides are bucketed to 32 px: the same octaves as 1.5 at 80x48"),
    ("dream.steps=2", None),
    ("dream.step_size=0.05", None),
    ("dream.tile=64", "40 is raised to 64 anyway"),
    ("dream.tile=96", None),
    ("dream.color_coherence=0.0", None),
    ("dream.color_coherence=0.25", None),
    ("dream.blend=0.1", "footage only: this recipe dreams an init, not a source"),
    ("dream.steps_per_frame=1", "footage only: this recipe dreams an init, not a source"),
    ("motion.zoom=1.1", None),
    ("motion.rotate=-3.0", None),
    ("motion.pan=[0.0, 2.0]", None),
    ("motion.pan={ 0 = [1.0, 0.0], 1 = [3.0, 0.0] }", None),
]
NOT_COVERED = {"model.name": "only one model is embedded; the others need a download (covered by the "
                             "weights-file digest in test_model_file_bytes_are_keyed, and for networks "
                             "from packages by their pinned digest in test_packaged_models_are_keyed_by_digest)",
               "dream.source": "excludes init: footage keys are tested in test_footage.py (source frames, "
                               "blend, steps_per_frame, flow settings)"}


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, vgg16):
    folder = tmp_path_factory.mktemp("keys")
    shutil.copyfile(CHELSEA, folder / "chelsea.png")
    shutil.copyfile(CHELSEA, folder / "same-cat.png")
    path = folder / "base.toml"
    path.write_text(BASE)
    return folder, path, run_frames(load_recipe(path), folder / "base", vgg16)


def run_frames(recipe, out, vgg16):
    from render.engines.dream import DreamEngine
    render(recipe, out, encode=False, engine_factory=lambda r: DreamEngine.from_recipe(r, base_model=vgg16))
    keys = frame_keys(make_plan(recipe))
    return keys, [pixels(out / "frames" / f"frame_{i:06d}.png") for i in range(recipe.output.frames)]


def test_every_dream_field_is_covered():
    from render.kinds.dream import DREAM, MOTION
    from render.recipe.schema import OUTPUT
    covered = {v.split("=")[0] for v, _ in VARIANTS} | set(NOT_COVERED)
    expected = ({f"dream.{k}" for k in DREAM} | {f"motion.{k}" for k in MOTION}
                | {f"output.{k}" for k in OUTPUT if k != "duration"} | {"seed", "model.precision", "model.name"})
    assert expected <= covered, expected - covered


@pytest.mark.parametrize("override,same_reason", VARIANTS, ids=[v for v, _ in VARIANTS])
def test_keys_change_exactly_when_pixels_change(base_run, vgg16, override, same_reason, tmp_path):
    folder, path, (base_keys, base_pixels) = base_run
    recipe = load_recipe(path, [override])
    keys, images = run_frames(recipe, tmp_path / "variant", vgg16)
    for index in range(min(len(keys), len(base_keys))):
        key_changed = keys[index] != base_keys[index]
        pixels_changed = (images[index].shape != base_pixels[index].shape
                          or not np.array_equal(images[index], base_pixels[index]))
        assert key_changed == pixels_changed, (override, index, key_changed, pixels_changed)
        if same_reason is None:
            assert pixels_changed or index == 0, f"{override} should change frame {index}"
        elif same_reason != "maybe":
            assert not pixels_changed, f"{override}: {same_reason}"


def test_a_changed_row_changes_its_key_and_every_later_one(tmp_path):
    """The chain: editing frame k's row changes keys k.. and none before, at every k."""
    shutil.copyfile(CHELSEA, tmp_path / "chelsea.png")
    path = tmp_path / "r.toml"
    path.write_text(BASE.replace("frames = 2", "frames = 8"))
    base = frame_keys(make_plan(load_recipe(path)))
    assert len(set(base)) == 8
    for k in range(1, 8):
        steps = "{" + ", ".join(f"{i} = {3 if i == k else 1}" for i in range(8)) + ", interp = \"step\"}"
        keys = frame_keys(make_plan(load_recipe(path, [f"dream.steps={steps}"])))
        assert keys[:k] == base[:k] and all(a != b for a, b in zip(keys[k:], base[k:])), k


def test_init_image_is_keyed_by_content(tmp_path):
    shutil.copyfile(CHELSEA, tmp_path / "a.png")
    path = tmp_path / "r.toml"
    path.write_text(BASE.replace("chelsea.png", "a.png"))
    before = frame_keys(make_plan(load_recipe(path)))
    from PIL import Image
    Image.open(CHELSEA).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "a.png")
    after = frame_keys(make_plan(load_recipe(path)))
    assert all(a != b for a, b in zip(before, after))


def test_model_file_bytes_are_keyed(tmp_path):
    from render.framekeys import model_identity
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"one")
    path = tmp_path / "r.toml"
    shutil.copyfile(CHELSEA, tmp_path / "chelsea.png")
    path.write_text(BASE)
    recipe = load_recipe(path)
    model = dataclasses.replace(recipe.model, path=weights)
    first = model_identity(dataclasses.replace(recipe, model=model))
    weights.write_bytes(b"two!")
    assert model_identity(dataclasses.replace(recipe, model=model)) != first


def test_packaged_models_are_keyed_by_digest(tmp_path, monkeypatch):
    """A network from a package is keyed by its pinned digest and conversion, known before it is
    fetched: another pinned digest (a new package version) changes every key, nothing else does."""
    import dataclasses

    from render.models import packages
    shutil.copyfile(CHELSEA, tmp_path / "chelsea.png")
    path = tmp_path / "inception.toml"
    path.write_text(BASE.replace('name = "vgg16"', 'name = "inceptionv3"').replace(
        "layers = { block3_conv1 = 1.0, block2_conv2 = 0.5 }", "layers = { mixed3 = 1.0 }").replace(
        "size = [80, 48]", "size = [96, 80]"))
    monkeypatch.setenv("NEURAL_RENDER_CACHE", str(tmp_path / "empty-cache"))   # nothing fetched
    first = frame_keys(make_plan(load_recipe(path)))
    assert frame_keys(make_plan(load_recipe(path))) == first
    entry = packages.PACKAGED["inceptionv3"]
    moved = dataclasses.replace(entry, package=dataclasses.replace(entry.package, integrity="sha512-other"))
    monkeypatch.setitem(packages.PACKAGED, "inceptionv3", moved)
    again = frame_keys(make_plan(load_recipe(path)))
    assert all(a != b for a, b in zip(first, again))
    monkeypatch.setitem(packages.PACKAGED, "inceptionv3", dataclasses.replace(entry, converter_version=2))
    assert all(a != b for a, b in zip(first, frame_keys(make_plan(load_recipe(path)))))
