"""The ffmpeg binary shipped by the imageio-ffmpeg wheel (no system install needed)."""

from __future__ import annotations

import functools

from ..errors import OutputError


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as err:  # ImportError or its own RuntimeError when the binary is missing
        raise OutputError(f"no ffmpeg binary: install imageio-ffmpeg ({err})") from None
