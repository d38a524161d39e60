"""Frame keys: a hash of everything that determines a frame's pixels.

The static part covers the kind and its engine version, seed, size, model (weights file bytes),
resolved precision and the kind's own key parts (an init image's bytes, tile, layer targets ...).
Then, per frame, the part of the plan row that the kind says can change the frame:

- chained kinds: ``key[n] = sha256(key[n-1], n, row n)``, starting from the static part, so a change
  at frame 5 changes the keys of frames 5 onwards and nothing before;
- independent kinds: ``key[n] = sha256(static, n, row n)``, so only frames whose row changed change.

Files are keyed by their content: a :class:`pathlib.Path` in the kind's key parts and every value of a
file column are replaced by their sha256.  Video settings (codec, quality, loop) are never part of a
key: re-encoding never re-renders.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from .media import DEFAULT_BACKGROUND
from .plan import Plan
from .store import content_sha256 as content_digest




def model_identity(recipe) -> str:
    packaged = recipe.model.packaged()
    if packaged is not None:   # known before the package is fetched: its pinned digest and conversion
        return f"{recipe.model.name}:{hashlib.sha256(packaged.digest().encode()).hexdigest()}"
    weights = recipe.model.weights_file()
    if recipe.model.stylegan is not None:      # a pickle is its bytes, whatever the file is called
        return f"stylegan:{content_digest(weights)}"
    return f"{recipe.model.name}:{content_digest(weights)}" if weights is not None else recipe.model.name


def _plain(value: Any) -> Any:
    """JSON-ready form of a key part: files by content, arrays as lists, floats by repr."""
    if isinstance(value, Path):
        return {"file": content_digest(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [repr(float(v)) for v in value.reshape(-1)]
    if isinstance(value, float):
        return repr(value)
    return value


def static_key(recipe) -> str:
    parts = {
        "kind": recipe.kind.name, "engine": recipe.kind.engine_version, "seed": recipe.seed,
        "size": list(recipe.output.size), "model": model_identity(recipe) if recipe.kind.uses_model(recipe) else None,
        "precision": recipe.precision,
        "backend": recipe.backend,
        "kind_parts": _plain(recipe.kind.key_parts(recipe)),
    }
    if tuple(recipe.background) != DEFAULT_BACKGROUND:  # keys of recipes that keep the default stay as they were
        parts["background"] = [repr(float(v)) for v in recipe.background]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def row_text(plan: Plan, index: int) -> str:
    """Frame ``index``'s key-relevant row as canonical JSON (file columns by content)."""
    row = plan.recipe.kind.key_row(plan.recipe, index, plan.row(index))
    plain = {name: ({"file": content_digest(value)} if name in plan.file_columns else _plain(value))
             for name, value in row.items()}
    return json.dumps(plain, sort_keys=True)


def frame_keys(plan: Plan) -> list[str]:
    """One hex key per frame of ``plan``."""
    static = static_key(plan.recipe)
    chained = plan.recipe.kind.chained
    keys, previous = [], static
    for index in range(plan.frames):
        key = hashlib.sha256(f"{previous if chained else static}|{index}|{row_text(plan, index)}".encode()).hexdigest()
        keys.append(key)
        previous = key
    return keys
