"""One-line notes to the artist: what the renderer did to an input or an output on their behalf (a
16-bit picture scaled, a transparent picture composited, an odd-sized video padded), and warnings of
the libraries it uses, turned into the same one-line form.

Code anywhere calls :func:`note`; the CLI calls :func:`show_notes` once: notes go to stderr as
``note: ...`` lines, and under ``--quiet`` neither notes nor third-party warnings are shown.  Tests read
the notes with pytest's ``caplog`` (logger ``render.notes``).
"""

from __future__ import annotations

import logging
import sys
import warnings

LOG = logging.getLogger("render.notes")
_seen: set[str] = set()


def note(message: str, once: bool = True) -> None:
    """Tell the artist ``message`` (one line, no trailing period needed); ``once`` drops repeats in
    this process (a folder of 500 16-bit frames says so once)."""
    message = " ".join(str(message).split())
    if once:
        if message in _seen:
            return
        _seen.add(message)
    LOG.info(message)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    print(f"note: {text} ({category.__name__} from {filename.rsplit('/', 1)[-1]})", file=file or sys.stderr)


def show_notes(quiet: bool) -> None:
    """Route notes and Python warnings for a CLI command: one ``note:`` line each on stderr, or
    nothing at all when ``quiet``."""
    LOG.propagate = False
    LOG.handlers[:] = []
    if quiet:
        LOG.setLevel(logging.ERROR)
        warnings.simplefilter("ignore")
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("note: %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    warnings.showwarning = _one_line_warning


def quiet() -> bool:
    """True under a command's ``--quiet`` (notes are off): progress bars stay silent too."""
    return LOG.level >= logging.ERROR and not LOG.handlers
