"""Frame keys: a hash of everything that determines a frame.

Frame ``n`` of a feedback video depends on frame ``n-1``, so keys form a chain:
``key[n] = sha256(key[n-1], row n of the plan, static part)``, where the static part covers the kind,
seed, size, tile, layer targets, model (name and weights file), init image bytes and the engine
version.  Video settings (codec, quality, loop) are not in it: re-encoding never re-renders.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from .models import catalog
from .models.precision import resolve_precision
from .plan import Plan

ENGINE_VERSION = "dream-4"


@lru_cache(maxsize=8)
def file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file; cached on (path, size, mtime) so large weights are hashed once per process."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _digest(path: Path) -> str:
    stat = path.stat()
    return file_digest(str(path), stat.st_size, stat.st_mtime_ns)


def model_identity(recipe) -> str:
    info = catalog.resolve(recipe.model_name, recipe.base_dir)
    if info.path is not None:
        return _digest(info.path)
    if info.name == "vgg16":
        return f"{info.name}:{_digest(catalog.embedded_vgg16_weights())}"
    return info.name


def static_key(recipe) -> str:
    dream = recipe.dream
    parts = {
        "engine": ENGINE_VERSION, "kind": recipe.kind, "seed": recipe.seed,
        "size": list(recipe.output.size), "tile": dream.tile,
        "targets": [[t.layer, t.channel] for t in dream.layers],
        "model": model_identity(recipe),
        "precision": resolve_precision(recipe.precision),
        "init": _digest(dream.init) if dream.init is not None else "noise",
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def frame_keys(plan: Plan) -> list[str]:
    """One hex key per frame of ``plan``."""
    previous = static_key(plan.recipe)
    keys = []
    for index in range(plan.frames):
        row = json.dumps({k: repr(v) for k, v in sorted(plan.row(index).items())})
        previous = hashlib.sha256(f"{previous}|{index}|{row}".encode()).hexdigest()
        keys.append(previous)
    return keys
