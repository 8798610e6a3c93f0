"""The comparison table, as fixed-width text and as HTML, with its notes below it.

Every value from a model or a payload (names, errors, paths, notes) is escaped: it is
shown as text, never interpreted as HTML.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import nbopt.display.units as units

from ..engine.store.schema import is_drop, label, variant_label

#: Columns of the compact table (each shown when some row has it). RAM is the arena a
#: model needs at run time; its weights are left out, being nearly its size.
BASE_COLUMNS = (
    "size_bytes",
    "size_ratio",
    "gzip_bytes",
    "ram_bytes",
    "latency_ms",
    "latency_p90_ms",
    "speedup",
    "accuracy",
    "accuracy_delta",
)
#: Columns that compare a row with the baseline: blank on the baseline itself.
_AGAINST_BASE = ("size_ratio", "speedup", "accuracy_delta")
#: Columns of the training techniques.
OPTIONAL_COLUMNS = ("sparsity", "max_distinct_values")

CSS = (
    "<style>.nbopt-table td,.nbopt-table th{text-align:right;padding:2px 8px;"
    "white-space:nowrap}"
    ".nbopt-table td:first-child,.nbopt-table th:first-child{text-align:left}"
    ".nbopt-scroll .nbopt-table{border-collapse:separate;border-spacing:0}"
    ".nbopt-scroll .nbopt-table td:first-child,.nbopt-scroll .nbopt-table th:first-child"
    "{position:sticky;left:0;z-index:1;"
    "background:var(--jp-layout-color0,var(--vscode-editor-background,Canvas))}"
    ".nbopt-failed{color:#b00020}.nbopt-skipped{color:#777}"
    ".nbopt-drop{color:#b00020;font-weight:bold}.nbopt-notes{margin:2px 0}"
    ".nbopt-scroll{overflow-x:auto;max-width:100%}</style>"
)


@dataclass
class Table:
    """The cells of a comparison table and the notes shown under it (all unescaped).

    ``keys`` names the row column each heading shows (``variant`` for the labels,
    ``compatibility`` for the compatibility cells); ``numeric`` says which are numbers.
    """

    headings: list[str]
    body: list[list[str]]
    statuses: list[str]
    keys: list[str] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    callouts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _has(rows: list[dict[str, Any]], name: str) -> bool:
    return any(not units.missing(r.get(name)) for r in rows)


#: Where one compatibility note ends: before the next note of a runtime or of the memory.
_NOTE_SPLIT = re.compile(r"; (?=(?:GPU|Edge TPU|MCU|CPU|RAM): )")


def row_label(row: dict[str, Any]) -> str:
    """The variant's name as every view shows it: its label (``int8``, ``prune+int8``,
    ``int8 float=dense``) and its I/O type where that is not float (``int8 (int8 I/O)``)."""
    return variant_label(row) + io_suffix(row)


def io_suffix(row: dict[str, Any]) -> str:
    """`` (int8 I/O)`` for a row whose inputs and outputs are not float, else ""."""
    io = row.get("io")
    return f" ({io} I/O)" if isinstance(io, str) and io not in ("", "float") else ""


def compat_notes(rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Each row's compatibility as ``GPU ✓ · Edge TPU ✗ [1,2]`` and the numbered notes.

    A note that several rows share is written once, under the table.
    """
    notes: list[str] = []
    refs = []
    for r in rows:
        mine = []
        for note in _NOTE_SPLIT.split(str(r.get("compat_notes") or "")):
            if note:
                if note not in notes:
                    notes.append(note)
                mine.append(str(notes.index(note) + 1))
        marks = []
        for key, name in (("gpu_compatible", "GPU"), ("edgetpu_ready", "Edge TPU")):
            v = r.get(key)
            if not units.missing(v):
                marks.append(f"{name} {'✓' if v else '✗'}")
        text = " · ".join(marks)
        refs.append(f"{text} [{','.join(mine)}]".strip() if mine else text)
    return refs, [f"[{i + 1}] {n}" for i, n in enumerate(notes)]


def callout(row: dict[str, Any], name: str | None = None) -> str:
    """``prune: accuracy fell 17.1 points (92.9% → 75.8%)`` for a drop of more than 2."""
    acc, delta = float(row["accuracy"]), float(row["accuracy_delta"])
    return (
        f"{name or row_label(row)}: accuracy fell {-delta * 100:.1f} points "
        f"({(acc - delta) * 100:.1f}% → {acc * 100:.1f}%), more than 2 points"
    )


def build(rows: list[dict[str, Any]], names: list[str] | None = None) -> Table:
    """The table of ``rows``: variant, status, sizes, latency, metric and compatibility.

    ``names`` are the rows' labels (default: :func:`row_label`), in the first column and
    in the notes under it.
    """
    names = names or [row_label(r) for r in rows]
    shown = [c for c in (*BASE_COLUMNS, *OPTIONAL_COLUMNS) if _has(rows, c)]
    metric = next((r.get("metric") for r in rows if r.get("metric")), None)
    headings = ["variant", "status"] + [
        (metric or "metric") if c == "accuracy" else label(c) for c in shown
    ]
    compat, notes = compat_notes(rows)
    with_compat = any(compat)
    keys = ["variant", "status", *shown] + (["compatibility"] if with_compat else [])
    if with_compat:
        headings.append("compatibility")
    body = []
    for r, c, name in zip(rows, compat, names):
        line = [name, str(r.get("status", ""))]
        line += [
            ""
            if r.get("technique") == "baseline" and name in _AGAINST_BASE
            else units.cell(name, r.get(name), r)
            for name in shown
        ]
        body.append(line + ([c] if with_compat else []))
    statuses = [str(r.get("status", "")) for r in rows]
    numeric = [k in shown for k in keys]
    table = Table(headings, body, statuses, keys, numeric, notes=notes)
    for r, name in zip(rows, names):
        if r.get("error"):
            table.errors.append(f"{name}: {r['error']}")
        if r.get("note"):
            table.notes.append(f"{name}: {r['note']}")
        if is_drop(r):
            table.callouts.append(callout(r, name))
    return table


def cells_of(row: dict[str, Any]) -> list[str]:
    """The table's cells for one row, as plain (unescaped) text."""
    return build([row]).body[0]


def rows_text(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of ``rows`` for terminals, with drops, failures and notes below."""
    return table_text(build(rows))


def table_text(t: Table, left: int = 2) -> str:
    """A table as fixed width text, its first ``left`` columns aligned left, the others right."""
    widths = [max([len(h), *(len(b[i]) for b in t.body)]) for i, h in enumerate(t.headings)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    lines = [line(t.headings), *(line(b) for b in t.body)]
    lines += [f"! {c}" for c in t.callouts]
    lines += t.errors + t.notes
    return "\n".join(lines)


def rows_html(rows: list[dict[str, Any]], caption: str = "", pending: str = "") -> str:
    """An HTML table of ``rows``; ``pending`` names the step under way, if any."""
    return table_html(build(rows), rows, caption, pending)


def table_html(t: Table, rows: list[dict[str, Any]], caption: str = "", pending: str = "") -> str:
    """A table of ``rows`` (its cells ``t``) as HTML, with its notes under it."""
    esc = html.escape
    parts = [CSS, '<div class="nbopt-scroll"><table class="nbopt-table">']
    if caption:
        parts.append(f"<caption>{esc(caption)}</caption>")
    parts.append(
        "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in t.headings) + "</tr></thead><tbody>"
    )
    for r, cells, status in zip(rows, t.body, t.statuses):
        title = f' title="{esc(str(r["error"]), quote=True)}"' if r.get("error") else ""
        parts.append(
            f'<tr class="nbopt-{esc(status, quote=True)}"{title}>'
            + "".join(f"<td>{esc(c)}</td>" for c in cells)
            + "</tr>"
        )
    if pending:
        parts.append(f'<tr><td colspan="{len(t.headings)}"><i>{esc(pending)}…</i></td></tr>')
    parts.append("</tbody></table></div>")
    parts += [f'<div class="nbopt-drop">⚠ {esc(c)}</div>' for c in t.callouts]
    if t.errors:
        parts.append("<ul>" + "".join(f"<li>{_bold_head(e)}</li>" for e in t.errors) + "</ul>")
    if t.notes:
        parts.append(
            '<div class="nbopt-notes"><small>'
            + "<br>".join(esc(n) for n in t.notes)
            + "</small></div>"
        )
    return "".join(parts)


def _bold_head(text: str) -> str:
    head, _, rest = text.partition(": ")
    return f"<b>{html.escape(head)}</b>: {html.escape(rest)}"
