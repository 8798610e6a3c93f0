"""The results store: every measured row and its ``.tflite`` in one SQLite file.

A row is written the moment it is measured, by any number of processes at once. SQLite runs
in WAL mode (readers never wait for the writer) with ``synchronous=FULL``; each write is one
``BEGIN IMMEDIATE`` transaction holding the row *and* its flatbuffer, so a process killed at
any instant leaves every finished row complete and no row half-written, and a second writer
waits its turn (``busy_timeout``) instead of failing.

Tables (schema version :data:`SCHEMA_VERSION`):

``rows``
    One per measured variant. ``row_id`` is unique (a writer that retries cannot duplicate a
    row), ``run_id`` the comparison it belongs to, ``config_key`` the configuration that made
    it (a sweep resumes by asking :meth:`Store.stored_keys`), ``kernel`` the process that
    measured it, ``content_sha256`` its flatbuffer, ``data`` the whole row as JSON.
``blobs``
    ``.tflite`` flatbuffers by SHA-256: a variant made twice is stored once.
``conversions``
    The conversion cache of :mod:`nbopt.engine.store.cache`: a content key, the flatbuffer it made
    and how (``converter``, ``note``).
``meta``
    ``schema_version``.

A file made by an older nbopt is migrated when opened: :data:`.layout.MIGRATIONS` holds one step per
version, each run in its own transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .layout import BUSY_SECONDS, _use_wal, _version, migrate
from .repair import _salvage, damaged


@dataclass
class Record:
    """A stored row with its identity: ``row_id`` and the SHA-256 of its flatbuffer."""

    row_id: str
    row: dict[str, Any]
    content_sha256: str | None


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return str(value)


def row_json(row: dict[str, Any]) -> str:
    """``row`` as JSON: numpy numbers as numbers, NaN kept, anything else as its text."""
    return json.dumps(row, default=_json_default)


class Store:
    """One SQLite results file; safe to share between threads and between processes.

    Nothing is created until the first read or write. The connection is opened lazily and
    again in a forked child (SQLite connections must not cross a fork).
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            if not damaged(exc):
                raise
            self._set_aside(str(exc))
            return self._open()

    def _open(self) -> sqlite3.Connection:
        _make_folder(self.path.parent)
        conn = sqlite3.connect(
            self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn)
        self._conn, self._pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._connect().execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as exc:
                if not damaged(exc):
                    raise
                self._set_aside(str(exc))
                return self._connect().execute(sql, tuple(params)).fetchall()

    def _set_aside(self, reason: str) -> None:
        """Move a damaged store file aside (never delete it) and start a new one with the
        rows that could still be read from it."""
        salvaged = _salvage(self.path)
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                os.replace(part, f"{aside}{suffix}")
        self._open()
        for row_id, data in salvaged:
            self.add(json.loads(data), row_id=row_id)
        warnings.warn(
            f"nbopt: the results store {self.path} is damaged ({reason}); moved it to {aside}, "
            f"kept the {len(salvaged)} rows that could be read, and started a new store",
            RuntimeWarning,
            stacklevel=4,
        )

    @staticmethod
    def _put_blob(conn: sqlite3.Connection, content: bytes) -> str:
        digest = sha256(content)
        conn.execute(
            "INSERT OR IGNORE INTO blobs (sha256, size, content) VALUES (?, ?, ?)",
            (digest, len(content), content),
        )
        return digest

    def add(
        self,
        row: dict[str, Any],
        content: bytes | None = None,
        *,
        row_id: str | None = None,
        kernel: str | None = None,
    ) -> str:
        """Write ``row`` and its flatbuffer in one transaction; returns its ``row_id``.

        A ``row_id`` already stored is left as it is (a retried write adds nothing).
        """
        row_id = row_id or uuid.uuid4().hex
        with self._write() as conn:
            digest = self._put_blob(conn, content) if content is not None else None
            conn.execute(
                "INSERT OR IGNORE INTO rows (row_id, run_id, config_key, kernel, model, scheme,"
                " status, timestamp, content_sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    row.get("run_id"),
                    row.get("config_key"),
                    kernel,
                    row.get("model"),
                    row.get("scheme"),
                    row.get("status"),
                    row.get("timestamp"),
                    digest,
                    row_json(row),
                ),
            )
        return row_id

    def update(self, row_id: str, row: dict[str, Any]) -> None:
        """Replace the stored data of row ``row_id`` and its ``config_key`` (its flatbuffer
        stays)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE rows SET data = ?, status = ?, config_key = ? WHERE row_id = ?",
                (row_json(row), row.get("status"), row.get("config_key"), row_id),
            )

    def by_config(self, key: str) -> list[Record]:
        """The rows stored under ``config_key`` ``key``, oldest first."""
        found = self._read(
            "SELECT row_id, data, content_sha256 FROM rows WHERE config_key = ? ORDER BY id",
            (key,),
        )
        return [Record(r[0], json.loads(r[1]), r[2]) for r in found]

    def records(self, model: str | None = None, run: str | None = None) -> list[Record]:
        """Every stored row, oldest first, optionally only one model's or one run's."""
        where, params = _filters(model, run)
        found = self._read(
            f"SELECT row_id, data, content_sha256 FROM rows{where} ORDER BY id", params
        )
        return [Record(r[0], json.loads(r[1]), r[2]) for r in found]

    def rows(self, model: str | None = None, run: str | None = None) -> list[dict[str, Any]]:
        """The stored rows as dicts (see :meth:`records`)."""
        return [r.row for r in self.records(model, run)]

    def count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM rows")[0][0])

    def content(self, digest: str) -> bytes | None:
        """The flatbuffer stored under SHA-256 ``digest``, if any."""
        found = self._read("SELECT content FROM blobs WHERE sha256 = ?", (digest,))
        content = bytes(found[0][0]) if found else None
        return content if content is not None and sha256(content) == digest else None

    def stored_keys(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` (``config_key`` values) already have a row with status ``ok``."""
        wanted = list(dict.fromkeys(keys))
        out: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(
                r[0]
                for r in self._read(
                    f"SELECT DISTINCT config_key FROM rows WHERE status = 'ok' "
                    f"AND config_key IN ({marks})",
                    chunk,
                )
            )
        return out

    def delete(self, model: str | None = None, run: str | None = None) -> int:
        """Delete stored rows (one model's, one run's, or all); returns how many.

        Flatbuffers no row and no cached conversion refers to go with them.
        """
        where, params = _filters(model, run)
        with self._write() as conn:
            n = conn.execute(f"DELETE FROM rows{where}", params).rowcount
            conn.execute(
                "DELETE FROM blobs WHERE sha256 NOT IN (SELECT content_sha256 FROM rows "
                "WHERE content_sha256 IS NOT NULL) AND sha256 NOT IN (SELECT sha256 FROM "
                "conversions)"
            )
        return int(n)

    def conversion(self, key: str) -> tuple[bytes, dict[str, Any]] | None:
        """The flatbuffer and ``info`` a conversion keyed ``key`` made, if stored."""
        found = self._read(
            "SELECT b.content, c.info, b.sha256 FROM conversions c "
            "JOIN blobs b ON b.sha256 = c.sha256 WHERE c.key = ?",
            (key,),
        )
        if not found:
            return None
        content = bytes(found[0][0])
        if sha256(content) != found[0][2]:  # changed on disk: not what nbopt stored
            return None
        return content, json.loads(found[0][1])

    def has_conversion(self, key: str) -> bool:
        return bool(self._read("SELECT 1 FROM conversions WHERE key = ?", (key,)))

    def put_conversion(self, key: str, content: bytes, info: dict[str, Any]) -> None:
        """Keep what the conversion keyed ``key`` made (the first one stored wins)."""
        from datetime import datetime, timezone

        with self._write() as conn:
            digest = self._put_blob(conn, content)
            conn.execute(
                "INSERT OR IGNORE INTO conversions (key, sha256, info, created) "
                "VALUES (?, ?, ?, ?)",
                (
                    key,
                    digest,
                    row_json(info),
                    datetime.now(timezone.utc).isoformat(timespec="seconds"),
                ),
            )

    def version(self) -> int:
        return _version(self._connect())


def _filters(model: str | None, run: str | None) -> tuple[str, tuple[Any, ...]]:
    parts, params = [], []
    if model is not None:
        parts.append("model = ?")
        params.append(model)
    if run is not None:
        parts.append("run_id = ?")
        params.append(run)
    return (" WHERE " + " AND ".join(parts) if parts else ""), tuple(params)


def _make_folder(folder: Path) -> None:
    """Create ``folder``; nbopt's own ``.nbopt`` folder gets a ``.gitignore`` of ``*``."""
    if folder.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    if folder.name == ".nbopt":
        (folder / ".gitignore").write_text(
            "# made by nbopt: results are not for version control\n*\n"
        )
