"""Test helpers shared by several test files (imported as ``tests.helpers``; fixtures live in
conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented) to ``folder / name``; returns the path."""
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path


def pixels(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def frame_bytes(folder: Path, frames) -> list[bytes]:
    """PNG bytes of stored frames ``frames`` (a count or an iterable of indices) of a run folder."""
    indices = range(frames) if isinstance(frames, int) else frames
    return [(Path(folder) / "frames" / f"frame_{i:06d}.png").read_bytes() for i in indices]


def frame_pixels(folder: Path, frames) -> list[bytes]:
    """Raw pixel bytes of stored frames: equal when the pictures are, whatever recipe text the PNGs
    carry (runs of one recipe under different --set overrides)."""
    indices = range(frames) if isinstance(frames, int) else frames
    return [pixels(Path(folder) / "frames" / f"frame_{i:06d}.png").tobytes() for i in indices]


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


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from render.recipe import load_recipe
    from render.runner import render
    from tests.helpers import CountingEngine

    class Killer(CountingEngine):
        def render_batch(self, jobs):
            if jobs[0].index == int(sys.argv[3]):
                os.kill(os.getpid(), signal.SIGKILL)  # dies inside the engine, mid-run
            return super().render_batch(jobs)

    render(load_recipe(sys.argv[1]), Path(sys.argv[2]), encode=False, engine_factory=Killer)
""")


def kill_and_resume(recipe: Path, out: Path, kill_at: int) -> None:
    """Render ``recipe`` into ``out`` in a process that SIGKILLs itself when its engine is asked for
    frame ``kill_at``, check that frame was not stored, then resume with `render run` to the end."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    killed = subprocess.run([sys.executable, "-c", KILLER, str(recipe), str(out), str(kill_at)], env=env,
                            capture_output=True, text=True, cwd=REPO)
    assert killed.returncode == -9, killed.stderr
    assert not (out / "frames" / f"frame_{kill_at:06d}.json").exists()
    command = [sys.executable, "-m", "render.cli", "run", str(recipe), "--out", str(out), "--quiet", "--no-encode"]
    resumed = subprocess.run(command, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
