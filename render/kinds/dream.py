"""The ``dream`` kind: DeepDream zoom videos (a chained kind: each frame dreams the previous one).

Tables: ``[dream]`` (what to dream and how hard) and ``[motion]`` (the camera between frames).
Plan columns are the keyframed fields by key path: ``dream.steps``, ``motion.zoom``, ``motion.pan``
(a 2-vector) and one ``dream.layers.<layer[:channel]>`` weight per objective term.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..media import MediaSource, describe_still, held_note
from ..temporal import FlowSettings
from ..models.catalog import FEATURES, activation_values
from ..recipe.fields import ImagePath, MediaPath, Number, Vector, WeightTable, did_you_mean
from ..engines.geometry import octave_sizes
from ..backend import activate
from .base import Kind, PrintStage
from .footage import FLOW, describe_flow, flow_settings

DEFAULT_LAYERS = {"block4_conv3": 1.0}

# peak-memory model of a print (measured on this CPU with TensorFlow 2.x; see BENCHMARKS.md)
PROCESS_BASELINE = 0.72 * 2**30   # the interpreter, TensorFlow and VGG16 after a first small step
DREAM_BYTES_PER_PIXEL = 150

DREAM = {
    "init": ImagePath("noise", words=("noise",), help='start image, relative to the recipe, or "noise"'),
    "layers": WeightTable(DEFAULT_LAYERS, help='objective: layer = weight; "layer:channel" targets one '
                                               'filter (weights keyframable)',
                          example='{ block4_conv3 = 1.0, "block5_conv1:12" = 0.5 }'),
    "octaves": Number(3, 1, 12, integer=True, keyframed=True, help="image scales per frame"),
    "octave_scale": Number(1.4, 1.0, 4.0, keyframed=True, help="size ratio between octaves"),
    "steps": Number(8, 0, 1000, integer=True, keyframed=True, help="gradient steps per octave"),
    "step_size": Number(0.02, 0.0, 1.0, keyframed=True, help="step in image units (0..1)"),
    "tile": Number(512, 32, 4096, integer=True,
                   help="largest gradient tile side in pixels (raised to twice the model's minimum side)"),
    "color_coherence": Number(0.5, 0.0, 1.0, keyframed=True,
                              help="pull each frame's colours toward frame 0's (0 = free drift)"),
    "source": MediaPath(None, help="footage to dream: a video, a folder of frames or an animated image (instead "
                                   "of init); frame n dreams source frame n"),
    "blend": Number(0.6, 0.0, 1.0, keyframed=True,
                    help="with a source: share of the previous dream, warped along the source's flow, carried "
                         "into each frame (new detail fills the rest; 0 = every frame dreamed from its source alone)"),
    "steps_per_frame": Number(8, 0, 1000, integer=True, keyframed=True,
                              help="with a source: steps per octave of frames after the first, dreaming the "
                                   "share not carried (as many as steps keeps the dream as strong as frame 0's)"),
}
FOOTAGE_ONLY = ("dream.blend", "dream.steps_per_frame")  # columns that mean nothing without a source

MOTION = {
    "zoom": Number(1.0, 0.5, 2.0, keyframed=True, help="scale per frame (>1 zooms in)"),
    "rotate": Number(0.0, -90.0, 90.0, keyframed=True, help="degrees per frame"),
    "pan": Vector([0.0, 0.0], 2, -1000.0, 1000.0, help="[x, y] pixels per frame (vector keyframes, or "
                                                       "keyframes per component)"),
}

# what frame 0 never uses: it is not moved and has no earlier frame to match colours to
_FIRST_FRAME_UNUSED = ("motion.", "dream.color_coherence")


@dataclass(frozen=True)
class LayerTarget:
    """One term of the objective: mean activation of ``layer`` (of one ``channel`` when set), weighted
    by the plan column ``column``.  ``key`` is the recipe spelling, e.g. ``"block4_conv3:12"``."""

    key: str
    layer: str
    channel: int | None
    column: str


@dataclass(frozen=True)
class DreamSettings:
    """``init`` is an image path or None for seeded noise; ``tile`` the effective tile side (raised to
    twice the model's minimum side, capped at the frame's longest side: one tile, no roll)."""

    init: Path | None
    targets: tuple[LayerTarget, ...]
    tile: int
    source: MediaSource | None = None
    flow: FlowSettings = FlowSettings()


class DreamKind(Kind):
    name = "dream"
    description = "DeepDream: gradient ascent on a CNN's activations, with zoom/rotate/pan feedback"
    chained = True
    engine_version = "dream-6"
    sections = {"dream": DREAM, "motion": MOTION, "flow": FLOW}
    roles = (FEATURES,)
    default_model = "vgg16"
    model_help = ("vgg16 (embedded), vgg16-imagenet, vgg19-imagenet, inceptionv3-imagenet, "
                  "or a path to a .keras file")

    def settings(self, sections, model, output, error) -> DreamSettings:
        dream = sections["dream"]
        targets = tuple(_layer_target(key, model, error) for key in dream["layers"])
        tile = min(max(dream["tile"], 2 * model.min_side), max(output.size))
        init = dream["init"] if isinstance(dream["init"], Path) else None
        if dream["source"] is not None and init is not None:
            raise error("dream.source", "give either init (one picture) or source (footage), not both")
        return DreamSettings(init, targets, tile, dream["source"], flow_settings(sections))

    def sequence_source(self, sections):
        return sections["dream"]["source"]

    def inert(self, sections, given):
        if sections["dream"]["source"] is not None:
            return {"motion": "a dream over footage moves as its source does (optical flow)",
                    "dream.color_coherence": "a dream over footage keeps its source's colours",
                    "dream.init": "a dream over footage starts each frame from its source frame"}
        why = "it applies to footage only ([dream] source = ...)"
        return {"flow": why, **{column: why for column in FOOTAGE_ONLY}}

    def key_parts(self, recipe) -> dict[str, Any]:
        settings: DreamSettings = recipe.settings
        # footage frames keep new detail only where the dream was not carried: "damped" since issue 26
        footage = {"footage": settings.flow.key(), "carry": "damped"} if settings.source is not None else {}
        return {"init": settings.init or "noise", "tile": settings.tile,
                "targets": [[t.layer, t.channel] for t in settings.targets], **footage}

    def key_row(self, recipe, index: int, row: Mapping[str, Any]) -> Mapping[str, Any]:
        """The row with the octave settings replaced by the octave sizes they give (bucketed, so two
        scales can give the same octaves and the same pixels); frame 0 without what it never uses."""
        width, height = recipe.output.size
        octaves = max(1, int(round(row["dream.octaves"])))
        sizes = octave_sizes(height, width, octaves, row["dream.octave_scale"], recipe.model.min_side)
        keyed = {k: v for k, v in row.items() if k not in ("dream.octaves", "dream.octave_scale")}
        keyed["dream.octave_sizes"] = [list(size) for size in sizes]
        source = recipe.settings.source
        if source is None:
            keyed = {k: v for k, v in keyed.items() if k not in FOOTAGE_ONLY}
        else:  # footage: frames follow the source's flow, not [motion]; colours follow the source
            keyed = {k: v for k, v in keyed.items() if not k.startswith(("motion.", "dream.color_coherence"))}
            keyed["source"] = source.identity(index)
            if index == 0:
                keyed = {k: v for k, v in keyed.items() if k not in FOOTAGE_ONLY}
            else:
                keyed.pop("dream.steps", None)
        if index > 0:
            return keyed
        return {k: v for k, v in keyed.items() if not k.startswith(_FIRST_FRAME_UNUSED)}

    def preview_sections(self, sections, factor):
        dream = dict(sections["dream"])
        dream.update(steps=dream["steps"].map(lambda s: max(1, round(s / 3))),
                     octaves=dream["octaves"].map(lambda o: min(o, 2)), tile=max(dream["tile"], 256))
        motion = dict(sections["motion"], pan=sections["motion"]["pan"].map(lambda v: v * factor))
        return dict(sections, dream=dream, motion=motion)

    def memory_estimate(self, recipe) -> int:
        """One tile's forward and backward pass: activations of every layer up to the deepest target
        (float32, about 3x with gradients), plus a few full-frame float buffers."""
        width, height = recipe.output.size
        tile = recipe.settings.tile
        values = activation_values(recipe.model, [t.layer for t in recipe.settings.targets],
                                   min(height, tile), min(width, tile))
        return int(values * 4 * 3 + width * height * 3 * 4 * 6)

    def summary(self, recipe) -> list[str]:
        settings: DreamSettings = recipe.settings
        if settings.source is not None:
            start = [f"source   {settings.source.path}: {settings.source.describe()}"
                     + held_note(settings.source, recipe.output.frames), describe_flow(settings.flow),
                     "temporal each frame dreams its source frame started from the previous dream warped along "
                     "the flow (blend), fresh source where occluded; [motion] and color_coherence not used"]
        else:
            start = [f"init     {describe_still(settings.init) if settings.init else 'noise'}"]
        return [*start,
                "layers   " + ", ".join(t.key for t in settings.targets),
                f"tile     {settings.tile}"]

    def build_engine(self, recipe):
        activate(recipe.backend)   # Keras starts on the recipe's backend
        from ..engines.dream import DreamEngine
        return DreamEngine.from_recipe(recipe)

    # --- prints: the frame upscaled, then the row's octaves dreamed at print resolution -----------
    printable = True

    def print_stages(self, recipe, row, width, height, steps):
        octaves = max(1, int(round(row["dream.octaves"])))
        steps = int(round(row["dream.steps"])) if steps is None else steps
        sizes = octave_sizes(height, width, octaves, row["dream.octave_scale"], recipe.model.min_side)
        return [PrintStage(f"octave {k + 1}/{len(sizes)}", w, h, steps) for k, (h, w) in enumerate(sizes)]

    def print_tile(self, recipe) -> int:
        """The recipe's tile, not capped at the frame's size as a frame's is."""
        return max(recipe.sections["dream"]["tile"], 2 * recipe.model.min_side)

    def print_memory(self, recipe, stages, tile) -> int:
        """Process baseline + full-size float buffers of the octave loop (about 150 bytes a pixel,
        measured) + one tile's forward and backward pass."""
        last = stages[-1]
        values = activation_values(recipe.model, [t.layer for t in recipe.settings.targets],
                                   min(last.height, tile), min(last.width, tile))
        return int(PROCESS_BASELINE + last.width * last.height * DREAM_BYTES_PER_PIXEL + values * 4 * 3)

    def build_printer(self, recipe):
        activate(recipe.backend)
        from ..prints.dream import DreamPrinter
        return DreamPrinter(self.build_engine(recipe))


def _layer_target(key: str, model, error) -> LayerTarget:
    layer, _, channel_text = key.partition(":")
    where = f"dream.layers.{key}"
    if layer not in model.layers:
        raise error(where, f"model {model.name} has no layer {layer!r}" + (model.layer_hint(layer)
                    or did_you_mean(layer, model.layers)) + "; `render models` lists the layers")
    channel = None
    if channel_text:
        if not channel_text.isdigit():
            raise error(where, f"channel must be a whole number, as in \"{layer}:12\"")
        channel = int(channel_text)
        channels = model.layers[layer].channels
        if channel >= channels:
            raise error(where, f"channel {channel} is out of range: {layer} has {channels} channels "
                               f"(0..{channels - 1})")
    return LayerTarget(key, layer, channel, where)


KIND = DreamKind()
