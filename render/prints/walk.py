"""Walk prints: the frame's grid of generated faces at print size.  Each cell comes from the generator
at its native size and is resampled (Lanczos-3, two matmuls) to cover its cell, one cell at a time,
straight into a float canvas, so memory is the canvas plus one cell whatever the size.

One stage, no optimisation steps; the state is the finished canvas ``{"image": (H, W, 3)}``.
"""

from __future__ import annotations

import numpy as np

from ..engines.resample import make_resizer
from ..engines.walk import generated_rgb, load_generator, truncated_latents
from ..contracts import PrintRequest


def cell_bounds(length: int, count: int) -> list[tuple[int, int]]:
    cuts = [round(i * length / count) for i in range(count + 1)]
    return list(zip(cuts, cuts[1:]))


class WalkPrinter:
    def __init__(self, recipe, generator=None):
        self.settings = recipe.settings
        self.stylegan = None
        if recipe.settings.stylegan is not None:   # StyleGAN: the walk engine makes the cells
            from ..engines.stylegan_walk import StyleGANWalkEngine
            self.stylegan = StyleGANWalkEngine.from_recipe(recipe, generator)
        else:
            self.generator = generator if generator is not None else load_generator(recipe.model, recipe.precision)

    def begin(self, request: PrintRequest) -> dict:
        return {}

    def faces(self, request: PrintRequest) -> np.ndarray:
        """float32 ``(cells, h, w, 3)`` in 0..1, cells in row-major grid order."""
        if self.stylegan is not None:
            cells = self.stylegan.frame_cells(request.frame, request.row)
            return np.clip(cells / 255.0, 0.0, 1.0)
        latents = truncated_latents([request.row], self.settings.latent_size)
        images = generated_rgb(self.generator, latents, self.settings.output_range)
        return np.clip(np.asarray(images), 0.0, 1.0)

    def run_stage(self, request, stage, state, tile, on_step):
        cols, rows = self.settings.grid
        faces = self.faces(request)
        canvas = np.empty((request.height, request.width, 3), np.float32)
        fh, fw = faces.shape[1:3]
        resizers = {}
        for r, (y0, y1) in enumerate(cell_bounds(request.height, rows)):
            for c, (x0, x1) in enumerate(cell_bounds(request.width, cols)):
                ch, cw = y1 - y0, x1 - x0
                scale = max(ch / fh, cw / fw)  # cover the cell, centre-cropped: faces keep their shape
                out = (max(ch, round(fh * scale)), max(cw, round(fw * scale)))
                if out not in resizers:
                    resizers[out] = make_resizer((fh, fw), out)
                big = np.asarray(resizers[out](faces[r * cols + c][np.newaxis]))[0]
                top, left = (out[0] - ch) // 2, (out[1] - cw) // 2
                canvas[y0:y1, x0:x1] = np.clip(big[top:top + ch, left:left + cw], 0.0, 1.0)
        on_step(stage, 0)
        return {"image": canvas}

    def finish(self, request, state) -> np.ndarray:
        return state["image"]
