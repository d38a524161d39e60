"""Flows computed once: a content-addressed cache of :class:`FramePairFlow` on disk.

The key is the sha256 of both source frames' pixels (as the engine sees them, at the working size)
and the flow settings, never a frame index: re-rendering with other style or dream settings reuses
every flow, a re-cut source recomputes only the pairs whose frames changed, and two recipes over the
same footage share flows.  Entries are written atomically, so a killed run never leaves half a flow.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..cachedir import cache_folder
from .flow import FlowSettings, FramePairFlow, pair_flow


def default_flow_folder() -> Path:
    """Where flows are cached: ``$NEURAL_RENDER_CACHE/flows``, else ``$XDG_CACHE_HOME`` (or
    ``~/.cache``) ``/neural-render/flows``; shared by every run on this machine."""
    return cache_folder("flows")


def frame_digest(frame: np.ndarray) -> str:
    """sha256 of a frame's pixels, shape and type."""
    frame = np.ascontiguousarray(frame)
    digest = hashlib.sha256(f"{frame.shape}{frame.dtype}".encode())
    digest.update(frame.tobytes())
    return digest.hexdigest()


class FlowCache:
    """``folder/ab/<key>.npz`` per frame pair; ``hits`` and ``misses`` count this object's lookups and
    ``seconds`` the time spent computing flows (for the progress line)."""

    def __init__(self, folder: Path, settings: FlowSettings = FlowSettings()):
        self.folder, self.settings = Path(folder), settings
        self.hits = self.misses = 0
        self.seconds = 0.0

    def key(self, previous: np.ndarray, current: np.ndarray) -> str:
        parts = {"previous": frame_digest(previous), "current": frame_digest(current), **self.settings.key()}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npz"

    def pair(self, previous: np.ndarray, current: np.ndarray) -> FramePairFlow:
        """The flows between two consecutive source frames, from the cache or computed and stored."""
        import time
        path = self.path(self.key(previous, current))
        if path.is_file():
            try:
                with np.load(path) as stored:
                    flow = FramePairFlow(stored["forward"], stored["backward"], stored["mask"])
                self.hits += 1
                return flow
            except (OSError, ValueError, KeyError):
                pass  # unreadable: computed again and replaced
        start = time.perf_counter()
        flow = pair_flow(previous, current, self.settings)
        self.seconds += time.perf_counter() - start
        self.misses += 1
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".partial")
        with os.fdopen(handle, "wb") as out:
            np.savez(out, forward=flow.forward, backward=flow.backward, mask=flow.mask)
        os.replace(temporary, path)
        return flow
