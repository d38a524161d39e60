"""Where a run came from: the machine (CPU model and vector features, or the GPU's name), the
resolved precision and the library versions, recorded in run.json.

Frames are reproducible on the same machine at the same precision; another CPU generation (other
vector units) or another precision gives different, equally valid frames.  Nothing here imports
TensorFlow: versions come from the installed packages' metadata.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import __version__

_VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16",
                 "amx_tile", "asimd", "sve")


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict:
    """``{"model": ..., "vector_features": [...]}`` from /proc/cpuinfo (platform facts elsewhere)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in cpuinfo.read_text().splitlines():
            name, _, value = line.partition(":")
            name = name.strip()
            if name in ("model name", "Model") and value.strip():
                model = value.strip()
            elif name in ("flags", "Features") and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "vector_features": [f for f in _VECTOR_FLAGS if f in flags]}


def gpu_names(driver_dir: Path = Path("/proc/driver/nvidia/gpus")) -> list[str]:
    """Names of the NVIDIA GPUs the driver reports (empty on machines without one)."""
    names = []
    try:
        for info in sorted(driver_dir.glob("*/information")):
            for line in info.read_text().splitlines():
                if line.startswith("Model:"):
                    names.append(line.split(":", 1)[1].strip())
    except OSError:
        pass
    return names


def device_name() -> str:
    """One line for people: the GPUs' names, or "CPU <model>"."""
    gpus = gpu_names()
    return ", ".join(gpus) if gpus else f"CPU {cpu_description()['model']}"


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def provenance(precision: str, backend: str = "tensorflow") -> dict:
    """What determines the pixels besides the recipe: device, backend, precision and library versions."""
    gpus = gpu_names()
    return {
        "device": {"cpu": cpu_description(), "gpus": gpus},
        "precision": precision,
        "backend": backend,
        "versions": {"renderer": __version__, "python": platform.python_version(),
                     "tensorflow": _version("tensorflow"), "keras": _version("keras"),
                     "jax": _version("jax"), "jaxlib": _version("jaxlib"),
                     "numpy": _version("numpy")},
        "machine": platform.machine(),
    }
