"""``render doctor``: what this machine can render on, without rendering.

For each backend: whether it is installed (and its version), the devices it sees, the precision
``auto`` resolves to there and why; then which backend recipes with ``backend = "auto"`` get, and
what is missing for a GPU run.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import PackageNotFoundError, version

from .backend import BACKENDS, resolve_backend
from .backend.devices import backend_devices, choose_precision, cpu_has_bf16, nvidia_device_nodes

_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax"}
_CUDA_PLUGINS = ("jax_cuda13_plugin", "jax_cuda12_plugin")
_INSTALL = {"tensorflow": 'pip install -e ".[gpu]"   (TensorFlow with CUDA: Linux or WSL2)',
            "jax": 'pip install -e ".[jax-cuda]"   (JAX with CUDA, any Linux)'}


def _installed(backend: str) -> str | None:
    if importlib.util.find_spec(backend) is None:
        return None
    try:
        return version(_PACKAGES[backend])
    except PackageNotFoundError:
        return "unknown version"


def report() -> list[str]:
    """The lines ``render doctor`` prints."""
    lines = []
    nodes = nvidia_device_nodes()
    bf16 = cpu_has_bf16()
    lines.append(f"NVIDIA device nodes: {', '.join(nodes) if nodes else 'none (no GPU visible to any framework)'}")
    lines.append(f"CPU bfloat16 (AVX512_BF16/AMX): {'yes' if bf16 else 'no'}")
    gpu_ready = []
    for backend in BACKENDS:
        installed = _installed(backend)
        if installed is None:
            lines.append(f"{backend}: not installed")
            continue
        devices = backend_devices(backend)
        shown = ", ".join(d.name + (f" (compute capability {d.capability[0]}.{d.capability[1]})"
                                    if d.capability else "") for d in devices)
        precision, why = choose_precision(backend, devices, bf16)
        lines.append(f"{backend} {installed}: devices {shown}; precision auto -> {precision} ({why})")
        if any(d.kind == "gpu" for d in devices):
            gpu_ready.append(backend)
        elif nodes:
            extra = ""
            if backend == "jax" and not any(importlib.util.find_spec(p) for p in _CUDA_PLUGINS):
                extra = " (no jax CUDA plugin installed)"
            lines.append(f"  {backend} sees no GPU{extra}: {_INSTALL[backend]}")
    chosen, why = resolve_backend("auto")
    lines.append(f"recipes with backend = \"auto\" render on: {chosen} ({why})")
    if gpu_ready:
        lines.append(f"GPU runs: ready on {', '.join(gpu_ready)} (render run RECIPE --backend {gpu_ready[0]})")
    elif not nodes:
        lines.append("GPU runs: no NVIDIA GPU on this machine; everything renders on the CPU")
    else:
        lines.append("GPU runs: a GPU is present but no installed backend sees it; install one of: "
                     + "; ".join(_INSTALL.values()))
    return lines
