"""What every picture the renderer writes says about itself: the resolved recipe as TOML, the
renderer's version, the recipe's name and the hash of the frame (or print) key.

Frames, stills and posters carry it as PNG iTXt chunks, prints in their TIFF ImageDescription (or PNG
iTXt / JPEG comment), videos as container tags (title = recipe name, comment = recipe hash).
``render inspect FILE`` prints it; ``render run FILE.png`` renders the recipe it holds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import tomli_w

from . import __version__

RECIPE = "recipe"            # the resolved recipe, TOML
RECIPE_PATH = "recipe_path"  # where it was read from, as given: relative assets resolve against its folder
RECIPE_ABSPATH = "recipe_abspath"
RENDERER = "renderer"
KEY = "key"


def _toml_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _toml_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_toml_ready(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def recipe_toml(recipe) -> str:
    """The resolved recipe (defaults of [output] filled, --set applied) as TOML text."""
    return tomli_w.dumps(_toml_ready(recipe.resolved))


def recipe_hash(recipe) -> str:
    """Short hash of the resolved recipe: the same text, the same hash."""
    return hashlib.sha256(recipe_toml(recipe).encode()).hexdigest()[:16]


def picture_metadata(recipe, key: str = "") -> dict[str, str]:
    """Text metadata for a picture of ``recipe``; ``key`` the frame or print key (hex)."""
    data = {RENDERER: f"neural-render {__version__}", "kind": recipe.kind.name, "recipe_name": recipe.name,
            RECIPE_PATH: str(recipe.path), RECIPE_ABSPATH: str(Path(recipe.path).resolve()),
            RECIPE: recipe_toml(recipe)}
    if key:
        data[KEY] = key
    return data


PICTURE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")


def read_picture_metadata(path: Path) -> dict[str, str]:
    """The text metadata of a PNG, TIFF or JPEG (empty when it has none)."""
    from .prints.files import read_print_info
    return read_print_info(Path(path)).metadata


def recipe_from_picture(path: Path) -> tuple[str, Path]:
    """(recipe TOML, the path it was rendered from) carried by a picture the renderer wrote.

    Relative assets resolve against the original recipe's folder: the path as it was given (relative
    to the current folder, as in a clone of the same repository), else the absolute path it had, else
    the picture's own folder.  ValueError when the picture carries no recipe."""
    data = read_picture_metadata(path)
    if RECIPE not in data:
        raise ValueError(f"{path} carries no recipe (it was not written by neural-render)")
    given = Path(data.get(RECIPE_PATH) or Path(path).with_suffix(".toml").name)
    for origin in (given, Path(data.get(RECIPE_ABSPATH, given))):
        if origin.parent.is_dir() and origin.parent != Path("."):
            return data[RECIPE], origin
    return data[RECIPE], Path(path).resolve().parent / given.name
