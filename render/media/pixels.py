"""Any decoded picture -> RGB float32 in 0..1, its values *scaled* by their type's range (never
clamped), transparency composited onto a background, colour managed to sRGB.

The rules, for every mode Pillow (or tifffile, for TIFFs Pillow cannot read) gives:

- 1-bit: 0 or 1.  8-bit modes (L, P, RGB, CMYK, YCbCr, LAB...): Pillow's conversion to RGB, / 255.
- Integers divide by their type's maximum: 65535 for 16 bits, 32767 signed 16, 2**32 - 1 and
  2**31 - 1 for 32 bits (negative values are below black: 0).  TIFFs are read with their real sample
  type (tifffile); Pillow's ``I`` mode of other formats does not say which width the file had: values
  up to 65535 are taken as 16-bit (old Pillows read 16-bit PNGs as ``I``).
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
    if len(rgb) == 4 and rgb[3] != 255:
        raise ColourError(f"{text!r} is partly transparent; a background is opaque (use \"#rrggbb\")")
    return tuple(round(v / 255.0, 6) for v in rgb[:3])


def scale_integers(values: np.ndarray) -> np.ndarray:
    """Integer or float array -> float32 in 0..1 by its type's range (see the module's rules)."""
    if values.dtype == bool:
        return values.astype(np.float32)
    if np.issubdtype(values.dtype, np.floating):
        return np.clip(values.astype(np.float32), 0.0, 1.0)
    top = float(np.iinfo(values.dtype).max)
    return np.clip(values.astype(np.float64) / top, 0.0, 1.0).astype(np.float32)


def composite(colour: np.ndarray, alpha: np.ndarray, background=DEFAULT_BACKGROUND,
              premultiplied: bool = False) -> np.ndarray:
    """``colour`` (h, w, 3) over ``background``; ``alpha`` (h, w) in 0..1.  Straight alpha by default;
    ``premultiplied`` colour (TIFF's associated alpha) is already multiplied by alpha."""
    a = alpha[..., None].astype(np.float32)
    over = colour if premultiplied else colour * a
    return np.clip(over + np.asarray(background, np.float32) * (1.0 - a), 0.0, 1.0).astype(np.float32)


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or image.info.get("transparency") is not None


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
        values = np.asarray(image)
        if mode == "I" and 0 <= values.min(initial=0) and values.max(initial=0) <= 65535:
            values = values.astype(np.uint16)  # Pillow's "I" of a 16-bit file (PNG, PGM; TIFFs go to tifffile)
        grey = np.repeat(scale_integers(values)[..., None], 3, axis=2)
        transparent = image.info.get("transparency")  # a 16-bit PNG's tRNS: one grey value is clear
        if isinstance(transparent, int):
            return composite(grey, (values != transparent).astype(np.float32), background)
        return grey
    if has_alpha(image):
        rgba = np.asarray(image.convert("RGBA"), np.float32) / 255.0
        return composite(rgba[..., :3], rgba[..., 3], background)
    if mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, np.float32) / 255.0


def array_to_rgb(values: np.ndarray, background=DEFAULT_BACKGROUND, premultiplied: bool = False) -> np.ndarray:
    """A decoded array (h, w), (h, w, 1|2|3|4) of any numeric type -> float32 ``(h, w, 3)`` in 0..1;
    2 and 4 channels carry alpha last (straight, or ``premultiplied``)."""
    scaled = scale_integers(values)
    if scaled.ndim == 2:
        scaled = scaled[..., None]
    channels = scaled.shape[-1]
    if channels in (2, 4):
        colour, alpha = scaled[..., :-1], scaled[..., -1]
        colour = np.repeat(colour, 3, axis=2) if channels == 2 else colour
        return composite(colour, alpha, background, premultiplied)
    if channels == 1:
        return np.repeat(scaled, 3, axis=2)
    return np.ascontiguousarray(scaled[..., :3])
