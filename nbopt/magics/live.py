"""Rendering progress events in IPython: a table that fills in, or lines in a terminal.

In a kernel the comparison is one output from start to end: a display that fills in row
by row, then becomes the result itself. When the magic's result (the ``Comparison`` or
``TFLiteModel`` those rows belong to) is displayed, it is shown in that same output
instead of a second one, so a cell never keeps an empty or duplicate table.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from ..display import model_bundle, rows_bundle, rows_text
from ..engine.events import Event


def in_kernel(shell: Any) -> bool:
    """True in a Jupyter kernel (where displays can be updated in place)."""
    return shell is not None and getattr(shell, "kernel", None) is not None


def _rows_of(obj: Any) -> list[dict[str, Any]]:
    if hasattr(obj, "related_rows"):
        return obj.related_rows()
    return list(getattr(obj, "rows", []))


def _bundle_of(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "related_rows"):
        return model_bundle(obj)
    from ..api.optimized import Optimized

    if isinstance(obj, Optimized):
        from ..display.optimized import optimized_bundle

        return optimized_bundle(obj)
    from ..display import comparison_bundle

    return comparison_bundle(obj)


class LiveTable:
    """Listens to a comparison's events and shows its rows as they are measured.

    In a kernel it keeps one output updated in place, which the result then takes over;
    in a terminal it prints one line per step to stderr.
    """

    def __init__(self, shell: Any, title: str):
        self.shell = shell
        self.title = title
        self.rows: list[dict[str, Any]] = []
        self.kernel = in_kernel(shell)
        self.handle: Any = None
        self.started = time.perf_counter()
        self._claimed: list[type] = []

    def __call__(self, event: Event) -> None:
        if event.kind == "row" and event.row is not None:
            self.rows.append(event.row)
        if self.kernel:
            self._update(event)
        else:
            self._print(event)

    def _update(self, event: Event) -> None:
        from IPython.display import display

        done = event.kind == "done"
        pending = ""
        if event.kind in ("start", "step"):
            pending = f"{event.scheme or ''} {event.message}".strip()
        name = self.title if done else f"{self.title} ({event.index}/{event.total})"
        bundle = rows_bundle(
            name, self.rows, done, interrupted=event.message == "interrupted", pending=pending
        )
        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)
        if done:
            self._claim_result()

    def _claim_result(self) -> None:
        """Until this cell ends, show the result of these rows in this table's output."""
        from ..api.optimized import Optimized
        from ..engine.model.tflite_model import TFLiteModel
        from ..engine.pipeline.comparison import Comparison

        formatter = self.shell.display_formatter.ipython_display_formatter
        for cls in (Comparison, TFLiteModel, Optimized):
            if cls not in formatter.type_printers:
                formatter.for_type(cls, self._show)
                self._claimed.append(cls)
        self.shell.events.register("post_run_cell", self._release)

    def _show(self, obj: Any) -> None:
        from IPython.display import display

        self._release()
        bundle = _bundle_of(obj)
        if any(r is mine for r in _rows_of(obj) for mine in self.rows):
            self.handle.update(bundle, raw=True)
        else:
            display(bundle, raw=True)

    def become(self, result: Any) -> None:
        """Show ``result`` (the rows' own result: a search's) in this table's output now,
        whatever the cell goes on to display."""
        if self.handle is not None:
            self.handle.update(_bundle_of(result), raw=True)

    def _release(self, *_: Any) -> None:
        formatter = self.shell.display_formatter.ipython_display_formatter
        for cls in self._claimed:
            formatter.type_printers.pop(cls, None)
        self._claimed = []
        try:
            self.shell.events.unregister("post_run_cell", self._release)
        except ValueError:
            pass

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
