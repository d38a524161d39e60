"""Image sequences a recipe can point at: one image, a folder of frames, or a video file.

Validation (no TensorFlow) checks that the source exists and has frames; rendering reads frame ``i``
as float32 RGB ``(height, width, 3)`` in 0..1, scaled to cover the frame and centre-cropped.  A single
image serves every frame; a folder's images are taken in name order; a video's frames in order (a
recipe longer than its source holds the last frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".gif")


class MediaError(ValueError):
    """A source that cannot be used; the message says why (the loader adds file and key)."""


def fit_image(image: Image.Image, width: int, height: int) -> np.ndarray:
    """PIL image -> float32 ``(height, width, 3)`` in 0..1: EXIF-rotated, scaled to cover, centre-cropped."""
    image = ImageOps.exif_transpose(image).convert("RGB")
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    image = image.crop((left, top, left + width, top + height))
    return np.asarray(image, np.float32) / 255.0


def load_image(path: Path, width: int, height: int) -> np.ndarray:
    with Image.open(path) as image:
        return fit_image(image, width, height)


@dataclass
class MediaSource:
    """``kind`` is "image", "folder" or "video"; ``files`` the folder's images in order (or the single
    image / the video file); ``count`` the number of frames the source has."""

    path: Path
    kind: str
    files: tuple[Path, ...]
    count: int
    _video: object = field(default=None, repr=False, compare=False)  # a _VideoCursor
    _last: tuple = field(default=(), repr=False, compare=False)       # (file, width, height, frame)

    @property
    def is_sequence(self) -> bool:
        return self.kind != "image"

    def identity(self, index: int):
        """What frame ``index`` is made of, for frame keys: a file (hashed by content) or, for a video,
        the video file and the frame number."""
        index = min(index, self.count - 1)
        if self.kind == "video":
            return [self.path, index]
        return self.files[index if self.kind == "folder" else 0]

    def read(self, index: int, width: int, height: int) -> np.ndarray:
        """Frame ``index`` as float32 ``(height, width, 3)`` in 0..1."""
        index = min(index, self.count - 1)
        if self.kind != "video":  # a single image serves every frame: decode and resize it once
            file = self.files[index if self.kind == "folder" else 0]
            if self._last[:3] != (file, width, height):
                self._last = (file, width, height, load_image(file, width, height))
            return self._last[3].copy()
        return fit_image(Image.fromarray(self._video_frame(index)), width, height)

    def _video_frame(self, index: int) -> np.ndarray:
        """uint8 frame ``index`` of the video, decoding forward from the last frame read (a request
        for an earlier frame starts the decoder again)."""
        cursor = self._video
        if cursor is None or cursor.position > index + 1:
            cursor = self._video = _VideoCursor(self.path)
        while cursor.position <= index:
            cursor.advance()
        return cursor.last


class _VideoCursor:
    """A forward-only decoder over a video: ``position`` frames read so far, ``last`` the latest."""

    def __init__(self, path: Path):
        import imageio_ffmpeg
        self.reader = imageio_ffmpeg.read_frames(str(path))
        width, height = next(self.reader)["size"]
        self.shape = (height, width, 3)
        self.position, self.last = 0, None

    def advance(self) -> None:
        self.last = np.frombuffer(next(self.reader), np.uint8).reshape(self.shape)
        self.position += 1


def open_source(path: Path) -> MediaSource:
    """Check ``path`` and describe it; raises :class:`MediaError` with a clear reason."""
    if path.is_dir():
        files = tuple(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        if not files:
            raise MediaError(f"folder {path} has no images ({', '.join(IMAGE_SUFFIXES)})")
        for file in files:
            _check_image(file)
        return MediaSource(path, "folder", files, len(files))
    if not path.is_file():
        raise MediaError(f"not found: {path} (paths are relative to the recipe)")
    if path.suffix.lower() in VIDEO_SUFFIXES and path.suffix.lower() != ".gif":
        try:
            import imageio_ffmpeg
            frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
        except Exception as err:  # ffmpeg reports problems in many ways
            raise MediaError(f"cannot read video {path}: {str(err).splitlines()[0] if str(err) else err}") from None
        if frames < 1:
            raise MediaError(f"video {path} has no frames")
        return MediaSource(path, "video", (path,), frames)
    _check_image(path)
    return MediaSource(path, "image", (path,), 1)


def _check_image(path: Path) -> None:
    try:
        with Image.open(path) as image:
            image.verify()
    except Exception as err:  # PIL raises many types for unreadable files
        raise MediaError(f"cannot read image {path}: {err}") from None
