"""Numbers as a person reads them: KB/MB, µs/ms, %, x times.

The DataFrame keeps raw numbers; these turn one value into the text every view shows.
"""

from __future__ import annotations

import math
from typing import Any

from ..engine.store.schema import BY_NAME, is_accuracy


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 model``, ``2 models``; ``plural`` where adding an s is wrong (``latencies``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def missing(v: Any) -> bool:
    """True for ``None``, NaN and pandas' missing values."""
    if v is None:
        return True
    try:
        return bool(isinstance(v, float) and math.isnan(v)) or str(v) in ("<NA>", "nan")
    except (TypeError, ValueError):
        return False


def _digits(x: float) -> str:
    """Three significant digits at most, one decimal below 100: 5.1, 37.0, 603."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def size(v: Any) -> str:
    """Bytes as ``812 B``, ``603.3 KB`` or ``1.23 MB``."""
    v = float(v)
    if v < 1024:
        return f"{v:.0f} B"
    if v < 1024 * 1024:
        return f"{v / 1024:,.1f} KB"
    return f"{v / 1024 / 1024:,.2f} MB"


def latency(ms: Any) -> str:
    """Milliseconds as ``5.1 µs``, ``370 µs``, ``1.2 ms`` or ``1.25 s``."""
    ms = float(ms)
    if ms < 1:
        return f"{_digits(ms * 1000)} µs"
    if ms < 1000:
        return f"{_digits(ms)} ms"
    return f"{ms / 1000:.2f} s"


def metric(v: Any, name: Any) -> str:
    """An accuracy in % (``93.9%``); any other metric with four significant digits."""
    if is_accuracy(name):
        return f"{float(v) * 100:.1f}%"
    return f"{float(v):.4g}"


def delta(v: Any, name: Any) -> str:
    """A change of the metric: accuracy in points (``-17.1 pt``), others signed."""
    v = float(v)
    if is_accuracy(name):
        points = v * 100
        return f"{points:+.2f} pt" if abs(points) < 0.1 and points else f"{points:+.1f} pt"
    return f"{v:+.4g}"


def ratio(v: Any) -> str:
    """``3.87×``; under 0.1 two significant digits (``0.0023×``), so no ratio reads ``0.00×``."""
    v = float(v)
    return f"{v:.2f}×" if v >= 0.1 or v == 0 else f"{v:.2g}×"


def cell(name: str, v: Any, row: dict[str, Any] | None = None) -> str:
    """Column ``name``'s value ``v`` as text, by the schema's unit ("" if missing)."""
    if missing(v):
        return ""
    col = BY_NAME.get(name)
    unit = col.unit if col else ""
    metric_name = (row or {}).get("metric")
    if unit == "bytes":
        return size(v)
    if unit == "ms":
        return latency(v)
    if unit == "ratio":
        return ratio(v)
    if unit == "share":
        return f"{float(v) * 100:.0f}%"
    if unit == "metric":
        return metric(v, metric_name)
    if unit == "delta":
        return delta(v, metric_name)
    if unit == "count":
        return f"{int(v):,}"
    if unit == "seconds":
        return f"{float(v):.1f} s"
    if unit == "bool":
        return "yes" if v else "no"
    return str(v)
