"""Dream prints: the stored frame upscaled to the print size (Lanczos), then the frame's octaves dreamed
again at print resolution, so the larger sizes gain real detail instead of blur.

State between octaves: ``{"detail": float32 (h, w, 3)}``, the dream detail at that octave's size.
"""

from __future__ import annotations

import numpy as np
from ..contracts import PrintRequest
from ..media import fit_array


def upscaled_frame(request: PrintRequest) -> np.ndarray:
    """The stored frame covering the print (scaled, centre-cropped): float32 ``(H, W, 3)``."""
    return fit_array(request.source, request.width, request.height)


class DreamPrinter:
    def __init__(self, engine):
        self.engine = engine
        self._base: tuple | None = None  # (request id, base image): upscaled once per print

    def _base_of(self, request: PrintRequest) -> np.ndarray:
        if self._base is None or self._base[0] is not request:
            self._base = (request, upscaled_frame(request))
        return self._base[1]

    def _params(self, request: PrintRequest, stage: int) -> dict:
        return dict(request.row, **{"dream.steps": request.stages[stage].steps,
                                    "dream.octaves": len(request.stages)})

    def begin(self, request: PrintRequest) -> dict:
        return {}

    def run_stage(self, request, stage, state, tile, on_step):
        base = self._base_of(request)
        octaves = self.engine.octaves(base, self._params(request, stage), request.frame, first=stage,
                                      detail=state.get("detail"), tile=tile, on_step=on_step)
        _, detail = next(octaves)
        octaves.close()
        return {"detail": np.asarray(detail)}

    def finish(self, request, state) -> np.ndarray:
        return self.engine.combine(self._base_of(request), state["detail"])
