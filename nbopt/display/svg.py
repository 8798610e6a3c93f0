"""The comparison chart as inline SVG: size (or RAM) against accuracy, latency as circle size.

The same chart as the JupyterLab extension's, drawn in Python so that every front end
that shows ``text/html`` (VS Code, Colab, classic Notebook, nbviewer, GitHub) shows it.
The Pareto front (no other variant both smaller and better) is a dashed line. Every
string is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nbopt.display.units as units

from ..engine.analyse.pareto import pareto_mask
from ..engine.store.schema import higher_is_better, variant_label

WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 44
R_MIN, R_MAX = 4.0, 12.0
#: What the horizontal axis can show: the .tflite size or the RAM it needs at run time.
X_LABELS = {"size_bytes": "size", "ram_bytes": "RAM"}


@dataclass
class Point:
    label: str
    size: float
    value: float
    latency: float | None
    on_front: bool = False


def _axis(rows: list[dict[str, Any]]) -> tuple[str, str, bool]:
    """(column, label, higher is better) of the vertical axis: the metric, else latency."""
    ok = [r for r in rows if r.get("status") == "ok"]
    if any(not units.missing(r.get("accuracy")) for r in ok):
        scored = next((r for r in ok if r.get("metric")), {})
        name = scored.get("metric", "metric")
        higher = higher_is_better(scored)
        return "accuracy", f"{name} ({'higher' if higher else 'lower'} is better)", higher
    return "latency_ms", "latency (lower is better)", False


def chart_points(
    rows: list[dict[str, Any]], x: str = "size_bytes"
) -> tuple[list[Point], str, bool]:
    """The chart's points, its y label, and y's direction.

    Parameters
    ----------
    rows : list of dict
        The comparison's rows; a point is an ok row with a value in ``x`` and on the y axis.
    x : str
        The horizontal axis, ``size_bytes`` or ``ram_bytes``; ``Point.size`` holds it and the
        Pareto front is computed on it.
    """
    column, ylabel, higher = _axis(rows)
    points = []
    for r in rows:
        size, value = r.get(x), r.get(column)
        if r.get("status") == "ok" and not units.missing(size) and not units.missing(value):
            lat = r.get("latency_ms")
            points.append(
                Point(
                    variant_label(r),
                    float(size),
                    float(value),
                    None if units.missing(lat) else float(lat),
                )
            )
    sign = 1.0 if higher else -1.0
    mask = pareto_mask([p.size for p in points], [sign * p.value for p in points])
    for p, front in zip(points, mask):
        p.on_front = front
    return points, ylabel, higher


def _scale(lo: float, hi: float, a: float, b: float) -> Any:
    if hi == lo:
        lo, hi = lo - (abs(lo) * 0.1 or 1), hi + (abs(hi) * 0.1 or 1)
    return lambda v: a + (v - lo) / (hi - lo) * (b - a)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi == lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _ytext(v: float, column: str, rows: list[dict[str, Any]]) -> str:
    if column == "latency_ms":
        return units.latency(v)
    metric = next((r.get("metric") for r in rows if r.get("metric")), None)
    return units.metric(v, metric)


@dataclass
class _Frame:
    """The plotted ranges, padded around the points, and their scales to pixels."""

    x_lo: float
    x_hi: float
    y_lo: float
    y_hi: float
    sx: Callable[[float], float]
    sy: Callable[[float], float]


def _frame(points: list[Point]) -> _Frame:
    xs, ys = [p.size for p in points], [p.value for p in points]
    pad_x = (max(xs) - min(xs)) * 0.08 or max(xs) * 0.1
    pad_y = (max(ys) - min(ys)) * 0.1 or (abs(max(ys)) * 0.02 or 0.01)
    x_lo, x_hi = max(0.0, min(xs) - pad_x), max(xs) + pad_x
    y_lo, y_hi = min(ys) - pad_y, max(ys) + pad_y
    sx = _scale(x_lo, x_hi, LEFT, WIDTH - RIGHT)
    sy = _scale(y_lo, y_hi, HEIGHT - BOTTOM, TOP)
    return _Frame(x_lo, x_hi, y_lo, y_hi, sx, sy)


def _radius(points: list[Point]) -> Callable[[Point], float]:
    """A point's circle radius: from R_MIN to R_MAX with the square root of its latency."""
    lats = [p.latency for p in points if p.latency is not None]
    lat_lo, lat_hi = (min(lats), max(lats)) if lats else (0.0, 0.0)

    def radius(p: Point) -> float:
        if p.latency is None or lat_hi == lat_lo:
            return (R_MIN + R_MAX) / 2
        share = (math.sqrt(p.latency) - math.sqrt(lat_lo)) / (math.sqrt(lat_hi) - math.sqrt(lat_lo))
        return R_MIN + share * (R_MAX - R_MIN)

    return radius


def _header(xname: str, ylabel: str) -> list[str]:
    """The opening ``<svg>`` tag, the chart's title and its two axis lines."""
    return [
        f'<svg class="nbopt-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(xname + ' against ' + ylabel + '; circle size: latency')}</title>",
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}"'
        ' stroke="currentColor" stroke-opacity="0.5"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"'
        ' stroke="currentColor" stroke-opacity="0.5"/>',
    ]


def _axis_labels(
    frame: _Frame, xname: str, ylabel: str, column: str, rows: list[dict[str, Any]]
) -> list[str]:
    """The ticks' texts along both axes, then the two axes' names."""
    esc = html.escape
    parts = []
    unit = 1024.0 if frame.x_hi < 1024 * 1024 else 1024.0 * 1024  # round ticks in KB or MB
    for t in (v * unit for v in _ticks(frame.x_lo / unit, frame.x_hi / unit)):
        x = frame.sx(t)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" '
            f'fill="currentColor">{esc(units.size(t))}</text>'
        )
    for t in _ticks(frame.y_lo, frame.y_hi):
        y = frame.sy(t)
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="currentColor">'
            f"{esc(_ytext(t, column, rows))}</text>"
        )
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'fill="currentColor">{xname} (smaller is better)</text>'
    )
    parts.append(
        f'<text transform="translate(12 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle" fill="currentColor">{esc(ylabel)}</text>'
    )
    return parts


def _front_line(points: list[Point], frame: _Frame) -> list[str]:
    """The Pareto front as a dashed line, if it joins two points or more."""
    front = sorted((p for p in points if p.on_front), key=lambda p: p.size)
    if len(front) <= 1:
        return []
    path = " ".join(f"{frame.sx(p.size):.1f},{frame.sy(p.value):.1f}" for p in front)
    return [
        f'<polyline class="nbopt-front" points="{path}" fill="none" stroke="#888" '
        'stroke-dasharray="4 3"/>'
    ]


def _circles(
    points: list[Point], frame: _Frame, prefix: str, column: str, rows: list[dict[str, Any]]
) -> list[str]:
    """A circle per point with its tooltip, and its label above it (nearby labels stacked)."""
    esc = html.escape
    radius = _radius(points)
    parts = []
    placed: list[tuple[float, float]] = []
    for p in points:
        x, y, r = frame.sx(p.size), frame.sy(p.value), radius(p)
        tip = f"{p.label}: {prefix}{units.size(p.size)}, {_ytext(p.value, column, rows)}"
        if p.latency is not None:
            tip += f", latency {units.latency(p.latency)}"
        parts.append(
            f'<circle class="nbopt-point" data-variant="{esc(p.label, quote=True)}" '
            f'cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#1f77b4" fill-opacity="0.6" '
            f'stroke="#1f77b4"><title>{esc(tip)}</title></circle>'
        )
        ly = y - r - 4
        while any(abs(ly - py) < 12 and abs(x - px) < 60 for px, py in placed):
            ly -= 12  # labels of nearby points stack instead of overprinting
        if ly < TOP:  # no room above: below the point
            ly = y + r + 12
        placed.append((x, ly))
        parts.append(
            f'<text x="{x:.1f}" y="{ly:.1f}" text-anchor="middle" fill="currentColor">'
            f"{esc(p.label)}</text>"
        )
    return parts


def chart_svg(rows: list[dict[str, Any]], x: str = "size_bytes") -> str:
    """An SVG chart of ``rows`` ("" if fewer than one point): one circle per ok variant.

    Parameters
    ----------
    rows : list of dict
        The comparison's rows.
    x : str
        The horizontal axis: ``size_bytes`` (the .tflite size) or ``ram_bytes`` (the RAM the
        model needs at run time).
    """
    xname = X_LABELS[x]
    prefix = "" if x == "size_bytes" else f"{xname} "
    points, ylabel, _ = chart_points(rows, x)
    if not points:
        return ""
    column = _axis(rows)[0]
    frame = _frame(points)
    return "".join(
        [
            *_header(xname, ylabel),
            *_axis_labels(frame, xname, ylabel, column, rows),
            *_front_line(points, frame),
            *_circles(points, frame, prefix, column, rows),
            "</svg>",
        ]
    )
