"""A generated corpus of the media artists bring (nothing large is committed): every pixel mode in every
picture format that can hold it, the eight EXIF orientations, transparency, animations, a
variable-frame-rate video, folders with clutter, names with awkward characters.

Each maker writes files into a folder and returns what a person would expect to see: float RGB in 0..1
computed from the values written (never by the loader under test).
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

W, H = 24, 16  # small, not square, so a rotation shows in the size

# (mode, formats that can hold it)
MODE_FORMATS = {
    "1": ("PNG", "TIFF", "BMP", "GIF"),
    "L": ("PNG", "JPEG", "TIFF", "WEBP", "GIF", "BMP"),
    "LA": ("PNG", "TIFF", "WEBP"),
    "P": ("PNG", "TIFF", "GIF", "BMP"),
    "P+transparency": ("PNG", "GIF"),
    "PA": ("TIFF",),
    "I;16": ("PNG", "TIFF"),
    "I": ("TIFF",),
    "F": ("TIFF",),
    "RGB": ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "GIF"),
    "RGBA": ("PNG", "TIFF", "WEBP"),
    "CMYK": ("JPEG", "TIFF"),
    "YCbCr": ("TIFF", "JPEG"),
}
LOSSY = {"JPEG": 0.06, "WEBP": 0.06}  # mean absolute error allowed (in 0..1)
EXTENSION = {"PNG": "png", "JPEG": "jpg", "TIFF": "tif", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}


def ramp(width: int = W, height: int = H) -> np.ndarray:
    """float (h, w) ramp from 0 at the left to 1 at the right."""
    return np.tile(np.linspace(0.0, 1.0, width, dtype=np.float64), (height, 1))


def colour_picture() -> np.ndarray:
    """float RGB (H, W, 3): red rising left to right, green top to bottom, blue constant 0.4;
    smooth, so lossy codecs keep it close."""
    x = ramp()
    y = np.tile(np.linspace(0.0, 1.0, H)[:, None], (1, W))
    return np.stack([x, y, np.full_like(x, 0.4)], axis=-1)


def pixel_mode_case(mode: str, fmt: str, folder: Path) -> tuple[Path, np.ndarray]:
    """Write a picture of ``mode`` in ``fmt``; return (file, expected RGB float (H, W, 3))."""
    path = Path(folder) / f"{mode.replace(';', '_').replace('+', '_')}.{EXTENSION[fmt]}"
    grey = ramp()
    background = np.ones(3)  # the loader's default
    if mode == "1":
        bits = grey >= 0.5
        Image.fromarray(bits).save(path, fmt)
        expected = np.repeat(bits[..., None].astype(float), 3, axis=2)
    elif mode == "L":
        values = np.round(grey * 255).astype(np.uint8)
        Image.fromarray(values, "L").save(path, fmt)
        expected = np.repeat(values[..., None] / 255.0, 3, axis=2)
    elif mode == "LA":
        values = np.round(grey * 255).astype(np.uint8)
        alpha = np.where(np.arange(H)[:, None] < H // 2, 255, 0).astype(np.uint8) * np.ones((1, W), np.uint8)
        Image.fromarray(np.dstack([values, alpha]), "LA").save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        a = alpha[..., None] / 255.0
        expected = np.repeat(values[..., None] / 255.0, 3, axis=2) * a + background * (1 - a)
    elif mode in ("P", "P+transparency", "PA"):
        palette = [(0, 0, 0), (255, 0, 0), (0, 200, 0), (30, 60, 250)]
        index = (np.arange(W)[None, :] * 4 // W + np.zeros((H, 1), int)).astype(np.uint8)
        image = Image.fromarray(index, "P")
        image.putpalette([c for rgb in palette for c in rgb] + [0] * (768 - 12))
        expected = np.array(palette, float)[index] / 255.0
        if mode == "P+transparency":
            image.info["transparency"] = 1  # the red entry is transparent: red must not show
            image.save(path, fmt, transparency=1)
            expected[index == 1] = background
        elif mode == "PA":
            alpha = np.full((H, W), 255, np.uint8)
            alpha[:, : W // 2] = 0
            rgba = np.dstack([(np.array(palette, np.uint8)[index]), alpha])
            Image.fromarray(rgba, "RGBA").convert("PA").save(path, fmt)
            expected[:, : W // 2] = background
        else:
            image.save(path, fmt)
    elif mode == "I;16":
        values = np.round(grey * 65535).astype(np.uint16)
        values[4:8, 4:8] = 4000  # a dark square, as in the ramp case
        Image.fromarray(values).save(path, fmt)
        expected = np.repeat(values[..., None] / 65535.0, 3, axis=2)
    elif mode == "I":
        values = np.round(grey * (2**31 - 1)).astype(np.int32)
        import tifffile
        tifffile.imwrite(path, values)
        expected = np.repeat(values[..., None] / (2**31 - 1), 3, axis=2)
    elif mode == "F":
        values = grey.astype(np.float32)
        Image.fromarray(values, "F").save(path, fmt)
        expected = np.repeat(values[..., None].astype(float), 3, axis=2)
    elif mode == "RGB":
        values = np.round(colour_picture() * 255).astype(np.uint8)
        Image.fromarray(values, "RGB").save(path, fmt, **({"quality": 95} if fmt in LOSSY else {}))
        expected = values / 255.0
        if fmt == "GIF":  # GIF holds 256 colours: the quantised picture is what people see
            expected = np.asarray(Image.open(path).convert("RGB"), float) / 255.0
    elif mode == "RGBA":
        values = np.round(colour_picture() * 255).astype(np.uint8)
        alpha = np.tile(np.round(np.linspace(0, 255, W)).astype(np.uint8), (H, 1))
        alpha[:, :4] = 0
        rgba = np.dstack([values, alpha])
        rgba[:, :4, :3] = (255, 0, 0)  # colour kept under full transparency
        Image.fromarray(rgba, "RGBA").save(path, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        a = alpha[..., None] / 255.0
        expected = rgba[..., :3] / 255.0 * a + background * (1 - a)
    elif mode in ("CMYK", "YCbCr"):
        values = np.round(colour_picture() * 255).astype(np.uint8)
        rgb = Image.fromarray(values, "RGB")
        converted = rgb.convert(mode)
        converted.save(path, fmt, **({"quality": 95} if fmt in LOSSY else {}))
        expected = np.asarray(converted.convert("RGB"), float) / 255.0
    else:
        raise ValueError(mode)
    return path, expected


def sixteen_bit_rgb(folder: Path, fmt: str) -> tuple[Path, np.ndarray]:
    """A 16-bit RGB picture (PNG via ffmpeg's rgb48, TIFF via tifffile); values use the whole range."""
    values = np.round(colour_picture() * 65535).astype(np.uint16)
    path = Path(folder) / f"rgb16.{EXTENSION[fmt]}"
    if fmt == "TIFF":
        import tifffile
        tifffile.imwrite(path, values, photometric="rgb")
    else:
        ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", f"{W}x{H}", "-i", "pipe:", "-frames:v", "1",
                "-pix_fmt", "rgb48be", str(path)], values.astype("<u2").tobytes())
    return path, values / 65535.0


def float_rgb_tiff(folder: Path, dtype=np.float32) -> tuple[Path, np.ndarray]:
    """A float RGB TIFF (Pillow cannot read these; the loader falls back to tifffile)."""
    import tifffile
    values = colour_picture().astype(dtype)
    path = Path(folder) / f"rgb-{np.dtype(dtype).name}.tif"
    tifffile.imwrite(path, values, photometric="rgb")
    return path, values.astype(float)


# --- orientation ---------------------------------------------------------------------------------

def marked_picture() -> np.ndarray:
    """uint8 RGB (H, W, 3) with a different colour in each corner (so every flip and turn shows)."""
    picture = np.full((H, W, 3), 128, np.uint8)
    picture[:4, :4] = (255, 0, 0)
    picture[:4, -4:] = (0, 255, 0)
    picture[-4:, :4] = (0, 0, 255)
    picture[-4:, -4:] = (255, 255, 0)
    return picture


def oriented_case(orientation: int, folder: Path, fmt: str = "JPEG") -> tuple[Path, np.ndarray]:
    """The marked picture stored with EXIF orientation ``orientation``; expected: what Pillow's own
    ``ImageOps.exif_transpose`` shows (an independent implementation of the EXIF table)."""
    from PIL import ImageOps
    stored = Image.fromarray(marked_picture())
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = Path(folder) / f"oriented-{orientation}.{EXTENSION[fmt]}"
    stored.save(path, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    with Image.open(path) as opened:
        expected = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"), float) / 255.0
    return path, expected


# --- animations and video ------------------------------------------------------------------------

def grey_frames(levels, width: int = W, height: int = H) -> list[np.ndarray]:
    return [np.full((height, width, 3), level, np.uint8) for level in levels]


def animation(folder: Path, fmt: str, levels, delays_ms) -> Path:
    """An animated GIF, WebP or PNG (APNG) of flat grey frames with the given delays."""
    path = Path(folder) / f"anim.{ {'GIF': 'gif', 'WEBP': 'webp', 'PNG': 'png'}[fmt] }"
    frames = [Image.fromarray(f) for f in grey_frames(levels)]
    options = {"lossless": True} if fmt == "WEBP" else {}
    if fmt == "GIF":
        options["disposal"] = 1
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=list(delays_ms), loop=0, **options)
    return path


def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(args: list[str], stdin: bytes | None = None) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-hide_banner", "-loglevel", "error"] + args, input=stdin, check=True)


def vfr_video(path: Path, levels, stamps, codec: str = "ffv1") -> Path:
    """A video whose frame i is flat grey ``levels[i]`` presented at ``stamps[i]`` seconds (a
    variable frame rate, as phones and screen recorders write)."""
    expression = "+".join(f"{t}*eq(N\\,{i})" for i, t in enumerate(stamps))
    raw = b"".join(f.tobytes() for f in grey_frames(levels, 32, 16))
    pix = "yuv420p" if codec in ("libx264", "libvpx-vp9") else "rgb24" if codec == "ffv1" else "yuv444p"
    ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "32x16", "-r", "1000", "-i", "pipe:",
            "-vf", f"setpts='({expression})/TB',format={pix}", "-fps_mode", "passthrough",
            "-enc_time_base", "1/1000", "-c:v", codec, str(path)], raw)
    return Path(path)


def rotated_video(path: Path, rotation: int) -> Path:
    """A clip of the marked picture (twice its size, 3 frames) with a display rotation flag."""
    picture = np.repeat(np.repeat(marked_picture(), 2, axis=0), 2, axis=1)
    plain = Path(path).with_name("plain-" + Path(path).name)
    ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W * 2}x{H * 2}", "-r", "4", "-i", "pipe:",
            "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv444p", str(plain)], picture.tobytes() * 3)
    ffmpeg(["-display_rotation", str(rotation), "-i", str(plain), "-c", "copy", str(path)])
    return Path(path)


def png_bytes(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, "PNG")
    return buffer.getvalue()
