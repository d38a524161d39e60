"""Print files: 16-bit TIFF, 8-bit PNG and JPEG, each with its resolution (dpi), an embedded sRGB ICC
profile and the text metadata it is given (the resolved recipe and the renderer's version).

The picture arrives as float ``(H, W, 3)`` in 0..1 straight from the engine, so a 16-bit TIFF never
passes through 8 bits.  TIFF goes through ``tifffile`` (deflate with a horizontal predictor; the
metadata as JSON in ImageDescription, the profile in tag 34675); PNG and JPEG through Pillow (PNG
iTXt chunks; a JPEG comment).  ``read_print_info`` reads all of it back.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from ..store import atomic_write, png_text

FORMATS = {"tiff": ".tif", "png": ".png", "jpeg": ".jpg"}
ICC_TAG = 34675


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """An sRGB ICC profile (Little CMS's built-in, via Pillow)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def quantize(image: np.ndarray, dtype=np.uint16) -> np.ndarray:
    """float ``(H, W, 3)`` 0..1 -> ``dtype`` (uint16 or uint8), rounded; in strips of 512 rows, so a
    poster-sized picture never has a full-size float temporary."""
    top = float(np.iinfo(dtype).max)
    out = np.empty(image.shape, dtype)
    for y in range(0, image.shape[0], 512):
        out[y:y + 512] = np.rint(np.clip(image[y:y + 512], 0.0, 1.0, dtype=np.float32) * top)
    return out


def encode_print(image: np.ndarray, fmt: str, dpi: int, metadata: dict[str, str], quality: int = 95) -> bytes:
    """float ``(H, W, 3)`` 0..1 (or uint8 for png/jpeg) -> file bytes of ``fmt`` (tiff, png or jpeg)."""
    buffer = io.BytesIO()
    if fmt == "tiff":
        import tifffile
        icc = srgb_profile()
        data = image if image.dtype == np.uint16 else quantize(image, np.uint16)
        tifffile.imwrite(buffer, data, photometric="rgb", resolution=(dpi, dpi), resolutionunit="INCH",
                         compression="zlib", predictor=True, description=json.dumps(metadata, sort_keys=True),
                         software=metadata.get("renderer", "neural-render"), metadata=None,
                         extratags=[(ICC_TAG, "B", len(icc), icc, True)])
        return buffer.getvalue()
    picture = Image.fromarray(image if image.dtype == np.uint8 else quantize(image, np.uint8))
    if fmt == "png":
        picture.save(buffer, format="PNG", dpi=(dpi, dpi), icc_profile=srgb_profile(),
                     pnginfo=png_text(metadata), compress_level=6)
    elif fmt == "jpeg":
        picture.save(buffer, format="JPEG", dpi=(dpi, dpi), icc_profile=srgb_profile(), quality=quality,
                     subsampling=0, comment=json.dumps(metadata, sort_keys=True).encode("utf-8"))
    else:
        raise ValueError(f"unknown print format {fmt!r}; use {', '.join(FORMATS)}")
    return buffer.getvalue()


def write_print(path: Path, image: np.ndarray, fmt: str, dpi: int, metadata: dict[str, str],
                quality: int = 95) -> Path:
    """Encode and write atomically (a killed run never leaves half a print); ``quality`` is JPEG's."""
    atomic_write(Path(path), encode_print(image, fmt, dpi, metadata, quality))
    return Path(path)


@dataclass(frozen=True)
class PrintInfo:
    """What a picture file says about itself: pixel size, bits per channel, dpi, whether it carries
    an ICC profile (and its description), and its text metadata."""

    width: int
    height: int
    bits: int
    dpi: tuple[float, float] | None
    icc_description: str | None
    metadata: dict[str, str]


def icc_description(icc: bytes | None) -> str | None:
    if not icc:
        return None
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return ImageCms.getProfileDescription(profile).strip()


def read_print_info(path: Path) -> PrintInfo:
    """Read size, depth, dpi, profile and metadata of a TIFF, PNG or JPEG written by the renderer (or
    anyone else: missing parts are None or empty)."""
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages[0]
            tags = page.tags
            description = tags["ImageDescription"].value if "ImageDescription" in tags else ""
            try:
                metadata = json.loads(description) if description else {}
            except ValueError:
                metadata = {"description": description}
            dpi = None
            if "XResolution" in tags:
                (xn, xd), (yn, yd) = tags["XResolution"].value, tags["YResolution"].value
                dpi = (xn / xd, yn / yd)
            icc = tags[ICC_TAG].value if ICC_TAG in tags else None
            height, width = page.shape[:2]
            return PrintInfo(width, height, page.dtype.itemsize * 8, dpi, icc_description(bytes(icc) if icc else None),
                             metadata)
    with Image.open(path) as picture:
        metadata = {k: v for k, v in picture.info.items() if isinstance(v, str)}
        comment = picture.info.get("comment")
        if isinstance(comment, bytes):
            try:
                metadata.update(json.loads(comment.decode("utf-8")))
            except ValueError:
                metadata["comment"] = comment.decode("utf-8", "replace")
        dpi = picture.info.get("dpi")
        bits = 16 if picture.mode in ("I;16", "I", "RGB;16") else 8
        return PrintInfo(picture.width, picture.height, bits, tuple(float(d) for d in dpi) if dpi else None,
                         icc_description(picture.info.get("icc_profile")), metadata)
