"""What ``optimize`` shows at the end of a search (:class:`~nbopt.api.optimized.Optimized`).

The pick (its candidate, the one sentence of why, the magic line that reproduces it), the
table of every candidate with its ``verdict`` in a column of its own (``status`` keeps its
meaning: ok, failed, skipped), and the front of the goal against the metric: the comparison
chart's layout (:mod:`~nbopt.display.chart`) with every measured candidate, the kept ones as
the front, the dominated, over-budget and excluded ones drawn apart, the pick ringed and the
max-drop line across. As text, HTML with the chart as inline SVG, and the
``application/vnd.nbopt.comparison+json`` payload (version 2, with a ``pick``) that the
JupyterLab extension draws.
"""

from __future__ import annotations

import html
from typing import Any

import nbopt.display.units as units

from ..engine.analyse.search import GOALS
from ..engine.store.schema import columns_of, higher_is_better
from .chart import Marks, chart_layout
from .payload import COMPARISON_MIME, VERSION, json_rows, table_json
from .svg import layout_svg
from .table import CSS, Table, build, io_suffix, row_label, table_html, table_text

#: How a verdict is drawn (the class after ``nbopt-point``) and named in the legend.
_LEGEND = (
    ("kept", "nbopt-pareto", "kept (front)"),
    ("dominated", "", "dominated"),
    ("over budget", "nbopt-over", "over budget"),
    ("excluded", "nbopt-excluded", "excluded"),
)


#: The verdict column (the third) reads as text: aligned left.
_CSS = (
    "<style>.nbopt-candidates .nbopt-table td:nth-child(3),"
    ".nbopt-candidates .nbopt-table th:nth-child(3){text-align:left}"
    ".nbopt-pick pre{margin:4px 0 8px}</style>"
)


def _kind(verdict: str) -> str:
    """``kept``, ``dominated``, ``over budget`` or ``excluded`` (``excluded: why``)."""
    return verdict.split(":", 1)[0]


def labels(result: Any) -> list[str]:
    """Each candidate's label, with its I/O type where that is not float (``int8 (int8 I/O)``)."""
    return [
        f"{r['candidate']}{io_suffix(r)}" if r.get("candidate") else row_label(r)
        for r in result.rows
    ]


def _limit(result: Any) -> tuple[float, str] | None:
    """The metric's value at ``max_drop`` (from the float32 model's on the validation data)."""
    for r in result.rows:
        value, delta = r.get("accuracy"), r.get("accuracy_delta")
        if r.get("status") == "ok" and not units.missing(value) and not units.missing(delta):
            base = float(value) - float(delta)
            at = base - result.max_drop if higher_is_better(r) else base + result.max_drop
            shown = units.cell("accuracy", base, r)
            return at, f"max drop {result.max_drop:g} from float32's {shown}"
    return None


def front_marks(result: Any) -> Marks:
    """The search's chart marks: the kept rows as the front, every verdict drawn and named."""
    verdicts = [str(r.get("verdict") or "") for r in result.rows]
    kinds = {_kind(v) for i, v in enumerate(verdicts) if result.rows[i].get("status") == "ok"}
    legend = [(f"nbopt-point {cls}".strip(), text) for kind, cls, text in _LEGEND if kind in kinds]
    if result.index is not None:
        legend.append(("nbopt-pick", "pick"))
    return Marks(
        labels=dict(enumerate(labels(result))),
        front={i for i, v in enumerate(verdicts) if v == "kept"},
        kinds={i: cls for i, v in enumerate(verdicts) for k, cls, _ in _LEGEND if k == _kind(v)},
        legend=legend,
        notes={i: v + (", the pick" if i == result.index else "") for i, v in enumerate(verdicts)},
        pick=result.index,
        limit=_limit(result),
    )


def front_layout(result: Any) -> dict[str, Any] | None:
    """The chart of the search's goal against the metric (None if nothing was measured)."""
    return chart_layout(result.rows, GOALS[result.goal], front_marks(result))


def candidates_table(result: Any) -> Table:
    """Every candidate: its label, status, verdict, then the comparison's columns.

    A skipped or failed row's note is its verdict's reason: the verdict column shows it;
    a drop is judged against ``max_drop`` there, so the comparison's warnings are left out.
    """
    rows = [_quiet(r) for r in result.rows]
    t = build(rows, labels(result))
    t.headings[0] = "candidate"
    t.callouts = []  # the comparison's 2-point warnings: the verdict holds the budget's own
    for at, value in ((t.headings, "verdict"), (t.keys, "verdict"), (t.numeric, False)):
        at.insert(2, value)
    for cells, r in zip(t.body, rows):
        cells.insert(2, str(r.get("verdict") or ""))
    return t


def _quiet(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the candidates' table shows it: a skipped row's reason is its verdict, so
    neither its note nor its error is listed under the table again."""
    if row.get("status") == "ok":
        return row
    if row.get("status") == "skipped":
        return {**row, "note": None, "error": None}
    return {**row, "note": None}


def caption(result: Any) -> str:
    """``nbopt optimize: digits_cnn · size within max drop 0.01 · 12 candidates, 9 measured``."""
    measured = sum(1 for r in result.rows if r.get("status") != "skipped")
    return (
        f"nbopt optimize: {result.names['model']} · {result.goal} within max drop "
        f"{result.max_drop:g} · {units.count(len(result.rows), 'candidate')}, {measured} measured"
    )


def pick_json(result: Any) -> dict[str, Any]:
    """``{"label", "reason", "line", "trail"}``: the pick (label and line null if there is
    none) and the search's decisions."""
    label = labels(result)[result.index] if result.index is not None else None
    trail = list(result.trail)
    return {"label": label, "reason": result.reason, "line": result.line, "trail": trail}


def optimized_payload(result: Any) -> dict[str, Any]:
    """The JSON payload: a comparison's (version 2) with the candidates' table, the goal's
    chart only and ``pick``."""
    rows, t = result.rows, candidates_table(result)
    columns = columns_of(rows)
    scored = next((r for r in rows if r.get("metric")), None)
    layout = front_layout(result)
    return {
        "version": VERSION,
        "name": result.names["model"],
        "done": True,
        "interrupted": False,
        "caption": caption(result),
        "columns": columns,
        "rows": json_rows(rows, columns),
        "callouts": t.callouts,
        "metric": scored.get("metric") if scored else None,
        "higher_is_better": higher_is_better(scored) if scored else None,
        "table": table_json(t),
        "charts": [] if layout is None else [layout],
        "pick": pick_json(result),
    }


def pick_text(result: Any) -> str:
    pick = pick_json(result)
    head = f"pick: {pick['label']}\n{pick['line']}\n" if pick["label"] else ""
    trail = "".join(f"\n  {step}" for step in pick["trail"])
    return head + pick["reason"] + (f"\nsearch:{trail}" if trail else "")


def pick_html(result: Any) -> str:
    """The pick, its reason and its magic line (every value escaped)."""
    pick, esc = pick_json(result), html.escape
    head = f"<b>pick: {esc(pick['label'])}</b>. " if pick["label"] else "<b>no pick</b>. "
    line = f"<pre><code>{esc(pick['line'])}</code></pre>" if pick["line"] else ""
    steps = "".join(f"<li>{esc(step)}</li>" for step in pick["trail"])
    trail = f'<ul class="nbopt-trail">{steps}</ul>' if steps else ""
    return f'<div class="nbopt-pick">{head}{esc(pick["reason"])}{line}{trail}</div>'


def optimized_bundle(result: Any) -> dict[str, Any]:
    """text/plain, text/html (pick, table, inline SVG chart) and the JSON payload."""
    payload = optimized_payload(result)
    t = candidates_table(result)
    title = payload["caption"]
    svg = "".join(layout_svg(c) for c in payload["charts"])
    body = f'<div class="nbopt-candidates">{table_html(t, result.rows, title)}</div>'
    return {
        "text/plain": f"{title}\n{pick_text(result)}\n\n{table_text(t, left=3)}",
        "text/html": f'{CSS}{_CSS}<div class="nbopt-comparison">{pick_html(result)}{body}'
        f"{svg}</div>",
        COMPARISON_MIME: payload,
    }
