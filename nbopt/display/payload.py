"""The JSON payload of a comparison (``application/vnd.nbopt.comparison+json``).

Version 2 carries what the presentation layer computed, so that the JupyterLab extension
draws it and computes nothing: the table's headings and formatted cells in the order shown
(:mod:`~nbopt.display.table`), its notes, errors and call-outs, the metric's direction, and
each chart's layout with its Pareto front (:mod:`~nbopt.display.chart`). The raw rows stay
in it too, for sorting and for anyone reading the saved notebook. Version-1 payloads (every
column of every row, nothing else) are still read by the extension.
"""

from __future__ import annotations

from typing import Any

import nbopt.display.units as units

from ..engine.store.schema import columns_of, higher_is_better
from .chart import X_LABELS, chart_layout
from .table import Table, build

#: The payload's version: 2 since the table, notes and charts come computed.
VERSION = 2
#: MIME type of the JSON payload that nbopt's JupyterLab extension renders.
COMPARISON_MIME = "application/vnd.nbopt.comparison+json"


def _json_value(v: Any) -> Any:
    if units.missing(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def json_rows(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    """``rows`` as JSON values (NaN as null), each with every one of ``columns``."""
    return [{c: _json_value(r.get(c)) for c in columns} for r in rows]


def caption(name: str, done: bool = True, interrupted: bool = False) -> str:
    """``nbopt: NAME``, with ``(running)`` or ``(interrupted)`` when so."""
    state = " (interrupted)" if interrupted else ("" if done else " (running)")
    return f"nbopt: {name}{state}"


def table_json(t: Table, pending: str = "") -> dict[str, Any]:
    """A table's cells and notes as the payload's ``table``."""
    return {
        "headings": t.headings,
        "keys": t.keys,
        "numeric": t.numeric,
        "labels": [cells[0] for cells in t.body],
        "cells": t.body,
        "statuses": t.statuses,
        "errors": t.errors,
        "notes": t.notes,
        "callouts": t.callouts,
        "pending": pending,
    }


def comparison_payload(
    name: str,
    rows: list[dict[str, Any]],
    done: bool = True,
    *,
    interrupted: bool = False,
    pending: str = "",
) -> dict[str, Any]:
    """The JSON payload of a comparison, NaN as null.

    ``{"version": 2, "name", "done", "interrupted", "caption", "columns", "rows",
    "callouts", "metric", "higher_is_better", "table", "charts"}``: ``table`` holds the
    ``headings``, the ``keys`` (row columns) and ``numeric`` flags of the shown columns,
    each row's ``labels`` and formatted ``cells``, its ``statuses``, the ``errors``,
    ``notes`` and ``callouts`` under it and the ``pending`` step; ``charts`` one layout per
    horizontal axis that has points (size, then RAM), see
    :func:`~nbopt.display.chart.chart_layout`. ``callouts`` are the accuracy drops of
    more than 2 points; ``higher_is_better`` is null when no metric was measured.
    """
    columns = columns_of(rows)
    scored = next((r for r in rows if r.get("metric")), None)
    charts = [chart_layout(rows, x) for x in X_LABELS]
    table = table_json(build(rows), pending)
    return {
        "version": VERSION,
        "name": name,
        "done": done,
        "interrupted": interrupted,
        "caption": f"{caption(name, done, interrupted)} · {units.count(len(rows), 'variant')}",
        "columns": columns,
        "rows": json_rows(rows, columns),
        "callouts": table["callouts"],
        "metric": scored.get("metric") if scored else None,
        "higher_is_better": higher_is_better(scored) if scored else None,
        "table": table,
        "charts": [c for c in charts if c is not None],
    }
