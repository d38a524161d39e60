"""What `render models` prints: every model, where it comes from, its licence, size and whether it is here."""

from __future__ import annotations

from . import catalog, fetched, packages


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def _layers(info: catalog.ModelInfo) -> str:
    return ", ".join(f"{name}[{layer.channels}]" for name, layer in info.layers.items())


def model_lines(verbose: bool = False) -> list[str]:
    """Lines for `render models`: name (aliases), description, source, licence, size, presence, layers;
    ``verbose`` adds each packaged model's card."""
    lines: list[str] = []

    def aliases(name):
        names = [a for a, target in catalog.ALIASES.items() if target == name]
        return f" ({', '.join(names)})" if names else ""

    for info in catalog.BUILTIN.values():
        entry = info.packaged()
        if entry is None:
            status = "needs a download on first use" if info.needs_download else "embedded, works offline"
            lines.append(f"{info.name}{aliases(info.name)}: {info.description}; {status}")
        else:
            lines.extend(_packaged_lines(info, entry, aliases(info.name), verbose))
        if info.layers:
            lines.append(f"  role: {info.role}; layers: {_layers(info)}")
        else:
            lines.append(f"  role: {info.role}; latent size {info.latent_size}")
    for info in (*catalog.UPSCALERS.values(), *catalog.STYLIZERS.values()):
        lines.extend(_packaged_lines(info, info.packaged(), aliases(info.name), verbose))
        if info.role == packages.STYLIZER:
            lines.append(f"  role: {info.role} ([style] method = \"fast\", not a [model])")
    for name, description in catalog.TRAINED.items():
        lines.append(f"{name}: {description}; trained here, in models/{name}/")
    return lines


def _packaged_lines(info, entry: packages.PackagedModel, alias: str, verbose: bool) -> list[str]:
    present = fetched.is_present(entry)
    shared = [m.name for m in packages.models_of(entry.package)]
    download = (f"one {_megabytes(entry.package.size)} download for {len(shared)} models" if len(shared) > 1
                else f"{_megabytes(entry.package.size)} download")
    where = (f"here ({_megabytes(fetched.size_on_disk(entry))} in {fetched.model_folder(entry)})" if present
             else f"not fetched yet: `render models get {info.name}` ({download})")
    lines = [f"{info.name}{alias}: {entry.description}",
             f"  source: {entry.package.label()}, {entry.licence}; {where}"]
    if verbose:
        lines.append(f"  card: {entry.card}")
    return lines
