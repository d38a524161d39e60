"""Recipe -> plan: every keyframed field expanded once into a per-frame table (numpy only).

Columns are named by key path (``dream.steps``, ``motion.pan``, ``dream.layers.block4_conv3``) and
come from the kind's field specs, so no kind is named here.  A column is a float64 array ``(frames,)``
for numbers, ``(frames, dim)`` for vectors, or a tuple of ``frames`` strings for text schedules;
``file_columns`` lists the text columns that hold file paths (their bytes go into frame keys).
``row(i)`` is what the engine gets for frame ``i``.  ``render plan`` prints it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .recipe import Recipe


@dataclass(frozen=True)
class Plan:
    recipe: Recipe
    columns: dict[str, Any]
    file_columns: frozenset[str] = frozenset()

    @property
    def frames(self) -> int:
        return self.recipe.output.frames

    def row(self, index: int) -> dict[str, Any]:
        """Frame ``index``: column -> float, float64 vector ``(dim,)`` or string."""
        out = {}
        for name, values in self.columns.items():
            value = values[index]
            out[name] = value if isinstance(value, (str, np.ndarray)) else float(value)
        return out


def kind_schedules(recipe: Recipe) -> dict[str, Any]:
    """Column name -> schedule, for every keyframed value of the kind's tables, in spec order."""
    schedules = {}
    for section, spec in recipe.kind.sections.items():
        for key, field in spec.items():
            value = recipe.sections[section][key]
            if value is not None:
                schedules.update(field.schedules(f"{section}.{key}", value))
    return schedules


def make_plan(recipe: Recipe) -> Plan:
    n = recipe.output.frames
    columns, files = {}, set()
    schedules = dict(kind_schedules(recipe), **recipe.kind.extra_columns(recipe))
    for name, schedule in schedules.items():
        columns[name] = schedule.expand(n)
        if getattr(schedule, "files", False):
            files.add(name)
    return Plan(recipe, columns, frozenset(files))


def preview_recipe(recipe: Recipe, max_side: int = 256) -> Recipe:
    """A quick draft of the same recipe at most ``max_side`` px; the kind cuts its own work."""
    width, height = recipe.output.size
    factor = min(1.0, max_side / max(width, height))
    min_side = recipe.kind.min_side_for(recipe.model, recipe.sections)
    size = (max(min_side, int(width * factor) // 2 * 2), max(min_side, int(height * factor) // 2 * 2))
    output = dataclasses.replace(recipe.output, size=size, upscale=None)   # a draft is not enlarged
    sections = recipe.kind.preview_sections(recipe.sections, factor)

    def error(key, message):  # the preview of a valid recipe is valid: a failure here is a bug
        raise AssertionError(f"preview of {recipe.path}: {key}: {message}")

    settings = recipe.kind.settings(sections, recipe.model, output, error)
    resolved = dict(recipe.resolved, preview=True)
    return dataclasses.replace(recipe, output=output, sections=sections, settings=settings, resolved=resolved)


def signals_of(recipe: Recipe):
    """The names expressions of ``recipe`` read (:class:`render.signals.Signals`)."""
    from .signals import Signals
    return Signals(recipe.output.fps, recipe.audio)


def _describe_feature(spec) -> str:
    parts = [spec.kind] + ([spec.part] if spec.part != "mix" else [])
    if spec.kind == "band":
        parts.append(f"{spec.low:g}-{spec.high:g} Hz")
    if spec.kind == "beat":
        parts.append(f"pulse decay {spec.decay:g} s" if spec.decay else "impulse")
    else:
        if spec.attack or spec.release:
            parts.append(f"attack {spec.attack:g} s release {spec.release:g} s")
        parts.append(f"normalize {spec.normalize[0]:g}-{spec.normalize[1]:g}%" if spec.normalize else "raw")
        if spec.gamma != 1.0:
            parts.append(f"gamma {spec.gamma:g}")
    return ", ".join(parts)


def audio_lines(recipe: Recipe) -> list[str]:
    """``render plan``'s lines about the soundtrack: the file and the span the frames cover, the
    beats, and each feature with its value range over the frames."""
    audio = recipe.audio
    if audio is None:
        return []
    out = recipe.output
    end = audio.offset + out.frames / out.fps
    lines = [f"audio    {audio.path.name} ({audio.duration:.2f} s, sha256 {audio.digest[:12]}): frames cover "
             f"{audio.offset:.2f}-{end:.2f} s" + (" (silence before the track starts)" if audio.offset < 0 else "")
             + (" (silence after the track ends)" if end > audio.duration + 1e-6 else "")]
    signals = signals_of(recipe)
    from .audio import Track, beat_times, tempo
    track = Track.open(audio.path)
    times = beat_times(track)
    inside = times[(times >= audio.offset) & (times < end)]
    first = f", the first on frame {int(np.floor((inside[0] - audio.offset) * out.fps + 0.5))}" if len(inside) else ""
    lines.append(f"beats    {tempo(track):.1f} bpm: {len(inside)} in the frames{first} (b counts them)")
    for name, spec in audio.features.items():
        values = signals.value(name, out.frames)
        lines.append(f"feature  {name:<10} {_describe_feature(spec)}: {values.min():.3g} .. {values.max():.3g} "
                     f"(mean {values.mean():.3g})" + ("  [12 values: name[0] = C .. name[11] = B]"
                                                       if values.ndim == 2 else ""))
    return lines


def is_inert(recipe: Recipe, column: str) -> bool:
    """Whether ``column`` belongs to a setting that does nothing in ``recipe`` (``recipe.inert``)."""
    return any(column == key or column.startswith(key + ".") for key in recipe.inert)


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        if value.size > 4:  # a latent: its length and first values
            return f"|{np.linalg.norm(value):.4g}|[" + ",".join(f"{v:.3g}" for v in value[:2]) + ",...]"
        return "[" + ",".join(f"{v:.4g}" for v in value) + "]"
    return f"{value:.5g}"


def _is_constant(values: Any) -> bool:
    if isinstance(values, tuple):
        return len(set(values)) <= 1
    return bool(np.all(values == values[0]))


def format_plan(plan: Plan, limit: int | None = None) -> str:
    """Human-readable summary and table (constant columns shown once in the header)."""
    recipe = plan.recipe
    width, height = recipe.output.size
    out = recipe.output
    kind = recipe.kind
    memory = kind.memory_estimate(recipe)
    lines = [f"recipe   {recipe.path}",
             f"kind     {kind.name} ({'chained' if kind.chained else 'independent'} frames, "
             f"batch {kind.batch_size(recipe)})   "
             + (f"model {recipe.model_name} ({recipe.model.role}, {recipe.precision})" if kind.uses_model(recipe)
                else f"model not used ({recipe.precision})") + f"   seed {recipe.seed}",
             f"backend  {recipe.backend} ({recipe.backend_reason})   precision {recipe.precision} "
             f"({recipe.precision_reason})",
             f"frames   {out.frames} at {out.fps:g} fps ({out.frames / out.fps:.2f} s)   size {width}x{height}",
             f"video    {out.video} (quality {out.quality}, loop {out.loop})"]
    if out.upscale is not None:
        final = out.final_size()
        lines.append(f"upscale  {' + '.join(out.upscale.stages)}: every frame {width}x{height} -> "
                     f"{final[0]}x{final[1]} after rendering")
    lines += kind.summary(recipe)
    lines += audio_lines(recipe)
    lines.append(f"memory   ~{memory / 2**20:.0f} MiB peak per {'frame' if kind.batch_size(recipe) == 1 else 'batch'}")
    if recipe.overrides:
        lines.append("set      " + "  ".join(recipe.overrides))
    if not plan.frames:
        return "\n".join(lines)
    shown_columns = {k: v for k, v in plan.columns.items() if not is_inert(recipe, k)}
    constant = {k: v[0] for k, v in shown_columns.items() if _is_constant(v)}
    varying = [k for k in shown_columns if k not in constant]
    if constant:
        lines.append("constant " + "  ".join(f"{k}={_format_value(v)}" for k, v in constant.items()))
    if varying:
        shown = range(plan.frames) if limit is None else range(min(plan.frames, limit))
        cells = [[_format_value(plan.columns[k][i]) for k in varying] for i in shown]
        widths = [max([len(k)] + [len(row[j]) for row in cells]) for j, k in enumerate(varying)]
        lines.append("  ".join([f"{'frame':>6}"] + [f"{k:>{w}}" for k, w in zip(varying, widths)]))
        for i, row in zip(shown, cells):
            lines.append("  ".join([f"{i:>6}"] + [f"{c:>{w}}" for c, w in zip(row, widths)]))
        if limit is not None and plan.frames > limit:
            lines.append(f"... {plan.frames - limit} more frames (--all shows every frame)")
    return "\n".join(lines)
