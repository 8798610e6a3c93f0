"""Every row measured in this process, and the results store that keeps every row.

This kernel's rows live here in memory, as measured (:func:`rows`). Each is also written,
with its ``.tflite``, the moment it is recorded into the results store, an SQLite file
(:mod:`nbopt.engine.store.database`; ``NbOpt.store`` chooses it, ``""`` keeps rows in memory only),
so a kernel that dies loses nothing and ``rows(all=True)`` reads every row ever stored.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

from . import schema
from .database import Store

#: Column order of every results DataFrame (the schema's, kept here for older imports).
COLUMNS = schema.COLUMNS
#: This process's name in the store's ``kernel`` column.
KERNEL = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

_rows: list[dict[str, Any]] = []
_lock = threading.Lock()
_store: Store | None = None
_stores: dict[Path, Store] = {}
#: ``id(row)``: the store and ``row_id`` each of this kernel's rows was written under.
_stored: dict[int, tuple[Store, str]] = {}


def set_store(path: str | os.PathLike[str] | None) -> Store | None:
    """Write rows to the SQLite file at ``path`` from now on (``""``/``None``: memory only).

    A relative path is taken from the working directory now (a kernel's: its notebook's
    folder). Nothing is created until the first row is recorded.
    """
    global _store
    if not path:
        _store = None
        return None
    where = Path(path).expanduser()
    where = where if where.is_absolute() else Path(os.getcwd()) / where
    with _lock:
        _store = _stores.setdefault(where, Store(where))
    return _store


def store() -> Store | None:
    """The results store in use, or ``None`` when rows are kept in memory only."""
    return _store


def record(row: dict[str, Any], content: bytes | None = None, row_id: str | None = None) -> None:
    """Add a measured row (the dict itself, so later updates such as ``path`` show).

    The row and its flatbuffer ``content`` are written to the store at once. ``row_id``
    names it there (a write retried with the same ``row_id`` adds nothing; default: a new
    one). A store that cannot be written (a full disk, a read-only folder) warns and the
    row stays in memory.
    """
    with _lock:
        _rows.append(row)
    target = _store
    if target is None:
        return
    try:
        _stored[id(row)] = (target, target.add(row, content, row_id=row_id, kernel=KERNEL))
    except Exception as exc:  # sqlite3 and OS errors: the measurement itself is not lost
        _warn(target, exc)


def update(row: dict[str, Any]) -> None:
    """Write a recorded row again after it changed (``TFLiteModel.save`` sets ``path``)."""
    with _lock:
        if not any(r is row for r in _rows):
            return
    where = _stored.get(id(row))
    if where is None:
        return
    try:
        where[0].update(where[1], row)
    except Exception as exc:
        _warn(where[0], exc)


def _warn(target: Store, exc: Exception) -> None:
    warnings.warn(
        f"nbopt: cannot write to the results store {target.path}: {exc}; "
        "the row is kept in this kernel only",
        RuntimeWarning,
        stacklevel=3,
    )


def stored_keys(keys: Any) -> set[str]:
    """Which of ``keys`` (``config_key`` values) already have a row with status ``ok``: in
    the store, or in this kernel's rows when there is none. A sweep resumes with it."""
    if _store is not None:
        return _store.stored_keys(keys)
    wanted = set(keys)
    with _lock:
        return {r.get("config_key") for r in _rows if r.get("status") == "ok"} & wanted


def _matches(row: dict[str, Any], model: str | None, run: str | None) -> bool:
    return (model is None or row.get("model") == model) and (
        run is None or row.get("run_id") == run
    )


def rows(
    all: bool = False,  # noqa: A002 - the documented name
    model: str | None = None,
    run: str | None = None,
) -> list[dict[str, Any]]:
    """This kernel's rows (``all``: every row in the store), optionally one model's or run's."""
    if all and _store is not None:
        return _store.rows(model=model, run=run)
    with _lock:
        return [r for r in _rows if _matches(r, model, run)]


def clear(
    all: bool = False,  # noqa: A002 - the documented name
    model: str | None = None,
    run: str | None = None,
) -> int:
    """Forget this kernel's rows (matching ``model``/``run``); returns how many.

    The store is left alone unless ``all``: then its matching rows are deleted too and the
    count is of stored rows.
    """
    with _lock:
        kept = [r for r in _rows if not _matches(r, model, run)]
        n = len(_rows) - len(kept)
        for r in _rows:
            if _matches(r, model, run):
                _stored.pop(id(r), None)
        _rows[:] = kept
    if all and _store is not None:
        return _store.delete(model=model, run=run)
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
        from ...errors import NbOptUsageError

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
