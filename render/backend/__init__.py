"""Which Keras backend renders, chosen before Keras is first imported.

Keras reads its backend once, when it is imported (the ``KERAS_BACKEND`` variable, else
``~/.keras/keras.json``), so a process renders on one backend: :func:`activate` sets it before the
engines import Keras and refuses to switch later.  Everything the engines cannot write in
``keras.ops`` (the gradient of a loss with respect to an input, compiling a function) lives in one
small module per backend, :mod:`render.backend.tensorflow` and :mod:`render.backend.jax`, both
exposing the interface described by :class:`render.backend.api.Backend`; :func:`current` returns the
active one.  Importing this package imports no framework.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

from ..errors import RenderError

BACKENDS = ("tensorflow", "jax")
DEFAULT = "tensorflow"


class BackendError(RenderError):
    exit_code = 2


def environment_backend() -> tuple[str, str] | None:
    """The Keras backend the user's environment selects and where: (``KERAS_BACKEND``, else the
    ``backend`` of ``$KERAS_HOME/keras.json`` or ``~/.keras/keras.json``), or None."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen and chosen.strip():
        return chosen.strip().lower(), "KERAS_BACKEND"
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        config = json.loads((home / "keras.json").read_text())
    except (OSError, ValueError):
        return None
    backend = config.get("backend") if isinstance(config, dict) else None
    if isinstance(backend, str) and backend.strip():
        return backend.strip().lower(), str(home / "keras.json")
    return None


def resolve_backend(requested: str) -> tuple[str, str]:
    """``"auto"`` | ``"tensorflow"`` | ``"jax"`` -> (backend, why).  ``auto`` is TensorFlow unless the
    environment selects JAX; an environment selecting a backend this renderer does not run on
    (torch, numpy) falls back to TensorFlow, and ``why`` says so."""
    if requested in BACKENDS:
        return requested, "asked for"
    if requested != "auto":
        raise BackendError(f"unknown backend {requested!r}: use one of auto, {', '.join(BACKENDS)}")
    found = environment_backend()
    if found is None:
        return DEFAULT, "auto: the default"
    chosen, source = found
    if chosen == DEFAULT and source != "KERAS_BACKEND":
        return DEFAULT, f"auto: the default, as {source} says (Keras writes its default there)"
    if chosen in BACKENDS:
        return chosen, f"auto: {source} selects {chosen}"
    return DEFAULT, f"auto: {source} selects {chosen}, which this renderer does not run on"


_INSTALL = {"tensorflow": 'pip install -e .  (TensorFlow is a default dependency)',
            "jax": 'pip install -e ".[jax]", or ".[jax-cuda]" for NVIDIA GPUs'}


def require_backend(name: str) -> None:
    """Raise :class:`BackendError` (one line, with the install command) when ``name``'s framework is
    not installed.  Looks the package up without importing it."""
    import importlib.util
    if importlib.util.find_spec(name) is None:
        raise BackendError(f"backend {name} is not installed: {_INSTALL[name]}")


def keras_backend_in_use() -> str | None:
    """The backend of the Keras already imported in this process, or None before Keras is imported."""
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    try:
        return keras.backend.backend()
    except AttributeError:  # keras is still importing
        return os.environ.get("KERAS_BACKEND")


def activate(name: str) -> None:
    """Make ``name`` the process's Keras backend.  Before Keras is imported this sets
    ``KERAS_BACKEND``; afterwards it only checks that Keras already runs on ``name``.

    Raises :class:`BackendError` when Keras was imported with another backend."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
    in_use = keras_backend_in_use()
    if in_use is None:
        require_backend(name)
        os.environ["KERAS_BACKEND"] = name
        if name == "jax":
            # several renders (gallery --jobs, farm workers) can share a GPU: allocate as needed
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        return
    if in_use != name:
        raise BackendError(f"this process already runs Keras on {in_use}; backend {name} needs its own "
                           f"process (render it alone, or pass --backend {in_use})")


_SHARED: dict = {}


def compiled(name: str, fn, static=()):
    """``fn`` (a stateless helper such as a resize or a warp) compiled on the active backend once per
    process and kept under ``name``, so every caller shares its graphs and their compile time is
    counted with the engines'."""
    backend = current()
    key = (backend.name, name)
    if key not in _SHARED:
        _SHARED[key] = backend.compile(fn, static=static, name=name)
    return _SHARED[key]


def current():
    """The active backend's module (:mod:`render.backend.tensorflow` or :mod:`render.backend.jax`),
    activating the default when Keras has not been imported yet."""
    name = keras_backend_in_use()
    if name is None:
        name, _ = resolve_backend("auto")
        activate(name)
    if name not in BACKENDS:
        raise BackendError(f"Keras runs on {name}, which this renderer does not support")
    return importlib.import_module(f"{__name__}.{name}")
