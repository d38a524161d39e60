"""Plain-numpy pieces of a StyleGAN walk shared by the plan and the engine: the camera of a row, the
input transform it implies, and the seed of a frame's random noise."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def camera_of(row: Mapping) -> tuple[float, float, float]:
    """A plan row's StyleGAN3 camera: ``(translate x, translate y, rotate degrees)`` (0 when unset)."""
    translate = row.get("walk.translate")
    x, y = (0.0, 0.0) if translate is None else (float(translate[0]), float(translate[1]))
    rotate = row.get("walk.rotate")
    return x, y, 0.0 if rotate is None else float(rotate)


def noise_seed(recipe_seed: int, index: int) -> int:
    """The seed of frame ``index``'s random noise (``noise = "random"``)."""
    return int(np.random.SeedSequence([recipe_seed, index, 0x6E6F697365]).generate_state(1)[0])


def make_transform(translate: Sequence[float], degrees: float) -> np.ndarray:
    """The picture's rotation by ``degrees`` and its ``translate`` as ``gen_images.py`` builds it
    (3x3, float64); the network's input takes its inverse."""
    angle = np.deg2rad(degrees)
    s, c = np.sin(angle), np.cos(angle)
    return np.array([[c, s, translate[0]], [-s, c, translate[1]], [0, 0, 1]], np.float64)


def camera_transforms(cameras) -> np.ndarray:
    """``(N, 3)`` of (x, y, degrees) -> float32 ``(N, 3, 3)``: the inverse transforms the input takes."""
    return np.stack([np.linalg.inv(make_transform(c[:2], c[2])) for c in np.asarray(cameras, np.float64)]
                    ).astype(np.float32)
