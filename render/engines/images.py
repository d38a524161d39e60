"""Image helpers the engines share: seeded noise to start from, and float -> 8-bit frames."""

from __future__ import annotations

import numpy as np

from ..tfsetup import tf


def noise_image(seed: int, width: int, height: int) -> np.ndarray:
    """Seeded fractal noise around mid-grey (blobs of 32, 8 and 2 px), float32 ``(height, width, 3)``."""
    rng = np.random.default_rng([seed, 0x6E6F697365])
    image = np.full((height, width, 3), 0.5, np.float32)
    for cell, amplitude in ((32, 0.12), (8, 0.06), (2, 0.03)):
        small = rng.normal(0.0, amplitude, (max(2, height // cell), max(2, width // cell), 3)).astype(np.float32)
        image += tf.image.resize(small[np.newaxis], (height, width), method="bilinear")[0].numpy()
    return np.clip(image, 0.0, 1.0)


def to_uint8(image) -> np.ndarray:
    return np.round(np.clip(np.asarray(image), 0.0, 1.0) * 255.0).astype(np.uint8)
