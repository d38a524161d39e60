"""Schedules: sparse keyframes plus an interpolation, expanded once into per-frame values.

A recipe value is a constant or a table keyed by frame number or time::

    zoom = { 0 = 1.0, 60 = 1.03 }                                   # numbers, linear by default
    zoom = { "0s" = 1.0, "2.5s" = 1.03, interp = "smooth" }
    tint = { 0 = [1.0, 0.2, 0.2], 48 = [0.2, 0.2, 1.0], interp = "slerp", cycle = true }   # vectors
    style = { 0 = "monet.png", 48 = "hubble.png" }                   # strings switch at their keys

Any number may also be an expression over per-frame names (:mod:`render.expressions`), on its own or
as a keyframe's value; between keys the interpolation blends the two keys' expressions frame by frame::

    zoom = "1.0 + 0.04 * kick"
    zoom = { 0 = 1.0, "4s" = "1.02 + 0.03 * sin(2 * pi * t)" }

``cycle = true`` makes the schedule periodic over the frame count: after the last key the value flows
back to the first key's value, reached one period (the recipe's frame count) after the first key, so
a looping video has no seam.

Three schedule types share one interface, ``expand(n)``:

- :class:`Keyframes`: numbers -> float64 ``(n,)`` (rounded when ``integer``);
- :class:`VectorKeyframes`: vectors of ``dim`` numbers -> float64 ``(n, dim)``;
- :class:`TextSchedule`: strings (names, files) -> a tuple of ``n`` strings (step interpolation).

Numpy only: no TensorFlow here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

INTERPOLATIONS = ("step", "linear", "smooth", "cubic")
VECTOR_INTERPOLATIONS = ("step", "linear", "smooth", "slerp", "cubic")
DEFAULT_INTERPOLATION = "linear"
_TIME_KEY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s\s*$")
_FRAME_KEY = re.compile(r"^\s*\d+\s*$")
_OPTIONS = ("interp", "cycle")


class KeyframeError(ValueError):
    """A malformed keyframe table; ``subkey`` is the offending key inside the table ('' for the table)."""

    def __init__(self, subkey: str, message: str):
        self.subkey = subkey
        super().__init__(message)


def _segments(keys: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment index ``i`` with ``keys[i] <= t < keys[i+1]`` (clamped) and the position ``u`` in 0..1."""
    seg = np.clip(np.searchsorted(keys, t, side="right") - 1, 0, len(keys) - 2)
    u = np.clip((t - keys[seg]) / (keys[seg + 1] - keys[seg]), 0.0, 1.0)
    return seg, u


def _wrap(points: tuple, period: float | None, t: np.ndarray) -> tuple[np.ndarray, list, np.ndarray]:
    """Keys, values and positions ready for interpolation.  A cyclic schedule gets the first key
    repeated one period later (and the last one a period earlier, for cubic tangents), and positions
    folded into ``[first key, first key + period)``."""
    keys = [f for f, _ in points]
    vals = [v for _, v in points]
    if period is None:
        return np.array(keys), vals, t
    first = keys[0]
    t = first + np.mod(t - first, period)
    keys = [keys[-1] - period] + keys + [first + period]
    vals = [vals[-1]] + vals + [vals[0]]
    return np.array(keys), vals, t


@dataclass(frozen=True)
class Keyframes:
    """A number over time: ``points`` are ``(frame, value)`` pairs sorted by frame (fractional when
    they came from a time key).  Outside the keys the value holds, unless ``cycle`` wraps it."""

    points: tuple[tuple[float, float], ...]
    interp: str = DEFAULT_INTERPOLATION
    cycle: bool = False
    integer: bool = False

    @classmethod
    def constant(cls, value, integer: bool = False) -> "Keyframes":
        """One value for every frame: a number, or a per-frame value (an expression)."""
        return cls(((0.0, value if _is_dynamic(value) else float(value)),), "step", False, integer)

    @property
    def dynamic(self) -> bool:
        """True when some value is an expression (its values are known only once expanded)."""
        return any(_is_dynamic(v) for _, v in self.points)

    def map(self, fn) -> "Keyframes":
        """The same keyframes with every value passed through ``fn`` (used by previews)."""
        return Keyframes(tuple((f, v.map(fn) if _is_dynamic(v) else float(fn(v))) for f, v in self.points),
                         self.interp, self.cycle, self.integer)

    def values(self) -> list:
        return [v for _, v in self.points]

    def expand(self, n_frames: int) -> np.ndarray:
        """Value at every frame ``0 .. n_frames-1``: float64 ``(n_frames,)``, rounded when integer."""
        frames = np.arange(n_frames, dtype=np.float64)
        values = self._expand_dynamic(n_frames) if self.dynamic else self.at(frames, n_frames)
        return np.round(values) if self.integer else values

    def _expand_dynamic(self, n_frames: int) -> np.ndarray:
        """Like :meth:`at` at every frame, where each key's value is itself a per-frame array: frame
        ``i`` interpolates column ``i`` of the keys' values."""
        columns = np.arange(n_frames)
        keys, vals, t = _wrap(self.points, n_frames if self.cycle else None, columns.astype(np.float64))
        table = np.stack([v.evaluate(n_frames) if _is_dynamic(v) else np.full(n_frames, float(v))
                          for v in vals]) if vals else np.zeros((0, n_frames))
        if len(self.points) == 1:
            return table[0]
        seg, u = _segments(keys, t)
        out = _blend(self.interp, table[seg, columns], table[seg + 1, columns], u,
                     lambda: _cubic_hermite(keys, table, seg, u, columns))
        out = np.where(t <= keys[0], table[0], out)
        return np.where(t >= keys[-1], table[-1], out)

    def at(self, frames, period: float | None = None) -> np.ndarray:
        """Value at (possibly fractional) frame positions; ``period`` (frames) matters when cyclic."""
        t = np.asarray(frames, dtype=np.float64)
        if len(self.points) == 1:
            return np.full_like(t, self.points[0][1])
        keys, vals, t = _wrap(self.points, period if self.cycle else None, t)
        vals = np.array(vals, dtype=np.float64)
        seg, u = _segments(keys, t)
        out = _blend(self.interp, vals[seg], vals[seg + 1], u, lambda: _cubic_hermite(keys, vals, seg, u))
        out = np.where(t <= keys[0], vals[0], out)
        return np.where(t >= keys[-1], vals[-1], out)


def _cubic_hermite(keys: np.ndarray, vals: np.ndarray, seg: np.ndarray, u: np.ndarray,
                   columns: np.ndarray | None = None) -> np.ndarray:
    """Catmull-Rom style spline through every keyframe, with finite-difference tangents that respect
    uneven keyframe spacing (one-sided at both ends).  ``vals`` may be ``(k,)`` or ``(k, dim)``
    (then ``u`` is ``(n, 1)``), or ``(k, n)`` per-frame key values with ``columns`` the frames
    (frame ``i`` uses column ``i``)."""
    slopes = np.empty_like(vals)
    k = keys.reshape((-1,) + (1,) * (vals.ndim - 1))
    slopes[0] = (vals[1] - vals[0]) / (k[1] - k[0])
    slopes[-1] = (vals[-1] - vals[-2]) / (k[-1] - k[-2])
    if len(keys) > 2:
        slopes[1:-1] = (vals[2:] - vals[:-2]) / (k[2:] - k[:-2])

    def pick(array, index):
        return array[index] if columns is None else array[index, columns]

    h = keys[seg + 1] - keys[seg]
    if columns is None:
        h = h.reshape((-1,) + (1,) * (vals.ndim - 1))
    m0, m1 = pick(slopes, seg) * h, pick(slopes, seg + 1) * h
    u2, u3 = u * u, u * u * u
    return ((2 * u3 - 3 * u2 + 1) * pick(vals, seg) + (u3 - 2 * u2 + u) * m0
            + (-2 * u3 + 3 * u2) * pick(vals, seg + 1) + (u3 - u2) * m1)


def _blend(interp: str, v0: np.ndarray, v1: np.ndarray, u: np.ndarray, cubic) -> np.ndarray:
    """Numbers ``v0`` -> ``v1`` at positions ``u`` (0..1) by ``interp``; ``cubic()`` gives the spline
    (it needs the neighbouring keys too)."""
    if interp == "step":
        return np.where(u >= 1.0, v1, v0)
    if interp == "linear":
        return v0 + (v1 - v0) * u
    if interp == "smooth":
        return v0 + (v1 - v0) * (u * u * (3.0 - 2.0 * u))
    if interp == "cubic":
        return cubic()
    raise AssertionError(interp)  # guarded by parse_keyframes; an internal invariant


def _is_dynamic(value) -> bool:
    """A per-frame value (an expression): it has ``evaluate(frames)``."""
    return hasattr(value, "evaluate")


def slerp(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Spherical interpolation of vectors ``a`` and ``b`` (each ``(k, dim)``) at ``u`` ``(k,)``.

    The direction moves along the great circle from ``a`` to ``b`` and the length moves linearly from
    ``|a|`` to ``|b|``, so unit vectors stay on the unit sphere and every norm lies between the
    endpoints' norms.  Nearly parallel directions fall back to a normalised lerp."""
    u = u[:, None]
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    da, db = a / np.maximum(na, 1e-12), b / np.maximum(nb, 1e-12)
    cos = np.clip(np.sum(da * db, axis=1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    safe = sin > 1e-6
    wa = np.where(safe, np.sin((1.0 - u) * omega) / np.where(safe, sin, 1.0), 1.0 - u)
    wb = np.where(safe, np.sin(u * omega) / np.where(safe, sin, 1.0), u)
    direction = wa * da + wb * db
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-12)
    out = direction * ((1.0 - u) * na + u * nb)
    return np.where(u <= 0.0, a, np.where(u >= 1.0, b, out))  # keys land exactly on their vectors


@dataclass(frozen=True)
class VectorKeyframes:
    """A vector of ``dim`` numbers over time (a colour, a pair of weights, a latent).

    ``points`` are ``(frame, values)`` pairs; ``interp`` is step, linear, smooth or slerp."""

    points: tuple[tuple[float, tuple[float, ...]], ...]
    interp: str = DEFAULT_INTERPOLATION
    cycle: bool = False

    @classmethod
    def constant(cls, value) -> "VectorKeyframes":
        return cls(((0.0, tuple(float(v) for v in value)),), "step")

    @property
    def dim(self) -> int:
        return len(self.points[0][1])

    def map(self, fn) -> "VectorKeyframes":
        return VectorKeyframes(tuple((f, tuple(float(fn(x)) for x in v)) for f, v in self.points),
                               self.interp, self.cycle)

    def expand(self, n_frames: int) -> np.ndarray:
        """float64 ``(n_frames, dim)``."""
        return self.at(np.arange(n_frames, dtype=np.float64), n_frames)

    def at(self, frames, period: float | None = None) -> np.ndarray:
        t = np.asarray(frames, dtype=np.float64).reshape(-1)
        if len(self.points) == 1:
            return np.tile(np.array(self.points[0][1], np.float64), (len(t), 1))
        keys, vals, t = _wrap(self.points, period if self.cycle else None, t)
        vals = np.array(vals, dtype=np.float64)
        seg, u = _segments(keys, t)
        if self.interp == "slerp":
            out = slerp(vals[seg], vals[seg + 1], u)
        else:
            out = _blend(self.interp, vals[seg], vals[seg + 1], u[:, None],
                         lambda: _cubic_hermite(keys, vals, seg, u[:, None]))
        out = np.where((t <= keys[0])[:, None], vals[0], out)
        return np.where((t >= keys[-1])[:, None], vals[-1], out)


@dataclass(frozen=True)
class TextSchedule:
    """A string (a name or a file path) that switches at its keys; ``points`` are ``(frame, text)``.
    ``files`` marks values that are file paths (frame keys hash their bytes, not their names)."""

    points: tuple[tuple[float, str], ...]
    cycle: bool = False
    files: bool = False

    @classmethod
    def constant(cls, value: str) -> "TextSchedule":
        return cls(((0.0, value),))

    def values(self) -> list[str]:
        return [v for _, v in self.points]

    def map(self, fn) -> "TextSchedule":
        return TextSchedule(tuple((f, fn(v)) for f, v in self.points), self.cycle, self.files)

    def expand(self, n_frames: int) -> tuple[str, ...]:
        """The string in force at each frame: a tuple of ``n_frames`` strings."""
        keys = np.array([f for f, _ in self.points])
        t = np.arange(n_frames, dtype=np.float64)
        if self.cycle and n_frames:
            t = keys[0] + np.mod(t - keys[0], n_frames)
        index = np.clip(np.searchsorted(keys, t, side="right") - 1, 0, len(keys) - 1)
        return tuple(self.points[i][1] for i in index)



def parse_key(key: str, fps: float) -> float:
    """A keyframe key -> frame position: ``"12"`` is frame 12, ``"1.5s"`` is 1.5 seconds at ``fps``."""
    if _FRAME_KEY.match(key):
        return float(int(key))
    match = _TIME_KEY.match(key)
    if match:
        return float(match.group(1)) * fps
    raise KeyframeError(key, f"keyframe key {key!r} is neither a frame number (\"12\") nor a time (\"1.5s\")")


def _table_points(raw: dict, fps: float, check_value) -> dict[float, object]:
    """Keyframe entries of a table (options skipped) as frame -> checked value."""
    points: dict[float, object] = {}
    for key, value in raw.items():
        if key in _OPTIONS:
            continue
        frame = parse_key(key, fps)
        if frame in points:
            raise KeyframeError(key, f"two keyframes land on frame {frame:g}")
        points[frame] = check_value(key, value)
    if not points:
        raise KeyframeError("", "keyframe table has no keyframes")
    return points


def _cycle_option(raw: dict) -> bool:
    cycle = raw.get("cycle", False)
    if not isinstance(cycle, bool):
        raise KeyframeError("cycle", f"cycle must be true or false, got {cycle!r}")
    return cycle


def _interp_option(raw: dict, allowed: tuple[str, ...]) -> str:
    interp = raw.get("interp", DEFAULT_INTERPOLATION)
    if interp not in allowed:
        raise KeyframeError("interp", f"unknown interpolation {interp!r}; choose one of " + ", ".join(allowed))
    return interp


def _finite_number(key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise KeyframeError(key, f"keyframe value must be a finite number, got {value!r}")
    return float(value)


def parse_keyframes(raw: object, fps: float, integer: bool = False, expression=None) -> Keyframes:
    """A recipe value (number, keyframe table, or with ``expression`` an expression string) ->
    :class:`Keyframes`.

    ``expression(subkey, text)`` turns a string into a per-frame value (raising :class:`KeyframeError`
    when it is not a valid expression); without it strings are refused.
    Raises :class:`KeyframeError` with the offending sub-key for anything malformed.
    """
    if isinstance(raw, str) and expression is not None:
        return Keyframes.constant(expression("", raw), integer)
    if isinstance(raw, bool):
        raise KeyframeError("", f"expected a number or a keyframe table, got {str(raw).lower()}")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            raise KeyframeError("", f"expected a finite number, got {raw}")
        return Keyframes.constant(float(raw), integer)
    if not isinstance(raw, dict):
        expr = " an expression such as \"1 + 0.1 * sin(t)\"," if expression is not None else ""
        raise KeyframeError("", f"expected a number,{expr} or a keyframe table like {{ 0 = 1.0, 60 = 2.0 }}, "
                                f"got {type(raw).__name__}")
    interp = _interp_option(raw, INTERPOLATIONS)

    def check(key, value):
        if isinstance(value, str) and expression is not None:
            return expression(key, value)
        return _finite_number(key, value)

    points = _table_points(raw, fps, check)
    return Keyframes(tuple(sorted(points.items())), interp, _cycle_option(raw), integer)


def _vector(key: str, value, dim: int | None) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise KeyframeError(key, f"expected an array of numbers, got {value!r}")
    numbers = tuple(_finite_number(key, v) for v in value)
    if dim is not None and len(numbers) != dim:
        raise KeyframeError(key, f"expected {dim} numbers, got {len(numbers)}")
    return numbers


def parse_vector_keyframes(raw: object, fps: float, dim: int | None = None) -> VectorKeyframes:
    """``[x, y, ...]`` or ``{ 0 = [..], 30 = [..], interp = "slerp" }`` -> :class:`VectorKeyframes`.
    ``dim`` fixes the length; without it every key must agree with the first."""
    if isinstance(raw, list):
        return VectorKeyframes.constant(_vector("", raw, dim))
    if not isinstance(raw, dict):
        raise KeyframeError("", f"expected an array or a keyframe table of arrays, got {type(raw).__name__}")
    interp = _interp_option(raw, VECTOR_INTERPOLATIONS)
    first: list[int] = []

    def check(key, value):
        vector = _vector(key, value, dim if dim is not None else (first[0] if first else None))
        first.append(len(vector))
        return vector

    points = _table_points(raw, fps, check)
    return VectorKeyframes(tuple(sorted(points.items())), interp, _cycle_option(raw))


def parse_text_schedule(raw: object, fps: float) -> TextSchedule:
    """``"a.png"`` or ``{ 0 = "a.png", 48 = "b.png" }`` -> :class:`TextSchedule` (step switching)."""
    if isinstance(raw, str):
        return TextSchedule.constant(raw)
    if not isinstance(raw, dict):
        raise KeyframeError("", f"expected a string or a keyframe table of strings, got {type(raw).__name__}")
    if raw.get("interp", "step") != "step":
        raise KeyframeError("interp", "strings switch at their keys: only interp = \"step\" applies")

    def check(key, value):
        if not isinstance(value, str) or not value.strip():
            raise KeyframeError(key, f"keyframe value must be a non-empty string, got {value!r}")
        return value

    points = _table_points(raw, fps, check)
    return TextSchedule(tuple(sorted(points.items())), _cycle_option(raw))


@dataclass(frozen=True)
class StackedKeyframes:
    """A vector whose components are scheduled separately (``pan = [0.0, { 0 = 0, 30 = 2 }]``)."""

    parts: tuple[Keyframes, ...]

    @property
    def dim(self) -> int:
        return len(self.parts)

    @property
    def dynamic(self) -> bool:
        return any(p.dynamic for p in self.parts)

    def map(self, fn) -> "StackedKeyframes":
        return StackedKeyframes(tuple(p.map(fn) for p in self.parts))

    def expand(self, n_frames: int) -> np.ndarray:
        """float64 ``(n_frames, dim)``."""
        return np.stack([p.expand(n_frames) for p in self.parts], axis=1).reshape(n_frames, self.dim)


Schedule = Keyframes | VectorKeyframes | StackedKeyframes | TextSchedule
