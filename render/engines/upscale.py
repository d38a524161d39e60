"""Upscaling a picture of any size through a super-resolution network (ESRGAN), tile by tile.

A network that multiplies the size by ``factor`` cannot take a print-sized picture in one call, so the
picture is cut into square windows that overlap, each window is run on its own, and the upscaled
windows are blended back together on one float32 canvas.  This is the overlap-tile strategy of U-Net
and of Real-ESRGAN's tile mode, with one step added: Real-ESRGAN crops each tile's margin away and
butts the tiles together; here the margins are also cross-faded, so nothing about a tile's border
(a slightly different colour statistic, a hard cut) can show.

One axis, in input pixels (the other axis is the same; the weights of a window are the product of
its two axes' weights):

- The picture is first padded by ``overlap`` pixels of its own mirror image (reflection without
  repeating the edge pixel), so a window at the picture's edge still sees picture-like context and the
  network never meets the picture's edge as an edge of its own input.
- Windows of side ``tile`` are laid at a stride of ``tile - 2 * overlap``, so neighbours share
  ``2 * overlap`` pixels; the last window is moved back to end flush with the padded picture (its
  share with the one before is then larger), so every window has the same shape.
- Each window's weight is 0 within ``overlap / 2`` of its edges (pixels the network saw without
  their full context), rises along a raised cosine over the next ``overlap`` pixels, and is 1
  inside; a side that lies on the padded picture's edge has weight 1 up to that edge.  The weighted
  outputs and the weights are summed separately, and the sums divided at the end, so the blend is a
  weighted mean wherever windows overlap, whatever their spacing.

A network whose receptive field reaches at most ``overlap / 2`` input pixels from an output pixel
(translation-equivariant, as convolutional networks are away from their input's edges) gives exactly
its whole-picture result, up to the padding at the picture's own edge (``tests/test_upscale_engine.py``
checks it against whole-picture runs); a wider receptive field gives a result whose tile borders are
still cross-faded, so no seam shows.

The windows all have one shape, ``tile`` x ``tile`` (a picture smaller than that uses one window, its
sides rounded up to a multiple of :data:`SHAPE_STEP`), because ``jax.jit`` compiles once per input
shape (STYLE.md's measured pitfall) and ``tf.function`` retraces for each new one.

:func:`plan_upscale_tile` chooses the largest tile whose estimated peak memory fits a budget, as a
print's plan does; :func:`upscale_chain` runs stages in order (x4 then x2); the stage named
:data:`LANCZOS` is Lanczos-3 resampling (:func:`lanczos_upscale`), the fallback when no network is at
hand.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .resample import lanczos_weights

TILE = 256                    # input pixels, the default window side
OVERLAP = 16                  # input pixels each window reaches into its neighbours
SHAPE_STEP = 32               # a one-window picture's window sides are rounded up to a multiple of this
TILES = (1024, 768, 512, 384, 256, 192, 128, 96, 64, 48)   # the sides plan_upscale_tile tries, largest first
LANCZOS = "lanczos"           # the stage name of the Lanczos fallback
PROCESS_BASELINE = 600 * 2**20   # bytes of an idle process with a backend loaded (a rough figure)
STRIP_ROWS = 512              # output rows per Lanczos strip

Net = Callable[[np.ndarray], object]
Progress = Callable[[int, int], None]


def _check_tiling(tile: int, overlap: int) -> None:
    if int(tile) != tile or tile < 1:
        raise ValueError(f"tile must be a whole number of pixels above 0, not {tile!r}")
    if int(overlap) != overlap or overlap < 0:
        raise ValueError(f"overlap must be a whole number of pixels, 0 or more, not {overlap!r}")
    if 2 * overlap >= tile:
        raise ValueError(f"overlap {overlap} must be less than half the tile ({tile}): "
                         "the windows would not advance")


def _check_factor(factor) -> int:
    if isinstance(factor, bool) or int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a whole number, 1 or more, not {factor!r}")
    return int(factor)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float32)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must be float (height, width, 3), not shape {image.shape}")
    return image


def window_side(length: int, tile: int, overlap: int) -> int:
    """The window side along an axis of ``length`` picture pixels: ``tile``, or for a picture that
    fits in one window, its padded length rounded up to a multiple of SHAPE_STEP (at most ``tile``)."""
    padded = length + 2 * overlap
    return min(tile, -(-padded // SHAPE_STEP) * SHAPE_STEP)


def window_starts(length: int, side: int, overlap: int) -> list[int]:
    """Starts of the windows along an axis, in padded coordinates (the picture occupies
    ``overlap .. overlap + length``): a stride of ``side - 2 * overlap``, the last window flush with the
    padded end.  A padded length below ``side`` is padded further at its end, so one window."""
    padded = length + 2 * overlap
    if padded <= side:
        return [0]
    return list(range(0, padded - side, side - 2 * overlap)) + [padded - side]


def count_tiles(height: int, width: int, tile: int = TILE, overlap: int = OVERLAP) -> int:
    """How many windows (network calls) :func:`upscale_tiled` makes for a ``height`` x ``width`` picture."""
    _check_tiling(tile, overlap)
    rows = window_starts(height, window_side(height, tile, overlap), overlap)
    cols = window_starts(width, window_side(width, tile, overlap), overlap)
    return len(rows) * len(cols)


def feather(side: int, factor: int, overlap: int, soft_start: bool, soft_end: bool) -> np.ndarray:
    """float32 ``(side * factor,)``: one window's blend weight along an axis, per output pixel.

    Measured from a window edge in input pixels (``e``, at output pixel centres), a soft side's weight
    is 0 up to ``overlap / 2``, a raised cosine up to ``3 * overlap / 2``, and 1 beyond; two neighbours
    ``2 * overlap`` apart have weights that add up to 1 across their shared pixels.  A hard side (on
    the padded picture's edge) has weight 1 up to the edge; ``overlap`` 0 gives 1 everywhere."""
    weight = np.ones(side * factor, np.float64)
    if overlap == 0:
        return weight.astype(np.float32)
    from_start = (np.arange(side * factor) + 0.5) / factor
    for soft, distance in ((soft_start, from_start), (soft_end, side - from_start)):
        if soft:
            rise = np.clip((distance - overlap / 2) / overlap, 0.0, 1.0)
            weight *= 0.5 - 0.5 * np.cos(np.pi * rise)
    return weight.astype(np.float32)


def _as_numpy(value) -> np.ndarray:
    """A network's output as float32 numpy (through keras.ops when it is a backend tensor)."""
    if not isinstance(value, np.ndarray):
        from ..backend.kerasops import ops
        value = ops.convert_to_numpy(value)
    return np.asarray(value, np.float32)


def upscale_tiled(image: np.ndarray, net: Net, factor: int, tile: int = TILE, overlap: int = OVERLAP,
                  progress: Progress | None = None) -> np.ndarray:
    """float32 ``(H * factor, W * factor, 3)`` in 0..1: ``image`` run through ``net`` window by window.

    ``image`` is float ``(H, W, 3)`` in 0..1, any size (smaller than a tile, not a multiple of
    anything).  ``net`` takes float32 numpy ``(1, h, w, 3)`` in 0..1 and returns ``(1, h * factor,
    w * factor, 3)`` in 0..1 (numpy, or a backend tensor, read back with ``keras.ops``): a Keras model
    or a compiled function.  ``tile`` is the window side and ``overlap`` how far each window reaches
    into its neighbours, both in input pixels (the module docstring gives the layout and the weights);
    ``progress(done, total)`` is called after each window.  The blend is computed on a float32 canvas
    (sums and weights: 16 bytes per output pixel) and clipped to 0..1.

    ValueError: ``image`` not ``(H, W, 3)``; ``factor`` not a whole number >= 1; ``tile`` < 1;
    ``overlap`` < 0 or ``overlap >= tile / 2``; the network's output not of the expected shape."""
    image = _check_image(image)
    factor = _check_factor(factor)
    _check_tiling(tile, overlap)
    m = int(overlap)
    height, width = image.shape[:2]
    side_y, side_x = window_side(height, tile, m), window_side(width, tile, m)
    rows, cols = window_starts(height, side_y, m), window_starts(width, side_x, m)
    # padding beyond `m` below and to the right only when the picture is smaller than its window
    extra_y = max(0, side_y - height - 2 * m)
    extra_x = max(0, side_x - width - 2 * m)
    padded = np.pad(image, ((m, m + extra_y), (m, m + extra_x), (0, 0)), mode="reflect")
    last_y, last_x = padded.shape[0] - side_y, padded.shape[1] - side_x
    weights_y = [feather(side_y, factor, m, y > 0, y < last_y) for y in rows]
    weights_x = [feather(side_x, factor, m, x > 0, x < last_x) for x in cols]

    canvas = np.zeros((height * factor, width * factor, 3), np.float32)
    total = np.zeros((height * factor, width * factor), np.float32)
    expected = (1, side_y * factor, side_x * factor, 3)
    done, count = 0, len(rows) * len(cols)
    for y, weight_y in zip(rows, weights_y):
        # the rows of this window that lie on the picture, in input pixels relative to the window
        top, bottom = max(y, m) - y, min(y + side_y, m + height) - y
        for x, weight_x in zip(cols, weights_x):
            left, right = max(x, m) - x, min(x + side_x, m + width) - x
            window = np.ascontiguousarray(padded[None, y:y + side_y, x:x + side_x])
            out = _as_numpy(net(window))
            if out.shape != expected:
                raise ValueError(f"the network turned a {window.shape} window into {out.shape}, "
                                 f"not {expected} (factor {factor})")
            out_rows = slice(top * factor, bottom * factor)
            out_cols = slice(left * factor, right * factor)
            weight = np.outer(weight_y[out_rows], weight_x[out_cols])
            place = (slice((y + top - m) * factor, (y + bottom - m) * factor),
                     slice((x + left - m) * factor, (x + right - m) * factor))
            canvas[place] += out[0, out_rows, out_cols] * weight[..., None]
            total[place] += weight
            done += 1
            if progress is not None:
                progress(done, count)
    canvas /= total[..., None]
    return np.clip(canvas, 0.0, 1.0, out=canvas)


def lanczos_upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """float32 ``(H * factor, W * factor, 3)`` in 0..1: ``image`` (float ``(H, W, 3)`` in 0..1) resized
    by Lanczos-3 (the weights of :func:`render.engines.resample.lanczos_weights`: centre-aligned pixels,
    taps outside the picture dropped and each row renormalised, as Pillow's LANCZOS), clipped.

    Columns first (one matrix product), then the rows in strips of STRIP_ROWS output rows, each using
    only the input rows it touches, so no temporary is larger than the result.  ValueError as
    :func:`upscale_tiled` for the image and factor."""
    image = _check_image(image)
    factor = _check_factor(factor)
    height, width = image.shape[:2]
    wide = np.matmul(lanczos_weights(width, width * factor), image)          # (H, W * factor, 3)
    weights_y = lanczos_weights(height, height * factor)
    out = np.empty((height * factor, width * factor, 3), np.float32)
    for y0 in range(0, height * factor, STRIP_ROWS):
        strip = weights_y[y0:y0 + STRIP_ROWS]
        used = np.flatnonzero(strip.any(axis=0))
        first, last = used[0], used[-1] + 1
        out[y0:y0 + STRIP_ROWS] = np.tensordot(strip[:, first:last], wide[first:last], axes=(1, 0))
    return np.clip(out, 0.0, 1.0, out=out)


def upscale_chain(image: np.ndarray, stages: Sequence[tuple[Net | str, int]], tile: int | Sequence[int] = TILE,
                  overlap: int = OVERLAP, progress: Progress | None = None) -> np.ndarray:
    """float32 ``(H * f1 * f2 ..., W * f1 * f2 ..., 3)`` in 0..1: the stages ``(net, factor)`` applied in
    order, each to the last one's result (``[(x4_net, 4), (x2_net, 2)]`` makes x8).  A ``net`` given as
    :data:`LANCZOS` is :func:`lanczos_upscale`; any other is run by :func:`upscale_tiled`.

    ``tile`` is one side for every stage or one per stage (a later stage's picture is larger, so a
    memory plan may give it a smaller tile); ``progress(done, total)`` counts windows over all stages
    (a Lanczos stage counts one).  ValueError as :func:`upscale_tiled`, and for an empty ``stages`` or
    a ``tile`` list of another length, or a stage named other than :data:`LANCZOS`."""
    stages = list(stages)
    if not stages:
        raise ValueError("upscale_chain needs at least one (net, factor) stage")
    tiles = [tile] * len(stages) if np.isscalar(tile) else list(tile)
    if len(tiles) != len(stages):
        raise ValueError(f"{len(tiles)} tile sides for {len(stages)} stages")
    image = _check_image(image)
    height, width = image.shape[:2]
    counts = []
    for (net, factor), side in zip(stages, tiles):
        factor = _check_factor(factor)
        if isinstance(net, str) and not _is_lanczos(net):
            raise ValueError(f"unknown upscale stage {net!r}: give a network or {LANCZOS!r}")
        counts.append(1 if _is_lanczos(net) else count_tiles(height, width, side, overlap))
        height, width = height * factor, width * factor
    total, before = sum(counts), 0
    for (net, factor), side, count in zip(stages, tiles, counts):
        if _is_lanczos(net):
            image = lanczos_upscale(image, factor)
        else:
            report = None if progress is None else (lambda done, _, base=before: progress(base + done, total))
            image = upscale_tiled(image, net, factor, side, overlap, report)
        before += count
        if progress is not None and _is_lanczos(net):
            progress(before, total)
    return image


def _is_lanczos(net) -> bool:
    return isinstance(net, str) and net == LANCZOS


def upscale_memory(height: int, width: int, factor: int, tile: int, activation_bytes: float,
                   overlap: int = OVERLAP) -> int:
    """Estimated peak bytes of :func:`upscale_tiled` on a ``height`` x ``width`` picture.

    The process baseline; the picture and its padded copy (12 bytes a pixel each); the canvas of sums
    and weights (16 bytes an output pixel); and one window: the network's activations
    (``activation_bytes`` per window input pixel, the caller's figure for its network, e.g. 64 feature
    channels x 4 bytes x the layers alive at once, with the layers that run at the output's size
    counted at factor**2 times their channels), its output, the weight and the weighted product
    (28 bytes a window output pixel)."""
    side_y, side_x = window_side(height, tile, overlap), window_side(width, tile, overlap)
    picture = height * width * 12 + (height + 2 * overlap) * (width + 2 * overlap) * 12
    canvas = height * width * factor ** 2 * 16
    window = side_y * side_x * (activation_bytes + 12 + factor ** 2 * 28)
    return int(PROCESS_BASELINE + picture + canvas + window)


def plan_upscale_tile(height: int, width: int, factor: int, max_memory: int, activation_bytes: float,
                      overlap: int = OVERLAP, tiles: Sequence[int] = TILES) -> int:
    """The largest of ``tiles`` (above ``2 * overlap``) whose :func:`upscale_memory` fits ``max_memory``
    bytes (a picture that fits in one window costs the same with any larger tile: its window is
    only as large as the picture needs).

    ValueError when even the smallest tile does not fit (the canvas alone may be too large: choose a
    smaller picture or factor, or allow more memory).  For a chain, plan each stage with its own input
    size and network's figure."""
    usable = sorted((t for t in tiles if t > 2 * overlap), reverse=True)
    if not usable:
        raise ValueError(f"no tile in {tuple(tiles)} is above twice the overlap ({overlap})")
    for tile in usable:
        estimate = upscale_memory(height, width, factor, tile, activation_bytes, overlap)
        if estimate <= max_memory:
            return tile
    raise ValueError(f"upscaling {width}x{height} by {factor} needs about {estimate / 2**20:.0f} MiB even "
                     f"with {usable[-1]} px tiles, more than the {max_memory / 2**20:.0f} MiB allowed")
