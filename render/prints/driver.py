"""`render print`: plan a print (pixels, stages, tile, memory), render it stage by stage with
checkpoints, and write the file.

- The plan needs no TensorFlow: :func:`plan_print` resolves the size at its dpi, the frame, the kind's
  stages, and a tile whose estimated peak memory fits the budget (``--max-memory``, else 80% of this
  machine's memory); a print that cannot fit even at the smallest tile is refused before rendering.
- Rendering keeps the state after each finished stage in ``<prints>/.<file name>.state/`` (written
  atomically, keyed by everything that shapes the print), so a killed print resumes from its last
  finished octave or scale; the folder is removed once the file is written.
- Running out of memory in a stage (TensorFlow's ResourceExhaustedError, an accelerator's usual
  failure) retries that stage with the next smaller tile.
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import RenderError
from ..framekeys import frame_keys
from ..contracts import PrintRequest, PrintStage
from ..metadata import picture_metadata
from ..plan import make_plan
from ..store import RunStore, atomic_write, file_sha256
from .files import FORMATS, write_print
from .paper import PrintSize, SizeError, format_bytes, parse_size

PROOF_LONG_SIDE = 1024


class PrintError(RenderError):
    """A print that cannot be made as asked (size, frame, memory); one line for the user."""

    exit_code = 2


@dataclass(frozen=True)
class PrintOptions:
    """A print as asked: the recipe's ``[print]`` table with the command line's options on top."""

    size: str
    dpi: int = 300
    orientation: str = "auto"
    bleed: str = "0mm"
    fmt: str = "tiff"
    frame: int | None = None
    steps: int | None = None
    max_memory: int | None = None
    tile: int | None = None
    out: Path | None = None
    upscale: tuple[str, ...] | None = None   # stages that enlarge the print after rendering (esrgan-x4)


def options_for(recipe, **given) -> PrintOptions:
    """The recipe's ``[print]`` values overridden by ``given`` (None values are ignored)."""
    table = recipe.print
    base = {} if table is None else {"size": table.size, "dpi": table.dpi, "orientation": table.orientation,
                                     "bleed": table.bleed, "fmt": table.format, "frame": table.frame,
                                     "steps": table.steps, "max_memory": table.max_memory}
    base.update({k: v for k, v in given.items() if v is not None})
    if not base.get("size"):
        raise PrintError(f"{recipe.path}: no print size: give --size (A3, 60x40cm, 24x36in, 7087x4724px) "
                         "or size in the recipe's [print] table")
    return PrintOptions(**{k: v for k, v in base.items() if v is not None})


@dataclass(frozen=True)
class PrintPlan:
    recipe: object
    options: PrintOptions
    size: PrintSize
    frame: int
    row: dict
    stages: tuple[PrintStage, ...]
    tile: int
    estimate: int          # peak bytes
    budget: int            # bytes allowed
    budget_given: bool
    budget_source: str = "this machine"   # what the default budget is 80% of
    upscale: object = None                # UpscaleSettings: rendered at render_size, then enlarged
    render_size: tuple[int, int] | None = None

    def describe(self) -> list[str]:
        lines = [f"print    {self.size.describe()}, {self.options.fmt}",
                 f"backend  {self.recipe.backend}, precision {self.recipe.precision}",
                 f"frame    {self.frame} of {self.recipe.output.frames}",
                 "stages   " + ", ".join(f"{s.label} {s.width}x{s.height} x{s.steps}" for s in self.stages)
                 + (f", then {' + '.join(self.upscale.stages)} to {self.size.width}x{self.size.height}"
                    if self.upscale is not None else ""),
                 f"tile     {self.tile}",
                 f"memory   about {format_bytes(self.estimate)} at peak (allowed "
                 f"{format_bytes(self.budget)}{'' if self.budget_given else ', 80% of ' + self.budget_source})"]
        return lines


def _orientation(options: PrintOptions, recipe) -> str:
    if options.orientation != "auto":
        return options.orientation
    width, height = recipe.output.size
    return "landscape" if width > height else "portrait"


def plan_print(recipe, options: PrintOptions) -> PrintPlan:
    """Everything about a print that is known before rendering; PrintError when it cannot be made."""
    kind = recipe.kind
    if not kind.printable:
        raise PrintError(f"{recipe.path}: kind {kind.name!r} has no print mode")
    try:
        size = parse_size(options.size, options.dpi, _orientation(options, recipe), options.bleed)
    except SizeError as err:
        raise PrintError(f"{recipe.path}: {err}") from None
    frames = recipe.output.frames
    frame = frames - 1 if options.frame is None else options.frame
    if not 0 <= frame < frames:
        raise PrintError(f"{recipe.path}: frame {frame} is not in the recipe: it has frames 0..{frames - 1}")
    row = dict(make_plan(recipe).row(frame))
    upscale, render_size = None, (size.width, size.height)
    if options.upscale:
        from ..upscale_stage import settings_for
        upscale = settings_for(options.upscale)
        render_size = (-(-size.width // upscale.factor), -(-size.height // upscale.factor))
        if min(render_size) < recipe.model.min_side:
            raise PrintError(f"{recipe.path}: a {size.width}x{size.height} print enlarged {upscale.factor} times is "
                             f"rendered at {render_size[0]}x{render_size[1]}, too small for {recipe.model.name}; "
                             "upscale less or print larger")
    stages = tuple(kind.print_stages(recipe, row, render_size[0], render_size[1], options.steps))
    budget, source = default_budget(recipe.backend)
    budget = options.max_memory or budget
    smallest = 2 * recipe.model.min_side
    preferred = options.tile or kind.print_tile(recipe)
    candidates = [preferred] + [t for t in kind.print_tiles if smallest <= t < preferred]
    if options.tile is not None:
        candidates = [options.tile]
    for tile in candidates:
        estimate = kind.print_memory(recipe, stages, tile)
        if estimate <= budget:
            break
    else:
        raise PrintError(f"{recipe.path}: a {size.width}x{size.height} print needs about {format_bytes(estimate)} "
                         f"even with {candidates[-1]} px tiles, more than the {format_bytes(budget)} allowed; "
                         "choose a smaller size or dpi, or allow more with --max-memory")
    if upscale is not None:   # the enlargement runs after the stages: its own peak, within the same budget
        from ..upscale_stage import stage_plan
        try:
            _, enlarging = stage_plan(upscale, render_size[1], render_size[0], budget)
        except RenderError as err:
            raise PrintError(f"{recipe.path}: {err}; choose a smaller print or allow more with --max-memory") from None
        estimate = max(estimate, enlarging)
    return PrintPlan(recipe, options, size, frame, row, stages, tile, estimate, budget, options.max_memory is not None,
                     source, upscale, render_size)


def default_budget(backend: str) -> tuple[int, str]:
    """80% of the memory a print renders in: the GPU's when ``backend`` renders on one, else RAM."""
    from ..backend.devices import memory_budget
    gpu = memory_budget(backend)
    if gpu is not None:
        return int(gpu[0] * 0.8), f"the GPU's memory ({gpu[1]})"
    from ..backend.devices import machine_memory
    return int(machine_memory() * 0.8), "this machine"


def proof_options(options: PrintOptions, size: PrintSize) -> PrintOptions:
    """The same print at a dpi whose long side is about PROOF_LONG_SIDE pixels, as an 8-bit PNG."""
    factor = PROOF_LONG_SIDE / max(size.width, size.height)
    dpi = max(30, int(size.dpi * min(1.0, factor)))
    return replace(options, dpi=dpi, fmt="png", out=None)


def default_print_path(run_dir: Path, plan: PrintPlan, proof: bool = False) -> Path:
    label = "".join(c if c.isalnum() else "-" for c in plan.size.label).strip("-")
    name = f"{plan.recipe.name}-frame{plan.frame}-{label}-{plan.size.dpi}dpi{'-proof' if proof else ''}"
    return Path(run_dir) / "prints" / (name + FORMATS[plan.options.fmt])


@dataclass(frozen=True)
class PrintProgress:
    """Reported after every optimisation step: ``work_done`` of ``work_total`` (pixel-steps)."""

    stage: int
    stages: int
    step: int
    steps: int
    tile: int
    work_done: float
    work_total: float
    seconds: float


@dataclass
class PrintResult:
    path: Path
    plan: PrintPlan
    seconds: float
    peak_memory: int         # the process's peak resident memory (bytes) at the end
    resumed_from: int        # stages found finished from an earlier, interrupted run
    tiles_used: list[int]
    info_path: Path
    reused: bool = False     # the same print (same key, intact file) was already there


def _finished(path: Path, info_path: Path, key: str) -> dict | None:
    """The info of an intact print made with ``key`` at ``path``, else None."""
    try:
        info = json.loads(info_path.read_text())
        if info.get("key") == key and file_sha256(path) == info.get("sha256"):
            return info
    except (OSError, ValueError):
        pass
    return None


def _source_frame(recipe, keys: list[str], run_dir: Path, frame: int, render_missing_still: bool) -> np.ndarray:
    store = RunStore(run_dir)
    if not store.is_done(frame, keys[frame]):
        if recipe.output.frames == 1 and render_missing_still:
            from ..runner import render
            render(recipe, run_dir, encode=False)
        else:
            raise PrintError(f"{recipe.path}: frame {frame} is not rendered in {run_dir} (or is out of date); "
                             f"render it first: render run {recipe.path} --frames {frame}")
    return store.load(frame)


def _print_key(plan: PrintPlan, frame_key: str) -> str:
    parts = {"frame_key": frame_key, "size": [plan.size.width, plan.size.height],
             "stages": [[s.width, s.height, s.steps] for s in plan.stages], "tile": plan.tile,
             "engine": plan.recipe.kind.engine_version}
    if plan.upscale is not None:  # prints without one keep their keys
        from ..upscale_stage import stage_key
        parts["upscale"] = stage_key(plan.upscale)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class Checkpoints:
    """``<folder>/state.npz``: the state arrays plus the print key, the last finished stage and its
    tile, in one file written atomically (never a stage number beside another stage's arrays)."""

    _INFO = ("__key__", "__stage__", "__tile__")

    def __init__(self, folder: Path, key: str):
        self.folder, self.key = Path(folder), key

    def load(self) -> tuple[int, dict, int] | None:
        """(next stage, state, tile) of an interrupted print with the same key, else None."""
        try:
            with np.load(self.folder / "state.npz") as data:
                if str(data["__key__"]) != self.key:
                    return None
                state = {name: data[name] for name in data.files if name not in self._INFO}
                return int(data["__stage__"]) + 1, state, int(data["__tile__"])
        except (OSError, ValueError, KeyError):
            return None

    def save(self, stage: int, state: dict, tile: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        info = dict(zip(self._INFO, (np.array(self.key), np.array(stage), np.array(tile))))
        atomic_write(self.folder / "state.npz", lambda handle: np.savez(handle, **state, **info))

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _is_out_of_memory(err: BaseException) -> bool:
    """The active backend's out-of-memory error (TensorFlow's ResourceExhaustedError, XLA's
    RESOURCE_EXHAUSTED under JAX) or Python's MemoryError."""
    if isinstance(err, MemoryError):
        return True
    from ..backend import current
    return current().is_out_of_memory(err)


def make_print(plan: PrintPlan, run_dir: Path, out: Path | None = None,
               progress: Callable[[PrintProgress], None] | None = None,
               printer_factory: Callable[[object], object] | None = None,
               render_missing_still: bool = True) -> PrintResult:
    """Render ``plan`` from the run folder ``run_dir`` and write the print file (default
    ``<run_dir>/prints/<name>``).  ``printer_factory(recipe)`` builds the printer (default: the kind's)."""
    recipe, kind = plan.recipe, plan.recipe.kind
    started = time.perf_counter()
    keys = frame_keys(make_plan(recipe))
    path = Path(out) if out is not None else default_print_path(run_dir, plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = _print_key(plan, keys[plan.frame])
    info_path = path.with_name(path.name + ".json")
    done = _finished(path, info_path, key)
    if done is not None:  # this very print is already written: nothing to render
        return PrintResult(path, plan, done["seconds"], done["measured_peak"], len(plan.stages), done["tiles"],
                           info_path, reused=True)
    if plan.upscale is not None:   # offline and not fetched: stop before rendering
        from ..models.upscalers import ensure_stages
        ensure_stages(plan.upscale.stages)
    source = _source_frame(recipe, keys, run_dir, plan.frame, render_missing_still) if kind.print_from_frame else None
    width, height = plan.render_size or (plan.size.width, plan.size.height)
    request = PrintRequest(recipe, plan.frame, plan.row, width, height, plan.stages, source)
    checkpoints = Checkpoints(path.parent / f".{path.name}.state", key)
    printer = (printer_factory or kind.build_printer)(recipe)
    resumed = checkpoints.load()
    if resumed is not None:
        first, state, tile = resumed
    else:
        first, state, tile = 0, printer.begin(request), plan.tile
    work = [s.width * s.height * max(1, s.steps) for s in plan.stages]
    tiles_used = []
    smaller = [t for t in kind.print_tiles if 2 * recipe.model.min_side <= t]
    for stage in range(first, len(plan.stages)):
        spec = plan.stages[stage]

        def on_step(_stage, step, stage=stage, spec=spec):
            if progress:
                done = sum(work[:stage]) + work[stage] * (step + 1) / max(1, spec.steps)
                progress(PrintProgress(stage, len(plan.stages), step, spec.steps, tile, done - sum(work[:first]),
                                       sum(work[first:]), time.perf_counter() - started))
        while True:
            try:
                state = printer.run_stage(request, stage, state, tile, on_step)
                break
            except Exception as err:  # noqa: BLE001 - only out-of-memory is retried
                if not _is_out_of_memory(err):
                    raise
                lower = [t for t in smaller if t < tile]
                if not lower:
                    raise PrintError(f"{recipe.path}: out of memory at {spec.label} ({spec.width}x{spec.height}) "
                                     f"even with {tile} px tiles; choose a smaller print") from None
                tile = lower[0]
        tiles_used.append(tile)
        if stage < len(plan.stages) - 1:
            checkpoints.save(stage, state, tile)
    image = printer.finish(request, state)
    if plan.upscale is not None:
        image = _enlarged(image, plan)
    metadata = picture_metadata(recipe, key)
    metadata.update(print_size=plan.size.describe(), frame=str(plan.frame))
    if plan.upscale is not None:
        metadata["upscaled"] = (f"rendered at {plan.render_size[0]}x{plan.render_size[1]}, then "
                                + " + ".join(plan.upscale.stages))
    write_print(path, image, plan.options.fmt, plan.size.dpi, metadata)
    checkpoints.clear()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    info = {"file": path.name, "recipe": str(recipe.path), "frame": plan.frame, "width": plan.size.width,
            "height": plan.size.height, "dpi": plan.size.dpi, "size": plan.size.describe(),
            "format": plan.options.fmt, "bytes": path.stat().st_size, "seconds": round(seconds, 1),
            "stages": [s.label for s in plan.stages], "tiles": tiles_used, "estimated_peak": plan.estimate,
            "measured_peak": peak, "resumed_from_stage": first, "key": key,
            "sha256": file_sha256(path)}
    info_path.write_text(json.dumps(info, indent=2))
    return PrintResult(path, plan, seconds, peak, first, tiles_used, info_path)


def _enlarged(image: np.ndarray, plan: PrintPlan) -> np.ndarray:
    """The rendered print through the upscale stages, then fitted to the print's exact size with Lanczos
    (the rendered size was rounded up, so this shrinks by less than one rendered pixel)."""
    from ..upscale_stage import Upscaling
    from PIL import Image
    enlarged = Upscaling(plan.upscale)(np.asarray(image, np.float32), budget=plan.budget)
    width, height = plan.size.width, plan.size.height
    if enlarged.shape[:2] == (height, width):
        return enlarged
    return np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(enlarged[..., c]), mode="F")
                                .resize((width, height), Image.LANCZOS)) for c in range(3)], axis=-1).clip(0.0, 1.0)
