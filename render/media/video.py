"""Video files, read with the ffmpeg of the imageio-ffmpeg wheel (there is no ffprobe).

:func:`probe_clip` decodes the first video stream once with ffmpeg's ``showinfo`` filter: each
frame's presentation time and the size of the frames *as shown* (ffmpeg applies a clip's rotation
flag, so a phone clip shot upright is upright).  :class:`VideoCursor` then decodes the same frames, in
the same order (``-fps_mode passthrough``: no frame duplicated or dropped to reach a constant rate),
forward only, each at its own size: a clip whose frame size changes mid-stream (a window resized while
recording, a phone turned) is not scaled to its first frame's size (``-noautoscale``); the raw frames
are cut by the sizes the probe saw, and the reader fits each like a picture of that size.  ffmpeg's
messages never reach the terminal; a failure is one line.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .timing import Timeline

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                  ".3gp", ".flv", ".wmv", ".ogv")
_SHOWINFO = re.compile(r"\bn:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:(-?[\d.e+-]+).*?\bs:(\d+)x(\d+)")
_DURATION = re.compile(r"\bduration_time:([\d.e+-]+)")
_DECLARED = re.compile(r"Duration: (\d+):(\d+):([\d.]+)")
_DAMAGED = re.compile(r"(?i)partial file|ended prematurely|corrupt|invalid data|decoding error|truncat")


class VideoError(ValueError):
    """A video ffmpeg cannot decode; one line saying why."""


def _ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _decode_args(path: Path) -> list[str]:
    return [_ffmpeg(), "-hide_banner", "-nostdin", "-i", f"file:{path}", "-map", "0:v:0", "-fps_mode", "passthrough"]


@dataclass(frozen=True)
class ClipFacts:
    """``width`` x ``height`` of the first frame as shown (rotation applied); ``timeline`` the frames'
    times; ``frame_sizes`` each frame's (width, height), in decoding order."""

    path: Path
    width: int
    height: int
    timeline: Timeline
    frame_sizes: tuple[tuple[int, int], ...] = ()

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        """The distinct frame sizes, in the order they first appear."""
        return tuple(dict.fromkeys(self.frame_sizes))


def probe_clip(path: Path) -> ClipFacts:
    """Facts of ``path`` (cached per file size and time); raises :class:`VideoError`."""
    stat = Path(path).stat()
    return _probe(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _probe(name: str, size: int, mtime_ns: int) -> ClipFacts:
    path = Path(name)
    if size == 0:
        raise VideoError(f"cannot read video {path}: the file is empty (0 bytes)")
    result = subprocess.run(_decode_args(path) + ["-vf", "showinfo", "-f", "null", "-"],
                            capture_output=True, text=True, errors="replace")
    frames = [(m.group(3), m.group(4), m.group(5), line) for line in result.stderr.splitlines()
              for m in [_SHOWINFO.search(line)] if m]
    if result.returncode != 0 or not frames:
        if "Stream #0" in result.stderr and not re.search(r"Stream #0:\d+.*: Video:", result.stderr):
            reason = "it has no video stream" + (" (audio only)" if ": Audio:" in result.stderr else "")
        else:
            reason = _last_error(result.stderr) or ("no video frames" if result.returncode == 0 else "ffmpeg failed")
        raise VideoError(f"cannot read video {path}: {reason}")
    stamps = [float(t) for t, _, _, _ in frames]
    last = _DURATION.search(frames[-1][3])
    width, height = int(frames[0][1]), int(frames[0][2])
    frame_sizes = tuple((int(w), int(h)) for _, w, h, _ in frames)
    sizes = tuple(dict.fromkeys(frame_sizes))
    timeline = Timeline.from_stamps(stamps, float(last.group(1)) if last else None)
    if len(sizes) > 1:
        from ..notices import note
        note(f"{path.name}: the frame size changes mid-clip ({', then '.join(f'{w}x{h}' for w, h in sizes)}): each "
             "frame is fitted like a picture of its own size (scaled to cover, centre-cropped), never squashed")
    declared = _DECLARED.search(result.stderr)
    if declared:
        hours, minutes, seconds = declared.groups()
        declared = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    # ffmpeg's complaints about a file that decodes at least as long as it says (streams joined end to
    # end, as cat makes of MPEG-TS parts) are not damage the artist needs to hear about
    if _DAMAGED.search(result.stderr) and (declared is None or timeline.duration < declared - 0.05):
        from ..notices import note
        said = f" of the {declared:g} s it declares" if declared is not None else ""
        note(f"{path.name} is damaged or cut short: {timeline.frames} frames ({timeline.duration:g} s{said}) "
             "decode and are used")
    return ClipFacts(path, width, height, timeline, frame_sizes)


def _last_error(stderr: str) -> str:
    lines = [re.sub(r"^(\[[^\]]*\]\s*)+", "", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Input #", "Stream", "Duration", "Metadata"))]
    return lines[-1] if lines else ""


class VideoCursor:
    """Decodes a video's frames in order as uint8 ``(height, width, 3)``, each at its own size:
    ``position`` frames read so far, ``last`` the latest.  Forward only (read an earlier frame with a
    new cursor)."""

    def __init__(self, facts: ClipFacts):
        self.facts = facts
        self.process = subprocess.Popen(_decode_args(facts.path) + ["-noautoscale", "-f", "rawvideo", "-pix_fmt",
                                                                    "rgb24", "-"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.position, self.last = 0, None

    def _ended(self) -> VideoError:
        self.close()
        return VideoError(f"video {self.facts.path} ended after {self.position} of "
                          f"{self.facts.timeline.frames} frames (changed since it was read?)")

    def advance(self) -> None:
        if self.position >= len(self.facts.frame_sizes):
            raise self._ended()
        width, height = self.facts.frame_sizes[self.position]
        size = width * height * 3
        data = self.process.stdout.read(size)
        if len(data) < size:
            raise self._ended()
        self.last = np.frombuffer(data, np.uint8).reshape(height, width, 3)
        self.position += 1

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001  interpreter shutdown
            pass
