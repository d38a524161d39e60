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

from ..kinds.base import FrameJob
from ..media import MediaSource, load_image
from ..models import build
from ..tfsetup import tf
from .color import RGB_TO_YCBCR, YCBCR_TO_RGB
from .images import noise_image, to_uint8
from .motion import apply_motion
from .style_losses import blend_grams, content_loss, gram, image_variation, style_loss, total_variation


@dataclass(frozen=True)
class Targets:
    """What one frame optimises toward: content features ``(1, h, w, c)`` per content layer, target
    Grams ``(c, c)`` per style layer, and the content image's own variation (a scalar)."""

    content: tuple
    style: tuple
    tv_reference: tf.Tensor


class StyleObjective:
    """Loss terms of an image given :class:`Targets`.

    ``losses(image (H, W, 3), targets, term_weights (3,) [content, style, tv], style_layer_weights (m,),
    content_layer_weights (k,))`` -> float32 ``(4,)``: total, content, style, tv (unweighted terms)."""

    def __init__(self, extractor: build.FeatureExtractor, style_layers: Sequence[str], content_layers: Sequence[str]):
        self.extractor = extractor
        self.style_index = [extractor.layers.index(name) for name in style_layers]
        self.content_index = [extractor.layers.index(name) for name in content_layers]

    def features(self, image: tf.Tensor) -> tuple[list, list]:
        """(style layer activations, content layer activations) of ``(H, W, 3)``."""
        outputs = self.extractor(image[tf.newaxis])
        return [outputs[i] for i in self.style_index], [outputs[i] for i in self.content_index]

    def style_grams(self, image: tf.Tensor) -> list:
        return [gram(f) for f in self.features(image)[0]]

    def losses(self, image, targets: Targets, term_weights, style_weights, content_weights) -> tf.Tensor:
        style_features, content_features = self.features(image)
        terms = tf.stack([content_loss(content_features, targets.content, content_weights),
                          style_loss(style_features, targets.style, style_weights),
                          total_variation(image, targets.tv_reference)])
        return tf.concat([tf.reshape(tf.reduce_sum(terms * term_weights), [1]), terms], axis=0)


def _target_specs(channels: Mapping[str, int], style_layers, content_layers):
    content = tuple(tf.TensorSpec([1, None, None, channels[n]], tf.float32) for n in content_layers)
    style = tuple(tf.TensorSpec([channels[n], channels[n]], tf.float32) for n in style_layers)
    return content, style


class AdamLoop:
    """``run(image, steps, learning_rate, content, style, tv_reference, term_weights, style_weights,
    content_weights)`` -> (image ``(H, W, 3)``, losses ``(steps, 4)`` before each step).

    Adam on the pixels, clipped to 0..1 after each step; every step of one call runs inside one
    ``tf.function`` whose signature leaves the image size open, so scales and frames do not re-trace."""

    def __init__(self, objective: StyleObjective, content_specs, style_specs, jit: bool = False):
        self.objective = objective
        m, k = len(style_specs), len(content_specs)

        @tf.function(jit_compile=jit, input_signature=[
            tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32),
            content_specs, style_specs, tf.TensorSpec([], tf.float32), tf.TensorSpec([3], tf.float32),
            tf.TensorSpec([m], tf.float32), tf.TensorSpec([k], tf.float32)])
        def run(image, steps, learning_rate, content, style, tv_reference, term_weights, style_weights,
                content_weights):
            targets = Targets(content, style, tv_reference)
            beta1, beta2, eps = 0.9, 0.999, 1e-8
            first = tf.zeros_like(image)
            second = tf.zeros_like(image)
            history = tf.TensorArray(tf.float32, size=steps)
            for step in tf.range(steps):
                with tf.GradientTape() as tape:
                    tape.watch(image)
                    losses = objective.losses(image, targets, term_weights, style_weights, content_weights)
                    total = losses[0]
                grad = tape.gradient(total, image)
                t = tf.cast(step + 1, tf.float32)
                first = beta1 * first + (1.0 - beta1) * grad
                second = beta2 * second + (1.0 - beta2) * tf.square(grad)
                update = (first / (1.0 - beta1 ** t)) / (tf.sqrt(second / (1.0 - beta2 ** t)) + eps)
                image = tf.clip_by_value(image - learning_rate * update, 0.0, 1.0)
                history = history.write(step, losses)
            return image, history.stack()

        @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32), content_specs, style_specs,
                                      tf.TensorSpec([], tf.float32), tf.TensorSpec([3], tf.float32),
                                      tf.TensorSpec([m], tf.float32), tf.TensorSpec([k], tf.float32)])
        def value_and_gradient(image, content, style, tv_reference, term_weights, style_weights, content_weights):
            with tf.GradientTape() as tape:
                tape.watch(image)
                losses = objective.losses(image, Targets(content, style, tv_reference), term_weights,
                                          style_weights, content_weights)
                total = losses[0]
            return losses, tape.gradient(total, image)

        self.run, self.value_and_gradient = run, value_and_gradient


def lbfgs(value_and_gradient, image: tf.Tensor, steps: int, learning_rate: float, memory: int = 8):
    """Projected L-BFGS on the pixels (kept in 0..1) with a backtracking line search.

    ``value_and_gradient(image)`` -> (losses ``(4,)``, gradient); returns (image, losses ``(steps, 4)``)."""
    x = image
    losses, g = value_and_gradient(x)
    s_hist: list = []
    y_hist: list = []
    history = []
    for _ in range(steps):
        history.append(losses.numpy())
        q = g
        alphas = []
        for s, y in reversed(list(zip(s_hist, y_hist))):
            rho = 1.0 / (tf.reduce_sum(y * s) + 1e-12)
            alpha = rho * tf.reduce_sum(s * q)
            q = q - alpha * y
            alphas.append((rho, alpha))
        if s_hist:
            s, y = s_hist[-1], y_hist[-1]
            q = q * (tf.reduce_sum(s * y) / (tf.reduce_sum(y * y) + 1e-12))
        else:  # first step: a pixel step of about learning_rate
            q = q * (learning_rate / (tf.reduce_max(tf.abs(q)) + 1e-12))
        for (s, y), (rho, alpha) in zip(zip(s_hist, y_hist), reversed(alphas)):
            beta = rho * tf.reduce_sum(y * q)
            q = q + s * (alpha - beta)
        step = 1.0
        for _ in range(10):
            candidate = tf.clip_by_value(x - step * q, 0.0, 1.0)
            new_losses, new_g = value_and_gradient(candidate)
            if float(new_losses[0]) <= float(losses[0]) + 1e-4 * float(tf.reduce_sum(g * (candidate - x))):
                break
            step *= 0.5
        else:
            break  # no descent found: converged as far as this line search can tell
        s_hist.append(candidate - x)
        y_hist.append(new_g - g)
        if tf.reduce_sum(s_hist[-1] * y_hist[-1]) <= 1e-12:
            s_hist.pop(), y_hist.pop()
        s_hist, y_hist = s_hist[-memory:], y_hist[-memory:]
        x, losses, g = candidate, new_losses, new_g
    history = np.array(history, np.float32).reshape(-1, 4)
    return x, history


def keep_content_colours(styled: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Luminance of ``styled`` with the chroma (Cb, Cr) of ``content``; float RGB ``(H, W, 3)``."""
    y = (styled.reshape(-1, 3) @ RGB_TO_YCBCR.T)[:, :1]
    chroma = (content.reshape(-1, 3) @ RGB_TO_YCBCR.T)[:, 1:]
    rgb = np.concatenate([y, chroma], axis=1) @ YCBCR_TO_RGB.T
    return np.clip(rgb, 0.0, 1.0).reshape(styled.shape).astype(np.float32)


def scale_sizes(height: int, width: int, scales: Sequence[float], min_side: int) -> list[tuple[int, int]]:
    """(h, w) of each optimisation scale, coarse to fine; none below ``min_side``; the last is full size
    when the last scale is 1."""
    return [(max(min_side, round(height * s)), max(min_side, round(width * s))) for s in scales]


@dataclass
class StyleEngine:
    """Renders style frames one at a time (a chained kind).

    Rows carry ``style.content_weight``, ``style.style_weight``, ``style.tv_weight``, ``style.steps``,
    ``style.steps_per_frame``, ``style.learning_rate``, ``style.style_scale``, ``style.carry``, one
    ``style.mix.<name>`` weight per style image (absent: equal weights), one weight per style and
    content layer, and ``motion.*``."""

    objective: StyleObjective
    loop: AdamLoop
    settings: object
    width: int
    height: int
    seed: int
    min_side: int
    source: MediaSource
    _grams: dict = field(default_factory=dict, repr=False)
    _aspects: dict = field(default_factory=dict, repr=False)
    last_losses: np.ndarray | None = field(default=None, repr=False)  # (steps, 4) of the last frame

    @classmethod
    def from_recipe(cls, recipe, base_model=None, jit: bool = False) -> "StyleEngine":
        """``jit`` compiles the step loop with XLA: 3.5x slower on CPUs (oneDNN's kernels win), and
        untried on GPUs so far, hence off."""
        settings = recipe.settings
        layers = list(dict.fromkeys(settings.style_layers + settings.content_layers))
        extractor = build.feature_extractor(recipe.model, layers, base=base_model, precision=recipe.precision)
        objective = StyleObjective(extractor, settings.style_layers, settings.content_layers)
        channels = {name: layer.channels for name, layer in recipe.model.layers.items()}
        content_specs, style_specs = _target_specs(channels, settings.style_layers,
                                                   settings.content_layers)
        width, height = recipe.output.size
        return cls(objective, AdamLoop(objective, content_specs, style_specs, jit), settings, width, height,
                   recipe.seed, recipe.model.min_side, settings.content)

    # --- targets ---------------------------------------------------------------------------------
    def style_size(self, name: str, height: int, width: int, style_scale: float) -> tuple[int, int]:
        """(h, w) at which style image ``name`` gives features the size they would have next to a
        ``height`` x ``width`` content, times ``style_scale``: the same area, the style's own aspect."""
        if name not in self._aspects:  # read once, not every frame
            from PIL import Image
            with Image.open(self.settings.images[name]) as image:
                self._aspects[name] = image.width / image.height
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
            style_image = load_image(self.settings.images[name], w, h)
            grams = grams_of(style_image) if grams_of else self.objective.style_grams(tf.constant(style_image))
            self._grams[key] = [tf.constant(g) for g in grams]
        return self._grams[key]

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
        content_t = tf.constant(content)
        _, content_features = self.objective.features(content_t)
        blended = self.blended_grams(row, height, width)
        return Targets(tuple(content_features), tuple(blended), image_variation(content_t))

    def weights(self, row):
        """(term weights (3,) content/style/tv, style layer weights, content layer weights)."""
        term = tf.constant([row["style.content_weight"], row["style.style_weight"], row["style.tv_weight"]],
                           tf.float32)
        style = tf.constant([row[c] for c in self.settings.style_columns], tf.float32)
        content = tf.constant([row[c] for c in self.settings.content_columns], tf.float32)
        return term, style, content

    def prepare(self, content: np.ndarray, row: Mapping[str, float]) -> tuple:
        """Everything a run of steps needs besides the start image: targets and weights."""
        return self.targets(content, row), self.weights(row), float(row["style.learning_rate"])

    def run_steps(self, start: np.ndarray, prepared: tuple, steps: int):
        """``steps`` optimiser steps from float ``start``: (image ``(h, w, 3)``, losses ``(steps, 4)``:
        total, content, style, tv, each before its step)."""
        targets, (term, style_w, content_w), learning_rate = prepared
        if self.settings.optimizer == "lbfgs":
            def value_and_gradient(image):
                return self.loop.value_and_gradient(image, targets.content, targets.style, targets.tv_reference,
                                                    term, style_w, content_w)
            image, losses = lbfgs(value_and_gradient, tf.constant(start), steps, learning_rate)
            return image.numpy(), losses
        image, losses = self.loop.run(tf.constant(start), tf.constant(steps, tf.int32),
                                      tf.constant(learning_rate, tf.float32), targets.content,
                                      targets.style, targets.tv_reference, term, style_w, content_w)
        return image.numpy(), losses.numpy()

    def optimize(self, start: np.ndarray, content: np.ndarray, row: Mapping[str, float], steps: int):
        """Optimise float ``start`` toward ``content`` (same size) and the row's style mix."""
        return self.run_steps(start, self.prepare(content, row), steps)

    # --- frames ----------------------------------------------------------------------------------
    def first_frame(self, content: np.ndarray, row: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Frame 0: from the content (or seeded noise), coarse to fine over the recipe's scales."""
        image = content if self.settings.init == "content" else noise_image(self.seed, self.width, self.height)
        steps = int(round(row["style.steps"]))
        history = []
        for h, w in scale_sizes(self.height, self.width, self.settings.scales, self.min_side):
            start = tf.image.resize(image, (h, w), method="bilinear", antialias=True).numpy() \
                if image.shape[:2] != (h, w) else image
            scaled_content = tf.image.resize(content, (h, w), antialias=True).numpy() \
                if (h, w) != (self.height, self.width) else content
            image, losses = self.optimize(np.clip(start, 0, 1), scaled_content, row, steps)
            history.append(losses)
        if image.shape[:2] != (self.height, self.width):
            image = tf.image.resize(image, (self.height, self.width)).numpy()
        return image, np.concatenate(history)

    def next_frame(self, previous: np.ndarray, content: np.ndarray, row: Mapping[str, float]):
        """Frame n > 0: the previous result moved by the motion, blended with a new content frame by
        ``carry`` when the content is a sequence, optimised ``steps_per_frame`` steps at full size."""
        pan_x, pan_y = (float(v) for v in row["motion.pan"])
        moved = np.asarray(apply_motion(tf.constant(previous.astype(np.float32) / 255.0), row["motion.zoom"],
                                        row["motion.rotate"], pan_x, pan_y))
        start = moved
        if self.source.is_sequence:
            carry = row["style.carry"]
            start = carry * moved + (1.0 - carry) * content
        return self.optimize(np.clip(start, 0, 1).astype(np.float32), content, row,
                             int(round(row["style.steps_per_frame"])))

    def render_frame(self, job: FrameJob) -> np.ndarray:
        content = self.source.read(job.index, self.width, self.height)
        if job.previous is None:
            image, losses = self.first_frame(content, job.row)
        else:
            image, losses = self.next_frame(job.previous, content, job.row)
        self.last_losses = losses
        if self.settings.preserve_colors:
            image = keep_content_colours(image, content)
        return to_uint8(image)

    def render_batch(self, jobs: Sequence[FrameJob]) -> list[np.ndarray]:
        return [self.render_frame(job) for job in jobs]
