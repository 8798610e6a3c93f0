"""The chart's axes: values to pixels on a linear or a log scale, and round ticks that fit.

A size axis whose values span a decade or more (RAM from 2 KB to 581 KB) is drawn on a log
scale, so that the small values do not pile up on the axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

#: The largest value over the smallest from which a size axis is drawn on a log scale.
LOG_SPAN = 10.0
#: Character widths in em of DejaVu Sans (the widest of the usual sans-serif faces), by
#: class; any other character counts as 0.64 em.
_NARROW = (0.34, set("'ijlIJ .,·:;/|"))
_THIN = (0.42, set('f-()[]t!r"'))
_WIDE = (1.0, set("mwMW%@"))
_CAPITAL = (0.8, set("ABCDEGHKNOQRUVXYZ+=×<>#&✓✗"))
FONT_SIZE = 11.0


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """The width of ``text`` at ``size`` px, in px, rounded up from DejaVu Sans's metrics."""
    total = 0.0
    for ch in text:
        total += next((w for w, chars in (_NARROW, _THIN, _WIDE, _CAPITAL) if ch in chars), 0.64)
    return total * size


@dataclass
class Scale:
    """Values in ``[lo, hi]`` to pixels in ``[a, b]``; on a log scale if ``log``."""

    lo: float
    hi: float
    a: float
    b: float
    log: bool = False

    def __call__(self, v: float) -> float:
        if self.log:
            share = math.log10(v / self.lo) / math.log10(self.hi / self.lo)
        else:
            share = (v - self.lo) / (self.hi - self.lo)
        return self.a + share * (self.b - self.a)


def size_scale(values: list[float], a: float, b: float) -> Scale:
    """A scale for sizes in bytes: log if they span :data:`LOG_SPAN` or more, else from 0."""
    lo, hi = min(values), max(values)
    if lo > 0 and hi / lo >= LOG_SPAN:
        pad = 10 ** (math.log10(hi / lo) * 0.08)
        return Scale(lo / pad, hi * pad, a, b, log=True)
    return Scale(0.0, hi * 1.08 if hi > 0 else 1.0, a, b)


def value_scale(values: list[float], a: float, b: float, ceiling: float | None = None) -> Scale:
    """A linear scale padded around ``values``, its top at most ``ceiling`` (100%) when the
    values are below it."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 or (abs(hi) * 0.02 or 0.01)
    top = hi + pad
    if ceiling is not None and hi <= ceiling < top:
        top = max(ceiling, hi + pad / 4)
    return Scale(lo - pad, top, a, b)


def _linear_ticks(lo: float, hi: float, n: int) -> list[float]:
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step - 1e-9) * step
    count = int((hi - first) / step + 1e-9) + 1
    return [round(first + i * step, 12) for i in range(count)]


def _log_ticks(lo: float, hi: float, mantissas: tuple[int, ...]) -> list[float]:
    out = []
    for exp in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        out += [m * 10.0**exp for m in mantissas if lo <= m * 10.0**exp <= hi]
    return out


def ticks(
    scale: Scale, unit: float, text: Callable[[float], str], vertical: bool = False
) -> list[tuple[float, str]]:
    """Round ticks of ``scale`` (values divided by ``unit`` are round) as ``(pixel, text)``:
    the most that leave room between their texts (a line's height apart if ``vertical``)."""
    lo, hi = scale.lo / unit, scale.hi / unit
    if hi <= lo:
        return [(scale(scale.lo), text(scale.lo))]
    if scale.log:
        choices = [_log_ticks(lo, hi, m) for m in ((1, 2, 5), (1, 3), (1,))]
    else:
        choices = [_linear_ticks(lo, hi, n) for n in (6, 5, 4, 3, 2)]
    for values in choices:
        at = [(scale(v * unit), text(v * unit)) for v in values]
        room = all(
            abs(p2 - p1) >= (16 if vertical else (text_width(t1) + text_width(t2)) / 2 + 8)
            for (p1, t1), (p2, t2) in zip(at, at[1:])
        )
        if room:
            return at
    return at[:: max(1, len(at) // 2)]
