"""The validated, frozen recipe that flows to the planner and the engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..schedule import Keyframes


@dataclass(frozen=True)
class OutputSettings:
    """``size`` is (width, height) in pixels; ``frames`` already resolved from a duration."""

    size: tuple[int, int]
    frames: int
    fps: float
    video: str
    quality: int
    loop: str


@dataclass(frozen=True)
class LayerTarget:
    """One term of the dream objective: mean activation of ``layer`` (of one ``channel`` when set)
    times ``weight`` (keyframed).  ``key`` is the recipe spelling, e.g. ``"block4_conv3:12"``."""

    key: str
    layer: str
    channel: int | None
    weight: Keyframes


@dataclass(frozen=True)
class DreamSettings:
    init: Path | None  # None means seeded noise
    layers: tuple[LayerTarget, ...]
    octaves: Keyframes
    octave_scale: Keyframes
    steps: Keyframes
    step_size: Keyframes
    tile: int
    color_coherence: Keyframes


@dataclass(frozen=True)
class MotionSettings:
    zoom: Keyframes
    rotate: Keyframes
    pan: tuple[Keyframes, Keyframes]


@dataclass(frozen=True)
class Recipe:
    """A recipe after validation.  ``resolved`` is the plain-data form (defaults filled in, overrides
    applied) that is written next to the outputs; ``overrides`` are the ``--set`` strings used."""

    path: Path
    kind: str
    seed: int
    output: OutputSettings
    model_name: str
    precision: str  # as written: auto | float32 | bfloat16
    dream: DreamSettings
    motion: MotionSettings
    resolved: dict[str, Any] = field(compare=False)
    overrides: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def base_dir(self) -> Path:
        return self.path.parent
