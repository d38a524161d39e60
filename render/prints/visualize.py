"""Visualize prints: every cell of the frame (an atlas's channels, a frame's variants, or the one
image) optimised again at its print size, not upscaled, so an A2 atlas of 64 channels is as sharp as
the paper allows.  A cell starts from its own seeded parameters at the new size and sees the
frame's transforms scaled by the size ratio (pad and jitter in pixels grow with the cell), so it shows
the same kind of structure as the poster with more detail.  Cells are rendered one at a time into a
float canvas; one stage, the state is the canvas.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..contracts import PrintRequest
from .walk import cell_bounds


class VisualizePrinter:
    def __init__(self, engine):
        self.engine = engine

    def begin(self, request: PrintRequest) -> dict:
        return {}

    def run_stage(self, request, stage, state, tile, on_step):
        engine = self.engine
        cols, rows = engine.grid_columns, engine.rows
        weights, starts = engine.cell_inputs(request.row)
        canvas = np.full((request.height, request.width, 3), 0.5, np.float32)
        done = 0
        for r, (y0, y1) in enumerate(cell_bounds(request.height, rows)):
            for c, (x0, x1) in enumerate(cell_bounds(request.width, cols)):
                index = r * cols + c
                if index >= len(starts):
                    continue
                ratio = (x1 - x0) / engine.cell_size[0]
                transforms = engine.settings.transforms
                scaled = dataclasses.replace(transforms, pad=round(transforms.pad * ratio),
                                             jitter=round(transforms.jitter * ratio))
                settings = dataclasses.replace(engine.settings, transforms=scaled, steps=stage_steps(request, stage))
                images = engine.render_cells([starts[index]], weights[index:index + 1], (x1 - x0, y1 - y0), settings)
                canvas[y0:y1, x0:x1] = images[0]
                done += 1
                on_step(stage, done * request.stages[stage].steps // len(starts))   # the bar counts steps
        return {"image": canvas}

    def finish(self, request, state) -> np.ndarray:
        engine = self.engine
        if not engine.labels:
            return state["image"]
        from ..engines.visualize import label_cells
        cell = (request.width // engine.grid_columns, request.height // engine.rows)
        return label_cells(state["image"], engine.labels, engine.grid_columns, cell)


def stage_steps(request: PrintRequest, stage: int) -> int:
    return request.stages[stage].steps
