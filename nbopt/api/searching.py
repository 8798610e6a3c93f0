"""Running optimize's search: post-training candidates, then training ones by successive halving.

Every candidate is a request through the one pipeline (``quantize``, ``prune``,
``cluster``); a training candidate's every variant (then int8, stored sparse) is a row of
its own. The search goes in phases, each decided before it runs (so that the same call
makes the same choices in this kernel or on Dask): the post-training schemes; int8 with
float layers; every training candidate's first rung; PQAT / CQAT from the pruned and
clustered models; then rungs of successive halving. The decisions (what cannot win, who
trains on) are :mod:`nbopt.engine.analyse.search`; the runs are :mod:`.jobs`.
"""

from __future__ import annotations

import time
from typing import Any

from ..engine.analyse import search
from ..engine.events import Event, emit
from ..engine.request import Request
from ..engine.store import searches
from .candidates import restored
from .jobs import Job, run_all
from .optimized import skipped_row


class Search:
    """One search: its rows (``rows``), their models and candidates (parallel lists), and
    ``trail``, the decisions in words. ``pool``: Dask, or None to run in this kernel."""

    def __init__(self, model: Any, request: Request, plan: dict[str, Any], pool: Any = None):
        self.model, self.request, self.plan, self.pool = model, request, plan, pool
        self.rows: list[dict[str, Any]] = []
        self.models: list[Any] = []
        self.cands: list[Any] = []
        self.trail: list[str] = []
        self.runs = 0
        self.finished = 0  # candidate runs done (read back or measured)
        self.landing: list[dict[str, Any]] = []  # their rows, before the phase adds them
        self.started = time.perf_counter()
        self.state: dict[str, dict[str, Any]] = {}  # per training candidate: its last rung
        self.queue = len(plan["candidates"]) + len(plan["lines"])
        #: Candidate runs read back from the results store instead of measured.
        self.restored = 0
        #: The original model's float32 row on the validation split, and its model.
        self.baseline_row: dict[str, Any] | None = None
        self.baseline: Any = None
        #: What a fine-tune's variants must beat to be measured (set as each phase starts).
        self.beat: search.Beat | None = None

    # ------------------------------------------------------------------ bookkeeping

    def spent(self) -> str | None:
        """Why nothing more runs (the budget), or None."""
        count = self.plan["count"]
        if count is not None and self.runs >= count:
            return f"not run: budget spent ({count} candidates)"
        return self.out_of_time()

    def out_of_time(self) -> str | None:
        """Why nothing more starts (a time budget spent), or None."""
        elapsed, seconds = time.perf_counter() - self.started, self.plan["seconds"]
        if seconds is not None and elapsed >= seconds:
            return f"not run: budget spent ({elapsed:.0f} s)"
        return None

    def add(self, c: Any, row: dict[str, Any], model: Any = None) -> None:
        """Append a row in the search's order (its job announced it when it landed)."""
        self.rows.append(row)
        self.models.append(model)
        self.cands.append(c)

    def landed(self, job: Any) -> None:
        """A job finished: its rows get their target's verdict and are announced at once."""
        self.finished += 1
        a = self.request.analysis
        for row, model in job.pairs:
            if row.get("status") == "ok":
                row["verdict"] = search.excluded_after(row, a.target, a.ram_kb, a.flash_kb)
            elif row.get("status") == "skipped" and not row.get("verdict"):
                row["verdict"] = row.get("error")  # a variant that could not beat the best
            self.landing.append(row)
            index, total = self.finished, self.finished + self.ahead()
            event = Event("row", row["candidate"], "", index, total, row=row, model=model)
            emit(self.request.listener, event)

    def ahead(self) -> int:
        """Candidate runs planned and not finished, and candidates not decided yet."""
        return self.runs + self.queue - self.finished

    def announce(self, label: str) -> None:
        rows = [*self.rows, *self.landing]
        best = search.best_so_far(rows, self.plan["goal"], self.plan["max_drop"])
        left = ""
        if self.plan["seconds"] is not None:
            remaining = self.plan["seconds"] - (time.perf_counter() - self.started)
            left = f"; {max(0.0, remaining):.0f} s of the budget left"
        done, ahead = self.finished, self.ahead()
        message = f"{done} done, {ahead} left; best so far: {best}{left}"
        emit(self.request.listener, Event("step", label, message, done, done + ahead))

    def key(self, c: Any, epochs: int | None) -> str | None:
        """The store key of candidate ``c`` trained ``epochs`` in all (None: not kept)."""
        identity = self.plan["identity"]
        if identity is None:
            return None
        options = dict(c.options)
        if c.call == "float-search":
            options["max_drop"] = self.plan["max_drop"]
        return searches.key(identity, c.label, options, epochs)

    def saw(self, comparison: Any) -> None:
        """Keep the first float32 baseline measured (and store it with the search)."""
        if self.baseline is not None or comparison is None:
            return
        self.baseline = comparison.baseline()
        if self.baseline is not None:
            self.baseline_row = self.baseline.row
            if self.plan["identity"] is not None:
                searches.mark([self.baseline_row], self._baseline_key())

    def _baseline_key(self) -> str:
        return searches.key(self.plan["identity"], "baseline", {}, None)

    def restore_baseline(self) -> None:
        found = searches.stored(self._baseline_key())
        pairs = restored(self, found) if found else None
        if pairs:
            (self.baseline_row, self.baseline), *_ = pairs

    # ------------------------------------------------------------------ the phases

    def run(self) -> None:
        emit(self.request.listener, Event("start", message="optimize", total=self.queue))
        ptq = [c for c in self.plan["candidates"] if c.call != "float-search"]
        self.phase(ptq, self.why_not, None)
        floats = [c for c in self.plan["candidates"] if c.call == "float-search"]
        self.phase(floats, self.why_not, None)
        lines = self.plan["lines"]
        trained = self.phase([c for c in lines if c.after is None], self.line_not_run, 1)
        trained.update(self.phase([c for c in lines if c.after], self.line_not_run, 1))
        self.halving(trained)
        emit(self.request.listener, Event("done", message="optimize", index=self.finished))

    def phase(self, cands: list[Any], why_not: Any, epochs: int | None) -> dict[str, list]:
        """Decide, then run, ``cands`` (``epochs`` of fine-tuning, or post-training); add
        their rows in order. Returns each trained candidate's rows."""
        slots: list[Any] = []
        for c in cands:
            self.queue -= 1
            why = why_not(c)
            if why is None:
                self.runs += 1
                slots.append(Job(c, epochs, epochs, self.key(c, epochs)))
            else:
                slots.append((c, why))
        self.beat = self.to_beat()
        run_all(self, [s for s in slots if isinstance(s, Job)])
        return self.settle(slots)

    def to_beat(self) -> search.Beat | None:
        """The best size (or gzip size) within the budget so far, which a fine-tune's
        variant must beat to be measured; decided before a phase runs, as its jobs are."""
        return search.to_beat(self.rows, self.plan["goal"], self.plan["max_drop"])

    def settle(self, slots: list[Any]) -> dict[str, list]:
        """Add the phase's rows in its order; returns each trained candidate's rows."""
        self.landing = []
        trained: dict[str, list] = {}
        for slot in slots:
            if not isinstance(slot, Job):
                c, why = slot
                self.add(c, skipped_row(self.plan["name"], c, why))
                continue
            if slot.skipped is not None and slot.state is not None:  # a later rung
                self.trail.append(f"{slot.c.label} does not train on: {slot.skipped[9:]}")
                continue
            if slot.skipped is not None:
                self.add(slot.c, skipped_row(self.plan["name"], slot.c, slot.skipped))
                continue
            if slot.state is not None:
                label, more = slot.c.label, slot.epochs
                self.trail.append(f"{label} trains {more} more epochs from its saved weights")
            for row, model in slot.pairs:
                self.add(slot.c, row, model)
            if slot.epochs is None:
                continue
            trained[slot.c.label] = [row for row, _ in slot.pairs]
            if slot.weights is not None:
                self.state[slot.c.label] = {
                    "candidate": slot.c, "weights": slot.weights, "epochs": slot.total,
                    "keras": slot.keras, "wrapped": slot.wrapped,
                }  # fmt: skip
        return trained

    def why_not(self, c: Any) -> str | None:
        """Why post-training candidate ``c`` is not run (target, data, budget), or None."""
        plan = self.plan
        why = search.excluded_before(c, self.request.analysis.target, plan["train"] is not None)
        if why is None and plan["calib"] is None and c.options.get("scheme") in ("int8", "int16x8"):
            why = "not run: it calibrates; pass --calib or --fit"
        if why is None and c.call == "float-search":
            why = self._float_search_needed()
        return why or self.spent()

    def _float_search_needed(self) -> str | None:
        if not self.plan["keras"]:
            return "not run: a .tflite has no Keras layers to keep float"
        int8 = next((r for r in self.rows if r.get("candidate") == "int8"), None)
        if int8 is None or int8.get("status") != "ok":
            return "not run: plain int8 was not measured"
        if search.drop_of(int8) <= self.plan["max_drop"]:
            return "not run: plain int8 is within max_drop"
        return None

    def line_not_run(self, c: Any) -> str | None:
        plan, target = self.plan, self.request.analysis.target
        if not plan["keras"]:
            return "not run: a .tflite cannot be fine-tuned (only post-training candidates)"
        why = search.excluded_before(c, target, plan["train"] is not None)
        if why is None and c.after is not None and c.after not in self.state:
            why = f"not run: {c.after} did not run"
        if why is None:
            why = search.cannot_win(c, self.rows, plan["goal"], plan["max_drop"])
        return why or self.spent()

    def halving(self, trained: dict[str, list]) -> None:
        """Rungs of successive halving: the promising half trains on, twice as long."""
        epochs = search.EPOCHS
        for _ in range(1, search.RUNGS):
            goal, max_drop = self.plan["goal"], self.plan["max_drop"]
            trained = {label: rows for label, rows in trained.items() if label in self.state}
            keep, why = search.to_continue(trained, self.rows, goal, max_drop)
            for label, reason in why.items():
                n = self.state[label]["epochs"]
                epochs_ = f"{n} epoch" + ("s" if n != 1 else "")
                self.trail.append(f"{label} stops after {epochs_}: {reason}")
                self.state[label]["wrapped"] = None  # it trains no more: let it go
            if not keep:
                self.trail.append("no remaining candidate can improve the pick")
                break
            epochs *= 2
            for label in keep:
                self._trains_on(label)
            trained = self.rung(keep, epochs)
        for state in self.state.values():
            state["wrapped"] = None

    def _trains_on(self, label: str) -> None:
        """A QAT model trains on in place: its earlier variants no longer stand for it."""
        wrapped = self.state[label].get("wrapped")
        if wrapped is None:
            return
        for c, model in zip(self.cands, self.models):
            if c.label == label and model is not None and model.keras_model is wrapped:
                model.keras_model = None

    def rung(self, labels: list[str], epochs: int) -> dict[str, list]:
        slots: list[Any] = []
        self.queue = len(labels)
        for label in labels:
            self.queue -= 1
            state = self.state[label]
            spent = self.spent()
            if spent is not None:
                self.trail.append(f"{label} does not train on: {spent[9:]}")
                continue
            self.runs += 1
            total = epochs + state["epochs"]
            key = self.key(state["candidate"], total)
            slots.append(Job(state["candidate"], epochs, total, key, state))
        self.beat = self.to_beat()
        run_all(self, slots)
        return self.settle(slots)
