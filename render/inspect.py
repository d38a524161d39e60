"""`render inspect FILE`: what a picture (PNG, TIFF, JPEG) or video written by the renderer says about
itself: size, depth, dpi, colour profile, renderer version, recipe name and key, then the recipe."""

from __future__ import annotations

from pathlib import Path

from .errors import OutputError
from .metadata import KEY, PICTURE_SUFFIXES, RECIPE, RENDERER
from .outputs.probe import stream_summary, video_tags


def _as_seen(path: Path) -> list[str]:
    """How the media loader sees a picture, when that differs from its stored pixels: EXIF orientation,
    animation frames."""
    from .media import PictureError, picture_info
    try:
        seen = picture_info(path)
    except PictureError:
        return []
    lines = []
    if seen.orientation not in (0, 1):
        lines.append(f"orientation EXIF {seen.orientation}: used as {seen.width}x{seen.height}")
    if seen.animated:
        lines.append(f"animation   {seen.frames} frames over {sum(seen.durations):g} s")
    return lines


def describe_file(path: Path, recipe_only: bool = False) -> str:
    path = Path(path)
    if path.suffix.lower() in PICTURE_SUFFIXES:
        from .prints.files import read_print_info
        try:
            info = read_print_info(path)
        except Exception as err:  # noqa: BLE001  Pillow raises many types (a decompression bomb, a bad header)
            raise OutputError(f"cannot read {path}: {err}") from None
        recipe = info.metadata.get(RECIPE)
        if recipe_only:
            if recipe is None:
                raise OutputError(f"{path} carries no recipe")
            return recipe
        dpi = f"{info.dpi[0]:g} dpi" if info.dpi else "no dpi"
        lines = [f"file        {path}", f"pixels      {info.width}x{info.height}, {info.bits}-bit, {dpi}, "
                                        f"profile {info.icc_description or 'none'}"]
        lines += _as_seen(path)
        for name in (RENDERER, "recipe_name", "kind", KEY, "print_size", "frame", "upscaled", "recipe_path"):
            if name in info.metadata:
                lines.append(f"{name:<11} {info.metadata[name]}")
        lines.append("" if recipe else "no recipe in this file")
        return "\n".join(lines) + "\n" + (recipe or "")
    tags = video_tags(path.absolute())  # ffmpeg takes a relative name with a colon (take:2.mp4) for a protocol
    if recipe_only:
        raise OutputError(f"{path}: videos carry the recipe's name and hash, not its text; inspect a frame")
    streams = stream_summary(path)
    if not tags:
        return "\n".join([f"{path}: no container metadata"] + streams + _as_seen(path)) + "\n"
    return "\n".join([f"{k:<11} {v}" for k, v in tags.items()] + streams) + "\n"
