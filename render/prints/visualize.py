"""Visualize prints: every cell of the frame (an atlas's channels, a frame's variants, or the one
image) optimised again at its print size, not upscaled, so an A2 atlas of 64 channels is as sharp as
the paper allows.  A cell starts from its own seeded parameters at the new size and sees the
frame's transforms scaled by the size ratio (pad and jitter in pixels grow with the cell), so it shows
the same kind of structure as the poster with more detail.  Cells are rendered one at a time into a
float canvas, except variants with a diversity term, which are optimised together as in the frame;
one stage, the state is the canvas.
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
        cells = [(r * cols + c, y0, y1, x0, x1) for r, (y0, y1) in enumerate(cell_bounds(request.height, rows))
                 for c, (x0, x1) in enumerate(cell_bounds(request.width, cols)) if r * cols + c < len(starts)]
        if engine.diversity_output >= 0:
            # variants pushed apart by the diversity term: optimised together, as in the frame, at the
            # largest cell's size, each cropped to its own cell
            size = (max(x1 - x0 for _, _, _, x0, x1 in cells), max(y1 - y0 for _, y0, y1, _, _ in cells))
            images = engine.render_cells(starts, weights, size, self._settings(request, stage, size[0]),
                                         engine.diversity, engine.diversity_output)
            for index, y0, y1, x0, x1 in cells:
                canvas[y0:y1, x0:x1] = images[index][:y1 - y0, :x1 - x0]
            on_step(stage, request.stages[stage].steps - 1)   # steps count from 0: the last one done
            return {"image": canvas}
        for done, (index, y0, y1, x0, x1) in enumerate(cells, 1):
            images = engine.render_cells([starts[index]], weights[index:index + 1], (x1 - x0, y1 - y0),
                                         self._settings(request, stage, x1 - x0))
            canvas[y0:y1, x0:x1] = images[0]
            on_step(stage, done * request.stages[stage].steps // len(cells) - 1)   # the bar counts steps, from 0
        return {"image": canvas}

    def _settings(self, request, stage, cell_width: int):
        """The frame's settings at a print cell's width: pad and jitter scaled with it, the stage's steps."""
        engine = self.engine
        ratio = cell_width / engine.cell_size[0]
        transforms = engine.settings.transforms
        scaled = dataclasses.replace(transforms, pad=round(transforms.pad * ratio), jitter=round(transforms.jitter * ratio))
        return dataclasses.replace(engine.settings, transforms=scaled, steps=stage_steps(request, stage))

    def finish(self, request, state) -> np.ndarray:
        engine = self.engine
        if not engine.labels:
            return state["image"]
        from ..engines.visualize import label_cells
        cell = (request.width // engine.grid_columns, request.height // engine.rows)
        return label_cells(state["image"], engine.labels, engine.grid_columns, cell)


def stage_steps(request: PrintRequest, stage: int) -> int:
    return request.stages[stage].steps
