"""The Ray actor that renders frames: one per GPU (Ray pins it with ``num_gpus``), or one per node on
CPU-only machines.  It loads a recipe's model once and keeps its engine resident for later batches.

Recipes travel as :class:`RecipeSource` (path, text, overrides, preview); assets are read by path, so
on a real cluster the recipes and their assets must sit at the same path on every node (a shared
filesystem), as the models must be installed on every node.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

RESIDENT_ENGINES = 2  # engines (models) a worker keeps loaded, least recently used dropped first


@dataclass(frozen=True)
class RecipeSource:
    path: str
    text: str
    overrides: tuple[str, ...]
    preview: bool = False

    @classmethod
    def of(cls, recipe, preview: bool = False) -> "RecipeSource":
        # the worker renders on the backend the driver resolved (and keyed the frames with)
        pinned = f'model.backend="{recipe.backend}"'
        return cls(str(recipe.path), recipe.text, tuple(recipe.overrides) + (pinned,), preview)

    def load(self):
        """The recipe, read with the recipes whose frames it uses (stored: the driver rendered them)."""
        from ..graph import load_graph
        return load_graph(self.path, self.overrides, text=self.text, preview=self.preview).recipe


class RenderWorker:
    """Plain class; :func:`worker_class` wraps it as a Ray actor."""

    def __init__(self):
        self.engines: OrderedDict = OrderedDict()
        self.current: str | None = None
        self.frames_done = 0

    def ready(self) -> dict:
        from ..provenance import device_name
        try:
            import ray
            node = ray.util.get_node_ip_address()
            assigned = ray.get_gpu_ids()
        except Exception:  # noqa: BLE001 - outside Ray (tests of the class itself)
            node, assigned = "local", []
        return {"pid": os.getpid(), "node": node, "device": device_name(), "gpu_ids": list(assigned)}

    def status(self) -> dict:
        return dict(self.ready(), rendering=self.current, frames_done=self.frames_done)

    def _engine(self, source: RecipeSource):
        if source in self.engines:
            self.engines.move_to_end(source)
            return self.engines[source]
        recipe = source.load()
        entry = (recipe, recipe.kind.build_engine(recipe))
        self.engines[source] = entry
        while len(self.engines) > RESIDENT_ENGINES:
            self.engines.popitem(last=False)
        return entry

    def render(self, source: RecipeSource, jobs: list[tuple], references: dict[int, np.ndarray]):
        """``jobs``: (index, row, previous uint8 image or None); ``references``: stored frames the
        engine may read (a dream's frame 0).  Returns (uint8 images, this worker's pid, seconds)."""
        from ..contracts import FrameJob
        started = time.perf_counter()
        recipe, engine = self._engine(source)
        self.current = f"{recipe.name}: frames {', '.join(str(j[0]) for j in jobs)}"

        def load_frame(index: int) -> np.ndarray:
            if index not in references:
                raise KeyError(f"frame {index} was not sent to the worker")
            return references[index]
        try:
            images = engine.render_batch([FrameJob(i, row, previous, load_frame) for i, row, previous in jobs])
        finally:
            self.current = None
        self.frames_done += len(jobs)
        return [np.asarray(image) for image in images], os.getpid(), time.perf_counter() - started


    def print(self, source: RecipeSource, options, run_dir: str, out: str | None) -> dict:
        """Plan (with this machine's memory) and render a print; the file is written by the worker
        into ``run_dir`` (a shared filesystem on a real cluster).  Returns the print's info."""
        import json
        from pathlib import Path

        from ..prints.driver import make_print, plan_print
        recipe = source.load()
        self.current = f"{recipe.name}: print {options.size} at {options.dpi} dpi"
        try:
            result = make_print(plan_print(recipe, options), Path(run_dir), Path(out) if out else None)
        finally:
            self.current = None
        return dict(json.loads(result.info_path.read_text()), path=str(result.path), info_path=str(result.info_path),
                    reused=result.reused, worker_pid=os.getpid())


def worker_class():
    """RenderWorker as a Ray actor class (imported lazily: Ray is an optional extra).  Two calls may
    run at once so ``status`` answers while a batch renders."""
    import ray
    return ray.remote(max_concurrency=2)(RenderWorker)
