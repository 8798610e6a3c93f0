"""HTML and text renderings of comparisons and models.

Every value from a model or a payload (names, errors, paths) is escaped: it is shown as
text, never interpreted as HTML.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine.compare import Comparison
    from .engine.tflite_model import TFLiteModel

#: (column, heading, formatter) of the compact table shown in notebooks and terminals.
_SHOWN = [
    ("scheme", "variant", None),
    ("status", "status", str),
    ("size_bytes", "size", lambda v: _kb(v)),
    ("size_ratio", "smaller", lambda v: f"{v:.2f}x"),
    ("gzip_bytes", "gzip", lambda v: _kb(v)),
    ("latency_ms", "latency ms", lambda v: f"{v:.4g}"),
    ("latency_p90_ms", "p90 ms", lambda v: f"{v:.4g}"),
    ("speedup", "speedup", lambda v: f"{v:.2f}x"),
    ("accuracy", "metric", None),
    ("accuracy_delta", "Δ", None),
]

_CSS = (
    "<style>.nbopt-table td,.nbopt-table th{text-align:right;padding:2px 8px}"
    ".nbopt-table td:first-child,.nbopt-table th:first-child{text-align:left}"
    ".nbopt-failed{color:#b00020}.nbopt-skipped{color:#777}</style>"
)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _kb(v: Any) -> str:
    v = float(v)
    return f"{v / 1024:,.1f} KB" if v < 1024 * 1024 else f"{v / 1024 / 1024:,.2f} MB"


def _metric(row: dict[str, Any], key: str) -> str:
    v = row.get(key)
    if _missing(v):
        return ""
    if row.get("metric") == "accuracy":
        return f"{v:+.2%}" if key == "accuracy_delta" else f"{v:.2%}"
    return f"{v:+.4g}" if key == "accuracy_delta" else f"{v:.4g}"


def variant_label(row: dict[str, Any]) -> str:
    """``int8`` for post-training variants, ``prune``, ``prune+int8``, ``qat`` otherwise."""
    technique = str(row.get("technique") or "")
    scheme = str(row.get("scheme") or "")
    if technique in ("", "baseline", "ptq"):
        return scheme
    if technique == "qat" or scheme == "float32":
        return technique
    return f"{technique}+{scheme}"


def cells(row: dict[str, Any]) -> list[str]:
    """The compact table's cells for one row, as plain (unescaped) text."""
    out = []
    for key, _, fmt in _SHOWN:
        v = row.get(key)
        if key == "scheme":
            out.append(variant_label(row))
        elif fmt is None:
            out.append(_metric(row, key))
        elif _missing(v):
            out.append("")
        else:
            out.append(fmt(v))
    return out


def _headings(rows: list[dict[str, Any]]) -> list[str]:
    metric = next((r.get("metric") for r in rows if r.get("metric")), None)
    return [metric or h if key == "accuracy" else h for key, h, _ in _SHOWN]


def rows_text(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of ``rows`` for terminals, with failures listed below it."""
    head = _headings(rows)
    body = [cells(r) for r in rows]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    lines = [
        "  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))
    ]
    for b in body:
        lines.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(b, widths))
            )
        )
    for r in rows:
        if r.get("error"):
            lines.append(f"{variant_label(r)}: {r['error']}")
    return "\n".join(lines)


def rows_html(rows: list[dict[str, Any]], caption: str = "", pending: str = "") -> str:
    """An HTML table of ``rows``; ``pending`` names the step under way, if any."""
    esc = html.escape
    parts = [_CSS, '<table class="nbopt-table">']
    if caption:
        parts.append(f"<caption>{esc(caption)}</caption>")
    parts.append(
        "<thead><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in _headings(rows))
        + "</tr></thead><tbody>"
    )
    for r in rows:
        status = str(r.get("status", ""))
        title = f' title="{esc(str(r["error"]), quote=True)}"' if r.get("error") else ""
        parts.append(
            f'<tr class="nbopt-{esc(status, quote=True)}"{title}>'
            + "".join(f"<td>{esc(c)}</td>" for c in cells(r))
            + "</tr>"
        )
    if pending:
        parts.append(f'<tr><td colspan="{len(_SHOWN)}"><i>{esc(pending)}…</i></td></tr>')
    parts.append("</tbody></table>")
    errors = [r for r in rows if r.get("error")]
    if errors:
        parts.append(
            "<ul>"
            + "".join(
                f"<li><b>{esc(variant_label(r))}</b>: {esc(str(r['error']))}</li>" for r in errors
            )
            + "</ul>"
        )
    return "".join(parts)


def comparison_caption(comparison: Comparison) -> str:
    state = "" if comparison.done else " (running)"
    if comparison.interrupted:
        state = " (interrupted)"
    return f"nbopt: {comparison.name}{state}"


#: MIME type of the JSON payload that nbopt's JupyterLab extension renders.
COMPARISON_MIME = "application/vnd.nbopt.comparison+json"


def _json_value(v: Any) -> Any:
    if _missing(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def comparison_payload(name: str, rows: list[dict[str, Any]], done: bool = True) -> dict:
    """The JSON payload of a comparison: every column of every row, NaN as null.

    ``{"version": 1, "name": str, "done": bool, "columns": [str], "rows": [{column: value}]}``
    """
    from .engine.results import COLUMNS

    columns = COLUMNS + list(dict.fromkeys(k for r in rows for k in r if k not in COLUMNS))
    return {
        "version": 1,
        "name": name,
        "done": done,
        "columns": columns,
        "rows": [{c: _json_value(r.get(c)) for c in columns} for r in rows],
    }


def comparison_bundle(comparison: Comparison) -> dict[str, Any]:
    """text/plain, text/html and the nbopt JSON payload of a comparison."""
    return {
        "text/plain": comparison_text(comparison),
        "text/html": comparison_html(comparison),
        COMPARISON_MIME: comparison_payload(comparison.name, comparison.rows, comparison.done),
    }


def comparison_html(comparison: Comparison) -> str:
    return rows_html(comparison.rows, comparison_caption(comparison))


def comparison_text(comparison: Comparison) -> str:
    return comparison_caption(comparison) + "\n" + rows_text(comparison.rows)


def _model_rows(model: TFLiteModel) -> list[dict[str, Any]]:
    if model.comparison is not None:
        return [r for r in model.comparison.rows if r.get("scheme") in ("float32", model.scheme)]
    return [model.row] if model.row else []


def tflite_model_html(model: TFLiteModel) -> str:
    esc = html.escape
    head = f"<b>TFLiteModel</b> {esc(model.name)} · {esc(model.scheme)} · {model.size:,} bytes"
    if model.path:
        head += f" · saved to <code>{esc(model.path)}</code>"
    rows = _model_rows(model)
    return f"<div>{head}</div>" + (rows_html(rows) if rows else "")
