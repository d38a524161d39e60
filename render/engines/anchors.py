"""Anchored morphs: how a frame whose objective mixes several targets starts its optimisation.

A frame of a morph (channel A's weight falling while B's rises) optimised from scratch finds its own
layout: with every frame starting from the same seeded parameters and drawing the same transforms,
neighbouring frames still differ by 0.51x what independent frames do, and the video jumps.  Here each
target first gets its *anchor*, the parameters its own objective reaches from the frame's seeded start
(``steps`` steps, once per target, sign, start, size and settings; cached for the process).  A frame
starts from the blend of its targets' anchors, weighted by ``|weight| / sum |weight|``, and is refined
for a few steps on its mixed objective, so the layout carries over and only the pattern changes:
0.19x the frame-to-frame change of independent frames (BENCHMARKS.md, "Feature visualization").

This is a per-frame form of the shared parameterisation Olah, Mordvintsev and Schubert use for their
interpolations ("Feature Visualization", Distill 2017, "Interaction between Neurons"), where frames are
optimised jointly: a frame here depends only on the recipe and its own weights, so frames stay
independent (rendered in any order, in batches, resumed) and equal their one-at-a-time renders.
Shapes: parameters as :mod:`render.engines.parameterization` makes them, one row per image.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .featurevis import Settings, Visualizer


class Anchors:
    """Anchors of ``visualizer``'s targets, optimised ``batch`` at a time when first needed."""

    def __init__(self, visualizer: Visualizer, batch: int = 4):
        self.visualizer, self.batch = visualizer, max(1, batch)
        self._cache: dict[tuple, np.ndarray] = {}

    def start(self, starts: Sequence[tuple[int, int]], weights, size: tuple[int, int],
              settings: Settings) -> np.ndarray:
        """Each image's starting parameters: the ``|weight|``-blend of the anchors of its non-zero
        targets (a negative weight's anchor minimises its target); an image whose weights are all zero
        starts from its seeded start."""
        weights = np.asarray(weights, np.float32)
        context = (size, settings)
        names = [[(int(k), float(np.sign(w[k])), tuple(start)) for k in np.flatnonzero(w)]
                 for w, start in zip(weights, starts)]
        missing = sorted({n for row in names for n in row if (n, context) not in self._cache})
        for first in range(0, len(missing), self.batch):
            chunk = missing[first:first + self.batch]
            one_hot = np.zeros((len(chunk), weights.shape[1]), np.float32)
            for row, (k, sign, _) in enumerate(chunk):
                one_hot[row, k] = sign
            chunk_starts = [start for _, _, start in chunk]
            params, _ = self.visualizer.optimise(self.visualizer.start(chunk_starts, size, settings), chunk_starts,
                                                 one_hot, size, settings)
            for row, name in enumerate(chunk):
                self._cache[(name, context)] = params[row]
        seeded = self.visualizer.start(starts, size, settings)
        blended = []
        for i, (w, row) in enumerate(zip(weights, names)):
            total = float(np.abs(w).sum())
            blended.append(sum(abs(float(w[k])) / total * self._cache[((k, sign, start), context)]
                               for k, sign, start in row) if row else seeded[i])
        return np.stack(blended).astype(np.float32)
