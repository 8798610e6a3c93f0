"""Rendering progress events in IPython: a table that fills in, or lines in a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any

from .display import rows_html, rows_text
from .engine.events import Event


def in_kernel(shell: Any) -> bool:
    """True in a Jupyter kernel (where displays can be updated in place)."""
    return shell is not None and getattr(shell, "kernel", None) is not None


class LiveTable:
    """Listens to a comparison's events and shows its rows as they are measured.

    In a kernel it keeps one output updated in place and removes it at the end (the
    returned object then shows the final table); in a terminal it prints one line per step.
    """

    def __init__(self, shell: Any, title: str):
        self.title = title
        self.rows: list[dict[str, Any]] = []
        self.kernel = in_kernel(shell)
        self.handle: Any = None
        self.started = time.perf_counter()

    def __call__(self, event: Event) -> None:
        if event.kind == "row" and event.row is not None:
            self.rows.append(event.row)
        if self.kernel:
            self._update(event)
        else:
            self._print(event)

    def _update(self, event: Event) -> None:
        from IPython.display import HTML, display

        if event.kind == "done":
            if self.handle is not None:
                self.handle.update(HTML(""))
            return
        pending = ""
        if event.kind in ("start", "step"):
            pending = f"{event.scheme or ''} {event.message}".strip()
        body = HTML(
            rows_html(self.rows, f"nbopt: {self.title} ({event.index}/{event.total})", pending)
        )
        if self.handle is None:
            self.handle = display(body, display_id=True)
        else:
            self.handle.update(body)

    def _print(self, event: Event) -> None:
        elapsed = time.perf_counter() - self.started
        if event.kind == "start":
            line = f"[nbopt] {event.message}: {event.total} variants"
        elif event.kind == "step":
            line = f"[nbopt] {event.index + 1}/{event.total} {event.scheme}: {event.message}"
        elif event.kind == "row":
            status = event.row.get("status") if event.row else event.message
            line = f"[nbopt] {event.index}/{event.total} {event.scheme}: {status}"
        else:
            line = f"[nbopt] {event.message} in {elapsed:.1f} s"
        print(line, file=sys.stderr, flush=True)


def rows_summary(rows: list[dict[str, Any]]) -> str:
    return rows_text(rows)
