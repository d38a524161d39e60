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
    (empty for file-level problems), ``line`` the 1-based TOML line where it is known and ``via`` the
    places ("file:line key") of the recipes that reached this one, outermost first.
    """

    exit_code = 2

    def __init__(self, file: str, key: str, message: str, line: int | None = None, via: tuple[str, ...] = ()):
        self.file = str(file)
        self.key = key
        self.message = message
        self.line = line
        self.via = tuple(via)
        super().__init__(self.format())

    def format(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return text + (f" (reached from {' -> '.join(self.via)})" if self.via else "")

    def reached_from(self, where: str) -> "RecipeError":
        """The same error, found while reading another recipe at ``where`` ("file:line key"): recipes
        that use other recipes' frames say which downstream reached a broken upstream."""
        return RecipeError(self.file, self.key, self.message, self.line, (where,) + self.via)


class ModelError(RenderError):
    """A model that cannot be built or loaded (missing weights, offline download, bad file)."""


class OutputError(RenderError):
    """Writing frames or encoding a video failed, or the run folder is unusable (locked, foreign)."""
