"""The panel, driven as a user would without a browser: set values, click, read state."""

from __future__ import annotations

import time

import numpy as np
import pytest

import nbopt
from nbopt.engine.pareto import pareto_mask
from nbopt.errors import NbOptUsageError
from nbopt.widgets.panel import Panel


def test_choices_without_their_data_are_disabled_and_say_what_to_pass(trained_cnn, digits):
    _, _, x_test, y_test = digits
    panel = nbopt.panel(trained_cnn, eval=(x_test, y_test), name="<i>net</i>")
    boxes = panel.checkboxes
    assert [k for k, b in boxes.items() if not b.disabled] == ["float16", "dynamic"]
    for key in ("int8", "int16x8"):
        assert "--calib x_train[:256]" in boxes[key].tooltip
    for key in ("qat", "prune", "cluster"):
        assert "--fit x_train,y_train" in boxes[key].tooltip
    assert panel.sparsity.disabled and panel.clusters.disabled and panel.epochs.disabled
    # The recommendation (no data: dynamic range) is pre-selected and explained.
    assert panel.schemes == ["dynamic"]
    assert "dynamic-range quantization needs none" in panel.advice.value
    with pytest.raises(NbOptUsageError, match="--calib"):
        panel.schemes = ["int8"]
    assert "&lt;i&gt;net&lt;/i&gt;" in panel.children[0].value
    # Changing the target changes the advice: float16 for GPU.
    panel.target.value = "gpu"
    assert panel.recommendation.scheme == "float16" and boxes["float16"].value


def test_panel_magic_runs_dynamic_and_int8_with_a_live_table_and_chart(
    ip, trained_cnn, digits, tmp_path
):
    x_train, y_train, x_test, y_test = digits
    ip.user_ns.update(model=trained_cnn, x_train=x_train, x_test=x_test, y_test=y_test)
    panel = ip.run_line_magic("nbopt", "panel model --calib x_train[:128] --eval x_test,y_test")
    assert isinstance(panel, Panel)
    assert panel.schemes == ["int8"]  # recommended with calibration data
    panel.checkboxes["dynamic"].value = True
    started = time.perf_counter()
    panel.run_button.click()
    assert time.perf_counter() - started < 1.0 and panel.running  # off the cell
    assert panel.run_button.disabled and not panel.cancel_button.disabled
    assert panel.wait(90) and panel.state == "done"
    df = panel.df
    assert df["variant"].tolist() == ["float32", "dynamic", "int8"]
    assert (df["status"] == "ok").all() and df.loc[2, "size_ratio"] > 3.3
    assert panel.status.value.startswith("done: 3 rows")
    assert [b.value for b, _ in panel.bars.values()] == [1.0, 1.0, 1.0]
    # The chart's data is the table's data.
    np.testing.assert_array_equal(panel.chart.points.x, df["size_bytes"].astype(float))
    np.testing.assert_array_equal(panel.chart.points.y, df["accuracy"])
    np.testing.assert_array_equal(panel.chart.points.color, df["latency_ms"])
    assert list(panel.chart.points.names) == ["float32", "dynamic", "int8"]
    mask = pareto_mask(df["size_bytes"].tolist(), df["accuracy"].tolist())
    assert panel.pareto == df["variant"][mask].tolist()
    assert "dynamic" in panel.pareto and "float32" not in panel.pareto
    assert sorted(panel.chart.front.x) == sorted(df["size_bytes"][mask].astype(float))
    # The table and the compatibility columns are in the panel.
    assert panel.table.value.count("<tr") >= 4 + 3 and "Edge TPU" in panel.table.value
    # Export: the chosen variant and the table, never over existing files unless asked.
    panel.export_choice.value = "int8"
    panel.export_path.value = str(tmp_path)
    panel.export_button.click()
    tflite = tmp_path / "model_int8.tflite"
    assert tflite.read_bytes() == panel.models["int8"].content
    import pandas as pd

    assert pd.read_csv(tmp_path / "model_results.csv")["variant"].tolist() == df["variant"].tolist()
    tflite.write_bytes(b"keep me")
    panel.export_button.click()
    assert "already exists" in panel.export_status.value
    assert tflite.read_bytes() == b"keep me"
    panel.export_force.value = True
    panel.export_button.click()
    assert tflite.read_bytes() == panel.models["int8"].content
    assert "wrote" in panel.export_status.value


def test_cancel_stops_after_the_current_step_and_keeps_finished_rows(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    panel = nbopt.panel(trained_cnn, calib=x_train[:128], eval=(x_test, y_test))
    panel.schemes = "float16,dynamic,int8,int16x8"
    panel.run()
    deadline = time.monotonic() + 60
    while not panel.rows and time.monotonic() < deadline:
        time.sleep(0.01)
    panel.cancel_button.click()
    assert panel.wait(60) and panel.state == "cancelled"
    kept = panel.df
    assert 1 <= len(kept) < 5 and (kept["status"] == "ok").all()
    assert kept["variant"].tolist()[0] == "float32"
    labels = [label.value for _, label in panel.bars.values()]
    assert labels.count("cancelled") == 5 - len(kept)
    assert panel.status.value.startswith(f"cancelled: kept the {len(kept)} rows")
    assert not panel.run_button.disabled  # ready to run again


def test_pruning_from_the_panel_uses_the_slider_and_shares_the_baseline(trained_cnn, digits):
    x_train, y_train, x_test, y_test = digits
    panel = nbopt.panel(trained_cnn, eval=(x_test, y_test), fit=(x_train, y_train))
    assert not panel.checkboxes["prune"].disabled
    assert "calibrated on the --fit inputs" in panel.checkboxes["int8"].tooltip
    panel.schemes = ["prune"]
    panel.sparsity.value = 0.5
    panel.run()
    assert panel.wait(90) and panel.state == "done", panel.error
    df = panel.df
    assert df["variant"].tolist() == ["float32", "prune"]  # one baseline, not two
    assert df.loc[1, "target_sparsity"] == 0.5 and df.loc[1, "sparsity"] >= 0.45
    with pytest.raises(NbOptUsageError, match="unknown scheme 'int4'"):
        panel.schemes = ["int4"]
