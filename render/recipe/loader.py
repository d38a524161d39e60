"""TOML recipe file -> validated :class:`Recipe`, without importing TensorFlow.

Every problem becomes one :class:`RecipeError` naming the file, the dotted key path and, where it can
be found, the line.  ``--set key.path=VALUE`` overrides are applied to the parsed table before
validation, so they are checked exactly like values written in the file.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any, Iterable

from ..errors import ModelError, RecipeError
from ..models import catalog
from ..schedule import KeyframeError, Keyframes, parse_keyframes
from . import schema
from .fields import FieldError, did_you_mean
from .model import DreamSettings, LayerTarget, MotionSettings, OutputSettings, Recipe
from .toml_lines import find_line

_TOML_LINE = re.compile(r"at line (\d+)")
_EVEN_CODECS = ("mp4", "hevc", "webm", "prores", "prores4444")


class _Context:
    """Carries the file name, its text and the overridden key paths so errors can point at lines."""

    def __init__(self, path: Path, text: str, overridden: set[str]):
        self.path, self.text, self.overridden = path, text, overridden

    def error(self, key: str, message: str) -> RecipeError:
        if any(key == k or key.startswith(k + ".") for k in self.overridden):
            return RecipeError(str(self.path), key, message + " (set with --set)")
        return RecipeError(str(self.path), key, message, find_line(self.text, key))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"output.size=[64,48]"`` -> (["output", "size"], [64, 48]).  The value is TOML; a bare word
    that is not valid TOML is taken as a string (``model.name=vgg19``)."""
    if "=" not in text:
        raise ValueError(f"--set {text!r}: expected key.path=VALUE")
    key, raw = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise ValueError(f"--set {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts, value


def _apply_overrides(data: dict, overrides: Iterable[str], path: Path) -> set[str]:
    done = set()
    for text in overrides:
        try:
            parts, value = parse_override(text)
        except ValueError as err:
            raise RecipeError(str(path), "", str(err)) from None
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise RecipeError(str(path), ".".join(parts[: depth + 1]),
                                  f"--set {text!r}: this key is a value, not a table")
            node = child
        node[parts[-1]] = value
        done.add(".".join(parts))
    return done


def _drop_shadowed_length(data: dict, overridden: set[str]) -> None:
    """``--set output.frames=N`` replaces a duration written in the file, and the other way round."""
    output = data.get("output")
    if not isinstance(output, dict):
        return
    for given, other in (("frames", "duration"), ("duration", "frames")):
        if f"output.{given}" in overridden and f"output.{other}" not in overridden:
            output.pop(other, None)


def read_toml(path: Path) -> tuple[str, dict]:
    """Read and parse a recipe file; I/O and syntax problems become RecipeError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(str(path), "", "recipe file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(str(path), "", f"cannot read recipe: {err}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = _TOML_LINE.search(str(err))
        line = int(match.group(1)) if match else None
        if line is None and "end of document" in str(err):
            line = max(1, len(text.splitlines()))
        message = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", str(err))
        raise RecipeError(str(path), "", f"TOML syntax error: {message}", line) from None


def load_recipe(path: str | Path, overrides: Iterable[str] = ()) -> Recipe:
    """Read, override and validate a recipe.  Raises :class:`RecipeError` on any problem."""
    path = Path(path)
    overrides = tuple(overrides)
    text, data = read_toml(path)
    overridden = _apply_overrides(data, overrides, path)
    _drop_shadowed_length(data, overridden)
    ctx = _Context(path, text, overridden)
    return _validate(data, ctx, overrides)


def _check_keys(table: dict, allowed: Iterable[str], prefix: str, ctx: _Context) -> None:
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            raise ctx.error(f"{prefix}{key}", "unknown key" + did_you_mean(key, allowed)
                            + f"; known keys: {', '.join(allowed)}")


def _parse_section(raw: Any, spec: dict, name: str, ctx: _Context, fps: float) -> dict[str, Any]:
    """Validate one table against its spec; returns key -> clean value (defaults filled in)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ctx.error(name, f"expected a table [{name}], got a value")
    _check_keys(raw, spec, f"{name}.", ctx)
    clean = {}
    for key, field in spec.items():
        if field is None:
            clean[key] = raw.get(key)
            continue
        if key not in raw:
            value = field.default
            clean[key] = field.parse(value, fps) if value is not None else None
            continue
        try:
            clean[key] = field.parse(raw[key], fps)
        except FieldError as err:
            full = f"{name}.{key}" + (f".{err.subkey}" if err.subkey else "")
            raise ctx.error(full, str(err)) from None
    return clean


def _validate(data: dict, ctx: _Context, overrides: tuple[str, ...]) -> Recipe:
    kind = data.get("kind")
    if kind is None:
        raise ctx.error("kind", f"missing; say what to render, e.g. kind = \"dream\"")
    if not isinstance(kind, str) or kind not in schema.KINDS:
        options = list(schema.KINDS)
        if kind in schema.PLANNED_KINDS:
            raise ctx.error("kind", f"{kind!r} is planned but not implemented yet; available: "
                                    + ", ".join(options))
        raise ctx.error("kind", f"unknown kind {kind!r}"
                        + (did_you_mean(kind, options + list(schema.PLANNED_KINDS)) if isinstance(kind, str) else "")
                        + f"; available: {', '.join(options)}")
    sections = schema.KINDS[kind]
    _check_keys(data, list(schema.TOP_LEVEL) + list(sections), "", ctx)
    seed = _parse_top_seed(data, ctx)

    out = _parse_output(data.get("output"), ctx)
    model_raw = _parse_section(data.get("model"), schema.MODEL, "model", ctx, out.fps)
    try:
        info = catalog.resolve(model_raw["name"], ctx.path.parent)
    except KeyError:
        raise ctx.error("model.name", f"unknown model {model_raw['name']!r}"
                        + did_you_mean(model_raw["name"], catalog.model_names())
                        + f"; available: {', '.join(catalog.BUILTIN)} or a .keras file") from None
    except ModelError as err:
        raise ctx.error("model.name", str(err)) from None

    if min(out.size) < info.min_side:
        raise ctx.error("output.size", f"model {info.name} needs frames of at least {info.min_side} px "
                                       f"on each side; got {out.size[0]}x{out.size[1]}")
    dream_raw = _parse_section(data.get("dream"), schema.DREAM, "dream", ctx, out.fps)
    dream = DreamSettings(
        init=_parse_init(dream_raw["init"], ctx),
        layers=_parse_layers(dream_raw["layers"], info, ctx, out.fps),
        octaves=dream_raw["octaves"], octave_scale=dream_raw["octave_scale"],
        steps=dream_raw["steps"], step_size=dream_raw["step_size"], tile=dream_raw["tile"],
        color_coherence=dream_raw["color_coherence"])
    motion_raw = _parse_section(data.get("motion"), schema.MOTION, "motion", ctx, out.fps)
    motion = MotionSettings(zoom=motion_raw["zoom"], rotate=motion_raw["rotate"], pan=motion_raw["pan"])

    resolved = _resolved(data, out, model_raw["name"], seed)
    return Recipe(path=ctx.path, kind=kind, seed=seed, output=out, model_name=model_raw["name"],
                  precision=model_raw["precision"],
                  dream=dream, motion=motion, resolved=resolved, overrides=overrides)


def _parse_top_seed(data: dict, ctx: _Context) -> int:
    try:
        return schema.TOP_LEVEL["seed"].parse(data.get("seed", 0), 1.0)
    except FieldError as err:
        raise ctx.error("seed", str(err)) from None


def _parse_output(raw: Any, ctx: _Context) -> OutputSettings:
    clean = _parse_section(raw, schema.OUTPUT, "output", ctx, 1.0)
    raw = raw or {}
    if "frames" in raw and "duration" in raw:
        raise ctx.error("output.duration", "give either frames or duration, not both")
    frames = clean["frames"]
    if frames is None:
        frames = max(1, round(clean["duration"] * clean["fps"])) if clean["duration"] else 1
    width, height = clean["size"]
    if clean["video"] in _EVEN_CODECS and (width % 2 or height % 2):
        raise ctx.error("output.size", f"{clean['video']} video needs an even width and height "
                                       f"(chroma subsampling); got {width}x{height}")
    return OutputSettings(size=clean["size"], frames=frames, fps=clean["fps"], video=clean["video"],
                          quality=clean["quality"], loop=clean["loop"])


def _parse_init(init: str, ctx: _Context) -> Path | None:
    if init == "noise":
        return None
    path = Path(init)
    if not path.is_absolute():
        path = ctx.path.parent / path
    if not path.is_file():
        raise ctx.error("dream.init", f"image not found: {path} (paths are relative to the recipe; "
                                      f"or use \"noise\")")
    try:
        from PIL import Image
        with Image.open(path) as image:
            image.verify()
    except Exception as err:  # PIL raises many types for unreadable files
        raise ctx.error("dream.init", f"cannot read image {path}: {err}") from None
    return path


def _parse_layers(raw: Any, info: catalog.ModelInfo, ctx: _Context, fps: float) -> tuple[LayerTarget, ...]:
    if raw is None:
        raw = dict(schema.DEFAULT_LAYERS)
        if not set(raw) <= set(info.layers):
            raise ctx.error("dream.layers", f"model {info.name} has no default layer; choose from "
                                            + ", ".join(info.layers))
    if not isinstance(raw, dict) or not raw:
        raise ctx.error("dream.layers", "expected a table of layer = weight, e.g. "
                                        "{ block4_conv3 = 1.0, \"block5_conv1:12\" = 0.5 }")
    targets = []
    for key, weight in raw.items():
        layer, _, channel_text = key.partition(":")
        where = f"dream.layers.{key}"
        if layer not in info.layers:
            raise ctx.error(where, f"model {info.name} has no layer {layer!r}"
                            + did_you_mean(layer, info.layers)
                            + "; `render models` lists the layers")
        channel = None
        if channel_text:
            if not channel_text.isdigit():
                raise ctx.error(where, f"channel must be a whole number, as in \"{layer}:12\"")
            channel = int(channel_text)
            if channel >= info.layers[layer]:
                raise ctx.error(where, f"channel {channel} is out of range: {layer} has "
                                       f"{info.layers[layer]} channels (0..{info.layers[layer] - 1})")
        try:
            frames = parse_keyframes(weight, fps)
        except KeyframeError as err:
            raise ctx.error(where + (f".{err.subkey}" if err.subkey else ""), str(err)) from None
        targets.append(LayerTarget(key, layer, channel, frames))
    return tuple(targets)


def _resolved(data: dict, out: OutputSettings, model_name: str, seed: int) -> dict:
    """Plain-data copy of the recipe with output defaults filled in (written next to the frames)."""
    resolved = copy.deepcopy(data)
    resolved["seed"] = seed
    resolved.setdefault("model", {})["name"] = model_name
    output = resolved.setdefault("output", {})
    output.update(size=list(out.size), frames=out.frames, fps=out.fps, video=out.video,
                  quality=out.quality, loop=out.loop)
    output.pop("duration", None)
    return resolved
