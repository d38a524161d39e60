"""Image helpers the engines share, in numpy: seeded noise to start from, float -> 8-bit frames, and
resampling matrices (bilinear, area) for fixed sizes."""

from __future__ import annotations

import numpy as np


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """float32 ``(out_size, in_size)``: linear interpolation with aligned pixel centres
    (``(i + 0.5) * in / out - 0.5``), edges clamped; no antialiasing (for enlarging)."""
    centres = np.clip((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0, in_size - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, in_size - 1)
    frac = (centres - low).astype(np.float32)
    weights = np.zeros((out_size, in_size), np.float32)
    np.add.at(weights, (np.arange(out_size), low), 1.0 - frac)
    np.add.at(weights, (np.arange(out_size), high), frac)
    return weights


def area_matrix(in_size: int, out_size: int) -> np.ndarray:
    """float32 ``(out_size, in_size)``: each output pixel the average of the input span it covers
    (fractional pixels weighted by their overlap), as an "area" resize."""
    edges = np.arange(out_size + 1) * in_size / out_size
    lo, hi = edges[:-1, None], edges[1:, None]
    taps = np.arange(in_size)[None, :]
    overlap = np.clip(np.minimum(hi, taps + 1) - np.maximum(lo, taps), 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def resize_with(matrix_of, image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image (..., h, w, c)`` resized with the separable matrices ``matrix_of(in, out)``."""
    wy = matrix_of(image.shape[-3], height)
    wx = matrix_of(image.shape[-2], width)
    return np.einsum("Yy,...yxc,Xx->...YXc", wy, image, wx, optimize=True).astype(np.float32)


def noise_image(seed: int, width: int, height: int) -> np.ndarray:
    """Seeded fractal noise around mid-grey (blobs of 32, 8 and 2 px), float32 ``(height, width, 3)``."""
    rng = np.random.default_rng([seed, 0x6E6F697365])
    image = np.full((height, width, 3), 0.5, np.float32)
    for cell, amplitude in ((32, 0.12), (8, 0.06), (2, 0.03)):
        small = rng.normal(0.0, amplitude, (max(2, height // cell), max(2, width // cell), 3)).astype(np.float32)
        image += resize_with(bilinear_matrix, small, height, width)
    return np.clip(image, 0.0, 1.0)


class PaddedBatches:
    """Calls a compiled ``fn`` on batches padded with zero rows to the largest batch seen, so a last,
    shorter batch reuses the graph compiled for full batches; ``call(batch, keep)`` returns the first
    ``keep`` outputs as numpy."""

    def __init__(self, fn):
        self.fn, self.rows = fn, 0

    def __call__(self, batch: np.ndarray, keep: int) -> np.ndarray:
        self.rows = max(self.rows, len(batch))
        if len(batch) < self.rows:
            batch = np.concatenate([batch, np.zeros((self.rows - len(batch),) + batch.shape[1:], batch.dtype)])
        return np.asarray(self.fn(batch))[:keep]


def to_uint8(image) -> np.ndarray:
    return np.round(np.clip(np.asarray(image), 0.0, 1.0) * 255.0).astype(np.uint8)
