"""Where a chart's labels go: beside their marker if there is room, else further out (the
chart then draws a leader line), never over another label or marker while a free place
exists inside the plot."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A rectangle in SVG user units (y grows downwards)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlap(self, other: Box) -> float:
        """The area this box shares with ``other`` (0 if they do not meet)."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return w * h if w > 0 and h > 0 else 0.0

    def inside(self, other: Box) -> bool:
        horizontal = other.x0 <= self.x0 and self.x1 <= other.x1
        return horizontal and other.y0 <= self.y0 and self.y1 <= other.y1


#: Directions tried around a marker, in order: right, left, above, below, then diagonals.
_DIRECTIONS = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (1, 1), (-1, -1), (-1, 1))
#: Gaps tried between a marker's edge and its label, nearest first.
_GAPS = (3.0, 10.0, 20.0, 32.0, 46.0, 62.0, 80.0, 100.0, 124.0, 150.0)


#: How a label's lines align in its box, by the side of the marker it is on.
ALIGN = {1: "start", 0: "middle", -1: "end"}


def _candidates(x: float, y: float, r: float, w: float, h: float) -> Iterator[tuple[Box, str]]:
    """Boxes of size ``w`` x ``h`` around a marker at ``(x, y)`` of radius ``r``, nearest
    first, each with its side (or corner) facing the marker, and how its lines align
    (towards the marker)."""
    for gap in _GAPS:
        for dx, dy in _DIRECTIONS:
            n = math.hypot(dx, dy)
            px, py = x + dx / n * (r + gap), y + dy / n * (r + gap)
            x0 = px if dx > 0 else px - w if dx < 0 else px - w / 2
            y0 = py if dy > 0 else py - h if dy < 0 else py - h / 2
            yield Box(x0, y0, x0 + w, y0 + h), ALIGN[dx]


def place(
    markers: list[tuple[float, float, float]],
    sizes: list[tuple[float, float]],
    taken: list[Box],
    bounds: Box,
) -> list[tuple[Box, str]]:
    """A box for each marker's label, in order, avoiding ``taken`` and each other.

    Parameters
    ----------
    markers : list of (x, y, r)
        The markers, in the order their labels are placed (the first get the nearest places).
    sizes : list of (width, height)
        Each label's size.
    taken : list of Box
        What labels must not cover: the markers, the lines drawn between them.
    bounds : Box
        The plot: labels stay inside it.

    Returns
    -------
    list of (Box, str)
        Each label's box: the nearest free place inside ``bounds``, or, if none is free, the
        place inside ``bounds`` that covers the least; and how its lines align
        (``start``, ``middle`` or ``end``: towards the marker).
    """
    occupied = list(taken)
    out = []
    for (x, y, r), (w, h) in zip(markers, sizes):
        inside = [c for c in _candidates(x, y, r, w, h) if c[0].inside(bounds)]
        if not inside:  # larger than the plot: beside the marker, come what may
            inside = [next(_candidates(x, y, r, w, h))]
        chosen = next(
            (c for c in inside if not any(c[0].overlap(t) for t in occupied)),
            None,
        )
        if chosen is None:
            chosen = min(inside, key=lambda c: sum(c[0].overlap(t) for t in occupied))
        occupied.append(chosen[0])
        out.append(chosen)
    return out


def along(points: list[tuple[float, float]], step: float = 5.0) -> list[Box]:
    """Small boxes every ``step`` units along the line through ``points``: a line as
    something labels avoid."""
    out = []
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        n = max(1, int(math.hypot(x2 - x1, y2 - y1) / step))
        for i in range(n + 1):
            x, y = x1 + (x2 - x1) * i / n, y1 + (y2 - y1) * i / n
            out.append(Box(x - 1.5, y - 1.5, x + 1.5, y + 1.5))
    return out
