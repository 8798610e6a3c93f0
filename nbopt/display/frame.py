"""A chart's frame: its size, axes with their ticks and names, legend and the max-drop line.

Drawing items (:data:`Item`) in SVG user units, for :mod:`~nbopt.display.chart`, which places
the markers and labels inside the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nbopt.display.units as units

from ..engine.store.schema import is_accuracy
from .labels import Box, along
from .scales import Scale, text_width, ticks

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 124, 16, 44
R_MIN, R_MAX = 4.0, 12.0
#: A marker of several variants is at least this large, so that its count fits in it.
R_GROUP = 8.0
#: The height of one line of a label.
LINE = 13.0
#: What the horizontal axis can show: the .tflite size or the RAM it needs at run time.
X_LABELS = {"size_bytes": "size", "ram_bytes": "RAM"}
#: Every column a chart's horizontal axis can be (a search's goal), and its name.
AXES = {**X_LABELS, "gzip_bytes": "gzip size", "latency_ms": "latency"}
#: A drawing item: ``{"el": "line" | "polyline" | "circle" | "text", "cls": ..., ...}``.
Item = dict[str, Any]


def y_text(column: str, metric: Any) -> tuple[float, Callable[[float], str]]:
    """The unit ticks are round in, and a tick's text, on the vertical axis."""
    if column == "latency_ms":
        return 1.0, units.latency
    if is_accuracy(metric):
        return 0.01, lambda v: units.metric(v, metric)
    return 1.0, lambda v: f"{v:.4g}"


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:g}"


def _x_text(x: str, sx: Scale) -> tuple[float, Callable[[float], str], str]:
    """The unit ticks are round in, a tick's text and the unit's name on the horizontal axis."""
    if x == "latency_ms":
        return 1.0, units.latency, ""
    unit, name = (1024.0, "KB") if sx.hi < 1024 * 1024 else (1024.0 * 1024, "MB")
    return unit, lambda v: _num(v / unit), name


def axes(sx: Scale, sy: Scale, x: str, ylabel: str, y_ticks: tuple) -> list[Item]:
    """Both axis lines, their ticks and tick texts, and their names."""
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    unit, x_tick, name = _x_text(x, sx)
    items: list[Item] = [
        {"el": "line", "cls": "nbopt-axis", "x1": LEFT, "y1": bottom, "x2": right, "y2": bottom},
        {"el": "line", "cls": "nbopt-axis", "x1": LEFT, "y1": TOP, "x2": LEFT, "y2": bottom},
    ]
    for at, text in ticks(sx, unit, x_tick):
        items.append({"el": "line", "cls": "nbopt-axis", "x1": at, "y1": bottom, "x2": at})
        items[-1]["y2"] = bottom + 4
        items.append(text_item(at, bottom + 15, text, "nbopt-tick nbopt-tick-x", "middle"))
    for at, text in ticks(sy, y_ticks[0], y_ticks[1], vertical=True):
        items.append({"el": "line", "cls": "nbopt-axis", "x1": LEFT - 4, "y1": at, "x2": LEFT})
        items[-1]["y2"] = at
        items.append(text_item(LEFT - 6, at + 4, text, "nbopt-tick nbopt-tick-y", "end"))
    within = ", ".join(n for n in (name, "log scale" if sx.log else "") if n)
    within = f" ({within})" if within else ""
    better = "lower" if x == "latency_ms" else "smaller"
    title = f"{AXES[x]}{within}, {better} is better"
    items.append(text_item((LEFT + right) / 2, HEIGHT - 6, title, "nbopt-axis-label", "middle"))
    label = text_item(14, (TOP + bottom) / 2, ylabel, "nbopt-axis-label", "middle")
    return items + [{**label, "rotate": -90}]


def text_item(x: float, y: float, text: str, cls: str, anchor: str = "start", **more: Any) -> Item:
    return {"el": "text", "cls": cls, "x": x, "y": y, "text": text, "anchor": anchor, **more}


def legend(entries: list[tuple[str, str]], grouped: bool) -> list[Item]:
    """A marker per entry (Pareto front, dominated), what circle size means and, if drawn,
    what a count means."""
    x, y = WIDTH - RIGHT + 16, TOP + 6
    items: list[Item] = []
    for cls, text in entries:
        items.append({"el": "circle", "cls": cls, "cx": x, "cy": y, "r": 5})
        items.append(text_item(x + 10, y + 4, text, "nbopt-legend"))
        y += 20
    items.append(text_item(x - 5, y + 6, "circle size: latency", "nbopt-legend"))
    if grouped:
        items += [
            {"el": "circle", "cls": "nbopt-point nbopt-group", "cx": x + 3, "cy": y + 30},
            text_item(x + 3, y + 34, "2", "nbopt-count", "middle"),
            text_item(x + 16, y + 28, "variants at", "nbopt-legend"),
            text_item(x + 16, y + 40, "one place", "nbopt-legend"),
        ]
        items[-4]["r"] = R_GROUP
    return items


def limit_items(sy: Scale, limit: tuple[float, str] | None) -> tuple[list[Item], list[Box]]:
    """The max-drop line across the plot and its text at its right end, above it; what
    labels must not cover."""
    if limit is None:
        return [], []
    y, right = sy(limit[0]), WIDTH - RIGHT
    words = text_item(right - 2, y - 3, limit[1], "nbopt-limit-label", "end")
    line = {"el": "line", "cls": "nbopt-limit", "x1": LEFT, "y1": y, "x2": right, "y2": y}
    box = Box(right - 2 - text_width(limit[1]), y - 13, right, y)
    return [line, words], [box, *along([(LEFT, y), (right, y)], step=8.0)]
