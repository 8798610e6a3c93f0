"""The presentation layer: readable units, compact notes, the SVG chart, one schema, one CSV.

Rows here are results rows as the engine writes them (dicts); the last tests measure a
real model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import nbopt
from nbopt.display import COMPARISON_MIME, chart_svg, comparison_bundle, rows_html, rows_text, units
from nbopt.engine import capture
from nbopt.engine.pipeline.comparison import Comparison
from nbopt.engine.store import results, schema

LONG = (
    "Edge TPU: ops stay float (FULLY_CONNECTED x2); use full-integer quantization (int8); "
    "Edge TPU: inputs/outputs are float32"
)


def _row(technique, scheme, size, acc, lat, **more):
    return {
        "model": "net",
        "technique": technique,
        "scheme": scheme,
        "status": "ok",
        "size_bytes": size,
        "gzip_bytes": size * 9 // 10,
        "latency_ms": lat,
        "metric": "accuracy",
        "accuracy": acc,
        "gpu_compatible": True,
        "edgetpu_ready": False,
        "compat_notes": LONG,
        **more,
    }


@pytest.fixture
def rows():
    base = _row("baseline", "float32", 617_779, 0.9289, 0.005127)
    out = [
        base,
        _row("ptq", "int8", 163_000, 0.9261, 0.0031),
        _row("prune", "float32", 617_779, 0.7578, 0.0049, sparsity=0.8),
        {
            "model": "net",
            "technique": "ptq",
            "scheme": "int16x8",
            "status": "failed",
            "error": "int16x8 conversion failed\nF0000 Check failed: <b>x</b>",
        },
    ]
    for r in out[1:]:
        schema.fill_ratios(r, base)
    return out


def test_units_read_as_a_person_reads_them():
    assert units.latency(0.005127) == "5.1 µs"
    assert units.latency(0.37) == "370 µs"
    assert units.latency(12.34) == "12.3 ms"
    assert units.latency(2500) == "2.50 s"
    assert units.size(617_779) == "603.3 KB" and units.size(3 * 2**20) == "3.00 MB"
    assert units.size(812) == "812 B"
    assert units.metric(0.9388888888888889, "accuracy") == "93.9%"
    assert units.metric(0.01234567, "mse") == "0.01235"
    assert units.delta(-0.1711, "accuracy") == "-17.1 pt"
    # A sparse int8 model on TFLite's built-in kernels: 7.9 µs against 3.4 ms.
    assert units.cell("speedup", 0.0079 / 3.4) == "0.0023×"
    assert units.cell("speedup", 0.0604) == "0.06×" and units.cell("speedup", 2.724) == "2.72×"
    assert units.cell("size_ratio", 0.1) == "0.10×"


def test_text_table_has_units_one_copy_of_each_note_and_the_drop(rows):
    text = rows_text(rows)
    assert "5.1 µs" in text and "603.3 KB" in text and "92.9%" in text
    assert "0.005127" not in text and "0.9289" not in text
    # the long note is split into its two reasons, each written once under the table
    assert text.count("use full-integer quantization (int8)") == 1
    assert re.search(r"^float32 .*GPU ✓ · Edge TPU ✗ \[1,2\]$", text, re.M)
    assert "\n[2] Edge TPU: inputs/outputs are float32" in text
    assert "p90" not in text  # a column no row has is not shown
    assert "! prune: accuracy fell 17.1 points (92.9% → 75.8%), more than 2 points" in text
    assert "int8: accuracy fell" not in text  # 0.3 points: no call-out
    assert re.search(r"^prune\s+ok", text, re.M)  # a pruned float model is "prune"
    assert "int16x8: int16x8 conversion failed\nF0000 Check failed" in text


def test_html_escapes_and_calls_out_the_drop(rows):
    page = rows_html(rows)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert '<div class="nbopt-drop">⚠ prune: accuracy fell 17.1 points' in page
    assert page.count("use full-integer quantization (int8)") == 1
    assert "<td>5.1 µs</td>" in page and "white-space:nowrap" in page


def _circles(svg):
    """Each marker's rows and centre and radius, from the SVG."""
    found = re.findall(
        r'<circle class="nbopt-point[^"]*"[^>]* data-rows="([\d ]+)" cx="([\d.]+)" '
        r'cy="([\d.]+)" r="([\d.]+)"',
        svg,
    )
    return {tuple(map(int, f[0].split())): tuple(map(float, f[1:])) for f in found}


def test_chart_has_one_point_per_ok_row_and_a_dashed_front(rows):
    svg = chart_svg(rows)
    at = _circles(svg)
    assert sorted(at) == [(0,), (1,), (2,)]  # float32, int8, prune; the failed row has none
    x = {k[0]: v[0] for k, v in at.items()}
    y = {k[0]: v[1] for k, v in at.items()}
    r = {k[0]: v[2] for k, v in at.items()}
    assert x[1] < x[0] == x[2]  # smaller is left
    assert y[0] < y[1] < y[2]  # more accurate is higher (smaller y)
    assert r[1] < r[2] < r[0]  # slower is bigger
    front = re.search(r'<polyline class="nbopt-front-line"[^>]* points="([^"]+)"', svg)
    assert front and len(front.group(1).split()) == 2  # int8 and float32; prune is dominated
    assert "stroke-dasharray" in front.group(0) + svg[front.end() : front.end() + 80]
    tip = "int8: 159.2 KB (3.79× smaller), accuracy 92.6% (-0.3 pt), latency 3.1 µs (Pareto front)"
    assert svg.count(f"<title>{tip}</title>") == 2  # on its circle and on its label


def test_chart_escapes_names_and_survives_one_point():
    evil = _row('<script>alert("x")</script>', "float32", 1000, 0.5, 1.0)
    svg = chart_svg([evil])
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert len(_circles(svg)) == 1
    assert chart_svg([{"status": "failed", "scheme": "int8"}]) == ""


def test_unknown_columns_are_kept_after_the_schema(rows):
    rows[0]["metrics"] = {"out0": 0.93, "out1": 0.5}
    rows[1]["my_tag"] = "mine"
    df = results.frame(rows)
    assert list(df.columns[: len(schema.COLUMNS)]) == schema.COLUMNS
    assert list(df.columns[len(schema.COLUMNS) :]) == ["my_tag"]
    assert df["size_bytes"].dtype == "Int64" and df["latency_ms"].dtype == "float64"
    assert df["gpu_compatible"].dtype == "boolean"
    payload = comparison_bundle(_comparison(rows))[COMPARISON_MIME]
    assert payload["columns"] == list(df.columns)
    assert payload["rows"][0]["metrics"] == {"out0": 0.93, "out1": 0.5}


def _comparison(rows):
    cmp = Comparison("net")
    cmp.rows = rows
    cmp.done = True
    return cmp


def test_one_csv_writer_refuses_to_overwrite_and_round_trips(rows, tmp_path):
    rows[0]["metrics"] = {"out0": 0.93}
    cmp = _comparison(rows)
    path = cmp.to_csv(tmp_path / "r.csv")
    with pytest.raises(nbopt.errors.NbOptUsageError, match="already exists"):
        cmp.to_csv(path)
    cmp.to_csv(path, force=True)
    df = pd.read_csv(path)
    assert df["size_bytes"].tolist()[:3] == [617_779, 163_000, 617_779]
    results.clear()
    assert results.load_csv(str(path)) == 4
    back = results.rows()
    assert back[0]["metrics"] == {"out0": 0.93} and back[3]["status"] == "failed"
    results.clear()


def test_print_is_useful_without_ipython(rows):
    text = repr(_comparison(rows))
    assert text.splitlines()[0] == "Comparison('net', done, 4 variants)"
    assert "  prune: ok, 617,779 bytes, latency 0.0049 ms, accuracy 0.7578" in text
    assert "int16x8: failed (int16x8 conversion failed" in text


def test_the_engine_imports_no_view():
    code = (
        "import sys, nbopt.engine.pipeline.post_training, nbopt.engine.training,"
        " nbopt.engine.analyse.recommend,"
        " nbopt.engine.analyse.compat, nbopt.engine.model.tflite_model, nbopt.api\n"
        "views = ('nbopt.display', 'IPython', 'ipywidgets')\n"
        "bad = [m for m in sys.modules if m.startswith(views)]\n"
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    engine = os.path.join(os.path.dirname(nbopt.__file__), "engine")
    for name in os.listdir(engine):
        if name.endswith(".py"):
            source = open(os.path.join(engine, name), encoding="utf-8").read()
            assert "_repr_html_" not in source and "import html" not in source, name


def test_native_output_is_kept_not_printed(capfd):
    capture.new_run()
    with capture.native():
        os.write(2, b"I0000 oneDNN custom operations are on\n")
        os.write(1, b"fully_quantize: 0, inference_type: 6\nE0000 converter error: bad op\n")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert "oneDNN" in capture.log() and "fully_quantize" in capture.log()
    assert capture.with_log("int8 conversion failed", capture.log()) == (
        "int8 conversion failed [log: E0000 converter error: bad op]"
    )
    # TensorFlow's start-up noise is never quoted as the reason
    noise = "E0000 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
    assert capture.with_log("float32 conversion failed", noise) == "float32 conversion failed"
    capture.set_verbose(True)
    try:
        with capture.native():
            os.write(2, b"shown when verbose\n")
    finally:
        capture.set_verbose(False)
    assert "shown when verbose" in capfd.readouterr().err


def test_ipython_shows_a_model_as_its_comparison(ip, ns):
    model = nbopt.quantize(ns["model"], "dynamic", eval=(ns["x_test"], ns["y_test"]))
    data, _ = ip.display_formatter.format(model)
    rows = data[COMPARISON_MIME]["rows"]
    assert [(r["scheme"], r["status"]) for r in rows] == [("float32", "ok"), ("dynamic", "ok")]
    assert data["text/plain"].startswith(f"dynamic of {ns['model'].name}: TFLiteModel, ")
    assert data["text/html"].count('class="nbopt-point"') == 2
    assert rows[1]["size_ratio"] > 3.3
    rec = nbopt.recommend(ns["model"], calib=ns["x_train"][:32])
    assert "nbopt recommends" in ip.display_formatter.format(rec)[0]["text/html"]


def test_a_table_with_no_rows_yet_shows_its_step():
    from nbopt.display import rows_bundle

    bundle = rows_bundle("net", [], done=False, pending="float32 converting")
    assert bundle["text/plain"] == "nbopt: net (running)\nvariant  status"
    assert "<i>float32 converting…</i>" in bundle["text/html"]
    assert "<svg" not in bundle["text/html"] and bundle[COMPARISON_MIME]["rows"] == []


def test_variants_are_named_by_what_made_them():
    label = schema.variant_label
    assert label({"technique": "baseline", "scheme": "float32"}) == "float32"
    assert label({"technique": "ptq", "scheme": "int8"}) == "int8"
    assert label({"technique": "prune", "scheme": "float32"}) == "prune"
    assert label({"technique": "cluster", "scheme": "int8"}) == "cluster+int8"
    assert label({"technique": "qat", "scheme": "int8"}) == "qat"


def _with_ram(rows):
    """The fixture's rows with the RAM each model needs at run time (the failed one has none)."""
    for r, ram in zip(rows, (3 * 2**20, 12_800, 3 * 2**20)):
        r["ram_bytes"] = ram
        r["weights_bytes"] = r["size_bytes"] - 2_000
    return rows


def test_text_table_shows_ram_in_kb_or_mb_and_not_the_weights(rows):
    assert "RAM" not in rows_text(rows).splitlines()[0]  # no row has it: no column
    lines = rows_text(_with_ram(rows)).splitlines()
    heads = lines[0].split()
    assert heads[:6] == ["variant", "status", "size", "smaller", "gzip", "RAM"]
    assert "weights" not in heads
    assert re.search(r"^float32\s+ok\s+603\.3 KB\s+543\.0 KB\s+3\.00 MB\s+5\.1 µs", lines[1])
    assert re.search(r"^int8\s+ok\s+159\.2 KB\s+3\.79×\s+143\.3 KB\s+12\.5 KB\s+3\.1 µs", lines[2])
    assert re.search(r"^int16x8\s+failed$", lines[4])


def test_html_table_shows_ram(rows):
    page = rows_html(_with_ram(rows))
    assert "<th>gzip</th><th>RAM</th><th>latency</th>" in page
    assert "<td>143.3 KB</td><td>12.5 KB</td><td>3.1 µs</td>" in page
    assert "<th>weights</th>" not in page


def test_chart_plots_ram_against_accuracy_with_its_own_front(rows):
    svg = chart_svg(_with_ram(rows), x="ram_bytes")
    x = {k[0]: v[0] for k, v in _circles(svg).items()}
    assert x[1] < x[0] == x[2]
    # 12.5 KB to 3 MB spans more than a decade: a log axis, in MB
    assert "RAM (MB, log scale), smaller is better</text>" in svg and "size (" not in svg
    tip = "int8: RAM 12.5 KB, size 159.2 KB (3.79× smaller), accuracy 92.6% (-0.3 pt)"
    assert f"<title>{tip}, latency 3.1 µs (Pareto front)</title>" in svg
    front = re.search(r'<polyline class="nbopt-front-line"[^>]* points="([^"]+)"', svg)
    assert front and len(front.group(1).split()) == 2  # int8 and float32


sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import payload_fixtures  # noqa: E402


def _measured(name):
    """The rows of a saved version-1 payload: a real comparison (see tools/payload_fixtures)."""
    return payload_fixtures.version1(name)["rows"]


def test_the_payload_carries_the_table_notes_front_and_direction_python_computed():
    rows = _measured("quickstart")
    payload = comparison_bundle(_comparison(rows))[COMPARISON_MIME]
    assert payload["version"] == 2 and payload["caption"] == "nbopt: net · 5 variants"
    table = payload["table"]
    assert table["headings"] == [
        *("variant", "status", "size", "smaller", "gzip", "RAM", "latency", "p90", "speedup"),
        *("accuracy", "Δ", "compatibility"),
    ]
    assert table["keys"][2:6] == ["size_bytes", "size_ratio", "gzip_bytes", "ram_bytes"]
    assert table["numeric"] == [False, False] + [True] * 9 + [False]
    assert table["cells"][0] == [
        *("float32", "ok", "603.3 KB", "", "556.1 KB", "9.0 KB", "8.1 µs", "8.3 µs", ""),
        *("96.1%", "", "GPU ✓ · Edge TPU ✗ [1,2]"),
    ]
    # the same cells as the text view, line by line
    lines = rows_text(rows).splitlines()
    for line, cells in zip(lines[1:6], table["cells"]):
        assert re.split(r"\s{2,}", line.strip()) == [c for c in cells if c]
    assert table["notes"] == lines[6:] and len(table["notes"]) == 7
    assert table["notes"][5] == (
        "[6] Edge TPU: inputs/outputs are float32; convert int8 with integer I/O "
        "(io='int8', --io int8)"
    )
    assert payload["metric"] == "accuracy" and payload["higher_is_better"] is True
    assert [(c["x"], c["front_rows"]) for c in payload["charts"]] == [
        ("size_bytes", [2]),
        ("ram_bytes", [3]),
    ]
    assert [r["scheme"] for r in payload["rows"]] == table["labels"]
    json.dumps(payload, allow_nan=False)


def test_a_variant_with_integer_io_or_float_layers_is_named_so_in_every_view():
    rows = _measured("variety")
    assert rows[5]["io"] == "int8" and rows[6]["float_layers"] == "dense"
    text = rows_text(rows)
    assert re.search(r"^int8 \(int8 I/O\)\s+ok\s+158\.3 KB", text, re.M)
    assert re.search(r"^int8 float=dense \(int8 I/O\)\s+ok\s+587\.7 KB", text, re.M)
    payload = comparison_bundle(_comparison(rows))[COMPARISON_MIME]
    assert payload["table"]["labels"][5:] == [
        "int8 (int8 I/O)",
        "int8 float=dense (int8 I/O)",
        "prune",
        "cluster",
    ]
    assert payload["table"]["headings"][-3:] == ["sparsity", "distinct values", "compatibility"]
    assert "<td>int8 (int8 I/O)</td>" in rows_html(rows)
    # the identifier of a model stays its variant: what panel.models and files are named by
    assert schema.variant_label(rows[5]) == "int8"


def test_a_metric_where_lower_is_better_says_so_in_the_payload(rows):
    for r in rows:
        r["metric"], r["higher_is_better"] = "mse", False
    payload = comparison_bundle(_comparison(rows))[COMPARISON_MIME]
    assert payload["higher_is_better"] is False and "mse" in payload["table"]["headings"]
    assert "mse (lower is better)" in payload["charts"][0]["title"]


def test_the_live_payload_says_its_state_and_the_step_under_way(rows):
    from nbopt.display import rows_bundle

    payload = rows_bundle("net", rows[:2], done=False, pending="int8 converting")[COMPARISON_MIME]
    assert payload["caption"] == "nbopt: net (running) · 2 variants"
    assert payload["table"]["pending"] == "int8 converting"
    stopped = rows_bundle("net", rows[:2], done=False, interrupted=True)[COMPARISON_MIME]
    assert stopped["caption"] == "nbopt: net (interrupted) · 2 variants"


@pytest.mark.parametrize("name", payload_fixtures.NAMES)
def test_the_extensions_version2_fixtures_are_what_this_code_writes(name):
    saved = (payload_fixtures.FOLDER / f"{name}.v2.json").read_text(encoding="utf-8")
    assert saved == payload_fixtures.version2(name), "run python tools/payload_fixtures.py"


def test_a_wide_html_table_scrolls_inside_itself_with_its_variant_column_fixed():
    page = rows_html(_measured("variety"))
    assert '<div class="nbopt-scroll"><table class="nbopt-table">' in page
    assert ".nbopt-scroll{overflow-x:auto;max-width:100%}" in page
    sticky = re.search(r"\.nbopt-scroll \.nbopt-table td:first-child[^{]*\{([^}]*)\}", page)
    assert (
        sticky and "position:sticky;left:0" in sticky.group(1) and "background:" in sticky.group(1)
    )
