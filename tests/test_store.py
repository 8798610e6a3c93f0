"""The results store: rows and their .tflite in SQLite as they are measured, by any process."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nbopt.engine.store import results, schema
from nbopt.engine.store.database import Store, sha256
from nbopt.engine.store.layout import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]

# A comparison in its own process that SIGKILLs itself once its second row is measured.
KILLED_MID_RUN = textwrap.dedent(
    """
    import json, os, signal, sys
    import nbopt
    from nbopt.config import NbOpt, set_current
    from nbopt.demo import digits_cnn, digits_data
    from nbopt.engine.store.database import row_json

    set_current(NbOpt(store=sys.argv[1], isolate=False, latency_warmup_runs=1,
                      latency_runs=5, latency_min_seconds=0.0))
    x_train, y_train, x_test, y_test = digits_data()
    seen = []

    def listener(event):
        if event.kind == "row":
            seen.append(event.row)
            print("ROW " + row_json(event.row), flush=True)
            if len(seen) == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    nbopt.quantize(digits_cnn(), "float16,dynamic,int8", x_train[:64], (x_test, y_test),
                   progress=listener)
    print("NOT KILLED", flush=True)
    """
)

# Writes rows with a .tflite-sized blob each, once the test says go (both start together);
# each row takes some work to make, as a measured one does (about 10 ms here).
WRITER = textwrap.dedent(
    """
    import hashlib, sys
    from nbopt.engine.store import results

    results.set_store(sys.argv[1])
    name, n = sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(n):
        row = {"model": name, "scheme": "int8", "status": "ok", "run_id": name,
               "size_bytes": 20000, "config_key": f"{name}-{i}"}
        seed = hashlib.pbkdf2_hmac("sha256", f"{name}{i}".encode(), b"nbopt", 20000)
        results.record(row, hashlib.shake_256(seed).digest(20000))
    print("done", flush=True)
    """
)


def _env() -> dict[str, str]:
    import os

    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def test_a_process_killed_mid_comparison_leaves_every_finished_row_complete(tmp_path):
    db = tmp_path / "results.db"
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_MID_RUN, str(db)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert "NOT KILLED" not in proc.stdout
    measured = [json.loads(line[4:]) for line in proc.stdout.splitlines() if line[:4] == "ROW "]
    assert [r["scheme"] for r in measured] == ["float32", "float16"]

    stored = Store(db).records()  # a new process's view: this one never wrote to it
    print(f"rows finished before the kill: {len(measured)}; rows seen after: {len(stored)}")
    assert len(stored) == len(measured) == 2
    for record, row in zip(stored, measured):
        assert record.row == row  # every column, equal
        for column in ("size_bytes", "gzip_bytes", "latency_ms", "accuracy", "eval_samples"):
            assert record.row[column] is not None, column
        content = Store(db).content(record.content_sha256)
        assert len(content) == record.row["size_bytes"]
        assert sha256(content) == record.content_sha256
    assert stored[1].row["size_ratio"] == pytest.approx(
        stored[0].row["size_bytes"] / stored[1].row["size_bytes"]
    )


def test_two_processes_writing_one_store_at_once_lose_nothing(tmp_path):
    db, n = tmp_path / "results.db", 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), name, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for name in ("a", "b")
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:  # both are waiting: now both write
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0 and out.strip() == "done"

    store = Store(db)
    rows = store.rows()
    assert store.count() == 2 * n
    assert len(store.rows(model="a")) == len(store.rows(model="b")) == n
    assert len({r["config_key"] for r in rows}) == 2 * n
    writers = [r["model"] for r in rows]  # in commit order
    switches = sum(a != b for a, b in zip(writers, writers[1:]))
    assert switches > 1, "the two writers did not overlap"
    results.set_store(db)
    assert results.stored_keys(["a-0", "b-149", "b-150"]) == {"a-0", "b-149"}
    keys = {f"{name}-{i}" for name in "ab" for i in range(n)}
    assert store.stored_keys([*keys, "c-0"]) == keys
    blobs = sqlite3.connect(db).execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
    assert blobs == 2 * n


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, content BLOB NOT NULL);
CREATE TABLE rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT, row_id TEXT NOT NULL UNIQUE, run_id TEXT,
    model TEXT, scheme TEXT, status TEXT, timestamp TEXT,
    content_sha256 TEXT REFERENCES blobs(sha256), data TEXT NOT NULL
);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def test_a_store_of_an_older_schema_is_migrated_and_keeps_its_rows(tmp_path):
    db = tmp_path / "old.db"
    content = b"TFL3-old-flatbuffer"
    old_row = {"model": "m", "scheme": "int8", "status": "ok", "size_bytes": 19, "config_key": "k1"}
    conn = sqlite3.connect(db)
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO blobs VALUES (?, ?, ?)", (sha256(content), len(content), content))
    conn.execute(
        "INSERT INTO rows (row_id, run_id, model, scheme, status, content_sha256, data) "
        "VALUES ('r1', 'run1', 'm', 'int8', 'ok', ?, ?)",
        (sha256(content), json.dumps(old_row)),
    )
    conn.commit()
    conn.close()

    store = Store(db)
    assert store.version() == SCHEMA_VERSION == 2
    (record,) = store.records()
    assert record.row == old_row and store.content(record.content_sha256) == content
    assert store.stored_keys(["k1", "k2"]) == {"k1"}  # config_key was filled from the row
    store.put_conversion("key", b"new", {"converter": "tflite-converter"})
    assert store.conversion("key") == (b"new", {"converter": "tflite-converter"})
    store.add({"model": "m", "scheme": "float16", "status": "ok", "config_key": "k2"})
    assert store.count() == 2 and store.stored_keys(["k1", "k2"]) == {"k1", "k2"}
    store.close()

    conn = sqlite3.connect(db)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    with pytest.raises(ValueError, match="written by a newer nbopt"):
        Store(db).rows()


def _row(model: str, run: str, scheme: str = "int8") -> dict:
    return {"model": model, "scheme": scheme, "status": "ok", "run_id": run, "size_bytes": 10}


def test_results_shows_this_kernels_rows_and_all_shows_the_store(ip):
    results.clear()  # rows earlier tests measured in this process
    target = results.store()
    assert target is not None and target.count() == 0  # the test's own store (conftest)
    results.record(_row("mine", "r1"), b"flatbuffer-1")
    results.record(_row("mine", "r2", "float16"), b"flatbuffer-2")
    for i in range(3):  # rows another kernel wrote to the same store
        target.add(_row("other", "r3", f"s{i}"), kernel="another")

    def shown(line: str) -> list[str]:
        return list(ip.run_line_magic("nbopt", f"results {line}")["model"])

    assert shown("") == ["mine", "mine"]
    assert shown("--all") == ["mine", "mine", "other", "other", "other"]
    assert shown("--all --model other") == ["other"] * 3
    assert shown("--run r2") == ["mine"]
    assert list(ip.run_line_magic("nbopt", "results --all").columns[:3]) == schema.COLUMNS[:3]

    ip.run_line_magic("nbopt", "results --clear")  # this kernel's rows only
    assert shown("") == [] and target.count() == 5
    ip.run_line_magic("nbopt", "results --all --clear --model other")
    assert shown("--all") == ["mine", "mine"] and target.count() == 2


def test_an_empty_store_setting_keeps_rows_in_memory_only(tmp_path, monkeypatch):
    from nbopt.config import NbOpt, set_current

    monkeypatch.chdir(tmp_path)
    set_current(NbOpt(store=""))
    results.clear()
    results.record(_row("m", "r"))
    assert results.store() is None
    assert results.rows(all=True) == results.rows() == [_row("m", "r")]
    results.record({**_row("m", "r"), "config_key": "k"})
    assert results.stored_keys(["k", "k2"]) == {"k"}
    assert list(tmp_path.iterdir()) == []


def test_the_default_store_is_beside_the_notebook_and_kept_out_of_git(tmp_path, monkeypatch):
    from nbopt.config import NbOpt, set_current

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBOPT_STORE", "elsewhere.db")
    assert NbOpt().store == "elsewhere.db"
    monkeypatch.delenv("NBOPT_STORE")
    set_current(NbOpt())
    assert list(tmp_path.iterdir()) == []  # nothing until a row is measured
    results.record(_row("m", "r"), b"x")
    assert (tmp_path / ".nbopt" / "results.db").is_file()
    assert (tmp_path / ".nbopt" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert Store(tmp_path / ".nbopt" / "results.db").rows() == [_row("m", "r")]


def test_a_store_that_cannot_be_written_warns_and_keeps_the_row_in_memory(tmp_path):
    from nbopt.config import NbOpt, set_current

    (tmp_path / "a_file").write_text("not a folder")
    set_current(NbOpt(store=str(tmp_path / "a_file" / "results.db")))
    results.clear()
    with pytest.warns(RuntimeWarning, match="cannot write to the results store .*a_file"):
        results.record(_row("m", "r"), b"x")
    assert results.rows() == [_row("m", "r")]


def test_a_stored_variant_is_its_flatbuffer_and_saving_it_updates_its_path(trained_cnn, tmp_path):
    import nbopt

    m = nbopt.quantize(trained_cnn, "dynamic")
    target = results.store()
    (record,) = [r for r in target.records(run=m.row["run_id"]) if r.row["scheme"] == "dynamic"]
    assert target.content(record.content_sha256) == m.content
    assert record.row.get("path") is None
    m.save(tmp_path / "m.tflite")
    (record,) = [r for r in target.records(run=m.row["run_id"]) if r.row["scheme"] == "dynamic"]
    assert record.row["path"] == str(tmp_path / "m.tflite")


def test_a_damaged_store_is_moved_aside_with_its_readable_rows_kept(tmp_path):
    path = tmp_path / "results.db"
    good = Store(path)
    for i in range(3):
        good.add({"model": "m", "scheme": f"s{i}", "status": "ok"}, b"flatbuffer %d" % i)
    good.close()
    with sqlite3.connect(path) as conn:  # checkpoint, and find the blobs table's page
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'blobs'").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(path, "r+b") as fh:  # the blobs are garbage now; the rows table is intact
        fh.seek((page - 1) * size)
        fh.write(bytes(range(256)) * (size // 256))
    with pytest.warns(RuntimeWarning, match=r"results store .* is damaged") as caught:
        store = Store(path)
        assert store.content(sha256(b"flatbuffer 0")) is None
        rows = store.rows()
    aside = [p for p in tmp_path.iterdir() if ".damaged-" in p.name and p.name.count("-") == 2]
    assert len(aside) == 1 and aside[0].stat().st_size > 0  # moved, never deleted
    assert f"moved it to {aside[0]}" in str(caught[0].message)
    assert [r["scheme"] for r in rows] == ["s0", "s1", "s2"]
    store.add({"model": "m", "scheme": "s3", "status": "ok"}, b"tflite")
    assert store.count() == 4


def test_a_file_that_is_not_a_database_is_set_aside_and_a_new_store_started(tmp_path):
    path = tmp_path / "results.db"
    path.write_bytes(b"not a database " * 400)
    with pytest.warns(RuntimeWarning, match="file is not a database.*kept the 0 rows"):
        Store(path).add({"model": "m", "scheme": "int8", "status": "ok"})
    assert Store(path).count() == 1
    assert any(p.name.startswith("results.db.damaged-") for p in tmp_path.iterdir())


def test_a_stored_conversion_changed_on_disk_is_not_reused(tmp_path):
    store = Store(tmp_path / "results.db")
    store.put_conversion("key", b"original flatbuffer", {"converter": "x"})
    assert store.conversion("key") == (b"original flatbuffer", {"converter": "x"})
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE blobs SET content = ?", (b"tampered flatbuffer",))
    assert store.conversion("key") is None and store.content(sha256(b"original flatbuffer")) is None
