"""Tiled, randomly rolled gradients of a DeepDream objective, for images of any size.

The image is rolled by a random offset, cut into a grid of near-equal pieces no larger than ``tile`` on
a side (520 px with tile 512 gives two 260 px pieces, not 512 + 8), and each piece's gradient is
computed on its own, so memory is bounded by one tile, and written into its place in the frame (no
full-size temporary per tile); rolling moves the tile borders every step so no seam builds up.  When
one tile covers the image there is no roll and the result is exactly the untiled gradient.  Each
tile's objective is scaled by its share of the image area, so the tile gradients add up to the
gradient of the whole image's mean objective (up to border effects).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..tfsetup import tf


def roll_offsets(rng: np.random.Generator, steps: int, height: int, width: int, tile: int) -> np.ndarray:
    """int32 ``(steps, 2)`` (dy, dx) per step: zeros when a single tile covers the image."""
    if height <= tile and width <= tile:
        return np.zeros((steps, 2), np.int32)
    return np.stack([rng.integers(0, height, steps), rng.integers(0, width, steps)], axis=1).astype(np.int32)


def _even_split(length, tile):
    """Piece length that splits ``length`` into ceil(length / tile) near-equal pieces."""
    pieces = (length + tile - 1) // tile
    return (length + pieces - 1) // pieces


def make_tiled_gradient(loss_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]):
    """Build ``gradient(image, shift, tile, weights) -> gradient`` (graph code, call inside tf.function).

    ``loss_fn(batch, weights)`` maps a ``(1, h, w, 3)`` 0..1 batch to a scalar objective;
    ``image`` is ``(H, W, 3)``, ``shift`` int32 ``(2,)``, ``tile`` an int32 scalar.
    """

    def gradient(image, shift, tile, weights):
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        area = tf.cast(height * width, tf.float32)
        rolled = tf.roll(image, shift=shift, axis=[0, 1])
        tile_h = _even_split(height, tile)
        tile_w = _even_split(width, tile)
        # each tile's gradient goes straight into its strip, and the strips into the frame: memory
        # traffic grows with the pixels, not with tiles x pixels (no full-size temporary per tile)
        strips = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
        for y in tf.range(0, height, tile_h):
            pieces = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False)
            for x in tf.range(0, width, tile_w):
                patch = rolled[y:y + tile_h, x:x + tile_w]
                with tf.GradientTape() as tape:
                    tape.watch(patch)
                    share = tf.cast(tf.shape(patch)[0] * tf.shape(patch)[1], tf.float32) / area
                    loss = loss_fn(patch[tf.newaxis], weights) * share
                # (h, w, 3) -> (w, h, 3): TensorArray.concat joins along the first axis
                pieces = pieces.write(pieces.size(), tf.transpose(tape.gradient(loss, patch), (1, 0, 2)))
            strips = strips.write(strips.size(), tf.transpose(pieces.concat(), (1, 0, 2)))
        total = tf.reshape(strips.concat(), tf.shape(image))
        return tf.roll(total, shift=-shift, axis=[0, 1])

    return gradient
