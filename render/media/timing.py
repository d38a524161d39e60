"""When each frame of a timed sequence (a video, an animated picture) is on screen, and which one an
output frame takes.

Output frame ``n`` of a recipe at ``fps`` shows time ``t = n / fps``; it takes the source frame on
screen at ``t``: the last one whose presentation time is at or before ``t``.  So a variable frame rate
keeps its real timing (a frame held for a second is held for ``fps`` output frames) and nothing drifts
against a soundtrack.  A sequence lasts from its first frame's time to the last frame's time plus the
last frame's own duration; it implies ``round(duration * fps)`` output frames.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from dataclasses import dataclass

EPSILON = 1e-4  # seconds: a frame stamped at 0.5 is on screen at 0.5 despite rounding (stamps, rates)


@dataclass(frozen=True)
class Timeline:
    """``starts``: each source frame's presentation time in seconds, from 0 (the first frame),
    non-decreasing; ``duration``: seconds from the first frame until the last one leaves the screen."""

    starts: tuple[float, ...]
    duration: float

    @classmethod
    def from_durations(cls, durations) -> "Timeline":
        """Frames shown one after another for ``durations`` seconds each (an animated GIF's delays)."""
        starts, clock = [], 0.0
        for seconds in durations:
            starts.append(round(clock, 6))
            clock += float(seconds)
        return cls(tuple(starts), round(clock, 6))

    @classmethod
    def from_stamps(cls, stamps, last_duration: float | None = None) -> "Timeline":
        """Presentation times as a decoder reports them (any origin).  The last frame lasts the
        median interval between frames (1/rate for a constant rate), or ``last_duration`` when the
        container gives one close to it (within half to twice: containers often record the last
        frame's duration unreliably)."""
        if not stamps:
            raise ValueError("a timeline needs at least one frame")
        origin = stamps[0]
        starts = list(itertools.accumulate((max(0.0, round(s - origin, 6)) for s in stamps), max))
        gaps = [b - a for a, b in zip(starts, starts[1:]) if b > a]
        median = statistics.median(gaps) if gaps else None
        if median is None:
            tail = last_duration or 1.0
        else:
            tail = last_duration if last_duration and 0.5 * median <= last_duration <= 2 * median else median
        return cls(tuple(starts), round(starts[-1] + tail, 6))

    @property
    def frames(self) -> int:
        return len(self.starts)

    @property
    def shortest(self) -> float:
        """The shortest time a frame is on screen (seconds)."""
        ends = self.starts[1:] + (self.duration,)
        times = [b - a for a, b in zip(self.starts, ends) if b > a]
        return min(times) if times else max(self.duration, 1e-3)

    @property
    def rate(self) -> float:
        """Mean frames per second (the sequence's own rate, used when a recipe gives no fps)."""
        return self.frames / self.duration if self.duration > 0 else 1.0

    @property
    def variable(self) -> bool:
        """True when the intervals between frames differ by more than a millisecond."""
        gaps = [b - a for a, b in zip(self.starts, self.starts[1:])]
        return bool(gaps) and max(gaps) - min(gaps) > 1e-3

    def output_frames(self, fps: float) -> int:
        """How many output frames at ``fps`` the sequence lasts (at least one)."""
        return max(1, round(self.duration * fps))

    def index_at(self, frame: int, fps: float) -> int:
        """The source frame on screen at output frame ``frame`` (time ``frame / fps``); past the
        end, the last frame."""
        return max(0, bisect.bisect_right(self.starts, frame / fps + EPSILON) - 1)
