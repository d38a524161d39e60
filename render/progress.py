"""A plain text progress bar for frame rendering: frame, seconds per frame, time left."""

from __future__ import annotations

import sys
from typing import TextIO


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Callable taking :class:`render.runner.Progress`.  Redraws one line on a terminal; prints one
    line per frame elsewhere (logs).  Seconds per frame is averaged over the frames after the first,
    which includes start-up (compilation)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 28):
        self.stream, self.width = stream, width
        self.times: list[float] = []
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def __call__(self, event) -> None:
        self.times.append(event.seconds)
        steady = self.times[1:] or self.times
        per_frame = sum(steady) / len(steady)
        left = per_frame * (event.total - event.done)
        filled = int(self.width * event.done / event.total)
        bar = "#" * filled + "-" * (self.width - filled)
        text = (f"frame {event.index:>5} [{bar}] {event.done}/{event.total}  "
                f"{per_frame:6.2f} s/frame  {format_seconds(left)} left")
        if self.tty:
            # "\x1b[K" clears the rest of the line: a shorter text leaves no stray characters
            self.stream.write("\r" + text + "\x1b[K" + ("\n" if event.done == event.total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
