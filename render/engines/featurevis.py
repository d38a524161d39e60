"""Feature visualization: "max h(x)", an image optimised so a chosen unit of a CNN responds strongly
(Olah, Mordvintsev and Schubert, "Feature Visualization", Distill 2017).

Three separate questions, as in the Lucid library's design:

- *what to maximise*: :class:`Target` terms (a channel's mean, one neuron, a whole layer's energy, a
  direction in a layer's activation space) summed with per-frame weights, minus an optional
  diversity penalty across a batch (:func:`objective`);
- *how the image is represented*: :mod:`render.engines.parameterization` (pixels or a scaled Fourier
  basis, decorrelated colour, a sigmoid into valid colours);
- *robustness*: :mod:`render.engines.robustness` (pad, jitter, scale, rotate, re-drawn each step).

:class:`Visualizer` runs Adam on the parameters (one compiled graph per step shape).  Randomness
(the start and every step's transforms) comes from ``(seed, start)`` and the step number, never from
a running stream, so a frame is reproducible and a batch gives the images one-at-a-time runs give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..backend import current
from ..backend.kerasops import ops
from . import parameterization as param
from .robustness import Transforms, apply

@dataclass(frozen=True)
class Target:
    """One term: ``output`` indexes the extractor's outputs; ``kind`` is channel (mean of one
    channel), neuron (that channel at the centre position), layer (mean square of all channels) or
    direction (mean over positions of the activations' dot product with ``direction``, a unit
    vector over the layer's channels)."""

    output: int
    kind: str
    channel: int | None = None
    direction: tuple[float, ...] | None = None
    label: str = ""


def target_value(activation, target: Target):
    """Per image ``(batch,)``: how strongly ``activation`` ``(batch, h, w, c)`` shows ``target``."""
    if target.kind == "channel":
        return ops.mean(activation[..., target.channel], axis=(1, 2))
    if target.kind == "neuron":
        h, w = activation.shape[1], activation.shape[2]
        return activation[:, h // 2, w // 2, target.channel]
    if target.kind == "layer":
        return ops.mean(ops.square(activation), axis=(1, 2, 3))
    direction = np.asarray(target.direction, np.float32)
    return ops.mean(ops.einsum("bhwc,c->bhw", activation, direction), axis=(1, 2))


def gram_similarity(activation):
    """Mean cosine similarity between the Gram matrices of every pair of images in the batch (a scalar
    in -1..1; 0 for a batch of one): the diversity term penalises it."""
    batch = activation.shape[0]
    if batch < 2:
        return ops.convert_to_tensor(0.0)
    flat = ops.reshape(activation, (batch, -1, activation.shape[-1]))
    gram = ops.einsum("bpc,bpd->bcd", flat, flat)
    gram = ops.reshape(gram, (batch, -1))
    gram = gram / (ops.sqrt(ops.sum(ops.square(gram), axis=1, keepdims=True)) + 1e-8)
    cosine = ops.matmul(gram, ops.transpose(gram))
    return (ops.sum(cosine) - ops.trace(cosine)) / float(batch * (batch - 1))


def objective(activations: Sequence, targets: Sequence[Target], weights, diversity, diversity_output: int,
              rectified: Sequence | None = None):
    """Scalar to maximise: ``sum over the batch and terms of weights[b, k] * value_k(image b)`` minus
    ``diversity * gram_similarity`` of output ``diversity_output``.  ``weights`` float32
    ``(batch, terms)``: every image its own mix (frames of a morph in one batch).  ``rectified``: the
    outputs after their activation when ``activations`` are taken before it; a layer's energy and
    the Gram matrices use those, channels, neurons and directions the values before it."""
    rectified = activations if rectified is None else rectified
    total = 0.0
    for k, target in enumerate(targets):
        source = rectified if target.kind == "layer" else activations
        total = total + ops.sum(weights[:, k] * target_value(source[target.output], target))
    if diversity_output >= 0:
        total = total - diversity * gram_similarity(rectified[diversity_output])
    return total


@dataclass(frozen=True)
class Settings:
    """How to optimise: the parameterisation (``pixels`` or ``fft``), colour decorrelation, the
    spectrum's ``decay``, the transforms, Adam's ``learning_rate``, the number of ``steps`` and the
    ``views`` of each image per step (transformed copies whose objective is averaged: a steadier
    gradient, views times the compute)."""

    parameterization: str = "fft"
    decorrelate: bool = True
    decay: float = 1.5
    transforms: Transforms = Transforms()
    learning_rate: float = 0.05
    steps: int = 256
    views: int = 1


class Visualizer:
    """Optimises a batch of images for weighted targets of ``extractor`` (a
    :class:`render.models.build.FeatureExtractor` whose outputs the targets index).

    ``render(starts, weights, size, settings, diversity=0.0, diversity_output=-1)``: ``starts`` are
    ``(seed, start index)`` pairs, one per image (its random start and its transforms' stream);
    ``weights`` float32 ``(batch, terms)``; returns float32 images ``(batch, h, w, 3)`` in 0..1 and the
    objective's last value.  :meth:`start`, :meth:`optimise` and :meth:`images` are its three parts,
    for callers that start from other parameters (a morph's anchors)."""

    def __init__(self, extractor, targets: Sequence[Target]):
        self.extractor, self.targets = extractor, tuple(targets)
        backend = current()

        def loss(params, weights, moves, scale, diversity, kind, decorrelate, pad, diversity_output):
            images = param.image_of(params, kind, decorrelate, scale)
            views = moves.shape[0] // images.shape[0]
            seen = apply(ops.repeat(images, views, axis=0) if views > 1 else images, moves, pad)
            acts = self.extractor(seen)
            post = self._rectify(acts)
            if views == 1:
                return -objective(acts, self.targets, weights, diversity, diversity_output, post)
            mean = ops.repeat(weights, views, axis=0) / float(views)
            value = objective(acts, self.targets, mean, 0.0, -1, post)
            if diversity_output >= 0:
                value = value - diversity * gram_similarity(post[diversity_output][::views])
            return -value

        value_and_grad = backend.value_and_grad(loss)

        def step(params, m, v, t, weights, moves, scale, diversity, rate, kind, decorrelate, pad, diversity_output):
            value, grad = value_and_grad(params, weights, moves, scale, diversity, kind, decorrelate, pad,
                                         diversity_output)
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            m_hat = m / (1.0 - ops.power(0.9, t))
            v_hat = v / (1.0 - ops.power(0.999, t))
            return params - rate * m_hat / (ops.sqrt(v_hat) + 1e-8), m, v, value

        def image(params, scale, kind, decorrelate):
            return param.image_of(params, kind, decorrelate, scale)

        models = [extractor.model]
        self._step = backend.compile(step, models, static=(9, 10, 11, 12), name="featurevis step")
        self._image = backend.compile(image, static=(2, 3), name="featurevis image")

    def start(self, starts: Sequence[tuple[int, int]], size: tuple[int, int], settings: Settings) -> np.ndarray:
        """The parameters each image starts from: small noise drawn from its ``(seed, start)``."""
        width, height = size
        return np.concatenate([param.init_parameters(settings.parameterization, 1, height, width,
                                                     np.random.default_rng([seed, start, 0x7669])) for seed, start in starts])

    def optimise(self, params: np.ndarray, starts, weights, size: tuple[int, int], settings: Settings,
                 diversity: float = 0.0, diversity_output: int = -1) -> tuple[np.ndarray, float]:
        """``settings.steps`` Adam steps (fresh moments) from ``params``; each image's transforms come
        from its ``(seed, start)`` stream.  Returns the parameters and the objective's last value
        (nan after 0 steps)."""
        width, height = size
        m, v = np.zeros_like(params), np.zeros_like(params)
        scale = param.spectrum_scale(height, width, settings.decay)
        weights = np.asarray(weights, np.float32)
        streams = [np.random.default_rng([seed, start, 0x6A6974]) for seed, start in starts]
        value = np.nan
        for t in range(1, settings.steps + 1):
            moves = np.concatenate([settings.transforms.draw(rng, settings.views) for rng in streams])
            params, m, v, value = self._step(params, m, v, np.float32(t), weights, moves, scale,
                                             np.float32(diversity), np.float32(settings.learning_rate),
                                             settings.parameterization, settings.decorrelate,
                                             settings.transforms.pad, diversity_output)
        return np.asarray(params), -float(value)

    def images(self, params: np.ndarray, size: tuple[int, int], settings: Settings) -> np.ndarray:
        """Parameters -> float32 images ``(batch, h, w, 3)`` in 0..1."""
        width, height = size
        scale = param.spectrum_scale(height, width, settings.decay)
        return np.asarray(self._image(params, scale, settings.parameterization, settings.decorrelate))

    def render(self, starts, weights, size: tuple[int, int], settings: Settings, diversity: float = 0.0,
               diversity_output: int = -1):
        params, value = self.optimise(self.start(starts, size, settings), starts, weights, size, settings,
                                      diversity, diversity_output)
        return self.images(params, size, settings), value

    def _rectify(self, acts) -> list:
        """The outputs after their activation (the extractor's ``post`` functions; as they are when the
        extractor returns outputs after activation)."""
        post = getattr(self.extractor, "post", ())
        return [f(a) for f, a in zip(post, acts)] if post else list(acts)

    def value(self, images, weights, rectified: bool = False) -> np.ndarray:
        """Per image ``(batch,)``: the weighted targets of ``images`` as they are (no transforms);
        ``rectified``: of the outputs after their activation (0 for a unit that never fires)."""
        acts = self.extractor(np.asarray(images, np.float32))
        post = self._rectify(acts)
        source = [post if rectified or t.kind == "layer" else acts for t in self.targets]
        weights = np.asarray(weights, np.float32)
        return np.asarray(sum(weights[:, k] * target_value(source[k][t.output], t) for k, t in enumerate(self.targets)))
