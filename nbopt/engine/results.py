"""Every row measured in this process, and the DataFrame form of rows."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from . import schema

#: Column order of every results DataFrame (the schema's, kept here for older imports).
COLUMNS = schema.COLUMNS

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
    """Rows as a DataFrame: the schema's columns first, then any others; numbers as numbers."""
    import pandas as pd

    columns = schema.columns_of(rows_)
    df = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows_], columns=columns)
    for col in schema.SCHEMA:
        if col.dtype == "float64":
            df[col.name] = pd.to_numeric(df[col.name], errors="coerce").astype("float64")
        elif col.dtype != "object":
            df[col.name] = pd.array(
                [None if _missing(v) else v for v in df[col.name]], dtype=col.dtype
            )
    return df


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def csv_text(df: Any) -> str:
    """``df`` as CSV text; dict and list cells (``metrics``) as JSON."""

    def cell(v: Any) -> Any:
        return json.dumps(v, default=str) if isinstance(v, (dict, list)) else v

    out = df.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(cell)
    return out.to_csv(index=False)


def write_csv(data: Any, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write results (a DataFrame or a list of rows) to ``path`` as CSV; returns the path.

    The one CSV writer of nbopt: ``Comparison.to_csv``, ``%nbopt results --save``, the CLI's
    ``--csv`` and the panel's export all call it. An existing file is kept (and
    :class:`~nbopt.errors.NbOptUsageError` raised) unless ``force``. :func:`load_csv` reads
    the file back.
    """
    from .files import write_atomic

    df = frame(data) if isinstance(data, list) else data
    return write_atomic(path, csv_text(df).encode(), force=force)


def load_csv(path: str) -> int:
    """Append the rows of a CSV written by :func:`write_csv`; returns how many."""
    import pandas as pd

    df = pd.read_csv(path)
    missing = {"model", "scheme", "status"} - set(df.columns)
    if missing:
        from ..errors import NbOptUsageError

        raise NbOptUsageError(
            f"{path} is not an nbopt results file (no {', '.join(sorted(missing))} column)"
        )
    loaded = [{k: _from_csv(k, v) for k, v in rec.items()} for rec in df.to_dict(orient="records")]
    with _lock:
        _rows.extend(loaded)
    return len(loaded)


def _from_csv(name: str, v: Any) -> Any:
    import pandas as pd

    if not isinstance(v, (list, dict)) and pd.isna(v):
        return None
    if name in schema.JSON_COLUMNS and isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v
