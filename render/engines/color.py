"""Colour coherence for feedback videos: pull a frame's colour statistics toward a reference frame.

Dreaming the previous frame again and again drifts toward saturated, clipped colours.  Matching each
channel's mean and standard deviation in YCbCr (luma and two chroma axes, nearly decorrelated) to the
first frame's keeps the palette of the piece while the forms keep changing.
"""

from __future__ import annotations

import numpy as np

RGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114],
                          [-0.168736, -0.331264, 0.5],
                          [0.5, -0.418688, -0.081312]], np.float32)
YCBCR_TO_RGB = np.linalg.inv(RGB_TO_YCBCR).astype(np.float32)


def channel_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each YCbCr channel of float RGB ``(H, W, 3)``: two arrays of shape ``(3,)``."""
    ycc = image.reshape(-1, 3) @ RGB_TO_YCBCR.T
    return ycc.mean(axis=0), ycc.std(axis=0)


def match_colors(image: np.ndarray, reference: tuple[np.ndarray, np.ndarray], strength: float) -> np.ndarray:
    """Float RGB ``(H, W, 3)`` in 0..1 with its YCbCr mean/std moved ``strength`` (0..1) of the way to
    ``reference`` (from :func:`channel_stats`); returns the same shape, clipped to 0..1."""
    if strength <= 0.0:
        return image
    ycc = image.reshape(-1, 3) @ RGB_TO_YCBCR.T
    mean, std = ycc.mean(axis=0), ycc.std(axis=0)
    ref_mean, ref_std = reference
    matched = (ycc - mean) * (ref_std / np.maximum(std, 1e-6)) + ref_mean
    mixed = (1.0 - strength) * ycc + strength * matched
    rgb = mixed @ YCBCR_TO_RGB.T
    return np.clip(rgb, 0.0, 1.0).reshape(image.shape).astype(np.float32)


def keep_content_colours(styled: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance of ``styled`` with the chroma (Cb, Cr) of ``content``; float RGB ``(H, W, 3)``."""
    y = (styled.reshape(-1, 3) @ RGB_TO_YCBCR.T)[:, :1]
    chroma = (content.reshape(-1, 3) @ RGB_TO_YCBCR.T)[:, 1:]
    rgb = np.concatenate([y, chroma], axis=1) @ YCBCR_TO_RGB.T
    return np.clip(rgb, 0.0, 1.0).reshape(styled.shape).astype(np.float32)
