"""A plain text progress bar for frame rendering: frame, seconds per frame, time left."""

from __future__ import annotations

import sys
from typing import TextIO


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _OneLine:
    """Redraws one line on a terminal; writes one line per update elsewhere (logs)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 28):
        self.stream, self.width = stream, width
        self.tty = hasattr(stream, "isatty") and stream.isatty()

    def bar(self, share: float) -> str:
        filled = int(self.width * share)
        return "#" * filled + "-" * (self.width - filled)

    def emit(self, text: str, last: bool) -> None:
        if self.tty:
            # "\x1b[K" clears the rest of the line: a shorter text leaves no stray characters
            self.stream.write("\r" + text + "\x1b[K" + ("\n" if last else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class ProgressBar(_OneLine):
    """Callable taking :class:`render.runner.Progress`.  Seconds per frame is averaged over the frames
    after the first (which includes start-up) and leaves out time spent compiling graphs, which is
    shown apart."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 28):
        super().__init__(stream, width)
        self.times: list[float] = []

    def __call__(self, event) -> None:
        self.times.append(event.seconds - event.compile_seconds)
        steady = self.times[1:] or self.times
        per_frame = sum(steady) / len(steady)
        left = per_frame * (event.total - event.done)
        text = (f"frame {event.index:>5} [{self.bar(event.done / event.total)}] {event.done}/{event.total}  "
                f"{per_frame:6.2f} s/frame  {format_seconds(left)} left")
        if event.graphs:
            text += f"  (compiled {event.graphs} graph{'s' if event.graphs != 1 else ''} in {event.compile_total:.1f} s)"
        if getattr(event, "flow_total", 0.0):
            text += f"  (optical flow {event.flow_total:.2f} s in all)"
        self.emit(text, event.done == event.total)


class PrintProgressBar(_OneLine):
    """Callable taking :class:`render.prints.driver.PrintProgress`: stage, step, tile, share done and
    time left (from the pixel-steps done so far, so larger octaves count for more)."""

    def __call__(self, event) -> None:
        share = event.work_done / event.work_total if event.work_total else 1.0
        left = event.seconds * (1 - share) / share if share > 0 else 0.0
        step = f" step {event.step + 1}/{event.steps}" if event.steps else ""
        text = (f"stage {event.stage + 1}/{event.stages}{step} tile {event.tile} [{self.bar(share)}] {share:4.0%}  "
                f"{format_seconds(event.seconds)} elapsed, {format_seconds(left)} left")
        self.emit(text, event.stage + 1 == event.stages and event.step + 1 >= event.steps)


class GalleryProgress:
    """Progress of several recipes rendering at once (a farm gallery): ``for_recipe(name)`` gives each
    recipe's callback; every update redraws one line per recipe plus a total (one line per update
    when not on a terminal).  Thread-safe."""

    def __init__(self, stream: TextIO = sys.stderr):
        import threading
        self.stream, self.lock = stream, threading.Lock()
        self.counts: dict[str, tuple[int, int]] = {}
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.drawn = 0

    def for_recipe(self, name: str):
        def update(event) -> None:
            with self.lock:
                self.counts[name] = (event.done, event.total)
                self._draw(name)
        return update

    def _draw(self, changed: str) -> None:
        done = sum(d for d, _ in self.counts.values())
        total = sum(t for _, t in self.counts.values())
        lines = [f"{n:<24} {d:>5}/{t:<5}" for n, (d, t) in self.counts.items()] + [f"{'total':<24} {done:>5}/{total:<5}"]
        if self.tty:
            self.stream.write((f"\x1b[{self.drawn}F" if self.drawn else "") + "".join(l + "\x1b[K\n" for l in lines))
            self.drawn = len(lines)
        else:
            d, t = self.counts[changed]
            self.stream.write(f"{changed}: {d}/{t} frames; total {done}/{total}\n")
        self.stream.flush()


class CountBar(_OneLine):
    """Callable ``(done, total)``: ``label [####----] done/total unit`` (tiles, frames, bytes as MB)."""

    def __init__(self, label: str, unit: str = "", stream: TextIO = sys.stderr, megabytes: bool = False):
        super().__init__(stream)
        self.label, self.unit, self.megabytes, self.shown = label, unit, megabytes, -1

    def __call__(self, done: int, total: int) -> None:
        share = min(1.0, done / total) if total else 0.0
        step = int(share * (100 if self.tty else 10))
        if step == self.shown and done < total:
            return   # off a terminal: a line per 10%
        self.shown = step
        counts = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if self.megabytes else f"{done}/{total}{self.unit}"
        self.emit(f"{self.label} [{self.bar(share)}] {counts}", last=done >= total)
