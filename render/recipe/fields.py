"""Typed recipe fields: each checks one raw TOML value and returns the clean value.

A field raises :class:`FieldError` (a message plus an optional sub-key) and never knows the recipe
file; the loader turns that into a :class:`render.errors.RecipeError` with file, key path and line.
Keyframed fields return schedules (:mod:`render.schedule`), and ``schedules(key_path, value)`` names
them for the plan: a field is the one source of its column names, integer rounding and help text.
``json_schema()`` describes the field for editors (``render schema KIND``).
"""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..models.stylenet_weights import BuiltinStyle
from .model import RecipeRef, UpscaleSettings
from ..schedule import (INTERPOLATIONS, VECTOR_INTERPOLATIONS, KeyframeError, Keyframes, StackedKeyframes,
                        TextSchedule, parse_key, parse_keyframes, parse_text_schedule,
                        parse_vector_keyframes)


class FieldError(ValueError):
    def __init__(self, message: str, subkey: str = ""):
        self.subkey = subkey
        super().__init__(message)


@dataclass(frozen=True)
class ParseEnv:
    """What a field may need besides its value: the frame rate (time keys, sequences), the recipe's
    folder (relative paths), its background (what transparent input pixels are laid on), the names
    expressions may read (a :class:`render.signals.Signals`; None: the names every recipe has) and
    ``recipes``, which opens another recipe's frames (a :class:`RecipeRef`) as a
    :class:`render.media.MediaSource`, raising :class:`render.media.MediaError`; :mod:`render.graph`
    gives it, and without it a recipe that uses another's frames is refused."""

    fps: float = 1.0
    base_dir: Path = Path(".")
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    signals: Any = None
    recipes: Callable[[RecipeRef], Any] | None = None

    def expression(self, subkey: str, text: str):
        """``text`` as a per-frame value bound to this recipe's names; KeyframeError if invalid."""
        from ..expressions import ExpressionError, bind
        from ..signals import Signals
        try:
            return bind(text, self.signals if self.signals is not None else Signals(self.fps))
        except ExpressionError as err:
            hint = "expected a number or an expression: " if text.strip().isidentifier() else ""
            raise KeyframeError(subkey, hint + str(err)) from None


def check_range(values, low: float | None, high: float | None, low_open: bool = False) -> str | None:
    """Why per-frame ``values`` (float64 ``(frames,)`` or ``(frames, dim)``) leave ``low..high``: the
    first offending frame and value, or None when all are inside."""
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(len(values), -1)
    below = (flat <= low) if (low is not None and low_open) else (flat < low) if low is not None else None
    above = flat > high if high is not None else None
    for bad, bound in ((below, f"{'>' if low_open else '>='} {low:g}" if low is not None else ""),
                       (above, f"<= {high:g}" if high is not None else "")):
        if bad is not None and bad.any():
            frame, index = np.argwhere(bad)[0]
            where = f"[{index}]" if flat.shape[1] > 1 else ""
            return (f"gives {flat[frame, index]:.6g}{where} at frame {frame}, out of range: must be {bound} "
                    "(clip(x, low, high) keeps an expression inside)")
    return None


def did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


# JSON Schema pieces shared by the keyframed fields
_KEY_PATTERN = r"^\s*(\d+|(\d+(\.\d*)?|\.\d+)\s*s)\s*$"


_EXPRESSION = {"type": "string", "minLength": 1,
               "description": "expression over t, f, frames, fps, b and audio features, e.g. \"1 + 0.1 * sin(t)\""}


def _keyframe_table(value_schema: dict, interps: tuple[str, ...]) -> dict:
    return {"type": "object", "description": "keyframes: frame number or time (\"1.5s\") = value",
            "properties": {"interp": {"enum": list(interps)}, "cycle": {"type": "boolean"}},
            "patternProperties": {_KEY_PATTERN: value_schema}, "additionalProperties": False,
            "minProperties": 1}


class Field:
    """Base: ``parse(raw, env) -> clean``; ``schedules`` names keyframed values for the plan."""

    def parse(self, raw: Any, env: ParseEnv) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def schedules(self, key_path: str, value: Any) -> dict[str, Any]:
        """Plan columns this value contributes: column name (a key path) -> schedule."""
        return {}

    def check_expanded(self, column: str, values) -> str | None:
        """Why the expanded values of one of this field's columns (an expression's, known only per
        frame) are not allowed, or None."""
        return None

    def json_schema(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _described(self, schema: dict) -> dict:
        if getattr(self, "help", ""):
            schema["description"] = self.help
        if getattr(self, "default", None) is not None:
            schema["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        return schema


@dataclass(frozen=True)
class Number(Field):
    """A number, optionally keyframed.  ``integer`` numbers must be whole (keyframed ones are rounded
    per frame).  ``low``/``high`` are inclusive bounds unless ``low_open`` is set."""

    default: Any
    low: float | None = None
    high: float | None = None
    integer: bool = False
    keyframed: bool = False
    low_open: bool = False
    help: str = ""

    def _check_range(self, value: float, subkey: str = "") -> None:
        if self.integer and float(value) != int(value):
            raise FieldError(f"must be a whole number, got {value}", subkey)
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            raise FieldError(f"{value:g} is out of range: must be {'>' if self.low_open else '>='} "
                             f"{self.low:g}", subkey)
        if self.high is not None and value > self.high:
            raise FieldError(f"{value:g} is out of range: must be <= {self.high:g}", subkey)

    def parse(self, raw: Any, env: ParseEnv) -> Any:
        if self.keyframed:
            try:
                frames = parse_keyframes(raw, env.fps, self.integer, env.expression)
            except KeyframeError as err:
                raise FieldError(str(err), err.subkey) from None
            if isinstance(raw, dict):
                for key, value in raw.items():
                    if key not in ("interp", "cycle") and not isinstance(value, str):
                        self._check_range(value, key)
            elif not isinstance(raw, str):
                self._check_range(raw)
            return frames
        if isinstance(raw, str):
            raise FieldError(f"expected {'an integer' if self.integer else 'a number'}, got a string ({raw!r}); "
                             "this key is not keyframed, so it takes no expression")
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise FieldError(f"expected {'an integer' if self.integer else 'a number'}, got "
                             f"{_type_name(raw)} ({raw!r})")
        if not math.isfinite(raw):
            raise FieldError(f"expected a finite number, got {raw}")
        self._check_range(raw)
        return int(raw) if self.integer else float(raw)

    def schedules(self, key_path: str, value: Any) -> dict[str, Any]:
        return {key_path: value} if self.keyframed else {}

    def check_expanded(self, column: str, values) -> str | None:
        return check_range(values, self.low, self.high, self.low_open)

    def scalar_schema(self) -> dict:
        schema: dict = {"type": "integer" if self.integer else "number"}
        if self.low is not None:
            schema["exclusiveMinimum" if self.low_open else "minimum"] = self.low
        if self.high is not None:
            schema["maximum"] = self.high
        return schema

    def json_schema(self) -> dict:
        scalar = self.scalar_schema()
        if not self.keyframed:
            return self._described(scalar)
        # keyframe values of integer fields may be written as 8.0: TOML floats that are whole
        value = {"anyOf": [dict(scalar, type="number"), _EXPRESSION]}
        return self._described({"anyOf": [scalar, _EXPRESSION, _keyframe_table(value, INTERPOLATIONS)]})


@dataclass(frozen=True)
class Choice(Field):
    default: Any
    choices: tuple[str, ...]
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv) -> str:
        if not isinstance(raw, str):
            raise FieldError(f"expected one of {', '.join(map(repr, self.choices))}, got {_type_name(raw)}")
        if raw not in self.choices:
            raise FieldError(f"unknown value {raw!r}; choose one of {', '.join(map(repr, self.choices))}"
                             + did_you_mean(raw, self.choices))
        return raw

    def json_schema(self) -> dict:
        return self._described({"enum": list(self.choices)})


@dataclass(frozen=True)
class Flag(Field):
    default: Any
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv) -> bool:
        if not isinstance(raw, bool):
            raise FieldError(f"expected true or false, got {_type_name(raw)} ({raw!r})")
        return raw

    def json_schema(self) -> dict:
        return self._described({"type": "boolean"})


@dataclass(frozen=True)
class Text(Field):
    default: Any
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise FieldError(f"expected a non-empty string, got {_type_name(raw)} ({raw!r})")
        return raw

    def json_schema(self) -> dict:
        return self._described({"type": "string", "minLength": 1})


@dataclass(frozen=True)
class Colour(Field):
    """A colour: ``"#rrggbb"``, ``"#rgb"`` or a CSS name; returns (r, g, b) in 0..1."""

    default: Any
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv) -> tuple[float, float, float]:
        from ..media import ColourError, parse_colour
        if not isinstance(raw, str):
            raise FieldError(f'expected a colour such as "#ffffff" or "white", got {_type_name(raw)} ({raw!r})')
        try:
            return parse_colour(raw)
        except ColourError as err:
            raise FieldError(str(err)) from None

    def json_schema(self) -> dict:
        return self._described({"type": "string", "minLength": 1})


NOT_A_SEQUENCE_KEY = ("this key takes one picture; another recipe's frames ({ recipe = ... }) are taken where a "
                      "sequence is: a style's content, a dream's source, a translate input")


@dataclass(frozen=True)
class ImagePath(Field):
    """An image file relative to the recipe (checked readable), or one of the ``words`` (e.g.
    ``"noise"``), which are returned as they are.  Returns a :class:`Path` or the word."""

    default: Any
    words: tuple[str, ...] = ()
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv) -> Path | str:
        if isinstance(raw, dict) and "recipe" in raw:
            raise FieldError(NOT_A_SEQUENCE_KEY)
        if not isinstance(raw, str) or not raw.strip():
            raise FieldError(f"expected a file path, got {_type_name(raw)} ({raw!r})")
        if raw in self.words:
            return raw
        return check_image(raw, env.base_dir, self.words)

    def json_schema(self) -> dict:
        return self._described({"type": "string", "minLength": 1})


def check_image(raw: str, base_dir: Path, words: tuple[str, ...] = ()) -> Path:
    """A readable image path (relative to ``base_dir``) or FieldError saying what is wrong."""
    path = Path(raw)
    if not path.is_absolute():
        path = base_dir / path
    alternative = " or " + ", ".join(f'"{w}"' for w in words) if words else ""
    from ..media import VIDEO_SUFFIXES, PictureError, picture_info
    if path.is_dir():
        raise FieldError(f"{path} is a folder; this key takes one picture{alternative}")
    if not path.is_file():
        raise FieldError(f"image not found: {path} (paths are relative to the recipe{alternative})")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        raise FieldError(f"{path} is a video; this key takes one picture (save the frame you want as a PNG)")
    try:
        picture_info(path)
    except PictureError as err:
        raise FieldError(str(err)) from None
    return path


@dataclass(frozen=True)
class Size(Field):
    """``[width, height]`` in pixels (or another pair of whole numbers: ``names`` and ``unit``)."""

    default: Any
    low: int = 8
    high: int = 16384
    help: str = ""
    names: tuple[str, str] = ("width", "height")
    unit: str = " pixels"

    def parse(self, raw: Any, env: ParseEnv) -> tuple[int, int]:
        if (not isinstance(raw, list) or len(raw) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in raw)):
            raise FieldError(f"expected [{', '.join(self.names)}] as two integers, got {raw!r}")
        for name, v in zip(self.names, raw):
            if not self.low <= v <= self.high:
                raise FieldError(f"{name} {v} is out of range: must be {self.low}..{self.high}{self.unit}")
        return int(raw[0]), int(raw[1])

    def json_schema(self) -> dict:
        side = {"type": "integer", "minimum": self.low, "maximum": self.high}
        return self._described({"type": "array", "items": side, "minItems": 2, "maxItems": 2})


@dataclass(frozen=True)
class Vector(Field):
    """A vector of ``dim`` numbers, keyframed as a whole (``{ 0 = [..], 30 = [..], interp = "slerp" }``)
    or component by component (``[0.0, { 0 = 0, 30 = 2 }]``).  Returns a schedule of ``(frames, dim)``."""

    default: Any
    dim: int
    low: float | None = None
    high: float | None = None
    help: str = ""

    def _check(self, values, subkey: str) -> None:
        for index, value in enumerate(values):
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise FieldError(f"{value:g} is out of range: must be {self.low:g}..{self.high:g}",
                                 f"{subkey}.{index}" if subkey else str(index))

    def parse(self, raw: Any, env: ParseEnv):
        if isinstance(raw, list) and any(isinstance(v, (dict, str)) for v in raw):
            if len(raw) != self.dim:
                raise FieldError(f"expected {self.dim} components, got {len(raw)}")
            axis = Number(0.0, self.low, self.high, keyframed=True)
            parts = []
            for index, item in enumerate(raw):
                try:
                    parts.append(axis.parse(item, env))
                except FieldError as err:
                    raise FieldError(str(err), f"{index}" + (f".{err.subkey}" if err.subkey else "")) from None
            return StackedKeyframes(tuple(parts))
        try:
            schedule = parse_vector_keyframes(raw, env.fps, self.dim)
        except KeyframeError as err:
            raise FieldError(str(err), err.subkey) from None
        keyed = isinstance(raw, dict)
        for frame, values in schedule.points:
            key = next((k for k in raw if k not in ("interp", "cycle")
                        and _same_frame(k, frame, env.fps)), "") if keyed else ""
            self._check(values, key)
        return schedule

    def schedules(self, key_path: str, value: Any) -> dict[str, Any]:
        return {key_path: value}

    def check_expanded(self, column: str, values) -> str | None:
        return check_range(values, self.low, self.high)

    def json_schema(self) -> dict:
        number = {"type": "number"}
        if self.low is not None:
            number["minimum"] = self.low
        if self.high is not None:
            number["maximum"] = self.high
        array = {"type": "array", "items": number, "minItems": self.dim, "maxItems": self.dim}
        per_axis = {"type": "array", "minItems": self.dim, "maxItems": self.dim,
                    "items": {"anyOf": [number, _EXPRESSION,
                                        _keyframe_table({"anyOf": [number, _EXPRESSION]}, INTERPOLATIONS)]}}
        return self._described({"anyOf": [array, _keyframe_table(array, VECTOR_INTERPOLATIONS), per_axis]})


def _same_frame(key: str, frame: float, fps: float) -> bool:
    try:
        return parse_key(key, fps) == frame
    except KeyframeError:
        return False


@dataclass(frozen=True)
class WeightTable(Field):
    """A table of name = weight, each weight a keyframed number (e.g. dream layers).  The names are
    checked by the kind against its model; returns ``{name: Keyframes}`` in the recipe's order."""

    default: Any
    low: float = -1e6
    high: float = 1e6
    help: str = ""
    example: str = "{ name = 1.0 }"

    def parse(self, raw: Any, env: ParseEnv) -> dict[str, Keyframes]:
        if not isinstance(raw, dict) or not raw:
            raise FieldError(f"expected a table of name = weight, e.g. {self.example}")
        weight = Number(1.0, self.low, self.high, keyframed=True)
        out = {}
        for name, value in raw.items():
            try:
                out[name] = weight.parse(value, env)
            except FieldError as err:
                raise FieldError(str(err), name + (f".{err.subkey}" if err.subkey else "")) from None
        return out

    def schedules(self, key_path: str, value: Any) -> dict[str, Any]:
        return {f"{key_path}.{name}": frames for name, frames in value.items()}

    def check_expanded(self, column: str, values) -> str | None:
        return check_range(values, self.low, self.high)

    def json_schema(self) -> dict:
        weight = Number(1.0, self.low, self.high, keyframed=True).json_schema()
        return self._described({"type": "object", "additionalProperties": weight, "minProperties": 1})


@dataclass(frozen=True)
class TextKeys(Field):
    """A string that may switch at keyframes (``{ 0 = "a.png", 48 = "b.png" }``), as a
    :class:`TextSchedule`; ``files`` makes each value an image path checked like :class:`ImagePath`
    (stored resolved, so frame keys can hash the file's bytes)."""

    default: Any
    files: bool = False
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv) -> TextSchedule:
        try:
            schedule = parse_text_schedule(raw, env.fps)
        except KeyframeError as err:
            raise FieldError(str(err), err.subkey) from None
        if not self.files:
            return schedule
        resolved = []
        for (frame, text), key in zip(schedule.points, _keys_in_order(raw, env.fps)):
            try:
                resolved.append((frame, str(check_image(text, env.base_dir))))
            except FieldError as err:
                raise FieldError(str(err), key) from None
        return TextSchedule(tuple(resolved), schedule.cycle, files=True)

    def schedules(self, key_path: str, value: Any) -> dict[str, Any]:
        return {key_path: value}

    def json_schema(self) -> dict:
        text = {"type": "string", "minLength": 1}
        return self._described({"anyOf": [text, _keyframe_table(text, ("step",))]})


def _keys_in_order(raw: Any, fps: float) -> list[str]:
    """Keyframe keys of a table sorted by frame ('' for a plain value), matching the schedule's points."""
    if not isinstance(raw, dict):
        return [""]
    keys = [k for k in raw if k not in ("interp", "cycle")]
    return sorted(keys, key=lambda k: parse_key(k, fps))


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|ms|min)?\s*$")


@dataclass(frozen=True)
class Duration(Field):
    """Seconds, as a number or a string like ``"8s"``, ``"1.5min"``, ``"500ms"``."""

    default: Any = None
    help: str = ""
    words: tuple[str, ...] = ()   # words accepted as they are (``"audio"``)

    def parse(self, raw: Any, env: ParseEnv) -> float | str:
        if raw in self.words:
            return raw
        if isinstance(raw, bool):
            raise FieldError("expected a duration like \"8s\"")
        if isinstance(raw, (int, float)):
            seconds = float(raw)
        elif isinstance(raw, str) and _DURATION.match(raw):
            number, unit = _DURATION.match(raw).groups()
            seconds = float(number) * {"s": 1.0, None: 1.0, "ms": 0.001, "min": 60.0}[unit]
        else:
            words = "".join(f' or "{w}"' for w in self.words)
            raise FieldError(f"expected a duration like \"8s\", \"500ms\" or \"1.5min\"{words}, got {raw!r}")
        if not seconds > 0:
            raise FieldError(f"duration must be positive, got {raw!r}")
        return seconds

    def json_schema(self) -> dict:
        forms = [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": _DURATION.pattern}]
        return self._described({"anyOf": forms + ([{"enum": list(self.words)}] if self.words else [])})


@dataclass(frozen=True)
class NumberList(Field):
    """A list of numbers in ``low..high`` (``increasing`` makes each larger than the one before)."""

    default: Any
    low: float | None = None
    high: float | None = None
    increasing: bool = False
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv) -> tuple[float, ...]:
        if not isinstance(raw, list) or not raw:
            raise FieldError(f"expected a non-empty array of numbers, got {_type_name(raw)} ({raw!r})")
        values = []
        for index, value in enumerate(raw):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise FieldError(f"expected a number, got {value!r}", str(index))
            if (self.low is not None and value <= self.low) or (self.high is not None and value > self.high):
                raise FieldError(f"{value:g} is out of range: must be above {self.low:g} and at most "
                                 f"{self.high:g}", str(index))
            if self.increasing and values and value <= values[-1]:
                raise FieldError(f"must increase: {value:g} follows {values[-1]:g}", str(index))
            values.append(float(value))
        return tuple(values)

    def json_schema(self) -> dict:
        item: dict = {"type": "number"}
        if self.low is not None:
            item["exclusiveMinimum"] = self.low
        if self.high is not None:
            item["maximum"] = self.high
        return self._described({"type": "array", "items": item, "minItems": 1})


@dataclass(frozen=True)
class ImageTable(Field):
    """A table of name = image path (relative to the recipe), each checked readable; returns
    ``{name: Path}`` in the recipe's order.  With ``builtins`` > 0, ``"builtin:N"`` (0 <= N <
    ``builtins``) names a network's built-in style instead and gives a
    :class:`render.models.stylenet_weights.BuiltinStyle`."""

    default: Any = None
    help: str = ""
    builtins: int = 0

    def parse(self, raw: Any, env: ParseEnv) -> dict[str, Any]:
        if not isinstance(raw, dict) or not raw:
            raise FieldError("expected a table of name = \"image path\", e.g. { monet = \"monet.jpg\" }")
        out = {}
        for name, value in raw.items():
            if isinstance(value, dict) and "recipe" in value:
                raise FieldError(NOT_A_SEQUENCE_KEY, name)
            if not isinstance(value, str) or not value.strip():
                raise FieldError(f"expected an image path, got {_type_name(value)} ({value!r})", name)
            if self.builtins and value.strip().lower().startswith(BUILTIN_PREFIX):
                out[name] = self._builtin(value.strip(), name)
                continue
            try:
                out[name] = check_image(value, env.base_dir)
            except FieldError as err:
                raise FieldError(str(err), name) from None
        return out

    def _builtin(self, value: str, name: str):
        number = value[len(BUILTIN_PREFIX):].strip()
        if not re.fullmatch(r"[0-9]{1,3}", number) or not 0 <= int(number) < self.builtins:
            raise FieldError(f"{value!r}: a built-in style is \"builtin:N\" with N from 0 to {self.builtins - 1} "
                             "(`render styles` shows them)", name)
        return BuiltinStyle(int(number))

    def json_schema(self) -> dict:
        return self._described({"type": "object", "additionalProperties": {"type": "string", "minLength": 1},
                                "minProperties": 1})


BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class MediaPath(Field):
    """An image, a folder of images or a video, relative to the recipe, or another recipe whose frames
    to use (``{ recipe = "walk.toml" }``, optionally ``out = "run folder"``): checked, and returned as a
    :class:`render.media.MediaSource` (what it is and how many frames it has).  A recipe reference is
    read into a :class:`RecipeRef` and opened by ``env.recipes``."""

    default: Any = None
    help: str = ""

    def parse(self, raw: Any, env: ParseEnv):
        from ..media import MediaError, open_source
        if isinstance(raw, dict):
            ref = recipe_ref(raw, env.base_dir)
            if env.recipes is None:
                raise FieldError(f"uses the frames of {ref.path.name}: recipes that use other recipes are loaded "
                                 "with render.graph.load_graph (as every `render` command does)")
            try:
                return env.recipes(ref).bound(env.fps, env.background)
            except MediaError as err:
                raise FieldError(str(err)) from None
        if not isinstance(raw, str) or not raw.strip():
            raise FieldError(f"expected a path, or {{ recipe = \"file.toml\" }}, got {_type_name(raw)} ({raw!r})")
        path = Path(raw)
        if path.suffix.lower() == ".toml":
            raise FieldError(f"{raw} is a recipe: to use its frames, write {{ recipe = \"{raw}\" }}")
        try:
            return open_source(path if path.is_absolute() else env.base_dir / path).bound(env.fps, env.background)
        except MediaError as err:
            raise FieldError(str(err)) from None

    def json_schema(self) -> dict:
        recipe = {"type": "object", "description": "another recipe's frames: { recipe = \"walk.toml\" }",
                  "properties": {"recipe": {"type": "string", "minLength": 1},
                                 "out": {"type": "string", "minLength": 1}},
                  "required": ["recipe"], "additionalProperties": False}
        return self._described({"anyOf": [{"type": "string", "minLength": 1}, recipe]})


def recipe_ref(raw: dict, base_dir: Path) -> RecipeRef:
    """``{ recipe = "path.toml", out = "folder" }`` (paths relative to ``base_dir``) -> a
    :class:`RecipeRef`, checked without loading the recipe: the table's keys, that the file exists and
    is a ``.toml`` file.  Raises :class:`FieldError`."""
    unknown = [key for key in raw if key not in ("recipe", "out")]
    if unknown:
        raise FieldError(f"unknown key {unknown[0]!r} in the table; it takes recipe = \"file.toml\" and "
                         "optionally out = \"run folder\"")
    name, out = raw.get("recipe"), raw.get("out")
    if not isinstance(name, str) or not name.strip():
        raise FieldError('expected { recipe = "file.toml" }: the recipe whose frames to use')
    if out is not None and (not isinstance(out, str) or not out.strip()):
        raise FieldError(f"out: expected the upstream's run folder as a path, got {out!r}")
    path = Path(os.path.normpath(Path(name) if Path(name).is_absolute() else base_dir / name))
    if path.is_dir():
        raise FieldError(f"{path} is a folder, not a .toml recipe: {{ recipe = ... }} names another recipe "
                         f"whose frames to use (a folder of pictures is given as a plain path, \"{name}\")")
    if path.suffix.lower() != ".toml":
        raise FieldError(f"{path} is not a .toml recipe: {{ recipe = ... }} names another recipe whose frames "
                         f"to use (a picture or video is given as a plain path, \"{name}\")")
    if not path.is_file():
        raise FieldError(f"recipe not found: {path} (paths are relative to the recipe)")
    folder = None if out is None else (Path(out) if Path(out).is_absolute() else base_dir / out)
    return RecipeRef(path, folder)


@dataclass(frozen=True)
class Upscale(Field):
    """``upscale = "esrgan-x4"`` or ``{ model = "esrgan-x4" | ["esrgan-x4", "esrgan-x2"], tile = 128 }``,
    or ``{ model = "lanczos", factor = 4 }``: stages that enlarge every frame after rendering ->
    :class:`UpscaleSettings`."""

    default: Any = None
    help: str = ""
    max_factor: int = 16

    def parse(self, raw: Any, env: ParseEnv) -> UpscaleSettings | None:
        from ..models.upscalers import chain_factor, canonical_stage
        if raw is False or (isinstance(raw, str) and raw.strip().lower() == "none"):
            return None   # --set output.upscale=false switches a recipe's stage off
        table = {"model": raw} if isinstance(raw, (str, list)) else raw
        if not isinstance(table, dict):
            raise FieldError(f'expected a model name or {{ model = "esrgan-x4", tile = 128 }}, got {_type_name(raw)}')
        unknown = sorted(set(table) - {"model", "tile", "factor"})
        if unknown:
            raise FieldError(f"unknown key {unknown[0]!r}; upscale takes model, tile and factor", unknown[0])
        models = table.get("model")
        models = [models] if isinstance(models, str) else models
        if not models or not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise FieldError('expected a model name or a list of them, e.g. "esrgan-x4"', "model")
        factor = table.get("factor")
        if factor is not None and (isinstance(factor, bool) or not isinstance(factor, int)):
            raise FieldError(f"expected a whole number, got {_type_name(factor)}", "factor")
        tile = table.get("tile")
        if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int)):
            raise FieldError(f"expected a whole number of input pixels, got {_type_name(tile)} ({tile!r})", "tile")
        if tile is not None and not 48 <= tile <= 2048:
            raise FieldError(f"tile {tile} is out of range: must be 48..2048 (input pixels)", "tile")
        try:
            stages = tuple(canonical_stage(m, factor) for m in models)
        except ValueError as err:
            raise FieldError(str(err), "model") from None
        total = chain_factor(stages)
        if total > self.max_factor:
            raise FieldError(f"the stages enlarge {total} times; at most {self.max_factor}", "model")
        return UpscaleSettings(stages, tile, total)

    def json_schema(self) -> dict:
        name = {"type": "string", "minLength": 1}
        table = {"type": "object", "additionalProperties": False, "properties": {
            "model": {"anyOf": [name, {"type": "array", "items": name, "minItems": 1}]},
            "tile": {"type": "integer", "minimum": 48, "maximum": 2048},
            "factor": {"type": "integer", "minimum": 2, "maximum": 8}}, "required": ["model"]}
        return self._described({"anyOf": [name, {"type": "array", "items": name, "minItems": 1}, table,
                                          {"enum": [False, "none"]}]})
