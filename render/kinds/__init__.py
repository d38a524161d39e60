"""The kind registry: recipe ``kind = "..."`` -> its plug-in (:class:`render.kinds.base.Kind`).

Built-in kinds are listed here by module path and imported on demand (none imports TensorFlow at
import time).  Other packages add kinds through the Python entry point group ``neural_render.kinds``:
each entry point names a :class:`Kind` instance (or a class, which is instantiated)::

    [project.entry-points."neural_render.kinds"]
    mosaic = "my_package.mosaic:KIND"
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import RenderError
from .base import Engine, FrameJob, Kind

ENTRY_POINT_GROUP = "neural_render.kinds"
BUILTIN = {"dream": "render.kinds.dream:KIND", "style": "render.kinds.style:KIND",
           "walk": "render.kinds.walk:KIND", "translate": "render.kinds.translate:KIND",
           "visualize": "render.kinds.visualize:KIND"}


def _load_object(target: str):
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute)
    return value() if isinstance(value, type) else value


class KindRegistry:
    """Kind name -> :class:`Kind`.  ``register`` adds one; ``get`` raises KeyError for unknown names."""

    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}
        self._lazy: dict[str, str] = {}

    def register(self, kind: Kind) -> Kind:
        if not isinstance(kind, Kind) or not kind.name:
            raise TypeError(f"{kind!r} is not a named render.kinds.base.Kind")
        self._kinds[kind.name] = kind
        self._lazy.pop(kind.name, None)
        return kind

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``module:attribute``, imported the first time the kind is asked for."""
        if name not in self._kinds:
            self._lazy[name] = target

    def get(self, name: str) -> Kind:
        if name in self._lazy:
            target = self._lazy.pop(name)
            try:
                kind = _load_object(target)
            except Exception as err:  # a broken plug-in is reported, not a traceback
                raise RenderError(f"kind {name!r} ({target}) cannot be loaded: {err}") from None
            self.register(kind)
        return self._kinds[name]

    def names(self) -> list[str]:
        return sorted(set(self._kinds) | set(self._lazy))


def default_registry() -> KindRegistry:
    """The built-in kinds plus every ``neural_render.kinds`` entry point installed now."""
    registry = KindRegistry()
    for name, target in BUILTIN.items():
        registry.register_lazy(name, target)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        registry.register_lazy(point.name, point.value)
    return registry


__all__ = ["Kind", "KindRegistry", "FrameJob", "Engine", "default_registry", "ENTRY_POINT_GROUP"]
