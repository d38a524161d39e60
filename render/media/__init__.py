"""The one loader of the media an artist brings: pictures, folders of frames, videos and animated
pictures.  Nothing else in the renderer opens an input file itself.

- :mod:`.pixels`: any mode -> RGB float 0..1 (scaled, alpha composited, ICC to sRGB);
- :mod:`.pictures`: picture files (EXIF orientation, animation frames and durations, TIFF fallback);
- :mod:`.folders`: which files of a folder are frames, in natural order;
- :mod:`.video`: video files through ffmpeg (presentation times, rotation);
- :mod:`.timing`: which source frame an output frame at a given fps shows;
- :mod:`.source`: :class:`MediaSource`, what a recipe's image/folder/video key becomes;
- :mod:`.stored`: another recipe's stored frames, read by their frame keys (``{ recipe = "walk.toml" }``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .folders import folder_frames, is_clutter, natural_key
from .pictures import (IMAGE_SUFFIXES, PictureError, PictureInfo, fit, fit_array, load_picture, picture_info,
                       read_picture)
from .pixels import DEFAULT_BACKGROUND, ColourError, parse_colour
from .source import MediaError, MediaSource, RecentFrames, open_source
from .timing import Timeline
from .video import VIDEO_SUFFIXES, VideoError, probe_clip

__all__ = ["DEFAULT_BACKGROUND", "IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "ColourError", "MediaError", "MediaSource",
           "PictureError", "PictureInfo", "RecentFrames", "Timeline", "VideoError", "describe_still", "fit", "fit_array", "folder_frames", "held_note",
           "is_clutter", "load_image", "load_picture", "natural_key", "open_source", "parse_colour",
           "picture_info", "probe_clip", "read_picture"]


def load_image(path: Path, width: int, height: int, background=DEFAULT_BACKGROUND) -> np.ndarray:
    """A still input (init, style image, training pair): the picture (an animation's first frame)
    fitted to ``width`` x ``height``, float32 ``(height, width, 3)`` in 0..1."""
    return load_picture(path, width, height, background)


def held_note(source: MediaSource, frames: int) -> str:
    """``"; frames 10..19 hold its last frame"`` when the recipe runs past the sequence's end."""
    if frames <= source.count:
        return ""
    return f"; frames {source.count}..{frames - 1} hold its last frame"


def describe_still(path: Path) -> str:
    """``"ramp16.png (PNG 64x48, I;16)"``; for an animation, that its first frame is the one used."""
    info = picture_info(path)
    words = f"{Path(path).name} ({info.describe()}"
    if info.animated:
        words += ": used as a still, its first frame"
    return words + ")"
