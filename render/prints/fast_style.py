"""Fast-style prints: the frame's content read at the print's size and passed once through the
network (it takes any size), so the print is drawn at its own resolution rather than enlarged.
Built-in styles keep their stroke size relative to the print's pixels (``style_scale`` enlarges it);
footage prints are the network's picture of that frame, without the temporal pull of the video."""

from __future__ import annotations

import numpy as np

from ..contracts import PrintRequest


class FastStylePrinter:
    def __init__(self, engine):
        self.engine = engine

    def begin(self, request: PrintRequest) -> dict:
        return {}

    def run_stage(self, request, stage, state, tile, on_step):
        spec = request.stages[stage]
        content = self.engine.source.read(request.frame, spec.width, spec.height)
        image = self.engine.stylize(content, request.row)
        on_step(stage, 0)
        return {"image": np.clip(image, 0.0, 1.0).astype(np.float32)}

    def finish(self, request, state) -> np.ndarray:
        return state["image"]
