"""GAN latent walks: batches of latents through a generator, tiled into grids and resized.

Each job's row carries ``walk.latent`` (float64 ``(cells * latent_size,)``) and ``walk.truncation``.
One compiled call turns a batch of latents ``(batch * cells, latent_size)`` into uint8 frames
``(batch, H, W, 3)``: generate, map the output range to 0..1, tile each frame's cells into a mosaic,
resize it to the output size (Lanczos), round to 8 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ..contracts import FrameJob
from ..models import build
from ..models.generators import load_dcgan_faces
from ..backend import current
from ..backend.kerasops import ops
from .images import PaddedBatches
from .resample import make_resizer


def load_generator(model, precision: str):
    """The recipe's generator as a Keras model computing in ``precision``."""
    if model.path is not None:
        generator = build.user_keras_model(model.path)
    else:
        generator = load_dcgan_faces(model.weights_file())
    return build.with_compute_dtype(generator, precision)


def truncated_latents(rows: Sequence, latent_size: int) -> np.ndarray:
    """Plan rows (``walk.latent`` of ``cells * latent_size``, ``walk.truncation``) -> float32
    ``(len(rows) * cells, latent_size)``."""
    latents = [np.asarray(row["walk.latent"]) * row["walk.truncation"] for row in rows]
    return np.stack(latents).reshape(-1, latent_size).astype(np.float32)


def generated_rgb(generator, latents, output_range: tuple[float, float]):
    """The generator's images for ``latents`` as float32 RGB ``(n, h, w, 3)`` with 0..1 spanning its
    output range (keras.ops: works inside a compiled function and eagerly)."""
    images = ops.cast(generator(latents, training=False), "float32")
    if len(images.shape) != 4 or images.shape[-1] not in (1, 3):
        raise ModelError(f"the generator's output is not an image batch: shape {tuple(images.shape)}")
    if images.shape[-1] == 1:
        images = ops.repeat(images, 3, axis=-1)
    low, high = output_range
    return (images - low) / (high - low)


@dataclass
class WalkEngine:
    generator: object
    width: int
    height: int
    grid: tuple[int, int]
    latent_size: int
    output_range: tuple[float, float]

    @classmethod
    def from_recipe(cls, recipe, generator=None) -> "WalkEngine":
        """``generator``: an already built Keras generator to reuse (tests and benchmarks share one)."""
        s = recipe.settings
        generator = generator if generator is not None else load_generator(recipe.model, recipe.precision)
        width, height = recipe.output.size
        engine = cls(generator, width, height, s.grid, s.latent_size, s.output_range)
        engine._compile()
        return engine

    def _compile(self) -> None:
        cols, rows = self.grid
        h, w = (int(d) for d in self.generator.output_shape[1:3])
        resize = make_resizer((rows * h, cols * w), (self.height, self.width))

        def frames(latents):
            images = generated_rgb(self.generator, latents, self.output_range)
            mosaic = ops.reshape(images, (-1, rows, cols, h, w, 3))
            mosaic = ops.reshape(ops.transpose(mosaic, (0, 1, 3, 2, 4, 5)), (-1, rows * h, cols * w, 3))
            resized = resize(mosaic)  # Lanczos-3 as two matmuls
            return ops.cast(ops.round(ops.clip(resized, 0.0, 1.0) * 255.0), "uint8")

        self.frames = current().compile(frames, [self.generator], name="walk frames")
        self._padded = PaddedBatches(self.frames)

    def latents(self, jobs: Sequence[FrameJob]) -> np.ndarray:
        """float32 ``(len(jobs) * cells, latent_size)``: each job's cells, truncated."""
        return truncated_latents([job.row for job in jobs], self.latent_size)

    def render_batch(self, jobs: Sequence[FrameJob]) -> list[np.ndarray]:
        return list(self._padded(self.latents(jobs), len(jobs)))
