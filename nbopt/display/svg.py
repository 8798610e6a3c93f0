"""The comparison chart as inline SVG, drawn from :func:`~nbopt.display.chart.chart_layout`.

The same chart as the JupyterLab extension's (it draws the same layout from the payload),
here for every front end that shows ``text/html`` (VS Code, Colab, classic Notebook,
nbviewer, GitHub). Styles are presentation attributes, not CSS, so that sanitizers that
drop ``<style>`` keep them; hovering a marker or a label shows its tooltip (``<title>``).
Every string is escaped.
"""

from __future__ import annotations

import html
from typing import Any

from .chart import X_LABELS, Item, chart_layout

__all__ = ["X_LABELS", "chart_svg", "layout_svg"]

#: Presentation attributes by class, applied in this order (later ones win).
_STYLES = (
    ("nbopt-axis", {"stroke": "currentColor", "stroke-opacity": "0.5"}),
    ("nbopt-leader", {"stroke": "currentColor", "stroke-opacity": "0.6"}),
    ("nbopt-front-line", {"fill": "none", "stroke": "#888", "stroke-dasharray": "4 3"}),
    ("nbopt-point", {"fill": "#1f77b4", "fill-opacity": "0.25", "stroke": "#1f77b4"}),
    ("nbopt-pareto", {"fill-opacity": "0.7", "stroke": "#0b4f80"}),
    ("nbopt-group", {"stroke-width": "2"}),
    ("nbopt-over", {"fill": "#d62728", "stroke": "#a01c1c"}),
    ("nbopt-excluded", {"fill": "#999", "fill-opacity": "0.15", "stroke": "#777"}),
    ("nbopt-excluded", {"stroke-dasharray": "2 2"}),
    ("nbopt-pick", {"fill": "none", "stroke": "#e07b00", "stroke-width": "2.5"}),
    ("nbopt-pick", {"pointer-events": "none"}),
    ("nbopt-limit", {"stroke": "#d62728", "stroke-opacity": "0.7", "stroke-dasharray": "6 3"}),
    ("nbopt-count", {"font-weight": "bold", "pointer-events": "none"}),
)


def _number(v: Any) -> str:
    return f"{float(v):.1f}".removesuffix(".0")


def _attrs(item: Item) -> str:
    esc = html.escape
    classes = item["cls"].split()
    out = {"class": item["cls"]}
    for cls, style in _STYLES:
        if cls in classes:
            out.update(style)
    if item["el"] == "text":
        out["fill"] = "currentColor"
        out["text-anchor"] = item.get("anchor", "start")
        if "rotate" in item:
            out["transform"] = f"rotate({item['rotate']} {_number(item['x'])} {_number(item['y'])})"
    if "rows" in item:
        out["data-rows"] = " ".join(str(r) for r in item["rows"])
    for key in ("x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r"):
        if key in item:
            out[key] = _number(item[key])
    if "points" in item:
        out["points"] = " ".join(f"{_number(x)},{_number(y)}" for x, y in item["points"])
    return " ".join(f'{k}="{esc(str(v), quote=True)}"' for k, v in out.items())


def _element(item: Item) -> str:
    """One drawing item as an SVG element, its tooltip as a ``<title>`` child."""
    inner = f"<title>{html.escape(item['tip'])}</title>" if item.get("tip") else ""
    if item["el"] == "text":
        inner += html.escape(item["text"])
    return f"<{item['el']} {_attrs(item)}>{inner}</{item['el']}>"


def layout_svg(layout: dict[str, Any]) -> str:
    """A chart layout (:func:`~nbopt.display.chart.chart_layout`) as an ``<svg>`` element."""
    w, h = layout["width"], layout["height"]
    return "".join(
        [
            f'<svg class="nbopt-chart" xmlns="http://www.w3.org/2000/svg" width="{w}" '
            f'height="{h}" viewBox="0 0 {w} {h}" role="img" font-family="sans-serif" '
            'font-size="11">',
            f"<title>{html.escape(layout['title'])}</title>",
            *(_element(item) for item in layout["items"]),
            "</svg>",
        ]
    )


def chart_svg(rows: list[dict[str, Any]], x: str = "size_bytes") -> str:
    """An SVG chart of ``rows`` ("" if no variant has a point): one marker per ok variant,
    or per group of variants that overlap.

    Parameters
    ----------
    rows : list of dict
        The comparison's rows.
    x : str
        The horizontal axis: ``size_bytes`` (the .tflite size) or ``ram_bytes`` (the RAM the
        model needs at run time).
    """
    layout = chart_layout(rows, x)
    return "" if layout is None else layout_svg(layout)
