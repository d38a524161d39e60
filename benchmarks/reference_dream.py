"""A plain DeepDream in the style of the public TensorFlow DeepDream tutorial, for benchmarks only.

Same algorithm as render.engines.dream, written the tutorial's way: octaves by resizing the image,
one ``tf.function`` call per gradient step (tiled, randomly rolled, every tile of the image covered;
the tutorial itself skips the last partial tile row/column), eager update and clip in Python, PIL for
warps and PNG files.  Images are RGB floats in 0..1 so both implementations take identical inputs.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from render.tfsetup import tf


class ReferenceDream:
    def __init__(self, extractor, weights):
        self.extractor = extractor
        self.weights = [float(w) for w in weights]

        @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32),
                                      tf.TensorSpec([], tf.int32)])
        def tiled_gradients(img, tile_size):
            shift = tf.random.uniform([2], minval=-tile_size, maxval=tile_size, dtype=tf.int32)
            img_rolled = tf.roll(img, shift=shift, axis=[0, 1])
            gradients = tf.zeros_like(img_rolled)
            height, width = tf.shape(img)[0], tf.shape(img)[1]
            for x in tf.range(0, width, tile_size):
                for y in tf.range(0, height, tile_size):
                    with tf.GradientTape() as tape:
                        tape.watch(img_rolled)
                        tile = img_rolled[y:y + tile_size, x:x + tile_size]
                        loss = self.calc_loss(tile)
                    gradients = gradients + tape.gradient(loss, img_rolled)
            gradients = tf.roll(gradients, shift=-shift, axis=[0, 1])
            return gradients / (tf.math.reduce_std(gradients) + 1e-8)

        self.tiled_gradients = tiled_gradients

    def calc_loss(self, tile):
        activations = self.extractor(tile[tf.newaxis])
        return tf.add_n([w * tf.reduce_mean(a) for w, a in zip(self.weights, activations)])

    def step(self, img, tile_size, step_size):
        gradients = self.tiled_gradients(img, tf.constant(tile_size))
        return tf.clip_by_value(img + gradients * step_size, 0.0, 1.0)

    def dream(self, img: np.ndarray, octaves: int, octave_scale: float, steps: int, step_size: float,
              tile_size: int) -> np.ndarray:
        """Float (H, W, 3) 0..1 -> dreamed image of the same size."""
        base_shape = np.array(img.shape[:2], np.float32)
        img = tf.constant(img)
        for octave in range(-(octaves - 1), 1):
            new_size = tf.cast(base_shape * octave_scale ** octave, tf.int32)
            img = tf.image.resize(img, new_size)
            for _ in range(steps):
                img = self.step(img, tile_size, step_size)
        return tf.image.resize(img, base_shape.astype(np.int32)).numpy()


def warp_with_pil(frame: np.ndarray, zoom: float, rotate: float) -> np.ndarray:
    """uint8 (H, W, 3): zoom about the centre and rotate, as a plain script would with PIL."""
    image = Image.fromarray(frame)
    width, height = image.size
    image = image.rotate(rotate, resample=Image.Resampling.BILINEAR)
    crop_w, crop_h = width / zoom, height / zoom
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    image = image.resize((width, height), Image.Resampling.BILINEAR, box=(left, top, left + crop_w, top + crop_h))
    return np.asarray(image)
