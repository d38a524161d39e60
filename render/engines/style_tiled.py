"""Style transfer on images too large for one pass through the network: fixed overlapping windows,
with the style loss computed on Gram matrices of the *whole* image accumulated over the windows.

Each window is a core (the pixels it owns) plus a margin of context.  A mask marks the core; at every
layer the mask is area-resized to the feature map, so each feature position is counted by exactly one
window.  One optimisation step is two passes over the windows:

1. forward only: masked Gram sums ``S_l = F^T diag(m) F`` and counts, added up into the whole image's
   Gram ``G_l = sum S_l / sum counts`` (what :func:`style_losses.gram` gives untiled, up to the
   margin's edge effects);
2. forward and backward: per window the surrogate ``<dL/dG_l, S_l> / N_l`` (``dL/dG`` from step 1,
   held constant) plus the masked content error; the window's gradient is *added* into the frame (a
   pixel in one window's margin still receives the gradient of the neighbouring window's features).

Total variation is computed on the whole frame in numpy (cheap and exact, one difference image at a
time).  Adam then updates the pixels.
So all windows share one style (no seams, no per-tile style drift) and memory is bounded by one
window's activations plus a few full-frame float buffers and the cached content features.

Images are float32 ``(H, W, 3)`` in 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..backend import current
from ..backend.kerasops import ops
from .images import area_matrix

ALIGN = 16   # window corners on multiples of the deepest pooling stride: masks resize exactly
_EPS = 1e-8


@dataclass(frozen=True)
class Window:
    """``core`` (y0, y1, x0, x1) the pixels the window owns; ``pad`` the same with the margin."""

    core: tuple[int, int, int, int]
    pad: tuple[int, int, int, int]

    def mask(self) -> np.ndarray:
        """float32 ``(h, w)`` of the padded window: 1 on the core, 0 on the margin."""
        y0, y1, x0, x1 = self.pad
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        cy0, cy1, cx0, cx1 = self.core
        mask[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = 1.0
        return mask


def _cuts(length: int, core: int) -> list[int]:
    pieces = max(1, -(-length // core))
    cuts = [min(length, round(i * length / pieces / ALIGN) * ALIGN) for i in range(pieces)] + [length]
    return sorted(set(cuts))


def tile_windows(height: int, width: int, tile: int, margin: int) -> list[Window]:
    """Windows of at most ``tile`` px a side (core plus ``margin`` on inner sides) covering the frame;
    one window without margin when the frame fits in a tile."""
    if height <= tile and width <= tile:
        return [Window((0, height, 0, width), (0, height, 0, width))]
    core = max(ALIGN, (tile - 2 * margin) // ALIGN * ALIGN)
    ys, xs = _cuts(height, core), _cuts(width, core)
    windows = []
    for y0, y1 in zip(ys, ys[1:]):
        for x0, x1 in zip(xs, xs[1:]):
            pad = (max(0, y0 - margin), min(height, y1 + margin), max(0, x0 - margin), min(width, x1 + margin))
            windows.append(Window((y0, y1, x0, x1), pad))
    return windows


def area_resize(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """A window's float32 ``(h, w)`` mask area-resized to a feature map's ``height`` x ``width``."""
    return (area_matrix(mask.shape[0], height) @ mask @ area_matrix(mask.shape[1], width).T).astype(np.float32)


def layer_mask(mask, features):
    """Graph code: the window mask ``(h, w)`` area-resized to the map of ``features`` ``(1, h_l, w_l, c)``
    as ``(1, h_l, w_l, 1)``; the resizing matrices come from the static shapes, so every model's
    pooling ('same' or 'valid') gets a mask of its own map's size."""
    height, width = int(features.shape[1]), int(features.shape[2])
    rows = area_matrix(int(mask.shape[0]), height)
    columns = np.ascontiguousarray(area_matrix(int(mask.shape[1]), width).T)
    return ops.reshape(ops.matmul(ops.matmul(rows, mask), columns), (1, height, width, 1))


class TiledStyle:
    """Compiled per-window pieces for a :class:`render.engines.style.StyleObjective`.

    ``masked_grams(window (h, w, 3), mask (h, w))`` -> (Gram sums ``(c, c)`` per style layer, mask
    counts per style layer); ``content_features(window)`` -> content activations; ``window_gradient``
    -> (gradient ``(h, w, 3)`` of the window's share of the loss, its content error sum).  The mask is
    area-resized to each layer's map inside (:func:`layer_mask`).
    """

    def __init__(self, objective):
        self.objective = objective
        backend = current()

        def masked_sums(style_features, mask):
            sums, counts = [], []
            for f in style_features:
                f = ops.cast(f, "float32")   # masked sums stay float32: windows add up to the whole
                m = layer_mask(mask, f)
                channels = int(f.shape[-1])
                flat = ops.reshape(f, (-1, channels))
                weights = ops.reshape(m, (-1, 1))
                sums.append(ops.matmul(ops.transpose(flat), flat * weights))
                counts.append(ops.sum(m))
            return sums, ops.stack(counts)

        def masked_grams(window, mask):
            style_features, _ = objective.features(window)
            sums, counts = masked_sums(style_features, mask)
            return tuple(sums), counts

        def content_features(window):
            return tuple(objective.features(window)[1])

        def surrogate(window, mask, style_slopes, style_scales, content_targets, content_scales, term_weights):
            style_features, content_features_ = objective.features(window)
            sums, _ = masked_sums(style_features, mask)
            style_part = sum(ops.sum(slope * s) * style_scales[i]
                             for i, (slope, s) in enumerate(zip(style_slopes, sums)))
            content_part = sum(ops.sum(ops.square(f - p) * layer_mask(mask, f)) * content_scales[i]
                               for i, (f, p) in enumerate(zip(content_features_, content_targets)))
            return term_weights[0] * content_part + term_weights[1] * style_part, content_part

        gradient = backend.value_and_grad(surrogate, has_aux=True)

        def window_gradient(*args):
            (_, content_part), grad = gradient(*args)
            return grad, content_part

        models = [objective.extractor.model]
        self.masked_grams = backend.compile(masked_grams, models, name="tiled style grams")
        self.content_features = backend.compile(content_features, models, name="tiled content features")
        self.window_gradient = backend.compile(window_gradient, models, name="tiled style gradient")

    # --- whole-image quantities ------------------------------------------------------------------
    def image_grams(self, image: np.ndarray, windows: Sequence[Window]) -> tuple[list[np.ndarray], np.ndarray]:
        """The whole image's style Grams ``(c, c)`` per style layer, accumulated over ``windows``, and
        the feature positions counted per layer."""
        sums, counts = None, None
        for win in windows:
            y0, y1, x0, x1 = win.pad
            s, c = self.masked_grams(np.ascontiguousarray(image[y0:y1, x0:x1]), win.mask())
            s = [np.asarray(x) for x in s]
            sums = s if sums is None else [a + b for a, b in zip(sums, s)]
            counts = np.asarray(c) if counts is None else counts + np.asarray(c)
        return [s / counts[i] for i, s in enumerate(sums)], counts


@dataclass
class TiledTargets:
    """Per-window content features, each content layer's scale ``w_l / (sum w * N_l * C_l * mean P^2)``,
    the target Grams and the content's own variation."""

    windows: list[Window]
    masks: list[np.ndarray]
    content: list[tuple]
    content_scales: np.ndarray
    style: list[np.ndarray]
    tv_reference: float


def variation_of(image: np.ndarray) -> float:
    """:func:`style_losses.image_variation` of a float ``(H, W, 3)`` image, in numpy."""
    return sum(float(np.einsum("ijk,ijk->", d, d, dtype=np.float64)) / d.size
               for d in (np.diff(image, axis=0), np.diff(image, axis=1)))


def tiled_targets(tiled: TiledStyle, content: np.ndarray, style_grams: Sequence[np.ndarray],
                  content_weights: np.ndarray, tile: int, margin: int, reference: float | None = None) -> TiledTargets:
    """``reference``: the TV term's (default: the content's own variation)."""
    height, width = content.shape[:2]
    windows = tile_windows(height, width, tile, margin)
    masks = [w.mask() for w in windows]
    features, square_sums, counts = [], None, None
    for win, mask in zip(windows, masks):
        y0, y1, x0, x1 = win.pad
        f = tiled.content_features(np.ascontiguousarray(content[y0:y1, x0:x1]))
        features.append(f)
        sq, ct = [], []
        for layer in f:
            layer = np.asarray(layer)
            m = area_resize(mask, layer.shape[1], layer.shape[2])[None, :, :, None]
            sq.append(float(np.sum(np.square(layer) * m)))
            ct.append(float(np.sum(m)) * int(layer.shape[-1]))
        square_sums = np.array(sq) if square_sums is None else square_sums + sq
        counts = np.array(ct) if counts is None else counts + ct
    mean_square = square_sums / counts
    weights = np.asarray(content_weights, np.float64)
    scales = weights / (weights.sum() + _EPS) / (counts * mean_square + _EPS)
    reference = variation_of(content) if reference is None else reference
    return TiledTargets(windows, masks, features, scales.astype(np.float32), list(style_grams), reference)


def tiled_losses_and_gradient(tiled: TiledStyle, image: np.ndarray, targets: TiledTargets,
                              term_weights: np.ndarray, style_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(losses ``(4,)`` total, content, style, tv; gradient ``(H, W, 3)``) of the whole image."""
    grams, counts = tiled.image_grams(image, targets.windows)
    weights = np.asarray(style_weights, np.float32)
    norm = float(weights.sum()) + _EPS
    slopes, style_terms = [], []
    for g, t, w in zip(grams, targets.style, weights):
        t = np.asarray(t, np.float32)
        size = float(np.sum(np.square(t))) + _EPS
        style_terms.append(float(np.sum(np.square(g - t))) / size)
        slopes.append(2.0 * w / norm * (g - t) / size)
    style_value = float(np.dot(weights, style_terms) / norm)
    # the whole image's Gram divides by its total count per layer: the same for every window
    scales = (1.0 / counts).astype(np.float32)
    gradient = np.zeros_like(image)
    content_value = 0.0
    pair = np.asarray(term_weights[:2], np.float32)
    slopes = tuple(np.asarray(x, np.float32) for x in slopes)
    for win, mask, content in zip(targets.windows, targets.masks, targets.content):
        y0, y1, x0, x1 = win.pad
        g, c = tiled.window_gradient(np.ascontiguousarray(image[y0:y1, x0:x1]), mask, slopes, scales, content,
                                     targets.content_scales, pair)
        gradient[y0:y1, x0:x1] += np.asarray(g)
        content_value += float(c)
    tv_value = add_variation_gradient(image, targets.tv_reference, float(term_weights[2]), gradient)
    total = term_weights[0] * content_value + term_weights[1] * style_value + term_weights[2] * tv_value
    return np.array([total, content_value, style_value, tv_value], np.float32), gradient


def add_variation_gradient(image: np.ndarray, reference: float, weight: float, gradient: np.ndarray) -> float:
    """Total variation of the whole image relative to ``reference`` (as
    :func:`style_losses.total_variation`); adds ``weight`` times its gradient into ``gradient`` in
    place.  Plain numpy with one difference image at a time: no full-size graph temporaries."""
    scale = 1.0 / (reference + 1e-6)
    value = 0.0
    for axis in (0, 1):
        diff = np.diff(image, axis=axis)
        count = diff.size
        value += float(np.einsum("ijk,ijk->", diff, diff, dtype=np.float64)) / count
        diff *= 2.0 * weight * scale / count
        if axis == 0:
            gradient[1:] += diff
            gradient[:-1] -= diff
        else:
            gradient[:, 1:] += diff
            gradient[:, :-1] -= diff
        del diff
    return value * scale


def adam_tiled(tiled: TiledStyle, start: np.ndarray, targets: TiledTargets, term_weights, style_weights,
               learning_rate: float, steps: int, on_step: Callable[[int], None] | None = None):
    """``steps`` Adam steps on the pixels (clipped to 0..1) with tiled gradients: (image, losses
    ``(steps, 4)`` before each step).  The update runs in place on float32 buffers, ``start``
    included when it is float32 already (a print's stage image: one full-size copy fewer)."""
    image = np.asarray(start, np.float32)
    first = np.zeros_like(image)
    second = np.zeros_like(image)
    scratch = np.empty_like(image)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    history = []
    for step in range(steps):
        losses, grad = tiled_losses_and_gradient(tiled, image, targets, term_weights, style_weights)
        history.append(losses)
        t = step + 1
        first *= beta1
        first += (1.0 - beta1) * grad
        np.square(grad, out=grad)
        second *= beta2
        second += (1.0 - beta2) * grad
        np.divide(second, 1.0 - beta2 ** t, out=scratch)
        np.sqrt(scratch, out=scratch)
        scratch += eps
        np.divide(first, scratch, out=scratch)
        scratch *= learning_rate / (1.0 - beta1 ** t)
        image -= scratch
        np.clip(image, 0.0, 1.0, out=image)
        del grad
        if on_step:
            on_step(step)
    return image, np.array(history, np.float32).reshape(-1, 4)
