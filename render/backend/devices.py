"""The devices a backend sees, and the compute precision ``auto`` resolves to on them.

``auto`` picks bfloat16 only where the device the backend renders on runs it natively: an NVIDIA GPU
of compute capability 8.0 or newer (Ampere, Ada, Hopper, Blackwell), or, on TensorFlow, a CPU with
AVX512_BF16 or AMX (oneDNN's kernels); float32 elsewhere (T4, V100 and consumer cards before Ampere,
CPUs without those instructions, and JAX on CPUs, whose XLA kernels run bfloat16 no faster than
float32: measured 0.56 s against 0.59 s for a VGG16 step here).

The device list comes from the backend itself, not from the presence of ``/dev/nvidia0``: a
CPU-only TensorFlow on a GPU machine sees only the CPU.  Listing a backend's devices imports it, so
when the backend is not imported in this process yet (``render plan`` and ``render validate`` stay
free of TensorFlow) the list is read by a child process once and cached per machine state.  On a
machine without NVIDIA device nodes no backend can see a GPU, and nothing is probed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}
_PACKAGES = {"tensorflow": "tensorflow", "jax": "jaxlib"}


@dataclass(frozen=True)
class Device:
    """``kind`` "cpu" or "gpu"; ``name`` as the framework reports it; ``capability`` the CUDA compute
    capability (major, minor) of an NVIDIA GPU, else None; ``memory`` a GPU's bytes when known."""

    kind: str
    name: str
    capability: tuple[int, int] | None = None
    memory: int | None = None


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    return bool(_BF16_CPU_FLAGS & cpu_flags(cpuinfo))


def nvidia_device_nodes() -> list[str]:
    """GPU device nodes (NVIDIA's, and AMD's /dev/kfd for ROCm builds): without any, no framework can
    see a GPU, and none is asked."""
    nodes = sorted(str(p) for p in Path("/dev").glob("nvidia[0-9]*"))
    return nodes + (["/dev/kfd"] if Path("/dev/kfd").exists() else [])


def _cache_file(backend: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neural-render"
    return base / f"devices-{backend}.json"


def _machine_state(backend: str) -> str:
    """What the device list depends on: the framework's version, the visible GPUs and the boot."""
    try:
        package = version(_PACKAGES[backend])
    except PackageNotFoundError:
        package = None
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    state = [backend, package, os.environ.get("CUDA_VISIBLE_DEVICES"), nvidia_device_nodes(), boot, sys.executable]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()


def _probe(backend: str) -> list[Device]:
    """List ``backend``'s devices in a child process (which imports the framework)."""
    code = ("import json,sys; from render.backend import activate, current; activate(sys.argv[1]); "
            "from dataclasses import asdict; print(json.dumps([asdict(d) for d in current().devices()]))")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else root
    try:
        done = subprocess.run([sys.executable, "-c", code, backend], capture_output=True, text=True,
                              timeout=300, env=env)
        rows = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return [Device("cpu", "CPU")]   # the framework cannot start: it sees no GPU either
    return [_device(r) for r in rows]


def _device(row: dict) -> Device:
    return Device(row["kind"], row["name"], tuple(row["capability"]) if row.get("capability") else None,
                  row.get("memory"))


def nvidia_smi_memory() -> list[int]:
    """Total memory of each NVIDIA GPU in bytes, from nvidia-smi (empty when it is missing)."""
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=30)
        return [int(float(line)) * 2**20 for line in done.stdout.split() if line.strip()]
    except (OSError, subprocess.SubprocessError, ValueError):
        return []


def backend_devices(backend: str) -> list[Device]:
    """The devices ``backend`` renders on, asked of the framework itself (see the module notes)."""
    from . import keras_backend_in_use
    if keras_backend_in_use() == backend:
        from . import current
        return current().devices()
    if not nvidia_device_nodes():
        return [Device("cpu", "CPU")]
    cache, state = _cache_file(backend), _machine_state(backend)
    try:
        saved = json.loads(cache.read_text())
        if saved.get("state") == state:
            return [_device(d) for d in saved["devices"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = _probe(backend)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"state": state, "devices": [asdict(d) for d in found]}))
    except OSError:
        pass
    return found


def choose_precision(backend: str, devices: list[Device], bf16_cpu: bool) -> tuple[str, str]:
    """(precision, why) for ``auto`` on ``devices`` (the backend renders on the first GPU, else the CPU)."""
    gpus = [d for d in devices if d.kind == "gpu"]
    if gpus:
        gpu = gpus[0]
        if gpu.capability is not None and tuple(gpu.capability) >= (8, 0):
            return "bfloat16", f"{gpu.name} (compute capability {gpu.capability[0]}.{gpu.capability[1]}) " \
                               "runs bfloat16 natively"
        shown = f"compute capability {gpu.capability[0]}.{gpu.capability[1]}" if gpu.capability else \
            "unknown compute capability"
        return "float32", f"{gpu.name} ({shown}) has no native bfloat16 (needs 8.0 or newer)"
    if not bf16_cpu:
        return "float32", "the CPU has neither AVX512_BF16 nor AMX"
    if backend != "tensorflow":
        return "float32", f"{backend} on a CPU runs bfloat16 no faster than float32"
    return "bfloat16", "the CPU has AVX512_BF16/AMX and TensorFlow's oneDNN kernels use them"


def machine_memory() -> int:
    """Bytes of RAM on this machine."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover - not Linux
        return 16 * 2**30


def memory_budget(backend: str) -> tuple[int, str] | None:
    """(bytes, what) of the first GPU ``backend`` renders on, when it has one of known size."""
    for device in backend_devices(backend):
        if device.kind == "gpu" and device.memory:
            return device.memory, device.name
    return None


def resolve_precision(requested: str, backend: str = "tensorflow") -> tuple[str, str]:
    """``auto`` | ``float32`` | ``bfloat16`` -> (the dtype the models compute in, why)."""
    if requested != "auto":
        return requested, "asked for"
    return choose_precision(backend, backend_devices(backend), cpu_has_bf16())
