"""Neural style transfer with style morphs: coarse-to-fine optimisation of the image's pixels, each
later frame warm-started from the previous result (moved by the recipe's motion).

Images are float32 ``(H, W, 3)`` RGB in 0..1 inside the engine and uint8 between frames (exactly what
is stored), so a resumed run continues from the same pixels as an unbroken one.

The pieces: :class:`StyleObjective` (features -> the three normalised loss terms), the step rules
:class:`AdamLoop` (all steps of one image inside one compiled graph) and :func:`lbfgs`, and
:class:`StyleEngine` (targets per frame: blended style Grams cached per size, the content frame,
coarse-to-fine scales, warm starts, colour preservation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..backend import current
from ..backend.kerasops import ops
from ..contracts import FrameJob
from ..media import MediaSource, RecentFrames, load_image, picture_info
from ..models import build
from .color import keep_content_colours
from .geometry import scale_sizes
from .images import noise_image, to_uint8
from .motion import apply_motion
from .resample import resize_bilinear
from ..temporal import FlowCache, default_flow_folder, warp_previous
from .style_losses import (blend_grams, content_loss, gram, style_loss, temporal_loss, total_variation,
                           tv_reference)
from .style_tiled import variation_of


@dataclass(frozen=True)
class Temporal:
    """What a footage frame agrees with: the previous result warped along the source's flow
    ``(H, W, 3)``, the flow's trust mask ``(H, W, 1)`` and the term's weight (a float32 scalar)."""

    warped: np.ndarray
    mask: np.ndarray
    weight: np.float32


@dataclass(frozen=True)
class Targets:
    """What one frame optimises toward: content features ``(1, h, w, c)`` per content layer, target
    Grams ``(c, c)`` per style layer, and the content image's own variation (a scalar)."""

    content: tuple
    style: tuple
    tv_reference: object


class StyleObjective:
    """Loss terms of an image given :class:`Targets`.

    ``losses(image (H, W, 3), targets, term_weights (3,) [content, style, tv], style_layer_weights (m,),
    content_layer_weights (k,))`` -> float32 ``(4,)``: total, content, style, tv (unweighted terms).
    Graph code: runs inside the compiled functions below."""

    def __init__(self, extractor: build.FeatureExtractor, style_layers: Sequence[str], content_layers: Sequence[str]):
        self.extractor = extractor
        self.style_index = [extractor.layers.index(name) for name in style_layers]
        self.content_index = [extractor.layers.index(name) for name in content_layers]
        backend = current()
        self._features = backend.compile(lambda image: self.features(image), [extractor.model],
                                         name="style features")

    def features(self, image) -> tuple[list, list]:
        """(style layer activations in the compute type, for :func:`gram`; content layer activations in
        float32) of ``(H, W, 3)``."""
        outputs = self.extractor(image[None], keep_dtype=True)
        return ([outputs[i] for i in self.style_index],
                [ops.cast(outputs[i], "float32") for i in self.content_index])

    def compute_features(self, image: np.ndarray) -> tuple[list, list]:
        """:meth:`features` of a numpy image, compiled."""
        return self._features(np.asarray(image, np.float32))

    def style_grams(self, image: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(gram(f)) for f in self.compute_features(image)[0]]

    def losses(self, image, targets: Targets, term_weights, style_weights, content_weights):
        style_features, content_features = self.features(image)
        terms = ops.stack([content_loss(content_features, targets.content, content_weights),
                           style_loss(style_features, targets.style, style_weights),
                           total_variation(image, targets.tv_reference)])
        return ops.concatenate([ops.reshape(ops.sum(terms * term_weights), (1,)), terms], axis=0)


class AdamLoop:
    """Adam on the pixels, clipped to 0..1 after each step (one compiled call a step), and the
    compiled loss-and-gradient that L-BFGS uses.

    ``run(image, steps, learning_rate, targets, weights, temporal=None)`` -> (image ``(H, W, 3)``,
    losses ``(steps, 4)`` before each step); graphs are compiled per image size.  With a
    :class:`Temporal`, the weighted temporal loss is added to the total (a second pair of graphs, so
    frames without it run exactly the graph they always did)."""

    BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8

    def __init__(self, objective: StyleObjective, jit: bool = False):
        self.objective, self.jit = objective, jit

        def total_and_losses(image, content, style, tv_reference, term_weights, style_weights, content_weights):
            losses = objective.losses(image, Targets(content, style, tv_reference), term_weights, style_weights,
                                      content_weights)
            return losses[0], losses

        def with_temporal(image, content, style, tv_reference, term_weights, style_weights, content_weights,
                          warped, mask, temporal_weight):
            losses = objective.losses(image, Targets(content, style, tv_reference), term_weights, style_weights,
                                      content_weights)
            total = losses[0] + temporal_weight * temporal_loss(image, warped, mask)
            return total, ops.concatenate([ops.reshape(total, (1,)), losses[1:]], axis=0)

        self._step, self._value_and_gradient = self._compiled(total_and_losses, "style step", "style gradient")
        self._temporal_fns = lambda: self._compiled(with_temporal, "style step (temporal)",
                                                    "style gradient (temporal)")
        self._temporal = None

    def _compiled(self, total_and_losses, step_name: str, gradient_name: str):
        """The compiled Adam step and loss-and-gradient of a total-loss function."""
        backend = current()
        gradient = backend.value_and_grad(total_and_losses, has_aux=True)
        b1, b2, eps = self.BETA1, self.BETA2, self.EPSILON

        def step(image, first, second, t, learning_rate, *target_and_weights):
            (_, losses), grad = gradient(image, *target_and_weights)
            first = b1 * first + (1.0 - b1) * grad
            second = b2 * second + (1.0 - b2) * ops.square(grad)
            update = (first / (1.0 - b1 ** t)) / (ops.sqrt(second / (1.0 - b2 ** t)) + eps)
            return ops.clip(image - learning_rate * update, 0.0, 1.0), first, second, losses

        def value_and_gradient(image, *target_and_weights):
            (_, losses), grad = gradient(image, *target_and_weights)
            return losses, grad

        models = [self.objective.extractor.model]
        return (backend.compile(step, models, name=step_name, jit=self.jit),
                backend.compile(value_and_gradient, models, name=gradient_name))

    def _functions(self, temporal):
        if temporal is None:
            return self._step, self._value_and_gradient
        if self._temporal is None:
            self._temporal = self._temporal_fns()
        return self._temporal

    @staticmethod
    def _args(targets: Targets, weights: tuple, temporal) -> tuple:
        args = (targets.content, targets.style, targets.tv_reference) + tuple(weights)
        if temporal is not None:
            args += (np.asarray(temporal.warped, np.float32), np.asarray(temporal.mask, np.float32),
                     np.float32(temporal.weight))
        return args

    def run(self, image: np.ndarray, steps: int, learning_rate: float, targets: Targets, weights: tuple,
            temporal: Temporal | None = None):
        step_fn = self._functions(temporal)[0]
        args = self._args(targets, weights, temporal)
        image = np.asarray(image, np.float32)
        first = np.zeros_like(image)
        second = np.zeros_like(image)
        rate = np.float32(learning_rate)
        history = []
        for step in range(steps):
            image, first, second, losses = step_fn(image, first, second, np.float32(step + 1), rate, *args)
            history.append(losses)
        losses = np.stack([np.asarray(h) for h in history]) if history else np.zeros((0, 4), np.float32)
        return np.asarray(image, np.float32), losses

    def value_and_gradient(self, image: np.ndarray, targets: Targets, weights: tuple,
                           temporal: Temporal | None = None):
        """(losses ``(4,)``, gradient ``(H, W, 3)``) as numpy."""
        function = self._functions(temporal)[1]
        losses, grad = function(np.asarray(image, np.float32), *self._args(targets, weights, temporal))
        return np.asarray(losses), np.asarray(grad)


def lbfgs(value_and_gradient, image: np.ndarray, steps: int, memory: int = 8):
    """L-BFGS-B on the pixels, kept in 0..1 by its bounds (SciPy's implementation of Byrd, Lu,
    Nocedal and Zhu, 1995), at most ``steps`` iterations.

    ``value_and_gradient(image)`` -> (losses ``(4,)`` total first, gradient); returns (image, losses
    ``(iterations, 4)``, each row the losses before that iteration)."""
    from scipy.optimize import Bounds, minimize

    shape = image.shape
    last: dict = {}

    def evaluate(flat):
        losses, grad = value_and_gradient(flat.reshape(shape).astype(np.float32))
        last["x"], last["losses"] = flat.copy(), losses
        return float(losses[0]), np.asarray(grad, np.float64).ravel()

    history = []

    def record(xk):
        if "x" not in last or not np.array_equal(last["x"], xk):
            evaluate(xk)
        history.append(last["losses"])

    start = np.asarray(image, np.float64).ravel()
    evaluate(start)
    history.append(last["losses"])
    result = minimize(evaluate, start, jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0), callback=record,
                      options={"maxiter": steps, "maxcor": memory})
    history = history[:steps]
    final = np.clip(result.x.reshape(shape), 0.0, 1.0).astype(np.float32)
    return final, np.array(history, np.float32).reshape(-1, 4)


@dataclass
class StyleEngine:
    """Renders style frames one at a time (a chained kind).

    Rows carry ``style.content_weight``, ``style.style_weight``, ``style.tv_weight``, ``style.steps``,
    ``style.steps_per_frame``, ``style.learning_rate``, ``style.style_scale``, ``style.carry``, one
    ``style.mix.<name>`` weight per style image (absent: equal weights), one weight per style and
    content layer, ``motion.*``, and over footage ``style.temporal_weight``.

    Over a content sequence with ``coherence = "flow"`` (Ruder, Dosovitskiy and Brox 2016), frame n
    starts from ``base + carry * mask * (warped - base)``, ``base`` the content (or with ``init =
    "fast"`` the fast network's result for it, :meth:`base`), ``warped`` the previous result carried
    along the source's backward flow and ``mask`` where that flow is trusted, and optimises the style
    losses plus ``temporal_weight`` times the temporal loss toward ``warped``.  Flows come from
    ``flows`` (a :class:`render.temporal.FlowCache`); ``flow_seconds`` is their time this run."""

    objective: StyleObjective
    loop: AdamLoop
    settings: object
    width: int
    height: int
    seed: int
    min_side: int
    source: MediaSource
    _grams: dict = field(default_factory=dict, repr=False)
    _variations: dict = field(default_factory=dict, repr=False)   # (name, h, w) -> the style image's variation
    _aspects: dict = field(default_factory=dict, repr=False)
    flows: FlowCache | None = field(default=None, repr=False)
    _recent: RecentFrames | None = field(default=None, repr=False)
    last_losses: np.ndarray | None = field(default=None, repr=False)  # (steps, 4) of the last frame
    fast: object | None = field(default=None, repr=False)   # init = "fast": a FastStyleEngine

    @classmethod
    def from_recipe(cls, recipe, base_model=None, jit: bool = False) -> "StyleEngine":
        """``jit`` compiles TensorFlow's step with XLA: 3.5x slower on CPUs (oneDNN's kernels win),
        hence off; JAX always compiles with XLA."""
        settings = recipe.settings
        layers = list(dict.fromkeys(settings.style_layers + settings.content_layers))
        extractor = build.feature_extractor(recipe.model, layers, base=base_model, precision=recipe.precision)
        objective = StyleObjective(extractor, settings.style_layers, settings.content_layers)
        width, height = recipe.output.size
        flows = FlowCache(default_flow_folder(), settings.flow) if settings.content.is_sequence else None
        fast = None
        if settings.init == "fast":
            from .fast_style import FastStyleEngine
            fast = FastStyleEngine.from_recipe(recipe)
        return cls(objective, AdamLoop(objective, jit), settings, width, height,
                   recipe.seed, recipe.model.min_side, settings.content, flows=flows, fast=fast)

    # --- targets ---------------------------------------------------------------------------------
    def style_size(self, name: str, height: int, width: int, style_scale: float) -> tuple[int, int]:
        """(h, w) at which style image ``name`` gives features the size they would have next to a
        ``height`` x ``width`` content, times ``style_scale``: the same area, the style's own aspect."""
        if name not in self._aspects:  # read once, not every frame; as seen (EXIF orientation applied)
            info = picture_info(self.settings.images[name])
            self._aspects[name] = info.width / info.height
        aspect = self._aspects[name]
        area = height * width * style_scale ** 2
        h = max(self.min_side, round((area / aspect) ** 0.5))
        return h, max(self.min_side, round(h * aspect))

    def style_grams(self, name: str, height: int, width: int, style_scale: float, grams_of=None) -> list:
        """Grams of style image ``name`` at :meth:`style_size`; cached per size.  ``grams_of(image)``
        computes them (default: one pass through the network; prints pass a tiled one)."""
        h, w = self.style_size(name, height, width, style_scale)
        key = (name, h, w)
        if key not in self._grams:
            style_image = load_image(self.settings.images[name], w, h, self.source.background)
            grams = grams_of(style_image) if grams_of else self.objective.style_grams(style_image)
            self._grams[key] = [np.asarray(g, np.float32) for g in grams]
            self._variations[key] = variation_of(style_image)
        return self._grams[key]

    def style_variation(self, row: Mapping[str, float], height: int, width: int) -> float:
        """The frame's style images' variation at their size next to a ``height`` x ``width`` content,
        mixed by the row's weights (what :func:`style_losses.tv_reference` falls back on)."""
        mix = {n: w for n, w in self.mix(row).items() if w > 0}
        values = []
        for name in mix:
            h, w = self.style_size(name, height, width, row["style.style_scale"])
            if (name, h, w) not in self._variations:
                self._variations[(name, h, w)] = variation_of(load_image(self.settings.images[name], w, h,
                                                                         self.source.background))
            values.append(self._variations[(name, h, w)])
        return float(np.dot(values, list(mix.values())) / sum(mix.values()))

    def tv_reference(self, content: np.ndarray, row: Mapping[str, float]) -> float:
        """The TV term's reference for ``content`` (float ``(H, W, 3)``) in this frame."""
        height, width = content.shape[:2]
        return tv_reference(variation_of(content), self.style_variation(row, height, width))

    def blended_grams(self, row: Mapping[str, float], height: int, width: int, grams_of=None) -> list:
        """The frame's target Grams: each style's at this size, mixed by the row's weights."""
        mix = self.mix(row)
        grams = [self.style_grams(n, height, width, row["style.style_scale"], grams_of) for n in mix]
        return blend_grams(grams, list(mix.values()))

    def mix(self, row: Mapping[str, float]) -> dict[str, float]:
        """Style name -> this frame's weight (not yet normalised): equal without a ``mix`` table, 0 for
        an image the table leaves out."""
        default = 0.0 if self.settings.mix_given else 1.0
        return {n: max(0.0, float(row.get(f"style.mix.{n}", default))) for n in self.settings.images}

    def targets(self, content: np.ndarray, row: Mapping[str, float]) -> Targets:
        height, width = content.shape[:2]
        _, content_features = self.objective.compute_features(content)
        blended = self.blended_grams(row, height, width)
        return Targets(tuple(content_features), tuple(np.asarray(g, np.float32) for g in blended),
                       np.float32(self.tv_reference(np.asarray(content, np.float32), row)))

    def weights(self, row):
        """(term weights (3,) content/style/tv, style layer weights, content layer weights)."""
        term = np.array([row["style.content_weight"], row["style.style_weight"], row["style.tv_weight"]],
                        np.float32)
        style = np.array([row[c] for c in self.settings.style_columns], np.float32)
        content = np.array([row[c] for c in self.settings.content_columns], np.float32)
        return term, style, content

    def prepare(self, content: np.ndarray, row: Mapping[str, float]) -> tuple:
        """Everything a run of steps needs besides the start image: targets and weights."""
        return self.targets(content, row), self.weights(row), float(row["style.learning_rate"])

    def run_steps(self, start: np.ndarray, prepared: tuple, steps: int, temporal: Temporal | None = None):
        """``steps`` optimiser steps from float ``start``: (image ``(h, w, 3)``, losses ``(steps, 4)``:
        total, content, style, tv, each before its step; the total includes the temporal term)."""
        targets, weights, learning_rate = prepared
        if self.settings.optimizer == "lbfgs":
            return lbfgs(lambda image: self.loop.value_and_gradient(image, targets, weights, temporal), start, steps)
        return self.loop.run(start, steps, learning_rate, targets, weights, temporal)

    def optimize(self, start: np.ndarray, content: np.ndarray, row: Mapping[str, float], steps: int,
                 temporal: Temporal | None = None):
        """Optimise float ``start`` toward ``content`` (same size) and the row's style mix."""
        return self.run_steps(start, self.prepare(content, row), steps, temporal)

    # --- frames ----------------------------------------------------------------------------------
    def base(self, content: np.ndarray, row: Mapping[str, float]) -> np.ndarray:
        """What an optimisation starts from where it does not carry a previous result: the content,
        or with ``init = "fast"`` the fast network's result for it (full strength)."""
        if self.fast is None:
            return content
        return self.fast.stylize(content, {**row, "style.strength": 1.0})

    def first_frame(self, content: np.ndarray, row: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Frame 0: from the content (or seeded noise, or the fast result), coarse to fine over the
        recipe's scales."""
        image = (noise_image(self.seed, self.width, self.height) if self.settings.init == "noise"
                 else self.base(content, row))
        steps = int(round(row["style.steps"]))
        history = []
        for h, w in scale_sizes(self.height, self.width, self.settings.scales, self.min_side):
            start = resize_bilinear(image, h, w) if image.shape[:2] != (h, w) else image
            scaled_content = resize_bilinear(content, h, w) if (h, w) != (self.height, self.width) else content
            image, losses = self.optimize(np.clip(start, 0, 1), scaled_content, row, steps)
            history.append(losses)
        if image.shape[:2] != (self.height, self.width):
            image = resize_bilinear(image, self.height, self.width)
        return image, np.concatenate(history)

    def next_frame(self, previous: np.ndarray, content: np.ndarray, row: Mapping[str, float], index: int = 0):
        """Frame n > 0 (``index``), ``steps_per_frame`` steps at full size: over footage, from the
        previous result warped along the source's flow (see the class); otherwise from the previous
        result moved by the motion, blended with a new content frame by ``carry`` for ``blend``."""
        steps = int(round(row["style.steps_per_frame"]))
        if self.source.is_sequence and self.settings.coherence == "flow":
            pair = self.flows.pair(self.content(index - 1), content)
            warped = warp_previous(previous.astype(np.float32) / 255.0, pair.backward)
            mask = pair.mask[..., None]
            base = self.base(content, row)
            start = base + float(row["style.carry"]) * mask * (warped - base)
            temporal = Temporal(warped, mask, np.float32(row["style.temporal_weight"]))
            return self.optimize(np.clip(start, 0, 1).astype(np.float32), content, row, steps, temporal)
        pan_x, pan_y = (float(v) for v in row["motion.pan"])
        moved = apply_motion(previous.astype(np.float32) / 255.0, row["motion.zoom"], row["motion.rotate"],
                             pan_x, pan_y)
        start = moved
        if self.source.is_sequence:
            carry = row["style.carry"]
            start = carry * moved + (1.0 - carry) * self.base(content, row)
        return self.optimize(np.clip(start, 0, 1).astype(np.float32), content, row, steps)

    @property
    def flow_seconds(self) -> float:
        """Seconds spent computing optical flow this run (the progress line shows them apart)."""
        return self.flows.seconds if self.flows is not None else 0.0

    def content(self, index: int) -> np.ndarray:
        """Content frame ``index`` at the frame size; the last two read are kept (frame n's flow needs
        n - 1, which the previous frame read)."""
        if self._recent is None:
            self._recent = RecentFrames(self.source, self.width, self.height)
        return self._recent(index)

    def render_frame(self, job: FrameJob) -> np.ndarray:
        content = self.content(job.index)
        if job.previous is None:
            image, losses = self.first_frame(content, job.row)
        else:
            image, losses = self.next_frame(job.previous, content, job.row, job.index)
        self.last_losses = losses
        if self.settings.preserve_colors:
            image = keep_content_colours(image, content)
        return to_uint8(image)

    def render_batch(self, jobs: Sequence[FrameJob]) -> list[np.ndarray]:
        return [self.render_frame(job) for job in jobs]
