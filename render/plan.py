"""Recipe -> plan: every keyframed parameter expanded once into a per-frame table (numpy only).

The table maps a column name (``steps``, ``zoom``, ``weight[block4_conv3]`` ...) to a float64 array of
shape ``(frames,)``; ``row(i)`` is what the engine gets for frame ``i``.  ``render plan`` prints it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .models import catalog
from .models.precision import resolve_precision
from .recipe import Recipe
from .schedule import Keyframes

INTEGER_COLUMNS = ("steps", "octaves")


@dataclass(frozen=True)
class Plan:
    recipe: Recipe
    columns: dict[str, np.ndarray]

    @property
    def frames(self) -> int:
        return self.recipe.output.frames

    def row(self, index: int) -> dict[str, float]:
        return {name: float(values[index]) for name, values in self.columns.items()}


def _keyframed_columns(recipe: Recipe) -> dict[str, Keyframes]:
    dream, motion = recipe.dream, recipe.motion
    columns = {"octaves": dream.octaves, "octave_scale": dream.octave_scale, "steps": dream.steps,
               "step_size": dream.step_size, "color_coherence": dream.color_coherence,
               "zoom": motion.zoom, "rotate": motion.rotate, "pan_x": motion.pan[0], "pan_y": motion.pan[1]}
    for target in dream.layers:
        columns[f"weight[{target.key}]"] = target.weight
    return columns


def make_plan(recipe: Recipe) -> Plan:
    n = recipe.output.frames
    columns = {}
    for name, frames in _keyframed_columns(recipe).items():
        values = frames.expand(n)
        columns[name] = np.round(values) if name in INTEGER_COLUMNS else values
    return Plan(recipe, columns)


def preview_recipe(recipe: Recipe, max_side: int = 256) -> Recipe:
    """A quick draft of the same recipe: at most ``max_side`` px, a third of the steps, <= 2 octaves."""
    width, height = recipe.output.size
    factor = min(1.0, max_side / max(width, height))
    size = (max(16, int(width * factor) // 2 * 2), max(16, int(height * factor) // 2 * 2))
    dream = dataclasses.replace(
        recipe.dream,
        steps=recipe.dream.steps.map(lambda s: max(1, round(s / 3))),
        octaves=recipe.dream.octaves.map(lambda o: min(o, 2)),
        tile=max(recipe.dream.tile, max(size)))
    motion = dataclasses.replace(recipe.motion, pan=tuple(p.map(lambda v: v * factor) for p in recipe.motion.pan))
    output = dataclasses.replace(recipe.output, size=size)
    resolved = dict(recipe.resolved, preview=True)
    return dataclasses.replace(recipe, output=output, dream=dream, motion=motion, resolved=resolved)


def memory_estimate_bytes(recipe: Recipe) -> int:
    """Rough peak memory of one tile's forward + backward pass: the activations of every layer up to
    the deepest target (float32, kept for the backward pass, about 3x with gradients)."""
    width, height = recipe.output.size
    tile_h, tile_w = min(height, recipe.dream.tile), min(width, recipe.dream.tile)
    info = catalog.resolve(recipe.model_name, recipe.base_dir)
    names = list(info.layers)
    deepest = max(names.index(t.layer) for t in recipe.dream.layers) if names else 0
    total = 0
    for name in names[: deepest + 1]:
        stride = 2 ** (int(name[5]) - 1) if name.startswith("block") else 8
        total += (tile_h // stride + 1) * (tile_w // stride + 1) * info.layers[name]
    return int(total * 4 * 3 + width * height * 3 * 4 * 6)


def format_plan(plan: Plan, limit: int | None = None) -> str:
    """Human-readable summary and table (constant columns shown once in the header)."""
    recipe = plan.recipe
    width, height = recipe.output.size
    out = recipe.output
    lines = [f"recipe   {recipe.path}",
             f"kind     {recipe.kind}   model {recipe.model_name} ({resolve_precision(recipe.precision)})"
             f"   seed {recipe.seed}",
             f"frames   {out.frames} at {out.fps:g} fps ({out.frames / out.fps:.2f} s)   size {width}x{height}",
             f"video    {out.video} (quality {out.quality}, loop {out.loop})",
             f"layers   " + ", ".join(t.key for t in recipe.dream.layers),
             f"tile     {recipe.dream.tile}   memory ~{memory_estimate_bytes(recipe) / 2**20:.0f} MiB per tile pass"]
    if recipe.overrides:
        lines.append("set      " + "  ".join(recipe.overrides))
    constant = {k: v[0] for k, v in plan.columns.items() if np.all(v == v[0])}
    varying = [k for k in plan.columns if k not in constant]
    lines.append("constant " + "  ".join(f"{k}={v:g}" for k, v in constant.items()))
    if varying:
        header = ["frame"] + varying
        lines.append("  ".join(f"{h:>12}" for h in header))
        shown = range(plan.frames) if limit is None else range(min(plan.frames, limit))
        for i in shown:
            lines.append("  ".join([f"{i:>12}"] + [f"{plan.columns[k][i]:>12.5g}" for k in varying]))
        if limit is not None and plan.frames > limit:
            lines.append(f"... {plan.frames - limit} more frames (--all shows every frame)")
    return "\n".join(lines)
