"""The user cache every run on this machine shares: flows, audio features and converted models.

``$NEURAL_RENDER_CACHE/<part>``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/neural-render/<part>``;
read on every call, so a changed variable takes effect at once.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_VARIABLE = "NEURAL_RENDER_CACHE"


def cache_folder(part: str) -> Path:
    """The folder of one part of the cache (``"flows"``, ``"audio"``, ``"models"``); not created."""
    root = os.environ.get(CACHE_VARIABLE)
    if root:
        return Path(root) / part
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "neural-render" / part
