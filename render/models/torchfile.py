"""Read a PyTorch state dict (``.pth`` / ``.pt``) into numpy arrays, without PyTorch and without
running anything the file names.

A file written by ``torch.save`` is a pickle whose tensors point at separately stored raw buffers
("storages").  Two layouts exist:

* the zip layout (the default since torch 1.6): a zip archive with one top folder, say ``name/``;
  ``name/data.pkl`` is the pickle, ``name/data/<key>`` holds the raw bytes of storage ``<key>`` and
  ``name/byteorder`` says ``little`` or ``big`` (absent in old files: little);
* the legacy stream (``_use_new_zipfile_serialization=False``, and every file before torch 1.6):
  five pickles one after another -- a magic number, the format version (1001), a small dict about
  the writing machine, the object itself, and the list of storage keys -- followed by each storage
  in that order as a little-endian int64 element count and then its raw little-endian bytes.

In both, the object pickle refers to a storage by a *persistent id*, a tuple
``("storage", <storage type>, key, device, element count[, view])``, and rebuilds each tensor with
``torch._utils._rebuild_tensor_v2(storage, offset, shape, strides, ...)`` (offset and strides in
elements).  Unpickling normally imports and calls whatever global the pickle names, which is why a
hostile ``.pth`` can run code.  Here a restricted unpickler resolves only the handful of globals a
state dict needs (``collections.OrderedDict``, the tensor and parameter rebuild functions, the
storage classes and dtypes by name), each to a stand-in written in this module that merely records
numbers; any other global raises :class:`~render.errors.ModelError` before anything is called.
Tensors become numpy arrays afterwards, with their shape, strides and offset checked against the
storage they read.

Integer and boolean buffers (``num_batches_tracked``, for one) are kept, with their own dtype.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C   # first pickle of a legacy-format file
LEGACY_VERSION = 1001                    # second pickle

# torch dtype name -> numpy dtype (little-endian); bfloat16 has no numpy dtype: read as its 16 bits
_DTYPES = {
    "float32": "<f4", "float": "<f4", "float64": "<f8", "double": "<f8", "float16": "<f2", "half": "<f2",
    "bfloat16": "<u2", "int8": "i1", "int16": "<i2", "short": "<i2", "int32": "<i4", "int": "<i4",
    "int64": "<i8", "long": "<i8", "uint8": "u1", "uint16": "<u2", "uint32": "<u4", "uint64": "<u8",
    "bool": "?", "complex64": "<c8", "cfloat": "<c8", "complex128": "<c16", "cdouble": "<c16",
}

# torch dtypes numpy cannot hold: named without refusal, refused with their name when a tensor uses them
_UNSUPPORTED_DTYPES = ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "complex32", "chalf")

# torch storage class -> the dtype of its elements ("untyped": bytes)
_STORAGE_TYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "CharStorage": "int8", "ShortStorage": "int16", "IntStorage": "int32",
    "LongStorage": "int64", "ByteStorage": "uint8", "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
}


class _Frozen:
    """Stand-ins the pickle may name: a pickle's BUILD instruction cannot change them."""

    __slots__ = ()

    def __setstate__(self, state):
        raise pickle.UnpicklingError("state set on a tensor, storage or dtype")


class _DType(_Frozen):
    """A torch dtype, by name."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def numpy(self) -> np.dtype:
        return np.dtype(_DTYPES[self.name])


class _StorageType(_Frozen):
    """A torch storage class (``torch.FloatStorage``, ``torch.storage.UntypedStorage``...): only ever
    read as the type field of a persistent id, never called."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = _DType(dtype)


class _Storage(_Frozen):
    """One storage of the file: ``count`` elements of ``dtype`` from element ``start`` of the raw
    buffer named ``key`` (``start`` is non-zero only for the legacy format's storage views)."""

    __slots__ = ("key", "dtype", "count", "start")

    def __init__(self, key: str, dtype: _DType, count: int, start: int = 0):
        self.key, self.dtype, self.count, self.start = key, dtype, count, start


class _Tensor(_Frozen):
    """A tensor as the pickle describes it: a window on a storage (offset and strides in elements
    of ``dtype``; ``dtype`` differs from the storage's only for untyped storages)."""

    __slots__ = ("storage", "offset", "shape", "strides", "dtype")

    def __init__(self, storage, offset, shape, strides, dtype=None):
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError("a tensor without a storage")
        if not _is_count(offset) or not _counts(shape) or not _counts(strides) or len(shape) != len(strides):
            raise pickle.UnpicklingError("a tensor with a malformed offset, shape or strides")
        if dtype is not None and not isinstance(dtype, _DType):
            raise pickle.UnpicklingError("a tensor with a malformed dtype")
        self.storage, self.offset, self.dtype = storage, offset, dtype or storage.dtype
        self.shape, self.strides = tuple(shape), tuple(strides)


def _is_count(value) -> bool:
    return type(value) is int and value >= 0


def _counts(values) -> bool:
    return isinstance(values, (tuple, list)) and all(_is_count(v) for v in values)


class _Call(_Frozen):
    """A function the pickle may call, under the torch name it uses."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function

    def __call__(self, *args):
        return self.function(*args)


def _rebuild_tensor(storage, offset, shape, strides, *_ignored):
    """torch._utils._rebuild_tensor(_v2): the rest (requires_grad, hooks, metadata) is not kept."""
    return _Tensor(storage, offset, shape, strides)


def _rebuild_tensor_v3(storage, offset, shape, strides, requires_grad, hooks, dtype, *_ignored):
    """torch._utils._rebuild_tensor_v3: an untyped (byte) storage read as ``dtype``."""
    return _Tensor(storage, offset, shape, strides, dtype)


def _rebuild_parameter(data, *_ignored):
    """torch._utils._rebuild_parameter(_with_state): a parameter is its data."""
    if not isinstance(data, _Tensor):
        raise pickle.UnpicklingError("a parameter without a tensor")
    return data


def _ordered_dict(*args):
    return collections.OrderedDict(*args)


_ALLOWED = {
    ("collections", "OrderedDict"): _Call(_ordered_dict),
    ("torch._utils", "_rebuild_tensor"): _Call(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor_v2"): _Call(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor_v3"): _Call(_rebuild_tensor_v3),
    ("torch._utils", "_rebuild_parameter"): _Call(_rebuild_parameter),
    ("torch._utils", "_rebuild_parameter_with_state"): _Call(_rebuild_parameter),
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_TYPES.items()},
    ("torch", "UntypedStorage"): _StorageType("uint8"),
    ("torch.storage", "UntypedStorage"): _StorageType("uint8"),
    **{("torch", name): _DType(name) for name in (*_DTYPES, *_UNSUPPORTED_DTYPES)},
}


class _Unpickler(pickle.Unpickler):
    """Resolves only :data:`_ALLOWED`; collects the storages the pickle refers to in ``storages``."""

    def __init__(self, file, path: Path, storages: dict[str, _Storage]):
        super().__init__(file)
        self.path = path
        self.storages = storages

    def find_class(self, module, name):
        # protocol 0-2 pickles may spell Python 2 names (``__builtin__.eval``): say them as Python 3 does
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = _ALLOWED.get((module, name))
        if found is None:
            raise ModelError(f"{self.path}: holds {module}.{name}, not tensors: refused")
        return found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and _is_count(pid[4])):
            raise ModelError(f"{self.path}: holds a reference that is not a tensor storage: refused")
        _, kind, key, _device, count = pid[:5]
        storage = self.storages.setdefault(key, _Storage(key, kind.dtype, count))
        if storage.dtype.name != kind.dtype.name or storage.count != count:
            raise pickle.UnpicklingError(f"storage {key} is declared twice, differently")
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return storage
        # legacy views: (view key, start in elements, element count) inside the storage ``key``
        if not (isinstance(view, tuple) and len(view) == 3 and _is_count(view[1]) and _is_count(view[2])
                and view[1] + view[2] <= count):
            raise pickle.UnpicklingError("a malformed storage view")
        return _Storage(key, kind.dtype, view[2], view[1])


def read_state_dict(path: Path, float_dtype=np.float32) -> dict[str, np.ndarray]:
    """The tensors of the state dict saved at ``path``: name -> C-contiguous numpy array of the
    tensor's shape (PyTorch's layout: a convolution kernel is ``(out, in, kh, kw)``).

    Floating-point tensors (float16, bfloat16, float32, float64) are converted to ``float_dtype``;
    with ``float_dtype=None`` they keep their own type, except bfloat16, which numpy lacks, as
    float32.  Integer, boolean and complex tensors keep their type (``num_batches_tracked`` stays an
    int64 0-d array).  Both the zip and the legacy layout are read (see the module docstring).

    Raises :class:`~render.errors.ModelError` when the file is missing or unreadable, is not a
    PyTorch file, holds anything other than a mapping of names to tensors (any other global is
    refused by name and never imported or called), or describes a tensor that reaches outside its
    storage.
    """
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            tree, buffers, little = _read_zip(path)
        else:
            tree, buffers, little = _read_legacy(path)
    except ModelError:
        raise
    except OSError as err:
        raise ModelError(f"{path}: cannot read it ({err.strerror or err})") from None
    except Exception as err:  # pickle, zip and struct errors come in many types
        raise ModelError(f"{path}: not a readable PyTorch file ({type(err).__name__}: {err})") from None
    if not isinstance(tree, dict):
        raise ModelError(f"{path}: holds a {type(tree).__name__}, not a state dict (a mapping of names to tensors)")
    arrays = {}
    for name, value in tree.items():
        if not isinstance(name, str) or not isinstance(value, _Tensor):
            raise ModelError(f"{path}: {name!r} is not a tensor: not a state dict (a mapping of names to tensors)")
        arrays[name] = _array(value, buffers, little, path, name, float_dtype)
    return arrays


def _read_zip(path: Path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ModelError(f"{path}: a zip archive without one data.pkl: not a PyTorch file")
        prefix = pickles[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        tree = _Unpickler(io.BytesIO(archive.read(pickles[0])), path, storages).load()
        order = archive.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in names else "little"
        if order not in ("little", "big"):
            raise ModelError(f"{path}: unknown byte order {order!r}")
        buffers = {}
        for key in storages:
            member = f"{prefix}data/{key}"
            if member not in names:
                raise ModelError(f"{path}: storage {key} is missing from the archive")
            buffers[key] = archive.read(member)
    return tree, buffers, order == "little"


def _read_legacy(path: Path):
    return _read_legacy_data(path.read_bytes(), path)


def _read_legacy_data(data: bytes, path: Path):
    """The object, its storages' raw buffers and ``True`` (little-endian) from a legacy-format
    stream held in ``data``; ``path`` names it in errors."""
    stream = io.BytesIO(data)
    storages: dict[str, _Storage] = {}

    def load():
        return _Unpickler(stream, path, storages).load()

    try:
        magic = load()
    except ModelError:
        raise
    except Exception:
        raise ModelError(f"{path}: not a PyTorch file (neither a zip archive nor the legacy format)") from None
    if magic != LEGACY_MAGIC:
        raise ModelError(f"{path}: not a PyTorch file (no torch.save magic number)")
    version = load()
    if version != LEGACY_VERSION:
        raise ModelError(f"{path}: legacy format version {version!r}, this reader knows {LEGACY_VERSION}")
    info = load()
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise ModelError(f"{path}: written on a big-endian machine: not supported")
    tree = load()
    keys = load()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ModelError(f"{path}: malformed storage list")
    buffers = {}
    position = stream.tell()
    for key in keys:
        if key not in storages:
            raise ModelError(f"{path}: storage {key} is stored but never used")
        storage = storages[key]
        itemsize = storage.dtype.numpy().itemsize
        if position + 8 > len(data):
            raise ModelError(f"{path}: truncated (storage {key} is missing)")
        (count,) = struct.unpack_from("<q", data, position)
        end = position + 8 + count * itemsize
        if count != storage.count or end > len(data):
            raise ModelError(f"{path}: storage {key} holds {count} elements, "
                             f"{storage.count} expected, or the file is truncated")
        buffers[key] = memoryview(data)[position + 8:end]
        position = end
    return tree, buffers, True


def _array(tensor: _Tensor, buffers: dict, little: bool, path: Path, name: str, float_dtype) -> np.ndarray:
    """The numpy array a tensor describes, copied out of its storage after checking it stays inside."""
    storage = tensor.storage
    if storage.key not in buffers:
        raise ModelError(f"{path}: {name}: its storage {storage.key} is missing")
    buffer = buffers[storage.key]
    if tensor.dtype.name not in _DTYPES:
        raise ModelError(f"{path}: {name}: dtype {tensor.dtype.name} is not supported")
    dtype = tensor.dtype.numpy().newbyteorder("<" if little else ">")
    start = storage.start * storage.dtype.numpy().itemsize          # bytes before the storage's data
    size = min(storage.count * storage.dtype.numpy().itemsize, len(buffer) - start)
    available = max(size, 0) // dtype.itemsize                       # elements of the tensor's dtype
    if 0 in tensor.shape:
        values = np.zeros(tensor.shape, dtype)
    else:
        last = tensor.offset + sum((n - 1) * s for n, s in zip(tensor.shape, tensor.strides))
        if last >= available:
            raise ModelError(f"{path}: {name}: shape {tensor.shape} with strides {tensor.strides} from offset "
                             f"{tensor.offset} reaches past its storage of {available} elements")
        flat = np.frombuffer(buffer, dtype, count=available, offset=start)
        view = np.lib.stride_tricks.as_strided(flat[tensor.offset:], tensor.shape,
                                               [s * dtype.itemsize for s in tensor.strides], writeable=False)
        values = np.array(view, dtype.newbyteorder("="), order="C")
    if tensor.dtype.name == "bfloat16":                 # the top 16 bits of a float32
        values = (values.astype(np.uint32) << 16).view(np.float32)
    if float_dtype is not None and values.dtype.kind == "f":
        values = values.astype(float_dtype, copy=False)
    return values
