"""What each backend module provides, and the compile bookkeeping they share (no framework imports).

A backend module (:mod:`render.backend.tensorflow`, :mod:`render.backend.jax`) exposes:

- ``name``: ``"tensorflow"`` or ``"jax"``;
- ``value_and_grad(fn, has_aux=False)``: ``g(x, *args) -> (fn(x, *args), d fn / d x)``; with
  ``has_aux`` ``fn`` returns ``(scalar, aux)`` and the gradient is of the scalar;
- ``compile(fn, models=(), static=(), name=...)``: a :class:`Compiled` running ``fn`` as one graph
  (``tf.function`` / ``jax.jit``), one graph per input signature; ``models`` are the Keras models
  ``fn`` calls (JAX passes their weights as arguments instead of baking them into the program);
  positional arguments listed in ``static`` are Python values (tile sides, step counts) that select a
  graph; every other argument is an array or a (nested) tuple of arrays;
- ``devices()``: the :class:`render.backend.devices.Device` list the framework sees;
- ``is_out_of_memory(error)``: whether an exception is the framework's out-of-memory error.

Arrays go back to numpy with ``numpy.asarray``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


def signature(value: Any) -> Any:
    """A hashable description of a call's arguments: shape and dtype of arrays, the value of Python
    scalars and strings, recursively through tuples, lists and dicts."""
    if isinstance(value, (tuple, list)):
        return tuple(signature(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, signature(v)) for k, v in sorted(value.items()))
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    shape = getattr(value, "shape", None)
    if shape is not None:
        dtype = value.dtype
        return (tuple(int(d) for d in shape), getattr(dtype, "name", str(dtype)))
    raise TypeError(f"cannot pass a {type(value).__name__} to a compiled function")


@dataclass
class CompileStats:
    """Graphs compiled in this process and the seconds spent compiling them, apart from rendering."""

    count: int = 0
    seconds: float = 0.0
    by_name: dict = field(default_factory=dict)   # name -> [count, seconds]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.count += 1
            self.seconds += seconds
            entry = self.by_name.setdefault(name, [0, 0.0])
            entry[0] += 1
            entry[1] += seconds

    def snapshot(self) -> tuple[int, float]:
        with self._lock:
            return self.count, self.seconds


STATS = CompileStats()


class Compiled:
    """A compiled function: one graph per argument signature, built on first use and timed into
    :data:`STATS`.  ``build(args) -> runner`` compiles for ``args``' signature and returns a callable
    taking the same arguments."""

    def __init__(self, name: str, build: Callable[[tuple], Callable]):
        self.name, self._build = name, build
        self._graphs: dict = {}
        self._lock = threading.Lock()

    def __call__(self, *args):
        key = signature(args)
        runner = self._graphs.get(key)
        if runner is None:
            with self._lock:
                runner = self._graphs.get(key)
                if runner is None:
                    start = time.perf_counter()
                    runner = self._build(args)
                    STATS.add(self.name, time.perf_counter() - start)
                    self._graphs[key] = runner
        return runner(*args)

    @property
    def graphs(self) -> int:
        """How many graphs (argument signatures) this function has compiled."""
        return len(self._graphs)
