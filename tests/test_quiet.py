"""Cells as a Jupyter user sees them: quiet, one comparison each, readable everywhere.

A real kernel (nbclient) runs %quantize and %prune with TensorFlow's C++ logs switched on
(``TF_CPP_MIN_LOG_LEVEL=0``); the saved outputs are then converted to HTML with nbconvert,
as nbviewer and GitHub show them.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from notebook_runner import execute

ROOT = Path(__file__).resolve().parent.parent
MIME = "application/vnd.nbopt.comparison+json"
NOISE = ("oneDNN", "cuInit", "cuda", "fully_quantize", "Assets written", "XNNPACK")

CELLS = [
    """
%load_ext nbopt
from nbopt.demo import digits_data, digits_cnn
x_train, y_train, x_test, y_test = digits_data()
model = digits_cnn()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=4, verbose=0)
%config NbOpt.engine = "converter"
%config NbOpt.latency_runs = 5
""",
    "%quantize model --scheme dynamic,int8 --calib x_train[:64] --eval x_test,y_test",
    "print('x')",
    "%prune model --sparsity 0.5 --fit x_train,y_train --epochs 1 --eval x_test,y_test --as pruned",
    "import nbopt\nlog = nbopt.log()\nprint('LOG', 'Assets written' in log, 'SavedModel' in log)",
    "search = %nbopt optimize model --max-drop 0.02 --calib x_train[:64] --val x_test,y_test "
    "--eval x_test,y_test --budget 3\nlen(search.rows)",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("quiet")
    path = folder / "quiet.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src.strip()) for src in CELLS]
    nbformat.write(nb, path)
    env = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "0", "TF_USE_LEGACY_KERAS": "1"}
    run = execute(path, cwd=folder, timeout=600, env=env, label="quiet cells")
    nbformat.write(run.notebook, path)
    return run.notebook, path


def _displays(cell):
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def _streams(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_quantize_cell_shows_one_comparison_and_no_tensorflow_logs(executed):
    nb, _ = executed
    cell = nb.cells[1]
    streams = _streams(cell)
    assert not [n for n in NOISE if n in streams], streams
    displays = _displays(cell)
    assert len(displays) == 1  # the live table became the result: no empty or second output
    payload = displays[0].data[MIME]
    assert payload["done"] and [r["scheme"] for r in payload["rows"]] == [
        "float32",
        "dynamic",
        "int8",
    ]
    assert all(r["status"] == "ok" for r in payload["rows"])


def test_a_following_print_cell_gets_only_its_own_output(executed):
    nb, _ = executed
    cell = nb.cells[2]
    assert [(o.output_type, o.get("text")) for o in cell.outputs] == [("stream", "x\n")]


def test_prune_shows_its_baseline_and_variant_like_quantize(executed):
    nb, _ = executed
    cell = nb.cells[3]
    assert not [n for n in NOISE if n in _streams(cell)]
    (display,) = _displays(cell)
    rows = display.data[MIME]["rows"]
    assert [(r["technique"], r["scheme"]) for r in rows] == [
        ("baseline", "float32"),
        ("prune", "float32"),
    ]
    pruned = rows[1]
    assert pruned["sparsity"] >= 0.45 and pruned["gzip_bytes"] < rows[0]["gzip_bytes"]
    assert pruned["accuracy_delta"] == pytest.approx(pruned["accuracy"] - rows[0]["accuracy"])
    text = display.data["text/plain"]
    assert re.search(r"^prune\s+ok", text, re.M) and "float32 of" not in text
    assert "sparsity" in text and "gzip" in text


def test_the_last_runs_log_keeps_what_tensorflow_printed(executed):
    nb, _ = executed
    assert _streams(nb.cells[4]) == "LOG True True\n"


def test_saved_html_shows_the_table_and_one_chart_point_per_ok_row(executed):
    from nbconvert import HTMLExporter

    _, path = executed
    page, _ = HTMLExporter().from_filename(str(path))
    svgs = re.findall(r'<svg [^>]*class="nbopt-chart".*?</svg>', page, re.S)
    assert len(svgs) == 3  # %quantize's, %prune's and the search's front
    assert _points(svgs[0]) == ["float32", "dynamic", "int8"]
    assert _points(svgs[1]) == ["float32", "prune"]
    assert _points(svgs[2]) == ["float16", "dynamic", "int8"]
    for variant in ("float32", "dynamic", "int8", "prune"):
        assert f"<td>{variant}</td>" in page
    assert " µs" in page or " ms" in page


def _points(svg: str) -> list[str]:
    """The variants the chart names (one label each), in row order (nbconvert may reorder
    attributes)."""
    found = re.findall(
        r'<text ([^>]*class="nbopt-point-label"[^>]*)>(?:<title>[^<]*</title>)?([^<]*)</text>', svg
    )
    rows = [int(re.search(r'data-rows="(\d+)"', attrs).group(1)) for attrs, _ in found]
    return [name for _, name in sorted(zip(rows, (name for _, name in found)))]


def test_the_first_screen_after_load_ext_has_no_native_log_lines(tmp_path):
    """%load_ext imports TensorFlow with its absl, CUDA and CPU-feature lines kept for
    %nbopt log: the cell that builds the first model shows nothing of them."""
    path = tmp_path / "first.ipynb"
    nb = nbformat.v4.new_notebook()
    cells = [
        "%load_ext nbopt",
        "from nbopt.demo import digits_cnn\nmodel = digits_cnn()\nprint('built')",
        "%nbopt log",
        "import sys\nprint('mine', file=sys.stderr)",
    ]
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nbformat.write(nb, path)
    env = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "0"}
    run = execute(path, cwd=tmp_path, timeout=600, env=env, label="first screen")
    load, build, log, mine = run.notebook.cells
    assert not [n for n in (*NOISE, "absl", "I0000", "E0000") if n in _streams(load)]
    assert _streams(build) == "built\n"
    assert "oneDNN" in _streams(log) or "cudart" in _streams(log)  # kept, not lost
    assert [(o.name, o.text) for o in mine.outputs] == [("stderr", "mine\n")]  # yours stays


def _quiet_python(*lines: str):
    """Run ``lines`` in a fresh Python that starts as the command line does (TensorFlow
    imported under capture), stdout and stderr pipes, without the environment's TF_ vars."""
    import os
    import subprocess
    import sys

    code = "from nbopt.cli import _quiet_tensorflow\n_quiet_tensorflow()\n" + "\n".join(lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_command_line_starts_without_native_log_lines():
    """What `nbopt demo` and `nbopt compare` do first: TensorFlow's import and first device
    probe print nothing on the terminal (the lines are kept for nbopt.log())."""
    done = _quiet_python(
        "import tensorflow as tf, tf_keras, nbopt",
        "tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(2)])",
        "tf.config.list_physical_devices()",
        "print('kept', len(nbopt.log()) > 0)",
    )
    assert done.stderr == "" and done.stdout == "kept True\n"


def test_tensorflow_warnings_after_a_quiet_start_reach_stderr():
    """Logging handlers made while a conversion's output was captured (the root logger's,
    here) write to stderr afterwards: a TensorFlow warning during a later fit is printed,
    not a 'Logging error' traceback about a closed file."""
    done = _quiet_python(
        "import logging, nbopt, tf_keras",
        "m = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(2)])",
        "nbopt.quantize(m, scheme='dynamic')",
        "logging.getLogger().warning('Gradients do not exist for variables %s', ['k:0'])",
    )
    assert "Logging error" not in done.stderr, done.stderr
    assert done.stderr.endswith("Gradients do not exist for variables ['k:0']\n"), done.stderr


def test_an_optimize_cell_keeps_one_output_the_search_itself(executed):
    """The live table becomes the search's result (its pick and verdicts), even when the
    cell goes on to show something else: no second, outdated comparison stays behind."""
    nb, _ = executed
    cell = nb.cells[5]
    displays = _displays(cell)
    shown = [d for d in displays if MIME in d.data]
    assert len(shown) == 1, [d.data.keys() for d in displays]
    payload = shown[0].data[MIME]
    assert payload["pick"]["label"] and payload["pick"]["line"].startswith("%quantize model ")
    assert payload["table"]["headings"][:3] == ["candidate", "status", "verdict"]
    assert displays[-1].data["text/plain"] == "17"  # the cell's own value after it
    assert not [n for n in NOISE if n in _streams(cell)]
