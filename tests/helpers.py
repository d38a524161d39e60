"""Test helpers shared by several test files (imported as ``tests.helpers``; fixtures live in
conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHELSEA = REPO / "recipes" / "assets" / "chelsea.png"

# 80x48 with tile 40 (raised to 64, twice VGG's minimum side): two tiles across, so rolls happen
TINY_RECIPE = """\
kind = "dream"
seed = 3

[output]
size = [80, 48]
frames = 4
fps = 8
video = "mp4"

[model]
name = "vgg16"

[dream]
init = "chelsea.png"
layers = { block3_conv3 = 1.0, "block4_conv1:7" = 0.5 }
octaves = 2
octave_scale = 1.5
steps = 2
step_size = 0.02
tile = 40

[motion]
zoom = { 0 = 1.0, 3 = 1.05 }
rotate = 1.0
pan = [1.0, 0.0]
"""


def pixels(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def frame_bytes(folder: Path, frames) -> list[bytes]:
    """PNG bytes of stored frames ``frames`` (a count or an iterable of indices) of a run folder."""
    indices = range(frames) if isinstance(frames, int) else frames
    return [(Path(folder) / "frames" / f"frame_{i:06d}.png").read_bytes() for i in indices]


class CountingEngine:
    """Wraps a recipe's real engine and records which frames it was asked for, batch by batch."""

    def __init__(self, recipe, inner=None):
        self.inner = inner if inner is not None else recipe.kind.build_engine(recipe)
        self.batches: list[list[int]] = []

    @property
    def calls(self) -> list[int]:
        return [i for batch in self.batches for i in batch]

    def render_batch(self, jobs):
        self.batches.append([job.index for job in jobs])
        return self.inner.render_batch(jobs)


def counting_factory(engines: list):
    """An engine factory for ``render(..., engine_factory=...)`` that appends each engine it builds."""
    def factory(recipe):
        engines.append(CountingEngine(recipe))
        return engines[-1]
    return factory
