"""Choosing the compute precision without importing TensorFlow.

``auto`` picks bfloat16 where the hardware runs it natively (x86 CPUs with AVX512_BF16 or AMX, or an
NVIDIA GPU), where it is about twice as fast as float32 for these convolutions; elsewhere float32.
The choice is made before rendering and recorded in every frame's key, so a run folder moved to a
machine that resolves ``auto`` differently re-renders instead of mixing frames.
"""

from __future__ import annotations

from pathlib import Path

_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return bool(_BF16_CPU_FLAGS & set(line.split(":", 1)[1].split()))
    except OSError:
        pass
    return False


def nvidia_gpu_present() -> bool:
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/gpus").is_dir()


def resolve_precision(requested: str) -> str:
    """"auto" | "float32" | "bfloat16" -> the dtype the model computes in."""
    if requested != "auto":
        return requested
    return "bfloat16" if cpu_has_bf16() or nvidia_gpu_present() else "float32"
