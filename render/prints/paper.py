"""Print sizes: paper names and lengths with units -> pixels at a resolution.

``parse_size("A3", 300)`` -> 3508 x 4961 px (portrait; ``orientation`` turns it), ``"60x40cm"``,
``"24x36in"``, ``"210x297mm"`` and ``"7087x4724px"`` work too.  Lengths become pixels as
``round(inches * dpi)``, so A4 at 300 dpi is 2480 x 3508 as print shops expect.  A bleed (``"3mm"``)
adds that margin on every side.  Errors are :class:`SizeError` with a message that says what to write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MM_PER_INCH = 25.4
DPI_RANGE = (30, 2400)

# (width, height) in millimetres, portrait
PAPERS: dict[str, tuple[float, float]] = {
    "A0": (841, 1189), "A1": (594, 841), "A2": (420, 594), "A3": (297, 420), "A4": (210, 297),
    "A5": (148, 210), "A6": (105, 148),
    "B1": (707, 1000), "B2": (500, 707), "B3": (353, 500), "B4": (250, 353), "B5": (176, 250),
    "LETTER": (215.9, 279.4), "LEGAL": (215.9, 355.6), "TABLOID": (279.4, 431.8),
}
UNITS_MM = {"mm": 1.0, "cm": 10.0, "in": MM_PER_INCH, "px": None}
ORIENTATIONS = ("auto", "portrait", "landscape")

_PAIR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[x×]\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_LENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


class SizeError(ValueError):
    """A size, dpi or bleed that cannot be used; the message says what is accepted."""


@dataclass(frozen=True)
class PrintSize:
    """Pixels of the printed picture including any bleed; ``label`` as the user wrote it."""

    width: int
    height: int
    dpi: int
    label: str
    bleed_px: int = 0

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def describe(self) -> str:
        cm = (self.width / self.dpi * 2.54, self.height / self.dpi * 2.54)
        bleed = f", {self.bleed_px} px bleed per side" if self.bleed_px else ""
        return f"{self.label} at {self.dpi} dpi: {self.width}x{self.height} px ({cm[0]:.1f} x {cm[1]:.1f} cm{bleed})"


def check_dpi(dpi) -> int:
    low, high = DPI_RANGE
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or dpi != int(dpi):
        raise SizeError(f"dpi must be a whole number from {low} to {high}, got {dpi!r}")
    if not low <= dpi <= high:
        raise SizeError(f"dpi {int(dpi)} is out of range: printers take {low} to {high}")
    return int(dpi)


def length_px(text: str, dpi: int) -> int:
    """``"3mm"`` / ``"0.125in"`` / ``"12px"`` -> pixels at ``dpi``; ``"0"`` is allowed without a unit."""
    match = _LENGTH.match(str(text))
    if not match:
        raise SizeError(f"cannot read length {text!r}: write a number and a unit, e.g. \"3mm\"")
    value, unit = float(match.group(1)), match.group(2).lower()
    if value == 0:
        return 0
    if unit not in UNITS_MM:
        raise SizeError(f"length {text!r} needs a unit: mm, cm, in or px")
    return round(value) if unit == "px" else round(value * UNITS_MM[unit] / MM_PER_INCH * dpi)


def parse_size(text: str, dpi: int, orientation: str = "portrait", bleed: str = "0") -> PrintSize:
    """Paper name or ``WxH`` with a unit -> :class:`PrintSize` at ``dpi``.

    ``orientation`` applies to paper names and unit sizes alike: "portrait" / "landscape" turn the
    sheet, "auto" keeps what was written (paper names are portrait)."""
    dpi = check_dpi(dpi)
    if orientation not in ORIENTATIONS:
        raise SizeError(f"orientation must be one of {', '.join(ORIENTATIONS)}, got {orientation!r}")
    raw = str(text).strip()
    paper = PAPERS.get(raw.upper())
    if paper is not None:
        width, height = (round(mm / MM_PER_INCH * dpi) for mm in paper)
    else:
        match = _PAIR.match(raw)
        if not match:
            names = ", ".join(PAPERS)
            raise SizeError(f"unknown print size {raw!r}: give a paper ({names}) or WIDTHxHEIGHT with a unit, "
                            "e.g. 60x40cm, 24x36in, 7087x4724px")
        a, b, unit = float(match.group(1)), float(match.group(2)), match.group(3).lower()
        if not unit:
            raise SizeError(f"print size {raw!r} has no unit: write {raw}cm, {raw}in, {raw}mm or {raw}px")
        if unit not in UNITS_MM:
            raise SizeError(f"print size {raw!r}: unknown unit {unit!r}; use mm, cm, in or px")
        if unit == "px":
            width, height = round(a), round(b)
        else:
            width, height = (round(v * UNITS_MM[unit] / MM_PER_INCH * dpi) for v in (a, b))
    if orientation == "landscape" and height > width or orientation == "portrait" and width > height:
        width, height = height, width
    margin = length_px(bleed, dpi)
    width, height = width + 2 * margin, height + 2 * margin
    if min(width, height) < 32:
        raise SizeError(f"print size {raw!r} at {dpi} dpi is only {width}x{height} px")
    if width * height > 2_000_000_000:
        raise SizeError(f"print size {raw!r} at {dpi} dpi is {width}x{height} px, beyond what one file holds")
    return PrintSize(width, height, dpi, raw, margin)


MEMORY_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2,
                "GIB": 1024**3, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_memory(text: str) -> int:
    """``"4GiB"`` / ``"500MB"`` / ``"6G"`` -> bytes."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$", str(text))
    unit = match.group(2).upper() if match else None
    if not match or unit not in MEMORY_UNITS or unit == "":
        raise SizeError(f"cannot read memory size {text!r}: write e.g. 4GiB, 6G or 500MB")
    return int(float(match.group(1)) * MEMORY_UNITS[unit])


def format_bytes(count: float) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size:
            return f"{count / size:.2f} {unit}"
    return f"{int(count)} B"
