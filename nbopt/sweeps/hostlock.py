"""Timing you can trust in a parallel sweep: one host, one measurement at a time.

Every task of a sweep holds a *shared* lease of its host's semaphore while it trains,
converts and evaluates (many at once); the task that times latencies
(:func:`~nbopt.sweeps.task.time_latencies`) takes the host *exclusively*: it holds the
host's turnstile lock and every lease of the semaphore, so it starts only when no other
task of the sweep is computing on that host, and none starts until it is done.

A task entering the shared side passes the turnstile first (writer preference: a waiting
measurement is never starved by new tasks). A task that computes looks, at its pause points
(after each training batch, before each variant; at most every :data:`PAUSE_CHECK`
seconds), whether a measurement waits for the turnstile; if one does, it gives its lease
back and queues behind it, so a measurement waits for a batch rather than for a whole task.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: Seconds between two looks at the turnstile from a computing task's pause points.
PAUSE_CHECK = 0.05


class HostLock:
    """The shared/exclusive lock of this host for one sweep (built in a worker)."""

    def __init__(self, sweep_id: str, slots: dict[str, int]):
        from distributed import Lock, Semaphore

        host = socket.gethostname()
        self.slots = max(1, int(slots.get(host, 1)))
        self.turnstile = Lock(f"nbopt-{sweep_id}-{host}-measure")
        self.leases = Semaphore(max_leases=self.slots, name=f"nbopt-{sweep_id}-{host}-work")
        self.shared_held = False
        self.waited = 0.0  # seconds spent waiting for the host, shared or exclusive
        self.checked = 0.0  # when a pause point last looked at the turnstile

    def enter(self) -> None:
        """Take a shared lease (wait while a measurement holds the host)."""
        started = time.perf_counter()
        self.turnstile.acquire()
        try:
            self.leases.acquire()
        finally:
            self.turnstile.release()
        self.shared_held = True
        self.waited += time.perf_counter() - started

    def pause_point(self) -> None:
        """Let a measurement that waits for this host go first, then carry on."""
        now = time.perf_counter()
        if not self.shared_held or now - self.checked < PAUSE_CHECK:
            return
        self.checked = now
        if self.turnstile.locked():
            self.leave()
            self.enter()
        self.checked = time.perf_counter()

    def leave(self) -> None:
        if self.shared_held:
            self.leases.release()
            self.shared_held = False

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the host alone: no other task of the sweep computes on it meanwhile (taken
        by a task that holds no shared lease: :func:`~nbopt.sweeps.task.time_latencies`)."""
        started = time.perf_counter()
        self.turnstile.acquire()
        taken = 0
        try:
            for _ in range(self.slots):
                self.leases.acquire()
                taken += 1
            self.waited += time.perf_counter() - started
            yield
        finally:
            for _ in range(taken):
                self.leases.release()
            self.turnstile.release()
