"""Video formats as data (no ffmpeg import): what the recipe's ``output.video`` may say, each format's
container, ffmpeg options and sound, and the file name it gets; the soundtrack a video carries.  What
the formats cannot hold (GIF timing, ffmpeg's largest picture) is in :mod:`render.outputs.limits`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Codec:
    """``even_width``/``even_height``: frames of an odd size are padded by one pixel (see
    :func:`padded_size`), because chroma subsampling makes the encoder refuse them (libx264, libx265)
    or encode the last column or row in wrong colours (libvpx-vp9 at 4:2:0, prores_ks at 4:2:2 across)."""
    extension: str
    options: dict
    uses_crf: bool
    label: str
    even_width: bool = True
    even_height: bool = True
    min_side: int = 1  # libx265 refuses sides under 16 px: smaller frames are padded up to it
    # (long, short): when a side is over ``long`` px, both are padded to at least ``short`` (libx265
    # codes a side under 32 px with 16 px blocks, which level 5 and up, needed past 4216 px, forbid:
    # 4216x16 encodes, 4218x16 and 16384x30 are "Cannot open libx265 encoder")
    wide_min_side: tuple[int, int] | None = None
    audio: dict | None = None  # the soundtrack's ffmpeg options; None: the container carries no sound
    audio_label: str = ""

    def padded_size(self, width: int, height: int) -> tuple[int, int]:
        """The size ``width`` x ``height`` frames are encoded at: one more on each odd side the codec
        needs even, and at least :attr:`min_side`."""
        width = max(self.min_side, width + (width % 2 if self.even_width else 0))
        height = max(self.min_side, height + (height % 2 if self.even_height else 0))
        if self.wide_min_side is not None and max(width, height) > self.wide_min_side[0]:
            width, height = max(width, self.wide_min_side[1]), max(height, self.wide_min_side[1])
        return width, height

    @property
    def needs(self) -> str:
        """What the codec needs, in words (for the note about padding)."""
        sides = [name for name, even in (("width", self.even_width), ("height", self.even_height)) if even]
        words = "an even " + " and ".join(sides) if sides else "no particular size"
        words += f", at least {self.min_side} px a side" if self.min_side > 1 else ""
        if self.wide_min_side is not None:
            words += f", at least {self.wide_min_side[1]} px a side when one is over {self.wide_min_side[0]} px"
        return words


SAMPLE_RATE = 48_000   # every soundtrack is resampled to video's usual rate (and the one Opus needs)
AAC = {"acodec": "aac", "b:a": "192k"}
PCM = {"acodec": "pcm_s16le"}
OPUS = {"acodec": "libopus", "b:a": "160k"}


@dataclass(frozen=True)
class SoundInput:
    """The soundtrack a video carries: the audio file ``path`` (anything the bundled ffmpeg decodes),
    heard from ``offset`` seconds into the file at the first frame (a negative offset: the track starts
    that long after the first frame, silence until then)."""
    path: Path
    offset: float = 0.0


CODECS: dict[str, Codec] = {
    "mp4": Codec("mp4", {"vcodec": "libx264", "pix_fmt": "yuv420p", "preset": "medium",
                         "movflags": "+faststart"}, True, "H.264", audio=AAC, audio_label="AAC"),
    "hevc": Codec("mp4", {"vcodec": "libx265", "pix_fmt": "yuv420p", "preset": "medium", "tag:v": "hvc1",
                          "x265-params": "log-level=error", "movflags": "+faststart"}, True, "H.265", min_side=16,
                   wide_min_side=(4216, 32), audio=AAC, audio_label="AAC"),
    "prores": Codec("mov", {"vcodec": "prores_ks", "profile:v": 3, "pix_fmt": "yuv422p10le"}, False,
                    "ProRes 422", even_height=False, audio=PCM, audio_label="PCM s16le"),
    "prores4444": Codec("mov", {"vcodec": "prores_ks", "profile:v": 4, "pix_fmt": "yuv444p10le"}, False,
                        "ProRes 4444", even_width=False, even_height=False, audio=PCM, audio_label="PCM s16le"),
    "webm": Codec("webm", {"vcodec": "libvpx-vp9", "pix_fmt": "yuv420p", "b:v": 0, "row-mt": 1}, True, "VP9",
                  audio=OPUS, audio_label="Opus"),
    "gif": Codec("gif", {}, False, "GIF", even_width=False, even_height=False),
}


NAME_TAGS = {"hevc": ".hevc", "prores4444": ".4444"}  # keep formats sharing a container apart


def video_path(folder: Path, name: str, video: str) -> Path:
    """``zoom.mp4``, ``zoom.hevc.mp4``, ``zoom.mov``, ``zoom.4444.mov``, ``zoom.webm``, ``zoom.gif``."""
    return Path(folder) / f"{name}{NAME_TAGS.get(video, '')}.{CODECS[video].extension}"

VIDEO_FORMATS = tuple(CODECS)
