"""The results schema: every column of a results row, its dtype, its label and its unit.

One place for what a row holds. The engine fills rows with these names, the DataFrame
takes its column order and dtypes from here, and every view (text, HTML, SVG, the panel,
the JupyterLab extension's payload) takes labels and units from here. Columns that other
code adds and this module does not know are kept, after the known ones, in the order they
first appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """One column: ``dtype`` is the pandas dtype, ``unit`` how views format it.

    Units: ``bytes``, ``ms``, ``ratio`` (x times), ``share`` (0-1, shown in %),
    ``metric`` (the row's metric: % for accuracy), ``delta`` (its change), ``count``,
    ``seconds``, ``bool`` or ``""`` (plain text).
    """

    name: str
    dtype: str
    label: str
    unit: str = ""


SCHEMA: tuple[Column, ...] = (
    Column("model", "object", "model"),
    Column("technique", "object", "technique"),
    Column("scheme", "object", "scheme"),
    Column("status", "object", "status"),
    Column("error", "object", "error"),
    Column("size_bytes", "Int64", "size", "bytes"),
    Column("gzip_bytes", "Int64", "gzip", "bytes"),
    Column("size_ratio", "float64", "smaller", "ratio"),
    Column("gzip_ratio", "float64", "gzip smaller", "ratio"),
    Column("latency_ms", "float64", "latency", "ms"),
    Column("latency_p90_ms", "float64", "p90", "ms"),
    Column("latency_cv", "float64", "latency cv", "share"),
    Column("speedup", "float64", "speedup", "ratio"),
    Column("metric", "object", "metric"),
    Column("higher_is_better", "boolean", "higher is better", "bool"),
    Column("accuracy", "float64", "accuracy", "metric"),
    Column("accuracy_delta", "float64", "Δ", "delta"),
    # Every scored output: {output name: {"metric": str, "value": float, "delta": float}};
    # ``metric`` / ``accuracy`` are those of ``metric_output`` (set when there are several).
    Column("metrics", "object", "metrics"),
    Column("metric_output", "object", "output"),
    Column("sparsity", "float64", "sparsity", "share"),
    # Weights stored sparse in the flatbuffer (DENSIFY ops); on a failed row, that it was
    # asked for. The variant's name says it (``prune sparse``).
    Column("stored_sparse", "boolean", "stored sparse", "bool"),
    Column("max_distinct_values", "Int64", "distinct values", "count"),
    Column("path", "object", "path"),
    Column("gpu_compatible", "boolean", "GPU", "bool"),
    Column("edgetpu_ready", "boolean", "Edge TPU", "bool"),
    Column("compat_notes", "object", "compatibility"),
    Column("needs_flex", "boolean", "Flex", "bool"),
    Column("ram_bytes", "Int64", "RAM", "bytes"),
    Column("ram_method", "object", "RAM method"),
    Column("arena_bytes", "Int64", "arena", "bytes"),
    Column("weights_bytes", "Int64", "weights", "bytes"),
    Column("mcu_ready", "boolean", "MCU", "bool"),
    Column("note", "object", "note"),
    Column("io", "object", "I/O"),
    Column("threads", "Int64", "threads", "count"),
    Column("latency_runs", "Int64", "latency runs", "count"),
    Column("calib_samples", "Int64", "calibration samples", "count"),
    Column("eval_samples", "Int64", "evaluation samples", "count"),
    Column("converter", "object", "converter"),
    Column("convert_seconds", "float64", "convert s", "seconds"),
    Column("cached", "boolean", "cached", "bool"),
    Column("config_key", "object", "configuration"),
    Column("run_id", "object", "run"),
    Column("timestamp", "object", "time"),
)

BY_NAME: dict[str, Column] = {c.name: c for c in SCHEMA}
#: Column order of every results DataFrame, CSV and payload (then unknown columns).
COLUMNS: list[str] = [c.name for c in SCHEMA]
#: Columns kept as JSON text in CSV files (dicts and lists).
JSON_COLUMNS = ("metrics", "distinct_values")

#: ``column: (numerator, denominator)`` with "base" the baseline row: how ratios are made.
RATIOS: dict[str, tuple[str, str]] = {
    "size_ratio": ("base.size_bytes", "size_bytes"),
    "gzip_ratio": ("base.gzip_bytes", "gzip_bytes"),
    "speedup": ("base.latency_ms", "latency_ms"),
}
#: An accuracy drop larger than this (in points of 1.0) is called out in every view.
DROP_CALLOUT = 0.02


def columns_of(rows: list[dict[str, Any]]) -> list[str]:
    """The known columns, then every other key of ``rows`` in first-seen order."""
    known = set(COLUMNS)
    extra = dict.fromkeys(k for r in rows for k in r if k not in known)
    return COLUMNS + list(extra)


def label(name: str) -> str:
    """The heading of column ``name`` (its own name if unknown)."""
    col = BY_NAME.get(name)
    return col.label if col else name


def fill_ratios(row: dict[str, Any], base: dict[str, Any] | None) -> None:
    """``size_ratio``, ``gzip_ratio``, ``speedup`` and ``accuracy_delta`` against ``base``."""
    if not base or base.get("status") != "ok" or row.get("status") != "ok":
        return
    for column, (top, bottom) in RATIOS.items():
        a, b = base.get(top.removeprefix("base.")), row.get(bottom)
        row[column] = float(a) / float(b) if a and b else None
    if row.get("accuracy") is not None and base.get("accuracy") is not None:
        row["accuracy_delta"] = float(row["accuracy"]) - float(base["accuracy"])
    for output, entry in (row.get("metrics") or {}).items():
        reference = (base.get("metrics") or {}).get(output)
        if reference is not None and row is not base:
            entry["delta"] = float(entry["value"]) - float(reference["value"])


def variant_label(row: dict[str, Any]) -> str:
    """``int8`` for post-training variants, ``prune``, ``prune+int8``, ``qat`` otherwise,
    followed by `` sparse`` for weights stored sparse (``prune sparse``).

    A pruned or clustered float model is named by its technique, never ``float32``.
    """
    name, flag = _variant_name(row), row.get("stored_sparse")
    sparse = flag is True or (type(flag).__name__ == "bool_" and bool(flag))
    return f"{name} sparse" if sparse else name


def _variant_name(row: dict[str, Any]) -> str:
    technique = str(row.get("technique") or "")
    scheme = str(row.get("scheme") or "")
    if technique in ("", "baseline", "ptq"):
        floats = row.get("float_layers")  # selective quantization: layers kept float
        return f"{scheme} float={floats}" if isinstance(floats, str) and floats else scheme
    if technique == "qat" or scheme == "float32":
        return technique
    return f"{technique}+{scheme}"


def is_drop(row: dict[str, Any]) -> bool:
    """True if ``row``'s accuracy fell more than :data:`DROP_CALLOUT` below the baseline."""
    delta = row.get("accuracy_delta")
    return (
        is_accuracy(row.get("metric"))
        and isinstance(delta, (int, float))
        and delta == delta  # not NaN
        and delta < -DROP_CALLOUT
    )


def higher_is_better(row: dict[str, Any]) -> bool:
    """Whether a higher metric is better for ``row`` (rows stored before nbopt said so:
    accuracy-like names are)."""
    flag = row.get("higher_is_better")
    if flag is True or flag is False or type(flag).__name__ == "bool_":
        return bool(flag)
    return is_accuracy(row.get("metric"))


def metric_drop(row: dict[str, Any]) -> float | None:
    """How much worse than its baseline ``row``'s metric is, in the metric's own units
    (positive: worse; accuracy that falls, an error that rises), or None."""
    delta = row.get("accuracy_delta")
    if not isinstance(delta, (int, float)) or delta != delta:
        return None
    return -float(delta) if higher_is_better(row) else float(delta)


def is_accuracy(metric: Any) -> bool:
    """True for a metric that is a share of correct answers (shown in %)."""
    return isinstance(metric, str) and "accuracy" in metric


def check_max_drop(max_drop: Any) -> float:
    """``max_drop`` as a float of 0 or more, in the metric's own units (0.01: one point of
    accuracy; for an error rate or MSE, how much it may rise), or a one-line error."""
    from ...errors import NbOptUsageError

    if isinstance(max_drop, bool) or not isinstance(max_drop, (int, float)):
        raise NbOptUsageError(
            f"max_drop must be a number, e.g. 0.01 for one point; got {max_drop!r}"
        )
    if not 0 <= max_drop < float("inf"):
        raise NbOptUsageError(
            f"max_drop must be 0 or more, in the metric's units (0.01: one point); got {max_drop}"
        )
    return float(max_drop)
