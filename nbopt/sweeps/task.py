"""What a Dask worker runs: one configuration (:func:`run_config`), or the timing of
variants already made (:func:`time_latencies`).

A configuration's task rebuilds the Keras model from its bytes, then trains, converts and
evaluates holding a shared lease of its host (:mod:`.hostlock`). It leaves the variant's
latency untimed: the kernel gathers the variants made on each host and has them timed
together by one :func:`time_latencies` task, which takes the host exclusively. A task
returns the configuration's row (with ``worker``, ``host`` and ``config_key``) and the
variant's ``.tflite`` bytes; it never raises for a failed variant, which is a row too.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import replace
from typing import Any

from ..engine.measure.latency import MeasureSettings, measure_latency
from ..engine.pipeline.run import Run
from ..engine.pipeline.variants import derive
from ..engine.request import Request
from .grid import Config, load
from .hostlock import HostLock


class LockedRun(Run):
    """A :class:`Run` of a sweep's task: it pauses for a measurement that waits for its
    host; under a host lock it leaves latency to :func:`time_latencies` (run alone, as the
    bench's serial figure does, it times inline). It measures only the variant its task
    returns (``final``, a scheme): a variant made on the way to it (the float32
    flatbuffer an int8 one is made from) gets its size and nothing else."""

    lock: HostLock | None = None
    final: str | None = None

    def measure(self, model: Any, row: dict[str, Any]) -> None:
        if self.final is not None and row["scheme"] != self.final:
            row["size_bytes"] = model.size
            return
        super().measure(model, row)

    def fill_latency(self, row: dict[str, Any], content: bytes) -> None:
        if self.lock is None:
            super().fill_latency(row, content)

    def yield_point(self) -> None:
        if self.lock is not None:
            self.lock.pause_point()

    def latency_sample(self) -> list[Any] | None:
        """One sample per input: what :func:`time_latencies` feeds the variant."""
        return None if self.sample is None else [s[:1] for s in self.sample]


def where() -> dict[str, str]:
    """The ``worker`` (its address) and ``host`` that run this task."""
    try:
        from distributed import get_worker

        address = get_worker().address
    except ValueError:  # run in the kernel (the bench's serial figure)
        address = f"local:{os.getpid()}"
    return {"worker": address, "host": socket.gethostname()}


def run_config(
    config: Config,
    model: tuple[str, bytes],
    data: dict[str, Any],
    request: Request,
    baseline: dict[str, Any] | None,
    lock: tuple[str, dict[str, int]] | None,
) -> dict[str, Any]:
    """Make and measure ``config``: ``{"row": ..., "content": bytes or None, "sample": ...}``.

    ``request``: the sweep's options without its data, which ``data`` holds.
    ``lock``: ``(sweep id, worker threads per host)`` for the host lock, and then the
    latency is left to :func:`time_latencies` (``sample`` is its input); None: timed here.
    """
    started = time.perf_counter()
    host_lock = HostLock(*lock) if lock else None
    if host_lock:
        host_lock.enter()
    try:
        keras_model = load(*model)
        request = request.with_options(
            **{k: data.get(k) for k in ("fit", "calib", "eval")}, name=config.model
        )
        if config.kind == "train":
            row, content, run = _train(config, keras_model, request, baseline, host_lock)
        else:
            row, content, run = _post_training(config, keras_model, request, host_lock)
    finally:
        if host_lock:
            host_lock.leave()
    row.update(where(), config_key=config.key)
    row["task_seconds"] = time.perf_counter() - started
    row["wait_seconds"] = host_lock.waited if host_lock else 0.0
    return {
        "row": row,
        "content": content,
        "sample": run.latency_sample() if host_lock and content is not None else None,
    }


def time_latencies(
    variants: list[tuple[bytes, list[Any] | None]],
    settings: MeasureSettings,
    lock: tuple[str, dict[str, int]],
) -> dict[str, Any]:
    """``latencies``: the latency columns of each ``(content, sample)``, timed while this
    task holds its host alone (``{}`` for one the interpreter cannot time); ``worker``: the
    worker that timed them."""
    out = []
    with HostLock(*lock).exclusive():
        for content, sample in variants:
            try:
                out.append(measure_latency(content, settings, sample).columns())
            except (RuntimeError, ValueError):
                out.append({})
    return {"latencies": out, "worker": where()["worker"]}


def _post_training(
    config: Config,
    keras_model: Any,
    request: Request,
    lock: HostLock | None,
) -> tuple[dict[str, Any], bytes | None, LockedRun]:
    """The float32 flatbuffer, then ``config.scheme`` made from it, as the engine does."""
    from ..engine.convert.converter import NEEDS_CALIBRATION, convert, export_saved_model
    from ..engine.pipeline.checks import prepare_data

    settings = request.settings
    data = request.data
    calib, evaluation, metric = prepare_data(keras_model, data.calib, data.eval, data.metric)
    run = LockedRun(
        config.model,
        2,
        settings=settings,
        evaluation=evaluation,
        metric=metric,
        sample=evaluation.x if evaluation else calib,
        listener=None,
    )
    run.lock, run.final = lock, config.scheme
    io = request.conversion.io if config.scheme == "int8" else "float"
    with export_saved_model(keras_model) as exported:
        base_row = run.row("float32", "baseline", io="float", converter="tflite-converter")
        base = run.variant(
            base_row, lambda: convert(exported.path, "float32", isolate=settings.isolate)
        )
        if config.scheme == "float32":
            return base_row, base.content if base else None, run
        row = run.row(config.scheme, "ptq", io=io)
        if calib is not None and config.scheme in NEEDS_CALIBRATION:
            row["calib_samples"] = len(calib[0])
        made = run.variant(
            row,
            lambda: derive(
                run, row, config.scheme, exported.path, base.content if base else None, calib, io
            ),
        )
    return row, made.content if made else None, run


def _train(
    config: Config,
    keras_model: Any,
    request: Request,
    baseline: dict[str, Any] | None,
    lock: HostLock | None,
) -> tuple[dict[str, Any], bytes | None, LockedRun]:
    """Prune and/or cluster (preserving the zeros), then ``config.then``: the last row."""
    from ..engine.training import pipeline
    from ..engine.training.technique import Technique

    steps = []
    if config.sparsity is not None:
        steps.append(replace(request, technique="prune").with_options(sparsity=config.sparsity))
    if config.clusters is not None:
        preserve = "sparsity" if config.sparsity is not None else None
        steps.append(
            replace(request, technique="cluster").with_options(
                clusters=config.clusters, preserve=preserve
            )
        )
    steps = [s.with_options(baseline=baseline) for s in steps]
    techniques = [Technique.of(s) for s in steps]
    _seed(keras_model)
    current = keras_model
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        plan = pipeline.validate(current, step.with_options(then=config.then if last else None))
        run = LockedRun(
            plan.name,
            3,
            settings=request.settings,
            evaluation=plan.evaluation,
            metric=plan.metric,
            sample=plan.evaluation.x if plan.evaluation else plan.calib,
            listener=None,
        )
        run.lock, run.final = lock, config.then or "float32"
        if last:
            pipeline.measure_baseline(run, plan)
        try:
            current = pipeline.fine_tune(run, plan)
        except Exception:  # noqa: BLE001 - fine_tune made a failed row for nbopt's errors
            if not run.comparison.rows or run.comparison.rows[-1].get("status") != "failed":
                raise
            return _chained(run.comparison.rows[-1], techniques), None, run
    final = pipeline.export_and_measure(run, plan, current)
    return _chained(run.comparison.rows[-1], techniques), final.content if final else None, run


def _chained(row: dict[str, Any], steps: list[Any]) -> dict[str, Any]:
    """``row`` of the last step, naming the whole chain and every step's parameters."""
    if len(steps) > 1:
        for step in steps[:-1]:
            row.update({k: v for k, v in step.params().items() if k not in row})
        row["technique"] = "+".join(s.kind for s in steps)
    return row


def _seed(keras_model: Any) -> None:
    """The same random state for every task: a configuration trains the same anywhere."""
    from ..engine.model.keras_models import keras_flavor

    if keras_flavor(keras_model) == "tf_keras":
        import tf_keras as keras
    else:
        import keras  # type: ignore[no-redef]
    keras.utils.set_random_seed(0)
