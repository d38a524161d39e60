"""The ``walk`` kind: GAN latent walks (an independent kind: every frame is its own latent, so frames
render in any order, in batches).

A walk visits keyframe latents, one per seed (``N(0, I)`` drawn from that seed), along a slerp, lerp
or cubic path; ``loop = true`` flows from the last key back into the first with no seam; ``mode =
"circle"`` travels a great circle through two seeded directions.  ``grid = [cols, rows]`` tiles
several independent walks into one frame (cell ``c`` draws key ``k``'s latent from ``(k, c)``; cell 0
from ``k`` alone).  A 1-frame walk, or ``poster = true``, is a still: a sheet of faces from
consecutive seeds.

Plan columns: ``walk.truncation`` and ``walk.latent`` (all cells' latents side by side, float64
``(frames, cells * latent_size)``).

StyleGAN2/3 networks (``model.name = "ffhq.pkl"``): a key's latent is drawn as NVIDIA's tools draw it
(``np.random.RandomState(seed).randn(z_dim)``), so seed 42 is the face ``gen_images.py --seeds 42``
makes.  ``space = "w"`` walks between the keys' intermediate latents (the mapping network's outputs):
``walk.latent`` then holds each cell's weights over the keys (``(frames, cells * keys)``; lerp and
cubic paths are linear in the key values, so the weights are the path); ``truncation`` is psi toward
``w_avg`` on the first ``truncation_cutoff`` of the ``num_ws`` layers; ``mix`` takes the layers from
``mix.from`` on from a second keyed walk (``walk.mix``, the same form); ``translate``/``rotate`` move
StyleGAN3's camera; ``noise`` picks the noise inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..models.catalog import GENERATOR
from ..models.stylegan_memory import activation_bytes, weight_bytes
from ..recipe.fields import Choice, Field, FieldError, Flag, Number, NumberList, ParseEnv, Size, Vector
from ..schedule import VectorKeyframes, parse_key
from ..engines.geometry import key_latent, nvidia_latent
from ..engines.stylegan_rows import camera_of, noise_seed
from ..backend import activate
from .base import Kind, PrintStage


GENERATOR_BASELINE = 0.62 * 2**30  # the interpreter, TensorFlow and the generator (measured)
STYLEGAN_BATCH_MEMORY = 4 * 2**30   # a StyleGAN batch's activations stay under this (1024 px: a few frames)


def stylegan_frame_bytes(config: dict, cells: int, size: tuple[int, int]) -> float:
    """Peak bytes one frame adds: its cells' largest activations (see
    :func:`render.models.stylegan_memory.activation_bytes`) and the output's float copies."""
    width, height = size
    return cells * activation_bytes(config) + width * height * 3 * 4 * 3


@dataclass(frozen=True)
class WalkKeys(Field):
    """Seeds as keyframes: ``[4, 17, 42]`` or ``"4, 17, 40-49"`` (spaced by ``frames_per_key``), or
    ``{ 0 = 4, "2s" = 17 }``.  Returns a tuple of ``(frame or None, seed)`` in frame order."""

    default: Any = None
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv) -> tuple[tuple[float | None, int], ...]:
        def seed(value, subkey):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
                raise FieldError(f"a key is a seed: a whole number 0..2147483647, got {value!r}", subkey)
            return value
        if isinstance(raw, str):
            raw = parse_seed_list(raw)
        if isinstance(raw, list):
            if not raw:
                raise FieldError("expected at least one seed")
            return tuple((None, seed(v, str(i))) for i, v in enumerate(raw))
        if isinstance(raw, dict) and raw:
            points = {}
            for key, value in raw.items():
                try:
                    frame = parse_key(key, env.fps)
                except Exception as err:
                    raise FieldError(str(err), key) from None
                points[frame] = seed(value, key)
            return tuple(sorted(points.items()))
        raise FieldError(f"expected seeds, e.g. [4, 17, 42] or {{ 0 = 4, \"2s\" = 17 }}, got {raw!r}")

    def json_schema(self) -> dict:
        seed = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
        ranges = {"type": "string", "pattern": r"^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$"}
        return self._described({"anyOf": [{"type": "array", "items": seed, "minItems": 1}, ranges,
                                          {"type": "object", "additionalProperties": seed, "minProperties": 1}]})


@dataclass(frozen=True)
class MixTable(Field):
    """``mix = { from = 8, seeds = [5, 9] }``: the layers from ``from`` on come from a second walk
    through ``seeds`` (same timing as ``keys``).  Returns ``(from, keys)`` or None."""

    default: Any = None
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv):
        if raw is None:
            return None
        if not isinstance(raw, dict) or set(raw) - {"from", "seeds"} or "seeds" not in raw or "from" not in raw:
            raise FieldError(f"expected {{ from = 8, seeds = [5, 9] }}, got {raw!r}")
        start = raw["from"]
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= 1000:
            raise FieldError(f"a layer index 0..1000, got {start!r}", "from")
        try:
            keys = WalkKeys().parse(raw["seeds"], env)
        except FieldError as err:
            raise FieldError(str(err), "seeds" + (f".{err.subkey}" if err.subkey else "")) from None
        return start, keys

    def json_schema(self) -> dict:
        return self._described({"type": "object", "required": ["from", "seeds"], "additionalProperties": False,
                                "properties": {"from": {"type": "integer", "minimum": 0, "maximum": 1000},
                                               "seeds": WalkKeys().json_schema()}})


_SEED_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")
MAX_SEEDS = 100_000


def parse_seed_list(text: str) -> list[int]:
    """``"4, 17, 40-49"`` -> ``[4, 17, 40, 41, ..., 49]`` (ranges inclusive, in the order written)."""
    seeds: list[int] = []
    for item in text.split(","):
        match = _SEED_ITEM.match(item)
        if not match:
            raise FieldError(f"expected seeds such as \"4, 17, 40-49\", got {text!r}")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise FieldError(f"seed range {first}-{last} runs backwards")
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise FieldError(f"more than {MAX_SEEDS} seeds")
        seeds.extend(range(first, last + 1))
    return seeds


WALK = {
    "keys": WalkKeys(None, help="seeds visited in order: [4, 17, 42], or keyed by frame/time { 0 = 4, \"2s\" = 17 }"),
    "frames_per_key": Number(60, 1, 100_000, integer=True, help="frames from one seed to the next (keys as a list)"),
    "position": Number(None, -1e6, 1e6, keyframed=True,
                       help="where each frame is on the path, in keys (0 = the first seed, 1 = the second, 1.5 "
                            "halfway to the third): keys on beats with \"b / 4\" (the next seed every 4 beats); "
                            "replaces the keys' own frames; with loop = true it wraps around"),
    "path": Choice("slerp", ("slerp", "lerp", "cubic"), help="slerp (on the latent shell), lerp, or cubic "
                                                             "(smooth through all keys)"),
    "loop": Flag(False, help="flow from the last key back into the first: a seamless loop"),
    "mode": Choice("keys", ("keys", "circle"), help="keys, or circle: a great circle through two seeded directions"),
    "truncation": Number(1.0, 0.0, 2.0, keyframed=True,
                         help="scale latents toward the mean (1 = as drawn); StyleGAN: psi toward w_avg"),
    "truncation_cutoff": Number(None, 1, 1000, integer=True,
                                help="StyleGAN: truncate only the first N of num_ws layers (default: all)"),
    "space": Choice("z", ("z", "w"), help="StyleGAN: interpolate the latents z (z) or the mapped latents (w)"),
    "noise": Choice("const", ("const", "random", "none"),
                    help="StyleGAN2 noise inputs: the network's stored noise, fresh noise every frame, or none"),
    "mix": MixTable(None, help="StyleGAN style mixing: { from = 8, seeds = [5, 9] } takes the layers from 8 on "
                               "from a second walk through those seeds"),
    "label": Number(None, 0, 100_000, integer=True, help="class index for a conditional StyleGAN network"),
    "translate": Vector(None, 2, -1e4, 1e4, help="StyleGAN3 camera: [x, y] translation of the input "
                                                 "(keyframable, in the network's units, as gen_images.py)"),
    "rotate": Number(None, -1e6, 1e6, keyframed=True, help="StyleGAN3 camera: rotation in degrees (keyframable)"),
    "batch": Number(16, 1, 4096, integer=True, help="frames per generator call"),
    "grid": Size([1, 1], 1, 64, help="[columns, rows] of independent walks tiled into each frame",
                 names=("columns", "rows"), unit=""),
    "poster": Flag(False, help="a still: one sheet of faces from consecutive seeds (grid sets its layout)"),
    "latent_size": Number(None, 1, 100_000, integer=True, help="checked against the generator's input"),
    "output_range": NumberList(None, -1e6, 1e6, increasing=True,
                               help="[low, high] pixel values of the generator's output (default: from the model)"),
}


@dataclass(frozen=True)
class WalkSettings:
    keys: tuple[tuple[float, int], ...]   # (frame, seed), frames resolved
    path: str
    loop: bool
    mode: str
    batch: int
    grid: tuple[int, int]
    poster: bool
    latent_size: int
    output_range: tuple[float, float]
    position: Any = None   # a number schedule in key units, or None: the keys' own frames
    stylegan: dict | None = None   # the StyleGAN network's description, or None (DCGAN, .keras)
    space: str = "z"
    truncation_cutoff: int | None = None
    noise: str = "const"
    mix: tuple | None = None       # (from, keys with frames resolved)
    label: int | None = None

    @property
    def cells(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def draw(self):
        """The key latent of ``(seed, cell, size)``: NVIDIA's draw for StyleGAN networks."""
        return nvidia_latent if self.stylegan is not None else key_latent

    @property
    def camera(self) -> bool:
        return self.stylegan is not None and self.stylegan["generation"] == 3


@dataclass(frozen=True)
class LatentPath:
    """Schedule of every cell's latent: ``expand(n)`` -> float64 ``(n, cells * latent_size)`` (in W
    space: ``(n, cells * keys)``, each cell's weights over the keys).  ``keys`` replaces the
    settings' keys (the style-mixing walk)."""

    settings: WalkSettings
    seed: int
    keys: tuple | None = None

    def cell_path(self, cell: int, frames: int) -> np.ndarray:
        s = self.settings
        size = s.latent_size
        draw = s.draw
        keys = self.keys if self.keys is not None else s.keys
        if s.poster or frames == 1:
            return np.tile(draw(keys[0][1] + cell, 0, size), (frames, 1))
        if s.mode == "circle":
            rng = np.random.default_rng([self.seed, 0x636972636C65, cell])
            u, v = rng.standard_normal(size), rng.standard_normal(size)
            v -= u * (u @ v) / (u @ u)
            v *= np.linalg.norm(u) / np.linalg.norm(v)
            angle = 2 * np.pi * np.arange(frames) / frames
            return np.cos(angle)[:, None] * u + np.sin(angle)[:, None] * v
        interp = {"lerp": "linear", "slerp": "slerp", "cubic": "cubic"}[s.path]
        if s.space == "w":   # key i is one-hot: the path is each frame's weights over the keys' w
            vectors = np.eye(len(keys))
        else:
            vectors = [draw(seed, cell, size) for _, seed in keys]
        # key i sits at position i when each frame's position is scheduled, else at its own frame
        places = range(len(keys)) if s.position is not None else [frame for frame, _ in keys]
        points = tuple((float(place), tuple(vector)) for place, vector in zip(places, vectors))
        if len(points) == 1:
            return np.tile(np.array(points[0][1]), (frames, 1))
        path = VectorKeyframes(points, interp, s.loop)
        if s.position is not None:
            return path.at(s.position.expand(frames), len(points))
        return path.expand(frames)

    def expand(self, frames: int) -> np.ndarray:
        return np.concatenate([self.cell_path(c, frames) for c in range(self.settings.cells)], axis=1)


class WalkKind(Kind):
    name = "walk"
    description = "GAN latent walks: seeds as keyframes, slerp paths, seamless loops, grids and posters"
    chained = False
    engine_version = "walk-1"
    sections = {"walk": WALK}
    roles = (GENERATOR,)
    default_model = "dcgan-faces64"
    model_help = "dcgan-faces64 (embedded face generator), or a path to a .keras generator (latent in, image out)"
    default_batch = 16

    def inert(self, sections, given):
        length = {"output.frames", "output.duration", "audio.duration"} & given
        if sections["walk"]["position"] is not None and length:
            return {"walk.frames_per_key": f"walk.position places every frame on the keys, and the length is "
                                           f"{sorted(length)[0]}"}
        return {}

    def frame_count(self, sections, output) -> int | None:
        walk = sections["walk"]
        if walk["poster"]:
            return 1
        if walk["mode"] == "circle":
            return 2 * walk["frames_per_key"]
        keys = walk["keys"] or ()
        if keys and keys[0][0] is None:
            spans = max(1, len(keys) if walk["loop"] else len(keys) - 1)  # one key: settings() says why not
            return spans * walk["frames_per_key"] + (0 if walk["loop"] else 1)
        if keys:
            return int(keys[-1][0]) + (walk["frames_per_key"] if walk["loop"] else 1)
        return None

    def settings(self, sections, model, output, error) -> WalkSettings:
        walk = sections["walk"]
        keys = walk["keys"]
        if walk["mode"] == "keys" and not walk["poster"] and output.frames > 1:
            if keys is None or len(keys) < 2:
                raise error("walk.keys", "a walk needs at least two seeds, e.g. keys = [4, 17] "
                                         "(or mode = \"circle\", or a 1-frame poster)")
        if keys is None:
            keys = ((None, 0),)
        if keys[0][0] is None:  # a list: evenly spaced by frames_per_key
            keys = tuple((float(i * walk["frames_per_key"]), seed) for i, (_, seed) in enumerate(keys))
        if walk["loop"] and walk["position"] is None and len(keys) > 1 and keys[-1][0] >= output.frames:
            raise error("walk.keys", f"loop = true repeats every {output.frames} frames, but the last key is "
                                     f"at frame {keys[-1][0]:g}")
        size = model.latent_size
        if walk["latent_size"] is not None and size is not None and walk["latent_size"] != size:
            raise error("walk.latent_size", f"{walk['latent_size']} does not match the generator {model.name}, "
                                            f"which takes {size} values")
        size = size or walk["latent_size"]
        if size is None:
            raise error("walk.latent_size", f"the generator {model.name} does not say its latent size: give it")
        if model.output_channels not in (None, 1, 3):
            raise error("model.name", f"{model.name} does not make an image: its last layer has "
                                      f"{model.output_channels} channels (1 or 3 expected)")
        out_range = walk["output_range"] or model.output_range
        if len(out_range) != 2:
            raise error("walk.output_range", "expected [low, high]")
        if walk["position"] is not None and walk["mode"] == "circle":
            raise error("walk.position", "position moves along the keys; mode = \"circle\" has none")
        poster = walk["poster"] or output.frames == 1
        stylegan = model.stylegan
        extras = self._stylegan_settings(walk, stylegan, keys, poster, error)
        return WalkSettings(keys, walk["path"], walk["loop"], walk["mode"], walk["batch"], walk["grid"],
                            poster, size, tuple(out_range), walk["position"], stylegan, **extras)

    @staticmethod
    def _stylegan_settings(walk, stylegan, keys, poster, error) -> dict:
        """The StyleGAN-only keys, checked against the network (refused for other generators)."""
        given = {name for name in ("truncation_cutoff", "mix", "label", "translate", "rotate")
                 if walk[name] is not None}
        if walk["space"] != "z":
            given.add("space")
        if walk["noise"] != "const":
            given.add("noise")
        if stylegan is None:
            if given:
                name = sorted(given)[0]
                raise error(f"walk.{name}", f"{name} needs a StyleGAN2/StyleGAN3 network (model.name = \"x.pkl\")")
            return {}
        num_ws = stylegan["num_ws"]
        if walk["output_range"] is not None:
            raise error("walk.output_range", "a StyleGAN network's pixels are made as NVIDIA's tools make them "
                                             "(x * 127.5 + 128): leave output_range out")
        if walk["truncation_cutoff"] is not None and walk["truncation_cutoff"] > num_ws:
            raise error("walk.truncation_cutoff", f"{walk['truncation_cutoff']} is past the network's "
                                                  f"{num_ws} layers (num_ws)")
        if stylegan["generation"] == 3 and walk["noise"] != "const":
            raise error("walk.noise", "StyleGAN3 networks have no noise inputs")
        if stylegan["generation"] != 3:
            for name in ("translate", "rotate"):
                if walk[name] is not None:
                    raise error(f"walk.{name}", f"{name} moves a StyleGAN3 network's input; this is "
                                                f"{stylegan['config']}")
        label = walk["label"]
        if stylegan["c_dim"] and label is None:
            raise error("walk.label", f"the network is conditional: give a class, 0..{stylegan['c_dim'] - 1}")
        if label is not None and not stylegan["c_dim"]:
            raise error("walk.label", "the network is unconditional: it takes no label")
        if label is not None and label >= stylegan["c_dim"]:
            raise error("walk.label", f"{label} is past the network's {stylegan['c_dim']} classes (0.."
                                      f"{stylegan['c_dim'] - 1})")
        space = "z" if poster else walk["space"]
        if space == "w":
            if walk["mode"] == "circle":
                raise error("walk.mode", "a circle travels the Gaussian latents: use space = \"z\"")
            if walk["path"] == "slerp":
                raise error("walk.path", "W is not a sphere: use path = \"lerp\" or \"cubic\" with space = \"w\"")
        mix = walk["mix"]
        if mix is not None:
            start, mix_keys = mix
            if start > num_ws:
                raise error("walk.mix.from", f"{start} is past the network's {num_ws} layers (num_ws)")
            if mix_keys[0][0] is None:
                spaced = [frame for frame, _ in keys] if keys and keys[0][0] is not None else None
                if spaced is None or len(spaced) != len(mix_keys):
                    spaced = [float(i * walk["frames_per_key"]) for i in range(len(mix_keys))]
                mix_keys = tuple((frame, seed) for frame, (_, seed) in zip(spaced, mix_keys))
            mix = (start, mix_keys) if start < num_ws else None    # from num_ws on: nothing is mixed
        cutoff = walk["truncation_cutoff"]
        return {"space": space, "truncation_cutoff": None if cutoff == num_ws else cutoff, "noise": walk["noise"],
                "mix": mix, "label": label}

    def extra_columns(self, recipe) -> dict[str, Any]:
        s: WalkSettings = recipe.settings
        columns = {"walk.latent": LatentPath(s, recipe.seed)}
        if s.mix is not None:
            columns["walk.mix"] = LatentPath(s, recipe.seed, s.mix[1])
        return columns

    def key_parts(self, recipe) -> dict[str, Any]:
        s: WalkSettings = recipe.settings
        parts = {"grid": list(s.grid), "output_range": list(s.output_range)}
        if s.stylegan is not None:
            parts.update(space=s.space, noise=s.noise, truncation_cutoff=s.truncation_cutoff, label=s.label,
                         draw="nvidia")
            if s.space == "w":   # the latent column holds weights over these keys
                parts["keys"] = [seed for _, seed in s.keys]
            if s.mix is not None:
                parts["mix"] = {"from": s.mix[0], "keys": [seed for _, seed in s.mix[1]]}
        return parts

    def key_row(self, recipe, index, row):
        s: WalkSettings = recipe.settings
        values = {"latent": row["walk.latent"], "truncation": row["walk.truncation"]}
        if s.mix is not None:
            values["mix"] = row["walk.mix"]
        if s.camera:
            values["camera"] = list(camera_of(row))
        if s.stylegan is not None and s.noise == "random":
            values["noise_seed"] = noise_seed(recipe.seed, index)
        return values

    def batch_size(self, recipe) -> int:
        s: WalkSettings = recipe.settings
        if s.stylegan is None:
            return s.batch
        per_frame = stylegan_frame_bytes(s.stylegan, s.cells, recipe.output.size)
        return max(1, min(s.batch, int(STYLEGAN_BATCH_MEMORY // per_frame)))

    def memory_estimate(self, recipe) -> int:
        width, height = recipe.output.size
        s: WalkSettings = recipe.settings
        if s.stylegan is not None:
            return int(weight_bytes(s.stylegan) + self.batch_size(recipe)
                       * stylegan_frame_bytes(s.stylegan, s.cells, (width, height)) + 60 * 2**20)
        per_frame = width * height * 3 * 4 * 3 + s.cells * 64 * 64 * 512 * 4 * 2
        return int(per_frame * s.batch + 60 * 2**20)

    def summary(self, recipe) -> list[str]:
        s: WalkSettings = recipe.settings
        if s.poster:
            what = f"poster: {s.grid[0]}x{s.grid[1]} sheet from seed {s.keys[0][1]} on"
        elif s.mode == "circle":
            what = "a great circle through two seeded directions"
        elif s.position is not None:
            seeds = [seed for _, seed in s.keys]
            shown = ", ".join(map(str, seeds[:8])) + (f", ... ({len(seeds)} seeds)" if len(seeds) > 8 else "")
            what = (f"{s.path} through seeds {shown}" + (" and back (loop)" if s.loop else "")
                    + ", at walk.position (in keys) per frame")
        else:
            keys = ", ".join(f"{seed}@{frame:g}" for frame, seed in s.keys[:8])
            what = (f"{s.path} through seeds {keys}" + (f", ... ({len(s.keys)} seeds)" if len(s.keys) > 8 else "")
                    + (" and back (loop)" if s.loop else ""))
        lines = [f"walk     {what}", f"grid     {s.grid[0]}x{s.grid[1]}   latent {s.latent_size}   "
                                      f"batch {self.batch_size(recipe)}"]
        if s.stylegan is not None:
            g = s.stylegan
            cutoff = "all" if s.truncation_cutoff is None else f"the first {s.truncation_cutoff}"
            lines.append(f"stylegan {g['config']} {g['img_resolution']} px, {g['num_ws']} ws; walk in "
                         f"{s.space.upper()}, truncation toward w_avg on {cutoff} layers"
                         + (f", noise {s.noise}" if g["generation"] == 2 else "")
                         + (f", layers {s.mix[0]}+ from seeds {', '.join(str(k) for _, k in s.mix[1][:8])}"
                            if s.mix else "") + (f", class {s.label}" if s.label is not None else ""))
        return lines

    def build_engine(self, recipe):
        activate(recipe.backend)   # Keras starts on the recipe's backend
        if recipe.settings.stylegan is not None:
            from ..engines.stylegan_walk import StyleGANWalkEngine
            return StyleGANWalkEngine.from_recipe(recipe)
        from ..engines.walk import WalkEngine
        return WalkEngine.from_recipe(recipe)

    # --- prints: the frame's grid of faces, each cell resampled to print size -------------------
    printable = True
    print_from_frame = False

    def print_stages(self, recipe, row, width, height, steps):
        cols, rows = recipe.settings.grid
        return [PrintStage(f"{cols}x{rows} faces", width, height, 0)]

    def print_memory(self, recipe, stages, tile) -> int:
        """The generator's process baseline + the float canvas, its 16-bit copy and one big cell."""
        last = stages[-1]
        cols, rows = recipe.settings.grid
        cell = (last.width / cols + 8) * (last.height / rows + 8) * 3 * 4 * 4
        network = 0.0
        if recipe.settings.stylegan is not None:
            network = weight_bytes(recipe.settings.stylegan) + stylegan_frame_bytes(
                recipe.settings.stylegan, recipe.settings.cells, (1, 1))
        return int(GENERATOR_BASELINE + last.width * last.height * (3 * 4 + 3 * 2 + 3 * 4) + cell + network)

    def build_printer(self, recipe):
        activate(recipe.backend)
        from ..prints.walk import WalkPrinter
        return WalkPrinter(recipe)


KIND = WalkKind()
