"""render.models.torchfile: PyTorch state dicts read without PyTorch, and pickles that name anything
but tensors refused before they run.

tests/data/torchfile/ holds one state dict saved by real torch 2.13 in both layouts, with the values
it held (its README says how they were made); other files here are written by hand, in the same
layouts, from pickles whose globals are swapped in byte by byte."""

from __future__ import annotations

import builtins
import collections
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from render.errors import ModelError
from render.models.torchfile import LEGACY_MAGIC, read_state_dict

DATA = Path(__file__).resolve().parent / "data" / "torchfile"


@pytest.fixture(scope="module")
def expected():
    with np.load(DATA / "expected.npz") as npz:
        return {name: npz[name] for name in npz.files}


# --- files saved by torch ---

@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reads_what_torch_saved(layout, expected):
    """Every tensor in order, with its values, shape and dtype: a transposed and a permuted tensor
    (strides not C order), a window at an offset inside a storage it shares with another tensor,
    float16 / float64 / int32 / uint8 / bool / 0-d / empty tensors, bfloat16 (as float32), a
    parameter, and the OrderedDict with _metadata of a module's state_dict()."""
    state = read_state_dict(DATA / f"{layout}.pth", float_dtype=None)
    assert list(state) == list(expected)
    for name, want in expected.items():
        got = state[name]
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert got.flags.c_contiguous and got.flags.writeable, name
    np.testing.assert_array_equal(state["extra.window"], state["extra.base"][2:5, 3:9:2])


def test_both_layouts_read_alike():
    zipped, legacy = read_state_dict(DATA / "zip.pth"), read_state_dict(DATA / "legacy.pth")
    assert list(zipped) == list(legacy)
    for name in zipped:
        assert zipped[name].dtype == legacy[name].dtype
        np.testing.assert_array_equal(zipped[name], legacy[name])


def test_floats_become_float32_and_integer_buffers_stay(expected):
    state = read_state_dict(DATA / "zip.pth")
    for name in ("extra.half", "extra.double", "extra.bfloat16", "0.weight"):
        assert state[name].dtype == np.float32, name
        np.testing.assert_allclose(state[name], expected[name].astype(np.float32), err_msg=name)
    assert state["1.num_batches_tracked"].dtype == np.int64 and state["1.num_batches_tracked"] == 7
    assert state["extra.int32"].dtype == np.int32 and state["extra.bool"].dtype == np.bool_
    assert read_state_dict(DATA / "zip.pth", float_dtype=np.float64)["extra.half"].dtype == np.float64


# --- hand-made files ---

def placeholder_rebuild(*args):
    """Pickled as a global, then renamed in the bytes to torch's rebuild function."""


def placeholder_dtype():
    """Pickled as a global, then renamed to a torch dtype."""


class PlaceholderStorage:
    """Pickled as a global, then renamed to a torch storage class."""


class Storage:
    def __init__(self, key: str, count: int):
        self.key, self.count = key, count


class Tensor:
    """Pickles as ``rebuild(storage, offset, shape, strides, False, OrderedDict())`` (v3 adds a dtype)."""

    def __init__(self, storage, offset, shape, strides, dtype=False, state=None):
        self.args = (storage, offset, tuple(shape), tuple(strides), False, collections.OrderedDict())
        if dtype:
            self.args += (placeholder_dtype,)
        self.state = state

    def __reduce__(self):
        return (placeholder_rebuild, self.args) if self.state is None else (placeholder_rebuild, self.args, self.state)


class Calls:
    """Pickles as a call of any function: what a hostile file does."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", PlaceholderStorage, obj.key, "cpu", obj.count)
        return None


def dumps(obj, rebuild="_rebuild_tensor_v2", storage=("torch", "FloatStorage"), dtype="float32") -> bytes:
    """A protocol-2 pickle as torch.save writes it, its placeholders renamed to torch's globals."""
    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue()
    for placeholder, (module, name) in ((placeholder_rebuild, ("torch._utils", rebuild)),
                                        (PlaceholderStorage, storage), (placeholder_dtype, ("torch", dtype))):
        old = f"{placeholder.__module__}\n{placeholder.__qualname__}\n".encode()
        data = data.replace(old, f"{module}\n{name}\n".encode())
    return data


def write_zip(path: Path, pickled: bytes, storages: dict[str, bytes], byteorder: str | None = "little") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        if byteorder is not None:
            archive.writestr("archive/byteorder", byteorder)
        for key, raw in storages.items():
            archive.writestr(f"archive/data/{key}", raw)
    return path


def write_legacy(path: Path, pickled: bytes, storages: dict[str, tuple[int, bytes]], info=None) -> Path:
    info = info if info is not None else {"protocol_version": 1001, "little_endian": True,
                                          "type_sizes": {"short": 2, "int": 4, "long": 8}}
    parts = [pickle.dumps(LEGACY_MAGIC, 2), pickle.dumps(1001, 2),
             info if isinstance(info, bytes) else pickle.dumps(info, 2), pickled, pickle.dumps(list(storages), 2)]
    for count, raw in storages.values():
        parts += [struct.pack("<q", count), raw]
    path.write_bytes(b"".join(parts))
    return path


def float_storage(values) -> bytes:
    return np.asarray(values, "<f4").tobytes()


def test_hand_made_files_read_like_torchs(tmp_path):
    """The helpers below write what torch writes: a 3 x 4 window at offset 2, strides (1, 3), on a
    14-element storage."""
    values = np.arange(14, dtype=np.float32)
    tree = collections.OrderedDict(w=Tensor(Storage("0", 14), 2, (3, 4), (1, 3)))
    want = np.lib.stride_tricks.as_strided(values[2:], (3, 4), (4, 12))
    for path in (write_zip(tmp_path / "a.pth", dumps(tree), {"0": float_storage(values)}),
                 write_legacy(tmp_path / "b.pth", dumps(tree), {"0": (14, float_storage(values))})):
        np.testing.assert_array_equal(read_state_dict(path)["w"], want)


def test_big_endian_zip_and_untyped_storage(tmp_path):
    """A zip whose byteorder says big; a uint16 tensor on an untyped (byte) storage, as torch 2
    writes dtypes the old storage classes lack (_rebuild_tensor_v3)."""
    tree = {"w": Tensor(Storage("0", 6), 0, (2, 3), (3, 1))}
    path = write_zip(tmp_path / "big.pth", dumps(tree), {"0": np.arange(6, dtype=">f4").tobytes()}, "big")
    np.testing.assert_array_equal(read_state_dict(path)["w"], np.arange(6).reshape(2, 3))
    tree = {"u": Tensor(Storage("0", 10), 1, (4,), (1,), dtype=True)}
    pickled = dumps(tree, "_rebuild_tensor_v3", ("torch.storage", "UntypedStorage"), "uint16")
    path = write_zip(tmp_path / "u16.pth", pickled, {"0": np.array([9, 1, 2, 65535, 4], "<u2").tobytes()})
    got = read_state_dict(path)["u"]
    assert got.dtype == np.uint16 and got.tolist() == [1, 2, 65535, 4]
    pickled = dumps(tree, "_rebuild_tensor_v3", ("torch.storage", "UntypedStorage"), "float8_e4m3fn")
    path = write_zip(tmp_path / "f8.pth", pickled, {"0": bytes(10)})
    with pytest.raises(ModelError, match="u: dtype float8_e4m3fn is not supported"):
        read_state_dict(path)


# --- hostile and broken files ---

def hostile_files(tmp_path: Path, payload) -> list[Path]:
    """The payload as the value of a state dict's weight, in both layouts, and in the legacy
    layout's machine-information pickle."""
    tree = collections.OrderedDict([("bias", Tensor(Storage("0", 2), 0, (2,), (1,))), ("weight", payload)])
    pickled = dumps(tree)
    return [write_zip(tmp_path / "evil-zip.pth", pickled, {"0": float_storage([1, 2])}),
            write_legacy(tmp_path / "evil-legacy.pth", pickled, {"0": (2, float_storage([1, 2]))}),
            write_legacy(tmp_path / "evil-info.pth", dumps({"ok": 1}), {}, info=pickle.dumps({"x": payload}, 2))]


CALLED = []


def tripwire(*args):
    """A harmless function of this module: a pickle naming it must be refused like any other."""
    CALLED.append(args)
    return np.zeros(2, np.float32)


@pytest.mark.parametrize("kind", ["os.system", "builtins.eval", "tripwire"])
def test_a_pth_holding_anything_but_tensors_is_refused_before_it_runs(tmp_path, kind):
    marker = tmp_path / "ran"
    payload = {"os.system": Calls(os.system, f"touch '{marker}'"),
               "builtins.eval": Calls(builtins.eval, f"__import__('pathlib').Path({str(marker)!r}).touch()"),
               "tripwire": Calls(tripwire, "ran")}[kind]
    function = payload.function
    name = f"{function.__module__}.{function.__qualname__}"     # os.system pickles as posix.system here
    for path in hostile_files(tmp_path, payload):
        with pytest.raises(ModelError, match=rf"{path.name}: holds {name}, not tensors: refused"):
            read_state_dict(path)
    assert not marker.exists() and not CALLED


def test_state_set_on_a_tensor_is_refused(tmp_path):
    """A pickle's BUILD step cannot change the reader's own stand-ins (here: a tensor's offset)."""
    tree = {"w": Tensor(Storage("0", 2), 0, (2,), (1,), state={"offset": 10 ** 9})}
    path = write_zip(tmp_path / "state.pth", dumps(tree), {"0": float_storage([1, 2])})
    with pytest.raises(ModelError, match="not a readable PyTorch file"):
        read_state_dict(path)


@pytest.mark.parametrize("tensor, message", [
    (Tensor(Storage("0", 12), 1, (3, 4), (4, 1)), "reaches past its storage of 12 elements"),
    (Tensor(Storage("0", 12), 0, (2, 2), (-1, 1)), "malformed offset, shape or strides"),
    (Tensor("0", 0, (2,), (1,)), "a tensor without a storage"),
])
def test_a_tensor_outside_its_storage_is_refused(tmp_path, tensor, message):
    path = write_zip(tmp_path / "bad.pth", dumps({"w": tensor}), {"0": float_storage(range(12))})
    with pytest.raises(ModelError, match=message):
        read_state_dict(path)


def test_broken_and_foreign_files_are_refused(tmp_path):
    good = (DATA / "legacy.pth").read_bytes()
    cases = {
        "truncated.pth": (good[:-5], "truncated"),
        "text.pth": (b"hello, not a model\n", "not a PyTorch file"),
        "pickle.pth": (pickle.dumps({"a": 1}, 2), "no torch.save magic number"),
        "list.pth": (None, "holds a list, not a state dict"),
        "number.pth": (None, "'n' is not a tensor"),
        "persid.pth": (None, "a reference that is not a tensor storage"),
    }
    write_zip(tmp_path / "list.pth", dumps([Tensor(Storage("0", 1), 0, (1,), (1,))]), {"0": float_storage([1])})
    write_zip(tmp_path / "number.pth", dumps({"n": 3}), {})
    buffer = io.BytesIO()

    class OtherIds(pickle.Pickler):
        def persistent_id(self, obj):
            return ("module", "x") if isinstance(obj, Storage) else None

    OtherIds(buffer, protocol=2).dump({"w": Storage("0", 1)})
    write_zip(tmp_path / "persid.pth", buffer.getvalue(), {})
    for name, (content, message) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelError, match=message):
            read_state_dict(tmp_path / name)
    with pytest.raises(ModelError, match="cannot read it"):
        read_state_dict(tmp_path / "missing.pth")
