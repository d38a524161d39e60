"""Which packaged networks a fast style uses, what their weights are a function of, and what a
frame costs (light: plain data and arithmetic, no Keras), for recipe checks, frame keys and plans."""

from __future__ import annotations

from typing import Mapping

from . import packages
from .stylenet_weights import (TRANSFORM_CONVS, TRANSFORM_KERNELS, TRANSFORM_RESIDUALS,
                               BuiltinStyle, builtin_layers)

# mirrored margin around the content, cut off after the pass: the networks draw a flat band along
# the picture's edges (their 9x9 convolutions see mirrored features there), pushed out of the frame
MARGIN = 16
NETWORKS = {"predictor": "style-predictor", "transform": "style-transformer", "builtin": "builtin-styles"}
BUILTIN_CHANNELS = {"contract.0": (3, 32), "contract.1": (32, 32), "contract.2": (32, 32), "expand.0": (32, 8),
                    "expand.1": (8, 4), "expand.2": (4, 3)}


def uses_builtin(images: Mapping[str, object]) -> bool:
    """Whether ``images`` (name -> path or :class:`BuiltinStyle`) are built-in styles (all of them)."""
    return all(isinstance(v, BuiltinStyle) for v in images.values())


def networks_for(images: Mapping[str, object]) -> tuple[str, ...]:
    """The packaged networks a fast style over ``images`` uses."""
    return (NETWORKS["builtin"],) if uses_builtin(images) else (NETWORKS["predictor"], NETWORKS["transform"])


def network_digests(images: Mapping[str, object]) -> dict[str, str]:
    """Packaged network name -> the digest of its converted weights (for frame keys)."""
    return {name: packages.PACKAGED[name].digest() for name in networks_for(images)}


WORKING_STEP = 8   # a working size other than the frame's is rounded to this, so keyframed scales share graphs


def working_size(height: int, width: int, style_scale: float, builtin: bool,
                 working_scale: float = 1.0) -> tuple[int, int]:
    """(h, w) the transformer runs at for a ``height`` x ``width`` frame: the frame's own size, divided by
    ``working_scale`` (a preview's size over the full recipe's, so a draft has the full frame's strokes)
    and, for built-in styles, by ``style_scale`` (their stroke size: a smaller scale is a larger and
    costlier picture).  Sizes other than the frame's are rounded to multiples of 8, at least 8."""
    scale = working_scale * (style_scale if builtin else 1.0)
    if abs(scale - 1.0) < 1e-9:
        return height, width
    return (max(WORKING_STEP, WORKING_STEP * round(height / scale / WORKING_STEP)),
            max(WORKING_STEP, WORKING_STEP * round(width / scale / WORKING_STEP)))


def transformer_flops(height: int, width: int, builtin: bool) -> float:
    """FLOPs (2 per multiply-add) of the convolutions of one ``height`` x ``width`` picture through the
    arbitrary-style transformer or, with ``builtin``, the 26-style network; sides are padded to
    multiples of 4 as the networks run them (a frame's picture includes :data:`MARGIN` on each side)."""
    height, width = height + -height % 4, width + -width % 4
    pixels = height * width

    def conv(size, cin, cout, scale):
        return 2.0 * size * size * cin * cout * pixels / (scale * scale)

    if builtin:
        total, scale = 0.0, 1
        for name, size, stride, factor in builtin_layers():
            scale = scale * stride // factor
            cin, cout = BUILTIN_CHANNELS.get(name, (32, 32))
            total += conv(size, cin, cout, scale)
        return total
    total, scale = 0.0, 1
    for _, (cout, cin, size, _), stride in TRANSFORM_CONVS:
        scale *= stride
        total += conv(size, cin, cout, scale)
    total += 2 * TRANSFORM_RESIDUALS * conv(3, 32, 32, scale)
    for (cout, cin, size, _), factor in zip(TRANSFORM_KERNELS.values(), (2, 2, 1)):
        scale //= factor
        total += conv(size, cin, cout, scale)
    return total


