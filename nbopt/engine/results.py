"""Every row measured in this process, and the DataFrame form of rows."""

from __future__ import annotations

import threading
from typing import Any

#: Column order of every results DataFrame (DESIGN.md), then the parameters.
COLUMNS = [
    "model",
    "technique",
    "scheme",
    "status",
    "error",
    "size_bytes",
    "gzip_bytes",
    "size_ratio",
    "gzip_ratio",
    "latency_ms",
    "latency_p90_ms",
    "latency_cv",
    "speedup",
    "metric",
    "accuracy",
    "accuracy_delta",
    "path",
    "gpu_compatible",
    "edgetpu_ready",
    "compat_notes",
    "ram_bytes",
    "ram_method",
    "weights_bytes",
    "mcu_ready",
    "io",
    "threads",
    "latency_runs",
    "calib_samples",
    "eval_samples",
    "converter",
    "convert_seconds",
    "run_id",
    "timestamp",
]

_rows: list[dict[str, Any]] = []
_lock = threading.Lock()


def record(row: dict[str, Any]) -> None:
    """Add a measured row (the dict itself, so later updates such as ``path`` show)."""
    with _lock:
        _rows.append(row)


def rows() -> list[dict[str, Any]]:
    with _lock:
        return list(_rows)


def clear() -> int:
    """Forget every row; returns how many there were."""
    with _lock:
        n = len(_rows)
        _rows.clear()
        return n


def frame(rows_: list[dict[str, Any]]) -> Any:
    """Rows as a DataFrame with the standard columns first, numbers as numbers."""
    import pandas as pd

    extra = [k for r in rows_ for k in r if k not in COLUMNS]
    columns = COLUMNS + list(dict.fromkeys(extra))
    df = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows_], columns=columns)
    for col in (
        "size_bytes",
        "gzip_bytes",
        "ram_bytes",
        "weights_bytes",
        "threads",
        "latency_runs",
        "calib_samples",
        "eval_samples",
    ):
        df[col] = pd.array(df[col], dtype="Int64")
    for col in (
        "size_ratio",
        "gzip_ratio",
        "latency_ms",
        "latency_p90_ms",
        "latency_cv",
        "speedup",
        "accuracy",
        "accuracy_delta",
        "convert_seconds",
    ):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def load_csv(path: str) -> int:
    """Append the rows of a CSV written by ``save_csv``; returns how many."""
    import pandas as pd

    df = pd.read_csv(path)
    missing = {"model", "scheme", "status"} - set(df.columns)
    if missing:
        from ..errors import NbOptUsageError

        raise NbOptUsageError(
            f"{path} is not an nbopt results file (no {', '.join(sorted(missing))} column)"
        )
    loaded = [
        {k: (None if pd.isna(v) else v) for k, v in rec.items()}
        for rec in df.to_dict(orient="records")
    ]
    with _lock:
        _rows.extend(loaded)
    return len(loaded)
