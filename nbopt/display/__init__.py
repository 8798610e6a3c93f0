"""The presentation layer: comparisons, models, recommendations and inspections as text,
HTML with an inline SVG chart, and nbopt's JSON MIME bundle.

The engine returns data and imports nothing from here; :func:`register` (called at
``%load_ext nbopt``, and when nbopt is imported inside IPython) makes these the IPython
display formatters of the engine's types. Every value from a model or a payload is
escaped: it is shown as text, never interpreted as HTML.

Entry points: :func:`comparison_bundle` (a :class:`~nbopt.Comparison`),
:func:`optimized_bundle` (what ``optimize`` returns),
:func:`rows_bundle` (rows that are still arriving: the live table, the panel),
:func:`model_bundle` (a :class:`~nbopt.TFLiteModel`, shown as its comparison).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from ..engine.store.schema import variant_label
from . import units
from .debug import debug_bundle
from .optimized import optimized_bundle
from .payload import COMPARISON_MIME, caption, comparison_payload
from .svg import chart_svg, layout_svg
from .table import CSS, cells_of, row_label, rows_html, rows_text

if TYPE_CHECKING:
    from ..engine.analyse.compat import Inspection
    from ..engine.analyse.recommend import Recommendation
    from ..engine.model.tflite_model import TFLiteModel
    from ..engine.pipeline.comparison import Comparison

__all__ = [
    "COMPARISON_MIME",
    "cells",
    "chart_svg",
    "comparison_bundle",
    "comparison_html",
    "comparison_payload",
    "comparison_text",
    "debug_bundle",
    "inspection_html",
    "model_bundle",
    "optimized_bundle",
    "recommendation_html",
    "register",
    "rows_bundle",
    "rows_html",
    "row_label",
    "rows_text",
    "variant_label",
]

cells = cells_of


def html_of(
    rows: list[dict[str, Any]], title: str, pending: str = "", svg: str | None = None
) -> str:
    """The table and, once a point exists, the chart (``svg`` if already drawn), as one
    HTML fragment."""
    chart = chart_svg(rows) if svg is None else svg
    return f'<div class="nbopt-comparison">{rows_html(rows, title, pending)}{chart}</div>'


def rows_bundle(
    name: str, rows: list[dict[str, Any]], done: bool = True, **state: Any
) -> dict[str, Any]:
    """text/plain, text/html (table + SVG chart) and the JSON payload of ``rows``; the
    HTML's chart is the payload's size chart, laid out once.

    Takes the arguments of :func:`~nbopt.display.payload.comparison_payload` (``state``: its
    keywords ``interrupted`` and ``pending``) and reads them back from the payload.
    """
    payload = comparison_payload(name, rows, done, **state)
    title = caption(name, done, payload["interrupted"])
    pending = payload["table"]["pending"]
    size = next((c for c in payload["charts"] if c["x"] == "size_bytes"), None)
    return {
        "text/plain": title + "\n" + rows_text(rows),
        "text/html": html_of(rows, title, pending, "" if size is None else layout_svg(size)),
        COMPARISON_MIME: payload,
    }


def comparison_bundle(comparison: Comparison) -> dict[str, Any]:
    """The display of a :class:`~nbopt.Comparison`: what ``%quantize`` shows."""
    return rows_bundle(
        comparison.name, comparison.rows, comparison.done, interrupted=comparison.interrupted
    )


def comparison_html(comparison: Comparison) -> str:
    return comparison_bundle(comparison)["text/html"]


def comparison_text(comparison: Comparison) -> str:
    return comparison_bundle(comparison)["text/plain"]


def model_bundle(model: TFLiteModel) -> dict[str, Any]:
    """A :class:`~nbopt.TFLiteModel` shown as its comparison: its baseline and its variants.

    A model measured by no comparison shows one line (its repr) and its size.
    """
    rows = model.related_rows()
    if not rows:
        text = repr(model)
        return {"text/plain": text, "text/html": f"<div>{html.escape(text)}</div>"}
    done = model.comparison.done if model.comparison is not None else True
    bundle = rows_bundle(model.name, rows, done)
    head = f"{model.variant} of {model.name}: TFLiteModel, {units.size(model.size)}"
    if model.path:
        head += f", saved to {model.path}"
    bundle["text/plain"] = head + "\n" + bundle["text/plain"]
    bundle["text/html"] = f"<div>{html.escape(head)}</div>" + bundle["text/html"]
    return bundle


def trail_html(trail: Any) -> str:
    """A verified recommendation's steps as a table (every value escaped by pandas)."""
    return trail.df.to_html(index=False, na_rep="", escape=True)


def recommendation_html(rec: Recommendation) -> str:
    esc = html.escape
    return "".join(
        [
            f"<div><b>nbopt recommends</b> <code>{esc(rec.choice.label)}</code> "
            f"for {esc(rec.target)}</div><ul>",
            *(f"<li>{esc(r)}</li>" for r in rec.reasons),
            "</ul>",
        ]
    )


def inspection_html(ins: Inspection) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(op)}</td><td>{n}</td><td>{ins.report.float_ops.get(op, 0)}</td></tr>"
        for op, n in ins.report.ops.most_common()
    )
    return (
        f"{CSS}<div><b>{esc(ins.name)}</b> ({esc(ins.scheme)}): "
        f"{esc(units.size(ins.size))}, {ins.report.total_ops} ops</div>"
        '<table class="nbopt-table"><thead><tr><th>op</th><th>count</th><th>float</th>'
        f"</tr></thead><tbody>{rows}</tbody></table><ul>"
        + "".join(f"<li>{esc(line)}</li>" for line in ins.lines())
        + "</ul>"
    )
