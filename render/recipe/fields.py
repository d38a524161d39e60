"""Typed recipe fields: each checks one raw TOML value and returns the clean value.

A field raises :class:`FieldError` (a message plus an optional sub-key) and never knows the recipe
file; the loader turns that into a :class:`render.errors.RecipeError` with file, key path and line.
Keyframed numeric fields return :class:`render.schedule.Keyframes`; their range is checked on every
keyframe value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..schedule import KeyframeError, Keyframes, parse_keyframes


class FieldError(ValueError):
    def __init__(self, message: str, subkey: str = ""):
        self.subkey = subkey
        super().__init__(message)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class Number:
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

    def parse(self, raw: Any, fps: float) -> Any:
        if self.keyframed:
            try:
                frames = parse_keyframes(raw, fps)
            except KeyframeError as err:
                raise FieldError(str(err), err.subkey) from None
            if isinstance(raw, dict):
                for key, value in raw.items():
                    if key != "interp":
                        self._check_range(value, key)
            else:
                self._check_range(raw)
            return frames
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise FieldError(f"expected {'an integer' if self.integer else 'a number'}, got "
                             f"{_type_name(raw)} ({raw!r})")
        if not math.isfinite(raw):
            raise FieldError(f"expected a finite number, got {raw}")
        self._check_range(raw)
        return int(raw) if self.integer else float(raw)


@dataclass(frozen=True)
class Choice:
    default: Any
    choices: tuple[str, ...]
    help: str = ""

    def parse(self, raw: Any, fps: float) -> str:
        if not isinstance(raw, str):
            raise FieldError(f"expected one of {', '.join(map(repr, self.choices))}, got {_type_name(raw)}")
        if raw not in self.choices:
            raise FieldError(f"unknown value {raw!r}; choose one of {', '.join(map(repr, self.choices))}"
                             + _did_you_mean(raw, self.choices))
        return raw


@dataclass(frozen=True)
class Text:
    default: Any
    help: str = ""

    def parse(self, raw: Any, fps: float) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise FieldError(f"expected a non-empty string, got {_type_name(raw)} ({raw!r})")
        return raw


@dataclass(frozen=True)
class Size:
    """``[width, height]`` in pixels."""

    default: Any
    low: int = 8
    high: int = 16384
    help: str = ""

    def parse(self, raw: Any, fps: float) -> tuple[int, int]:
        if (not isinstance(raw, list) or len(raw) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in raw)):
            raise FieldError(f"expected [width, height] as two integers, got {raw!r}")
        for name, v in zip(("width", "height"), raw):
            if not self.low <= v <= self.high:
                raise FieldError(f"{name} {v} is out of range: must be {self.low}..{self.high} pixels")
        return int(raw[0]), int(raw[1])


@dataclass(frozen=True)
class Vector2:
    """``[x, y]``, each a number or keyframes."""

    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""

    def parse(self, raw: Any, fps: float) -> tuple[Keyframes, Keyframes]:
        if not isinstance(raw, list) or len(raw) != 2:
            raise FieldError(f"expected [x, y] (each a number or keyframes), got {raw!r}")
        axis = Number(0.0, self.low, self.high, keyframed=True)
        out = []
        for index, item in enumerate(raw):
            try:
                out.append(axis.parse(item, fps))
            except FieldError as err:
                raise FieldError(str(err), f"{index}" + (f".{err.subkey}" if err.subkey else "")) from None
        return out[0], out[1]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|ms|min)?\s*$")


@dataclass(frozen=True)
class Duration:
    """Seconds, as a number or a string like ``"8s"``, ``"1.5min"``, ``"500ms"``."""

    default: Any = None
    help: str = ""

    def parse(self, raw: Any, fps: float) -> float:
        if isinstance(raw, bool):
            raise FieldError("expected a duration like \"8s\"")
        if isinstance(raw, (int, float)):
            seconds = float(raw)
        elif isinstance(raw, str) and _DURATION.match(raw):
            number, unit = _DURATION.match(raw).groups()
            seconds = float(number) * {"s": 1.0, None: 1.0, "ms": 0.001, "min": 60.0}[unit]
        else:
            raise FieldError(f"expected a duration like \"8s\", \"500ms\" or \"1.5min\", got {raw!r}")
        if not seconds > 0:
            raise FieldError(f"duration must be positive, got {raw!r}")
        return seconds


def _did_you_mean(word: str, options) -> str:
    import difflib
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


did_you_mean = _did_you_mean
