"""The optimize search's logic: its candidates, its budget, each row's verdict, the pick.

Pure decisions on rows; the candidates are measured by the API's entry points
(:mod:`nbopt.api.optimize`), each a request through the one pipeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ...errors import NbOptUsageError
from ..store.schema import metric_drop
from .pareto import pareto_mask

#: Each goal's column (lower is better).
GOALS = {"size": "size_bytes", "gzip": "gzip_bytes", "latency": "latency_ms", "ram": "ram_bytes"}
#: Targets that run only integer models with integer inputs and outputs.
INTEGER_ONLY = ("edgetpu",)
#: The short fine-tune of every training candidate in this search (the first rung); each
#: later rung of successive halving trains the promising ones twice as long again.
EPOCHS = 1
#: Rungs of successive halving at most (1, then 2, then 4 more epochs: 7 in all).
RUNGS = 3
#: Pruning targets and cluster counts the search tries.
SPARSITIES = (0.5, 0.8)
CLUSTERS = (16, 8)


@dataclass(frozen=True)
class Candidate:
    """One candidate: its label, the entry point that makes it and that call's options.

    ``call`` is ``quantize``, ``prune``, ``cluster`` or ``float-search`` (int8 with the
    fewest float layers within ``max_drop``); ``trains`` says it needs ``fit``;
    ``integer`` that it makes a fully integer model (int8 I/O when the target asks);
    ``after`` names the training candidate whose model it trains further (PQAT, CQAT).
    """

    label: str
    call: str
    options: dict[str, Any] = field(default_factory=dict)
    trains: bool = False
    integer: bool = False
    after: str | None = None  # the training candidate whose fine-tuned model it starts from


def candidates(target: str, low_bit: tuple[str, ...]) -> list[Candidate]:
    """The post-training candidates in the order the search tries them (no training)."""
    io = {"io": "int8"} if target in ("edgetpu", "mcu") else {}
    return [
        Candidate("float16", "quantize", {"scheme": "float16"}),
        Candidate("dynamic", "quantize", {"scheme": "dynamic"}),
        Candidate("int8", "quantize", {"scheme": "int8", **io}, integer=True),
        Candidate("int16x8", "quantize", {"scheme": "int16x8"}),
        *(Candidate(s, "quantize", {"scheme": s}) for s in low_bit),
        Candidate("int8 float layers", "float-search", {"scheme": "int8"}),
    ]


def lines(target: str, goal: str = "size") -> list[Candidate]:
    """The training candidates (each one fine-tune whose variants are each a candidate row):
    QAT, pruning (then int8; each also stored sparse), clustering (then int8), and, from
    each pruned or clustered model, quantization-aware training that keeps its structure
    (PQAT, CQAT)."""
    io = {"io": "int8"} if target in ("edgetpu", "mcu") else {}
    # Stored sparse shrinks the file, never RAM (DENSIFY's dense copy) or time (measured).
    sparse = {"sparse": True} if goal in ("size", "gzip") and target not in INTEGER_ONLY else {}
    out = [Candidate("qat", "quantize", {"aware": True, **io}, trains=True, integer=True)]
    for s in SPARSITIES:
        options = {"sparsity": s, "then": "int8", **sparse, **io}
        out.append(Candidate(f"prune {s:g}", "prune", options, trains=True, integer=True))
    for k in CLUSTERS:
        options = {"clusters": k, "then": "int8", **io}
        out.append(Candidate(f"cluster {k}", "cluster", options, trains=True, integer=True))
    for base, keep in [*((f"prune {s:g}", "sparsity") for s in SPARSITIES),
                       *((f"cluster {k}", "clusters") for k in CLUSTERS)]:  # fmt: skip
        label = ("pqat" if keep == "sparsity" else "cqat") + base[base.index(" ") :]
        options = {"aware": True, "preserve": keep, **io}
        out.append(Candidate(label, "quantize", options, trains=True, integer=True, after=base))
    return out


@dataclass(frozen=True)
class Beat:
    """What a variant must beat to matter: the best size (or gzip size) within the metric
    budget so far, and the candidate that holds it (an optimize search sets it for each
    fine-tune). A variant whose value is known to be larger before it is measured is not
    measured: its row is ``skipped`` with the reason."""

    goal: str  # "size" or "gzip"
    value: float
    label: str

    def why(self, value: float, at_least: bool = False) -> str | None:
        """The reason a variant of ``goal`` ``value`` cannot win, or None if it can:
        ``not run`` where ``value`` is a bound (``at_least``), ``not measured`` where it is
        the converted file's."""
        if value <= self.value:
            return None
        done, words = ("not run", "at least about ") if at_least else ("not measured", "")
        return (
            f"{done}: cannot beat {self.label} ({self.value:,.0f} bytes): "
            f"its {self.goal} is {words}{value:,.0f} bytes"
        )


def parse_budget(budget: Any) -> tuple[int | None, float | None]:
    """``(candidates, seconds)``: a count like 12 or a time like ``10m``, ``90s``, ``1h``."""
    text = str(budget).strip() if not isinstance(budget, bool) else ""
    if re.fullmatch(r"\d+", text) and int(text) >= 1:
        return int(text), None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh])", text)
    if match and float(match.group(1)) > 0:
        return None, float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]
    raise NbOptUsageError(
        f"budget must be a number of candidates (12) or a time (10m, 90s); got {budget!r}"
    )


def excluded_before(c: Candidate, target: str, has_fit: bool) -> str | None:
    """Why ``c`` cannot win before it is measured (``excluded: ...`` / ``not run: ...``)."""
    if target in INTEGER_ONLY and not c.integer:
        return "excluded: the Edge TPU runs only integer models with integer I/O"
    if c.trains and not has_fit:
        return "not run: it fine-tunes; pass --fit"
    return None


def excluded_after(row: dict[str, Any], target: str, ram_kb: Any, flash_kb: Any) -> str | None:
    """Why a measured row does not count on ``target`` (or within the device budgets)."""
    if target == "edgetpu" and not (
        row.get("io") in ("int8", "uint8") and row.get("edgetpu_ready")
    ):
        return "excluded: not fully integer with integer I/O (Edge TPU)"
    if target == "gpu" and row.get("gpu_compatible") is not True:
        return "excluded: not GPU compatible"
    if target == "mcu" and row.get("mcu_ready") is not True:
        return "excluded: does not run under TFLite Micro"
    ram, size = row.get("ram_bytes"), row.get("size_bytes")
    if ram_kb is not None and ram is not None and ram > ram_kb * 1024:
        return f"excluded: needs {ram / 1024:,.1f} KB RAM, over --ram-kb {ram_kb:g}"
    if flash_kb is not None and size is not None and size > flash_kb * 1024:
        return f"excluded: {size / 1024:,.1f} KB of flash, over --flash-kb {flash_kb:g}"
    return None


def goal_value(row: dict[str, Any], goal: str) -> float:
    value = row.get(GOALS[goal])
    return float("inf") if value is None or value != value else float(value)


def drop_of(row: dict[str, Any]) -> float:
    drop = metric_drop(row) if row.get("status") == "ok" else None
    return float("inf") if drop is None else drop


def judge(rows: list[dict[str, Any]], goal: str, max_drop: float) -> int | None:
    """Fill each measured row's ``verdict`` (kept, dominated, over budget); the pick's index.

    Rows that already have a verdict (excluded, not run) keep it. The front is goal
    against metric drop among the rows within ``max_drop``; the pick is the front's
    smallest goal (then the smallest drop).
    """
    open_ = [i for i, r in enumerate(rows) if r.get("verdict") is None]
    within = []
    for i in open_:
        if drop_of(rows[i]) <= max_drop:
            within.append(i)
        else:
            rows[i]["verdict"] = "over budget"
    mask = pareto_mask(
        [goal_value(rows[i], goal) for i in within], [-drop_of(rows[i]) for i in within]
    )
    for i, kept in zip(within, mask):
        rows[i]["verdict"] = "kept" if kept else "dominated"
    if not within:
        return None
    return min(within, key=lambda i: (goal_value(rows[i], goal), drop_of(rows[i]), i))


def best_so_far(rows: list[dict[str, Any]], goal: str, max_drop: float) -> str:
    """The label of the smallest candidate within ``max_drop`` so far (or "none")."""
    best = best_within(rows, goal, max_drop)
    return "none" if best is None else best["candidate"]


def _floor_share(c: Candidate, goal: str) -> float:
    """What a training candidate's best variant can reach on ``goal``, at least, as a share
    of post-training int8's value: QAT and clustering leave the file int8-sized, stored
    sparse keeps at least the non-zeros, k clusters compress to about log2(k) bits."""
    import math

    if goal == "latency":
        return 0.8  # room for the timing's noise
    base = c.after or c.label
    count = float(base.split()[1]) if " " in base else None
    share = 0.95
    if base.startswith("prune") and (goal == "gzip" or (goal == "size" and c.call == "prune")):
        share = 1 - float(count)
    if base.startswith("cluster") and goal == "gzip":
        share = math.log2(count) / 8
    return share


def best_within(rows: list[dict[str, Any]], goal: str, max_drop: float) -> dict[str, Any] | None:
    """The row of the smallest ``goal`` within ``max_drop`` so far (not excluded), if any."""
    fine = [
        r for r in rows
        if r.get("status") == "ok" and r.get("verdict") is None and drop_of(r) <= max_drop
    ]  # fmt: skip
    return min(fine, key=lambda r: goal_value(r, goal)) if fine else None


def to_beat(rows: list[dict[str, Any]], goal: str, max_drop: float) -> Beat | None:
    """What a fine-tune's variant must beat to matter, for the goals whose value is known
    before a variant is measured (size and gzip: the file itself)."""
    best = best_within(rows, goal, max_drop) if goal in ("size", "gzip") else None
    return None if best is None else Beat(goal, goal_value(best, goal), best["candidate"])


def cannot_win(c: Candidate, rows: list[dict[str, Any]], goal: str, max_drop: float) -> str | None:
    """Why training candidate ``c`` cannot beat the best row within ``max_drop`` so far."""
    best = best_within(rows, goal, max_drop)
    int8 = next((r for r in rows if r.get("candidate") == "int8"), None)
    if best is None or int8 is None or goal_value(int8, goal) == float("inf"):
        return None
    floor = goal_value(int8, goal) * _floor_share(c, goal)
    if floor < goal_value(best, goal):
        return None
    return (
        f"not run: cannot beat {best['candidate']} ({shown(goal_value(best, goal), goal)}): "
        f"its {goal} is at least about {shown(floor, goal)}"
    )


def shown(value: float, goal: str) -> str:
    """A goal's value in words: ``82,864 bytes``, ``0.0123 ms``."""
    return f"{value:,.3g} ms" if goal == "latency" else f"{value:,.0f} bytes"


def to_continue(
    trained: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]], goal: str, max_drop: float
) -> tuple[list[str], dict[str, str]]:
    """Successive halving: which of the candidates ``trained`` in the last rung (label ->
    its rows) train on, and why the others stop.

    A candidate is promising when a variant of it is over ``max_drop`` but smaller (by
    ``goal``) than the best within it: more training could make it the pick. The better
    half of the promising ones (by their smallest drop) go on.
    """
    fine = [r for r in rows if r.get("status") == "ok" and drop_of(r) <= max_drop]
    best = min((goal_value(r, goal) for r in fine), default=float("inf"))
    promising, why = [], {}
    for label, its in trained.items():
        over = [r for r in its if r.get("status") == "ok" and drop_of(r) > max_drop]
        smaller = [r for r in over if goal_value(r, goal) < best]
        if smaller:
            promising.append((min(drop_of(r) for r in smaller), label))
        elif not any(r.get("status") == "ok" for r in its):
            why[label] = "none of its variants was measured: " + (
                "none can beat the best within max_drop"
                if all(r.get("status") == "skipped" for r in its)
                else "they failed or could not beat the best"
            )
        elif not over:
            why[label] = "every variant is within max_drop"
        else:
            why[label] = "its variants over max_drop are no smaller than the best within it"
    promising.sort()
    keep = [label for _, label in promising[: (len(promising) + 1) // 2]]
    for _, label in promising[len(keep) :]:
        why[label] = "in the worse half of the promising ones"
    return keep, why
