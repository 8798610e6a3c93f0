"""The kernel's side of a sweep: submit one task per configuration, stream rows back.

Rows are added as tasks finish (``as_completed``): each goes to the sweep's
:class:`~nbopt.engine.compare.Comparison`, to :func:`nbopt.engine.results.record` (so it
lands in whatever store holds rows) and to the listener, which renders them as ``%quantize``
does. A progress step says how many configurations are done, running and queued, and the
ETA. A task that fails, or whose worker dies twice, is a failed row with the reason: every
configuration gives exactly one row.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..engine import results
from ..engine.compare import Comparison, Run
from ..engine.events import Event, Listener, emit
from ..engine.interpreter import first_line
from ..engine.measure import MeasureSettings
from ..engine.tflite_model import TFLiteModel
from .grid import Config


def stored_keys(keys: Any) -> set[str]:
    """Which of ``keys`` already have a row with status ``ok`` in the results store (or in
    this kernel's rows without one): what ``resume`` skips."""
    return results.stored_keys(keys)


@dataclass
class Sweep:
    """A sweep under way: its configurations, futures and the comparison being filled."""

    client: Any
    run: Run
    models: dict[str, Any]  # name -> future of (flavor, bytes)
    data: Any  # future of the data dict
    options: dict[str, Any]
    pending: dict[str, list[Config]]  # each model's configurations, its baseline first
    recorded: set[str] = field(default_factory=set)  # baseline keys already stored
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    futures: dict[Any, Config] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    slots: dict[str, int] = field(default_factory=dict)
    sweep_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def submit(self, config: Config, baseline: dict[str, Any] | None) -> Any:
        from .task import run_config

        future = self.client.submit(
            run_config,
            config,
            self.models[config.model],
            self.data,
            self.options,
            baseline,
            (self.sweep_id, self.slots),
            key=f"nbopt-{self.sweep_id}-{config.kind}-{config.key}",
            retries=1,
            priority=10 if config.kind == "baseline" else 0,
            pure=False,
        )
        self.futures[future] = config
        return future

    def finished(self, future: Any) -> tuple[Config, dict[str, Any], bytes | None]:
        """The row of a finished future (a failed row if the task raised or its worker died)."""
        config = self.futures.pop(future)
        try:
            out = future.result()
            row, content = out["row"], out["content"]
        except Exception as exc:  # noqa: BLE001 - KilledWorker, a crash: the row says why
            row, content = failed_row(self.run, config, exc), None
        future.release()
        row["config_key"] = config.key
        return config, row, content

    def add(self, config: Config, row: dict[str, Any], content: bytes | None) -> None:
        """Add ``row`` to the comparison, the results and the listener."""
        if config.kind == "baseline":
            self.baselines[config.model] = row
        self.run.baseline = self.baselines.get(config.model)
        record = not (config.kind == "baseline" and config.key in self.recorded)
        if content is not None:
            variant = TFLiteModel(
                content,
                name=config.model,
                scheme=row.get("scheme", "float32"),
                technique=row.get("technique", "ptq"),
                settings=self.run.settings,
            )
            variant.row, variant.comparison = row, self.run.comparison
            self.run.comparison.models[config.label] = variant
        self.run.add(row, record=record, content=content if record else None)
        self.done += 1

    def progress(self) -> str:
        """``done / running / queued`` and the ETA, as the progress line shows them."""
        left = len(self.futures) + sum(len(v) for v in self.pending.values())
        running = min(left, sum(self.slots.values()) or 1)
        line = f"{self.done} done, {running} running, {left - running} queued"
        if self.done and left:
            eta = (time.perf_counter() - self.started) / self.done * left
            line += f", ETA {eta:.0f} s"
        return line


def failed_row(run: Run, config: Config, exc: BaseException) -> dict[str, Any]:
    """The row of a configuration whose task raised ``exc`` (or whose worker died)."""
    scheme = (config.then or "float32") if config.kind == "train" else config.scheme
    technique = {"baseline": "baseline", "ptq": "ptq"}.get(config.kind) or "+".join(
        k for k, v in (("prune", config.sparsity), ("cluster", config.clusters)) if v is not None
    )
    row = run.row(scheme, technique)
    row["model"] = config.model
    if config.sparsity is not None:
        row["target_sparsity"] = config.sparsity
    if config.clusters is not None:
        row["clusters"] = config.clusters
    name = type(exc).__name__
    if name == "KilledWorker":
        reason = "its Dask worker died (killed or crashed) on every try"
    else:
        reason = first_line(exc) or name
        if exc.__cause__ is not None:  # e.g. what failed to unpickle in the worker
            reason += f" ({type(exc.__cause__).__name__}: {first_line(exc.__cause__)})"
    row.update(status="failed", error=f"{name}: {reason}")
    return row


def new_run(total: int, settings: MeasureSettings, listener: Listener | None) -> Run:
    run = Run(
        "sweep",
        total,
        settings=settings,
        evaluation=None,
        metric=None,
        sample=None,
        listener=listener,
    )
    run.comparison = Comparison("sweep")
    return run


#: What a training task reports as its baseline: the sweep's own comes in a task of its own
#: (first, at a higher priority), and the kernel fills each row's ratios against it.
PLACEHOLDER = {"technique": "baseline", "scheme": "float32", "status": "pending"}


def stream(sweep: Sweep) -> Comparison:
    """Submit every configuration (baselines first) and add each row as its task ends."""
    from distributed import as_completed

    run = sweep.run
    configs = [c for configs in sweep.pending.values() for c in configs]
    sweep.pending.clear()
    configs.sort(key=lambda c: c.kind != "baseline")
    queue = as_completed([sweep.submit(c, dict(PLACEHOLDER)) for c in configs])
    interrupted = False
    try:
        for future in queue:
            config, row, content = sweep.finished(future)
            sweep.add(config, row, content)
            if config.kind == "baseline":
                late_ratios(run, config.model, row)
            index = min(run.index, run.total - 1)
            emit(run.listener, Event("step", "sweep", sweep.progress(), index, run.total))
    except KeyboardInterrupt:
        interrupted = True
        sweep.client.cancel(list(sweep.futures))
        raise
    finally:
        # The table reads as the engine's: each model's float32 baseline before its variants.
        run.comparison.rows.sort(key=lambda r: r.get("technique") != "baseline")
        run.finish(interrupted)
    return run.comparison


def late_ratios(run: Run, model: str, baseline: dict[str, Any]) -> None:
    """Ratios of ``model``'s rows that finished before its baseline (rare: it goes first)."""
    from ..engine.schema import fill_ratios

    for row in run.comparison.rows:
        if row.get("model") == model and row is not baseline and row.get("size_ratio") is None:
            fill_ratios(row, baseline)
