"""Error types that reach the user as one clear line instead of a traceback.

The CLI catches :class:`RenderError` and prints ``str(error)``; everything else is a bug and keeps
its traceback.  Exit status: 2 for recipe (input) errors, 1 for the other failures.
"""

from __future__ import annotations


class RenderError(Exception):
    """Base of every error the CLI reports as a single line."""

    exit_code = 1


class RecipeError(RenderError):
    """A recipe that cannot be rendered as written.

    ``file`` is the recipe path, ``key`` a dotted key path such as ``dream.layers.block4_conv3``
    (empty for file-level problems) and ``line`` the 1-based TOML line where it is known.
    """

    exit_code = 2

    def __init__(self, file: str, key: str, message: str, line: int | None = None):
        self.file = str(file)
        self.key = key
        self.message = message
        self.line = line
        super().__init__(self.format())

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.message}"
        return f"{where}: {self.message}"


class ModelError(RenderError):
    """A model that cannot be built or loaded (missing weights, offline download, bad file)."""


class OutputError(RenderError):
    """Writing frames or encoding a video failed, or the run folder is unusable (locked, foreign)."""
