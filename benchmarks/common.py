"""Helpers shared by the benchmark scripts: best-of timing, the machine's measured matmul peak, and a
line describing the machine."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from render.provenance import cpu_description, gpu_names  # noqa: E402


def best_of(fn, repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn``, after one warm-up call (tracing, kernel
    selection)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_flops(n: int = 4096, repeats: int = 5, dtype=None) -> float:
    """FLOP/s of an ``n x n`` matmul in ``dtype`` (float32 by default): the machine's practical peak."""
    from render.tfsetup import tf
    dtype = dtype or tf.float32
    a = tf.cast(tf.random.normal((n, n)), dtype)
    b = tf.cast(tf.random.normal((n, n)), dtype)
    matmul = tf.function(lambda: tf.matmul(a, b))
    return 2 * n ** 3 / best_of(lambda: matmul().numpy(), repeats)


def machine_line() -> str:
    """The machine and library versions (read from package metadata: imports no framework)."""
    from render.provenance import _version
    gpus = gpu_names()
    cpu = cpu_description()
    where = f"GPU {', '.join(gpus)}" if gpus else f"CPU {cpu['model']} ({', '.join(cpu['vector_features'])})"
    return (f"machine: {where}, {os.cpu_count()} CPUs, TensorFlow {_version('tensorflow')}, "
            f"JAX {_version('jax')}, Keras {_version('keras')}, python {platform.python_version()}")


def vgg_conv_flops(height: int, width: int, deepest: str) -> float:
    """FLOPs of VGG16's 3x3 convolutions up to ``deepest`` (see render.models.catalog)."""
    from render.models.catalog import vgg16_conv_flops
    return vgg16_conv_flops(height, width, deepest)
