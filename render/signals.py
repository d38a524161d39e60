"""The per-frame names a schedule expression can read (see :mod:`render.expressions`).

Always: ``t`` (seconds since frame 0: ``f / fps``), ``f`` (the frame number), ``frames`` (the frame
count) and ``fps``.  With a soundtrack (the recipe's ``[audio]`` table): ``b``, the beat count (0 at
the first beat, 1 at the second, fractional in between; ``floor(b)`` steps exactly on beats), and one
name per audio feature (``[audio.features.kick]`` is ``kick``; a chroma feature is a vector of 12:
``notes[0]`` is C).  Audio values are sampled at the frame times ``offset + f / fps`` of the track
(:func:`render.audio.sample_feature`).

Values are computed only for the names an expression reads, once per frame count.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import numpy as np

BASE_NAMES = {"t": "seconds since frame 0 (f / fps)", "f": "frame number, 0 for the first frame",
              "frames": "the recipe's frame count", "fps": "frames per second"}
BEAT_NAME = "b"


class Signals:
    """Names and values for expressions at frame rate ``fps``; ``audio`` is the recipe's
    :class:`render.recipe.model.AudioSettings` or None."""

    def __init__(self, fps: float, audio=None):
        self.fps = float(fps)
        self.audio = audio
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def names(self) -> dict[str, int]:
        """name -> width (12 for a chroma feature, else 1)."""
        names = {name: 1 for name in BASE_NAMES}
        if self.audio is not None:
            names[BEAT_NAME] = 1
            names.update({name: spec.width for name, spec in self.audio.features.items()})
        return names

    def missing(self, name: str) -> str | None:
        if self.audio is None and name == BEAT_NAME:
            return ("b counts the beats of a soundtrack: add [audio] with file = \"track.wav\" "
                    "(`render plan` lists the names)")
        return None

    def arrays(self, frames: int) -> Mapping[str, np.ndarray]:
        return _Lazy(self, frames)

    def value(self, name: str, frames: int) -> np.ndarray:
        """The values of ``name`` at frames ``0 .. frames-1``: float64 ``(frames,)`` (``(frames, 12)``
        for chroma)."""
        key = (name, frames)
        if key not in self._cache:
            self._cache[key] = self._compute(name, frames)
        return self._cache[key]

    def _compute(self, name: str, frames: int) -> np.ndarray:
        f = np.arange(frames, dtype=np.float64)
        if name == "f":
            return f
        if name == "t":
            return f / self.fps
        if name == "frames":
            return np.full(frames, float(frames))
        if name == "fps":
            return np.full(frames, self.fps)
        from .audio import Track, beat_position, sample_feature
        audio = self.audio
        track = Track.open(audio.path)
        if name == BEAT_NAME:
            return beat_position(track, frames, self.fps, audio.offset)
        return sample_feature(track, audio.features[name], frames, self.fps, audio.offset)


class _Lazy(Mapping):
    """A mapping that computes a name's values when an expression reads it."""

    def __init__(self, signals: Signals, frames: int):
        self.signals, self.frames = signals, frames

    def __getitem__(self, name: str) -> Any:
        if name not in self.signals.names():
            raise KeyError(name)
        return self.signals.value(name, self.frames)

    def __iter__(self) -> Iterator[str]:
        return iter(self.signals.names())

    def __len__(self) -> int:
        return len(self.signals.names())
