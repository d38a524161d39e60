"""Transformation robustness for feature visualization: each optimisation step sees the image padded,
shifted, scaled and rotated at random, so only patterns that survive small changes of position, size
and angle grow (Olah et al., "Feature Visualization", Distill 2017, section "Transformation
robustness"; Mordvintsev et al.'s jitter for DeepDream).

A :class:`Transforms` holds the settings; :meth:`Transforms.draw` makes the random parameters of one
step from a seeded generator (numpy, so a frame is reproducible and the compiled graph sees them as
ordinary inputs); :func:`apply` applies them with one affine resampling (keras.ops).

Shapes: images ``(batch, h, w, 3)``; parameters ``(batch, 4)`` float32: scale, angle (radians),
shift x, shift y (pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend.kerasops import ops


@dataclass(frozen=True)
class Transforms:
    """``pad`` pixels of grey around the image first (so shifted content is not wrapped), then a
    random shift of up to ``jitter`` pixels, a scale drawn from ``scales`` and a rotation of up to
    ``rotate`` degrees either way.  The default is the field's usual set (Lucid's "standard
    transforms": pad 12, jitter 8, scales 0.9..1.1, rotation 10 degrees)."""

    pad: int = 12
    jitter: int = 8
    scales: tuple[float, ...] = tuple(1.0 + (i - 5) / 50.0 for i in range(11))
    rotate: float = 10.0

    @classmethod
    def none(cls) -> "Transforms":
        return cls(0, 0, (1.0,), 0.0)

    def draw(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        """float32 ``(batch, 4)``: each image's scale, angle, shift x and shift y for one step."""
        scale = rng.choice(np.asarray(self.scales, np.float64), size=batch)
        angle = np.radians(rng.uniform(-self.rotate, self.rotate, size=batch)) if self.rotate else np.zeros(batch)
        shift = rng.integers(-self.jitter, self.jitter + 1, size=(batch, 2)) if self.jitter else np.zeros((batch, 2))
        return np.column_stack([scale, angle, shift]).astype(np.float32)


def apply(images, params, pad: int):
    """Pad ``images`` with grey by ``pad`` pixels, then resample each with its scale, rotation (about
    the centre) and shift (bilinear).  Differentiable with respect to ``images``."""
    if pad:
        images = ops.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=0.5)
    height, width = images.shape[1], images.shape[2]
    scale, angle, dx, dy = params[:, 0], params[:, 1], params[:, 2], params[:, 3]
    # output pixel (x, y) reads input (a0 x + a1 y + a2, b0 x + b1 y + b2): the inverse of
    # "scale by s and turn by angle about the centre, then shift by (dx, dy)"
    cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a2 = cx - cos * (cx + dx) - sin * (cy + dy)
    b2 = cy + sin * (cx + dx) - cos * (cy + dy)
    zeros = ops.zeros_like(scale)
    transform = ops.stack([cos, sin, a2, -sin, cos, b2, zeros, zeros], axis=1)
    return ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="reflect")
