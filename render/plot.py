"""``render plan --plot curves.png``: every column that changes over time, drawn against time.

One panel per varying column of the plan (a vector column: one line per component, a latent: its
length and distance moved per frame; a text column: which value is in force), then one panel of the
soundtrack's features (a chroma feature as a 12-row image), with the beats as thin vertical lines
through every panel.  Drawn with matplotlib (the Agg backend: no display needed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .plan import Plan, _is_constant, is_inert, signals_of

MAX_PANELS = 16   # more varying columns than this: the first ones, and a note in the title


def plot_plan(plan: Plan, path: Path) -> Path:
    """Draw ``plan``'s varying columns and the recipe's audio features into the PNG (or SVG/PDF, by
    suffix) ``path``; returns ``path``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recipe = plan.recipe
    fps, frames = recipe.output.fps, plan.frames
    seconds = np.arange(frames) / fps
    varying = [name for name, values in plan.columns.items()
               if not _is_constant(values) and not is_inert(plan.recipe, name)]
    shown = varying[:MAX_PANELS]
    audio = recipe.audio
    signals = signals_of(recipe) if audio is not None else None
    scalar_features = [n for n, s in audio.features.items() if s.width == 1] if audio else []
    vector_features = [n for n, s in audio.features.items() if s.width > 1] if audio else []
    panels = len(shown) + (1 if scalar_features else 0) + len(vector_features)
    if panels == 0:
        panels = 1
    figure, axes = plt.subplots(panels, 1, figsize=(10, 1.7 * panels + 0.8), sharex=True, squeeze=False)
    axes = list(axes[:, 0])
    for axis, name in zip(axes, shown):
        _draw_column(axis, seconds, name, plan.columns[name])
    row = len(shown)
    if scalar_features:
        axis = axes[row]
        for name in scalar_features:
            axis.plot(seconds, signals.value(name, frames), label=name, linewidth=1.0)
        axis.set_ylabel("features", fontsize=8)
        axis.legend(loc="upper right", fontsize=7, ncol=min(4, len(scalar_features)))
        row += 1
    for name in vector_features:
        axis = axes[row]
        values = signals.value(name, frames)
        axis.imshow(values.T, aspect="auto", origin="lower", interpolation="nearest", cmap="magma",
                    extent=(seconds[0] - 0.5 / fps, seconds[-1] + 0.5 / fps, -0.5, values.shape[1] - 0.5))
        axis.set_yticks(range(12), ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"], fontsize=6)
        axis.set_ylabel(name, fontsize=8)
        row += 1
    if panels == 1 and not shown and not audio:
        axes[0].text(0.5, 0.5, "every column is constant", ha="center", va="center", transform=axes[0].transAxes)
    if audio is not None:
        from .audio import Track, beat_times
        beats = beat_times(Track.open(audio.path)) - audio.offset
        beats = beats[(beats >= 0) & (beats <= frames / fps)]
        for axis in axes:
            for beat in beats:
                axis.axvline(beat, color="0.55", linewidth=0.5, linestyle=":", zorder=0)
    axes[-1].set_xlabel(f"seconds (frame = seconds x {fps:g})")
    title = f"{recipe.name}: {frames} frames at {fps:g} fps"
    if audio is not None:
        title += f", {audio.path.name} from {audio.offset:g} s (dotted: beats)"
    if len(varying) > len(shown):
        title += f"; first {len(shown)} of {len(varying)} varying columns"
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _draw_column(axis, seconds: np.ndarray, name: str, values) -> None:
    axis.set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
    if isinstance(values, tuple):  # text: which value is in force
        labels = list(dict.fromkeys(values))
        index = np.array([labels.index(v) for v in values])
        axis.step(seconds, index, where="post", linewidth=1.2)
        axis.set_yticks(range(len(labels)), [Path(label).name for label in labels], fontsize=6)
        return
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        axis.plot(seconds, values, linewidth=1.2)
    elif values.shape[1] <= 4:
        for component in range(values.shape[1]):
            axis.plot(seconds, values[:, component], linewidth=1.0, label=f"[{component}]")
        axis.legend(loc="upper right", fontsize=6, ncol=values.shape[1])
    else:  # a latent: its length, and how far it moves per frame (a jump shows as a spike)
        axis.plot(seconds, np.linalg.norm(values, axis=1), linewidth=1.0, label="|latent|")
        steps = np.r_[0.0, np.linalg.norm(np.diff(values, axis=0), axis=1)]
        axis.plot(seconds, steps, linewidth=1.0, label="step per frame")
        axis.legend(loc="upper right", fontsize=6, ncol=2)
    axis.tick_params(labelsize=7)
