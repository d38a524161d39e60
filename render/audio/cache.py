"""Audio features computed once: a content-addressed cache of hop-rate curves and beat times on disk.

The key is the sha256 of the track's digest (its bytes, never its name), the feature's settings
(:meth:`FeatureSpec.key`, without the recipe's name for it), the analysis grid and
:data:`ANALYSIS_VERSION`: renaming a feature, changing fps or offset, or moving the file reuses every
entry; replacing the file's bytes or changing a setting computes again.  What is stored is the curve at
the analysis hop rate, after smoothing, normalisation and gamma (or a track's beat times); sampling it
at frame times is cheap and done on every call.  Entries are written atomically (a temporary file, then
``os.replace``), so a killed run never leaves half an entry; an unreadable entry is computed again.

Folder: ``$NEURAL_RENDER_CACHE/audio``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``)
``/neural-render/audio``, shared by every run on this machine; ``<key[:2]>/<key>.npy`` per curve and
``tracks/<digest>.json`` with each track's duration (so a fully cached run never decodes the file).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..cachedir import cache_folder

ANALYSIS_VERSION = 5  # bump when any computation in features.py changes its numbers
                      # (5: channels combined by power, not averaged samples)


def default_audio_folder() -> Path:
    """``$NEURAL_RENDER_CACHE/audio``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/neural-render/audio``
    (read on every call, so a changed variable takes effect at once)."""
    return cache_folder("audio")


def entry_key(digest: str, settings: dict, grid: dict) -> str:
    """sha256 of the track digest, the settings, the analysis grid and the analysis version."""
    parts = {"track": digest, "settings": settings, "grid": grid, "version": ANALYSIS_VERSION}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def entry_path(key: str, folder: Path | None = None) -> Path:
    return (folder or default_audio_folder()) / key[:2] / f"{key}.npy"


def load_array(key: str) -> np.ndarray | None:
    """The stored array of ``key``, or None when absent or unreadable."""
    path = entry_path(key)
    if not path.is_file():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # unreadable: computed again and replaced


def store_array(key: str, array: np.ndarray) -> None:
    _atomic_write(entry_path(key), lambda out: np.save(out, np.asarray(array), allow_pickle=False))


def _duration_path(digest: str) -> Path:
    return default_audio_folder() / "tracks" / f"{digest}.json"


def read_duration(digest: str) -> float | None:
    """The recorded duration (seconds) of the track with this digest, or None."""
    try:
        return float(json.loads(_duration_path(digest).read_text())["duration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_duration(digest: str, duration: float) -> None:
    text = json.dumps({"duration": duration}).encode()
    _atomic_write(_duration_path(digest), lambda out: out.write(text))
