"""Keyframed parameters: sparse keyframes plus an interpolation, expanded once into per-frame values.

A recipe value is either a constant (``1.0``) or a table keyed by frame number or time::

    zoom = { 0 = 1.0, 60 = 1.03 }                  # frames, linear by default
    zoom = { "0s" = 1.0, "2.5s" = 1.03, interp = "smooth" }

Numpy only: no TensorFlow here.  ``Keyframes.expand(n)`` returns a float64 array of shape ``(n,)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

INTERPOLATIONS = ("step", "linear", "smooth", "cubic")
DEFAULT_INTERPOLATION = "linear"
_TIME_KEY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s\s*$")
_FRAME_KEY = re.compile(r"^\s*\d+\s*$")


class KeyframeError(ValueError):
    """A malformed keyframe table; ``subkey`` is the offending key inside the table ('' for the table)."""

    def __init__(self, subkey: str, message: str):
        self.subkey = subkey
        super().__init__(message)


@dataclass(frozen=True)
class Keyframes:
    """A parameter over time: ``points`` are ``(frame, value)`` pairs sorted by frame (frame may be
    fractional when it came from a time key); before the first and after the last keyframe the value
    holds."""

    points: tuple[tuple[float, float], ...]
    interp: str = DEFAULT_INTERPOLATION

    @classmethod
    def constant(cls, value: float) -> "Keyframes":
        return cls(((0.0, float(value)),), "step")

    @property
    def is_constant(self) -> bool:
        return len({v for _, v in self.points}) == 1

    def map(self, fn) -> "Keyframes":
        """The same keyframes with every value passed through ``fn`` (used by previews)."""
        return Keyframes(tuple((f, float(fn(v))) for f, v in self.points), self.interp)

    def values(self) -> list[float]:
        return [v for _, v in self.points]

    def expand(self, n_frames: int) -> np.ndarray:
        """Value at every frame ``0 .. n_frames-1``: float64 array of shape ``(n_frames,)``."""
        return self.at(np.arange(n_frames, dtype=np.float64))

    def at(self, frames: np.ndarray) -> np.ndarray:
        """Value at (possibly fractional) frame positions; array of the same shape as ``frames``."""
        t = np.asarray(frames, dtype=np.float64)
        keys = np.array([f for f, _ in self.points])
        vals = np.array([v for _, v in self.points])
        if len(keys) == 1:
            return np.full_like(t, vals[0])
        # segment index i such that keys[i] <= t < keys[i+1], clamped to the valid segments
        seg = np.clip(np.searchsorted(keys, t, side="right") - 1, 0, len(keys) - 2)
        t0, t1 = keys[seg], keys[seg + 1]
        u = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
        v0, v1 = vals[seg], vals[seg + 1]
        if self.interp == "step":
            out = np.where(u >= 1.0, v1, v0)
        elif self.interp == "linear":
            out = v0 + (v1 - v0) * u
        elif self.interp == "smooth":
            out = v0 + (v1 - v0) * (u * u * (3.0 - 2.0 * u))
        elif self.interp == "cubic":
            out = _cubic_hermite(keys, vals, seg, u)
        else:  # guarded by parse_keyframes; an internal invariant
            raise AssertionError(self.interp)
        out = np.where(t <= keys[0], vals[0], out)
        return np.where(t >= keys[-1], vals[-1], out)


def _cubic_hermite(keys: np.ndarray, vals: np.ndarray, seg: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Catmull-Rom style spline through every keyframe, with finite-difference tangents that respect
    uneven keyframe spacing (one-sided at both ends)."""
    slopes = np.empty_like(vals)
    slopes[0] = (vals[1] - vals[0]) / (keys[1] - keys[0])
    slopes[-1] = (vals[-1] - vals[-2]) / (keys[-1] - keys[-2])
    if len(keys) > 2:
        slopes[1:-1] = (vals[2:] - vals[:-2]) / (keys[2:] - keys[:-2])
    h = keys[seg + 1] - keys[seg]
    m0, m1 = slopes[seg] * h, slopes[seg + 1] * h
    u2, u3 = u * u, u * u * u
    return ((2 * u3 - 3 * u2 + 1) * vals[seg] + (u3 - 2 * u2 + u) * m0
            + (-2 * u3 + 3 * u2) * vals[seg + 1] + (u3 - u2) * m1)


def parse_key(key: str, fps: float) -> float:
    """A keyframe key -> frame position: ``"12"`` is frame 12, ``"1.5s"`` is 1.5 seconds at ``fps``."""
    if _FRAME_KEY.match(key):
        return float(int(key))
    match = _TIME_KEY.match(key)
    if match:
        return float(match.group(1)) * fps
    raise KeyframeError(key, f"keyframe key {key!r} is neither a frame number (\"12\") nor a time (\"1.5s\")")


def parse_keyframes(raw: object, fps: float) -> Keyframes:
    """A recipe value (number or keyframe table) -> :class:`Keyframes`.

    Raises :class:`KeyframeError` with the offending sub-key for anything malformed.
    """
    if isinstance(raw, bool):
        raise KeyframeError("", f"expected a number or a keyframe table, got {str(raw).lower()}")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            raise KeyframeError("", f"expected a finite number, got {raw}")
        return Keyframes.constant(float(raw))
    if not isinstance(raw, dict):
        raise KeyframeError("", f"expected a number or a keyframe table like {{ 0 = 1.0, 60 = 2.0 }}, "
                                f"got {type(raw).__name__}")
    interp = raw.get("interp", DEFAULT_INTERPOLATION)
    if interp not in INTERPOLATIONS:
        raise KeyframeError("interp", f"unknown interpolation {interp!r}; choose one of "
                                      + ", ".join(INTERPOLATIONS))
    points: dict[float, float] = {}
    for key, value in raw.items():
        if key == "interp":
            continue
        frame = parse_key(key, fps)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise KeyframeError(key, f"keyframe value must be a finite number, got {value!r}")
        if frame in points:
            raise KeyframeError(key, f"two keyframes land on frame {frame:g}")
        points[frame] = float(value)
    if not points:
        raise KeyframeError("", "keyframe table has no keyframes")
    return Keyframes(tuple(sorted(points.items())), interp)
