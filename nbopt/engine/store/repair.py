"""A damaged store file: recognising the damage, and reading the rows it still gives up."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

#: What SQLite says of a file that is not (or no longer) a database.
_DAMAGED = ("file is not a database", "database disk image is malformed")


def damaged(exc: BaseException) -> bool:
    """True if ``exc`` says the store file itself is damaged (not busy, not read-only)."""
    return isinstance(exc, sqlite3.DatabaseError) and any(s in str(exc) for s in _DAMAGED)


def _salvage(path: Path) -> list[tuple[str, str]]:
    """``(row_id, data)`` of every row a damaged store file still gives up."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return []
    out: list[tuple[str, str]] = []
    try:
        for row_id, data in conn.execute("SELECT row_id, data FROM rows ORDER BY id"):
            json.loads(data)
            out.append((row_id, data))
    except (sqlite3.Error, ValueError, TypeError):
        pass  # what was read before the damage is kept
    finally:
        conn.close()
    return out
