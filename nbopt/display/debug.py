"""The per-layer debug report (``%nbopt debug``): a table, a bar chart of sensitivity as
inline SVG, and the sentences saying what was measured and what to try.

Every value from a model (layer names, op names) is escaped.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import nbopt.display.units as units

from ..engine.store.schema import is_accuracy
from .table import CSS

if TYPE_CHECKING:
    from ..engine.analyse.debug_report import DebugReport

BAR_WIDTH, ROW_HEIGHT, LABEL_WIDTH, VALUE_WIDTH = 320, 18, 120, 70


def _cell(column: str, value: Any, metric: str | None) -> str:
    if units.missing(value):
        return ""
    if column == "suspect":
        return "yes" if value else ""
    if column == "sensitivity":
        return _sensitivity(float(value), metric)
    if column == "metric_alone":
        return units.metric(value, metric)
    if column == "zero_point":
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _sensitivity(value: float, metric: str | None) -> str:
    """A drop of accuracy in points (``87.2 pt``); other measures with three digits."""
    if is_accuracy(metric):
        return f"{value * 100:.1f} pt"
    return f"{value:.3g}"


def bars_svg(report: DebugReport) -> str:
    """A horizontal bar per layer: its sensitivity, suspects in red ("" with no rows)."""
    rows = report.rows
    if not rows:
        return ""
    esc = html.escape
    top = max((r["sensitivity"] for r in rows), default=0.0)
    top = top if top > 0 else 1.0
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = ROW_HEIGHT * len(rows) + 8
    parts = [
        f'<svg class="nbopt-debug-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{esc('sensitivity: ' + report.measure)}</title>",
    ]
    metric = report.metric if report.eval_samples else None
    for i, r in enumerate(rows):
        y = 4 + i * ROW_HEIGHT
        length = max(0.0, r["sensitivity"]) / top * BAR_WIDTH
        color = "#b00020" if r["suspect"] else "#1f77b4"
        value = _sensitivity(r["sensitivity"], metric)
        parts += [
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 12}" text-anchor="end" '
            f'fill="currentColor">{esc(r["layer"])}</text>',
            f'<rect class="nbopt-bar" data-layer="{esc(r["layer"], quote=True)}" '
            f'x="{LABEL_WIDTH}" y="{y + 2}" width="{length:.1f}" height="{ROW_HEIGHT - 4}" '
            f'fill="{color}"><title>{esc(r["layer"] + ": " + value)}</title></rect>',
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 12}" '
            f'fill="currentColor">{esc(value)}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def debug_html(report: DebugReport) -> str:
    """The report as HTML: heading, table, bar chart, and the three sentences."""
    from ..engine.analyse.debug_report import COLUMNS

    esc = html.escape
    metric = report.metric if report.eval_samples else None
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = "".join(
        f'<tr class="{"nbopt-drop" if r["suspect"] else ""}">'
        + "".join(f"<td>{esc(_cell(c, r.get(c), metric))}</td>" for c in COLUMNS)
        + "</tr>"
        for r in report.rows
    )
    notes = [
        _summary(report),
        f"sensitivity: {report.measure}.",
        f"suspect: {report.rule}.",
        f"{len(report.rows)} layers analyzed in {report.seconds:.1f} s "
        f"({report.calib_samples} calibration samples, one calibration).",
    ]
    if report.without_ops:
        notes.append(f"Layers without ops of their own: {', '.join(report.without_ops)}.")
    return (
        f'{CSS}<div class="nbopt-debug"><div><b>{esc(_title(report))}</b></div>'
        # A table wider than its output (the panel's) scrolls instead of being cut off.
        f'<div class="nbopt-scroll"><table class="nbopt-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>{bars_svg(report)}"
        + "".join(f'<div class="nbopt-notes">{esc(n)}</div>' for n in notes if n)
        + f'<div class="nbopt-advice"><b>{esc(report.advice)}</b></div></div>'
    )


def _summary(report: DebugReport) -> str:
    if report.metric is None or report.float_value is None or report.quantized_value is None:
        return ""
    change = units.delta(report.quantized_value - report.float_value, report.metric)
    return (
        f"{report.metric}: float32 {units.metric(report.float_value, report.metric)}, "
        f"{report.scheme} {units.metric(report.quantized_value, report.metric)} ({change})."
    )


def _title(report: DebugReport) -> str:
    return f"nbopt debug: {report.name} ({report.scheme}), layers by sensitivity"


def debug_bundle(report: DebugReport) -> dict[str, Any]:
    """text/plain and text/html of a :class:`~nbopt.engine.analyse.debug_report.DebugReport`."""
    return {"text/plain": repr(report), "text/html": debug_html(report)}
