"""An :class:`render.kinds.base.Engine` whose frames are rendered by farm workers.

- Chained kinds: the recipe leases one worker for its whole chain and sends frames in order, each
  with the previous stored image (and frame 0, a dream's colour reference), so a worker that dies
  mid-chain is replaced and the chain goes on from the last stored frame with the same pixels.
- Independent kinds: ``render_many`` keeps one batch in flight per worker it can lease and yields
  batches as they finish; a batch whose worker died is sent again to another worker, so no frame is
  lost, and since the driver stores frames by index none is doubled.
"""

from __future__ import annotations

import time
from typing import Iterator, Sequence

import numpy as np

from ..contracts import FrameJob
from .cluster import Farm
from .worker import RecipeSource


class FarmEngine:
    def __init__(self, farm: Farm, recipe, preview: bool = False):
        self.farm, self.ray = farm, farm.ray
        self.source = RecipeSource.of(recipe, preview)
        self.backend = recipe.backend
        self.chained = recipe.kind.chained
        self.sticky: int | None = None      # the worker a chained recipe holds
        self.pids: list[int] = []           # worker process of every batch, in order (for tests and logs)
        self.retries = 0
        self.on_submit = None               # called with the worker number after each batch is sent

    # --- chained ---------------------------------------------------------------------------------
    def render_batch(self, jobs: Sequence[FrameJob]) -> list[np.ndarray]:
        payload = [(j.index, dict(j.row), j.previous) for j in jobs]
        references = {}
        if self.chained and any(j.index > 1 for j in jobs) and jobs[0].load_frame is not None:
            references[0] = jobs[0].load_frame(0)
        while True:
            if self.sticky is None:
                self.sticky = self.farm.lease(self.backend)
            actor = self.farm.actor(self.sticky)
            try:
                images, pid, _ = self.ray.get(actor.render.remote(self.source, payload, references))
                self.pids.extend([pid] * len(jobs))
                return images
            except (self.ray.exceptions.RayActorError, self.ray.exceptions.ActorDiedError):
                self.retries += 1
                self.farm.replace(self.sticky)
                self.sticky = None

    # --- independent -----------------------------------------------------------------------------
    def render_many(self, batches: list[list[FrameJob]]) -> Iterator[tuple[list[int], list[np.ndarray], float]]:
        waiting = list(batches)
        flying: dict = {}  # object ref -> (worker number, jobs, started)
        try:
            while waiting or flying:
                while waiting and (not flying or not self.farm.idle.empty()):
                    number = self.farm.lease(self.backend)
                    jobs = waiting.pop(0)
                    payload = [(j.index, dict(j.row), None) for j in jobs]
                    ref = self.farm.actor(number).render.remote(self.source, payload, {})
                    flying[ref] = (number, jobs, time.perf_counter())
                    if self.on_submit:
                        self.on_submit(number)
                done, _ = self.ray.wait(list(flying), num_returns=1)
                number, jobs, started = flying.pop(done[0])
                try:
                    images, pid, _ = self.ray.get(done[0])
                except (self.ray.exceptions.RayActorError, self.ray.exceptions.ActorDiedError):
                    self.retries += 1
                    self.farm.replace(number)
                    waiting.insert(0, jobs)   # the whole batch again, elsewhere
                    continue
                self.farm.release(number)
                self.pids.extend([pid] * len(jobs))
                yield [j.index for j in jobs], images, (time.perf_counter() - started) / len(jobs)
        finally:
            for ref, (number, _, _) in flying.items():
                self.ray.cancel(ref)  # the run stopped: nothing else is waiting for these
                self.farm.release(number)

    def close(self) -> None:
        if self.sticky is not None:
            self.farm.release(self.sticky)
            self.sticky = None


def farm_engine_factory(farm: Farm, preview: bool = False, engines: list | None = None):
    """``engine_factory`` for :func:`render.runner.render`; ``engines`` collects what it builds."""
    def factory(recipe):
        engine = FarmEngine(farm, recipe, preview)
        if engines is not None:
            engines.append(engine)
        return engine
    return factory


def print_on_farm(farm: Farm, recipe, options, run_dir, out=None) -> dict:
    """Render one print on a free worker (its own memory plan there); returns the print's info."""
    source = RecipeSource.of(recipe)
    while True:
        number = farm.lease(recipe.backend)
        try:
            return farm.ray.get(farm.actor(number).print.remote(source, options, str(run_dir),
                                                               str(out) if out else None))
        except (farm.ray.exceptions.RayActorError, farm.ray.exceptions.ActorDiedError):
            farm.replace(number)
            number = None
        finally:
            if number is not None:
                farm.release(number)
