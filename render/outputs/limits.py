"""Limits of the output formats that a recipe can reach, each measured with the bundled ffmpeg, and
what is done about them (no ffmpeg import: pure arithmetic, so the recipe loader can check early).

- **GIF timing.**  A GIF holds each frame for a whole number of centiseconds (a 16-bit field, so at
  most 655.35 s), and browsers show a delay under 20 ms as 100 ms.  ffmpeg writes 60 fps as delays of
  20, 10, 20, 20, 10 ... ms (a browser plays them 2.8x too slowly), 100 and 240 fps as 10 ms each (10x),
  and a frame held 1000 s (fps = 0.001) as 655.35 s.  :func:`gif_timing` lays the GIF frames on the
  centisecond grid instead: the whole GIF lasts frames / fps rounded to a centisecond, each delay is
  20 ms or more (frames are dropped, evenly, when the rate is above 50 fps) and at most 655.35 s
  (a longer frame is repeated), and a note says so.  At 50 fps or less nothing is dropped.
- **ffmpeg's picture size.**  Every ffmpeg frame buffer is checked by ``av_image_check_size``:
  ``(8 x width + 1024) x (height + 128)`` must stay under 2^31, so 16384x16384 (which ``output.size``
  allows) is "Picture size 16384x16384 is invalid" for every format, and 16384x16128 or 16000x16384 is
  the most it takes.  :func:`size_problem` refuses such a size in one line, naming ``output.size``,
  before anything is rendered.
- H.265's small-and-wide frames (libx265: a side under 32 px with the other over 4216 px) are padded
  by :class:`render.outputs.formats.Codec` (``wide_min_side``), like odd sizes.

Frame rates from the schema's range (0, 240] play at their rate in H.264, H.265, ProRes and VP9
(each frame's time read back within WebM's 1 ms grid, 0.001 fps and 240 fps included), and no size
under ffmpeg's limit is refused by libx264, prores_ks, libvpx-vp9 or the GIF encoder (16384x8 and
8x16384 included): those formats need nothing here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GIF_TICK = 0.01           # seconds: GIF delays are whole centiseconds
GIF_MIN_DELAY = 2         # centiseconds: browsers play 0 and 1 (under 20 ms) as 10 (100 ms)
GIF_MAX_DELAY = 65535     # centiseconds: a 16-bit field
FFMPEG_PICTURE_LIMIT = 2 ** 31 - 1   # INT_MAX, av_image_check_size's bound


@dataclass(frozen=True)
class GifTiming:
    """How a GIF of ``frames`` frames at ``fps`` is written: ``picks`` are positions in the playing
    order, one per GIF frame (each kept frame once when nothing is dropped or repeated); the GIF
    lasts ``total`` centiseconds, GIF frame ``j`` starting at :meth:`start` ``(j)``."""

    frames: int
    fps: float
    picks: tuple[int, ...]
    total: int

    def start(self, j: int) -> int:
        """Centiseconds from the start to GIF frame ``j`` (``total`` for ``j`` = the frame count)."""
        count = len(self.picks)
        return (j * self.total + count // 2) // count

    @property
    def delays(self) -> list[int]:
        """Each GIF frame's delay in centiseconds (they sum to ``total``)."""
        return [self.start(j + 1) - self.start(j) for j in range(len(self.picks))]

    @property
    def setpts(self) -> str:
        """ffmpeg's ``setpts`` expression giving GIF frame N its start, in a 1/100 s time base (the
        same integer arithmetic as :meth:`start`: exact in float64 below 2^53)."""
        count = len(self.picks)
        return f"floor((N*{self.total}+{count // 2})/{count})"

    @property
    def final_delay(self) -> int:
        """The last frame's delay (the gif muxer's ``final_delay``: it has no next frame to measure)."""
        return self.delays[-1]

    def note(self, name: str) -> str | None:
        """One line when the GIF is not one frame per frame, or not as long as asked; else None."""
        asked = self.frames / self.fps
        kept, played = len(self.picks), self.total * GIF_TICK
        lows, highs = min(self.delays), max(self.delays)
        delays = f"{lows * 10} ms" if lows == highs else f"{lows * 10}-{highs * 10} ms"
        if kept < self.frames:
            return (f"{name}: {self.frames} frames at {self.fps:g} fps are too fast for a GIF (its delays are whole "
                    f"centiseconds, and browsers play delays under 20 ms as 100 ms): it keeps {kept} of them, "
                    f"evenly spaced, with delays of {delays}, and plays in {played:g} s ({asked:.4g} s asked); "
                    "set output.fps to 50 or less to keep every frame")
        if kept > self.frames:
            return (f"{name}: frames held {1 / self.fps:g} s are longer than a GIF delay can be (655.35 s): each "
                    f"is repeated ({kept} GIF frames with delays of {delays}), so the GIF plays in {played:g} s "
                    "as asked")
        if abs(played - asked) > GIF_TICK / 2 + 1e-9:
            return (f"{name}: {self.frames} frames at {self.fps:g} fps last {asked * 1000:.3g} ms, but a browser "
                    f"shows a GIF frame at least 20 ms: it plays in {played * 1000:g} ms")
        return None


def gif_timing(frames: int, fps: float) -> GifTiming:
    """The GIF frames for ``frames`` frames at ``fps``: the duration rounded to a centisecond, as few
    frames dropped (or repeated) as keep every delay within 20 ms .. 655.35 s, the kept frames spread
    evenly (GIF frame ``j`` shows the frame on screen at its start)."""
    if frames < 1 or not fps > 0:
        raise ValueError(f"no GIF timing for {frames} frames at {fps} fps")
    total = max(GIF_MIN_DELAY, round(frames / fps / GIF_TICK))
    count = min(max(frames, math.ceil(total / GIF_MAX_DELAY)), total // GIF_MIN_DELAY)
    picks = tuple(j * frames // count for j in range(count))
    return GifTiming(frames, float(fps), picks, total)


def ffmpeg_takes(width: int, height: int) -> bool:
    """Whether ffmpeg accepts frames of ``width`` x ``height`` (``av_image_check_size``)."""
    return (8 * width + 1024) * (height + 128) < FFMPEG_PICTURE_LIMIT


def size_problem(width: int, height: int, coded: tuple[int, int] | None = None) -> str | None:
    """Why no video can hold ``width`` x ``height`` frames (encoded at ``coded``, the codec's padded
    size), in words for ``output.size``; None when ffmpeg takes them."""
    coded_width, coded_height = coded or (width, height)
    if ffmpeg_takes(coded_width, coded_height):
        return None
    encoded = f" (encoded at {coded_width}x{coded_height})" if (coded_width, coded_height) != (width, height) else ""
    return (f"{width}x{height}{encoded} is too large for a video: ffmpeg takes frames only while "
            "(8 x width + 1024) x (height + 128) < 2^31 (16384x16128 or 16000x16384 at most); choose a smaller "
            "size, or video = \"none\" and `render print` for a picture that large")
