"""The comparison chart's layout: size (or RAM) against the metric, latency as circle size.

Computed once, here, as a list of drawing items (lines, circles, texts in SVG user units);
:mod:`~nbopt.display.svg` writes them as inline SVG for ``text/html``, and the JupyterLab
extension draws the same items from the JSON payload. What makes every variant findable
is decided here:

- points whose markers would overlap at the drawn scale are one marker, with a count, whose
  tooltip names every variant in it;
- each marker's labels (one line per variant) go where they cover no other label or
  marker, with a leader line to the marker when they are not beside it;
- a size axis spanning a decade or more is a log axis (:mod:`~nbopt.display.scales`).

A search's chart (:mod:`~nbopt.display.optimized`) is the same layout with :class:`Marks`:
its front is given (the rows the search kept), not computed, and its points say their verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nbopt.display.units as units

from ..engine.analyse.pareto import pareto_mask
from ..engine.store.schema import higher_is_better, is_accuracy
from .frame import (
    AXES,
    BOTTOM,
    HEIGHT,
    LEFT,
    LINE,
    R_GROUP,
    R_MAX,
    R_MIN,
    RIGHT,
    TOP,
    WIDTH,
    X_LABELS,
    Item,
    axes,
    legend,
    limit_items,
    text_item,
    y_text,
)
from .labels import Box, along, place
from .scales import Scale, size_scale, text_width, value_scale
from .table import row_label

__all__ = ["AXES", "BOTTOM", "HEIGHT", "LEFT", "RIGHT", "TOP", "WIDTH", "X_LABELS", "Item"]
__all__ += ["LEGEND", "Marks", "chart_layout", "chart_points", "group", "y_axis"]


@dataclass
class Marks:
    """What a search's chart adds to a comparison's.

    ``labels``: a row's label (by row index); ``front``: the rows on the front (given, not
    computed from the axes); ``kinds``: the class of a row drawn otherwise than as dominated
    (``nbopt-over``, ``nbopt-excluded``), ``legend`` the legend's markers as ``(class,
    text)``; ``notes``: what a row's tooltip ends with (its verdict); ``pick``: the row
    ringed as the pick; ``limit``: the metric's value at ``max_drop`` and its text, drawn
    as a horizontal line.
    """

    labels: dict[int, str] = field(default_factory=dict)
    front: set[int] = field(default_factory=set)
    kinds: dict[int, str] = field(default_factory=dict)
    legend: list[tuple[str, str]] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)
    pick: int | None = None
    limit: tuple[float, str] | None = None


#: How far the pick's ring is outside its marker.
RING = 4.0
#: The legend of a comparison's chart.
LEGEND = [("nbopt-point nbopt-pareto", "Pareto front"), ("nbopt-point", "dominated")]


@dataclass
class Point:
    """One ok variant on the chart: its row's index, label, values and tooltip."""

    row: int
    label: str
    size: float
    value: float
    latency: float | None
    on_front: bool = False
    tip: str = ""


@dataclass
class Marker:
    """What is drawn: one circle for one point, or for several that overlap."""

    points: list[Point]
    x: float
    y: float
    r: float

    @property
    def on_front(self) -> bool:
        return any(p.on_front for p in self.points)

    @property
    def rows(self) -> list[int]:
        return [p.row for p in self.points]


def y_axis(rows: list[dict[str, Any]]) -> tuple[str, str, bool]:
    """(column, label, higher is better) of the vertical axis: the metric, else latency."""
    ok = [r for r in rows if r.get("status") == "ok"]
    if any(not units.missing(r.get("accuracy")) for r in ok):
        scored = next((r for r in ok if r.get("metric")), {})
        name = scored.get("metric", "metric")
        higher = higher_is_better(scored)
        return "accuracy", f"{name} ({'higher' if higher else 'lower'} is better)", higher
    return "latency_ms", "latency (lower is better)", False


def _tip(row: dict[str, Any], label: str, x: str, column: str, end: str) -> str:
    """``int8: 158.8 KB (3.80× smaller), accuracy 96.1% (+0.0 pt), latency 3.5 µs``; on
    another axis ``int8: RAM 2.2 KB, size 158.8 KB (…), …``; then `` (end)`` if any
    (``Pareto front``, a verdict)."""
    base = row.get("technique") == "baseline"
    size = units.cell("size_bytes", row.get("size_bytes"))
    ratio = units.cell("size_ratio", row.get("size_ratio"))
    if size and ratio and not base and ratio != "1.00×":
        size += f" ({ratio} smaller)"
    if x != "size_bytes":
        parts = [f"{label}: {AXES[x]} {units.cell(x, row.get(x))}"]
        parts += [f"size {size}"] if size else []
    else:
        parts = [f"{label}: {size}"]
    if column == "accuracy":
        delta = "" if base else units.cell("accuracy_delta", row.get("accuracy_delta"), row)
        value = units.cell("accuracy", row.get("accuracy"), row)
        parts.append(f"{row.get('metric') or 'metric'} {value}" + (f" ({delta})" if delta else ""))
    latency = row.get("latency_ms")
    if x != "latency_ms":
        missing = units.missing(latency)
        parts.append("latency not measured" if missing else f"latency {units.latency(latency)}")
    return ", ".join(parts) + (f" ({end})" if end else "")


def chart_points(
    rows: list[dict[str, Any]], x: str = "size_bytes", marks: Marks | None = None
) -> tuple[list[Point], str, bool]:
    """The chart's points (ok rows with a value on both axes), its y label and direction.

    The Pareto front is computed on ``x`` (a column of :data:`AXES`), or given by ``marks``.
    """
    column, ylabel, higher = y_axis(rows)
    labels = marks.labels if marks else {}
    points = []
    for i, r in enumerate(rows):
        size, value = r.get(x), r.get(column)
        if r.get("status") == "ok" and not units.missing(size) and not units.missing(value):
            lat = r.get("latency_ms")
            latency = None if units.missing(lat) else float(lat)
            label = labels.get(i) or row_label(r)
            points.append(Point(i, label, float(size), float(value), latency))
    sign = 1.0 if higher else -1.0
    mask = pareto_mask([p.size for p in points], [sign * p.value for p in points])
    for p, front in zip(points, mask):
        p.on_front = p.row in marks.front if marks else front
        end = marks.notes.get(p.row, "") if marks else ("Pareto front" if front else "")
        p.tip = _tip(rows[p.row], p.label, x, column, end)
    return points, ylabel, higher


def _radius(points: list[Point]) -> Callable[[Point], float]:
    """A point's circle radius: from R_MIN to R_MAX with the square root of its latency."""
    lats = [p.latency for p in points if p.latency is not None]
    lo, hi = (min(lats), max(lats)) if lats else (0.0, 0.0)

    def radius(p: Point) -> float:
        if p.latency is None or hi == lo:
            return (R_MIN + R_MAX) / 2
        share = (math.sqrt(p.latency) - math.sqrt(lo)) / (math.sqrt(hi) - math.sqrt(lo))
        return R_MIN + share * (R_MAX - R_MIN)

    return radius


def group(points: list[Point], sx: Scale, sy: Scale, radius: Callable) -> list[Marker]:
    """One marker per point, then markers that overlap merged until none does.

    A merged marker sits at its points' mean position, as large as its largest point (and
    at least :data:`R_GROUP`).
    """
    markers = [Marker([p], sx(p.size), sy(p.value), radius(p)) for p in points]
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(markers):
            b = next(
                (b for b in markers[i + 1 :] if math.hypot(a.x - b.x, a.y - b.y) < a.r + b.r),
                None,
            )
            if b is not None:
                pts = sorted(a.points + b.points, key=lambda p: p.row)
                markers[i] = Marker(
                    pts,
                    sum(sx(p.size) for p in pts) / len(pts),
                    sum(sy(p.value) for p in pts) / len(pts),
                    max(R_GROUP, *(radius(p) for p in pts)),
                )
                markers.remove(b)
                merged = True
                break
    return markers


def _scales(
    points: list[Point], column: str, rows: list[dict[str, Any]], more: list[float]
) -> tuple[Scale, Scale]:
    """The axes' scales; the vertical one also spans the values ``more`` (a limit)."""
    sx = size_scale([p.size for p in points], LEFT, WIDTH - RIGHT)
    percent = column == "accuracy" and any(is_accuracy(rows[p.row].get("metric")) for p in points)
    values = [p.value for p in points] + more
    sy = value_scale(values, HEIGHT - BOTTOM, TOP, 1.0 if percent else None)
    return sx, sy


def _kind(m: Marker, marks: Marks | None) -> str:
    """A marker's class after ``nbopt-point``: the front's, or the kind all its points share."""
    if m.on_front:
        return " nbopt-pareto"
    kinds = {marks.kinds.get(p.row, "") for p in m.points} if marks else {""}
    return f" {kinds.pop()}" if len(kinds) == 1 and "" not in kinds else ""


def _marker_items(markers: list[Marker], marks: Marks | None) -> list[Item]:
    """Each marker's circle (the front's drawn last, on top), a group's count, the pick's
    ring."""
    items: list[Item] = []
    for m in sorted(markers, key=lambda m: m.on_front):
        cls = "nbopt-point" + _kind(m, marks)
        cls += " nbopt-group" if len(m.points) > 1 else ""
        tip = "\n".join(p.tip for p in m.points)
        items.append(
            {"el": "circle", "cls": cls, "cx": m.x, "cy": m.y, "r": m.r, "rows": m.rows, "tip": tip}
        )
        if len(m.points) > 1:
            items.append(text_item(m.x, m.y + 4, str(len(m.points)), "nbopt-count", "middle"))
        if marks and marks.pick in m.rows:
            items.append(
                {"el": "circle", "cls": "nbopt-pick", "cx": m.x, "cy": m.y, "r": m.r + RING}
            )
    return items


def _label_items(
    markers: list[Marker], boxes: list[tuple[Box, str]]
) -> tuple[list[Item], list[Item]]:
    """Leader lines, where a label's box is not beside its marker, and each marker's label
    lines in its box (one per variant, each with its own tooltip)."""
    leaders: list[Item] = []
    labels: list[Item] = []
    for m, (box, align) in zip(markers, boxes):
        qx, qy = min(max(m.x, box.x0), box.x1), min(max(m.y, box.y0), box.y1)
        dist = math.hypot(qx - m.x, qy - m.y)
        if dist > m.r + 5:
            ex, ey = m.x + (qx - m.x) / dist * m.r, m.y + (qy - m.y) / dist * m.r
            leaders.append({"el": "line", "cls": "nbopt-leader", "x1": ex, "y1": ey})
            leaders[-1].update(x2=qx, y2=qy, rows=m.rows)
        x = {"start": box.x0, "middle": (box.x0 + box.x1) / 2, "end": box.x1}[align]
        for k, p in enumerate(m.points):
            y = box.y0 + LINE * (k + 1) - 3
            labels.append(text_item(x, y, p.label, "nbopt-point-label", align))
            labels[-1].update(rows=[p.row], tip=p.tip)
    return leaders, labels


def chart_layout(
    rows: list[dict[str, Any]], x: str = "size_bytes", marks: Marks | None = None
) -> dict[str, Any] | None:
    """The chart of ``rows`` against ``x`` (a column of :data:`AXES`) as drawing items, or
    None if no variant has a point.

    ``{"x", "name", "width", "height", "title", "log", "front_rows", "items"}``:
    ``front_rows`` are the indices of the rows on the Pareto front of ``x`` and the metric
    (or, with ``marks``, its ``front``).
    """
    points, ylabel, _ = chart_points(rows, x, marks)
    if not points:
        return None
    column = y_axis(rows)[0]
    limit = marks.limit if marks else None
    sx, sy = _scales(points, column, rows, [limit[0]] if limit else [])
    markers = group(points, sx, sy, _radius(points))
    markers.sort(key=lambda m: (not m.on_front, m.x, m.y))
    ring = {id(m): RING for m in markers if marks and marks.pick in m.rows}
    reach = [m.r + ring.get(id(m), 0.0) for m in markers]
    taken = [
        Box(m.x - r - 1, m.y - r - 1, m.x + r + 1, m.y + r + 1) for m, r in zip(markers, reach)
    ]
    sizes = [(max(text_width(p.label) for p in m.points), LINE * len(m.points)) for m in markers]
    front = sorted((m for m in markers if m.on_front), key=lambda m: m.x)
    limit_drawn, limit_boxes = limit_items(sy, limit)
    taken += along([(m.x, m.y) for m in front]) + limit_boxes
    bounds = Box(LEFT + 2, TOP - 6, WIDTH - RIGHT, HEIGHT - BOTTOM - 2)
    boxes = place([(m.x, m.y, r) for m, r in zip(markers, reach)], sizes, taken, bounds)
    metric = next((r.get("metric") for r in rows if r.get("metric")), None)
    line = (
        [{"el": "polyline", "cls": "nbopt-front-line", "points": [[m.x, m.y] for m in front]}]
        if len(front) > 1
        else []
    )
    name = AXES[x]
    leaders, labels = _label_items(markers, boxes)
    items = [
        *axes(sx, sy, x, ylabel, y_text(column, metric)),
        *limit_drawn,
        *line,
        *leaders,
        *_marker_items(markers, marks),
        *labels,
        *legend(marks.legend if marks else LEGEND, any(len(m.points) > 1 for m in markers)),
    ]
    return {
        "x": x,
        "name": name,
        "width": WIDTH,
        "height": HEIGHT,
        "title": f"{name} against {ylabel}; circle size: latency",
        "log": sx.log,
        "front_rows": [p.row for p in points if p.on_front],
        "items": [_rounded(item) for item in items],
    }


def _rounded(item: Item) -> Item:
    """``item`` with its coordinates to a tenth of a unit (what both drawers get)."""
    out = {}
    for key, v in item.items():
        if isinstance(v, float):
            v = round(v, 1)
        elif key == "points":
            v = [[round(x, 1), round(y, 1)] for x, y in v]
        out[key] = v
    return out
