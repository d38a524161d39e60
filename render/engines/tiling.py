"""Tiled, randomly rolled gradients of a DeepDream objective, for images of any size.

The image is rolled by a random offset, cut into a grid of near-equal pieces no larger than ``tile`` on
a side (520 px with tile 512 gives two 260 px pieces, not 512 + 8), and each piece's gradient is
computed on its own, so memory is bounded by one tile; each piece's gradient is written into its
place in one frame-sized array (no full-size temporary per tile), and rolling moves the tile borders
every step so no seam builds up (the DeepDream tutorial's rolled tiles).  When one tile covers the image there is no
roll and the result is exactly the untiled gradient.  Each tile's objective is scaled by its share of
the image area, so the tile gradients add up to the gradient of the whole image's mean objective (up
to border effects).

A frame that fits in one tile runs each whole step as one compiled graph; a larger one (a print, a
big frame on a CPU) runs one compiled call per tile and joins the tiles on the host, so its memory
stays bounded by one tile (a graph holding every tile could run them at once).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def roll_offsets(rng: np.random.Generator, steps: int, height: int, width: int, tile: int) -> np.ndarray:
    """int32 ``(steps, 2)`` (dy, dx) per step: zeros when a single tile covers the image."""
    if height <= tile and width <= tile:
        return np.zeros((steps, 2), np.int32)
    return np.stack([rng.integers(0, height, steps), rng.integers(0, width, steps)], axis=1).astype(np.int32)


def even_split(length: int, tile: int) -> list[tuple[int, int]]:
    """(start, stop) of the ceil(length / tile) near-equal pieces of ``length`` (all but the last of
    one size, the last at most that size)."""
    pieces = (length + tile - 1) // tile
    piece = (length + pieces - 1) // pieces
    return [(start, min(length, start + piece)) for start in range(0, length, piece)]


def tiled_gradient(tile_gradient: Callable, image: np.ndarray, shift, tile: int, *args) -> np.ndarray:
    """Gradient ``(H, W, 3)`` of the whole image's objective, one compiled call per tile.

    ``tile_gradient(patch (h, w, 3), share, *args)`` is a compiled function giving the gradient of one
    patch's objective times ``share`` (the patch's fraction of the image area); ``shift`` is
    ``(dy, dx)``, ``tile`` the largest tile side.  Tiles run one after another, so memory is bounded
    by one tile's activations whatever the image size (a print), and an image has at most four tile
    shapes, so at most four graphs are compiled per image size."""
    height, width = image.shape[:2]
    if height <= tile and width <= tile:
        return np.asarray(tile_gradient(image, np.float32(1.0), *args))
    dy, dx = int(shift[0]), int(shift[1])
    rolled = np.roll(image, (dy, dx), axis=(0, 1))
    total = np.empty_like(rolled)
    area = float(height * width)
    for y0, y1 in even_split(height, tile):
        for x0, x1 in even_split(width, tile):
            share = np.float32((y1 - y0) * (x1 - x0) / area)
            total[y0:y1, x0:x1] = tile_gradient(np.ascontiguousarray(rolled[y0:y1, x0:x1]), share, *args)
    return np.roll(total, (-dy, -dx), axis=(0, 1))
