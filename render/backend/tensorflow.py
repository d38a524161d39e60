"""The TensorFlow backend: ``tf.GradientTape`` gradients and ``tf.function`` graphs.

The only module (besides pix2pix training and the quiet import in :mod:`render.tfsetup`) that uses
TensorFlow directly; its interface is described in :mod:`render.backend.api`.  GPU memory is
allocated as it grows, so several renders can share a card.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ..tfsetup import tf
from .api import Compiled
from .devices import Device, nvidia_smi_memory

name = "tensorflow"


def _grow_gpu_memory() -> None:
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: the setting cannot change any more
            pass


_grow_gpu_memory()


def value_and_grad(fn: Callable, has_aux: bool = False) -> Callable:
    def run(x, *args):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = fn(x, *args)
        value = out[0] if has_aux else out
        return out, tape.gradient(value, x)
    return run


def compile(fn: Callable, models: Sequence = (), static: Sequence[int] = (), name: str = "graph",
            jit: bool = False) -> Compiled:
    """``fn`` as ``tf.function`` graphs, one per signature (``models`` are read as variables);
    ``jit`` compiles with XLA (slower than oneDNN on CPUs)."""
    graph = tf.function(fn, autograph=False, reduce_retracing=False, jit_compile=jit)

    def build(args):
        graph.get_concrete_function(*args)   # trace now, so tracing counts as compile time
        return graph

    return Compiled(name, build)


def devices() -> list[Device]:
    found = [Device("cpu", "CPU")]
    gpus = tf.config.list_physical_devices("GPU")
    sizes = nvidia_smi_memory() if gpus else []
    for index, gpu in enumerate(gpus):
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability")
        found.append(Device("gpu", details.get("device_name", gpu.name),
                            tuple(capability) if capability else None,
                            sizes[index] if index < len(sizes) else None))
    return found


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, (tf.errors.ResourceExhaustedError, MemoryError))
