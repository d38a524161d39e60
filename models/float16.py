"""Store a Keras ``.weights.h5`` file's floating-point datasets in float16, in place (shared by the
model folders' scripts: ``edges2faces/to_float16.py`` and ``dcgan-faces64/convert.py``).

The file keeps Keras' layout (the same groups, attributes and dataset names); only the datasets'
dtype changes, so the file is half the size.  Keras casts each stored array to the dtype of the
variable it is loaded into, so models are still built in float32: only the storage is float16.
HDF5 does not give back the space of a replaced dataset, so the file is copied into a new one beside
it and moved over the old one.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

FLOAT16_MAX = float(np.finfo(np.float16).max)


def float_datasets(path: Path) -> dict[str, np.dtype]:
    """Name -> dtype of every floating-point dataset in the file."""
    found: dict[str, np.dtype] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj.dtype)
                     if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" else None)
    return found


def _copy(source: h5py.Group, target: h5py.Group) -> None:
    target.attrs.update(source.attrs)
    for name, item in source.items():
        if isinstance(item, h5py.Group):
            _copy(item, target.create_group(name))
            continue
        value = item[()]
        if item.dtype.kind == "f":
            if np.abs(value).max(initial=0.0) > FLOAT16_MAX or not np.isfinite(value).all():
                raise ValueError(f"{item.name}: values do not fit in float16")
            value = np.asarray(value).astype(np.float16)
        target.create_dataset(name, data=value).attrs.update(item.attrs)


def to_float16(path: Path) -> bool:
    """Rewrite ``path`` with float16 datasets; False (nothing written) when it already has no others."""
    if all(dtype == np.float16 for dtype in float_datasets(path).values()):
        return False
    temporary = path.with_name(path.name + ".tmp")
    with h5py.File(path, "r") as source, h5py.File(temporary, "w") as target:
        _copy(source, target)
    os.replace(temporary, path)
    return True
