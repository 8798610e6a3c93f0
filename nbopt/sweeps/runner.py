"""The kernel's side of a sweep: submit one task per configuration, stream rows back.

Rows are added as tasks finish (``as_completed``): each goes to the sweep's
:class:`~nbopt.engine.pipeline.comparison.Comparison`, to
:func:`nbopt.engine.store.results.record` (so it
lands in whatever store holds rows) and to the listener, which renders them as ``%quantize``
does. A progress step says how many configurations are done, running and queued, and the
ETA. A task that fails, or whose worker dies twice, is a failed row with the reason: every
configuration gives exactly one row. A worker that dies takes with it every task it held,
not only the one that killed it: a configuration whose worker died twice is therefore tried
once more alone, when nothing else runs, and only a death there makes its row a failure.

Latency comes a little later than the rest of a row. The variants made on one host wait
together until the oldest has waited :data:`TIME_AFTER` seconds or the last configuration
is done; then one :func:`~nbopt.sweeps.task.time_latencies` task, pinned to that host,
takes it exclusively and times them all (one wait for the host per batch, not one per
variant). Their rows, in the comparison and in the store, are filled in then.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..display.units import count
from ..engine.events import Event, Listener, emit
from ..engine.measure.interpreter import first_line
from ..engine.measure.latency import MeasureSettings
from ..engine.model.tflite_model import TFLiteModel
from ..engine.pipeline.comparison import Comparison
from ..engine.pipeline.run import Run
from ..engine.store import results
from ..engine.store.schema import fill_ratios
from .grid import Config


def stored_keys(keys: Any) -> set[str]:
    """Which of ``keys`` already have a row with status ``ok`` in the results store (or in
    this kernel's rows without one): what ``resume`` skips."""
    return results.stored_keys(keys)


#: Seconds a made variant waits for its host's other variants before they are timed.
TIME_AFTER = 30.0


@dataclass
class Untimed:
    """A variant made on ``host`` whose latency is still to be timed."""

    row: dict[str, Any]
    content: bytes
    sample: list[Any] | None
    since: float = field(default_factory=time.perf_counter)


@dataclass
class Sweep:
    """A sweep under way: its configurations, futures and the comparison being filled."""

    client: Any
    run: Run
    models: dict[str, Any]  # name -> future of (flavor, bytes)
    data: Any  # future of the data dict
    request: Any  # the Request, without its data
    pending: dict[str, list[Config]]  # each model's configurations, its baseline first
    recorded: set[str] = field(default_factory=set)  # baseline keys already stored
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    futures: dict[Any, Config] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    done: int = 0
    slots: dict[str, int] = field(default_factory=dict)
    sweep_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    untimed: dict[str, list[Untimed]] = field(default_factory=dict)  # Dask host -> variants
    timing: dict[Any, tuple[str, list[Untimed]]] = field(default_factory=dict)  # future ->
    # the host and variants it times
    suspects: list[Config] = field(default_factory=list)  # worker died: to be tried alone
    shipped: tuple[dict[str, Any], Any] = ({}, None)  # the models' bytes and the data, to
    # scatter again when the workers that held them died
    alone: set[str] = field(default_factory=set)  # keys of configurations tried alone

    def submit(self, config: Config, baseline: dict[str, Any] | None) -> Any:
        from .task import run_config

        future = self.client.submit(
            run_config,
            config,
            self.models[config.model],
            self.data,
            self.request,
            baseline,
            (self.sweep_id, self.slots),
            key=f"nbopt-{self.sweep_id}-{config.kind}-{config.key}"
            + ("-alone" if config.key in self.alone else ""),
            priority=10 if config.kind == "baseline" else 0,
            pure=False,
        )
        self.futures[future] = config
        return future

    def finished(self, future: Any) -> tuple[Config, dict[str, Any], bytes | None] | None:
        """The row of a finished future (a failed row if the task raised or its worker died
        while it ran alone); its variant waits for its host's latency timing. None when its
        worker died with other tasks on it: it is tried again alone (:meth:`next_alone`)."""
        config = self.futures.pop(future)
        try:
            out = future.result()
            row, content = out["row"], out["content"]
        except Exception as exc:  # noqa: BLE001 - KilledWorker, a crash: the row says why
            if worker_lost(exc) and config.key not in self.alone:
                future.release()
                self.alone.add(config.key)
                self.suspects.append(config)
                return None
            row, content, out = failed_row(self.run, config, exc), None, {}
        future.release()
        row["config_key"] = config.key
        if content is not None and row.get("latency_ms") is None and row.get("worker"):
            host = worker_host(row["worker"])
            self.untimed.setdefault(host, []).append(Untimed(row, content, out.get("sample")))
        return config, row, content

    def scatter(self) -> None:
        """Put the models and the data on every worker (again)."""
        models, data = self.shipped
        futures = self.client.scatter(list(models.values()), broadcast=True, hash=False)
        self.models = dict(zip(models, futures))
        self.data = self.client.scatter([data], broadcast=True, hash=False)[0]

    def next_alone(self) -> Any | None:
        """The next configuration to try alone, submitted once no other one runs."""
        if self.futures or not self.suspects:
            return None
        config = self.suspects.pop(0)
        self.scatter()  # what the dead workers held is gone
        return self.submit(config, dict(PLACEHOLDER))

    def time_due(self) -> list[Any]:
        """Submit the latency timing of each host whose variants are due; the new futures."""
        from .task import time_latencies

        last = not self.futures and not self.suspects and not any(self.pending.values())
        now = time.perf_counter()
        submitted = []
        for host, variants in list(self.untimed.items()):
            if not variants or not (last or now - variants[0].since >= TIME_AFTER):
                continue
            future = self.client.submit(
                time_latencies,
                [(v.content, v.sample) for v in variants],
                self.run.settings,
                (self.sweep_id, self.slots),
                key=f"nbopt-{self.sweep_id}-latency-{uuid.uuid4().hex[:8]}",
                workers=[host],
                allow_other_workers=True,  # elsewhere only if no worker is left on ``host``
                retries=1,
                priority=20,
                pure=False,
            )
            self.timing[future] = (host, self.untimed.pop(host))
            submitted.append(future)
        return submitted

    def timed(self, future: Any) -> None:
        """Fill the rows of a finished timing task (in the comparison and the store)."""
        host, variants = self.timing.pop(future)
        note = None
        try:
            out = future.result()
            columns, timed_on = out["latencies"], worker_host(out["worker"])
            if timed_on != host:
                note = f"latency timed on {timed_on}: no worker was left on {host}"
        except Exception as exc:  # noqa: BLE001 - its worker died twice: no latency
            columns = [{} for _ in variants]
            note = f"latency not timed ({type(exc).__name__})"
        future.release()
        changed = {id(v.row): v.row for v in variants}
        for v, got in zip(variants, columns):
            v.row.update(got)
            if note:
                v.row["note"] = "; ".join(n for n in (v.row.get("note"), note) if n)
        changed.update(self.refill_speedups({v.row.get("model") for v in variants}))
        for row in changed.values():
            results.update(row)

    def refill_speedups(self, models: set[Any]) -> dict[int, dict[str, Any]]:
        """Speedups of ``models``' timed rows against their baselines; the rows that changed."""
        changed = {}
        for model in models:
            baseline = self.baselines.get(model)
            for row in self.run.comparison.rows:
                if row.get("model") == model and row.get("latency_ms") is not None:
                    before = row.get("speedup")
                    fill_ratios(row, baseline)
                    if row.get("speedup") != before:
                        changed[id(row)] = row
        return changed

    def add(self, config: Config, row: dict[str, Any], content: bytes | None) -> None:
        """Add ``row`` to the comparison, the results and the listener (as a row of this
        sweep's run: ``run_id`` is the sweep's, not its task's)."""
        row["run_id"] = self.run.run_id
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
        left = len(self.futures) + len(self.suspects) + sum(len(v) for v in self.pending.values())
        running = min(left, sum(self.slots.values()) or 1)
        line = f"{self.done} done, {running} running, {left - running} queued"
        if self.done and left:
            eta = (time.perf_counter() - self.started) / self.done * left
            line += f", ETA {eta:.0f} s"
        untimed = sum(len(v) for v in self.untimed.values())
        untimed += sum(len(v) for _, v in self.timing.values())
        if untimed:
            line += f"; {count(untimed, 'latency', 'latencies')} to time"
        return line


def worker_lost(exc: BaseException) -> bool:
    """Whether a task failed because a worker died: its own, or the one holding its inputs
    (the scheduler then cancels it: "lost dependencies", "already forgotten")."""
    name = type(exc).__name__
    return name == "KilledWorker" or "Cancelled" in name


def worker_host(address: str) -> str:
    """The host part of a Dask worker's address (what ``workers=`` pins a task to)."""
    from distributed.comm import get_address_host

    return get_address_host(address)


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
    if worker_lost(exc):  # also when it took with it the only copy of its inputs
        name, reason = "KilledWorker", "its Dask worker died (killed or crashed) on every try"
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
            if future in sweep.timing:
                sweep.timed(future)
            elif (done := sweep.finished(future)) is not None:
                config, row, content = done
                sweep.add(config, row, content)
                if config.kind == "baseline":
                    late_ratios(run, config.model, row)
            for later in (sweep.next_alone(), *sweep.time_due()):
                if later is not None:
                    queue.add(later)
            index = min(run.index, run.total - 1)
            emit(run.listener, Event("step", "sweep", sweep.progress(), index, run.total))
    except KeyboardInterrupt:
        interrupted = True
        sweep.client.cancel([*sweep.futures, *sweep.timing])
        raise
    finally:
        # The table reads as the engine's: each model's float32 baseline before its variants.
        run.comparison.rows.sort(key=lambda r: r.get("technique") != "baseline")
        run.finish(interrupted)
    return run.comparison


def late_ratios(run: Run, model: str, baseline: dict[str, Any]) -> None:
    """Ratios of ``model``'s rows that finished before its baseline (rare: it goes first)."""
    from ..engine.store.schema import fill_ratios

    for row in run.comparison.rows:
        if row.get("model") == model and row is not baseline and row.get("size_ratio") is None:
            fill_ratios(row, baseline)
