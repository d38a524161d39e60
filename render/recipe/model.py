"""The validated, frozen recipe that flows to the planner, the frame keys and the engines."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models.catalog import ModelInfo


@dataclass(frozen=True)
class UpscaleSettings:
    """``[output] upscale``: canonical stage names applied in turn (``esrgan-medium-x4``,
    ``lanczos-x2``), the tile side in input pixels (None: planned from memory) and the total factor."""

    stages: tuple[str, ...]
    tile: int | None
    factor: int


@dataclass(frozen=True)
class OutputSettings:
    """``size`` is (width, height) in pixels; ``frames`` already resolved from a duration; ``upscale``
    enlarges every rendered frame after rendering (the video and still are then ``size * factor``)."""

    size: tuple[int, int]
    frames: int
    fps: float
    video: str
    quality: int
    loop: str
    upscale: UpscaleSettings | None = None

    def final_size(self) -> tuple[int, int]:
        """The size of the video and still: ``size``, times the upscale factor."""
        factor = self.upscale.factor if self.upscale else 1
        return self.size[0] * factor, self.size[1] * factor


@dataclass(frozen=True)
class RecipeRef:
    """``{ recipe = "walk.toml", out = "folder" }`` as read: another recipe whose frames to use.

    ``path`` is the recipe file (a relative one joined to the referring recipe's folder), ``out`` its
    run folder when given (joined likewise), else None: the folder `render run` of it uses.  The
    reference is plain data; :mod:`render.graph` loads the recipe it names."""

    path: Path
    out: Path | None = None


@dataclass(frozen=True)
class PrintSettings:
    """The recipe's ``[print]`` table, checked: ``size`` as written (a paper name or WxH with a unit),
    ``frame`` None for the last frame, ``steps`` None for the frame's own, ``max_memory`` in bytes or
    None."""

    size: str | None
    dpi: int
    orientation: str
    bleed: str
    format: str
    frame: int | None
    steps: int | None
    max_memory: int | None


@dataclass(frozen=True)
class AudioSettings:
    """The recipe's ``[audio]`` table, checked: the soundtrack ``path`` (its sha256 ``digest``, its
    ``duration`` in seconds), ``offset`` (seconds into the file at frame 0) and the named
    ``features`` (name -> :class:`render.audio.FeatureSpec`, in the recipe's order)."""

    path: Path
    digest: str
    duration: float
    offset: float = 0.0
    features: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Recipe:
    """A recipe after validation.

    ``kind`` is the kind's plug-in (:class:`render.kinds.base.Kind`); ``sections`` holds the clean
    values of the kind's own tables (section -> key -> value, keyframed values as schedules) and
    ``settings`` the kind's typed view of them.  ``model`` is resolved once (role, layers, weights);
    ``precision`` is the resolved compute type (``requested_precision`` is what the recipe said,
    ``precision_reason`` why ``auto`` chose it) and ``backend`` the resolved Keras backend
    (``requested_backend`` is what the recipe said, ``backend_reason`` why).
    ``resolved`` is the plain-data form (defaults filled in, overrides applied) written next to the
    outputs; ``overrides`` are the ``--set`` strings used.  ``inert`` names the settings that do nothing
    with the others (:meth:`render.kinds.base.Kind.inert`): `render plan` leaves their columns out.
    """

    path: Path
    kind: Any
    seed: int
    output: OutputSettings
    model: ModelInfo
    requested_precision: str
    precision: str
    requested_backend: str
    backend: str
    sections: dict[str, dict[str, Any]] = field(compare=False)
    settings: Any
    resolved: dict[str, Any] = field(compare=False)
    overrides: tuple[str, ...] = ()
    title: str | None = None
    description: str | None = None
    print: PrintSettings | None = None  # None when the recipe has no [print] table
    text: str = field(default="", compare=False, repr=False)  # the TOML as read (file or picture)
    backend_reason: str = field(default="", compare=False)
    precision_reason: str = field(default="", compare=False)
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)  # under transparent input pixels
    audio: AudioSettings | None = None  # the [audio] table: the soundtrack and its features
    inert: frozenset[str] = frozenset()  # key paths (tables or keys) that do nothing with these settings

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def model_name(self) -> str:
        return self.model.name
