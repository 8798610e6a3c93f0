"""The fewest float layers that keep int8 within a metric budget (``max_drop``).

:func:`search` measures plain int8 and, while its drop exceeds the budget, keeps the next
most sensitive layer (:func:`~nbopt.engine.analyse.sensitivity.rank_layers`) float; each
tried variant is a row.
"""

from __future__ import annotations

from typing import Any

from ...errors import NbOptUsageError
from ..request import Request
from ..store.schema import check_max_drop, metric_drop
from .selective import Session, start_session
from .sensitivity import rank_layers


def _row_drop(row: dict[str, Any]) -> float:
    """The row's metric drop against float32 (inf for a failed row)."""
    drop = metric_drop(row) if row.get("status") == "ok" else None
    return float("inf") if drop is None else drop


def search(model: Any, request: Request, scheme: str = "int8") -> Any:
    """The fewest float layers that keep ``scheme`` within ``max_drop`` of float32.

    Measures plain ``scheme``; while its drop exceeds ``max_drop``, keeps the next most
    sensitive layer (:func:`~nbopt.engine.analyse.sensitivity.analyze`'s ranking) float;
    then tries leaving out each float layer but the last. Every tried variant is a row of
    the returned model's comparison; the chosen one has ``chosen=True``.

    Returns
    -------
    TFLiteModel
        The chosen variant; if no variant meets the budget, the one that loses least
        (its row's ``note`` says to use int16x8 or dynamic).
    """
    max_drop = request.conversion.max_drop
    if request.data.eval is None:
        raise NbOptUsageError("max_drop needs labelled evaluation data: pass --eval x_test,y_test")
    check_max_drop(max_drop)
    session = start_session(model, request, scheme, total=3)
    try:
        order = [r["layer"] for r in rank_layers(session, None)[0]]
        tried = _trail(session, order, float(max_drop))
    finally:
        session.run.finish()
    return _choose(session, tried, float(max_drop))


def _trail(session: Session, order: list[str], budget: float) -> list[tuple[list[str], Any]]:
    """Add float layers in ``order`` until the budget is met, then drop the unneeded ones."""
    tried = []
    floats: list[str] = []
    while True:
        session.run.total = len(session.run.comparison.rows) + 1
        variant = session.add(list(floats))
        tried.append((list(floats), variant))
        if _row_drop(session.run.comparison.rows[-1]) <= budget or len(floats) == len(order):
            break
        floats.append(order[len(floats)])
    if _row_drop(session.run.comparison.rows[-1]) > budget:
        return tried
    for layer in floats[:-1]:  # a layer added early may not be needed once later ones are float
        fewer = [f for f in floats if f != layer]
        session.run.total = len(session.run.comparison.rows) + 1
        variant = session.add(fewer)
        tried.append((fewer, variant))
        if _row_drop(session.run.comparison.rows[-1]) <= budget:
            floats = fewer
    return tried


def _choose(session: Session, tried: list[tuple[list[str], Any]], budget: float) -> Any:
    """Mark the chosen row: fewest float layers within the budget, else the smallest drop."""
    from ...errors import ConversionError

    measured = [(f, v) for f, v in tried if v is not None]
    if not measured:
        raise ConversionError(f"{session.run.comparison.name}: every variant failed")
    ok = [(f, v) for f, v in measured if _row_drop(v.row) <= budget]
    floats, chosen = (
        min(ok, key=lambda fv: (len(fv[0]), _row_drop(fv[1].row)))
        if ok
        else min(measured, key=lambda fv: _row_drop(fv[1].row))
    )
    for _, v in measured:
        v.row["chosen"] = v is chosen
    kept = f"{', '.join(floats)} float" if floats else "no layer float"
    if ok:
        chosen.row["note"] = f"chosen: {kept}, within max_drop {budget:g}"
    else:
        chosen.row["note"] = (
            f"no variant is within max_drop {budget:g}, even with every layer float; "
            "use --scheme int16x8 or dynamic"
        )
    return chosen
