"""`render gallery`: render a folder of recipes into their run folders and copy each one's video and
poster (its last frame, or its still) into the gallery folder.

A failing recipe does not stop the others: each outcome is collected (rendered, reused, or failed
with its one-line reason) and the caller prints the summary and chooses the exit status.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import RenderError
from .recipe import load_recipe
from .runner import default_out_dir, poster_frame, render


@dataclass
class GalleryEntry:
    recipe: Path
    status: str                      # "rendered", "reused" or "failed"
    seconds: float = 0.0
    frames_rendered: int = 0
    reason: str = ""                 # why it failed, one line
    outputs: list[Path] = field(default_factory=list)


def build_gallery(paths: list[Path], gallery_dir: Path, progress_for: Callable[[], object] | None = None,
                  registry=None) -> list[GalleryEntry]:
    """Render every recipe of ``paths`` (frames already stored are reused) and copy its results into
    ``gallery_dir``; returns one entry per recipe, in order."""
    gallery_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in paths:
        start = time.perf_counter()
        try:
            recipe = load_recipe(path, (), registry)
            out_dir = default_out_dir(recipe)
            result = render(recipe, out_dir, progress=progress_for() if progress_for else None)
            poster = gallery_dir / f"{recipe.name}.png"
            shutil.copyfile(poster_frame(out_dir, recipe.output.frames), poster)
            outputs = [poster]
            if result.video:
                outputs.append(gallery_dir / result.video.name)
                shutil.copyfile(result.video, outputs[-1])
            status = "rendered" if result.rendered else "reused"
            entries.append(GalleryEntry(Path(path), status, time.perf_counter() - start, len(result.rendered),
                                        outputs=outputs))
        except (RenderError, OSError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            entries.append(GalleryEntry(Path(path), "failed", time.perf_counter() - start, reason=reason))
    return entries


def format_summary(entries: list[GalleryEntry]) -> str:
    """A plain table: recipe, status, frames rendered, seconds, and the reason of each failure."""
    width = max([len(str(e.recipe)) for e in entries] + [6])
    lines = [f"{'recipe':<{width}}  {'status':<8}  {'frames':>6}  {'seconds':>7}"]
    for e in entries:
        lines.append(f"{str(e.recipe):<{width}}  {e.status:<8}  {e.frames_rendered:>6}  {e.seconds:>7.1f}"
                     + (f"  {e.reason}" if e.reason else ""))
    failed = sum(e.status == "failed" for e in entries)
    lines.append(f"{len(entries)} recipes: {sum(e.status == 'rendered' for e in entries)} rendered, "
                 f"{sum(e.status == 'reused' for e in entries)} reused, {failed} failed")
    return "\n".join(lines)
