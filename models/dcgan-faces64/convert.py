"""Convert the DCGAN face generator of the PyPI package gan-face-generate 1.1.1 to Keras.

    python models/dcgan-faces64/convert.py WEIGHTS_TAR [--reference]

WEIGHTS_TAR is ``gan_face_generate/weights.tar`` from the package's wheel (``pip download --no-deps
gan-face-generate==1.1.1`` and unzip it; the package itself needs torch, torchvision and wandb and is
never installed).  The checkpoint is PyTorch's zip format: ``data.pkl`` describes the tensors and
``data/<key>`` holds each storage's raw little-endian bytes.  It is read here with a restricted
unpickler that only rebuilds tensors (no torch, no arbitrary code), then:

- ConvTranspose2d weights ``(in, out, kh, kw)`` become Keras Conv2DTranspose kernels
  ``(kh, kw, out, in)`` by a (2, 3, 1, 0) transpose, with no spatial flip;
- BatchNorm2d weight, bias, running mean and running variance become gamma, beta, moving mean and
  moving variance (eps 1e-5, inference mode).

Writes ``generator.weights.h5`` beside this script, its datasets stored in float16 (models/float16.py:
half the size; the model is still built and run in float32).  With ``--reference`` (run in a throwaway
venv holding torch: ``pip install torch==2.13.0``) it runs the original PyTorch generator on fixed
latents and stores the latents and its outputs in ``reference_outputs.npz``: ``images`` from the
checkpoint's float32 weights, ``images_float16`` from the same weights rounded to float16 (what the
stored file holds); tests/test_walk.py checks that the Keras generator reproduces the latter and
that the rounding moves no pixel by as much as one uint8 level.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "HalfStorage": np.float16,
           "DoubleStorage": np.float64, "IntStorage": np.int32}


class _Storage:
    def __init__(self, array: np.ndarray):
        self.array = array


class _CheckpointUnpickler(pickle.Unpickler):
    """Rebuilds only tensors and ordered dicts; any other global in the pickle is refused."""

    def __init__(self, handle, archive: zipfile.ZipFile, prefix: str):
        super().__init__(handle)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            from collections import OrderedDict
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        return _Storage(np.frombuffer(raw, dtype=_DTYPES[storage_type], count=numel))


def _rebuild_tensor(storage: _Storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    item = storage.array.itemsize
    view = np.lib.stride_tricks.as_strided(storage.array[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride))
    return np.array(view)


def read_checkpoint(path: Path) -> dict:
    """PyTorch zip checkpoint -> its pickled dict with tensors as numpy arrays."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise SystemExit(f"{path}: expected one data.pkl, found {pickles}")
        prefix = pickles[0][: -len("/data.pkl")]
        with archive.open(pickles[0]) as handle:
            return _CheckpointUnpickler(handle, archive, prefix).load()


def keras_weights(state: dict) -> dict[str, list[np.ndarray]]:
    """netG_state_dict -> Keras layer name -> weights, for render.models.generators.dcgan_generator."""
    out = {}
    for index, torch_index in enumerate((0, 3, 6, 9, 12)):
        out[f"deconv{index}"] = [state[f"main.{torch_index}.weight"].transpose(2, 3, 1, 0)]
        if index < 4:
            bn = f"main.{torch_index + 1}"
            out[f"norm{index}"] = [state[f"{bn}.weight"], state[f"{bn}.bias"], state[f"{bn}.running_mean"],
                                   state[f"{bn}.running_var"]]
    return out


def reference_outputs(state: dict, latents: np.ndarray) -> np.ndarray:
    """The original PyTorch architecture (as in gan_face_generate.models.Generator) on ``latents``
    ``(n, 100)`` -> images ``(n, 64, 64, 3)`` in -1..1.  Needs torch."""
    import torch
    from torch import nn
    ngf, nz = 64, 100
    net = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())
    net.load_state_dict({k.removeprefix("main."): torch.from_numpy(np.array(v)) for k, v in state.items()})
    net.eval()
    with torch.no_grad():
        images = net(torch.from_numpy(latents).reshape(-1, nz, 1, 1)).numpy()
    return images.transpose(0, 2, 3, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights_tar", type=Path)
    parser.add_argument("--reference", action="store_true", help="also write PyTorch reference outputs (needs torch)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    state = read_checkpoint(args.weights_tar)["netG_state_dict"]
    if args.reference:
        latents = np.random.default_rng(20261128).standard_normal((6, 100)).astype(np.float32)
        rounded = {k: (np.asarray(v).astype(np.float16).astype(np.float32) if np.asarray(v).dtype.kind == "f" else v)
                   for k, v in state.items()}
        np.savez_compressed(args.out / "reference_outputs.npz", latents=latents,
                            images=reference_outputs(state, latents).astype(np.float32),
                            images_float16=reference_outputs(rounded, latents).astype(np.float32))
        print(f"wrote {args.out / 'reference_outputs.npz'}")
        return
    sys.path.insert(0, str(HERE.parents[1]))
    from render.models.generators import dcgan_generator
    model = dcgan_generator()
    for name, weights in keras_weights(state).items():
        model.get_layer(name).set_weights(weights)
    model.save_weights(str(args.out / "generator.weights.h5"))
    sys.path.insert(0, str(HERE.parent))
    from float16 import to_float16   # models/float16.py
    to_float16(args.out / "generator.weights.h5")
    print(f"wrote {args.out / 'generator.weights.h5'} (float16 datasets)")


if __name__ == "__main__":
    main()
