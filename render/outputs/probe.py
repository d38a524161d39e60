"""Read a video's facts back (codec, size, fps, frame count, container tags) with ``ffmpeg -i``; there
is no ffprobe."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import OutputError
from .ffmpeg_tool import ffmpeg_exe

_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+).*?, (\d+)x(\d+)")
_FPS = re.compile(r"([\d.]+) (?:fps|tbr)")
_FRAMES = re.compile(r"frame=\s*(\d+)")


@dataclass(frozen=True)
class VideoFacts:
    codec: str
    width: int
    height: int
    fps: float
    frames: int


def probe_video(path: Path) -> VideoFacts:
    """Decode the whole first video stream to count its frames exactly."""
    source = str(Path(path).absolute())  # absolute: a name like "take:2.mp4" is not a protocol
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", source, "-map", "0:v:0", "-f", "null", "-"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise OutputError(f"cannot read video {path}: {result.stderr.strip().splitlines()[-1:]}")
    stream = _STREAM.search(result.stderr)
    frames = _FRAMES.findall(result.stderr)
    if not stream or not frames:
        raise OutputError(f"cannot read video facts of {path}")
    line = result.stderr[stream.start():].splitlines()[0]
    fps = _FPS.search(line)
    return VideoFacts(stream.group(1), int(stream.group(2)), int(stream.group(3)),
                      float(fps.group(1)) if fps else 0.0, int(frames[-1]))


def stream_summary(path: Path) -> list[str]:
    """``ffmpeg -i``'s duration and one line per stream (codec, size or sample rate and channels), as
    ``render inspect`` shows them: whether a video carries sound is one of its facts."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(Path(path).absolute())], capture_output=True,
                            text=True)
    lines = []
    for line in result.stderr.splitlines():
        duration = re.match(r"^\s+Duration: ([\d:.]+)", line)
        stream = re.match(r"^\s+Stream #\d+:\d+\S*: (Video|Audio): (.*)$", line)
        if duration:
            lines.append(f"duration    {duration.group(1)}")
        elif stream:
            kind = "video" if stream.group(1) == "Video" else "sound"
            details = re.sub(r"\s*\((?:default|attached pic)\)", "", stream.group(2))
            lines.append(f"{kind:<11} {details}")
    if lines and not any(line.startswith("sound") for line in lines):
        lines.append("sound       none")
    return lines


def video_tags(path: Path) -> dict[str, str]:
    """Container metadata of a video (``ffmpeg -i``'s Metadata block of the file), keys in lower case
    (Matroska/WebM stores ``COMMENT``, MP4 ``comment``)."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(Path(path).absolute())], capture_output=True,
                            text=True)
    tags, inside = {}, False
    for line in result.stderr.splitlines():
        if re.match(r"^\s{2}Metadata:", line):
            inside = True
            continue
        if inside:
            match = re.match(r"^\s{4}(\w+)\s*:\s?(.*)$", line)
            if not match:
                break
            tags[match.group(1).lower()] = match.group(2)
    return tags
