"""Latent walks through a StyleGAN2/3 generator: plan rows -> frames.

Per batch of rows: each cell's ``z`` goes through the mapping network (space Z), or its weights over
the keys combine the keys' mapped ``w`` (space W); ``ws`` are broadcast to ``num_ws``, truncated toward
``w_avg`` (psi per frame, NVIDIA's cutoff), mixed with the mixing walk's ``ws`` from ``mix.from`` on,
and synthesised with the frame's camera (StyleGAN3) and noise.  Pixels are made as NVIDIA's tools
make them (``x * 127.5 + 128``, clamped to 0..255, truncated to 8 bits), so an unresized cell is
byte-for-byte the picture ``gen_images.py`` writes for that seed and psi (up to float rounding).
Cells are tiled into the grid and, when the output size differs, resized (Lanczos-3).

The plan rows' columns are those of :mod:`render.kinds.walk`; this module reads them as data
(``walk.latent``, ``walk.mix``, ``walk.truncation``, ``walk.translate``, ``walk.rotate``) and gets
the recipe's StyleGAN settings as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..backend import current
from ..backend.kerasops import ops
from ..contracts import FrameJob
from ..models.stylegan import StyleGAN, truncate
from ..models.stylegan_cache import load_arrays
from .resample import make_resizer
from .stylegan_rows import camera_of, camera_transforms, noise_seed


def _padded(values, pad: int):
    """``values`` (an array, a dict of arrays or None) with its last row repeated ``pad`` times."""
    if values is None or pad == 0:
        return values
    if isinstance(values, dict):
        return {name: _padded(array, pad) for name, array in values.items()}
    return np.concatenate([values, np.repeat(values[-1:], pad, axis=0)])


@dataclass
class StyleGANWalkEngine:
    """``generator``: a :class:`~render.models.stylegan.StyleGAN`; ``settings``: the walk settings
    (plain values: ``space``, ``keys``, ``mix``, ``truncation_cutoff``, ``noise``, ``label``,
    ``grid``, ``batch``, ``draw``); ``size``: the output (width, height)."""

    generator: StyleGAN
    settings: object
    size: tuple[int, int]
    batch: int
    seed: int = 0    # the recipe's seed: random noise is drawn from it and the frame index

    @classmethod
    def from_recipe(cls, recipe, generator=None) -> "StyleGANWalkEngine":
        s = recipe.settings
        if not isinstance(generator, StyleGAN):
            generator = StyleGAN(s.stylegan, load_arrays(recipe.model.path),
                                 "bfloat16" if recipe.precision == "bfloat16" else "float32")
        engine = cls(generator, s, recipe.output.size, recipe.kind.batch_size(recipe), recipe.seed)
        engine._compile()
        return engine

    def _compile(self) -> None:
        g = self.generator
        backend = current()
        self._map = backend.compile(lambda z, c: g.mapping(z, c), [g], name="stylegan mapping")
        cols, rows = self.settings.grid
        res = g.resolution
        width, height = self.size
        resize = None if (rows * res, cols * res) == (height, width) else make_resizer((rows * res, cols * res),
                                                                                    (height, width))

        def synthesize(ws, transforms, noise):
            images = g.synthesis(ws, noise if noise else self.settings.noise, transforms)
            return ops.clip(images * 127.5 + 128.0, 0.0, 255.0)

        self._synthesize = backend.compile(synthesize, [g], name="stylegan synthesis")

        def frames(cells):
            mosaic = cells.reshape(-1, rows, cols, res, res, 3).transpose(0, 1, 3, 2, 4, 5)
            mosaic = mosaic.reshape(-1, rows * res, cols * res, 3)
            if resize is not None:
                mosaic = np.asarray(resize(mosaic / 255.0)) * 255.0
            return np.floor(np.clip(mosaic, 0.0, 255.0)).astype(np.uint8)

        self._frames = frames
        self._key_ws: dict = {}

    # --- latents --------------------------------------------------------------------------------
    def labels(self, count: int) -> np.ndarray:
        c_dim = self.generator.c_dim
        if not c_dim:
            return np.zeros((count, 0), np.float32)
        labels = np.zeros((count, c_dim), np.float32)
        labels[:, self.settings.label] = 1
        return labels

    def map(self, z: np.ndarray) -> np.ndarray:
        """``z (n, z_dim)`` -> ``w (n, w_dim)`` through the compiled mapping network."""
        z = np.asarray(z, np.float32)
        return np.asarray(self._map(z, self.labels(len(z))))

    def key_ws(self, keys, cell: int) -> np.ndarray:
        """``(keys, w_dim)``: the mapped latents of a walk's keys for ``cell`` (computed once)."""
        token = (tuple(seed for _, seed in keys), cell)
        if token not in self._key_ws:
            z = np.stack([self.settings.draw(seed, cell, self.generator.z_dim) for _, seed in keys])
            self._key_ws[token] = self.map(z)
        return self._key_ws[token]

    def ws_of(self, latents: np.ndarray, keys) -> np.ndarray:
        """Rows' ``walk.latent`` (or ``walk.mix``) ``(frames, cells * d)`` -> ``w (frames * cells, w_dim)``."""
        s, cells = self.settings, self.settings.cells
        latents = np.asarray(latents, np.float64)
        if s.space == "w":
            weights = latents.reshape(len(latents), cells, -1)
            stacked = np.stack([weights[:, c] @ self.key_ws(keys, c) for c in range(cells)], axis=1)
            return stacked.reshape(-1, self.generator.w_dim).astype(np.float32)
        return self.map(latents.reshape(-1, self.generator.z_dim))

    def all_ws(self, rows: Sequence[Mapping]) -> np.ndarray:
        """``(frames * cells, num_ws, w_dim)``: broadcast, truncated, mixed."""
        s, g = self.settings, self.generator
        cells = s.cells
        psi = np.repeat([float(row["walk.truncation"]) for row in rows], cells)
        w = self.ws_of(np.stack([row["walk.latent"] for row in rows]), s.keys)
        ws = truncate(np.repeat(w[:, None], g.num_ws, axis=1), g.w_avg, psi, s.truncation_cutoff)
        if s.mix is not None:
            start, mix_keys = s.mix
            other = self.ws_of(np.stack([row["walk.mix"] for row in rows]), mix_keys)
            other = truncate(np.repeat(other[:, None], g.num_ws, axis=1), g.w_avg, psi, s.truncation_cutoff)
            ws[:, start:] = other[:, start:]
        return ws

    def noise_fields(self, seeds: Sequence[int]) -> dict | None:
        """Fresh ``N(0, 1)`` noise per frame (one field per noise input), or None (const/none)."""
        if self.settings.noise != "random":
            return None
        cells = self.settings.cells
        fields = {name: np.empty((len(seeds) * cells, res, res, 1), np.float32)
                  for name, res in self.generator.noise_inputs()}
        for i, seed in enumerate(seeds):
            rng = np.random.default_rng(seed)
            for name, res in self.generator.noise_inputs():
                fields[name][i * cells:(i + 1) * cells] = rng.standard_normal((cells, res, res, 1), np.float32)
        return fields

    def cells(self, rows: Sequence[Mapping], cameras=None, noise_seeds=None) -> np.ndarray:
        """float32 0..255 RGB ``(len(rows) * cells, R, R, 3)``: every cell's picture, unresized (a
        grey network's channel repeated, a fourth channel dropped)."""
        cells = self.settings.cells
        ws = self.all_ws(rows)
        transforms = None
        if self.generator.config["generation"] == 3:
            cams = np.zeros((len(rows), 3)) if cameras is None else np.asarray(cameras, np.float64)
            transforms = np.repeat(camera_transforms(cams), cells, axis=0)
        noise = self.noise_fields(noise_seeds) if noise_seeds is not None else None
        out = []
        step = max(1, self.batch) * cells
        for start in range(0, len(ws), step):   # every call a full batch: one compiled graph
            part = slice(start, start + step)
            count = len(ws[part])
            pad = step - count
            fields = None if noise is None else {name: field[part] for name, field in noise.items()}
            out.append(np.asarray(self._synthesize(_padded(ws[part], pad), _padded(
                None if transforms is None else transforms[part], pad), _padded(fields, pad)))[:count])
        pictures = np.concatenate(out)
        return np.repeat(pictures, 3, axis=-1) if pictures.shape[-1] == 1 else pictures[..., :3]

    def frame_cells(self, index: int, row: Mapping) -> np.ndarray:
        """float32 0..255 ``(cells, R, R, 3)``: frame ``index``'s cells at the network's size (prints)."""
        return self._cells_of([index], [row])

    def _cells_of(self, indices: Sequence[int], rows: Sequence[Mapping]) -> np.ndarray:
        cameras = noise = None
        if self.generator.config["generation"] == 3:
            cameras = [camera_of(row) for row in rows]
        if self.settings.noise == "random":
            noise = [noise_seed(self.seed, index) for index in indices]
        return self.cells(rows, cameras, noise)

    def render_batch(self, jobs: Sequence[FrameJob]) -> list[np.ndarray]:
        return list(self._frames(self._cells_of([job.index for job in jobs], [job.row for job in jobs])))
