"""Timing you can trust in a parallel sweep: one host, one measurement at a time.

Every task holds a *shared* lease of its host's semaphore while it trains and converts
(many at once); the step that measures latency takes the host *exclusively*: it holds the
host's turnstile lock and every lease of the semaphore, so it starts only when no other
task of the sweep is computing on that host, and none starts until it is done.

A task entering the shared side passes the turnstile first (writer preference: a waiting
measurement is never starved by new tasks). A task about to measure gives its shared lease
back before it waits, so two measurements never wait on each other's leases.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager


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

    def leave(self) -> None:
        if self.shared_held:
            self.leases.release()
            self.shared_held = False

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the host alone: no other task of the sweep computes on it meanwhile."""
        was_shared = self.shared_held
        self.leave()
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
            if was_shared:
                self.enter()
