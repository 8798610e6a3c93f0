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
#: The short fine-tune of every training candidate in this search.
EPOCHS = 1


@dataclass(frozen=True)
class Candidate:
    """One candidate: its label, the entry point that makes it and that call's options.

    ``call`` is ``quantize``, ``prune``, ``cluster`` or ``float-search`` (int8 with the
    fewest float layers within ``max_drop``); ``trains`` says it needs ``fit``;
    ``integer`` that it makes a fully integer model (int8 I/O when the target asks).
    """

    label: str
    call: str
    options: dict[str, Any] = field(default_factory=dict)
    trains: bool = False
    integer: bool = False


def candidates(target: str, low_bit: tuple[str, ...]) -> list[Candidate]:
    """Every candidate in the order the search tries them: cheap (no training) first."""
    io = {"io": "int8"} if target in ("edgetpu", "mcu") else {}
    out = [
        Candidate("float16", "quantize", {"scheme": "float16"}),
        Candidate("dynamic", "quantize", {"scheme": "dynamic"}),
        Candidate("int8", "quantize", {"scheme": "int8", **io}, integer=True),
        Candidate("int16x8", "quantize", {"scheme": "int16x8"}),
        *(Candidate(s, "quantize", {"scheme": s}) for s in low_bit),
        Candidate("int8 float layers", "float-search", {"scheme": "int8"}),
        Candidate("qat", "quantize", {"aware": True, **io}, trains=True, integer=True),
    ]
    for sparsity in (0.5, 0.8):
        options = {"sparsity": sparsity, "then": "int8", **io}
        out.append(Candidate(f"prune {sparsity:g}+int8", "prune", options, True, True))
    options = {"clusters": 16, "then": "int8", **io}
    out.append(Candidate("cluster 16+int8", "cluster", options, True, True))
    return out


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
    fine = [
        r
        for r in rows
        if r.get("status") == "ok" and r.get("verdict") is None and drop_of(r) <= max_drop
    ]
    if not fine:
        return "none"
    return min(fine, key=lambda r: goal_value(r, goal))["candidate"]
