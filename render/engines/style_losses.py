"""Neural style transfer losses (Gatys, Ecker and Bethge), normalised so one set of weights works for
any image size, layer set and network.

- ``gram(features)``: channel correlations averaged over positions, ``(c, c)`` from ``(1, h, w, c)``,
  so a Gram does not grow with the image.  It multiplies in the features' own type: bfloat16
  activations go through the hardware's bfloat16 matrix units (float32 accumulation, result rounded
  to bfloat16 and returned as float32), which took the Gram matrices from 0.21 s to 0.08 s of a
  0.94 s bfloat16 step at 512 px here.
- ``style_loss``: per layer, the squared distance to the target Gram relative to the target's own
  squared size (a relative error, about 1 for an unrelated image), averaged with the layer weights.
- ``content_loss``: per layer, the mean squared feature difference relative to the target's mean
  square, averaged with the layer weights.
- ``total_variation``: mean squared neighbour difference of the image (0..1 units), relative to
  :func:`tv_reference`: the content image's own, so 1 means "as busy as the photograph", or a
  twentieth of the style images' when the content is flatter than that (a flat title card, a fade
  through black: relative to the content alone the term would be infinite and keep the frame flat).

Each term starts near 1, so ``style_weight = 10, content_weight = 1, tv_weight = 1`` means what it
says at 256 px and at 2048 px alike.  (The public tutorial's raw sums, with 1e-2 / 1e4 weights, swing
by orders of magnitude with the image size and the network's activation scale.)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..backend.kerasops import ops

_EPS = 1e-8


def gram(features):
    """``(1, h, w, c)`` activations -> ``(c, c)`` Gram matrix averaged over the ``h * w`` positions."""
    channels = int(features.shape[-1])
    flat = ops.reshape(features, (-1, channels))
    positions = int(np.prod(features.shape[:-1]))
    return ops.cast(ops.matmul(ops.transpose(flat), flat), "float32") / float(positions)


def blend_grams(grams: Sequence[Sequence[np.ndarray]], weights: Sequence[float]) -> list[np.ndarray]:
    """Mix several styles: ``grams[s][l]`` is style ``s``'s Gram at layer ``l``; ``weights`` (one per
    style, non-negative) are normalised to sum 1.  Returns one target Gram per layer."""
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("style mix weights sum to zero")
    return [sum(np.float32(w / total) * np.asarray(style[layer]) for style, w in zip(grams, weights) if w > 0)
            for layer in range(len(grams[0]))]


def _weighted_mean(values: Sequence, weights):
    return ops.sum(ops.stack(values) * weights) / (ops.sum(weights) + _EPS)


def style_loss(features: Sequence, targets: Sequence, weights):
    """Weighted mean over layers of ``|gram(F) - T|^2 / |T|^2``."""
    terms = [ops.sum(ops.square(gram(f) - t)) / (ops.sum(ops.square(t)) + _EPS)
             for f, t in zip(features, targets)]
    return _weighted_mean(terms, weights)


def content_loss(features: Sequence, targets: Sequence, weights):
    """Weighted mean over layers of ``mean((F - P)^2) / mean(P^2)``."""
    terms = [ops.mean(ops.square(f - p)) / (ops.mean(ops.square(p)) + _EPS)
             for f, p in zip(features, targets)]
    return _weighted_mean(terms, weights)


TEMPORAL_SCALE = 0.01  # a disagreement of 0.1 per channel (pixels in 0..1) costs 1, like the other terms


def temporal_loss(image, warped, mask):
    """Ruder et al.'s temporal loss, normalised: ``sum(mask * (image - warped)^2) / (3 sum(mask))``
    over ``TEMPORAL_SCALE``: the mean squared disagreement with the previous result warped along the
    source's flow, where the flow is trusted.  ``image``/``warped`` ``(H, W, 3)``, ``mask`` ``(H, W, 1)``."""
    return ops.sum(mask * ops.square(image - warped)) / (3.0 * ops.sum(mask) + _EPS) / TEMPORAL_SCALE


def image_variation(image):
    """Mean squared difference between neighbouring pixels of ``(H, W, 3)`` (both directions)."""
    dy = image[1:, :, :] - image[:-1, :, :]
    dx = image[:, 1:, :] - image[:, :-1, :]
    return ops.mean(ops.square(dy)) + ops.mean(ops.square(dx))


def total_variation(image, reference):
    """``image_variation(image)`` relative to ``reference`` (:func:`tv_reference`, a scalar)."""
    return image_variation(image) / (reference + 1e-6)


TV_STYLE_SHARE = 0.05   # of the style images' busyness: the least the TV term is measured against


def tv_reference(content_variation: float, style_variation: float) -> float:
    """What the TV term is relative to: the content's own variation (``image_variation``), or
    :data:`TV_STYLE_SHARE` of the style images' at the same size when the content is flatter, so the
    term is defined for a flat frame.  A photo is several times busier than that floor (Chelsea 0.37 of
    the Hubble picture at 192 px, a 64 px face walk enlarged 0.06), so it keeps its own."""
    return max(float(content_variation), TV_STYLE_SHARE * float(style_variation))
