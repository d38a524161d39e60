"""Fast style: the Keras ports of the three networks against onnxruntime running the package's own
files, ONNX dequantisation against the operator, the mix, strength and colour rules against numpy,
footage coherence along the source's flow, init = "fast", keys, resume and recipe errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from render.media import load_image
from render.recipe import load_recipe
from render.runner import render
from tests import stylenet_oracle as oracle
from tests.helpers import CHELSEA, REPO, frame_bytes, kill_and_resume, pixels

HUBBLE = REPO / "recipes" / "assets" / "hubble.jpg"
ASTRONAUT = REPO / "recipes" / "assets" / "astronaut.jpg"


@pytest.fixture(scope="module")
def cached():
    oracle.install_into_cache()


@pytest.fixture(scope="module")
def weights(cached):
    from render.models import fetched, packages
    return {k: fetched.load_arrays(packages.PACKAGED[name])
            for k, name in (("predictor", "style-predictor"), ("transform", "style-transformer"),
                            ("builtin", "builtin-styles"))}


def picture(path, width, height):
    return load_image(path, width, height)[None].astype(np.float32)


# --- the ports against onnxruntime -----------------------------------------------------------------

def test_predictor_equals_the_package_network(weights):
    from render.models.stylenets import style_predictor
    style = picture(HUBBLE, 256, 256)
    mine = np.asarray(style_predictor(weights["predictor"])(style))
    float_graph = oracle.run("predictor", True, style).reshape(1, 100)
    int8_graph = oracle.run("predictor", False, style).reshape(1, 100)
    assert np.abs(mine - float_graph).max() <= 1e-4 * np.abs(float_graph).max()
    # the int8 graph also rounds every activation: the port is that close to it (reported on the card)
    rounding = np.abs(mine - int8_graph).max() / np.abs(int8_graph).max()
    cosine = float((mine * int8_graph).sum() / np.linalg.norm(mine) / np.linalg.norm(int8_graph))
    print(f"predictor vs int8 graph: max {rounding:.4f} of the largest value, cosine {cosine:.6f}")
    assert rounding < 0.03 and cosine > 0.999


def test_transformer_equals_the_package_network(weights):
    from render.models.stylenets import style_transformer
    content = picture(CHELSEA, 384, 384)
    vector = oracle.run("predictor", True, picture(ASTRONAUT, 256, 256)).reshape(1, 100)
    mine = np.asarray(style_transformer(weights["transform"])(content, vector))
    float_graph = oracle.run("transform", True, content, vector.reshape(1, 1, 1, 100))
    int8_graph = oracle.run("transform", False, content, vector.reshape(1, 1, 1, 100))
    assert np.abs(mine - float_graph).max() < 1e-4
    mean = np.abs(mine - int8_graph).mean()
    print(f"transformer vs int8 graph: mean {mean:.4f}, max {np.abs(mine - int8_graph).max():.4f} (0..1)")
    assert mean < 0.03
    assert mine.std() > 0.1  # a picture, not a flat field


def test_builtin_network_equals_the_package_network_at_any_size(weights):
    from render.models.stylenets import builtin_transformer
    network = builtin_transformer(weights["builtin"])
    mix = np.zeros((1, 26), np.float32)
    mix[0, 3], mix[0, 19] = 0.25, 0.75
    content = picture(CHELSEA, 96, 64)
    want = oracle.run("builtin", False, content.transpose(0, 3, 1, 2), mix[0]).transpose(0, 2, 3, 1)
    assert np.abs(np.asarray(network(content, mix)) - want).max() < 1e-4
    # 90x62 is mirror-padded to 92x64 and cropped back: the oracle is the file on the padded picture
    odd = content[:, :62, :90]
    padded = np.pad(odd, ((0, 0), (0, 2), (0, 2), (0, 0)), mode="reflect")
    want = oracle.run("builtin", False, padded.transpose(0, 3, 1, 2), mix[0]).transpose(0, 2, 3, 1)[:, :62, :90]
    assert np.abs(np.asarray(network(odd, mix)) - want).max() < 1e-4


def test_bfloat16_convolutions_stay_near_float32(weights):
    from render.models.stylenets import style_transformer
    content = picture(CHELSEA, 128, 96)
    vector = oracle.run("predictor", True, picture(HUBBLE, 256, 256)).reshape(1, 100)
    full = np.asarray(style_transformer(weights["transform"])(content, vector))
    half = np.asarray(style_transformer(weights["transform"], "bfloat16")(content, vector))
    assert np.abs(full - half).mean() < 0.03


# --- ONNX dequantisation against the operator ------------------------------------------------------

def _dequantize_model(values, scale, zero, axis):
    import onnx
    from onnx import helper, numpy_helper
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=axis)
    conv = helper.make_node("Conv", ["x", "y"], ["out"])
    graph = helper.make_graph(
        [node, conv], "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, values.shape[1], 3, 3])],
        [helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, None)],
        [numpy_helper.from_array(values, "q"), numpy_helper.from_array(scale, "s"),
         numpy_helper.from_array(zero, "z")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("per_axis", [True, False])
def test_dequantised_kernels_equal_onnxruntime(per_axis):
    """Nonzero zero points and per-channel scales: the kernel read from the file convolves a picture
    exactly as onnxruntime's DequantizeLinear + Conv do (dropping either the scale or the zero point
    changes it)."""
    import onnxruntime
    from render.models.onnxweights import ConstantTensors
    rng = np.random.default_rng(1)
    values = rng.integers(-128, 128, (4, 2, 3, 3)).astype(np.int8)
    scale = (rng.random(4).astype(np.float32) * 0.05 + 0.01) if per_axis else np.float32(0.03)
    zero = rng.integers(-20, 20, 4).astype(np.int8) if per_axis else np.int8(7)
    model = _dequantize_model(values, np.asarray(scale), np.asarray(zero), axis=0)
    (conv,) = ConstantTensors(model.SerializeToString()).convolutions()
    x = rng.random((1, 2, 3, 3), dtype=np.float32)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": x})[0].ravel()
    assert np.allclose(np.einsum("oihw,ihw->o", conv.kernel, x[0]), want, rtol=1e-5, atol=1e-5)


# --- the engine's rules ----------------------------------------------------------------------------

FAST = """\
kind = "style"
seed = 1
[output]
size = [{w}, {h}]
frames = {frames}
video = "none"
[model]
precision = "float32"
[style]
method = "fast"
content = "{content}"
images = {images}
{extra}
"""


def _recipe(tmp_path, name, images, extra="", w=64, h=48, frames=1, content="cat.png"):
    for asset, source in (("cat.png", CHELSEA), ("hubble.jpg", HUBBLE), ("astronaut.jpg", ASTRONAUT)):
        if not (tmp_path / asset).exists():
            (tmp_path / asset).write_bytes(source.read_bytes())
    path = tmp_path / f"{name}.toml"
    path.write_text(FAST.format(w=w, h=h, frames=frames, images=images, extra=extra, content=content))
    return path


def _engine(path):
    recipe = load_recipe(path)
    return recipe, recipe.kind.build_engine(recipe)


def _row(recipe, index=0):
    from render.plan import make_plan
    return make_plan(recipe).row(index)


def test_the_mix_is_a_normalised_blend_of_style_vectors(tmp_path, cached):
    """Weights 2 and 6 blend the two pictures' style vectors 1/4 and 3/4 (square pictures are seen at
    256 x 256, the size the package's file takes)."""
    Image.open(HUBBLE).convert("RGB").crop((0, 0, 446, 446)).save(tmp_path / "square.png")
    recipe, engine = _engine(_recipe(tmp_path, "mix", '{ a = "square.png", b = "astronaut.jpg" }',
                                     "mix = { a = 2.0, b = 6.0 }"))
    got = engine.condition(engine.content(0), _row(recipe))
    vectors = [oracle.run("predictor", True, picture(p, 256, 256)).ravel() for p in (tmp_path / "square.png", ASTRONAUT)]
    want = 0.25 * vectors[0] + 0.75 * vectors[1]
    assert np.abs(got - want).max() < 1e-4 * np.abs(want).max()


def test_a_mix_of_one_and_zero_is_the_single_style_exactly(tmp_path, cached):
    both = _recipe(tmp_path, "both", '{ a = "hubble.jpg", b = "astronaut.jpg" }', "mix = { a = 1.0, b = 0.0 }")
    single = _recipe(tmp_path, "single", '{ a = "hubble.jpg" }')
    render(load_recipe(both), tmp_path / "both")
    render(load_recipe(single), tmp_path / "single")
    assert np.array_equal(pixels(tmp_path / "both" / "frames" / "frame_000000.png"),
                          pixels(tmp_path / "single" / "frames" / "frame_000000.png"))


def mirrored(content, margin=16):
    """The content with the engine's mirrored margin (``fast_style.MARGIN``), as the networks see it."""
    return np.pad(content, ((margin, margin), (margin, margin), (0, 0)), mode="reflect")


def test_strength_zero_is_the_content_own_style(tmp_path, cached):
    """The whole frame path against onnxruntime: at strength 0 the style vector is the content's own
    (the content seen at 256 x 256), the 352 x 352 content goes in as 0..1 with a 16 px mirrored
    margin (384 x 384, the file's size), out comes the picture without the margin."""
    path = _recipe(tmp_path, "own", '{ a = "hubble.jpg" }', "strength = 0.0", w=352, h=352)
    render(load_recipe(path), tmp_path / "own")
    content = load_image(CHELSEA, 352, 352)
    from render.engines.resample import resize_bilinear
    own = oracle.run("predictor", True, resize_bilinear(content, 256, 256)[None]).reshape(1, 1, 1, 100)
    want = oracle.run("transform", True, mirrored(content)[None], own)[0, 16:-16, 16:-16]
    got = pixels(tmp_path / "own" / "frames" / "frame_000000.png") / 255.0
    assert np.abs(got - want).max() <= 1 / 255 + 1e-6


def test_builtin_styles_blend_and_fade_with_strength(tmp_path, cached):
    path = _recipe(tmp_path, "builtin", '{ a = "builtin:3", b = "builtin:19" }',
                   "mix = { a = 1.0, b = 3.0 }\nstrength = 0.5", w=64, h=48)
    recipe, engine = _engine(path)
    content = engine.content(0)
    got = engine.stylize(content, _row(recipe))
    weights = np.zeros(26, np.float32)
    weights[3], weights[19] = 0.25, 0.75
    styled = oracle.run("builtin", False, mirrored(content)[None].transpose(0, 3, 1, 2), weights)[0]
    styled = styled.transpose(1, 2, 0)[16:-16, 16:-16]
    assert np.abs(got - (0.5 * styled + 0.5 * content)).max() < 1e-4


def test_preserve_colors_keeps_the_content_chroma(tmp_path, cached):
    from render.engines.color import RGB_TO_YCBCR
    recipe, engine = _engine(_recipe(tmp_path, "colours", '{ a = "builtin:7" }', "preserve_colors = true"))
    content = engine.content(0)
    got = engine.stylize(content, _row(recipe))
    chroma = lambda image: (image.reshape(-1, 3) @ RGB_TO_YCBCR.T)[:, 1:]
    inside = (got.reshape(-1, 3).min(axis=1) > 0.02) & (got.reshape(-1, 3).max(axis=1) < 0.98)  # not clipped
    assert np.abs(chroma(got) - chroma(content))[inside].max() < 1e-3


def pan_clip(folder, frames, width, height, step, left, photo_size=(200, 150)):
    """``frames`` PNGs ``f0.png``... of a window over the cat photo moving right ``step`` px a frame."""
    photo = load_image(CHELSEA, *photo_size)
    folder.mkdir()
    for n in range(frames):
        window = photo[40:40 + height, left + step * n:left + step * n + width]
        Image.fromarray(np.round(window * 255).astype(np.uint8)).save(folder / f"f{n}.png")


class _StillTexture:
    """A stand-in network: the same random texture whatever the content (its output never moves)."""

    uses_builtin = True

    def __init__(self, height, width):
        self.texture = np.random.default_rng(5).random((height, width, 3)).astype(np.float32)

    def transform(self, content, condition):
        return self.texture


def test_footage_frames_follow_the_source_flow_not_the_output(tmp_path, cached):
    """The source pans 3 px a frame, the stand-in network's output stands still: frame 1 must be pulled
    toward frame 0 moved 3 px with the source (the output's own flow is zero and would leave it)."""
    pan_clip(tmp_path / "clip", frames=2, width=64, height=48, step=3, left=40)
    path = _recipe(tmp_path, "pan", '{ a = "builtin:1" }', "carry = 1.0", frames=2, content="clip")
    recipe, engine = _engine(path)
    engine.stylizer = _StillTexture(48, 64)
    from render.contracts import FrameJob
    first = engine.render_frame(FrameJob(0, _row(recipe, 0), None))
    second = engine.render_frame(FrameJob(1, _row(recipe, 1), first)).astype(np.float32)
    moved = first[:, 3:].astype(np.float32)    # the picture moves left: frame 1's x shows frame 0's x + 3
    inside = np.s_[8:-8, 8:-8]
    assert np.abs(second[:, :-3][inside] - moved[inside]).mean() < 12
    assert np.abs(second[inside] - first[inside].astype(np.float32)).mean() > 40


def test_flow_blending_lowers_the_warping_error(tmp_path, cached):
    from render.temporal import FlowCache, warping_error
    pan_clip(tmp_path / "clip", frames=4, width=96, height=64, step=2, left=30, photo_size=(220, 160))
    errors = {}
    sources = [load_image(tmp_path / "clip" / f"f{n}.png", 96, 64) for n in range(4)]
    cache = FlowCache(tmp_path / "measure")
    pairs = [cache.pair(sources[n - 1], sources[n]) for n in range(1, 4)]
    for carry in (0.0, 0.6):
        path = _recipe(tmp_path, f"c{carry}", '{ a = "hubble.jpg" }', f"carry = {carry}", w=96, h=64, frames=4,
                       content="clip")
        result = render(load_recipe(path), tmp_path / f"c{carry}")
        frames = [pixels(result.folder / "frames" / f"frame_{n:06d}.png") / 255.0 for n in range(4)]
        errors[carry] = warping_error(frames, pairs)
    assert errors[0.6] < 0.5 * errors[0.0], errors


def test_a_killed_fast_footage_run_resumes_to_the_same_bytes(tmp_path, cached):
    pan_clip(tmp_path / "clip", frames=4, width=64, height=48, step=2, left=30)
    path = _recipe(tmp_path, "resume", '{ a = "hubble.jpg" }', "carry = 0.5", frames=4, content="clip")
    render(load_recipe(path), tmp_path / "whole")
    kill_and_resume(path, tmp_path / "resumed", kill_at=2)
    assert frame_bytes(tmp_path / "resumed", 4) == frame_bytes(tmp_path / "whole", 4)


def test_init_fast_starts_the_optimisation_from_the_fast_result(tmp_path, cached):
    fast = _recipe(tmp_path, "fast", '{ a = "hubble.jpg" }')
    render(load_recipe(fast), tmp_path / "fast")
    gatys = _recipe(tmp_path, "gatys", '{ a = "hubble.jpg" }', 'init = "fast"\nsteps = 0\nscales = [1.0]')
    gatys.write_text(gatys.read_text().replace('method = "fast"\n', ""))
    render(load_recipe(gatys), tmp_path / "gatys")
    got = pixels(tmp_path / "gatys" / "frames" / "frame_000000.png").astype(int)
    want = pixels(tmp_path / "fast" / "frames" / "frame_000000.png").astype(int)
    assert np.abs(got - want).max() <= 1


# --- keys, plan and recipe errors ------------------------------------------------------------------

def test_keys_follow_what_fast_frames_use(tmp_path):
    from render.framekeys import frame_keys
    from render.plan import make_plan
    path = _recipe(tmp_path, "keys", '{ a = "hubble.jpg" }', frames=2)
    keys = lambda *sets: frame_keys(make_plan(load_recipe(path, sets)))
    base = keys()
    assert keys("style.steps=10", "style.style_weight=3.0", "style.learning_rate=0.1",
                'model.name="vgg19-imagenet"') == base   # inert here
    assert keys("style.strength=0.5") != base and keys("style.style_scale=2.0") != base
    assert keys('style.images={ a = "astronaut.jpg" }') != base
    assert keys('style.method="optimize"') != base


def test_plan_shows_the_method_and_the_cost_of_a_frame(tmp_path):
    path = _recipe(tmp_path, "plan", '{ a = "hubble.jpg" }', w=512, h=512)
    shown = subprocess.run([sys.executable, "-m", "render.cli", "plan", str(path)], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert shown.returncode == 0, shown.stderr
    # by hand at 512x512 with the 16 px margin (544x544): 9x9 3->8 and 8->3 at full size, 3x3 8->16
    # and 16->8 at full/half, 16->32 at a quarter, ten 32->32 at a quarter, 32->16 at half:
    # 2 * k^2 * in * out * pixels
    full, half, quarter = 544 * 544, 272 * 272, 136 * 136
    flops = 2 * (81 * 24 * full * 2 + 9 * 128 * half + 9 * 512 * quarter + 10 * 9 * 1024 * quarter
                 + 9 * 512 * half + 9 * 128 * full)
    assert f"{flops / 1e9:.1f} GFLOP at 512x512" in shown.stdout
    assert "method   fast: one pass of style-predictor + style-transformer" in shown.stdout
    assert "model not used" in shown.stdout and "vgg16" not in shown.stdout   # [model] plays no part


def test_builtin_index_out_of_range_is_one_line_with_the_toml_line(tmp_path):
    path = _recipe(tmp_path, "bad", '{ a = "builtin:40" }')
    result = subprocess.run([sys.executable, "-m", "render.cli", "validate", str(path)], capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 2
    line = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(line) == 1 and "bad.toml:12" in line[0] and "style.images.a" in line[0] and "0 to 25" in line[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("images, method, key, words", [
    ('{ a = "builtin:2" }', "optimize", "style.images.a", "method = \"fast\""),
    ('{ a = "builtin:2", b = "hubble.jpg" }', "fast", "style.images.b", "not both"),
])
def test_builtin_styles_that_cannot_work_are_refused(tmp_path, images, method, key, words):
    from render.errors import RecipeError
    path = _recipe(tmp_path, "refused", images)
    path.write_text(path.read_text().replace('method = "fast"', f'method = "{method}"'))
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    assert key in str(caught.value) and words in str(caught.value)


def test_offline_without_the_networks_stops_before_any_frame(tmp_path):
    """A fast footage recipe over a walk: with the networks not cached and no registry reachable, the
    run stops with one line naming the fetch command (exit 2) before the upstream walk renders."""
    (tmp_path / "walk.toml").write_text('kind = "walk"\n[output]\nsize = [32, 32]\nframes = 3\nvideo = "none"\n'
                                        '[walk]\nkeys = [1, 2]\n')
    path = _recipe(tmp_path, "offline", '{ a = "hubble.jpg" }', frames=3, content="walk")
    path.write_text(path.read_text().replace('content = "walk"', 'content = { recipe = "walk.toml" }'))
    env = dict(os.environ, PYTHONPATH=str(REPO), NEURAL_RENDER_CACHE=str(tmp_path / "empty-cache"),
               NEURAL_RENDER_PYPI_INDEX="https://127.0.0.1:9/simple/")
    result = subprocess.run([sys.executable, "-m", "render.cli", "run", str(path), "--quiet"], capture_output=True,
                            text=True, env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "render models get style-predictor" in lines[0], lines
    assert not (tmp_path / "renders" / "walk" / "frames").exists() or not any((tmp_path / "renders" / "walk" / "frames").glob("*.png"))


@pytest.mark.parametrize("images", ['{ a = "builtin:19" }', '{ a = "hubble.jpg" }'])
def test_a_fast_preview_has_the_full_frame_strokes(tmp_path, cached, images):
    """A 384x288 recipe previews at 256x192: the network runs at the full frame's 384x288 and the
    result is shrunk, so the draft equals the full frame shrunk (Lanczos, numpy), not a picture with
    strokes half again as large."""
    from render.engines.resample import lanczos_weights
    from render.plan import preview_recipe
    path = _recipe(tmp_path, "preview", images, w=384, h=288)
    full = load_recipe(path)
    render(full, tmp_path / "full")
    render(preview_recipe(full), tmp_path / "draft")
    frame = pixels(tmp_path / "full" / "frames" / "frame_000000.png") / 255.0
    rows = np.einsum("yh,hwc->ywc", lanczos_weights(288, 192), frame)     # Lanczos-3, one axis at a time
    shrunk = np.einsum("ywc,xw->yxc", rows, lanczos_weights(384, 256))
    draft = pixels(tmp_path / "draft" / "frames" / "frame_000000.png") / 255.0
    assert draft.shape == (192, 256, 3)
    assert np.abs(draft - np.clip(shrunk, 0, 1)).mean() < 1.5 / 255


def test_style_vectors_are_float32_at_bfloat16_precision(tmp_path, cached):
    """The predictor runs once a picture and has no normalisation to absorb rounding: it stays in
    float32 when the transformer computes in bfloat16."""
    Image.open(HUBBLE).convert("RGB").crop((0, 0, 446, 446)).save(tmp_path / "square.png")
    path = _recipe(tmp_path, "half", '{ a = "square.png" }')
    path.write_text(path.read_text().replace('precision = "float32"', 'precision = "bfloat16"'))
    recipe, engine = _engine(path)
    got = engine.condition(engine.content(0), _row(recipe))
    want = oracle.run("predictor", True, picture(tmp_path / "square.png", 256, 256)).ravel()
    assert np.abs(got - want).max() < 1e-4 * np.abs(want).max()


def test_fast_frames_can_be_smaller_than_the_optimisation_allows(tmp_path, cached):
    """VGG16 needs 32 px; the fast networks do not use it: a 12x10 frame renders (with the margin
    clamped to the picture)."""
    path = _recipe(tmp_path, "tiny", '{ a = "builtin:4" }', w=12, h=10)
    result = render(load_recipe(path), tmp_path / "tiny")
    assert pixels(result.folder / "frames" / "frame_000000.png").shape == (10, 12, 3)
    gatys = path.read_text().replace('method = "fast"\n', "").replace('"builtin:4"', '"hubble.jpg"')
    (tmp_path / "gatys.toml").write_text(gatys)
    from render.errors import RecipeError
    with pytest.raises(RecipeError, match="at least 32 px"):
        load_recipe(tmp_path / "gatys.toml")
