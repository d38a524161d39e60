"""The feed-forward style networks in keras.ops (both backends, any picture size, float32 or
bfloat16 convolutions with float32 normalisation statistics).

* :func:`style_predictor`: RGB 0..1 ``(N, H, W, 3)`` -> style vectors ``(N, 100)`` (Ghiasi et al.
  2017, "Exploring the structure of a real-time, arbitrary neural artistic stylization network":
  MobileNetV2 features, global average, a 1x1 projection);
* :func:`style_transformer`: content RGB 0..1 ``(N, H, W, 3)`` and style vectors ``(N, 100)`` ->
  stylised RGB 0..1 ``(N, H, W, 3)``;
* :func:`builtin_transformer`: content and weights over the 26 built-in styles ``(N, 26)`` (summing
  to 1) -> stylised RGB 0..1 (Dumoulin, Shlens and Kudlur 2017, "A learned representation for
  artistic style": conditional instance normalisation).

Both transformers contract by 4, so a side that is not a multiple of 4 is mirror-padded to one and
the result cropped back.  Weights come from :mod:`render.models.stylenet_weights`, converted into the
user cache by :mod:`render.models.fetched`; ``load`` reads them.  Layouts, names and padding follow
the ONNX graphs (TensorFlow's SAME padding in the predictor, mirror padding in the transformers,
nearest-neighbour x2 upsampling, normalisation epsilon 1e-5).
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..backend.kerasops import ops
from .stylenet_weights import (BUILTIN_RESIDUALS, TRANSFORM_CONVS, TRANSFORM_RESIDUALS, builtin_layers,
                               mobilenet_blocks)

EPSILON = 1e-5
CONTRACTION = 4   # both transformers halve the picture twice


def _tensors(weights: Mapping[str, np.ndarray], dtype: str) -> dict:
    """Kernels in the compute type, everything else (biases, norm tables, projections) float32."""
    def kind(name: str) -> str:
        projection = name.startswith(("style_params/", "mobilenet_conv/"))
        return dtype if name.endswith("/kernel") and not projection else "float32"
    return {name: ops.convert_to_tensor(np.asarray(value, np.float32), dtype=kind(name))
            for name, value in weights.items()}


def _conv(x, kernel, bias=None, stride: int = 1, padding: str = "valid", depthwise: bool = False):
    x = ops.cast(x, kernel.dtype)
    if depthwise:
        y = ops.depthwise_conv(x, kernel, strides=stride, padding=padding)
    else:
        y = ops.conv(x, kernel, strides=stride, padding=padding)
    y = ops.cast(y, "float32")
    return y if bias is None else y + bias


def _mirror(x, pad: int):
    return ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect") if pad else x


def _instance_stats(x):
    mean = ops.mean(x, axis=(1, 2), keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=(1, 2), keepdims=True)
    return mean, ops.rsqrt(variance + EPSILON)


def _normalise(x, gamma, beta):
    """Instance normalisation with per-picture ``gamma``/``beta`` ``(N, C)``."""
    mean, inverse = _instance_stats(x)
    return (x - mean) * inverse * gamma[:, None, None, :] + beta[:, None, None, :]


def _upsample(x, factor: int):
    return x if factor == 1 else ops.repeat(ops.repeat(x, factor, axis=1), factor, axis=2)


def _padded_to_contraction(run: Callable):
    """Mirror-pad H and W up to multiples of 4, run, crop back."""
    def wrapped(content, *conditions):
        height, width = content.shape[1], content.shape[2]
        extra_h, extra_w = -height % CONTRACTION, -width % CONTRACTION
        if extra_h or extra_w:
            content = ops.pad(content, [[0, 0], [0, extra_h], [0, extra_w], [0, 0]], mode="reflect")
        out = run(content, *conditions)
        return out[:, :height, :width, :] if extra_h or extra_w else out
    return wrapped


def style_predictor(weights: Mapping[str, np.ndarray], dtype: str = "float32") -> Callable:
    """``f(images (N, H, W, 3) 0..1) -> (N, 100)`` float32 (see the module)."""
    w = _tensors(weights, dtype)

    def relu6(x):
        return ops.clip(x, 0.0, 6.0)

    def predict(images):
        x = relu6(_conv(images, w["MobilenetV2/Conv/kernel"], w["MobilenetV2/Conv/bias"], 2, "same"))
        for scope, expansion, _, stride in mobilenet_blocks():
            y = x
            if expansion != 1:
                y = relu6(_conv(y, w[f"{scope}/expand/kernel"], w[f"{scope}/expand/bias"]))
            y = relu6(_conv(y, w[f"{scope}/depthwise/kernel"], w[f"{scope}/depthwise/bias"], stride, "same",
                            depthwise=True))
            y = _conv(y, w[f"{scope}/project/kernel"], w[f"{scope}/project/bias"])
            x = x + y if stride == 1 and x.shape[-1] == y.shape[-1] else y
        x = relu6(_conv(x, w["MobilenetV2/Conv_1/kernel"], w["MobilenetV2/Conv_1/bias"]))
        pooled = ops.mean(x, axis=(1, 2))
        projection = ops.reshape(w["mobilenet_conv/Conv/kernel"], (pooled.shape[-1], -1))
        return ops.matmul(pooled, ops.cast(projection, "float32")) + w["mobilenet_conv/Conv/bias"]

    return predict


def style_transformer(weights: Mapping[str, np.ndarray], dtype: str = "float32") -> Callable:
    """``f(content (N, H, W, 3) 0..1, vectors (N, 100)) -> (N, H, W, 3)`` 0..1 (see the module)."""
    w = _tensors(weights, dtype)

    def style_norm(x, scope, vectors):
        def projected(part):
            kernel = ops.cast(ops.reshape(w[f"style_params/{scope}/StyleNorm/{part}/kernel"], (vectors.shape[-1], -1)),
                              "float32")
            return ops.matmul(vectors, kernel) + w[f"style_params/{scope}/StyleNorm/{part}/bias"]
        return _normalise(x, projected("Conv_1"), projected("Conv"))

    def conv(x, scope, size, stride=1):
        return _conv(_mirror(x, size // 2), w[f"{scope}/kernel"], w[f"{scope}/bias"], stride)

    def transform(content, vectors):
        vectors = ops.cast(vectors, "float32")
        x = content
        for scope, shape, stride in TRANSFORM_CONVS:
            x = ops.relu(conv(x, scope, shape[-1], stride))
        for r in range(1, TRANSFORM_RESIDUALS + 1):
            block = f"transformer/residual/residual{r}"
            y = ops.relu(style_norm(conv(x, f"{block}/conv1", 3), f"{block}/conv1", vectors))
            x = x + style_norm(conv(y, f"{block}/conv2", 3), f"{block}/conv2", vectors)
        for k, (size, factor) in enumerate(((3, 2), (3, 2), (9, 1)), start=1):
            scope = f"transformer/expand/conv{k}/conv"
            x = style_norm(conv(_upsample(x, factor), scope, size), scope, vectors)
            x = ops.relu(x) if k < 3 else ops.sigmoid(x)
        return x

    return _padded_to_contraction(transform)


def builtin_transformer(weights: Mapping[str, np.ndarray], dtype: str = "float32") -> Callable:
    """``f(content (N, H, W, 3) 0..1, style_weights (N, 26)) -> (N, H, W, 3)`` 0..1; each picture's
    normalisation scale and offset are its weights times the per-style tables (see the module)."""
    w = _tensors(weights, dtype)
    layers = builtin_layers()

    def layer(x, name, size, stride, factor, style_weights):
        x = _conv(_mirror(_upsample(x, factor), size // 2), w[f"{name}/kernel"], stride=stride)
        return _normalise(x, ops.matmul(style_weights, w[f"{name}/gamma"]), ops.matmul(style_weights, w[f"{name}/beta"]))

    def transform(content, style_weights):
        style_weights = ops.cast(style_weights, "float32")
        x = content
        for spec in layers[:3]:
            x = ops.relu(layer(x, *spec, style_weights))
        for r in range(BUILTIN_RESIDUALS):
            first, second = layers[3 + 2 * r], layers[4 + 2 * r]
            x = x + layer(ops.relu(layer(x, *first, style_weights)), *second, style_weights)
        for spec in layers[-3:-1]:
            x = ops.relu(layer(x, *spec, style_weights))
        return ops.sigmoid(layer(x, *layers[-1], style_weights))

    return _padded_to_contraction(transform)


BUILDERS = {"predictor": style_predictor, "transform": style_transformer, "builtin": builtin_transformer}
