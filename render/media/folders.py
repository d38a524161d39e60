"""Folders of frames: which files are frames, and in which order.

Frames are the folder's own picture files (sub-folders are not entered), in *natural* order: the
numbers inside names compare as numbers, so ``frame_2`` comes before ``frame_10`` whatever the zero
padding, and case is ignored.  Hidden files and the clutter that operating systems leave in folders
are never frames: any name starting with ``.`` (macOS ``._*`` AppleDouble sidecars, ``.DS_Store``),
``Thumbs.db``, ``ehthumbs.db``, ``desktop.ini``, and Office's ``~$`` lock files.
"""

from __future__ import annotations

import re
from pathlib import Path

CLUTTER = frozenset({"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini", "icon\r"})
_NUMBER = re.compile(r"(\d+)")
_SEPARATORS = re.compile(r"[\s_\-.]+")


def is_clutter(path: Path) -> bool:
    """True for hidden files and system clutter (never frames)."""
    name = Path(path).name
    return name.startswith((".", "~$")) or name.casefold() in CLUTTER


def natural_key(name: str) -> tuple:
    """Sort key comparing runs of digits as numbers: ``frame_2`` < ``frame_10`` < ``Frame_11``;
    case is ignored and separators (space, ``_``, ``-``, ``.``) count alike, so ``frame-100`` comes after
    ``frame_02``; names equal but for padding (``f_01``, ``f_1``) keep a stable order by the name itself."""
    parts = _NUMBER.split(_SEPARATORS.sub(" ", name.casefold()))
    return tuple((0, int(p), p) if i % 2 else (1, p, "") for i, p in enumerate(parts)), name


def folder_frames(folder: Path, suffixes) -> tuple[Path, ...]:
    """The frames of ``folder``: its files with one of ``suffixes`` (lower case, with the dot), not
    clutter, in natural order."""
    files = [p for p in Path(folder).iterdir()
             if p.suffix.lower() in suffixes and not is_clutter(p) and p.is_file()]
    return tuple(sorted(files, key=lambda p: natural_key(p.name)))
