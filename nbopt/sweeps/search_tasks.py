"""optimize's candidate runs as Dask tasks (``--scheduler``, ``--workers`` or ``client=``).

The kernel ships the model (as ``.keras`` bytes, like a sweep's), the search's data and its
request to every worker once; each of a phase's jobs is then a task that runs the candidate
through the same pipeline on a worker (:func:`run_job`: rows kept in the worker's memory,
not in a store) and returns its rows, flatbuffers and a fine-tune's wrapped weights. The
kernel records each row in its results store as its task finishes, and then times every new
variant's latency itself, one at a time, with no task running: two busy workers timing at
once would disturb each other's figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.measure.latency import measure_latency
from ..engine.store import results
from .cluster import get, local_client
from .grid import load, model_bytes


class _OnWorker:
    """What the candidate functions read of a search, on a worker."""

    def __init__(self, model: Any, request: Any, plan: dict[str, Any]):
        self.model, self.request, self.plan = model, request, plan
        self.state: dict[str, dict[str, Any]] = {}
        self.baseline_row: dict[str, Any] | None = None
        self.baseline: Any = None
        self.beat: Any = None  # the search's, sent with each job

    def saw(self, comparison: Any) -> None:
        found = comparison.baseline() if comparison is not None else None
        if self.baseline is None and found is not None:
            self.baseline, self.baseline_row = found, found.row


def run_job(shipped: tuple[str, bytes], plan: dict, request: Any, spec: dict) -> dict[str, Any]:
    """On a worker: one job of the search; its rows with their flatbuffers, and weights."""
    from ..api.jobs import Job, run_here
    from ..config import NbOpt, set_current

    set_current(NbOpt(store=""))  # the kernel stores the rows it gets back
    s = _OnWorker(load(*shipped), request, plan)
    s.baseline_row, s.beat = spec["baseline_row"], spec["beat"]
    if spec["base"] is not None:
        s.state[spec["c"].after] = {**spec["base"], "keras": None}
    job = Job(spec["c"], spec["epochs"], spec["total"], None, spec["state"])
    run_here(s, job)
    return {
        "pairs": [(row, m.content if m is not None else None) for row, m in job.pairs],
        "weights": job.weights,
        "baseline": None if s.baseline is None else (s.baseline.row, s.baseline.content),
    }


class Pool:
    """Where a search's jobs run on Dask: the client, and what every worker was sent."""

    def __init__(self, client: Any, model: Any, request: Any, plan: dict[str, Any]):
        self.client = client
        shipped = request.with_options(fit=None, calib=None, eval=None, val=None, progress=None)
        shipped = shipped.with_options(client=None)
        inputs = {"model": model_bytes(model), "plan": plan, "request": shipped}
        self.inputs = client.scatter(inputs, broadcast=True, hash=False)

    @classmethod
    def start(cls, model: Any, request: Any, plan: dict[str, Any]) -> Pool:
        """The pool the request asks for: ``--workers``, else ``client``, else
        ``--scheduler``."""
        grid = request.grid
        client = local_client(grid.workers) if grid.workers else get(grid.client, grid.scheduler)
        return cls(client, model, request, plan)

    def run(self, s: Any, jobs: list[Any]) -> None:
        """Run ``jobs`` at once; fill each from its task, record its rows, then time them."""
        from distributed import as_completed

        futures = {self._submit(s, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                self._fill(s, job, future.result())
            except Exception as exc:  # noqa: BLE001 - a task that failed is the job's row
                from ..api.candidates import _failed

                job.pairs = [(_failed(s.plan, job.c, exc), None)]
            s.landed(job)
        for job in jobs:
            _time(s, job)

    def _submit(self, s: Any, job: Any) -> Any:
        base = None
        if job.c.after is not None:
            state = s.state[job.c.after]
            base = {k: state[k] for k in ("candidate", "weights", "epochs")}
        spec = {
            "c": job.c, "epochs": job.epochs, "total": job.total, "base": base,
            "state": None if job.state is None else {**job.state, "keras": None},
            "baseline_row": s.baseline_row, "beat": s.beat,
        }  # fmt: skip
        i = self.inputs
        return self.client.submit(run_job, i["model"], i["plan"], i["request"], spec, pure=False)

    def _fill(self, s: Any, job: Any, answer: dict[str, Any]) -> None:
        from ..api.jobs import keep

        if answer["baseline"] is not None and s.baseline is None:
            row, content = answer["baseline"]
            results.record(row, content)
            s.baseline_row, s.baseline = row, _model(s, row, content)
        job.pairs = []
        for row, content in answer["pairs"]:
            if row.get("status") != "skipped" or row.get("run_id"):  # not a candidate's
                results.record(row, content)  # "not run" row: the kernel's search adds those
            job.pairs.append((row, _model(s, row, content)))
        job.weights = answer["weights"]
        keep(job)


def _model(s: Any, row: dict[str, Any], content: bytes | None) -> Any:
    from ..api.candidates import model_of

    return model_of(row, content, s.request.settings)


def _time(s: Any, job: Any) -> None:
    """Time each variant of ``job`` here, alone (the workers' figures were taken side by side)."""
    from ..engine import capture

    x = s.plan["val"][0]
    sample = [np.asarray(a)[:1] for a in (x if isinstance(x, list) else [x])]
    for row, model in job.pairs:
        if model is None or row.get("status") != "ok":
            continue
        try:
            with capture.native():  # the interpreter's delegate lines go to %nbopt log
                timed = measure_latency(model.content, s.request.settings, sample)
        except Exception:  # noqa: BLE001 - a model the interpreter cannot time keeps none
            continue
        row.update(timed.columns())
        results.update(row)
