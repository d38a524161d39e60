"""Image sequences a recipe can point at: one picture, a folder of frames, a video, or an animated
picture (GIF, WebP, APNG).

A source is opened once when the recipe is read (checked, and described for `render plan`) and bound
to the recipe's frame rate and background.  Rendering reads output frame ``n`` as float32 RGB
``(height, width, 3)`` in 0..1, scaled to cover the frame and centre-cropped:

- a picture serves every frame (an animated one as a still: its first frame);
- a folder's frame ``n`` is its ``n``-th file in natural order (:mod:`render.media.folders`);
- a video gives the frame on screen at ``n / fps`` (:mod:`render.media.timing`): it keeps its real
  timing at any frame rate (a variable frame rate included);
- an animated picture is a sequence of drawings: output frame ``n`` shows the frame on screen after
  ``n`` of its shortest delays, so each drawing becomes one output frame per shortest delay it is
  shown (a frame held three times as long is held for three frames), played at the recipe's fps (its
  own rate, ``1 / shortest delay``, when the recipe gives none);
- past the end, the last frame is held.

Another recipe's frames are a source too (:class:`render.media.stored.StoredFrames`, kind
``"recipe"``): its frame ``n`` is output frame ``n``, like a folder's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .folders import folder_frames
from .pictures import IMAGE_SUFFIXES, AnimationReader, PictureError, fit_array, load_picture, picture_info
from .pixels import DEFAULT_BACKGROUND
from .timing import Timeline
from .video import VIDEO_SUFFIXES, VideoCursor, VideoError, probe_clip


class MediaError(ValueError):
    """A source that cannot be used; the message says why (the recipe loader adds file and key)."""


@dataclass
class MediaSource:
    """``kind``: "image", "folder", "video" or "animation"; ``files`` the folder's frames in order (the
    file itself otherwise); ``timeline`` the source frames' times (videos and animations); ``fps``
    the recipe's frame rate it is read at; ``background`` what transparent pixels are laid on."""

    path: Path
    kind: str
    files: tuple[Path, ...]
    timeline: Timeline | None = None
    size: tuple[int, int] = (0, 0)          # (width, height) of the frames as shown
    fps: float = 30.0
    background: tuple[float, float, float] = DEFAULT_BACKGROUND
    _video: VideoCursor | None = field(default=None, repr=False, compare=False)
    _animation: AnimationReader | None = field(default=None, repr=False, compare=False)
    _last: tuple = field(default=(), repr=False, compare=False)      # (what, width, height, frame)

    @property
    def is_sequence(self) -> bool:
        return self.kind != "image"

    @property
    def timed(self) -> bool:
        return self.timeline is not None

    @property
    def native_fps(self) -> float | None:
        """The source's own frame rate (videos: mean; animations: one frame per shortest delay)."""
        if not self.timed:
            return None
        if self.kind == "animation":
            return round(1.0 / self.timeline.shortest, 3)
        return round(self.timeline.rate, 6)

    @property
    def _clock(self) -> float:
        """Output frames per source second: the recipe's fps for a video, the animation's own rate
        (exactly one per shortest delay: :attr:`native_fps` is rounded for display, and a rate rounded
        up, 1 / 70 ms -> 14.286, would put output frame n just before source frame n starts)."""
        return 1.0 / self.timeline.shortest if self.kind == "animation" else self.fps

    @property
    def count(self) -> int:
        """Output frames the source lasts at :attr:`fps` (a folder: one per file)."""
        if self.timed:
            return self.timeline.output_frames(self._clock)
        return len(self.files) if self.kind == "folder" else 1

    def bound(self, fps: float, background=DEFAULT_BACKGROUND) -> "MediaSource":
        """This source read at ``fps`` with ``background`` (a new object; decoders are not shared)."""
        return dataclasses.replace(self, fps=float(fps), background=tuple(background), _video=None,
                                   _animation=None, _last=())

    def source_index(self, index: int) -> int:
        """Which source frame (file of a folder, frame of a video) output frame ``index`` shows."""
        if self.timed:
            return self.timeline.index_at(index, self._clock)
        return min(index, len(self.files) - 1) if self.kind == "folder" else 0

    def identity(self, index: int):
        """What output frame ``index`` is made of, for frame keys: a file (keys hash its content) or,
        for a video or animation, the file and the source frame number."""
        if self.timed:
            return [self.path, self.source_index(index)]
        return self.files[self.source_index(index)]

    def read(self, index: int, width: int, height: int) -> np.ndarray:
        """Output frame ``index`` as float32 ``(height, width, 3)`` in 0..1."""
        source = self.source_index(index)
        if self._last[:3] == (source, width, height):  # a held frame, or a still serving every frame
            return self._last[3].copy()
        if self.kind == "video":
            frame = fit_array(self._video_frame(source), width, height)
        elif self.kind == "animation":
            if self._animation is None:
                self._animation = AnimationReader(picture_info(self.path))
            frame = self._animation.read(source, width, height, self.background)
        else:
            frame = load_picture(self.files[source], width, height, self.background)
        self._last = (source, width, height, frame)
        return frame.copy()

    def _video_frame(self, index: int) -> np.ndarray:
        """uint8 frame ``index`` of the video, decoding forward from the last one read (an earlier
        frame starts the decoder again)."""
        cursor = self._video
        if cursor is None or cursor.position > index + 1:
            if cursor is not None:
                cursor.close()
            cursor = self._video = VideoCursor(probe_clip(self.path))
        while cursor.position <= index:
            cursor.advance()
        return cursor.last

    def describe(self) -> str:
        """One line for `render plan`: what the source is and the frames it gives."""
        if self.kind == "folder":
            first, last = self.files[0].name, self.files[-1].name
            return (f"folder of {len(self.files)} frame{'s' if len(self.files) != 1 else ''}: "
                    + (first if len(self.files) == 1 else f"{first} ... {last}"))
        if self.kind == "animation":
            line = self.timeline
            return (f"animation of {line.frames} frames over {line.duration:g} s -> {self.count} frames (one per "
                    f"{line.shortest * 1000:g} ms shown) played at {self.fps:g} fps")
        if self.timed:
            line = self.timeline
            rate = "variable rate" if line.variable else f"{line.rate:g} fps"
            return (f"video of {line.frames} frames over {line.duration:g} s ({rate}) -> "
                    f"{self.count} frames at {self.fps:g} fps, each the source frame on screen at its time")
        return "picture"


def open_source(path: Path) -> MediaSource:
    """Check ``path`` and describe it (bound to 30 fps and a white background until
    :meth:`MediaSource.bound`); raises :class:`MediaError` with a clear reason."""
    path = Path(path)
    if path.is_dir():
        files = folder_frames(path, IMAGE_SUFFIXES)
        if not files:
            raise MediaError(f"folder {path} has no images ({', '.join(IMAGE_SUFFIXES)}; hidden files "
                             "and sub-folders are not frames)")
        try:
            info = picture_info(files[0])
            for file in files[1:]:
                picture_info(file)
        except PictureError as err:
            raise MediaError(str(err)) from None
        return MediaSource(path, "folder", files, size=(info.width, info.height))
    if not path.is_file():
        raise MediaError(f"not found: {path} (paths are relative to the recipe)")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        try:
            facts = probe_clip(path)
        except VideoError as err:
            raise MediaError(str(err)) from None
        return MediaSource(path, "video", (path,), facts.timeline, (facts.width, facts.height))
    try:
        info = picture_info(path)
    except PictureError as err:
        raise MediaError(str(err)) from None
    if info.animated:
        return MediaSource(path, "animation", (path,), Timeline.from_durations(info.durations),
                           (info.width, info.height))
    return MediaSource(path, "image", (path,), size=(info.width, info.height))


class RecentFrames:
    """Frames of ``source`` at ``width`` x ``height``, the last two read kept: footage engines read
    frame n and, for its flow, frame n - 1, which the previous frame read already."""

    def __init__(self, source: MediaSource, width: int, height: int):
        self.source, self.width, self.height = source, width, height
        self._frames: dict[int, np.ndarray] = {}

    def __call__(self, index: int) -> np.ndarray:
        if index not in self._frames:
            self._frames = {i: f for i, f in self._frames.items() if i in (index - 1, index + 1)}
            self._frames[index] = self.source.read(index, self.width, self.height)
        return self._frames[index]
