"""The store file's layout: its tables, the schema version, and migrations from older ones."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

#: The layout this nbopt writes; older files are migrated up to it on open.
SCHEMA_VERSION = 2


#: How long a writer waits for another process's transaction before failing.
BUSY_SECONDS = 60.0


_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, content BLOB NOT NULL);
CREATE TABLE rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    row_id TEXT NOT NULL UNIQUE,
    run_id TEXT,
    model TEXT,
    scheme TEXT,
    status TEXT,
    timestamp TEXT,
    content_sha256 TEXT REFERENCES blobs(sha256),
    data TEXT NOT NULL
);
CREATE INDEX rows_run ON rows(run_id);
CREATE INDEX rows_model ON rows(model);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Version 2: rows gain ``config_key`` and ``kernel``; the conversion cache appears."""
    conn.execute("ALTER TABLE rows ADD COLUMN config_key TEXT")
    conn.execute("ALTER TABLE rows ADD COLUMN kernel TEXT")
    conn.execute("UPDATE rows SET config_key = json_extract(data, '$.config_key')")
    conn.execute("CREATE INDEX rows_config ON rows(config_key)")
    conn.execute(
        "CREATE TABLE conversions (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL "
        "REFERENCES blobs(sha256), info TEXT NOT NULL, created TEXT)"
    )


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode. Switching needs the file alone, and SQLite answers "database
    is locked" at once (no busy wait) while another process opens or writes it: try again
    until :data:`BUSY_SECONDS` have passed. A file already in WAL mode is left as it is."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _version(conn: sqlite3.Connection) -> int:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(found[0]) if found else 0


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to :data:`SCHEMA_VERSION` (a new file is created at version 1 and
    migrated like any other); returns the version it had."""
    start = _version(conn)
    if start == SCHEMA_VERSION:
        return start
    if start > SCHEMA_VERSION:
        from ...errors import NbOptUsageError

        raise NbOptUsageError(
            f"the results store was written by a newer nbopt (schema {start}, this nbopt "
            f"reads up to {SCHEMA_VERSION}); upgrade nbopt or set NbOpt.store to another file"
        )
    conn.execute("BEGIN IMMEDIATE")  # another process may be migrating: re-read once we hold it
    try:
        version = _version(conn)
        if version == 0:
            for statement in _V1.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            version = 1
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](conn)
            version += 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return start


#: ``version: step`` taking a file from ``version`` to ``version + 1``.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1_to_v2}
