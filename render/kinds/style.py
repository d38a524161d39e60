"""The ``style`` kind: neural style transfer and style morphs (a chained kind: each frame is
warm-started from the previous result), by optimisation (Gatys et al.) or, with ``method = "fast"``,
by one pass of a trained network a frame (:mod:`render.engines.fast_style`).

Tables: ``[style]`` (content, style images and their keyframed mix, layers, loss weights, optimiser)
and ``[motion]`` (as in dream, applied to the previous result before it is optimised again).
Plan columns: ``style.<number>`` for every keyframed number, ``style.mix.<name>`` per style image,
``style.style_layers.<layer>`` and ``style.content_layers.<layer>`` per layer, ``motion.*``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..media import MediaSource, describe_still, held_note
from ..models.catalog import FEATURES, activation_values
from ..models.stylenet_weights import BUILTIN_STYLES, BuiltinStyle
from ..recipe.fields import Choice, Flag, ImageTable, MediaPath, Number, NumberList, WeightTable, did_you_mean
from ..backend import activate
from ..temporal import FlowSettings
from .base import Kind, PrintStage
from ..models.fast_style import MARGIN, network_digests, networks_for, transformer_flops, uses_builtin, working_size
from .footage import FLOW, describe_flow, flow_settings
from .dream import MOTION, PROCESS_BASELINE

# peak-memory model of a tiled style print, per pixel of the last scale (measured; see BENCHMARKS.md)
STYLE_BYTES_PER_PIXEL = 120
PRINT_SCALE_RATIO = 2.0   # each print scale at most twice the last

DEFAULT_STYLE_LAYERS = {f"block{b}_conv1": 1.0 for b in range(1, 6)}
DEFAULT_CONTENT_LAYERS = {"block4_conv2": 1.0}

FAST_ONLY = ("strength",)
OPTIMIZE_ONLY = ("content_layers", "style_layers", "content_weight", "style_weight", "tv_weight", "steps",
                 "steps_per_frame", "scales", "optimizer", "learning_rate", "init", "temporal_weight")
# peak bytes per pixel of a fast frame or print above the process baseline: the transformer's full-size
# activations with the mirrored margin, the float picture and its 16-bit print (measured: a 2048x1536
# print peaked at 1.61 GiB, 300 bytes a pixel; 1024x768 at 0.99 GiB, 370)
FAST_BYTES_PER_PIXEL = 370
FAST_BUILTIN_BYTES_PER_PIXEL = 560   # the 26-style network: 32 channels at full size (2400x1800: 2.90 GiB)
FAST_MIN_SIDE = 8
# this project's 2-core CPU runs the transformer at about this many FLOPs a second (bench_style.py)
FAST_FLOPS_PER_SECOND = 60e9
# a fast frame's pull toward the warped previous result: lower than the optimisation's 0.8, since the
# result is resampled along the flow every frame and nothing re-sharpens it (0.8 softens footage)
FAST_CARRY = 0.5
FAST_ENGINE = "fast-2"   # goes into fast frames' keys: bump when the same recipe would give other pixels

STYLE = {
    "method": Choice("optimize", ("optimize", "fast"),
                     help="optimize (Gatys et al.: the pixels optimised, seconds to minutes a frame) or fast (one "
                          "pass of a trained network a frame: Ghiasi et al. for pictures, Dumoulin et al. for "
                          "built-in styles)"),
    "content": MediaPath(None, help="the photo: an image, a folder of frames or a video, relative to the recipe"),
    "images": ImageTable(None, builtins=BUILTIN_STYLES,
                         help="style images: name = path, or \"builtin:N\" (N 0..25) for one of the fast "
                              "network's 26 built-in styles"),
    "mix": WeightTable(None, 0.0, 1e6, help="style name = weight (keyframable); the frame's weights are "
                                            "normalised to sum 1 (default: equal)",
                       example='{ hubble = 1.0, cells = { 0 = 0.0, 95 = 1.0 } }'),
    "content_layers": WeightTable(DEFAULT_CONTENT_LAYERS, 0.0, 1e6, help="content loss layers = weight"),
    "style_layers": WeightTable(DEFAULT_STYLE_LAYERS, 0.0, 1e6, help="style loss layers = weight"),
    "content_weight": Number(1.0, 0.0, 1e6, keyframed=True, help="weight of the (normalised) content loss"),
    "style_weight": Number(10.0, 0.0, 1e6, keyframed=True, help="weight of the (normalised) style loss"),
    "tv_weight": Number(0.1, 0.0, 1e6, keyframed=True,
                        help="weight of total variation (image busyness relative to the content photo's)"),
    "steps": Number(300, 0, 100_000, integer=True, keyframed=True, help="optimisation steps per scale, first frame"),
    "steps_per_frame": Number(60, 0, 100_000, integer=True, keyframed=True,
                              help="steps of each later frame, warm-started from the previous one"),
    "scales": NumberList([0.5, 1.0], 0.0, 1.0, increasing=True, help="coarse-to-fine sizes of the first frame"),
    "optimizer": Choice("adam", ("adam", "lbfgs"), help="adam, or lbfgs (SciPy's L-BFGS-B: fewer, costlier "
                                                        "steps; learning_rate is for adam)"),
    "learning_rate": Number(0.02, 0.0, 1.0, low_open=True, keyframed=True, help="step size in image units (0..1)"),
    "preserve_colors": Flag(False, help="transfer luminance only: keep the content's colours"),
    "style_scale": Number(1.0, 0.1, 4.0, keyframed=True,
                          help="size of the style's features relative to the content (fast: the size a style "
                               "picture is seen at, x 256 px; a built-in style's stroke size: the network runs at "
                               "the frame's size divided by it, so 0.5 costs 4x and 2 is softer)"),
    "strength": Number(1.0, 0.0, 1.0, keyframed=True,
                       help="fast: 1 is the style; toward 0 the style vector moves to the content's own (built-in "
                            "styles: the picture fades to the content)"),
    "init": Choice("content", ("content", "noise", "fast"),
                   help="what the optimisation starts from: the content, seeded noise, or the fast network's "
                        "result (reaches the style in far fewer steps)"),
    "carry": Number(0.8, 0.0, 1.0, keyframed=True,
                    help="with a content sequence: share of the previous result (warped along the source's "
                         "flow where it is trusted) in each new start; 0 starts every frame from its content "
                         f"(method = \"fast\": in each frame, default {FAST_CARRY})"),
    "temporal_weight": Number(1.0, 0.0, 1e6, keyframed=True,
                              help="with a content sequence: weight of the temporal loss, the disagreement with "
                                   "the previous result warped along the source's flow (Ruder et al. 2016)"),
    "coherence": Choice("flow", ("flow", "blend"),
                        help="with a content sequence: flow (warp the previous result along the source's optical "
                             "flow, temporal loss) or blend (mix it in unmoved, no temporal loss: ghosts)"),
}


@dataclass(frozen=True)
class StyleSettings:
    content: MediaSource
    images: dict[str, Path]
    style_layers: tuple[str, ...]
    content_layers: tuple[str, ...]
    style_columns: tuple[str, ...]
    content_columns: tuple[str, ...]
    mix_given: bool          # False: equal weights; True: images missing from the mix weigh 0
    scales: tuple[float, ...]
    optimizer: str
    preserve_colors: bool
    init: str
    coherence: str = "flow"
    flow: FlowSettings = FlowSettings()
    method: str = "optimize"
    working_scale: float = 1.0   # fast previews: the frame's size over the full recipe's (the network runs at the full one)

    @property
    def uses_fast(self) -> bool:
        """Whether frames need the fast networks (method fast, or an optimisation that starts there)."""
        return self.method == "fast" or self.init == "fast"


class StyleKind(Kind):
    name = "style"
    description = "Neural style transfer (Gatys et al.) with keyframed style mixes and warm-started morphs"
    chained = True
    engine_version = "style-3"   # 3: the TV term is defined for flat frames (style_losses.tv_reference)
    sections = {"style": STYLE, "motion": MOTION, "flow": FLOW}
    roles = (FEATURES,)
    default_model = "vgg16"
    model_help = "vgg16 (embedded), vgg16-imagenet, vgg19-imagenet, or a path to a .keras file"

    def sequence_source(self, sections):
        return sections["style"]["content"]

    def min_side_for(self, model, sections):
        return FAST_MIN_SIDE if sections["style"]["method"] == "fast" else self.min_side(model)

    def uses_model(self, recipe):
        return recipe.settings.method != "fast"   # fast frames: their own networks, in key_parts

    def packaged_networks(self, recipe):
        return networks_for(recipe.settings.images) if recipe.settings.uses_fast else ()

    def implied_defaults(self, data):
        style = data.get("style")
        if isinstance(style, dict) and style.get("method") == "fast":
            return (("style", "carry", FAST_CARRY),)
        return ()

    def inert(self, sections, given):
        style = sections["style"]
        content = style["content"]
        if style["method"] == "fast":
            why = "method = \"fast\" runs a trained network, nothing is optimised"
            inert = {f"style.{key}": why for key in OPTIMIZE_ONLY}
            inert["motion"] = "method = \"fast\" makes each frame from its content"
            inert["model.name"] = "method = \"fast\" runs its own networks (`render models` lists them)"
        else:
            inert = {f"style.{key}": "it applies to method = \"fast\"" for key in FAST_ONLY}
        if content is None or not content.is_sequence:
            why = "it applies to footage only (a folder, video or recipe as style.content)"
            return {**inert, "flow": why, "style.carry": why, "style.temporal_weight": why, "style.coherence": why}
        if style["coherence"] == "flow":
            return {**inert, "motion": "footage moves as its content does (optical flow, coherence = \"flow\")"}
        why = "coherence = \"blend\" mixes the previous result in unmoved, without optical flow"
        return {**inert, "flow": why, "style.temporal_weight": why}

    def settings(self, sections, model, output, error) -> StyleSettings:
        style = sections["style"]
        if style["content"] is None:
            raise error("style.content", "missing: the photo to restyle, e.g. content = \"assets/chelsea.png\"")
        if style["images"] is None:
            raise error("style.images", "missing: at least one style image, e.g. images = { hubble = \"hubble.jpg\" }")
        source = style["content"]
        mix = style["mix"]
        if mix is not None:
            for name in mix:
                if name not in style["images"]:
                    raise error(f"style.mix.{name}", f"no style image named {name!r}"
                                + did_you_mean(name, style["images"]) + f"; images: {', '.join(style['images'])}")
            total = sum(np.maximum(schedule.expand(output.frames), 0.0) for schedule in mix.values())
            zero = np.flatnonzero(total <= 0)
            if zero.size:
                raise error("style.mix", f"the style weights are all zero at frame {zero[0]}: give some style "
                                         "a weight above 0 there")
        builtin = [name for name, value in style["images"].items() if isinstance(value, BuiltinStyle)]
        if builtin and style["method"] != "fast":
            raise error(f"style.images.{builtin[0]}", "a built-in style is a network's, with no picture to take Gram "
                                                      "matrices from: use it with method = \"fast\"")
        if builtin and len(builtin) < len(style["images"]):
            picture = next(n for n in style["images"] if n not in builtin)
            raise error(f"style.images.{picture}", "fast style blends either built-in styles or pictures (two "
                                                   "networks), not both: make this one a \"builtin:N\" or the "
                                                   "others pictures")
        for table in ("style_layers", "content_layers"):
            for layer in style[table]:
                if layer not in model.layers:
                    raise error(f"style.{table}.{layer}", f"model {model.name} has no layer {layer!r}"
                                + (model.layer_hint(layer) or did_you_mean(layer, model.layers))
                                + "; `render models` lists the layers")
        return StyleSettings(
            source, dict(style["images"]), tuple(style["style_layers"]), tuple(style["content_layers"]),
            tuple(f"style.style_layers.{n}" for n in style["style_layers"]),
            tuple(f"style.content_layers.{n}" for n in style["content_layers"]), mix is not None,
            style["scales"], style["optimizer"], style["preserve_colors"], style["init"], style["coherence"],
            flow_settings(sections), style["method"], float(style.get("working_scale", 1.0)))

    def key_parts(self, recipe) -> dict[str, Any]:
        settings: StyleSettings = recipe.settings
        images = {n: v.label if isinstance(v, BuiltinStyle) else v for n, v in settings.images.items()}
        fast = {"fast_networks": network_digests(settings.images)} if settings.uses_fast else {}
        if settings.method == "fast":
            return {"method": FAST_ENGINE, "images": images, "preserve_colors": settings.preserve_colors,
                    **({"working_scale": settings.working_scale} if settings.working_scale != 1.0 else {}),
                    "content_kind": settings.content.kind, "mix_given": settings.mix_given, **fast,
                    **({"coherence": settings.coherence, **settings.flow.key()} if settings.content.is_sequence else {})}
        return {"images": images, **fast, "style_layers": list(settings.style_layers),
                "content_layers": list(settings.content_layers), "scales": list(settings.scales),
                "optimizer": settings.optimizer, "preserve_colors": settings.preserve_colors,
                "init": settings.init, "content_kind": settings.content.kind, "mix_given": settings.mix_given,
                **({"coherence": settings.coherence, **settings.flow.key()} if settings.content.is_sequence else {})}

    def key_row(self, recipe, index: int, row: Mapping[str, Any]) -> Mapping[str, Any]:
        source: MediaSource = recipe.settings.content
        if recipe.settings.method == "fast":
            used = ("style.strength", "style.style_scale") + (("style.carry",) if source.is_sequence and index else ())
            row = {k: v for k, v in row.items() if k in used or k.startswith("style.mix.")}
            return dict(row, content=source.identity(index))
        row = {k: v for k, v in row.items() if k != "style.strength"}
        follows_flow = source.is_sequence and recipe.settings.coherence == "flow"
        if index == 0:  # the first frame is not moved, not warm-started and not blended
            unused = ("style.steps_per_frame", "style.carry", "style.temporal_weight")
            row = {k: v for k, v in row.items() if not k.startswith("motion.") and k not in unused}
        else:
            row = {k: v for k, v in row.items() if k != "style.steps"
                   and not (follows_flow and k.startswith("motion."))}  # footage moves as its source does
            if not source.is_sequence:
                row.pop("style.carry", None)
            if not follows_flow:
                row.pop("style.temporal_weight", None)
        return dict(row, content=source.identity(index))

    def preview_sections(self, sections, factor):
        if sections["style"]["method"] == "fast":   # the network runs at the full frame's size: the same strokes
            return dict(sections, style=dict(sections["style"], working_scale=factor))
        style = dict(sections["style"])
        style.update(steps=style["steps"].map(lambda s: max(1, round(s / 3))),
                     steps_per_frame=style["steps_per_frame"].map(lambda s: max(1, round(s / 3))))
        motion = dict(sections["motion"], pan=sections["motion"]["pan"].map(lambda v: v * factor))
        return dict(sections, style=style, motion=motion)

    def memory_estimate(self, recipe) -> int:
        """Activations up to the deepest layer, kept for the backward pass (about 3x in float32), plus
        the image, its gradient and Adam's two moments."""
        width, height = recipe.output.size
        if recipe.settings.method == "fast":
            return fast_memory(recipe, width, height)
        values = activation_values(recipe.model, recipe.settings.style_layers + recipe.settings.content_layers,
                                   height, width)
        return int(values * 4 * 3 + width * height * 3 * 4 * 8)

    def summary(self, recipe) -> list[str]:
        s: StyleSettings = recipe.settings
        if s.method == "fast":
            return self._fast_summary(recipe)
        footage = []
        if s.content.is_sequence:
            footage = ([describe_flow(s.flow), "temporal each frame starts from the previous result warped along "
                        "the flow (carry), plus the temporal loss (temporal_weight); [motion] is not used"]
                       if s.coherence == "flow" else
                       ["temporal blend: each frame starts from the previous result, unmoved, mixed by carry"])
        return [f"content  {s.content.path}: {s.content.describe()}" + held_note(s.content, recipe.output.frames)
                if s.content.is_sequence else f"content  {describe_still(s.content.path)}", *footage,
                "styles   " + ", ".join(f"{n}={describe_still(p)}" for n, p in s.images.items()),
                f"layers   style {', '.join(s.style_layers)}; content {', '.join(s.content_layers)}",
                f"optimise {s.optimizer}, scales {', '.join(f'{v:g}' for v in s.scales)}, init {s.init}"
                + (" (the fast network's result: " + ", ".join(networks_for(s.images)) + ")" if s.init == "fast" else "")
                + (", colours kept" if s.preserve_colors else "")]

    def _fast_summary(self, recipe) -> list[str]:
        s: StyleSettings = recipe.settings
        width, height = recipe.output.size
        h, w = largest_working_size(recipe, width, height)
        flops = transformer_flops(h + 2 * MARGIN, w + 2 * MARGIN, uses_builtin(s.images))
        content = (f"content  {s.content.path}: {s.content.describe()}" + held_note(s.content, recipe.output.frames)
                   if s.content.is_sequence else f"content  {describe_still(s.content.path)}")
        footage = []
        if s.content.is_sequence:
            footage = ([describe_flow(s.flow), "temporal each frame is the network's, pulled toward the previous "
                        "result warped along the flow where it is trusted (carry)"] if s.coherence == "flow" else
                       ["temporal blend: each frame mixed with the previous result, unmoved, by carry"])
        styles = ", ".join(f"{n}={v.label}" if isinstance(v, BuiltinStyle) else f"{n}={describe_still(v)}"
                           for n, v in s.images.items())
        return [content, *footage, "styles   " + styles,
                f"method   fast: one pass of {' + '.join(networks_for(s.images))} a frame, {flops / 1e9:.1f} GFLOP "
                f"at {w}x{h}" + (f" (the network's working size; frames {width}x{height})" if (w, h) != (width, height)
                                 else "")
                + f", about {flops / FAST_FLOPS_PER_SECOND:.2f} s a frame on a 2-core CPU"
                + (", colours kept" if s.preserve_colors else "")]

    def build_engine(self, recipe):
        activate(recipe.backend)   # Keras starts on the recipe's backend
        if recipe.settings.method == "fast":
            from ..engines.fast_style import FastStyleEngine
            return FastStyleEngine.from_recipe(recipe)
        from ..engines.style import StyleEngine
        return StyleEngine.from_recipe(recipe)

    # --- prints: the frame upscaled scale by scale (x2 at most), optimised at each ----------------
    printable = True

    def print_stages(self, recipe, row, width, height, steps):
        if recipe.settings.method == "fast":
            return [PrintStage("one pass of the network", width, height, 1)]
        steps = int(round(row["style.steps_per_frame"])) if steps is None else steps
        sizes = print_scale_sizes(recipe.output.size, width, height)
        return [PrintStage(f"scale {k + 1}/{len(sizes)}", w, h, steps) for k, (w, h) in enumerate(sizes)]

    def print_memory(self, recipe, stages, tile) -> int:
        """Process baseline + full-size buffers (image, Adam moments, gradient, content, scratch) +
        the content features cached per tile + one tile's forward and backward pass."""
        last = stages[-1]
        if recipe.settings.method == "fast":
            return fast_memory(recipe, last.width, last.height)
        layers = recipe.settings.style_layers + recipe.settings.content_layers
        side_h, side_w = min(last.height, tile), min(last.width, tile)
        values = activation_values(recipe.model, layers, side_h, side_w)
        pixels = last.width * last.height
        if max(last.width, last.height) <= tile:  # one pass, no tiles
            return int(PROCESS_BASELINE + values * 4 * 3 + pixels * 3 * 4 * 8)
        cached = sum(pixels / recipe.model.layers[n].stride ** 2 * recipe.model.layers[n].channels
                     for n in recipe.settings.content_layers) * 4 * 1.4  # margins overlap
        return int(PROCESS_BASELINE + pixels * STYLE_BYTES_PER_PIXEL + cached + values * 4 * 3)

    def build_printer(self, recipe):
        activate(recipe.backend)
        if recipe.settings.method == "fast":
            from ..prints.fast_style import FastStylePrinter
            return FastStylePrinter(self.build_engine(recipe))
        from ..prints.style import StylePrinter
        return StylePrinter(self.build_engine(recipe))


KIND = StyleKind()


def largest_working_size(recipe, width: int, height: int) -> tuple[int, int]:
    """(h, w) of the largest picture the fast network runs on for a ``width`` x ``height`` output: built-in
    styles at the smallest ``style_scale`` of the plan (:func:`render.models.fast_style.working_size`)."""
    settings = recipe.settings
    builtin = uses_builtin(settings.images)
    scale = float(np.min(recipe.sections["style"]["style_scale"].expand(recipe.output.frames))) if builtin else 1.0
    return working_size(height, width, scale, builtin, settings.working_scale)


def fast_memory(recipe, width: int, height: int) -> int:
    """Peak bytes of a fast frame or print: the process, the network's activations at its largest
    working size (with the margin) and the output's float buffers."""
    h, w = largest_working_size(recipe, width, height)
    per_pixel = FAST_BUILTIN_BYTES_PER_PIXEL if uses_builtin(recipe.settings.images) else FAST_BYTES_PER_PIXEL
    return int(PROCESS_BASELINE + (h + 2 * MARGIN) * (w + 2 * MARGIN) * per_pixel + width * height * 3 * 4 * 4)


def print_scale_sizes(frame_size: tuple[int, int], width: int, height: int) -> list[tuple[int, int]]:
    """(w, h) of each print scale: from above the frame's size to the print's, each at most
    PRINT_SCALE_RATIO times the last (one scale when the print is not larger than the frame)."""
    ratio = max(width / frame_size[0], height / frame_size[1])
    count = max(1, math.ceil(math.log(ratio, PRINT_SCALE_RATIO) - 1e-9)) if ratio > 1 else 1
    return [(round(width * ratio ** (-(count - 1 - k) / count)), round(height * ratio ** (-(count - 1 - k) / count)))
            for k in range(count)]
