"""How consistent a rendered clip is over time: the warping error of Lai et al., "Learning Blind Video
Temporal Consistency" (ECCV 2018), measured along the *source's* flow.

For each pair of consecutive output frames: the mean squared difference between output frame n and
output frame n-1 warped onto it by the source's backward flow, over the pixels the source's occlusion
mask keeps; averaged over the clip.  A frozen picture scores zero, so report it beside a per-frame
quality measure (style loss, dream objective).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .flow import FramePairFlow, warp_previous


def pair_warping_error(previous_output: np.ndarray, output: np.ndarray, flow: FramePairFlow) -> float:
    """Masked mean squared difference (per pixel, over the 3 channels) between ``output`` and
    ``previous_output`` warped by ``flow.backward``; 0 when the mask keeps nothing."""
    warped = warp_previous(previous_output, flow.backward)
    squared = ((np.asarray(output, np.float64) - warped) ** 2).mean(axis=-1)
    kept = flow.mask.sum()
    return float((squared * flow.mask).sum() / kept) if kept else 0.0


def warping_error(outputs: Sequence[np.ndarray], flows: Sequence[FramePairFlow]) -> float:
    """The clip's warping error: ``flows[k]`` is the source flow between frames k and k+1 (so one
    fewer than ``outputs``)."""
    if len(flows) != len(outputs) - 1:
        raise ValueError(f"{len(outputs)} frames need {len(outputs) - 1} flows, got {len(flows)}")
    errors = [pair_warping_error(outputs[k], outputs[k + 1], flows[k]) for k in range(len(flows))]
    return float(np.mean(errors)) if errors else 0.0
