"""Image sizes the engines work at, computed without any framework (the kinds plan prints and memory
with them too).

Octave sizes are *bucketed*: a compiled graph (``jax.jit``, ``tf.function``) serves one image shape,
so every intermediate octave side is rounded to a multiple of :data:`OCTAVE_BUCKET` pixels.  A video
whose octave settings are constant then compiles one graph per octave for the whole run, and one
whose ``octave_scale`` or ``octaves`` are keyframed compiles at most one graph per bucket a side
passes through (26 shapes in all, 13 per octave, for a 1080p frame whose scale moves from 1.3
to 1.5 over 240 frames, against 455 without buckets) instead of one per frame.  The last octave is always the frame's own size.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

OCTAVE_BUCKET = 32


def bucket(side: float, full: int, min_side: int) -> int:
    """``side`` rounded to a multiple of :data:`OCTAVE_BUCKET`, kept within ``min_side .. full``."""
    snapped = int(round(side / OCTAVE_BUCKET)) * OCTAVE_BUCKET
    return int(min(full, max(min_side, snapped)))


def octave_sizes(height: int, width: int, octaves: int, scale: float,
                 min_side: int = 32) -> list[tuple[int, int]]:
    """(h, w) of each octave, smallest first, ending at the full size; the smaller octaves are
    ``scale ** -k`` of the frame, bucketed (see the module notes), no side below ``min_side``."""
    sizes = []
    for k in range(octaves - 1, 0, -1):
        factor = scale ** -k
        sizes.append((bucket(height * factor, height, min_side), bucket(width * factor, width, min_side)))
    sizes.append((height, width))
    return sizes


def scale_sizes(height: int, width: int, scales: Sequence[float], min_side: int) -> list[tuple[int, int]]:
    """(h, w) of each style optimisation scale, coarse to fine; none below ``min_side``; the last is
    full size when the last scale is 1."""
    return [(max(min_side, round(height * s)), max(min_side, round(width * s))) for s in scales]


def nvidia_latent(seed: int, cell: int, size: int) -> np.ndarray:
    """A StyleGAN key's latent as NVIDIA's ``gen_images.py`` draws it:
    ``np.random.RandomState(seed).randn(size)`` (cell 0); other grid cells draw from ``seed`` and
    ``cell`` as :func:`key_latent` does."""
    if cell == 0:
        return np.random.RandomState(seed).randn(size)
    return key_latent(seed, cell, size)


def key_latent(seed: int, cell: int, size: int) -> np.ndarray:
    """The latent of a walk key: ``N(0, I)`` of ``size`` values drawn from ``seed`` (and ``cell`` > 0)."""
    rng = np.random.default_rng(seed if cell == 0 else [seed, cell])
    return rng.standard_normal(size)
