"""The engine of the ``visualize`` kind: frames, variant rows and atlas sheets of feature
visualizations (:mod:`render.engines.featurevis`), assembled into uint8 frames.

Every image starts from the parameters of ``(seed, 0)`` (variant ``v`` of a frame from ``(seed, v)``)
and draws its transforms from the same stream, so an atlas cell is exactly the one-channel render with
the same seed and a batch gives the images one-at-a-time renders give.  Frames of an objective with
several targets start from their targets' anchors (:mod:`render.engines.anchors`), so a morph keeps its
layout from frame to frame.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..errors import RecipeError
from ..media import load_image
from ..models import build
from ..notices import note
from .anchors import Anchors
from .featurevis import Settings, Target, Visualizer
from .images import to_uint8
from .robustness import Transforms


@dataclass
class VisualizeEngine:
    visualizer: Visualizer
    settings: Settings
    size: tuple[int, int]
    seed: int
    columns: tuple[str, ...]          # the plan's weight column of each target
    cells: int
    grid_columns: int
    batch: int
    atlas: bool
    diversity: float
    diversity_output: int
    labels: tuple[str, ...] = ()      # written in the atlas cells' corners (empty: none)
    refine: int = 0                   # > 0: frames start from their targets' anchors, then this many steps

    def __post_init__(self):
        self.anchors = Anchors(self.visualizer, self.batch) if self.refine else None

    @classmethod
    def from_recipe(cls, recipe, base_model=None) -> "VisualizeEngine":
        s = recipe.settings
        layers = list(dict.fromkeys(t.layer for t in s.targets))
        extractor = build.feature_extractor(recipe.model, layers, base=base_model, precision=recipe.precision,
                                            pre_activation=True)
        targets = []
        for t in s.targets:
            direction = None
            if t.kind == "direction":
                try:
                    direction = _direction(extractor, layers.index(t.layer), t.direction, recipe.output.size,
                                           recipe.background)
                except ValueError as err:
                    raise RecipeError(str(recipe.path), f"visualize.directions.{t.key.split(':', 1)[1]}", str(err)) from None
            targets.append(Target(layers.index(t.layer), t.kind, t.channel, direction, t.key))
        settings = Settings(s.parameterization, s.decorrelate, s.decay,
                            Transforms(s.pad, s.jitter, tuple(s.scales), s.rotate), s.learning_rate, s.steps,
                            s.views)
        return cls(Visualizer(extractor, targets), settings, recipe.output.size, recipe.seed,
                   tuple(t.column for t in s.targets), s.cells, s.columns, s.batch, s.atlas is not None,
                   s.diversity, 0 if s.variants > 1 and s.diversity > 0 else -1,
                   tuple(t.key for t in s.targets) if s.atlas and s.atlas["labels"] else (),
                   s.refine if s.morph == "anchors" and s.atlas is None and len(targets) > 1 else 0)

    @property
    def rows(self) -> int:
        return -(-self.cells // self.grid_columns)

    @property
    def cell_size(self) -> tuple[int, int]:
        width, height = self.size
        return max(16, width // self.grid_columns), max(16, height // self.rows)

    def cell_inputs(self, row) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Each cell's weights ``(cells, terms)`` and start ``(seed, start)`` for the frame ``row``."""
        if self.atlas:
            return np.eye(self.cells, dtype=np.float32), [(self.seed, 0)] * self.cells
        return np.tile(self._weights(row), (self.cells, 1)), [(self.seed, v) for v in range(self.cells)]

    def render_batch(self, jobs) -> list[np.ndarray]:
        if self.atlas or self.cells > 1:
            return [self._sheet(*self.cell_inputs(job.row)) for job in jobs]
        weights = np.stack([self._weights(job.row) for job in jobs])
        images = self.render_cells([(self.seed, 0)] * len(jobs), weights, self.size, self.settings)
        return [to_uint8(image) for image in images]

    def render_cells(self, starts, weights, size: tuple[int, int], settings: Settings, diversity: float = 0.0,
                     diversity_output: int = -1) -> np.ndarray:
        """Float32 images ``(len(starts), h, w, 3)``: each optimised from its seeded start, or (a morph,
        ``refine`` > 0) from its targets' anchors and refined for ``refine`` steps
        (:mod:`render.engines.anchors`)."""
        if self.anchors is None:
            return self.visualizer.render(starts, weights, size, settings, diversity, diversity_output)[0]
        params = self.anchors.start(starts, weights, size, settings)
        refine = dataclasses.replace(settings, steps=self.refine)
        params, _ = self.visualizer.optimise(params, starts, weights, size, refine, diversity, diversity_output)
        return self.visualizer.images(params, size, settings)

    def _weights(self, row) -> np.ndarray:
        """The frame ``row``'s weight of each target ``(terms,)``."""
        return np.array([row[c] for c in self.columns], np.float32)

    def _sheet(self, weights: np.ndarray, starts) -> np.ndarray:
        """Cells in rows of ``grid_columns``, optimised ``batch`` at a time (all together when they
        share a diversity penalty), on a grey frame."""
        width, height = self.size
        cell_w, cell_h = self.cell_size
        chunk = len(starts) if self.diversity_output >= 0 else self.batch
        cells = []
        for first in range(0, len(starts), chunk):
            images = self.render_cells(starts[first:first + chunk], weights[first:first + chunk], (cell_w, cell_h),
                                       self.settings, self.diversity, self.diversity_output)
            cells.extend(images)
            silent = np.flatnonzero(np.abs(self.visualizer.value(images, weights[first:first + chunk], True)) < 1e-6)
            for index in silent:   # a dead unit: no gradient ever reached the picture
                note(f"cell {first + index} ({self.labels[first + index] if self.labels else 'its objective'}) never "
                     "responded from this start: a dead channel? its cell stays grey; try another channel or seed")
        frame = np.full((height, width, 3), 0.5, np.float32)
        for index, image in enumerate(cells):
            row, col = divmod(index, self.grid_columns)
            frame[row * cell_h:(row + 1) * cell_h, col * cell_w:(col + 1) * cell_w] = image[:height - row * cell_h,
                                                                                            :width - col * cell_w]
        return to_uint8(label_cells(frame, self.labels, self.grid_columns, (cell_w, cell_h)))


def _direction(extractor, output: int, pictures, size, background) -> tuple[float, ...]:
    """Unit vector over the layer's channels: mean activation of ``toward`` minus that of ``away``."""
    width, height = size
    means = []
    for picture in pictures:
        image = load_image(picture, width, height, background)[None].astype(np.float32)
        means.append(np.asarray(extractor(image)[output]).mean(axis=(0, 1, 2)))
    direction = means[0] - means[1]
    length = float(np.linalg.norm(direction))
    if length <= 1e-6 * (float(np.linalg.norm(means[0])) + 1e-12):
        raise ValueError("its toward and away pictures give the same mean activations: the direction is zero")
    return tuple(float(v) for v in direction / length)


def label_cells(frame: np.ndarray, labels, columns: int, cell: tuple[int, int]) -> np.ndarray:
    """``frame`` (float ``(h, w, 3)`` in 0..1, kept float so a 16-bit print keeps its depth) with each
    cell's label in its top-left corner: white on a dark shadow, Pillow's default font at a twelfth of
    the cell's height, smaller when the longest label would not fit the cell's width.  Cells too small
    for a legible label (under 7 px type) get none, and a note says so."""
    if not labels:
        return frame
    from PIL import Image, ImageDraw, ImageFont
    longest = max(labels, key=len)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    size = max(7, cell[1] // 12)
    while size >= 7:
        font = ImageFont.load_default(size=size)
        if measure.textlength(longest, font=font) <= cell[0] - 6:
            break
        size -= 1
    else:
        note(f"atlas cells of {cell[0]} px are too narrow for their labels ({longest!r}): drawn without them")
        return frame
    height, width = frame.shape[:2]
    shadow, text = Image.new("L", (width, height), 0), Image.new("L", (width, height), 0)
    draw_shadow, draw_text = ImageDraw.Draw(shadow), ImageDraw.Draw(text)
    for index, label in enumerate(labels):
        row, col = divmod(index, columns)
        x, y = col * cell[0] + 3, row * cell[1] + 2
        draw_shadow.text((x + 1, y + 1), label, fill=255, font=font)
        draw_text.text((x, y), label, fill=255, font=font)
    dark = np.asarray(shadow, np.float32)[..., None] / 255
    light = np.asarray(text, np.float32)[..., None] / 255
    return (frame * (1 - dark)) * (1 - light) + light
