"""Style prints: the stored frame upscaled through scales (each at most twice the last) up to the print
size, optimised a fixed number of steps at each, so every scale adds detail at its own resolution.

Scales that fit in one tile run the ordinary compiled Adam loop; larger ones run tiled with Gram
matrices of the whole image accumulated over the tiles (render/engines/style_tiled.py), so the
whole print shares one style.  State between scales: ``{"image": float32 (h, w, 3)}``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..engines.color import keep_content_colours
from ..engines.style_tiled import TiledStyle, adam_tiled, tile_windows, tiled_targets
from ..contracts import PrintRequest
from ..media import fit_array

MARGIN = 32  # context around each tile's core, pixels (a multiple of 16)


def resize_float(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """float32 ``(h, w, 3)`` -> ``(height, width, 3)``, bicubic, channel by channel (bounded memory)."""
    if image.shape[:2] == (height, width):
        return image
    channels = [np.asarray(Image.fromarray(image[:, :, c]).resize((width, height), Image.Resampling.BICUBIC))
                for c in range(3)]
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0).astype(np.float32)


class StylePrinter:
    def __init__(self, engine):
        self.engine = engine
        self.tiled = TiledStyle(engine.objective)

    def begin(self, request: PrintRequest) -> dict:
        first = request.stages[0]
        return {"image": fit_array(request.source, first.width, first.height)}

    def run_stage(self, request, stage, state, tile, on_step):
        spec = request.stages[stage]
        image = resize_float(state["image"], spec.width, spec.height)
        content = self.engine.source.read(request.frame, spec.width, spec.height)
        row = request.row
        if max(spec.width, spec.height) <= tile:
            image, _ = self.engine.run_steps(image, self.engine.prepare(content, row), spec.steps)
            on_step(stage, spec.steps - 1)
            return {"image": image}

        def grams_of(style_image):
            h, w = style_image.shape[:2]
            return self.tiled.image_grams(style_image, tile_windows(h, w, tile, MARGIN))[0]

        term, style_w, content_w = self.engine.weights(row)
        style = self.engine.blended_grams(row, spec.height, spec.width, grams_of)
        targets = tiled_targets(self.tiled, content, style, content_w, tile, MARGIN,
                                self.engine.tv_reference(content, row))
        image, _ = adam_tiled(self.tiled, image, targets, term, style_w, float(row["style.learning_rate"]),
                              spec.steps, lambda step: on_step(stage, step))
        return {"image": image}

    def finish(self, request, state) -> np.ndarray:
        image = state["image"]
        if self.engine.settings.preserve_colors:
            content = self.engine.source.read(request.frame, request.width, request.height)
            image = keep_content_colours(image, content)
        return image
