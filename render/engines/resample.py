"""Lanczos resampling as two small matrix products.

Resizing a batch of small images (a generator's 64x64 faces) to a large frame is, per axis, a fixed
linear map: ``out = Wy @ image @ Wx.T`` with one row of Lanczos-3 weights per output pixel.  Built
once per size pair, it runs as two batched matmuls, several times faster than TensorFlow's general
``scale_and_translate`` kernel, with the same result (``tests/test_walk.py`` compares them), and
identical on every backend.
"""

from __future__ import annotations

import numpy as np


def lanczos_weights(in_size: int, out_size: int, lobes: int = 3) -> np.ndarray:
    """float32 ``(out_size, in_size)``: row ``i`` holds the weights of output pixel ``i``.

    Pixel centres are aligned (``(i + 0.5) * in / out - 0.5``); when shrinking, the kernel is
    stretched by the scale (antialiasing); taps outside the image are dropped and each row is
    renormalised to sum 1."""
    scale = in_size / out_size
    support = lobes * max(scale, 1.0)
    stretch = max(scale, 1.0)
    centres = (np.arange(out_size) + 0.5) * scale - 0.5
    taps = np.arange(in_size)
    x = (taps[None, :] - centres[:, None]) / stretch
    weights = np.sinc(x) * np.sinc(x / lobes)
    weights[np.abs(taps[None, :] - centres[:, None]) >= support] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    return weights.astype(np.float32)


def resize_lanczos(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Float ``(h, w, c)`` resized to ``height`` x ``width`` with Lanczos-3 (:func:`lanczos_weights`),
    in numpy: float32, not clipped (Lanczos overshoots a little at edges)."""
    wy = lanczos_weights(image.shape[0], height)
    wx = lanczos_weights(image.shape[1], width)
    return np.einsum("yh,hwc,xw->yxc", wy, np.asarray(image, np.float32), wx, optimize=True).astype(np.float32)


def resize_bilinear(image: np.ndarray, height: int, width: int, antialias: bool = True) -> np.ndarray:
    """Float ``(h, w, c)`` resized to ``height`` x ``width`` bilinearly (``keras.ops.image.resize``;
    antialiased when shrinking), as float32 numpy; compiled once per shape pair on the active backend,
    so its compile time is counted with the engines' (JAX compiles even eager ops on first use)."""
    from ..backend import compiled
    from ..backend.kerasops import ops

    def resize(image, height, width, antialias):
        return ops.image.resize(image, (height, width), interpolation="bilinear", antialias=antialias)

    resized = compiled("resize", resize, static=(1, 2, 3))(np.asarray(image, np.float32), int(height), int(width),
                                                           bool(antialias))
    return np.asarray(resized, np.float32)


def make_resizer(in_hw: tuple[int, int], out_hw: tuple[int, int]):
    """``resize(images (batch, h, w, c)) -> (batch, H, W, c)`` for fixed sizes (keras.ops: works
    inside a compiled function and eagerly)."""
    from ..backend.kerasops import ops
    wy = lanczos_weights(in_hw[0], out_hw[0])
    wxt = np.ascontiguousarray(lanczos_weights(in_hw[1], out_hw[1]).T)

    def resize(images):
        planes = ops.transpose(images, (0, 3, 1, 2))          # (batch, c, h, w): rows and columns last
        planes = ops.matmul(ops.matmul(wy, planes), wxt)       # (batch, c, H, W)
        return ops.transpose(planes, (0, 2, 3, 1))

    return resize
