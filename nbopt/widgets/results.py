"""The last run of the panel as nbopt shows results: one comparison, its Pareto front; a
search's outcome in an ``Output`` widget."""

from __future__ import annotations

from typing import Any

from ..engine.analyse.pareto import pareto_mask
from ..engine.pipeline.comparison import Comparison
from ..engine.store.schema import higher_is_better
from .state import PanelState, variant_name


def as_comparison(name: str, state: PanelState, models: dict[str, Any]) -> Comparison:
    """``state``'s rows and ``models`` as one comparison, as nbopt displays them."""
    c = Comparison(name)
    c.rows = list(state.rows)
    c.models = dict(models)
    c.done = not state.running
    c.interrupted = state.state == "cancelled"
    return c


def pareto_variants(rows: list[dict[str, Any]]) -> list[str]:
    """The variants no other beats on both size and metric (in the metric's direction)."""
    shown = [
        r
        for r in rows
        if r.get("status") == "ok"
        and r.get("size_bytes") is not None
        and r.get("accuracy") is not None
    ]
    lower = not higher_is_better(shown[0]) if shown else False
    scores = [-float(r["accuracy"]) if lower else float(r["accuracy"]) for r in shown]
    mask = pareto_mask([float(r["size_bytes"]) for r in shown], scores)
    return [variant_name(r) for r, m in zip(shown, mask) if m]


def optimized_output(result: Any, out: Any = None) -> Any:
    """An ``Output`` widget (``out``, e.g. a panel's ``live``, or a new one) showing what
    :func:`nbopt.optimize` returned as a notebook does: the pick, every candidate with its
    verdict, the front of the goal against the metric."""
    import ipywidgets as widgets

    from ..display import optimized_bundle

    out = widgets.Output(layout={"width": "100%"}) if out is None else out
    out.outputs = (
        {"output_type": "display_data", "data": optimized_bundle(result), "metadata": {}},
    )
    return out
