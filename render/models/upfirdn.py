"""upfirdn2d and the filtered leaky ReLU of StyleGAN2/3 in keras.ops, channels last.

``upfirdn2d`` upsamples by inserting zeros (``up - 1`` after every sample), pads (a negative pad
crops), convolves with a FIR filter and keeps every ``down``-th sample: the resampling primitive of
Karras et al. 2020 ("Analyzing and Improving the Image Quality of StyleGAN") and 2021 ("Alias-Free
Generative Adversarial Networks"), defined there as in scipy's ``upfirdn``.  The filter is a true
convolution (flipped before the sliding product) unless ``flip`` is set; it is scaled by
``gain ** (ndim / 2)`` (so a separable filter's two passes share the gain).  A 1-D filter is
applied separably, a 2-D one (StyleGAN3-R's radial filters) as one depthwise convolution.

Filters are numpy constants; ``x`` is ``(N, H, W, C)``, float32 or bfloat16.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..backend.kerasops import ops


def _zero_insert(x, up: int, axis: int):
    if up == 1:
        return x
    shape = list(ops.shape(x))
    expanded = ops.expand_dims(x, axis + 1)
    pads = [[0, 0]] * len(expanded.shape)
    pads[axis + 1] = [0, up - 1]
    expanded = ops.pad(expanded, pads)
    shape[axis] = shape[axis] * up
    return ops.reshape(expanded, shape)


def _pad_axis(x, low: int, high: int, axis: int):
    pads = [[0, 0]] * 4
    pads[axis] = [max(low, 0), max(high, 0)]
    if low > 0 or high > 0:
        x = ops.pad(x, pads)
    if low < 0 or high < 0:
        size = x.shape[axis]
        index = [slice(None)] * 4
        index[axis] = slice(max(-low, 0), size - max(-high, 0))
        x = x[tuple(index)]
    return x


def _depthwise(x, taps: np.ndarray, stride: tuple[int, int]):
    """Correlate every channel with the 2-D array ``taps`` (kh, kw), valid, with ``stride``."""
    channels = x.shape[-1]
    kernel = np.tile(taps[:, :, None, None], (1, 1, channels, 1)).astype(np.float32)
    kernel = ops.cast(ops.convert_to_tensor(kernel), x.dtype)
    return ops.depthwise_conv(x, kernel, strides=stride, padding="valid")


def _upsample_axis(x, taps: np.ndarray, up: int, low: int, high: int, axis: int):
    """Zero-stuff by ``up``, pad ``low``/``high`` and correlate with ``taps`` along ``axis``, computed
    polyphase: output phase ``r`` (samples ``up * m + r``) is a correlation of the input itself with
    every ``up``-th tap, so neither the zeros nor their products are ever made."""
    length = x.shape[axis]
    count = up * length + low + high - len(taps) + 1            # output samples
    phases = []
    for r in range(up):
        first = (low - r) % up                                   # the first tap that meets a sample
        sub = taps[first::up]
        start = (r + first - low) // up                          # input index of output m = 0, tap 0
        outputs = len(range(r, count, up))
        if outputs == 0 or len(sub) == 0:
            phases.append(None)
            continue
        end = start + outputs - 1 + len(sub)                     # one past the last input index used
        y = _pad_axis(x, -start, end - length, axis)
        kernel = sub[None, :] if axis == 2 else sub[:, None]
        phases.append((_depthwise(y, kernel, (1, 1)), outputs))
    longest = max(n for _, n in (p for p in phases if p is not None))
    parts = []
    for phase in phases:
        if phase is None:
            shape = list(ops.shape(x))
            shape[axis] = longest
            parts.append(ops.zeros(shape, x.dtype))
        else:
            y, n = phase
            parts.append(_pad_axis(y, 0, longest - n, axis) if n < longest else y)
    stacked = ops.stack(parts, axis=axis + 1)                    # (..., longest, up, ...)
    shape = list(ops.shape(parts[0]))
    shape[axis] = longest * up
    merged = ops.reshape(stacked, shape)
    return _pad_axis(merged, 0, count - longest * up, axis) if count != longest * up else merged


def upfirdn2d(x, f: np.ndarray | None, up: int = 1, down: int = 1, padding: Sequence[int] = (0, 0, 0, 0),
              gain: float = 1.0, flip: bool = False):
    """``(N, H, W, C)`` -> ``(N, (H*up + py0 + py1 - fh + 1) / down, ...)`` (rounded up); ``padding``
    is ``[x_low, x_high, y_low, y_high]`` on the upsampled grid; ``f`` ``(taps,)``, ``(fh, fw)`` or
    None (the identity)."""
    px0, px1, py0, py1 = (int(p) for p in padding)
    if f is None:
        f = np.ones([1, 1], np.float32)
    f = np.asarray(f, np.float64) * gain ** (np.ndim(f) / 2)
    if not flip:
        f = f[::-1] if f.ndim == 1 else f[::-1, ::-1]
    if f.ndim == 1 and up > 1:     # separable upsampling: polyphase, then keep every down-th sample
        x = _upsample_axis(x, f, up, px0, px1, 2)
        x = _upsample_axis(x, f, up, py0, py1, 1)
        return x[:, ::down, ::down, :] if down > 1 else x
    x = _zero_insert(_zero_insert(x, up, 1), up, 2)
    x = _pad_axis(_pad_axis(x, py0, py1, 1), px0, px1, 2)
    if f.ndim == 1:
        x = _depthwise(x, f[None, :], (1, down))
        return _depthwise(x, f[:, None], (down, 1))
    if f.shape == (1, 1) and f[0, 0] == 1.0:
        return x[:, ::down, ::down, :] if down > 1 else x
    return _depthwise(x, f, (down, down))


def bias_act(x, bias=None, activation: str = "linear", slope: float = 0.2, gain: float | None = None,
             clamp: float | None = None):
    """``x + bias`` (over the last axis), leaky ReLU (``slope``) or linear, times ``gain`` (lrelu's
    default: sqrt 2), clamped to +-``clamp``: NVIDIA's ``bias_act``."""
    if bias is not None:
        x = x + ops.cast(bias, x.dtype)
    if activation == "lrelu":
        x = ops.where(x >= 0, x, x * slope)
        gain = np.sqrt(2) if gain is None else gain
    elif activation != "linear":
        raise ValueError(f"activation {activation}")
    if gain is not None and gain != 1:
        x = x * float(gain)
    if clamp is not None and clamp >= 0:
        x = ops.clip(x, -float(clamp), float(clamp))
    return x


def filtered_lrelu(x, up_filter, down_filter, bias, up: int, down: int, padding: Sequence[int],
                   gain: float, slope: float, clamp: float | None):
    """StyleGAN3's filtered leaky ReLU: add ``bias``, upsample by ``up`` through ``up_filter`` (gain
    ``up**2``, ``padding`` as in :func:`upfirdn2d`), leaky ReLU times ``gain`` clamped to +-``clamp``,
    then downsample by ``down`` through ``down_filter``."""
    x = bias_act(x, bias)
    x = upfirdn2d(x, up_filter, up=up, padding=padding, gain=up ** 2)
    x = bias_act(x, None, "lrelu", slope=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, down_filter, down=down)
