"""The work of the panel's buttons, without any widget.

:class:`Runner` measures a selection through :mod:`nbopt.api` and writes every progress
event into a :class:`~nbopt.widgets.state.PanelState` (re-exported here, with
:class:`~nbopt.widgets.state.Settings`), so tests drive it directly: set
``state.selection``, call :meth:`Runner.run`, observe ``state.rows`` (and cancel from an
observer). The *Debug int8* action is the same: :meth:`Runner.debug` fills
``state.debug_rows`` and pre-ticks the suspects in ``state.float_layers``;
:meth:`Runner.quantize_float` measures int8 with the ticked layers float as one more row.
"""

from __future__ import annotations

import contextvars
import threading
import time
from typing import Any

import nbopt.api as api

from ..config import current
from ..engine.convert.converter import NEEDS_CALIBRATION, SCHEMES
from ..engine.events import Event
from ..engine.pipeline.comparison import Comparison
from ..engine.pipeline.run import Run
from ..errors import NbOptError, NbOptUsageError
from .results import as_comparison, pareto_variants
from .state import (
    CHOICES,
    DEBUG_STATES,
    PHASES,
    STATES,
    TRAINING,
    PanelState,
    Settings,
    missing_data,
    variant_name,
)

__all__ = [
    "CHOICES",
    "DEBUG_STATES",
    "PHASES",
    "STATES",
    "TRAINING",
    "PanelState",
    "Runner",
    "Settings",
    "missing_data",
    "variant_name",
]


class _Cancelled(Exception):
    """Raised by the runner's listener on the first step after Cancel."""


class Runner:
    """Measures ``state.selection`` of a model into ``state``: the Run button's work.

    Post-training schemes are one :func:`nbopt.quantize` comparison with the float32
    baseline; each training technique then runs through :func:`nbopt.quantize`
    (``aware=True``), :func:`nbopt.prune` or :func:`nbopt.cluster` against the same
    baseline. Every row, failed ones included, comes from the engine and so is in
    :func:`nbopt.results`.
    """

    def __init__(
        self,
        state: PanelState,
        model: Any,
        *,
        calib: Any = None,
        eval: Any = None,  # noqa: A002 - the documented name
        fit: Any = None,
        name: str = "model",
        metric: Any = None,
    ):
        self.state = state
        self.model, self.calib, self.eval, self.fit, self.name = model, calib, eval, fit, name
        self.metric = metric
        self.models: dict[str, Any] = {}
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._debug_thread: threading.Thread | None = None
        self._current: str | None = None
        self.report: Any = None

    # -- control ----------------------------------------------------------------------------

    def start(self, settings: Settings) -> None:
        """Run in a background thread (a cell's clicks are not delivered while it runs).

        The thread keeps the caller's context, so any output it makes goes to the cell
        that started it, never to whichever cell runs later.
        """
        if self.state.running:
            raise NbOptUsageError("the panel is already running; press Cancel or wait()")
        self._begin()
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._work, settings), name="nbopt-panel", daemon=True
        )
        self._thread.start()

    def run(self, settings: Settings) -> None:
        """Run in this thread, returning when the run has ended."""
        if self.state.running:
            raise NbOptUsageError("the panel is already running; press Cancel or wait()")
        self._begin()
        self._work(settings)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a started run or debug run ends (or ``timeout`` seconds each); True
        if both have ended."""
        for thread in (self._debug_thread, self._thread):
            if thread is not None:
                thread.join(timeout)
        return not self.state.running and self.state.debug_state != "running"

    def cancel(self) -> None:
        """Stop after the current step; the rows measured so far stay."""
        if self.state.state == "running":
            self._cancel.set()
            self.state.state = "cancelling"

    # -- the work ---------------------------------------------------------------------------

    def _begin(self) -> None:
        schemes = list(self.state.selection)
        if not schemes:
            raise NbOptUsageError("select at least one scheme, then Run")
        self._cancel.clear()
        self.models = {}
        s = self.state
        with s.hold_trait_notifications():
            s.chosen = None
            s.rows = []
            s.error = None
            s.elapsed = 0.0
            s.progress = {
                k: {"fraction": 0.0, "message": "queued", "status": ""}
                for k in ["float32", *schemes]
            }
            s.state = "running"

    def _work(self, settings: Settings) -> None:
        started = time.perf_counter()
        schemes = list(self.state.selection)
        final, error = "done", None
        try:
            self._post_training([s for s in schemes if s in SCHEMES], settings)
            base = self.models.get("float32")
            for kind in (s for s in schemes if s in TRAINING):
                if self._cancel.is_set():
                    raise _Cancelled
                self._train(kind, base if base is not None else self.model, settings)
        except _Cancelled:
            final = "cancelled"
        except Exception as exc:  # shown in the panel: a thread has no one to raise to
            final, error = "failed", f"{type(exc).__name__}: {exc}"
        self._finish(final, error, time.perf_counter() - started)

    def _post_training(self, post: list[str], settings: Settings) -> None:
        calib = self.calib if self.calib is not None else self.fit
        needs = any(s in NEEDS_CALIBRATION for s in post)
        comparison = api.quantize(
            self.model,
            ["float32", *post],
            calib if needs else None,
            self.eval,
            io=settings.io if "int8" in post else "float",
            metric=self.metric,
            name=self.name,
            progress=self._listen,
        )
        self.models.update(comparison.models)
        base = comparison.models.get("float32")
        if base is not None:
            base.keras_model = self.model  # training techniques reuse this baseline

    def _train(self, kind: str, source: Any, settings: Settings) -> None:
        self._current = kind
        common = {
            "fit": self.fit,
            "epochs": settings.epochs,
            "eval": self.eval,
            "metric": self.metric,
            "name": self.name,
            "progress": self._listen,
        }
        measured = len(self.state.rows)
        try:
            if kind == "qat":
                result = api.quantize(source, aware=True, io=settings.io, **common)
            elif kind == "prune":
                result = api.prune(source, settings.sparsity, sparse=settings.sparse, **common)
            else:
                result = api.cluster(source, settings.clusters, **common)
            self.models[kind] = result
        except NbOptError as exc:
            if not any(variant_name(r) == kind for r in self.state.rows[measured:]):
                self._failed_row(kind, exc)  # refused before the engine measured anything
        finally:
            self._current = None

    def _failed_row(self, kind: str, exc: Exception) -> None:
        """Record ``kind``'s failure as the engine records any row: in nbopt.results()."""
        run = Run(
            self.name,
            1,
            settings=current().measure_settings(),
            evaluation=None,
            metric=None,
            sample=None,
            listener=self._listen,
        )
        scheme = "int8" if kind == "qat" else "float32"
        run.add(run.row(scheme, kind, status="failed", error=str(exc)))

    def _key(self, event: Event) -> str:
        return self._current if self._current is not None else event.scheme or ""

    def _listen(self, event: Event) -> None:
        """The engine's progress events -> state (and Cancel's stop)."""
        if event.kind in ("start", "step") and self._cancel.is_set():
            raise _Cancelled
        if event.kind == "step":
            self._progress(self._key(event), PHASES.get(event.message, 0.15), event.message)
        elif event.kind == "row" and event.row is not None:
            row = event.row
            if row.get("technique") == "baseline":
                if any(r.get("technique") == "baseline" for r in self.state.rows):
                    return  # a training technique re-announces the shared baseline
                key = "float32"
            else:
                key = self._key(event)
            status = str(row.get("status"))
            text = status if not row.get("error") else f"{status}: {row['error']}"
            self._progress(key, 1.0, text, status)
            if event.model is not None:  # exportable at once, even if Cancel comes next
                self.models.setdefault(variant_name(row), event.model)
            self.state.rows = [*self.state.rows, row]

    def _progress(self, key: str, fraction: float, message: str, status: str = "") -> None:
        old = self.state.progress.get(key)
        if old is None:
            return
        fraction = max(old["fraction"], fraction)
        self.state.progress = {
            **self.state.progress,
            key: {"fraction": fraction, "message": message, "status": status},
        }

    def _finish(self, final: str, error: str | None, elapsed: float) -> None:
        s = self.state
        left = "cancelled" if final == "cancelled" else "not run"
        progress = {
            k: (p if p["fraction"] >= 1.0 else {**p, "message": left, "status": "skipped"})
            for k, p in s.progress.items()
        }
        exportable = [v for v in s.variants if v in self.models]
        with s.hold_trait_notifications():
            s.progress = progress
            s.error = error
            s.elapsed = elapsed
            s.chosen = exportable[-1] if exportable else None
            s.state = final

    # -- debug int8 -------------------------------------------------------------------------

    def start_debug(self) -> None:
        """:meth:`debug` in a background thread (keeping the caller's context)."""
        self._begin_debug()
        context = contextvars.copy_context()
        self._debug_thread = threading.Thread(
            target=context.run, args=(self._debug_work,), name="nbopt-debug", daemon=True
        )
        self._debug_thread.start()

    def debug(self) -> None:
        """Rank the layers int8 hurts (:func:`nbopt.debug`) into ``state.debug_rows``, and
        tick the suspects in ``state.float_layers``; returns when done."""
        self._begin_debug()
        self._debug_work()

    def _begin_debug(self) -> None:
        if self.calib is None:
            raise NbOptUsageError("Debug int8 needs --calib x_train[:256] (calib=...)")
        if self.state.debug_state == "running" or self.state.running:
            raise NbOptUsageError("the panel is already running; wait()")
        s = self.state
        with s.hold_trait_notifications():
            s.float_layers = []
            s.debug_rows = []
            s.debug_error = None
            s.debug_state = "running"
        self.report = None

    def _debug_work(self) -> None:
        s = self.state
        try:
            report = api.debug(
                self.model, self.calib, self.eval, "int8", metric=self.metric, name=self.name
            )
        except Exception as exc:  # shown in the panel: a thread has no one to raise to
            with s.hold_trait_notifications():
                s.debug_error = f"{type(exc).__name__}: {exc}"
                s.debug_state = "failed"
            return
        self.report = report
        with s.hold_trait_notifications():
            s.debug_rows = list(report.rows)
            s.float_layers = list(report.suspects)
            s.debug_state = "done"

    def start_float(self, settings: Settings) -> None:
        """:meth:`quantize_float` in a background thread."""
        self._begin_float()
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._float_work, settings), name="nbopt-panel", daemon=True
        )
        self._thread.start()

    def quantize_float(self, settings: Settings) -> None:
        """int8 with ``state.float_layers`` kept float, added to ``state.rows`` (the rows
        already measured stay); returns when done."""
        self._begin_float()
        self._float_work(settings)

    def _begin_float(self) -> None:
        if self.state.running or self.state.debug_state == "running":
            raise NbOptUsageError("the panel is already running; press Cancel or wait()")
        if self.calib is None:
            raise NbOptUsageError("int8 needs --calib x_train[:256] (calib=...)")
        self._cancel.clear()
        floats = ",".join(self.state.float_layers)
        label = f"int8 float={floats}" if floats else "int8"
        s = self.state
        with s.hold_trait_notifications():
            s.error = None
            s.elapsed = 0.0
            s.progress = {label: {"fraction": 0.0, "message": "queued", "status": ""}}
            s.state = "running"
        self._current = label

    def _float_work(self, settings: Settings) -> None:
        started = time.perf_counter()
        final, error = "done", None
        try:
            m = api.quantize(
                self.model,
                "int8",
                self.calib,
                self.eval,
                io=settings.io,
                float_layers=list(self.state.float_layers),
                metric=self.metric,
                name=self.name,
                progress=self._listen,
            )
            self.models[variant_name(m.row)] = m
            base = m.comparison.models.get("float32")
            if base is not None and "float32" not in self.models:
                self.models["float32"] = base
        except _Cancelled:
            final = "cancelled"
        except Exception as exc:  # shown in the panel: a thread has no one to raise to
            final, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self._current = None
        self._finish(final, error, time.perf_counter() - started)

    # -- results ----------------------------------------------------------------------------

    @property
    def comparison(self) -> Comparison:
        """The last run as one comparison: its rows and models, as nbopt displays them."""
        return as_comparison(self.name, self.state, self.models)

    def pareto(self) -> list[str]:
        """The variants no other beats on both size and metric (in the metric's direction)."""
        return pareto_variants(self.state.rows)
