"""pix2pix translation of batches of frames.

Each job's input frame (from the recipe's image, folder or video) is fitted to the model's square
size: as it is (a drawing: luminance) or, with ``edges``, through HED first (found at 128 px, drawn
dark on white, the way the model's training pairs were made).  The generator maps the batch
``(n, size, size, c)`` in -1..1 to pictures, which are resized (Lanczos) to the output size as uint8
``(H, W, 3)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ModelError
from ..contracts import FrameJob
from ..models import build
from ..models.pix2pix import unet_generator
from ..backend import current
from ..backend.kerasops import ops
from ..training.pairs import load_hed, sketch_from_drawing, sketch_from_photo
from .images import PaddedBatches
from .resample import make_resizer


def load_translator(model):
    """The trained U-Net of a model folder (model.json + generator.weights.h5)."""
    import json
    meta = json.loads((model.path / "model.json").read_text())
    config = meta["config"]
    generator = unet_generator(config["size"], meta["in_channels"], meta["out_channels"], config["ngf"])
    try:
        generator.load_weights(str(model.weights_file()))
    except Exception as err:  # h5py and Keras raise many types
        raise ModelError(f"cannot load {model.weights_file()}: {err}") from None
    return generator


@dataclass
class TranslateEngine:
    generator: object
    source: object
    size: int
    edges: bool
    width: int
    height: int
    hed: object = None

    @classmethod
    def from_recipe(cls, recipe, generator=None) -> "TranslateEngine":
        s = recipe.settings
        width, height = recipe.output.size
        generator = generator or build.with_compute_dtype(load_translator(recipe.model), recipe.precision)
        engine = cls(generator, s.source, s.size, s.edges, width, height, load_hed() if s.edges else None)
        resize = make_resizer((s.size, s.size), (height, width))

        def translate(sketches):
            pictures = (ops.cast(engine.generator(sketches * 2.0 - 1.0, training=False), "float32") + 1.0) / 2.0
            return ops.cast(ops.round(ops.clip(resize(pictures), 0.0, 1.0) * 255.0), "uint8")

        engine.translate = PaddedBatches(current().compile(translate, [engine.generator], name="translate"))
        return engine

    def sketches(self, jobs: Sequence[FrameJob]) -> np.ndarray:
        """float32 ``(len(jobs), size, size, 1)`` model inputs in 0..1."""
        if self.edges:
            frames = np.stack([self.source.read(job.index, 128, 128) for job in jobs])
            return sketch_from_photo(self.hed, frames, self.size)
        frames = np.stack([self.source.read(job.index, self.size, self.size) for job in jobs])
        return sketch_from_drawing(frames)

    def render_batch(self, jobs: Sequence[FrameJob]) -> list[np.ndarray]:
        return list(self.translate(self.sketches(jobs), len(jobs)))
