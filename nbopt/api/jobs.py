"""A candidate run of optimize's search (a :class:`Job`) and where it runs: in this kernel.

A job is a post-training candidate, or one rung of a training candidate's fine-tune. Each
is read back from the results store if it finished before (:mod:`nbopt.engine.store.searches`),
else run (here, or on Dask: :mod:`nbopt.sweeps.search_tasks`), and its rows stored under
its key at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine.store import searches
from .candidates import post_training, rebuild, restored
from .candidates import training as fine_tune


@dataclass
class Job:
    """Candidate ``c``: post-training (``epochs`` None), or ``epochs`` more of its fine-tune
    (``total`` in all, on from ``state``, its last rung); stored under ``key``."""

    c: Any
    epochs: int | None
    total: int | None
    key: str | None
    state: dict[str, Any] | None = None
    #: What it produced: ``(row, model)`` pairs, the wrapped weights, the Keras model.
    pairs: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    weights: list[Any] | None = None
    keras: Any = None
    wrapped: Any = None  # the compiled wrapped copy, when it trained in this kernel
    #: Why it did not run after all: the time budget ran out before its turn.
    skipped: str | None = None


def source_of(s: Any, job: Job) -> Any:
    """What the job fine-tunes: the model, or (PQAT, CQAT) its base's fine-tuned model
    (a rung on starts from its own kept weights, which replace every weight of it)."""
    if job.c.after is None:
        return s.model
    base = s.state[job.c.after]
    if base["keras"] is None:  # the base's rung was read back from the store, or ran on Dask
        base["keras"] = rebuild(s, base["candidate"], base)
    return base["keras"]


def from_store(s: Any, job: Job) -> bool:
    """Fill ``job`` from the results store if it finished before; whether it did."""
    found = searches.stored(job.key) if job.key is not None else None
    pairs = restored(s, found) if found else None
    if pairs is None:
        return False
    if job.epochs is not None:
        job.weights = searches.weights(job.key)
        if job.weights is None:  # its weights are gone: it trains again
            return False
    job.pairs = pairs
    s.restored += 1
    if s.baseline is None:
        s.restore_baseline()
    return True


def run_here(s: Any, job: Job) -> None:
    """Run ``job`` in this kernel (and its converter worker)."""
    if job.epochs is None:
        job.pairs = post_training(s, job.c)
    else:
        made, job.pairs = fine_tune(s, job.c, source_of(s, job), job.epochs, job.state)
        if made is not None:
            job.weights, made.trained_weights = made.trained_weights, None
            job.wrapped, made.trained_wrapped = made.trained_wrapped, None
            job.keras = made.keras_model
    keep(job)


def keep(job: Job) -> None:
    """Store the job's rows (and weights) under its key, the moment it finished."""
    if job.key is None:
        return
    if job.weights is not None:
        searches.keep_weights(job.key, job.weights)
    searches.mark([row for row, _ in job.pairs], job.key)


def run_all(s: Any, jobs: list[Job]) -> None:
    """Each job from the store, or run: here (post-training schemes together, in one
    comparison with one baseline), or on Dask all at once."""
    if s.pool is not None and len(jobs) > 1:
        todo = [job for job in jobs if not _landed_from_store(s, job)]
        if todo:
            s.announce(", ".join(job.c.label for job in todo))
            s.pool.run(s, todo)
        return
    together = []
    for job in jobs:
        if _together(job) and not _landed_from_store(s, job):
            together.append(job)
    for group in _by_io(together):
        run_together(s, group)
    ran = {id(job) for job in together}
    for job in jobs:
        if id(job) in ran or (_together(job) and job.pairs):
            continue
        job.skipped = s.out_of_time()
        if job.skipped is not None:
            s.runs -= 1
            continue
        s.announce(job.c.label)
        if not from_store(s, job):
            run_here(s, job)
        s.landed(job)


def _together(job: Job) -> bool:
    return job.epochs is None and job.c.call == "quantize"


def _landed_from_store(s: Any, job: Job) -> bool:
    if from_store(s, job):
        s.landed(job)
        return True
    return False


def _by_io(jobs: list[Job]) -> list[list[Job]]:
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.c.options.get("io", "float"), []).append(job)
    return list(groups.values())


def run_together(s: Any, jobs: list[Job]) -> None:
    """Post-training ``jobs`` as one comparison: each lands as its row is measured."""
    from .candidates import post_training_together

    out_of_time = s.out_of_time()
    if out_of_time is not None:
        for job in jobs:
            job.skipped = out_of_time
        s.runs -= len(jobs)
        return
    s.announce(", ".join(job.c.label for job in jobs))

    def done(job: Job) -> None:
        keep(job)
        s.landed(job)

    post_training_together(s, jobs, done)
