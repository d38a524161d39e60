"""The small interface every engine implements, so the runner treats all kinds alike."""

from __future__ import annotations

from typing import Mapping, Protocol

import numpy as np


class Engine(Protocol):
    """Renders frames of one recipe.

    ``render_frame(index, params, previous, first)``: ``params`` is that frame's row of the plan table
    (name -> float), ``previous`` and ``first`` the stored frames ``index - 1`` and ``0`` as uint8
    ``(H, W, 3)`` (None for frame 0); returns the frame as uint8 ``(H, W, 3)``.  Engines must be
    deterministic given the recipe's seed and the frame index, so a resumed run equals an unbroken one.
    """

    def render_frame(self, index: int, params: Mapping[str, float], previous: np.ndarray | None,
                     first: np.ndarray | None) -> np.ndarray: ...


def engine_for(recipe) -> Engine:
    """Build the engine for ``recipe.kind`` (imports TensorFlow)."""
    if recipe.kind == "dream":
        from .dream import DreamEngine
        return DreamEngine.from_recipe(recipe)
    raise AssertionError(f"no engine for kind {recipe.kind!r}")  # the loader rejects unknown kinds
