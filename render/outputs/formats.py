"""Video formats as data (no ffmpeg import): what the recipe's ``output.video`` may say, each format's
container and ffmpeg options, and the file name it gets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Codec:
    extension: str
    options: dict
    uses_crf: bool
    even_size: bool = True  # chroma subsampling (or the encoder) needs an even width and height


CODECS: dict[str, Codec] = {
    "mp4": Codec("mp4", {"vcodec": "libx264", "pix_fmt": "yuv420p", "preset": "medium",
                         "movflags": "+faststart"}, True),
    "hevc": Codec("mp4", {"vcodec": "libx265", "pix_fmt": "yuv420p", "preset": "medium", "tag:v": "hvc1",
                          "x265-params": "log-level=error", "movflags": "+faststart"}, True),
    "prores": Codec("mov", {"vcodec": "prores_ks", "profile:v": 3, "pix_fmt": "yuv422p10le"}, False),
    "prores4444": Codec("mov", {"vcodec": "prores_ks", "profile:v": 4, "pix_fmt": "yuv444p10le"}, False),
    "webm": Codec("webm", {"vcodec": "libvpx-vp9", "pix_fmt": "yuv420p", "b:v": 0, "row-mt": 1}, True),
    "gif": Codec("gif", {}, False, even_size=False),
}


NAME_TAGS = {"hevc": ".hevc", "prores4444": ".4444"}  # keep formats sharing a container apart


def video_path(folder: Path, name: str, video: str) -> Path:
    """``zoom.mp4``, ``zoom.hevc.mp4``, ``zoom.mov``, ``zoom.4444.mov``, ``zoom.webm``, ``zoom.gif``."""
    return Path(folder) / f"{name}{NAME_TAGS.get(video, '')}.{CODECS[video].extension}"

VIDEO_FORMATS = tuple(CODECS)
