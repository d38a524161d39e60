"""The JAX backend: ``jax.value_and_grad`` gradients and ``jax.jit`` programs.

Imports no TensorFlow.  Keras models called inside a compiled function read their weights through a
``keras.StatelessScope``, so the weights are arguments of the compiled program rather than constants
baked into it (half the compile time for VGG16, and the same program serves new weights).  Each new
argument signature is compiled ahead of time (``lower().compile()``), so compile time is measured
apart from running time.  Interface: :mod:`render.backend.api`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import keras

from .api import Compiled
from .devices import Device

name = "jax"


def _keras_without_tensorflow() -> None:
    """Keras asks whether TensorFlow is installed (by importing it: seconds and a gigabyte) when it
    serialises a layer's config, as cloning a model in bfloat16 does.  A JAX render never needs it, so
    Keras is told it is absent, exactly as on a machine without TensorFlow."""
    try:
        from keras.src.utils import module_utils
        if module_utils.tensorflow.module is None:
            module_utils.tensorflow._available = False
    except (ImportError, AttributeError):  # another Keras layout: it then imports TensorFlow itself
        pass


_keras_without_tensorflow()


def value_and_grad(fn: Callable, has_aux: bool = False) -> Callable:
    return jax.value_and_grad(fn, has_aux=has_aux)


def _variables(models: Sequence) -> list:
    seen, variables = set(), []
    for model in models:
        for variable in model.variables:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    return variables


def compile(fn: Callable, models: Sequence = (), static: Sequence[int] = (), name: str = "graph",
            jit: bool = True) -> Compiled:
    """``fn`` as ``jax.jit`` programs, one per signature; ``jit`` is always on for JAX."""
    variables = _variables(models)
    static = tuple(sorted(static))

    def pure(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn(*args)

    jitted = jax.jit(pure, static_argnums=tuple(i + 1 for i in static))

    def build(args):
        values = [v.value for v in variables]
        program = jitted.lower(values, *args).compile()

        def run(*call_args):
            dynamic = [a for i, a in enumerate(call_args) if i not in static]
            return program([v.value for v in variables], *dynamic)

        return run

    return Compiled(name, build)


def devices() -> list[Device]:
    found = []
    for device in jax.devices():
        if device.platform == "cpu":
            if not any(d.kind == "cpu" for d in found):
                found.append(Device("cpu", "CPU"))
            continue
        capability = getattr(device, "compute_capability", None)
        if isinstance(capability, str):
            capability = tuple(int(p) for p in capability.split("."))
        stats = device.memory_stats() or {}
        found.append(Device("gpu" if device.platform in ("gpu", "cuda", "rocm") else device.platform,
                            device.device_kind, capability, stats.get("bytes_limit")))
    return found


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    text = str(error)
    return type(error).__name__ in ("XlaRuntimeError", "JaxRuntimeError") and (
        "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text)
