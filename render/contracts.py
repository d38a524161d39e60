"""What engines, print renderers and the layers above them exchange: frame jobs, print requests and
stages, and the engine and printer interfaces.

These types sit below the engines so every layer can import them (the kinds above, the engines and
printers below, the runner and the farm beside); this module imports nothing of the renderer.
An engine renders a batch of :class:`FrameJob` and returns one uint8 ``(H, W, 3)`` image per job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np


@dataclass(frozen=True)
class FrameJob:
    """One frame to render.

    ``row`` is the frame's row of the plan (column name -> float, float64 vector or string);
    ``previous`` the stored frame ``index - 1`` as uint8 ``(H, W, 3)`` for chained kinds (None for
    frame 0 and for independent kinds); ``load_frame(i)`` reads any stored frame (chained kinds may
    read earlier ones, e.g. frame 0 as a colour reference)."""

    index: int
    row: Mapping[str, Any]
    previous: np.ndarray | None = None
    load_frame: Callable[[int], np.ndarray] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PrintStage:
    """One stage of a print: an octave or scale of ``width`` x ``height`` pixels and ``steps`` steps."""

    label: str
    width: int
    height: int
    steps: int


@dataclass(frozen=True)
class PrintRequest:
    """What to print: frame ``frame`` of ``recipe`` (its plan ``row``) at ``width`` x ``height``;
    ``source`` the stored frame as uint8 ``(h, w, 3)`` for kinds that start from it (else None);
    ``stages`` from :meth:`Kind.print_stages`."""

    recipe: Any
    frame: int
    row: Mapping[str, Any]
    width: int
    height: int
    stages: tuple[PrintStage, ...]
    source: np.ndarray | None = None


class Printer(Protocol):
    """Renders a print stage by stage; the state between stages is a dict of float32 arrays (saved
    after each stage, so a killed print resumes from its last finished stage)."""

    def begin(self, request: PrintRequest) -> dict[str, np.ndarray]: ...

    def run_stage(self, request: PrintRequest, stage: int, state: dict[str, np.ndarray], tile: int,
                  on_step: Callable[[int, int], None]) -> dict[str, np.ndarray]: ...

    def finish(self, request: PrintRequest, state: dict[str, np.ndarray]) -> np.ndarray: ...


class Engine(Protocol):
    """Renders frames of one recipe, deterministically given the recipe's seed and the frame index,
    so a resumed run equals an unbroken one."""

    def render_batch(self, jobs: Sequence[FrameJob]) -> list[np.ndarray]: ...
