"""Connecting to Ray and keeping a pool of render workers.

``Farm(address)`` starts a local Ray instance (``address`` None or "local") or joins an existing
cluster (``"ray://head:10001"``, ``"auto"``, ``"10.0.0.5:6379"``).  Workers: one per GPU when the
cluster has GPUs, else one per node, or ``workers`` of them; ``gpus_per_worker`` asks Ray for GPUs
explicitly.  A request no node can meet is refused at once with one line, never left pending.

Workers are leased: a chained recipe holds one for its whole chain; an independent batch holds one
for the batch.  A worker that dies is replaced and the caller resubmits its work.  A worker process
runs Keras on one backend, the backend of the first recipe it renders; a recipe of the other backend
that finds only such workers idle retires one and starts a fresh worker in its place.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

from ..errors import RenderError

NAMESPACE = "neural-render"
READY_TIMEOUT_S = 120


class FarmError(RenderError):
    """The farm cannot run this (no Ray, no such cluster, resources nobody has)."""


def _ray():
    try:
        import ray
    except ImportError:
        raise FarmError("the render farm needs Ray: pip install -e \".[ray]\"") from None
    return ray


def connect(address: str | None):
    """Join the cluster at ``address``, or start a small local instance when it is None or "local"."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    local = address in (None, "", "local")
    if local:
        # a private instance on this machine: token authentication adds nothing there
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        ray.init(address=None if local else address, namespace=NAMESPACE, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    except Exception as err:  # noqa: BLE001 - Ray raises many types for a bad address
        raise FarmError(f"cannot connect to the Ray cluster at {address}: {str(err).splitlines()[0]}") from None
    return ray


class Farm:
    def __init__(self, address: str | None = None, workers: int | None = None, gpus_per_worker: float | None = None,
                 cpus_per_worker: float | None = None):
        ray = connect(address)
        self.ray = ray
        resources = ray.cluster_resources()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        gpus = resources.get("GPU", 0.0)
        cpus = resources.get("CPU", 0.0)
        if gpus_per_worker is None:
            gpus_per_worker = 1.0 if gpus >= 1 else 0.0
        if gpus_per_worker > 0 and gpus < gpus_per_worker:
            raise FarmError(f"asked for {gpus_per_worker:g} GPU per worker, but the cluster has "
                            f"{'no GPU' if not gpus else f'{gpus:g} GPUs'} ({len(nodes)} node(s), {cpus:g} CPUs)")
        if workers is None:
            workers = int(gpus // gpus_per_worker) if gpus_per_worker > 0 else max(1, len(nodes))
        if cpus_per_worker is None:
            cpus_per_worker = 0.0 if gpus_per_worker > 0 else max(0.0, min(1.0, cpus / workers))
        if cpus_per_worker * workers > cpus + 1e-9:
            raise FarmError(f"asked for {workers} workers of {cpus_per_worker:g} CPUs, but the cluster has {cpus:g} CPUs")
        self.options = {"num_gpus": gpus_per_worker, "num_cpus": cpus_per_worker}
        self.worker_class = _worker_class()
        self.idle: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.workers: dict[int, Any] = {}
        self.info: dict[int, dict] = {}
        self.backends: dict[int, str | None] = {}   # worker -> the backend its Keras runs on (None: not yet)
        self._next = 0
        for _ in range(workers):
            self._start_worker()

    def _start_worker(self, enqueue: bool = True):
        with self.lock:
            number = self._next
            self._next += 1
        actor = self.worker_class.options(name=f"render-worker-{number}", namespace=NAMESPACE,
                                          **self.options).remote()
        try:
            info = self.ray.get(actor.ready.remote(), timeout=READY_TIMEOUT_S)
        except self.ray.exceptions.GetTimeoutError:
            self.ray.kill(actor)
            raise FarmError(f"no node could start a render worker within {READY_TIMEOUT_S} s "
                            f"(asked for {self.options})") from None
        with self.lock:
            self.workers[number] = actor
            self.info[number] = info
            self.backends[number] = None
        if enqueue:
            self.idle.put(number)
        return number

    def lease(self, backend: str | None = None) -> int:
        """An idle worker for a recipe of ``backend`` (waits for one): a worker already running that
        backend or a fresh one; else an idle worker of the other backend is retired for a fresh one."""
        number = self.idle.get()
        with self.lock:
            current = self.backends.get(number)
        if backend is None or current in (None, backend):
            with self.lock:
                if backend is not None:
                    self.backends[number] = backend
            return number
        self._retire(number)
        fresh = self._start_worker(enqueue=False)
        with self.lock:
            self.backends[fresh] = backend
        return fresh

    def release(self, number: int) -> None:
        if number in self.workers:
            self.idle.put(number)

    def actor(self, number: int):
        return self.workers[number]

    def replace(self, number: int) -> None:
        """Forget dead worker ``number`` and start a new one in its place (it joins the idle pool)."""
        self._retire(number)
        self._start_worker()

    def _retire(self, number: int) -> None:
        with self.lock:
            actor = self.workers.pop(number, None)
            self.info.pop(number, None)
            self.backends.pop(number, None)
        if actor is not None:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def status(self) -> list[dict]:
        return farm_status(self.ray)

    def shutdown(self) -> None:
        for actor in list(self.workers.values()):
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
        self.workers.clear()


def _worker_class():
    from .worker import worker_class
    return worker_class()


def farm_status(ray) -> list[dict]:
    """Every render worker in the namespace: pid, node, device, what it is rendering now."""
    names = sorted(a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                   if a["name"].startswith("render-worker-") and a.get("namespace", NAMESPACE) == NAMESPACE)
    rows = []
    for name in names:
        try:
            actor = ray.get_actor(name, namespace=NAMESPACE)
            rows.append(dict(ray.get(actor.status.remote(), timeout=10), name=name))
        except Exception as err:  # noqa: BLE001 - a worker that died between the listing and the call
            rows.append({"name": name, "error": str(err).splitlines()[0]})
    return rows


def format_status(ray, rows: list[dict]) -> str:
    resources = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    lines = [f"cluster: {len(nodes)} node(s), {resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs",
             f"workers: {len(rows)}"]
    for row in rows:
        if "error" in row:
            lines.append(f"  {row['name']}: unreachable ({row['error']})")
            continue
        doing = row["rendering"] or "idle"
        lines.append(f"  {row['name']}: pid {row['pid']} on {row['node']}, {row['device']}, "
                     f"{row['frames_done']} frames done, {doing}")
    return "\n".join(lines)
