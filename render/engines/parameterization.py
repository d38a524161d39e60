"""How a feature visualization's image is represented while it is optimised (keras.ops only).

Olah, Mordvintsev and Schubert, "Feature Visualization" (Distill, 2017): gradient ascent on plain
pixels finds high-frequency patterns the network responds to but people do not see as structure;
optimising a *decorrelated* representation, where each parameter moves a spatial frequency of a
decorrelated colour channel with a step scaled like natural images' spectra, makes every frequency
and colour direction equally easy to change, and the picture shows shapes instead of noise.

- ``pixels``: the parameters are the image (through the colour transform and a sigmoid);
- ``fft``: the parameters are the real and imaginary parts of each channel's 2-D spectrum, scaled by
  ``1 / max(f, 1 / max(h, w)) ** decay`` (f in cycles per pixel: natural images' amplitude falls
  roughly as ``1 / f``; the kind's default decay 1.5 gives pictures whose top octave holds 1.4x a
  photo's share of power, Lucid's 1 gives 4.6x), then transformed back with an inverse FFT.

``decorrelate``: the three channels are combined with :data:`COLOR_CORRELATION_SQRT`, the square root
of the colour covariance of natural images (ImageNet photos, as published with the Lucid library by
its authors: the 3 x 3 matrix below, scaled so its largest column norm is 1), so each parameter
channel is one independent colour direction (roughly luminance, red-green, blue-yellow).

Every parameter value maps to a valid colour: the last step is a sigmoid, never a clip, so no pixel is
clipped and no gradient is cut (:func:`to_image`).  Shapes: parameters ``(batch, 2, h, w, 3)`` for
``fft`` (real and imaginary planes), ``(batch, h, w, 3)`` for ``pixels``; images ``(batch, h, w, 3)``
in 0..1.
"""

from __future__ import annotations

import numpy as np

from ..backend.kerasops import ops

# sqrt of the colour covariance of ImageNet photos in RGB (Lucid, lucid/optvis/param/color.py)
_COLOR_SQRT = np.array([[0.26, 0.09, 0.02],
                        [0.27, 0.00, -0.05],
                        [0.27, -0.09, 0.03]], dtype=np.float64)
COLOR_CORRELATION_SQRT = (_COLOR_SQRT / np.max(np.linalg.norm(_COLOR_SQRT, axis=0))).astype(np.float32)


def spectrum_scale(height: int, width: int, decay: float = 1.0) -> np.ndarray:
    """float32 ``(h, w)``: the step of each frequency, ``1 / max(f, 1/max(h, w)) ** decay`` with f the
    frequency's magnitude in cycles per pixel, times ``sqrt(h w)`` (undoing the inverse FFT's
    ``1 / (h w)`` for a spectrum of white noise, so the image's contrast does not depend on its size).

    ``decay`` only moves the steps between frequencies: the scale is normalised to the root mean
    square of ``decay = 1``'s (Lucid's), so a steeper decay is smoother rather than louder (without
    the normalisation, decay 1.5 made the lowest frequencies' steps 11x larger at 128 px and 23 %
    of the pixels saturated: BENCHMARKS.md)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    floor = np.maximum(np.sqrt(fx * fx + fy * fy), 1.0 / max(height, width))
    lucid = 1.0 / floor
    scale = lucid ** decay
    scale = scale * np.sqrt(np.mean(lucid ** 2) / np.mean(scale ** 2))
    return (np.sqrt(height * width) * scale).astype(np.float32)


def init_parameters(kind: str, batch: int, height: int, width: int, rng: np.random.Generator,
                    std: float = 0.1) -> np.ndarray:
    """Small random float32 parameters of ``kind`` (a near-grey start), from ``rng``."""
    shape = (batch, 2, height, width, 3) if kind == "fft" else (batch, height, width, 3)
    return (rng.standard_normal(shape) * std).astype(np.float32)


def linear_image(params, kind: str, scale=None):
    """The representation before colour: ``(batch, h, w, 3)``, unbounded.  ``scale`` is
    :func:`spectrum_scale` ``(h, w)`` for ``fft``."""
    if kind == "pixels":
        return params
    real = params[:, 0] * scale[None, :, :, None]
    imag = params[:, 1] * scale[None, :, :, None]
    # channels first for the 2-D transform over (h, w); the real part of the inverse FFT
    real, imag = ops.transpose(real, (0, 3, 1, 2)), ops.transpose(imag, (0, 3, 1, 2))
    spatial, _ = ops.ifft2((real, imag))
    return ops.transpose(spatial, (0, 2, 3, 1)) / np.float32(4.0)


def to_image(linear, decorrelate: bool = True):
    """Linear representation -> colours in 0..1: the colour transform (when ``decorrelate``), then a
    sigmoid.  Any input gives valid colours and a non-zero gradient."""
    if decorrelate:
        linear = ops.einsum("bhwc,dc->bhwd", linear, COLOR_CORRELATION_SQRT)
    return ops.sigmoid(linear)


def image_of(params, kind: str, decorrelate: bool, scale=None):
    """Parameters -> images ``(batch, h, w, 3)`` in 0..1."""
    return to_image(linear_image(params, kind, scale), decorrelate)
