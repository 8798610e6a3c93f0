"""Restarting a Dask worker whose memory has grown, between two of its tasks.

A worker runs task after task: each rebuilds a Keras model, fine-tunes it with tfmot and
measures its variants, and TensorFlow keeps some of every task's memory (about 25 MB a
training task on the digits CNN, never given back). The TFLite converter, which leaks far
more, already runs in nbopt's converter process, recycled every
:data:`nbopt.engine.convert.worker.RECYCLE_AFTER` conversions. :class:`Recycle` bounds the worker
itself: once its resident memory has grown by :data:`GROWTH_MB` since its first finished
task, it retires (the scheduler moves its data and queued tasks to the other workers) and
its nanny starts a fresh process, as Dask's own ``lifetime_restart`` does. A worker is
retired only while another runs and the scheduler agrees (its data has somewhere to go):
the cluster's only worker keeps going, and measures its growth anew.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from .worker_plugin import plugin_base

#: Resident memory a worker may gain after its first task before it is restarted.
GROWTH_MB = float(os.environ.get("NBOPT_WORKER_GROWTH_MB", "1024"))


def rss_mb() -> float:
    """This process's resident memory in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class Recycle(plugin_base()):  # type: ignore[misc]
    """Worker plugin: retire and restart the worker once it has grown by ``growth_mb``."""

    name = "nbopt-recycle"

    def __init__(self, growth_mb: float = GROWTH_MB):
        self.growth_mb = growth_mb

    def setup(self, worker: Any) -> None:
        self.worker = worker
        self.base: float | None = None
        self.retiring = False

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "memory" or start != "executing" or self.retiring:
            return
        rss = rss_mb()
        if self.base is None:
            self.base = rss
        elif rss - self.base > self.growth_mb:
            self.retiring = True
            grown = rss - self.base
            self.worker.loop.add_callback(self._retire, grown)

    async def _reported(self) -> None:
        """Wait (up to 5 s) until the scheduler knows of every result this worker holds.

        The task that just ended reports its result on the worker's batched stream; a
        retirement asked for on another connection can overtake it, and the scheduler
        would then drop that result with the worker instead of moving it away (the kernel,
        already told the task was done, would get a failed row for it)."""
        worker = self.worker
        keys = [k for k, ts in worker.state.tasks.items() if ts.state == "memory"]
        for _ in range(100):
            if not keys:
                return
            who = await worker.scheduler.who_has(keys=keys)
            if all(worker.address in (who.get(k) or ()) for k in keys):
                return
            await asyncio.sleep(0.05)

    async def _retire(self, grown: float) -> None:
        worker = self.worker
        await self._reported()
        identity = await worker.scheduler.identity()
        running = [w for w in identity.get("workers", {}).values() if w.get("status") == "running"]
        retired = {}
        if len(running) > 1:  # the scheduler refuses if its data would have nowhere to go
            retired = await worker.scheduler.retire_workers(
                workers=[worker.address],
                close_workers=False,
                remove=True,
                stimulus_id=f"nbopt-recycle-{time.time()}",
            )
        if worker.address not in retired:  # alone, or the other is retiring: keep going
            self.base, self.retiring = rss_mb(), False
            return
        # Its one running task may be cancelled and rescheduled elsewhere, and its leases
        # expire on their own: Dask logs both as errors, which are not (no row is lost).
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        reason = f"nbopt: grew by {grown:.0f} MB since its first task"
        await worker.close(nanny=False, reason=reason)
