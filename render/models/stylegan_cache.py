"""StyleGAN pickles converted once into the user cache, keyed by the file's sha256.

``<cache>/stylegan/<sha256>/config.json`` (the description of :mod:`.stylegan_weights`) and
``arrays.npz`` (its float32 arrays).  Both are written to temporary names and renamed, so a killed
conversion leaves nothing half-written; a later run converts again.  Reading a converted network
never opens the pickle again (only its digest is taken, to find the folder).
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..cachedir import cache_folder
from ..errors import ModelError
from .stylegan_pickle import file_digest
from .stylegan_weights import FORMAT, convert


def converted_folder(digest: str) -> Path:
    return cache_folder("stylegan") / digest


@lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime: int) -> str:
    return file_digest(Path(path))


def digest_of(path: Path) -> str:
    """sha256 of a pickle (remembered per path, size and modification time within a process)."""
    stat = Path(path).stat()
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def _write_atomic(target: Path, write) -> None:
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def ensure_converted(path: Path) -> Path:
    """The cache folder of the pickle at ``path``, converting it first when needed."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"StyleGAN pickle not found: {path}")
    folder = converted_folder(digest_of(path))
    if (folder / "config.json").is_file() and (folder / "arrays.npz").is_file():
        return folder
    config, arrays = convert(path)
    folder.mkdir(parents=True, exist_ok=True)
    # arrays first: a folder with config.json is complete
    _write_atomic(folder / "arrays.npz", lambda name: np.savez(open(name, "wb"), **arrays))
    _write_atomic(folder / "config.json", lambda name: Path(name).write_text(json.dumps(config, indent=1)))
    return folder


def load_config(path: Path) -> dict:
    """The description of the generator in the pickle at ``path`` (converting it on first use)."""
    folder = ensure_converted(path)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: the converted network is unreadable ({err}); delete the folder") from None
    if config.get("format") != FORMAT:
        raise ModelError(f"{folder}: converted by another version of this renderer; delete the folder")
    return config


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The converted float32 arrays of the pickle at ``path``."""
    folder = ensure_converted(path)
    try:
        with np.load(folder / "arrays.npz") as stored:
            return {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as err:
        raise ModelError(f"{folder}: the converted network is unreadable ({err}); delete the folder") from None
