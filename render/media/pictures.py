"""Picture files: what one holds (size as people see it, frames and their timing) and its pixels.

Every picture a recipe names is read here, so the same rules hold for a dream's init, a style image,
a frame of a folder, an animated GIF and a print's content:

- the EXIF orientation (TIFF's Orientation tag) is applied, so a photo taken sideways on a phone is
  used, sized and cropped as people see it; :func:`picture_info` reports the size *after* it;
- values are scaled to 0..1 and transparency composited (:mod:`render.media.pixels`);
- an animated GIF, WebP or PNG (APNG) holds several frames with their own durations (a GIF frame of
  under 20 ms is shown for 100 ms, as browsers do); as a still, its first frame is used;
- TIFFs Pillow cannot decode (float RGB, half floats, 32-bit unsigned...) are read with tifffile.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from .pixels import DEFAULT_BACKGROUND, EIGHT_BIT_MODES, array_to_rgb, has_alpha, image_to_rgb, to_srgb

IMAGE_SUFFIXES = (".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".tif", ".tiff", ".webp", ".gif")
TIFF_SUFFIXES = (".tif", ".tiff")
ORIENTATION_TAG = 0x0112
BROWSER_MIN_DURATION = 0.02   # seconds; shorter GIF delays are shown for BROWSER_DEFAULT_DURATION
BROWSER_DEFAULT_DURATION = 0.1

# EXIF orientation -> the transposition that shows the picture upright (as ImageOps.exif_transpose)
_UPRIGHT = {2: (Image.Transpose.FLIP_LEFT_RIGHT,), 3: (Image.Transpose.ROTATE_180,),
            4: (Image.Transpose.FLIP_TOP_BOTTOM,), 5: (Image.Transpose.TRANSPOSE,),
            6: (Image.Transpose.ROTATE_270,), 7: (Image.Transpose.TRANSVERSE,), 8: (Image.Transpose.ROTATE_90,)}


class PictureError(ValueError):
    """A file that is not a picture we can read; the message says which file and why."""


@dataclass(frozen=True)
class PictureInfo:
    """``width`` x ``height`` as people see it (orientation applied); ``frames`` 1 for a still;
    ``durations`` each frame's time on screen in seconds (animations); ``orientation`` the EXIF value
    (1 upright); ``mode`` and ``format`` as the decoder reports them."""

    path: Path
    width: int
    height: int
    frames: int
    durations: tuple[float, ...]
    orientation: int
    mode: str
    format: str
    decoder: str = "pillow"      # or "tifffile": TIFFs of more than 8 bits, float or planar samples
    premultiplied: bool = False  # a TIFF's associated (premultiplied) alpha

    @property
    def animated(self) -> bool:
        return self.frames > 1

    def describe(self) -> str:
        """``"animated GIF, 6 frames"`` / ``"16-bit greyscale PNG"`` style words for `render plan`."""
        what = f"{self.format} {self.width}x{self.height} {self.mode}"
        if self.animated:
            what = f"animated {what}, {self.frames} frames"
        if self.orientation not in (0, 1):
            what += f", EXIF orientation {self.orientation} applied"
        return what


def _quietly(function):
    """Run a decoder call with Pillow's own warnings (palette transparency, large images) kept out
    of the terminal: the loader handles what they warn about."""
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)
    wrapper.__doc__, wrapper.__name__ = function.__doc__, function.__name__
    return wrapper


def _stat_key(path: Path) -> tuple[str, int, int]:
    stat = Path(path).stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def picture_info(path: Path) -> PictureInfo:
    """What ``path`` holds; raises :class:`PictureError` (not found, not a picture, truncated)."""
    path = Path(path)
    if not path.is_file():
        raise PictureError(f"image not found: {path}")
    return _info(*_stat_key(path))


@lru_cache(maxsize=512)
@_quietly
def _info(name: str, size: int, mtime_ns: int) -> PictureInfo:
    path = Path(name)
    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            image.load()  # decode the first frame: a truncated file fails here, not mid-render
            orientation = int(image.getexif().get(ORIENTATION_TAG, 1) or 1)
            durations = _durations(image, frames) if frames > 1 else ()
            width, height, mode, fmt = image.width, image.height, image.mode, image.format or path.suffix[1:].upper()
    except Exception as err:  # noqa: BLE001  Pillow raises many types for unreadable files
        if path.suffix.lower() not in TIFF_SUFFIXES:
            raise PictureError(f"cannot read image {path}: {err}") from None
        return _tiff_info(path, err)
    if fmt == "TIFF" and _wants_tifffile(path):
        return _tiff_info(path, None)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return PictureInfo(path, width, height, frames, durations, orientation, mode, fmt)


def _wants_tifffile(path: Path) -> bool:
    """TIFFs whose samples Pillow reads wrongly or narrowly: more than 8 bits (uint32 wraps, int16 is
    read as 32-bit), floats, separate planes, extra (alpha) samples beyond 8 bits; grey or RGB only."""
    import tifffile
    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages[0]
            photometric = page.photometric
            plain = photometric in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB)
            return plain and (page.dtype != np.uint8 or page.planarconfig == tifffile.PLANARCONFIG.SEPARATE)
    except Exception:  # noqa: BLE001  Pillow read it: let Pillow decode it
        return False


def _durations(image: Image.Image, frames: int) -> tuple[float, ...]:
    out = []
    for index in range(frames):
        image.seek(index)
        image.load()  # WebP reports a frame's duration once it is decoded
        seconds = float(image.info.get("duration", 0) or 0) / 1000.0
        out.append(BROWSER_DEFAULT_DURATION if seconds < BROWSER_MIN_DURATION else seconds)
    return tuple(out)


def _tiff_info(path: Path, pillow_error: Exception | None) -> PictureInfo:
    import tifffile
    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages[0]
            width, height = int(page.imagewidth), int(page.imagelength)
            orientation = int(page.tags["Orientation"].value) if "Orientation" in page.tags else 1
            extra = tuple(page.extrasamples) if page.extrasamples else ()
            dtype = str(page.dtype)
    except Exception as err:  # noqa: BLE001
        why = f"{pillow_error}; tifffile: {err}" if pillow_error else str(err)
        raise PictureError(f"cannot read image {path}: {why}") from None
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return PictureInfo(path, width, height, 1, (), orientation, dtype, "TIFF", "tifffile",
                       premultiplied=bool(extra) and int(extra[0]) == 1)


def read_picture(path: Path, background=DEFAULT_BACKGROUND, frame: int = 0) -> np.ndarray:
    """Frame ``frame`` of ``path`` as float32 ``(height, width, 3)`` in 0..1, upright (EXIF applied),
    transparency over ``background`` (r, g, b in 0..1)."""
    info = picture_info(path)
    if info.decoder == "tifffile":
        return _read_tiff(info, background)
    return image_to_rgb(open_upright(info, frame), background)


@_quietly
def open_upright(info: PictureInfo, frame: int = 0) -> Image.Image:
    """Frame ``frame`` of the picture as a loaded Pillow image, upright and in sRGB; for animations,
    the frame as shown (the decoder applies each frame's disposal and blending)."""
    with Image.open(info.path) as image:
        if frame:
            image.seek(min(frame, info.frames - 1))
        return _upright(image, info)


def _upright(image: Image.Image, info: PictureInfo) -> Image.Image:
    """The open image's current frame, decoded, upright, in sRGB (a new image)."""
    image.load()
    picture = image.convert("RGBA") if image.mode == "P" and "transparency" in image.info else image.copy()
    for step in _UPRIGHT.get(info.orientation, ()):
        picture = picture.transpose(step)
    return to_srgb(picture)


class AnimationReader:
    """Frames of an animated picture read in order without decoding from the start each time (Pillow
    decodes forward from the current frame; an earlier frame reopens the file)."""

    def __init__(self, info: PictureInfo):
        self.info, self.image, self.position = info, None, -1

    @_quietly
    def read(self, frame: int, width: int, height: int, background=DEFAULT_BACKGROUND) -> np.ndarray:
        """Frame ``frame`` fitted like :func:`load_picture`."""
        frame = min(frame, self.info.frames - 1)
        if self.image is None or frame < self.position:
            self.close()
            self.image = Image.open(self.info.path)
        self.image.seek(frame)
        self.position = frame
        return _fit_upright(_upright(self.image, self.info), self.info, width, height, background)

    def close(self) -> None:
        if self.image is not None:
            self.image.close()
            self.image = None


def _read_tiff(info: PictureInfo, background) -> np.ndarray:
    import tifffile
    with tifffile.TiffFile(info.path) as tiff:
        page = tiff.pages[0]
        values = page.asarray()
        if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and values.ndim == 3:
            values = np.moveaxis(values, 0, -1)  # samples stored plane by plane
    rgb = array_to_rgb(values, background, premultiplied=info.premultiplied)
    return _orient_array(rgb, info.orientation)


def _orient_array(values: np.ndarray, orientation: int) -> np.ndarray:
    """The numpy form of :data:`_UPRIGHT` (for arrays read without Pillow)."""
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
           5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
           8: lambda a: np.rot90(a, 1)}
    op = ops.get(orientation)
    return np.ascontiguousarray(op(values)) if op else values


def fit(picture, width: int, height: int) -> np.ndarray:
    """Scale ``picture`` (float32 ``(h, w, 3)`` or an upright 8-bit Pillow image) to cover
    ``width`` x ``height`` (Lanczos) and centre-crop: float32 ``(height, width, 3)`` in 0..1.  8-bit
    pictures are resampled as 8-bit images, as they always were, so runs stored before stay valid."""
    if isinstance(picture, Image.Image):
        w, h = picture.size
    else:
        h, w = picture.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    box = (left, top, left + width, top + height)
    if isinstance(picture, Image.Image):
        resized = picture.convert("RGB").resize(size, Image.Resampling.LANCZOS).crop(box)
        return np.asarray(resized, np.float32) / 255.0
    channels = [Image.fromarray(np.ascontiguousarray(picture[..., c]), "F").resize(size, Image.Resampling.LANCZOS)
                .crop(box) for c in range(3)]
    return np.clip(np.stack([np.asarray(c, np.float32) for c in channels], axis=-1), 0.0, 1.0)


def load_picture(path: Path, width: int, height: int, background=DEFAULT_BACKGROUND, frame: int = 0) -> np.ndarray:
    """Frame ``frame`` of ``path`` fitted to ``width`` x ``height``: float32 ``(height, width, 3)``."""
    info = picture_info(path)
    if info.decoder == "pillow":
        return _fit_upright(open_upright(info, frame), info, width, height, background)
    return fit(_read_tiff(info, background), width, height)


def _fit_upright(image: Image.Image, info: PictureInfo, width: int, height: int, background) -> np.ndarray:
    if image.mode in EIGHT_BIT_MODES and not has_alpha(image):
        return fit(image, width, height)
    if has_alpha(image):
        _note_transparency(info, background)
    return fit(image_to_rgb(image, background), width, height)


def _note_transparency(info: PictureInfo, background) -> None:
    from ..notices import note
    colour = "#" + "".join(f"{round(v * 255):02x}" for v in background)
    note(f"{info.path.name} has transparent pixels: laid on {colour} (a recipe's top-level "
         "background = \"#rrggbb\" chooses the colour)")


def fit_array(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """A decoded uint8 ``(h, w, 3)`` frame (a video's) fitted like a picture."""
    return fit(Image.fromarray(frame), width, height)
