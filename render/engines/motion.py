"""Between-frame motion for zoom videos: scale, rotate and pan about the image centre."""

from __future__ import annotations

import math

import numpy as np


def motion_matrix(width: int, height: int, zoom: float, rotate_deg: float,
                  pan_x: float, pan_y: float) -> np.ndarray:
    """The 8 projective coefficients mapping output pixel -> input pixel (the convention of
    ``keras.ops.image.affine_transform`` and TensorFlow's projective transforms).

    The content is scaled by ``zoom`` (>1 zooms in), rotated by ``rotate_deg`` counter-clockwise and
    moved by ``(pan_x, pan_y)`` pixels, all about the image centre.
    """
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    theta = math.radians(rotate_deg)
    cos, sin = math.cos(theta) / zoom, math.sin(theta) / zoom
    # input = R(-theta)/zoom * (output - centre - pan) + centre, with y pointing down
    ox, oy = cx + pan_x, cy + pan_y
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - a0 * ox - a1 * oy
    b2 = cy - b0 * ox - b1 * oy
    return np.array([a0, a1, a2, b0, b1, b2, 0.0, 0.0], dtype=np.float32)


def is_identity(zoom: float, rotate_deg: float, pan_x: float, pan_y: float) -> bool:
    return zoom == 1.0 and rotate_deg == 0.0 and pan_x == 0.0 and pan_y == 0.0


def apply_motion(image: np.ndarray, zoom: float, rotate_deg: float, pan_x: float, pan_y: float) -> np.ndarray:
    """Warp float ``(H, W, 3)`` with bilinear sampling; uncovered edges mirror the image.  Returns
    float32 numpy ``(H, W, 3)``.  The warp (``keras.ops.image.affine_transform``) is compiled once
    per frame size on the active backend, the matrix being an input."""
    image = np.asarray(image, np.float32)
    if is_identity(zoom, rotate_deg, pan_x, pan_y):
        return image
    from ..backend import compiled
    from ..backend.kerasops import ops

    def warp(images, matrices):
        return ops.image.affine_transform(images, matrices, interpolation="bilinear", fill_mode="reflect",
                                          data_format="channels_last")

    height, width = image.shape[:2]
    matrix = motion_matrix(width, height, zoom, rotate_deg, pan_x, pan_y)
    return np.asarray(compiled("motion", warp)(image[np.newaxis], matrix[np.newaxis])[0], np.float32)
