"""Write the end-to-end test's notebooks into a folder, with a real nbopt comparison.

    python make_notebooks.py OUTDIR

- ``saved.ipynb``: one cell whose saved output is the MIME bundle of a real comparison
  (a digits CNN trained for one epoch, quantized with float16, dynamic and int8), as a
  notebook looks when it is reopened with no kernel or opened by someone else.
- ``live.ipynb``: cells that load nbopt, build and train the CNN and run ``%quantize``.
- ``panel.ipynb``: cells that load nbopt, train the CNN and show ``%nbopt panel``; a last
  cell prints the panel's rows as JSON for the test to compare the chart with.
- ``dashboard.ipynb``: cells that load nbopt, train the CNN and run a one-scheme
  ``%nbopt sweep`` on a LocalCluster, which prints its Dask dashboard link.
- ``crowded.ipynb``: a saved output of the quick start's measured rows (``nbopt demo``:
  dynamic, int8 and int16x8 at 156, 159 and 161 KB with the same accuracy; RAM from 2 KB to
  581 KB) with an int8 variant with int8 I/O, one with a layer kept float, a pruned and a
  clustered one: a crowded chart and a table wider than the output area. The rows are the
  real ones kept in ``labextension/test/payloads/variety.v1.json``, displayed by today's code.
- ``saved_v1.ipynb``: a saved output of a real version-1 payload (written by nbopt before
  payload version 2), as notebooks saved then hold it.
- ``expected.json``: what the renderer must show for ``saved.ipynb``, computed here from
  the payload with units written out independently (KB/MB, µs/ms, %, points) and an
  independent Pareto front; the compatibility cells and notes as nbopt's text table has
  them; and what ``crowded.ipynb`` shows (labels, markers, notes).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nbformat  # noqa: E402
from nbformat.v4 import new_code_cell, new_notebook, new_output  # noqa: E402

PAYLOADS = Path(__file__).resolve().parent.parent / "test" / "payloads"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

TRAIN = """\
from nbopt.demo import digits_cnn, digits_data
x_train, y_train, x_test, y_test = digits_data()
model = digits_cnn()
model.fit(x_train, y_train, epochs=1, verbose=0)"""

FAST = """\
%config NbOpt.latency_runs = 5
%config NbOpt.latency_min_seconds = 0.0"""

LIVE_MAGIC = "%quantize model --scheme float16,dynamic --calib x_train[:64] --eval x_test,y_test"

PANEL = """\
panel = %nbopt panel model --calib x_train[:64] --eval x_test,y_test
panel.export_path.value = "exported"
panel"""

SWEEP_MAGIC = "%nbopt sweep model --scheme float16 --eval x_test,y_test"

PANEL_ROWS = """\
import json
print(json.dumps(panel.df[["variant", "status", "size_bytes", "accuracy"]].to_dict("records")))"""


def _digits(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"


def _size(v: float) -> str:
    if v < 1024:
        return f"{v:.0f} B"
    if v < 1024 * 1024:
        return f"{v / 1024:,.1f} KB"
    return f"{v / 1024 / 1024:,.2f} MB"


def _latency(ms: float) -> str:
    if ms < 1:
        return f"{_digits(ms * 1000)} µs"
    return f"{_digits(ms)} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _points(v: float) -> str:
    points = v * 100
    return f"{points:+.2f} pt" if abs(points) < 0.1 and points else f"{points:+.1f} pt"


def cells(row: dict, ram: bool, compat: str) -> list[str]:
    """The table's cells: variant, status, size, smaller, gzip, RAM (if ``ram``: some row
    has it), latency, p90, speedup, accuracy and its change (blank on the baseline where
    they compare with it), written out here so the test trusts no formatting of nbopt's;
    then ``compat``, the compatibility cell."""
    base = row["technique"] == "baseline"

    def fmt(key: str, f) -> str:
        against = key in ("size_ratio", "speedup", "accuracy_delta")
        return "" if row.get(key) is None or (base and against) else f(row[key])

    return [
        row["scheme"],
        row["status"],
        fmt("size_bytes", _size),
        fmt("size_ratio", lambda v: f"{v:.2f}×"),
        fmt("gzip_bytes", _size),
        *([fmt("ram_bytes", _size)] if ram else []),
        fmt("latency_ms", _latency),
        fmt("latency_p90_ms", _latency),
        fmt("speedup", lambda v: f"{v:.2f}×" if v >= 0.1 else f"{v:.2g}×"),
        fmt("accuracy", lambda v: f"{v * 100:.1f}%"),
        fmt("accuracy_delta", _points),
        compat,
    ]


def pareto(rows: list[dict], x: str = "size_bytes") -> list[str]:
    """Schemes no other ok variant beats on both ``x`` (size or RAM) and metric (an
    independent check)."""
    higher = next((r["metric"] for r in rows if r.get("metric")), "accuracy") != "mse"
    pts = [
        (r["scheme"], r[x], r["accuracy"] if higher else -r["accuracy"])
        for r in rows
        if r["status"] == "ok" and r.get(x) is not None and r["accuracy"] is not None
    ]
    return sorted(
        s
        for s, size, acc in pts
        if not any(
            (s2 != s) and size2 <= size and acc2 >= acc and (size2 < size or acc2 > acc)
            for s2, size2, acc2 in pts
        )
    )


def write_saved(out: str, name: str, data: dict, source: str = "comparison") -> None:
    """A notebook whose one cell, ``source``, holds ``data`` as its saved output (no kernel
    needed)."""
    notebook = new_notebook(metadata={"kernelspec": KERNELSPEC})
    cell = new_code_cell(source, execution_count=1)
    cell.outputs = [new_output("execute_result", data=data, execution_count=1)]
    notebook.cells = [cell]
    nbformat.write(notebook, os.path.join(out, name))


def crowded(out: str) -> dict:
    """Write ``crowded.ipynb`` and ``saved_v1.ipynb``; what the first must show."""
    from nbopt.display import COMPARISON_MIME, rows_bundle
    from nbopt.display.table import build

    v1 = json.loads((PAYLOADS / "quickstart.v1.json").read_text(encoding="utf-8"))
    write_saved(out, "saved_v1.ipynb", {COMPARISON_MIME: v1, "text/plain": "nbopt: model"})
    rows = json.loads((PAYLOADS / "variety.v1.json").read_text(encoding="utf-8"))["rows"]
    bundle = json.loads(json.dumps(rows_bundle("model", rows), allow_nan=False))
    write_saved(out, "crowded.ipynb", bundle)
    charts = bundle[COMPARISON_MIME]["charts"]
    table = build(rows)
    return {
        "labels": [cells[0] for cells in table.body],
        "headings": table.headings,
        "compat": [cells[-1] for cells in table.body],
        "notes": table.notes,
        "markers": {
            c["name"]: [i["rows"] for i in c["items"] if i["el"] == "circle" and "rows" in i]
            for c in charts
        },
    }


def write_kernel_notebook(out: str, name: str, *sources: str) -> None:
    """A notebook that loads nbopt, sets fast latency, trains the CNN, then runs ``sources``."""
    notebook = new_notebook(metadata={"kernelspec": KERNELSPEC})
    cells = ("%load_ext nbopt", FAST, TRAIN, *sources)
    notebook.cells = [new_code_cell(source) for source in cells]
    nbformat.write(notebook, os.path.join(out, name))


def main(out: str) -> None:
    import nbopt
    from nbopt.config import NbOpt, set_current
    from nbopt.demo import digits_cnn, digits_data
    from nbopt.display import COMPARISON_MIME, comparison_bundle
    from nbopt.display.table import build, compat_notes

    set_current(NbOpt(latency_runs=5, latency_min_seconds=0.0))
    x_train, y_train, x_test, y_test = digits_data()
    model = digits_cnn()
    model.fit(x_train, y_train, epochs=1, verbose=0)
    comparison = nbopt.quantize(
        model, "float16,dynamic,int8", x_train[:64], (x_test, y_test), name="model"
    )
    bundle = json.loads(json.dumps(comparison_bundle(comparison), allow_nan=False))
    rows = bundle[COMPARISON_MIME]["rows"]
    compat = compat_notes(rows)[0]
    source = 'nbopt.quantize(model, "float16,dynamic,int8", x_train[:64], (x_test, y_test))'
    write_saved(out, "saved.ipynb", bundle, source)

    write_kernel_notebook(out, "live.ipynb", LIVE_MAGIC)
    write_kernel_notebook(out, "panel.ipynb", PANEL, PANEL_ROWS)
    write_kernel_notebook(out, "dashboard.ipynb", SWEEP_MAGIC)

    ram = any(r.get("ram_bytes") is not None for r in rows)
    expected = {
        "rows": len(rows),
        "schemes": [r["scheme"] for r in rows],
        "cells": [cells(r, ram, c) for r, c in zip(rows, compat)],
        "notes": build(rows).notes,
        "ram": {r["scheme"]: r.get("ram_bytes") for r in rows},
        "sizes": {r["scheme"]: r["size_bytes"] for r in rows},
        "accuracy": {r["scheme"]: r["accuracy"] for r in rows},
        "pareto_ram": pareto(rows, "ram_bytes"),
        "points": sum(
            1
            for r in rows
            if r["status"] == "ok" and r["size_bytes"] is not None and r["accuracy"] is not None
        ),
        "pareto": pareto(rows),
        "live_rows": 3,
        "crowded": crowded(out),
    }
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
