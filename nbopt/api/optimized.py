"""What ``optimize`` returns (:class:`Optimized`), and the pick's figures on ``eval``."""

from __future__ import annotations

import copy
from typing import Any

from ..engine.analyse import search
from ..engine.convert.converter import NEEDS_CALIBRATION
from ..engine.model.tflite_model import TFLiteModel

#: Placeholder names of the data in :attr:`Optimized.line` (the magic puts the user's own).
DEFAULT_NAMES = {"calib": "x_calib", "fit": "x_train,y_train", "eval": "x_test,y_test"}


def skipped_row(name: str, c: Any, why: str) -> dict[str, Any]:
    """The row of a candidate that was not measured (``status`` skipped)."""
    technique = {"quantize": "ptq", "float-search": "ptq"}.get(c.call, c.call)
    if c.options.get("aware"):
        technique = "qat"
    scheme = c.options.get("then") or c.options.get("scheme") or "int8"
    return {
        "model": name,
        "technique": technique,
        "scheme": scheme,
        "status": "skipped",
        "note": why.split(": ", 1)[-1],
        "candidate": c.label,
        "verdict": why,
    }


def eval_figures(pick: TFLiteModel, eval: Any, metric: Any, baseline: Any = None) -> TFLiteModel:  # noqa: A002
    """A copy of ``pick`` whose row holds its metric on ``eval`` (and its change from the
    float32 baseline there); the figures it was chosen by stay as ``val_accuracy`` and
    ``val_accuracy_delta``."""
    x, y = eval
    row = dict(pick.row or {})
    value = pick.evaluate(x, y, metric)
    base = (pick.comparison.baseline() if pick.comparison is not None else None) or baseline
    row["val_accuracy"], row["val_accuracy_delta"] = row.get("accuracy"), row.get("accuracy_delta")
    row["accuracy"] = value
    row["accuracy_delta"] = value - base.evaluate(x, y, metric) if base is not None else None
    row["eval_samples"] = len(y)
    row["metrics"] = None  # per output, on the validation data: not what eval says
    out = copy.copy(pick)
    out.row = row
    return out


def _line(row: dict[str, Any], c: Any, names: dict[str, str]) -> str:
    """The magic line (two for PQAT / CQAT) that makes candidate ``c``, measured as ``row``."""
    model = names["model"]
    io = f" --io {row['io']}" if row.get("io") in ("int8", "uint8") else ""
    tail = f"{io} --eval {names['eval']}"
    if c.trains:
        return _train_line(row, c, names, tail)
    scheme = row.get("scheme")
    calib = f" --calib {names['calib']}" if scheme in NEEDS_CALIBRATION else ""
    floats = row.get("float_layers") if c.call == "float-search" else None
    if floats:
        return f"%quantize {model} --scheme {scheme}{calib} --float {floats} --eval {names['eval']}"
    return f"%quantize {model} --scheme {scheme}{calib}{tail}"


def _train_line(row: dict[str, Any], c: Any, names: dict[str, str], tail: str) -> str:
    """The magic line of a variant of training candidate ``c``; a PQAT or CQAT one is
    preceded by the line that prunes or clusters its model (bound as ``base``)."""
    model, epochs = names["model"], row.get("epochs") or search.EPOCHS
    fit = f"--fit {names['fit']} --epochs {epochs}"
    if c.options.get("aware"):
        if c.after is None:
            return f"%quantize {model} --aware {fit}{tail}"
        kind, count = c.after.split()
        first = f"--sparsity {count}" if kind == "prune" else f"--clusters {count}"
        base = f"%{kind} {model} {first} --fit {names['fit']} --epochs {search.EPOCHS} --as base"
        keep = c.options["preserve"]
        return f"{base}\n%quantize base --aware --preserve {keep} {fit}{tail}"
    then = f" --then {row['then']} --calib {names['calib']}" if row.get("then") else ""
    sparse = " --sparse" if row.get("stored_sparse") else ""
    if not row.get("then"):
        tail = f" --eval {names['eval']}"
    if c.call == "prune":
        return f"%prune {model} --sparsity {c.options['sparsity']:g} {fit}{then}{sparse}{tail}"
    return f"%cluster {model} --clusters {c.options['clusters']} {fit}{then}{tail}"


def _change(row: dict[str, Any]) -> str:
    delta = row.get("accuracy_delta")
    return "" if delta is None else f" ({delta:+.4f} against float32)"


class Optimized:
    """The search's outcome.

    ``df``: one row per candidate (every results column, ``candidate`` and ``verdict``);
    ``pick``: the chosen :class:`TFLiteModel` (its row's figures on ``eval``), or None;
    ``reason``: one sentence why; ``line``: the magic that reproduces the pick;
    ``front``: the rows kept on the front of goal against metric drop; ``trail``: the
    search's decisions (successive halving) in words.
    """

    def __init__(self, found: Any, pick: Any, index: Any):
        plan = found.plan
        self.rows = found.rows
        self.pick = pick
        self.index = index
        self.goal, self.max_drop = plan["goal"], plan["max_drop"]
        self.names = {"model": plan["name"], **DEFAULT_NAMES}
        self.candidates = found.cands
        #: The search's decisions in words: who trained on, who stopped and why.
        self.trail: list[str] = found.trail
        #: Candidates run: each post-training scheme once, each fine-tune (a rung) once.
        self.runs: int = found.runs
        #: Of those, how many were read back from the results store (a re-run).
        self.restored: int = found.restored

    @property
    def df(self) -> Any:
        from ..engine.store import results

        return results.frame(self.rows)

    @property
    def front(self) -> Any:
        df = self.df
        return df[df["verdict"] == "kept"]

    @property
    def line(self) -> str | None:
        if self.index is None:
            return None
        return _line(self.rows[self.index], self.candidates[self.index], self.names)

    @property
    def reason(self) -> str:
        goal, budget = self.goal, self.max_drop
        if self.index is None:
            return (
                f"No candidate kept its metric within max_drop {budget:g} on the validation data."
            )
        row, eval_row = self.rows[self.index], self.pick.row
        within = sum(1 for r in self.rows if r.get("verdict") in ("kept", "dominated"))
        value = search.goal_value(row, goal)
        shown = search.shown(value, goal)
        among = f"of the {within} candidates" if within > 1 else "and is the only candidate"
        excluded = sum(1 for r in self.rows if str(r.get("verdict")).startswith("excluded: "))
        if excluded:
            among += f" (besides {excluded} excluded)"
        return (
            f"{row['candidate']} has the smallest {goal} ({shown}) {among} "
            f"within max_drop {budget:g} on the validation data (its {row.get('metric')} "
            f"changed {row.get('accuracy_delta'):+.4f} there); on eval its "
            f"{eval_row.get('metric')} is {eval_row['accuracy']:.4f}{_change(eval_row)}."
        )

    def table(self) -> str:
        """The candidates as text: label, status, goal, metric change, verdict."""
        col = search.GOALS[self.goal]
        lines = [f"{'candidate':34} {'status':8} {col:>12} {'Δ val':>9}  verdict"]
        for r in self.rows:
            value = r.get(col)
            delta = r.get("accuracy_delta")
            shown = "" if value is None else f"{value:,.6g}"
            d = "" if delta is None else f"{delta:+.4f}"
            lines.append(f"{r['candidate']:34} {r['status']:8} {shown:>12} {d:>9}  {r['verdict']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        pick = f"pick: {self.line}\n{self.reason}" if self.line else self.reason
        trail = "".join(f"\n  {step}" for step in self.trail)
        return f"{self.table()}\n{pick}" + (f"\nsearch:{trail}" if trail else "")
