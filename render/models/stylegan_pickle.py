"""Read the networks of a StyleGAN2-ADA or StyleGAN3 ``.pkl`` (NVIDIA's PyTorch training code)
without PyTorch and without running the code the file carries.

Such a file is a plain pickle of a dict (``G``, ``D``, ``G_ema``, ``augment_pipe``,
``training_set_kwargs``...).  Each network in it is a "persistent" object: the pickle calls
``torch_utils.persistence._reconstruct_persistent_obj(meta)``, where ``meta`` holds the *source code*
of the network's module, its class name and its state (the ``torch.nn.Module.__dict__``:
``_parameters``, ``_buffers``, ``_modules`` and plain attributes).  NVIDIA's loader compiles and runs
that source; a file from a stranger can therefore run anything.  Here a restricted unpickler resolves
only the globals such a file needs, each to a stand-in that merely records values:

* the persistent-object hook -> a :class:`Network` (class name, attributes, parameters, buffers,
  children); the module source is dropped unread;
* tensors: ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` over storages pickled by
  ``torch.storage._load_from_bytes`` (each a small legacy ``torch.save`` stream, read by
  :mod:`render.models.torchfile`) -> numpy arrays;
* numpy arrays, scalars and dtypes (numeric only: an object array could carry anything);
* ``collections.OrderedDict``, ``builtins.set`` and ``dnnlib.util.EasyDict`` -> plain containers.

Any other global -- ``os.system``, a lambda's module, a torch class -- raises
:class:`~render.errors.ModelError` naming it, before anything is called.  TensorFlow-era StyleGAN
pickles (``dnnlib.tflib.network.Network``) are refused the same way: out of scope.
"""

from __future__ import annotations

import _compat_pickle
import collections
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from . import torchfile

PERSISTENT_HOOK = ("torch_utils.persistence", "_reconstruct_persistent_obj")
NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")


@dataclass
class Network:
    """One persistent network object of the pickle, as data.

    ``class_name`` is the class NVIDIA's code would build (``"Generator"``, ``"SynthesisLayer"``...);
    ``attributes`` its plain attributes (numbers, strings, numpy arrays, containers, including the
    constructor's ``_init_args`` / ``_init_kwargs``); ``parameters`` and ``buffers`` name -> float32
    numpy array in PyTorch's layout (``None`` where the module holds none); ``children`` name ->
    :class:`Network` (submodules)."""

    class_name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, np.ndarray | None] = field(default_factory=dict)
    buffers: dict[str, np.ndarray | None] = field(default_factory=dict)
    children: dict[str, "Network | None"] = field(default_factory=dict)

    def get(self, name: str, default=None):
        """An attribute, or ``default``."""
        return self.attributes.get(name, default)

    def tensor(self, name: str) -> np.ndarray:
        """A parameter or buffer that must be there."""
        value = self.parameters.get(name, self.buffers.get(name))
        if not isinstance(value, np.ndarray):
            raise KeyError(f"{self.class_name}.{name}")
        return value

    def child(self, name: str) -> "Network":
        value = self.children.get(name)
        if not isinstance(value, Network):
            raise KeyError(f"{self.class_name}.{name}")
        return value


class _Plain(dict):
    """``dnnlib.util.EasyDict``: a dict (its attribute access is not needed)."""

    def __setstate__(self, state):
        if state:
            raise pickle.UnpicklingError("state set on a dict")


class _NumpyDType:
    """``numpy.dtype(code, align, copy)`` with its pickled state: numeric and boolean types only."""

    def __init__(self, code, align=False, copy=True):
        if not isinstance(code, str) or len(code) > 4:
            raise pickle.UnpicklingError("a malformed numpy dtype")
        try:
            self.dtype = np.dtype(code)
        except TypeError:
            raise pickle.UnpicklingError(f"numpy dtype {code!r}") from None
        if self.dtype.kind not in "biufc":
            raise ModelError(f"holds a numpy array of {self.dtype} values, not numbers: refused")

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise pickle.UnpicklingError("a malformed numpy dtype state")
        if len(state) > 3 and state[3] is not None:
            raise ModelError("holds a structured numpy array: refused")
        if state[1] != "|":
            self.dtype = self.dtype.newbyteorder(state[1])


class _NumpyArray:
    """``numpy.core.multiarray._reconstruct(ndarray, (0,), b'b')`` then its state: the array's
    shape, dtype and raw bytes (``value``)."""

    def __init__(self, cls, shape, code):
        if cls is not _NDARRAY:
            raise pickle.UnpicklingError("a numpy array of another class")
        self.value = None

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _NumpyDType)):
            raise pickle.UnpicklingError("a malformed numpy array state")
        _version, shape, dtype, fortran, raw = state
        if not isinstance(raw, bytes) or not all(type(n) is int and n >= 0 for n in shape):
            raise ModelError("holds a numpy array of objects, not numbers: refused")
        count = int(np.prod(shape)) if shape else 1
        if count * dtype.dtype.itemsize != len(raw):
            raise pickle.UnpicklingError("a numpy array of the wrong size")
        values = np.frombuffer(raw, dtype.dtype, count).reshape(shape, order="F" if fortran else "C")
        self.value = np.array(values, dtype.dtype.newbyteorder("="))


_NDARRAY = object()   # stands for numpy.ndarray: only ever passed to _reconstruct


def _numpy_scalar(dtype, raw=None):
    if not isinstance(dtype, _NumpyDType) or not isinstance(raw, bytes) or len(raw) != dtype.dtype.itemsize:
        raise pickle.UnpicklingError("a malformed numpy scalar")
    return np.frombuffer(raw, dtype.dtype, 1)[0].item()


def _unwrap(value, seen: dict | None = None):
    """Plain values in place of the array stand-ins, through containers.  A container the pickle
    shares (memoised) is rebuilt once (``seen``: id -> result), so shared references cannot make the
    walk exponential."""
    if isinstance(value, _NumpyArray):
        if value.value is None:
            raise pickle.UnpicklingError("a numpy array without its data")
        return value.value
    if isinstance(value, _NumpyDType):
        return value.dtype
    if not isinstance(value, (dict, list, tuple)):
        return value
    seen = {} if seen is None else seen
    key = id(value)
    if key not in seen:
        if isinstance(value, dict):
            seen[key] = (dict if isinstance(value, _Plain) else type(value))(
                (k, _unwrap(v, seen)) for k, v in value.items())
        else:
            seen[key] = type(value)(_unwrap(v, seen) for v in value)
    return seen[key]


def _set(items=()):
    return set(items)


@dataclass(frozen=True)
class _LoadedStorage:
    storage: Any   # torchfile._Storage
    buffer: Any


class _Reader(pickle.Unpickler):
    """Resolves only the globals listed in :meth:`find_class`; see the module docstring."""

    def __init__(self, file, path: Path):
        super().__init__(file)
        self.path = path
        self.allowed = {
            PERSISTENT_HOOK: self._network,
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("builtins", "set"): _set,
            ("dnnlib.util", "EasyDict"): _Plain,
            ("dnnlib", "EasyDict"): _Plain,
            ("torch.storage", "_load_from_bytes"): self._storage,
            ("torch._utils", "_rebuild_tensor"): self._tensor,
            ("torch._utils", "_rebuild_tensor_v2"): self._tensor,
            ("torch._utils", "_rebuild_parameter"): self._parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): self._parameter,
            ("numpy", "dtype"): _NumpyDType,
            ("numpy", "ndarray"): _NDARRAY,
            **{(module, "_reconstruct"): _NumpyArray for module in NUMPY_MODULES},
            **{(module, "scalar"): _numpy_scalar for module in NUMPY_MODULES},
        }

    def find_class(self, module, name):
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = self.allowed.get((module, name))
        if found is None:
            if module.startswith("dnnlib.tflib"):
                raise ModelError(f"{self.path}: a TensorFlow-era StyleGAN pickle ({module}.{name}): only "
                                 f"the PyTorch StyleGAN2-ADA and StyleGAN3 pickles are read")
            raise ModelError(f"{self.path}: would call {module}.{name}, which a StyleGAN network pickle "
                             f"does not need: refused (nothing in the file was run)")
        return found

    def persistent_load(self, pid):
        raise ModelError(f"{self.path}: holds a persistent reference {pid!r}: not a StyleGAN network pickle")

    # --- stand-ins ------------------------------------------------------------------------------
    def _network(self, meta):
        if not (isinstance(meta, dict) and meta.get("type") == "class" and isinstance(meta.get("class_name"), str)
                and isinstance(meta.get("state"), dict)):
            raise pickle.UnpicklingError("a malformed persistent object")
        state = dict(meta["state"])
        tables = {}
        for table in ("_parameters", "_buffers", "_modules"):
            value = state.pop(table, {})
            if not isinstance(value, dict):
                raise pickle.UnpicklingError(f"{meta['class_name']}.{table} is not a table")
            tables[table] = dict(value)
        for name, value in (*tables["_parameters"].items(), *tables["_buffers"].items()):
            if value is not None and not isinstance(value, np.ndarray):
                raise pickle.UnpicklingError(f"{meta['class_name']}.{name} is not a tensor")
        for name, value in tables["_modules"].items():
            if value is not None and not isinstance(value, Network):
                raise pickle.UnpicklingError(f"{meta['class_name']}.{name} is not a network")
        attributes = {k: _unwrap(v) for k, v in state.items() if not (k.startswith("_") and k.endswith("hooks"))}
        return Network(meta["class_name"], attributes, tables["_parameters"], tables["_buffers"],
                       tables["_modules"])

    def _storage(self, data):
        if not isinstance(data, bytes):
            raise pickle.UnpicklingError("a storage without bytes")
        tree, buffers, _little = torchfile._read_legacy_data(data, self.path)
        if not isinstance(tree, torchfile._Storage):
            raise pickle.UnpicklingError("a storage stream holding something else")
        return _LoadedStorage(tree, buffers[tree.key] if tree.key in buffers else b"")

    def _tensor(self, storage, offset, shape, strides, *_ignored):
        if not isinstance(storage, _LoadedStorage):
            raise pickle.UnpicklingError("a tensor without a storage")
        tensor = torchfile._Tensor(storage.storage, offset, shape, strides)
        if int(np.prod(tensor.shape, dtype=np.float64)) > max(storage.storage.count, 1):
            raise pickle.UnpicklingError(f"a tensor of shape {tensor.shape} over a storage of "
                                         f"{storage.storage.count} values")
        return torchfile._array(tensor, {storage.storage.key: storage.buffer}, True, self.path, "a tensor",
                                np.float32)

    @staticmethod
    def _parameter(data, *_ignored):
        if not isinstance(data, np.ndarray):
            raise pickle.UnpicklingError("a parameter without a tensor")
        return data


def read_pickle(path: Path) -> dict[str, Any]:
    """The top-level dict of a StyleGAN network pickle with every network as a :class:`Network`.

    Raises :class:`~render.errors.ModelError` (one line, naming the file) when it cannot be read,
    is not a pickle of a dict, or names any global outside the short list above (the name is given;
    nothing is imported or called)."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            data = _unwrap(_Reader(stream, path).load())
    except ModelError as err:
        message = str(err)
        raise ModelError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    except OSError as err:
        raise ModelError(f"{path}: cannot read it ({err.strerror or err})") from None
    except Exception as err:   # pickle, struct and value errors come in many types
        raise ModelError(f"{path}: not a readable StyleGAN network pickle ({type(err).__name__}: {err})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: holds a {type(data).__name__}, not the dict of networks NVIDIA's training writes")
    return data


def generator_of(data: dict[str, Any], path: Path) -> Network:
    """The pickle's generator for rendering: ``G_ema`` (the averaged weights NVIDIA's tools use),
    else ``G``."""
    for key in ("G_ema", "G"):
        network = data.get(key)
        if network is not None and not isinstance(network, Network):
            raise ModelError(f"{path}: {key} is a {type(network).__name__}, not a network")
        if isinstance(network, Network):
            if network.class_name != "Generator":
                raise ModelError(f"{path}: {key} is a {network.class_name}, not a StyleGAN Generator")
            return network
    raise ModelError(f"{path}: holds no generator (neither G_ema nor G); keys: {', '.join(map(str, data)) or 'none'}")
