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
from pathlib import Path

import numpy as np

from ..cachedir import cache_folder
from ..errors import ModelError
from ..store import content_sha256
from .stylegan_weights import FORMAT, convert


def converted_folder(digest: str) -> Path:
    return cache_folder("stylegan") / digest


def digest_of(path: Path) -> str:
    """sha256 of a pickle (hashed once per process for a given size and modification time)."""
    return content_sha256(Path(path).resolve())


def _write_atomic(target: Path, write) -> None:
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        os.chmod(temporary, 0o644)     # readable like the rest of the cache
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
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # arrays first: a folder with config.json is complete

        def save(name):
            with open(name, "wb") as stream:
                np.savez(stream, **arrays)

        _write_atomic(folder / "arrays.npz", save)
        _write_atomic(folder / "config.json", lambda name: Path(name).write_text(json.dumps(config, indent=1)))
    except OSError as err:
        raise ModelError(f"cannot write the converted network into the cache at {folder} "
                         f"({err.strerror or err}): check NEURAL_RENDER_CACHE") from None
    return folder


def _forget(folder: Path) -> None:
    """Remove a damaged conversion, so that the next read converts the pickle again."""
    for name in ("config.json", "arrays.npz"):
        try:
            (folder / name).unlink()
        except OSError:
            pass


def _read(path: Path, read):
    """``read(folder)`` of the pickle's conversion; a damaged or outdated conversion (truncated,
    overwritten, from another version of this renderer) is converted again, once."""
    for attempt in (1, 2):
        folder = ensure_converted(path)
        try:
            return read(folder)
        except Exception as err:   # json, zip, npz and OS errors come in many types
            if attempt == 2:
                raise ModelError(f"{folder}: the converted network is unreadable even after converting again "
                                 f"({type(err).__name__}: {err})") from None
            _forget(folder)


def _config(folder: Path) -> dict:
    config = json.loads((folder / "config.json").read_text())
    if config.get("format") != FORMAT:
        raise ValueError(f"format {config.get('format')!r}, this renderer writes {FORMAT}")
    return config


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "arrays.npz", allow_pickle=False) as stored:
        return {name: stored[name] for name in stored.files}


def load_config(path: Path) -> dict:
    """The description of the generator in the pickle at ``path`` (converting it on first use)."""
    return _read(path, _config)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The converted float32 arrays of the pickle at ``path``."""
    return _read(path, _arrays)
