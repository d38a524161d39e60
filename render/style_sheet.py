"""`render styles`: the fast network's 26 built-in styles drawn on one picture, numbered, so an
artist can pick ``"builtin:N"`` for a recipe (the styles have no names of their own)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import RenderError

LABEL = 18


class SheetError(RenderError):
    exit_code = 2


def builtin_sheet(picture: Path, side: int = 256, columns: int = 7, style_scale: float = 1.0):
    """A PIL image: ``picture`` fitted into ``side`` pixels (its aspect kept), then each built-in style
    of it, numbered, ``columns`` a row.  ``style_scale`` > 1 draws larger strokes (the network runs
    on a picture that many times smaller)."""
    from PIL import Image, ImageDraw

    from .backend import activate, resolve_backend
    from .media import MediaError, picture_info
    from .models.stylenet_weights import BUILTIN_STYLES, BuiltinStyle

    try:
        info = picture_info(picture)
    except (MediaError, OSError, ValueError) as err:
        raise SheetError(f"{picture}: {err}") from None
    scale = side / max(info.width, info.height)
    width, height = max(8, round(info.width * scale)), max(8, round(info.height * scale))
    activate(resolve_backend("auto")[0])
    from .engines.fast_style import FastStyleEngine, Stylizer
    from .media import load_image
    content = load_image(picture, width, height)
    stylizer = Stylizer(True)
    tiles = [("picture", content)]
    for index in range(BUILTIN_STYLES):
        settings = _Settings({"s": BuiltinStyle(index)})
        engine = FastStyleEngine(settings, width, height, None, stylizer)
        tiles.append((str(index), engine.stylize(content, {"style.strength": 1.0, "style.style_scale": style_scale})))
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (width + 6) + 6, rows * (height + LABEL + 6) + 6), (17, 17, 17))
    draw = ImageDraw.Draw(sheet)
    for n, (label, tile) in enumerate(tiles):
        x, y = 6 + (n % columns) * (width + 6), 6 + (n // columns) * (height + LABEL + 6)
        sheet.paste(Image.fromarray(np.round(np.clip(tile, 0, 1) * 255).astype(np.uint8)), (x, y + LABEL))
        draw.text((x + 2, y + 3), label if label == "picture" else f"builtin:{label}", fill=(220, 220, 220))
    return sheet


class _Settings:
    """The few settings :class:`FastStyleEngine.stylize` reads."""

    def __init__(self, images):
        self.images, self.mix_given, self.preserve_colors, self.working_scale = images, False, False, 1.0
