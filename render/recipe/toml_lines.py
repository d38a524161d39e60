"""Find the line of a dotted key path in TOML source text, for error messages.

tomllib gives line numbers only for syntax errors, so this scans the text: table headers set the
current prefix, ``key =`` lines complete it, and the longest prefix of the wanted path wins (a key
inside an inline table reports the line of the table's key).
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=")
_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_\-]+)")


def _split_dotted(text: str) -> list[str]:
    return [a or b or c for a, b, c in _PART.findall(text)]


def find_line(text: str, key_path: str) -> int | None:
    """1-based line that defines ``key_path`` (or its longest defined prefix); None if not found."""
    wanted = key_path.split(".") if key_path else []
    if not wanted:
        return None
    table: list[str] = []
    best_len, best_line = 0, None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            path = table
        else:
            assign = _ASSIGN.match(line)
            if not assign:
                continue
            path = table + _split_dotted(assign.group(1))
        if path and len(path) <= len(wanted) and wanted[: len(path)] == path and len(path) > best_len:
            best_len, best_line = len(path), number
    return best_line
