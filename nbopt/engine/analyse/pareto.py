"""Pareto-optimal variants: none other is both at least as small and at least as accurate."""

from __future__ import annotations

from collections.abc import Sequence


def pareto_mask(sizes: Sequence[float], scores: Sequence[float]) -> list[bool]:
    """For each point, whether no other point dominates it (smaller size, higher score).

    A point is dominated when another is no larger *and* no less accurate, and strictly
    better in one of the two. Equal points are both kept.
    """
    points = list(zip(sizes, scores))
    out = []
    for i, (s, a) in enumerate(points):
        dominated = any(
            j != i and s2 <= s and a2 >= a and (s2 < s or a2 > a)
            for j, (s2, a2) in enumerate(points)
        )
        out.append(not dominated)
    return out
