"""Any decoded picture -> RGB float32 in 0..1, its values *scaled* by their type's range (never
clamped), transparency composited onto a background, colour managed to sRGB.

The rules, for every mode Pillow (or tifffile, for TIFFs Pillow cannot read) gives:

- 1-bit: 0 or 1.  8-bit modes (L, P, RGB, CMYK, YCbCr, LAB...): Pillow's conversion to RGB, / 255.
- 16-bit integers (``I;16*``, uint16 arrays): / 65535.  32-bit integers: / (2**32 - 1) unsigned,
  / (2**31 - 1) signed (negative values are below black: 0).  Pillow's ``I`` mode does not say which
  width the file had: values up to 65535 are taken as 16-bit (old Pillows read 16-bit PNGs as ``I``).
- Floats: already 0..1 (the convention of float TIFF and EXR tools); values above 1 are clipped.
- Alpha (RGBA, LA, PA, a palette's transparent entry, premultiplied RGBa/La): ``rgb * a + bg * (1 - a)``
  with straight alpha, so the colour an editor keeps under transparent pixels never shows.
- An embedded ICC profile other than sRGB (Display P3 phone photos, Adobe RGB, CMYK press profiles) is
  converted to sRGB with LittleCMS (Pillow's ImageCms), relative colorimetric.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageColor

DEFAULT_BACKGROUND = (1.0, 1.0, 1.0)  # white, like the paper a cut-out is laid on
EIGHT_BIT_MODES = ("L", "P", "RGB")  # no alpha, 8 bits: resampled as 8-bit pictures (see pictures.fit)


class ColourError(ValueError):
    """A background colour that cannot be read."""


def parse_colour(text: str) -> tuple[float, float, float]:
    """``"#rrggbb"``, ``"#rgb"``, a CSS colour name (``"white"``, ``"black"``...) or ``"rgb(r, g, b)"``
    -> (r, g, b) in 0..1; raises :class:`ColourError`."""
    try:
        rgb = ImageColor.getrgb(str(text).strip())
    except ValueError:
        raise ColourError(f'not a colour: {text!r} (use "#rrggbb", "#rgb" or a name such as "white")') from None
    return tuple(round(v / 255.0, 6) for v in rgb[:3])


def scale_integers(values: np.ndarray) -> np.ndarray:
    """Integer or float array -> float32 in 0..1 by its type's range (see the module's rules)."""
    if values.dtype == bool:
        return values.astype(np.float32)
    if np.issubdtype(values.dtype, np.floating):
        return np.clip(values.astype(np.float32), 0.0, 1.0)
    info = np.iinfo(values.dtype)
    if info.max == np.iinfo(np.int32).max and values.max(initial=0) <= 65535:
        top = 65535.0  # Pillow's "I" of a 16-bit file
    else:
        top = float(info.max)
    return np.clip(values.astype(np.float64) / top, 0.0, 1.0).astype(np.float32)


def composite(colour: np.ndarray, alpha: np.ndarray, background=DEFAULT_BACKGROUND) -> np.ndarray:
    """Straight-alpha ``colour`` (h, w, 3) over ``background``; ``alpha`` (h, w) in 0..1."""
    a = alpha[..., None].astype(np.float32)
    return (colour * a + np.asarray(background, np.float32) * (1.0 - a)).astype(np.float32)


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info


def to_srgb(image: Image.Image) -> Image.Image:
    """Convert an image carrying a non-sRGB ICC profile to sRGB (alpha kept); others unchanged."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    from PIL import ImageCms
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(profile).lower().replace(" ", ""):
            return image
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        source = image.convert("RGB") if image.mode == "RGBA" else image
        converted = ImageCms.profileToProfile(source, profile, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (OSError, ValueError, ImageCms.PyCMSError) as err:
        from ..notices import note
        note(f"colour profile of a picture not applied ({err}); its values are used as sRGB")
        return image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def image_to_rgb(image: Image.Image, background=DEFAULT_BACKGROUND) -> np.ndarray:
    """A Pillow image of any mode (already in sRGB: :func:`to_srgb`) -> float32 ``(h, w, 3)`` in
    0..1 (module rules)."""
    mode = image.mode
    if mode == "1":
        grey = np.asarray(image, bool).astype(np.float32)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode.startswith("I") or mode == "F":
        grey = scale_integers(np.asarray(image))
        return np.repeat(grey[..., None], 3, axis=2)
    if has_alpha(image):
        rgba = np.asarray(image.convert("RGBA"), np.float32) / 255.0
        return composite(rgba[..., :3], rgba[..., 3], background)
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, np.float32) / 255.0


def array_to_rgb(values: np.ndarray, background=DEFAULT_BACKGROUND) -> np.ndarray:
    """A decoded array (h, w), (h, w, 1|2|3|4) of any numeric type -> float32 ``(h, w, 3)`` in 0..1;
    2 and 4 channels carry (straight) alpha last."""
    scaled = scale_integers(values)
    if scaled.ndim == 2:
        scaled = scaled[..., None]
    channels = scaled.shape[-1]
    if channels in (2, 4):
        colour, alpha = scaled[..., :-1], scaled[..., -1]
        colour = np.repeat(colour, 3, axis=2) if channels == 2 else colour
        return composite(colour, alpha, background)
    if channels == 1:
        return np.repeat(scaled, 3, axis=2)
    return np.ascontiguousarray(scaled[..., :3])
