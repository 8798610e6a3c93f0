"""Running optimize's search: post-training candidates, then training ones by successive halving.

Every candidate is a request through the one pipeline (``quantize``, ``prune``,
``cluster``); a training candidate's every variant (then int8, stored sparse) is a row of
its own. The decisions (which candidates, what cannot win, who trains on) are
:mod:`nbopt.engine.analyse.search`; this module runs them and keeps rows and models.
"""

from __future__ import annotations

import time
from typing import Any

from ..engine.analyse import search
from ..engine.events import Event, emit
from ..engine.request import Request
from ..engine.store import searches
from . import candidates
from .optimized import skipped_row


class Search:
    """One search: its rows (``rows``), their models and candidates (parallel lists), and
    ``trail``, the decisions in words."""

    def __init__(self, model: Any, request: Request, plan: dict[str, Any]):
        self.model, self.request, self.plan = model, request, plan
        self.rows: list[dict[str, Any]] = []
        self.models: list[Any] = []
        self.cands: list[Any] = []
        self.trail: list[str] = []
        self.runs = 0
        self.started = time.perf_counter()
        self.state: dict[str, dict[str, Any]] = {}  # per training candidate: made, weights
        self.queue = len(plan["candidates"]) + len(plan["lines"])
        #: Candidate runs read back from the results store instead of measured.
        self.restored = 0
        #: The original model's float32 row on the validation split, and its model.
        self.baseline_row: dict[str, Any] | None = None
        self.baseline: Any = None

    # ------------------------------------------------------------------ bookkeeping

    def spent(self) -> str | None:
        """Why nothing more runs (the budget), or None."""
        count, seconds = self.plan["count"], self.plan["seconds"]
        if count is not None and self.runs >= count:
            return f"not run: budget spent ({count} candidates)"
        elapsed = time.perf_counter() - self.started
        if seconds is not None and elapsed >= seconds:
            return f"not run: budget spent ({elapsed:.0f} s)"
        return None

    def add(self, c: Any, row: dict[str, Any], model: Any = None) -> None:
        if row.get("status") == "ok":
            a = self.request.analysis
            row["verdict"] = search.excluded_after(row, a.target, a.ram_kb, a.flash_kb)
        self.rows.append(row)
        self.models.append(model)
        self.cands.append(c)
        if row.get("status") != "skipped":
            total = self.runs + self.queue
            event = Event("row", row["candidate"], len(self.rows), total, row=row, model=model)
            emit(self.request.listener, event)

    def skip(self, c: Any, why: str) -> None:
        self.add(c, skipped_row(self.plan["name"], c, why))

    def announce(self, label: str) -> None:
        best = search.best_so_far(self.rows, self.plan["goal"], self.plan["max_drop"])
        left = ""
        if self.plan["seconds"] is not None:
            remaining = self.plan["seconds"] - (time.perf_counter() - self.started)
            left = f"; {max(0.0, remaining):.0f} s of the budget left"
        message = f"{self.runs} done, {self.queue} left; best so far: {best}{left}"
        total = self.runs + self.queue
        emit(self.request.listener, Event("step", label, message, self.runs, total))

    # ------------------------------------------------------------------ the phases

    def run(self) -> None:
        total = self.queue
        emit(self.request.listener, Event("start", message="optimize", total=total))
        for c in self.plan["candidates"]:
            self.queue -= 1
            why = self.why_not(c)
            if why is not None:
                self.skip(c, why)
                continue
            self.post(c)
        self.training()
        emit(self.request.listener, Event("done", message="optimize", index=self.runs))

    def post(self, c: Any) -> None:
        """Measure post-training candidate ``c`` (or read it back from the store)."""
        self.announce(c.label)
        self.runs += 1
        run_key = self.key(c, None)
        pairs = self.restore(run_key)
        if pairs is None:
            pairs = candidates.post_training(self, c)
            self.remember(pairs, run_key)
        for row, made in pairs:
            self.add(c, row, made)

    # ------------------------------------------------------------------ the store

    def key(self, c: Any, epochs: int | None) -> str | None:
        """The store key of candidate ``c`` trained ``epochs`` in all (None: not kept)."""
        identity = self.plan["identity"]
        if identity is None:
            return None
        options = dict(c.options)
        if c.call == "float-search":
            options["max_drop"] = self.plan["max_drop"]
        return searches.key(identity, c.label, options, epochs)

    def restore(self, run_key: str | None) -> list[tuple[dict[str, Any], Any]] | None:
        """A candidate run's rows and models from the store, if it finished before."""
        found = searches.stored(run_key) if run_key is not None else None
        pairs = candidates.restored(self, found) if found else None
        if pairs is not None:
            self.restored += 1
            if self.baseline is None:
                self._restore_baseline()
        return pairs

    def remember(self, pairs: list[tuple[dict[str, Any], Any]], run_key: str | None) -> None:
        if run_key is not None:
            searches.mark([row for row, _ in pairs], run_key)

    def saw(self, comparison: Any) -> None:
        """Keep the first float32 baseline measured (and store it with the search)."""
        if self.baseline is not None or comparison is None:
            return
        for model in comparison.models.values():
            row = model.row or {}
            if row.get("technique") == "baseline" and row.get("status") == "ok":
                self.baseline_row, self.baseline = row, model
                if self.plan["identity"] is not None:
                    searches.mark([row], searches.key(self.plan["identity"], "baseline", {}, None))
                return

    def _restore_baseline(self) -> None:
        found = searches.stored(searches.key(self.plan["identity"], "baseline", {}, None))
        pairs = candidates.restored(self, found) if found else None
        if pairs:
            (self.baseline_row, self.baseline), *_ = pairs

    # ------------------------------------------------------------------ the phases

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

    def training(self) -> None:
        """The first rung (every training candidate, one short fine-tune each), then rungs
        of successive halving while any candidate could still improve the pick."""
        trained = self.first_rung()
        epochs = search.EPOCHS
        for _ in range(1, search.RUNGS):
            goal, max_drop = self.plan["goal"], self.plan["max_drop"]
            keep, why = search.to_continue(trained, self.rows, goal, max_drop)
            for label, reason in why.items():
                self.trail.append(
                    f"{label} stops after {self.state[label]['epochs']} epochs: {reason}"
                )
            if not keep:
                self.trail.append("no remaining candidate can improve the pick")
                return
            epochs *= 2
            self.queue = len(keep)
            trained = {}
            for label in keep:
                self.queue -= 1
                spent = self.spent()
                if spent is not None:
                    self.trail.append(f"{label} does not train on: {spent[9:]}")
                    continue
                self.trail.append(f"{label} trains {epochs} more epochs from its saved weights")
                trained[label] = self.train(self.state[label]["candidate"], epochs)

    def first_rung(self) -> dict[str, list[dict[str, Any]]]:
        trained: dict[str, list[dict[str, Any]]] = {}
        self.queue = len(self.plan["lines"])
        for c in self.plan["lines"]:
            self.queue -= 1
            why = self.line_not_run(c)
            if why is not None:
                self.skip(c, why)
                continue
            trained[c.label] = self.train(c, search.EPOCHS)
        return trained

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

    def train(self, c: Any, epochs: int) -> list[dict[str, Any]]:
        """Fine-tune ``c`` for ``epochs`` (on from its saved weights after the first rung),
        or read the rung back from the store; add a row per variant; returns them."""
        self.announce(c.label)
        self.runs += 1
        state = self.state.get(c.label)
        total = epochs + (state["epochs"] if state else 0)
        source = state["source"] if state else self.source_of(c)
        run_key = self.key(c, total)
        pairs, made = self.restore(run_key), None
        weights = searches.weights(run_key) if pairs is not None else None
        if pairs is not None and weights is None:  # its weights are gone: trained again
            self.restored -= 1
        if pairs is None or weights is None:
            made, pairs = candidates.training(self, c, source, epochs, state)
            if made is not None:
                weights, made.trained_weights = made.trained_weights, None
                if run_key is not None:
                    searches.keep_weights(run_key, weights)
                    self.remember(pairs, run_key)
        for row, model in pairs:
            self.add(c, row, model)
        if weights is not None:
            self.state[c.label] = {
                "candidate": c, "source": source, "weights": weights, "epochs": total,
                "keras": made.keras_model if made is not None else None,
            }  # fmt: skip
        return [row for row, _ in pairs]

    def source_of(self, c: Any) -> Any:
        """What ``c`` fine-tunes: the model, or (PQAT, CQAT) its base's fine-tuned model."""
        if c.after is None:
            return self.model
        base = self.state[c.after]
        if base["keras"] is None:  # the base's rung was read back from the store
            base["keras"] = candidates.rebuild(self, base["candidate"], base)
        return base["keras"]
