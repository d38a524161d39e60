"""Feed-forward style transfer: one pass of a trained network per frame, no optimisation.

Two networks (:mod:`render.models.stylenets`): the arbitrary-style transformer, conditioned on a
100-number style vector that the style predictor makes from any picture (Ghiasi et al. 2017), and
the 26-style network conditioned on weights over its built-in styles (Dumoulin et al. 2017).  A
frame's mix blends the style vectors (or the built-in weights) by the row's weights normalised to
sum 1, which is what both networks were trained to interpolate, so a morph is smooth at video rate.

Over footage, frame n is ``styled + carry * mask * (warped - styled)``: ``warped`` the previous
result carried along the *source's* backward optical flow, ``mask`` where that flow is trusted
(:mod:`render.temporal`), so texture that the network redraws differently in each frame holds
still where the picture does.  Images are float32 ``(H, W, 3)`` in 0..1 inside, uint8 between frames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..backend import current
from ..backend.kerasops import ops
from ..contracts import FrameJob
from ..media import MediaSource, RecentFrames, load_image, picture_info
from ..models import fetched, packages
from ..models.fast_style import MARGIN, NETWORKS, uses_builtin, working_size
from ..models.stylenet_weights import BUILTIN_STYLES, STYLE_VECTOR
from ..models.stylenets import BUILDERS
from ..temporal import FlowCache, default_flow_folder, warp_previous
from .color import keep_content_colours
from .images import to_uint8
from .resample import resize_bilinear, resize_lanczos

PREDICTOR_SIDE = 256    # the style predictor was trained on 256x256 style images
PREDICTOR_STEP = 16     # style pictures are seen at multiples of this (keyframed style_scale shares graphs)
MIN_SIDE = 8


def normalised(weights: Sequence[float]) -> np.ndarray:
    """Non-negative weights scaled to sum 1 (float64); all zero is an error the recipe check prevents."""
    values = np.maximum(np.asarray(weights, np.float64), 0.0)
    total = values.sum()
    if total <= 0:
        raise ValueError("style weights are all zero")
    return values / total


class Stylizer:
    """The compiled networks and the style vectors of pictures (cached per picture and size).

    ``precision`` is the transformer's convolutions' compute type ("float32" or "bfloat16"); the
    predictor always runs in float32 (once per picture: its 17 unnormalised blocks in bfloat16 moved
    the style vector enough to shift a frame's colours by 6/255 on average)."""

    def __init__(self, uses_builtin: bool, precision: str = "float32", background=None, progress=None):
        self.uses_builtin, self.background = uses_builtin, background
        backend = current()
        if uses_builtin:
            weights = fetched.load_arrays(packages.PACKAGED[NETWORKS["builtin"]], progress)
            self._transform = backend.compile(BUILDERS["builtin"](weights, precision), name="builtin styles")
        else:
            predictor = BUILDERS["predictor"](fetched.load_arrays(packages.PACKAGED[NETWORKS["predictor"]], progress),
                                              "float32")
            transform = BUILDERS["transform"](fetched.load_arrays(packages.PACKAGED[NETWORKS["transform"]], progress),
                                              precision)
            self._predict = backend.compile(predictor, name="style predictor")
            self._transform = backend.compile(transform, name="style transformer")
        self._vectors: dict[tuple, np.ndarray] = {}
        self._content: tuple[bytes, np.ndarray] | None = None   # the last content's digest and vector

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Style vector ``(100,)`` of float RGB ``(H, W, 3)`` 0..1, as the network sees it."""
        out = self._predict(ops.convert_to_tensor(np.asarray(image, np.float32)[None]))
        return np.asarray(ops.convert_to_numpy(out), np.float32).reshape(STYLE_VECTOR)

    def picture_vector(self, path: Path, style_scale: float) -> np.ndarray:
        """The style vector of the picture at ``path`` seen at ``style_scale`` times the predictor's
        size: its own aspect, an area of about ``(256 * style_scale)**2`` pixels, sides rounded to
        multiples of 16."""
        info = picture_info(path)
        aspect = info.width / info.height
        area = (PREDICTOR_SIDE * style_scale) ** 2
        height = max(PREDICTOR_STEP, PREDICTOR_STEP * round((area / aspect) ** 0.5 / PREDICTOR_STEP))
        width = max(PREDICTOR_STEP, PREDICTOR_STEP * round(height * aspect / PREDICTOR_STEP))
        key = (str(path), height, width)
        if key not in self._vectors:
            self._vectors[key] = self.predict(load_image(path, width, height, self.background))
        return self._vectors[key]

    def content_vector(self, content: np.ndarray) -> np.ndarray:
        """The content's own style vector, seen at the predictor's size (its aspect kept); a content
        equal to the last one's (a still, frame after frame) reuses its vector."""
        digest = hashlib.sha1(np.ascontiguousarray(content, np.float32).tobytes()).digest()
        if self._content is None or self._content[0] != digest:
            height, width = content.shape[:2]
            scale = PREDICTOR_SIDE / (height * width) ** 0.5
            self._content = (digest, self.predict(resize_bilinear(content, max(MIN_SIDE, round(height * scale)),
                                                                  max(MIN_SIDE, round(width * scale)))))
        return self._content[1]

    def transform(self, content: np.ndarray, condition: np.ndarray) -> np.ndarray:
        """Stylised float RGB ``(H, W, 3)`` of ``content`` under a style vector ``(100,)`` or built-in
        weights ``(26,)``, computed on the content with a mirrored margin of :data:`MARGIN` pixels."""
        height, width = content.shape[:2]
        margin = min(MARGIN, height - 1, width - 1)
        padded = np.pad(np.asarray(content, np.float32), ((margin, margin), (margin, margin), (0, 0)), mode="reflect")
        out = self._transform(ops.convert_to_tensor(padded[None]),
                              ops.convert_to_tensor(np.asarray(condition, np.float32)[None]))
        return np.asarray(ops.convert_to_numpy(out), np.float32)[0, margin:margin + height, margin:margin + width]


@dataclass
class FastStyleEngine:
    """Renders fast-style frames (see the module).

    Rows carry one ``style.mix.<name>`` weight per style (absent: equal weights), ``style.strength``
    (0..1: pictures move the style vector toward the content's own, built-in styles fade the picture
    toward the content), ``style.style_scale`` (pictures: the size the style is seen at; built-in
    styles: the stroke size, the network running at the frame size divided by it) and, over footage,
    ``style.carry``."""

    settings: object
    width: int
    height: int
    source: MediaSource
    stylizer: Stylizer
    flows: FlowCache | None = field(default=None, repr=False)
    _recent: RecentFrames | None = field(default=None, repr=False)

    @classmethod
    def from_recipe(cls, recipe) -> "FastStyleEngine":
        settings = recipe.settings
        stylizer = Stylizer(uses_builtin(settings.images), recipe.precision, settings.content.background,
                            fetched.bytes_bar("fetching the fast-style networks"))
        width, height = recipe.output.size
        flows = (FlowCache(default_flow_folder(), settings.flow)
                 if settings.content.is_sequence and settings.coherence == "flow" else None)
        return cls(settings, width, height, settings.content, stylizer, flows)

    def mix(self, row: Mapping[str, float]) -> dict[str, float]:
        """Style name -> this frame's weight normalised to sum 1 (equal without a ``mix`` table)."""
        default = 0.0 if self.settings.mix_given else 1.0
        names = list(self.settings.images)
        weights = normalised([row.get(f"style.mix.{n}", default) for n in names])
        return dict(zip(names, weights))

    def condition(self, content: np.ndarray, row: Mapping[str, float]) -> np.ndarray:
        """The frame's style vector ``(100,)`` or built-in weights ``(26,)``."""
        mix = self.mix(row)
        if self.stylizer.uses_builtin:
            weights = np.zeros(BUILTIN_STYLES)
            for name, weight in mix.items():
                weights[self.settings.images[name].index] += weight
            return weights.astype(np.float32)
        scale = float(row["style.style_scale"])
        vector = sum(weight * self.stylizer.picture_vector(self.settings.images[name], scale).astype(np.float64)
                     for name, weight in mix.items() if weight > 0)
        strength = float(row["style.strength"])
        if strength < 1.0:
            vector = strength * vector + (1.0 - strength) * self.stylizer.content_vector(content)
        return np.asarray(vector, np.float32)

    def stylize(self, content: np.ndarray, row: Mapping[str, float], index: int | None = None) -> np.ndarray:
        """One frame's network output for ``content`` (float ``(H, W, 3)``), before coherence: the
        network runs at :func:`render.models.fast_style.working_size`, on content frame ``index`` read
        at that size (given an index; else ``content`` resized), and its picture is resized back
        (Lanczos)."""
        condition = self.condition(content, row)
        height, width = content.shape[:2]
        builtin = self.stylizer.uses_builtin
        h, w = working_size(height, width, float(row["style.style_scale"]), builtin, self.settings.working_scale)
        if (h, w) == (height, width):
            picture = content
        elif index is not None:
            picture = self.source.read(index, w, h)
        else:
            picture = np.clip(resize_lanczos(content, h, w), 0.0, 1.0)
        styled = self.stylizer.transform(picture, condition)
        if (h, w) != (height, width):
            styled = np.clip(resize_lanczos(styled, height, width), 0.0, 1.0)
        strength = float(row["style.strength"])
        if builtin and strength < 1.0:
            styled = strength * styled + (1.0 - strength) * content
        if self.settings.preserve_colors:
            styled = keep_content_colours(styled, content)
        return styled.astype(np.float32)

    def cohere(self, styled: np.ndarray, previous: np.ndarray, index: int, row: Mapping[str, float]) -> np.ndarray:
        """Frame ``index`` > 0 of footage: the styled frame pulled toward the previous result (uint8)."""
        carry = float(row["style.carry"])
        before = previous.astype(np.float32) / 255.0
        if self.settings.coherence != "flow":
            return styled + carry * (before - styled)
        pair = self.flows.pair(self.content(index - 1), self.content(index))
        warped = warp_previous(before, pair.backward)
        return styled + carry * pair.mask[..., None] * (warped - styled)

    def content(self, index: int) -> np.ndarray:
        """Content frame ``index`` at the frame size (the last two read are kept)."""
        if self._recent is None:
            self._recent = RecentFrames(self.source, self.width, self.height)
        return self._recent(index)

    @property
    def flow_seconds(self) -> float:
        return self.flows.seconds if self.flows is not None else 0.0

    def render_frame(self, job: FrameJob) -> np.ndarray:
        content = self.content(job.index)
        image = self.stylize(content, job.row, job.index)
        if self.source.is_sequence and job.previous is not None:
            image = self.cohere(image, job.previous, job.index, job.row)
        return to_uint8(np.clip(image, 0.0, 1.0))

    def render_batch(self, jobs: Sequence[FrameJob]) -> list[np.ndarray]:
        return [self.render_frame(job) for job in jobs]
