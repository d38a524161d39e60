"""The run folder: resolved recipe, PNG frames with hash sidecars, a lock, and the encoded outputs.

Layout::

    RUN/recipe.toml           copy of the recipe text as given
    RUN/run.json              resolved recipe (defaults filled, --set applied), overrides, versions
    RUN/frames/frame_000012.png
    RUN/frames/frame_000012.json   {"key": <hash of everything that determines the frame>,
                                    "sha256": <png>, "size": <png bytes>, "mtime_ns": <png mtime>}
    RUN/.lock                 held (flock) while a run writes here

Every file is written to a temporary name and renamed, so a killed run never leaves a half frame that
looks finished.  A frame counts as done only when its sidecar's key matches and its PNG is the one the
sidecar vouches for: same size and modification time as recorded (no re-hashing, so resuming a run of
large frames is quick), or, when either differs, bytes that hash to the recorded sha256.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
from PIL import Image, PngImagePlugin

from .errors import OutputError


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (large prints are not loaded whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=64)
def _remembered_sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(Path(path))


def content_sha256(path: Path | str) -> str:
    """:func:`file_sha256`, remembered per (path, size, modification time) within a process, so large
    weights files are hashed once."""
    stat = Path(path).stat()
    return _remembered_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def atomic_write(path: Path, data: bytes | Callable[[BinaryIO], None], durable: bool = True) -> None:
    """Write ``data`` (bytes, or a function writing to the open file) to ``path`` via a temporary file
    in the same folder and a rename; ``durable`` flushes it to disk (fsync) before the rename."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


def encode_png(image: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """uint8 ``(H, W, 3)`` -> PNG bytes with ``text`` as iTXt chunks (deterministic: same pixels and
    text, same bytes)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=4, pnginfo=png_text(text) if text else None)
    return buffer.getvalue()


def png_text(text: dict[str, str]) -> PngImagePlugin.PngInfo:
    """Each entry as a compressed UTF-8 iTXt chunk."""
    info = PngImagePlugin.PngInfo()
    for name, value in text.items():
        info.add_itxt(name, value, zip=True)
    return info


class RunStore:
    """One run folder.  Use as a context manager to hold its lock while writing.  ``picture_text``
    goes into every stored frame's PNG (with the frame's key added)."""

    def __init__(self, root: Path, picture_text: dict[str, str] | None = None, frames_folder: str = "frames"):
        self.root = Path(root)
        self.picture_text = picture_text
        self.frames_dir = self.root / frames_folder   # "upscaled" for the upscale stage's frames
        self._lock_handle = None
        self._verified: dict[int, tuple[str, int, int]] = {}  # index -> (key, size, mtime_ns) of a checked PNG

    def __enter__(self) -> "RunStore":
        self.lock()
        return self

    def __exit__(self, *exc) -> None:
        self.unlock()

    def lock(self) -> None:
        """Take the folder's lock or raise OutputError: two runs never write into one folder."""
        try:
            self.frames_dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / ".lock", "a+")
        except OSError as err:
            raise OutputError(f"cannot use run folder {self.root}: {err}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise OutputError(f"{self.root} is in use by another render (its .lock is held); "
                              "wait for it or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle

    def unlock(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def frame_path(self, index: int) -> Path:
        return self.frames_dir / f"frame_{index:06d}.png"

    def sidecar_path(self, index: int) -> Path:
        return self.frames_dir / f"frame_{index:06d}.json"

    def write_metadata(self, recipe_text: str, metadata: dict) -> None:
        atomic_write(self.root / "recipe.toml", recipe_text.encode("utf-8"))
        atomic_write(self.root / "run.json", json.dumps(metadata, indent=2, sort_keys=True).encode())

    def is_done(self, index: int, key: str) -> bool:
        """True when frame ``index`` is stored for exactly this ``key`` and its PNG is intact.

        The PNG is re-hashed only when its size or mtime differ from the sidecar's record."""
        try:
            stat = self.frame_path(index).stat()
            if self._verified.get(index) == (key, stat.st_size, stat.st_mtime_ns):
                return True
            sidecar = json.loads(self.sidecar_path(index).read_text())
            if sidecar.get("key") != key:
                return False
            unchanged = (sidecar.get("size"), sidecar.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns)
            if not unchanged and file_sha256(self.frame_path(index)) != sidecar.get("sha256"):
                return False
        except (OSError, ValueError):
            return False
        self._verified[index] = (key, stat.st_size, stat.st_mtime_ns)
        return True

    def save(self, index: int, image: np.ndarray, key: str) -> None:
        """Store uint8 ``(H, W, 3)`` frame ``index``: PNG first, then the sidecar that vouches for it."""
        text = None if self.picture_text is None else dict(self.picture_text, key=key)
        png = encode_png(image, text)
        atomic_write(self.frame_path(index), png)
        stat = self.frame_path(index).stat()
        sidecar = {"key": key, "sha256": hashlib.sha256(png).hexdigest(), "size": stat.st_size,
                   "mtime_ns": stat.st_mtime_ns}
        # no fsync: a sidecar lost in a crash only means its frame is rendered again
        atomic_write(self.sidecar_path(index), json.dumps(sidecar).encode(), durable=False)
        self._verified[index] = (key, stat.st_size, stat.st_mtime_ns)  # just hashed: no need to re-read

    def load(self, index: int) -> np.ndarray:
        """Stored frame ``index`` as uint8 ``(H, W, 3)``."""
        try:
            with Image.open(self.frame_path(index)) as image:
                return np.asarray(image.convert("RGB"))
        except OSError as err:
            raise OutputError(f"cannot read stored frame {self.frame_path(index)}: {err}") from None
