"""The ``visualize`` kind: feature visualization, "max h(x)" (an independent kind: every frame is its
own optimisation, frames render in batches).

Each frame optimises an image, from a seeded start, for a weighted sum of targets of a CNN:

- ``"block4_conv1:97"``: channel 97's mean activation; ``"block4_conv1:97:neuron"``: that channel at
  the centre position only; ``"block4_conv1"``: the whole layer's energy (mean square); channels,
  neurons and directions are taken before the layer's ReLU, so a unit that is off still has a gradient;
- ``"direction:NAME"``: a direction in a layer's activation space, from ``[visualize.directions.NAME]``
  ``layer``, ``toward`` and ``away`` pictures (the difference of their mean activations).

Weights are keyframable (``visualize.objective.<target>`` columns), so a video morphs one channel into
another: each frame starts from the blend of its targets' anchors (each target's own image) and is
refined (``morph = "anchors"``, :mod:`render.engines.anchors`), so neighbouring frames keep their
layout (0.19x the frame-to-frame change of independent frames, BENCHMARKS.md).  ``variants = N`` puts N
images of the frame's objective side by side, optimised together with a diversity penalty (their Gram
matrices pushed apart); ``[visualize.atlas]`` makes a still: a sheet of one layer's channels, each cell
the same render a one-channel recipe with the same seed gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import activate
from ..models.catalog import FEATURES
from ..recipe.fields import Choice, Field, FieldError, Flag, ImagePath, Number, NumberList, ParseEnv, WeightTable
from .base import Kind, PrintStage

VISUALIZE = {
    "objective": WeightTable({"block4_conv1:97": 1.0}, -1e6, 1e6,
                             help='targets = weight (keyframable): "layer:channel", "layer:channel:neuron", '
                                  '"layer" or "direction:NAME"',
                             example='{ "block4_conv1:97" = 0.7, "block4_conv1:12" = 0.3 }'),
    "parameterization": Choice("fft", ("fft", "pixels"),
                               help="fft: a scaled Fourier basis (structures); pixels: plain pixels (noise-like)"),
    "decorrelate": Flag(True, help="optimise decorrelated colour channels (natural images' colour basis)"),
    "decay": Number(1.5, 0.0, 3.0, help="fft: how fast the step falls with frequency (1 = Lucid's 1/f, sharper; "
                                        "1.5 = as smooth as a photo; 2 = soft)"),
    "steps": Number(256, 1, 100_000, integer=True, help="Adam steps per image"),
    "learning_rate": Number(0.05, 0.0, 10.0, low_open=True, help="Adam's step size"),
    "pad": Number(12, 0, 256, integer=True, help="grey pixels padded around the image before transforms"),
    "jitter": Number(8, 0, 256, integer=True, help="random shift each step, pixels"),
    "scales": NumberList([1.0 + (i - 5) / 50.0 for i in range(11)], 0.0, 4.0,
                         help="random scale each step, drawn from these"),
    "rotate": Number(10.0, 0.0, 180.0, help="random rotation each step, up to this many degrees either way"),
    "views": Number(1, 1, 64, integer=True, help="transformed copies of each image per step, their gradients "
                                                 "averaged (steadier, views x the time)"),
    "morph": Choice("anchors", ("anchors", "start"),
                    help="objectives of several targets: anchors = each frame starts from the blend of its "
                         "targets' own images and is refined (a morph keeps its layout); start = every frame "
                         "optimised from the seeded start"),
    "refine": Number(64, 1, 100_000, integer=True, help="morph = \"anchors\": Adam steps from the blend of anchors"),
    "variants": Number(1, 1, 64, integer=True, help="images of the objective side by side in each frame"),
    "diversity": Number(0.0, 0.0, 1e6, help="with variants > 1: weight of the penalty on their similarity "
                                           "(Gram matrices)"),
    "batch": Number(4, 1, 1024, integer=True, help="frames (or atlas cells) optimised together"),
}


class Atlas(Field):
    """``[visualize.atlas]``: ``layer``, ``channels`` (a count from 0, or a list) and ``columns``."""

    default: Any = None
    help = ("a still sheet of one layer's channels: { layer = \"block4_conv1\", channels = 16, columns = 4 }, or of "
            "chosen channels of any layers: { targets = [\"block1_conv2:5\", \"block5_conv1:30\"] }")

    def parse(self, raw: Any, env: ParseEnv):
        if isinstance(raw, dict) and "targets" in raw:   # channels of several layers: a study strip
            targets = raw["targets"]
            if set(raw) - {"targets", "columns", "labels"}:
                raise FieldError("with targets, only columns and labels go beside it")
            if not (isinstance(targets, list) and targets and all(isinstance(t, str) and t.count(":") == 1
                                                                  and t.split(":")[1].isdigit() for t in targets)):
                raise FieldError('targets: a list of "layer:channel"', "targets")
            pairs = tuple((t.split(":")[0], int(t.split(":")[1])) for t in targets)
            return {"layer": None, "channels": pairs, "columns": _columns(raw, len(pairs), len(pairs)),
                    "labels": _labels(raw)}
        if not isinstance(raw, dict) or "layer" not in raw:
            raise FieldError('expected { layer = "block4_conv1", channels = 16, columns = 4 } or '
                             '{ targets = ["block1_conv2:5", "block5_conv1:30"] }')
        unknown = set(raw) - {"layer", "channels", "columns", "labels"}
        if unknown:
            raise FieldError(f"unknown key {sorted(unknown)[0]!r}; known: layer, channels, columns, labels "
                             "(or targets, columns, labels)")
        channels = raw.get("channels", 16)
        if isinstance(channels, int) and not isinstance(channels, bool) and 1 <= channels <= 4096:
            channels = list(range(channels))
        if not (isinstance(channels, list) and channels and all(isinstance(c, int) and not isinstance(c, bool)
                                                                 and c >= 0 for c in channels)):
            raise FieldError("channels: a count (16) or a list of channel numbers ([3, 97, 130])", "channels")
        columns = _columns(raw, len(channels), int(np.ceil(np.sqrt(len(channels)))))
        if not isinstance(raw["layer"], str):
            raise FieldError("layer: a layer name", "layer")
        return {"layer": raw["layer"], "channels": tuple((raw["layer"], c) for c in channels), "columns": columns,
                "labels": _labels(raw)}

    def json_schema(self) -> dict:
        return self._described({"type": "object", "properties": {
            "layer": {"type": "string"}, "columns": {"type": "integer", "minimum": 1},
            "targets": {"type": "array", "items": {"type": "string", "pattern": "^[^:]+:[0-9]+$"}},
            "labels": {"type": "boolean", "description": "write each cell's layer:channel in its corner"},
            "channels": {"anyOf": [{"type": "integer", "minimum": 1},
                                   {"type": "array", "items": {"type": "integer", "minimum": 0}}]}},
            "additionalProperties": False})


def _columns(raw: dict, cells: int, default: int) -> int:
    columns = raw.get("columns", default)
    if not isinstance(columns, int) or isinstance(columns, bool) or not 1 <= columns <= cells:
        raise FieldError(f"columns: a whole number 1..{cells}", "columns")
    return columns


def _labels(raw: dict) -> bool:
    labels = raw.get("labels", False)
    if not isinstance(labels, bool):
        raise FieldError("labels: true or false", "labels")
    return labels


class Directions(Field):
    """``[visualize.directions.NAME]``: ``layer``, ``toward`` and ``away`` pictures."""

    default: Any = None
    help = 'named directions: [visualize.directions.NAME] layer = "...", toward = "a.png", away = "b.png"'

    def parse(self, raw: Any, env: ParseEnv):
        if not isinstance(raw, dict):
            raise FieldError("expected tables [visualize.directions.NAME]")
        out = {}
        for name, table in raw.items():
            if not isinstance(table, dict) or set(table) != {"layer", "toward", "away"}:
                raise FieldError('expected layer = "...", toward = "picture", away = "picture"', name)
            picture = ImagePath(None)
            try:
                out[name] = (str(table["layer"]), picture.parse(table["toward"], env), picture.parse(table["away"], env))
            except FieldError as err:
                raise FieldError(str(err), name) from None
        return out

    def json_schema(self) -> dict:
        entry = {"type": "object", "properties": {k: {"type": "string"} for k in ("layer", "toward", "away")},
                 "required": ["layer", "toward", "away"], "additionalProperties": False}
        return self._described({"type": "object", "additionalProperties": entry})


VISUALIZE["atlas"] = Atlas()
VISUALIZE["directions"] = Directions()


@dataclass(frozen=True)
class TargetSpec:
    """A recipe target: its spelling, the layer, the kind of target and channel, the plan column."""

    key: str
    layer: str
    kind: str
    channel: int | None
    column: str
    direction: tuple | None = None   # (toward picture, away picture)


@dataclass(frozen=True)
class VisualizeSettings:
    targets: tuple[TargetSpec, ...]
    parameterization: str
    decorrelate: bool
    decay: float
    steps: int
    learning_rate: float
    pad: int
    jitter: int
    scales: tuple[float, ...]
    rotate: float
    views: int
    morph: str
    refine: int
    variants: int
    diversity: float
    batch: int
    atlas: dict | None

    @property
    def cells(self) -> int:
        return len(self.atlas["channels"]) if self.atlas else self.variants

    @property
    def columns(self) -> int:
        return self.atlas["columns"] if self.atlas else self.variants


def _target(key: str, model, directions: dict, error) -> TargetSpec:
    column = f"visualize.objective.{key}"
    parts = key.split(":")
    if parts[0] == "direction":
        name = parts[1] if len(parts) == 2 else ""
        if name not in directions:
            raise error(column, f"no direction named {name!r}: add [visualize.directions.{name or 'NAME'}]")
        layer, toward, away = directions[name]
        if layer not in model.layers:
            raise error(f"visualize.directions.{name}", f"model {model.name} has no layer {layer!r}")
        return TargetSpec(key, layer, "direction", None, column, (toward, away))
    layer = parts[0]
    if layer not in model.layers:
        from ..recipe.fields import did_you_mean
        raise error(column, f"model {model.name} has no layer {layer!r}"
                    + (model.layer_hint(layer) or did_you_mean(layer, model.layers)))
    if len(parts) == 1:
        return TargetSpec(key, layer, "layer", None, column)
    if not parts[1].isdigit() or len(parts) > 3 or (len(parts) == 3 and parts[2] != "neuron"):
        raise error(column, f'expected "layer:channel" or "layer:channel:neuron" (the word neuron: the '
                            f'centre position), got {key!r}')
    channel = int(parts[1])
    if channel >= model.layers[layer].channels:
        raise error(column, f"channel {channel} is out of range: {layer} has {model.layers[layer].channels}")
    return TargetSpec(key, layer, "neuron" if len(parts) == 3 else "channel", channel, column)


class VisualizeKind(Kind):
    name = "visualize"
    description = "Feature visualization (Olah et al. 2017): images that maximise channels, neurons, layers or directions"
    chained = False
    engine_version = "visualize-4"
    sections = {"visualize": VISUALIZE}
    roles = (FEATURES,)
    default_model = "vgg16"
    model_help = "vgg16 (embedded), vgg16-imagenet, vgg19-imagenet, or a path to a .keras file"
    default_batch = 4

    def inert(self, sections, given):
        if sections["visualize"]["atlas"] is None:
            return {}
        why = "an atlas optimises one cell per channel of visualize.atlas"
        return {"visualize.objective": why, "visualize.morph": why, "visualize.refine": why}

    def settings(self, sections, model, output, error) -> VisualizeSettings:
        v = sections["visualize"]
        directions = v["directions"] or {}
        atlas = v["atlas"]
        if atlas is not None:
            key = "visualize.atlas." + ("layer" if atlas["layer"] else "targets")
            for layer, channel in atlas["channels"]:
                if layer not in model.layers:
                    raise error(key, f"model {model.name} has no layer {layer!r}")
                if channel >= model.layers[layer].channels:
                    raise error("visualize.atlas.channels" if atlas["layer"] else key,
                                f"{layer} has {model.layers[layer].channels} channels (0..{model.layers[layer].channels - 1})")
            if output.frames != 1:
                raise error("visualize.atlas", "an atlas is a still: give output.frames = 1")
            if v["variants"] > 1 or v["diversity"] > 0:
                raise error("visualize.variants" if v["variants"] > 1 else "visualize.diversity",
                            "an atlas has one cell per channel: variants and diversity are for one objective's images")
            rows = -(-len(atlas["channels"]) // atlas["columns"])
            cell = (output.size[0] // atlas["columns"], output.size[1] // rows)
            if min(cell) < 16:
                raise error("visualize.atlas", f"{len(atlas['channels'])} channels in {atlas['columns']} columns make "
                                               f"cells of {cell[0]}x{cell[1]} px in {output.size[0]}x{output.size[1]}: "
                                               "at least 16 px each; a larger output.size or fewer channels")
            targets = tuple(TargetSpec(f"{layer}:{c}", layer, "channel", c, "") for layer, c in atlas["channels"])
        else:
            targets = tuple(_target(key, model, directions, error) for key in v["objective"])
            total = sum(np.abs(schedule.expand(output.frames)) for schedule in v["objective"].values())
            zero = np.flatnonzero(np.asarray(total) == 0)
            if zero.size:
                raise error("visualize.objective", f"every weight is 0 at frame {zero[0]}: the picture would stay "
                                                   "grey; give a target a weight there")
        return VisualizeSettings(targets, v["parameterization"], v["decorrelate"], v["decay"], v["steps"],
                                 v["learning_rate"], v["pad"], v["jitter"], tuple(v["scales"]), v["rotate"],
                                 v["views"], v["morph"], v["refine"], v["variants"], v["diversity"], v["batch"], atlas)

    def key_parts(self, recipe) -> dict[str, Any]:
        s: VisualizeSettings = recipe.settings
        return {"targets": [[t.key, t.layer, t.kind, t.channel, list(t.direction) if t.direction else None]
                            for t in s.targets],
                "how": [s.parameterization, s.decorrelate, s.decay, s.steps, s.learning_rate, s.pad, s.jitter,
                        list(s.scales), s.rotate, s.views, s.variants, s.diversity]
                       + ([s.morph, s.refine] if len(s.targets) > 1 and s.atlas is None else []),
                "atlas": s.atlas and [[list(c) for c in s.atlas["channels"]], s.atlas["columns"], s.atlas["labels"]]}

    def batch_size(self, recipe) -> int:
        return 1 if recipe.settings.atlas or recipe.settings.variants > 1 else recipe.settings.batch

    def preview_sections(self, sections, factor):
        v = dict(sections["visualize"], steps=max(16, sections["visualize"]["steps"] // 4),
                 refine=max(4, sections["visualize"]["refine"] // 4))
        return dict(sections, visualize=v)

    def summary(self, recipe) -> list[str]:
        s: VisualizeSettings = recipe.settings
        what = (f"atlas of {s.atlas['layer'] or 'several layers'}: {len(s.atlas['channels'])} channels in "
                f"{s.atlas['columns']} columns" if s.atlas else "objective " + " + ".join(t.key for t in s.targets))
        return [f"visual   {what}",
                f"optimise {s.parameterization}{' + decorrelated colour' if s.decorrelate else ''}, {s.steps} Adam "
                f"steps at {s.learning_rate:g}; transforms pad {s.pad}, jitter {s.jitter}, scales "
                f"{min(s.scales):g}..{max(s.scales):g}, rotate {s.rotate:g} deg"
                + (f", {s.views} views a step" if s.views > 1 else "")
                + (f"; {s.variants} variants, diversity {s.diversity:g}" if s.variants > 1 else "")
                + (f"; frames start from the {len(s.targets)} targets' anchors, then {s.refine} steps"
                   if s.morph == "anchors" and len(s.targets) > 1 and s.atlas is None else "")]

    def memory_estimate(self, recipe) -> int:
        width, height = recipe.output.size
        return int(width * height * 3 * 4 * 64 * max(1, recipe.kind.batch_size(recipe)) * recipe.settings.views
                   + 200 * 2**20)

    def build_engine(self, recipe):
        activate(recipe.backend)
        from ..engines.visualize import VisualizeEngine
        return VisualizeEngine.from_recipe(recipe)

    # --- prints: every cell optimised again at its print size ------------------------------------
    printable = True
    print_from_frame = False

    def print_stages(self, recipe, row, width, height, steps):
        s: VisualizeSettings = recipe.settings
        return [PrintStage(f"{s.cells} cell{'s' * (s.cells > 1)} at print size", width, height,
                           s.steps if steps is None else steps)]

    def print_memory(self, recipe, stages, tile) -> int:
        """The process, the canvas and one cell's forward and backward pass (about 3 KiB a pixel on
        VGG16 up to block 5, measured like the dream print's)."""
        last = stages[-1]
        s: VisualizeSettings = recipe.settings
        rows = -(-s.cells // s.columns)
        cell = (last.width / s.columns) * (last.height / rows)
        return int(0.8 * 2**30 + last.width * last.height * 12 + cell * 3000)

    def build_printer(self, recipe):
        activate(recipe.backend)
        from ..prints.visualize import VisualizePrinter
        return VisualizePrinter(self.build_engine(recipe))


KIND = VisualizeKind()
