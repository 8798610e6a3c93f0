"""The panel, driven as a user would without a browser: set values, click, read state.

No test sleeps or times anything: the runner is driven in the test's thread and cancelled
from a listener on its rows; a click's background run is joined with ``wait()``.
"""

from __future__ import annotations

import pandas as pd
import pytest

import nbopt
from nbopt.display import COMPARISON_MIME
from nbopt.engine.analyse.pareto import pareto_mask
from nbopt.errors import NbOptUsageError
from nbopt.widgets.panel import Panel
from nbopt.widgets.runner import PanelState, Runner, Settings


def _tree(widget):
    """Every widget under ``widget``, depth first."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _tree(child)


def test_disabled_choices_show_a_hint_beside_them_saying_what_to_pass(trained_cnn, digits):
    _, _, x_test, y_test = digits
    panel = nbopt.panel(trained_cnn, eval=(x_test, y_test), name="<i>net</i>")
    boxes = panel.checkboxes
    assert [k for k, b in boxes.items() if not b.disabled] == ["float16", "dynamic"]
    # The hint is a visible HTML in the same row as its checkbox (a Checkbox's tooltip is
    # not shown in ipywidgets 8).
    rows = [w for w in _tree(panel) if boxes["int8"] in getattr(w, "children", ())]
    assert rows and panel.hints["int8"] in rows[0].children
    for key in ("int8", "int16x8"):
        assert "--calib x_train[:256]" in panel.hints[key].value
    for key in ("qat", "prune", "cluster"):
        assert "--fit x_train,y_train" in panel.hints[key].value
    assert panel.hints["dynamic"].value.endswith("></span>")  # enabled: no hint
    assert panel.sparsity.disabled and panel.clusters.disabled and panel.epochs.disabled
    # The recommendation (no data: dynamic range) is pre-selected and explained.
    assert panel.schemes == ["dynamic"] and boxes["dynamic"].value
    assert "dynamic-range quantization needs none" in panel.advice.value
    with pytest.raises(
        NbOptUsageError, match=r"^int8 needs --calib x_train\[:256\] \(calib=...\)$"
    ):
        panel.schemes = ["int8"]
    with pytest.raises(NbOptUsageError, match="unknown scheme 'int4'"):
        panel.schemes = ["int4"]
    assert "&lt;i&gt;net&lt;/i&gt;" in panel.children[0].value
    # Ticking a box is the state's selection; the state's selection ticks the boxes.
    boxes["float16"].value = True
    assert panel.model_state.selection == ["float16", "dynamic"]
    panel.model_state.selection = ["float16"]
    assert [k for k, b in boxes.items() if b.value] == ["float16"]
    # Changing the target changes the advice: float16 for GPU.
    panel.target.value = "gpu"
    assert panel.recommendation.scheme == "float16" and boxes["float16"].value
    # Without a kernel the widget is one line of text, never the widget's raw repr.
    assert repr(panel) == "nbopt panel for '<i>net</i>' (0 variants measured)"
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"] == repr(panel)
    assert panel.export_button.disabled and panel.export_choice.value is None


def test_the_runner_measures_a_selection_into_its_state_without_widgets(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    state = PanelState(selection=["int8", "dynamic"])
    runner = Runner(state, trained_cnn, calib=x_train[:128], eval=(x_test, y_test), name="cnn")
    seen = []
    state.observe(lambda c: seen.append([r["scheme"] for r in c["new"]]), names="rows")
    runner.run(Settings())
    assert state.state == "done" and state.error is None
    assert state.variants == ["float32", "dynamic", "int8"]
    assert seen == [[], ["float32"], ["float32", "dynamic"], ["float32", "dynamic", "int8"]]
    assert [r["status"] for r in state.rows] == ["ok", "ok", "ok"]
    assert state.rows[2]["size_ratio"] > 3.3
    assert {k: p["fraction"] for k, p in state.progress.items()} == {
        "float32": 1.0,
        "dynamic": 1.0,
        "int8": 1.0,
    }
    # The last measured variant is chosen for export.
    assert state.chosen == "int8" and set(runner.models) == {"float32", "dynamic", "int8"}
    # The rows are the engine's: the same dicts are in nbopt.results().
    recorded = nbopt.results()
    assert recorded["run_id"].isin([state.rows[1]["run_id"]]).sum() == 3
    comparison = runner.comparison
    assert comparison.done and len(comparison) == 3
    sizes = [r["size_bytes"] for r in state.rows]
    mask = pareto_mask(sizes, [r["accuracy"] for r in state.rows])
    assert runner.pareto() == [v for v, m in zip(state.variants, mask) if m]
    assert "float32" not in runner.pareto()


def test_cancel_from_a_listener_stops_after_the_current_step(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    state = PanelState(selection=["float16", "dynamic", "int8", "int16x8"])
    runner = Runner(state, trained_cnn, calib=x_train[:128], eval=(x_test, y_test))

    def cancel_on_first_row(change):
        if len(change["new"]) == 1:
            runner.cancel()
            assert state.state == "cancelling"

    state.observe(cancel_on_first_row, names="rows")
    runner.run(Settings())
    assert state.state == "cancelled"
    assert state.variants == ["float32"] and state.rows[0]["status"] == "ok"
    messages = {k: p["message"] for k, p in state.progress.items()}
    assert messages == {
        "float32": "ok",
        "float16": "cancelled",
        "dynamic": "cancelled",
        "int8": "cancelled",
        "int16x8": "cancelled",
    }
    # What was measured before Cancel can be exported: its model came with its row.
    assert state.chosen == "float32" and list(runner.models) == ["float32"]
    assert runner.models["float32"].size == state.rows[0]["size_bytes"]
    # Ready to run again, from the start.
    state.unobserve(cancel_on_first_row, names="rows")
    state.selection = ["float16"]
    runner.run(Settings())
    assert state.state == "done" and state.variants == ["float32", "float16"]


def test_a_technique_refused_before_training_is_a_failed_row_in_results(trained_cnn, digits):
    x_train, y_train, x_test, y_test = digits
    state = PanelState(selection=["cluster"])
    runner = Runner(state, trained_cnn, eval=(x_test, y_test), fit=(x_train, y_train))
    runner.run(Settings(clusters=1))  # the slider stops at 2; the engine refuses 1
    assert state.state == "done"
    assert state.variants == ["float32", "cluster"]
    failed = state.rows[1]
    assert failed["status"] == "failed" and failed["technique"] == "cluster"
    assert failed["error"].startswith("clusters must be a whole number of 2 or more, got 1")
    recorded = nbopt.results()
    mine = recorded[recorded["run_id"] == failed["run_id"]]
    assert mine[["technique", "status", "error"]].values.tolist() == [
        ["cluster", "failed", failed["error"]]
    ]
    assert state.chosen == "float32"  # the failed variant has nothing to export


def test_panel_magic_runs_live_saves_its_comparison_and_exports_the_last_variant(ip, ns, tmp_path):
    from IPython.core.displaypub import CapturingDisplayPublisher

    panel = ip.run_line_magic("nbopt", "panel model --calib x_train[:128] --eval x_test,y_test")
    assert isinstance(panel, Panel)
    assert panel.schemes == ["int8"]  # recommended with calibration data
    publisher, ip.display_pub = ip.display_pub, CapturingDisplayPublisher()
    try:
        panel._ipython_display_()  # what the cell's result does in a kernel
        widget, saved = ip.display_pub.outputs
        assert "application/vnd.jupyter.widget-view+json" in widget["data"]
        assert widget["data"]["text/plain"] == "nbopt panel for 'model' (0 variants measured)"
        assert saved["data"] == {"text/plain": "nbopt panel for 'model': no run yet"}
        display_id = saved["transient"]["display_id"]

        panel.checkboxes["dynamic"].value = True
        updates = []
        panel.live.observe(lambda c: updates.append(c["new"]), names="outputs")
        panel.run_button.click()
        assert panel.run_button.disabled
        assert panel.wait() and panel.state == "done", panel.error
    finally:
        outputs, ip.display_pub = ip.display_pub.outputs, publisher
    df = panel.df
    assert df["variant"].tolist() == ["float32", "dynamic", "int8"]
    assert (df["status"] == "ok").all() and df.loc[2, "size_ratio"] > 3.3
    assert panel.status.value.startswith("done: 3 rows")
    assert [b.value for b, _ in panel.bars.values()] == [1.0, 1.0, 1.0]
    assert repr(panel) == "nbopt panel for 'model' (3 variants measured)"
    # The live view showed the comparison's own MIME bundle (as %quantize does) as rows
    # arrived; at the end the comparison moved into the cell's saved output.
    live = [u for u in updates if u]
    assert [len(u[0]["data"][COMPARISON_MIME]["rows"]) for u in live] == [1, 2, 3]
    assert [u[0]["data"][COMPARISON_MIME]["done"] for u in live] == [False, False, False]
    assert "<table" in live[-1][0]["data"]["text/html"]
    assert panel.live.outputs == ()
    (update, widget_update) = [o for o in outputs[2:] if o["update"]]
    assert update["transient"]["display_id"] == display_id
    payload = update["data"][COMPARISON_MIME]
    assert payload["done"] and [r["scheme"] for r in payload["rows"]] == df["scheme"].tolist()
    assert [r["size_bytes"] for r in payload["rows"]] == df["size_bytes"].tolist()
    # ... and the widget's text, what a notebook opened without a kernel shows of it.
    assert widget_update["transient"]["display_id"] == widget["transient"]["display_id"]
    assert widget_update["data"]["text/plain"] == "nbopt panel for 'model' (3 variants measured)"
    assert "the comparison is below" in panel.status.value
    # Export: the last measured variant is chosen, and writes with the table.
    assert panel.export_choice.options == ("float32", "dynamic", "int8")
    assert panel.export_choice.value == "int8" and not panel.export_button.disabled
    panel.export_path.value = str(tmp_path)
    panel.export_button.click()
    tflite = tmp_path / "model_int8.tflite"
    assert tflite.read_bytes() == panel.models["int8"].content
    csv = pd.read_csv(tmp_path / "model_results.csv")
    assert csv["variant"].tolist() == df["variant"].tolist()
    # Another choice, and never over existing files unless asked.
    panel.export_choice.value = "dynamic"
    assert panel.model_state.chosen == "dynamic"
    panel.export_button.click()
    assert "already exists" in panel.export_status.value
    assert not (tmp_path / "model_dynamic.tflite").exists()
    panel.export_force.value = True
    panel.export_button.click()
    assert (tmp_path / "model_dynamic.tflite").read_bytes() == panel.models["dynamic"].content
    assert "wrote" in panel.export_status.value


def test_pruning_from_the_panel_uses_the_slider_and_shares_the_baseline(trained_cnn, digits):
    x_train, y_train, x_test, y_test = digits
    panel = nbopt.panel(trained_cnn, eval=(x_test, y_test), fit=(x_train, y_train))
    assert not panel.checkboxes["prune"].disabled
    assert "calibrated on the --fit inputs" in panel.hints["int8"].value
    panel.schemes = ["prune"]
    panel.sparsity.value = 0.5
    panel.run()
    assert panel.wait() and panel.state == "done", panel.error
    df = panel.df
    assert df["variant"].tolist() == ["float32", "prune"]  # one baseline, not two
    assert df.loc[1, "target_sparsity"] == 0.5 and df.loc[1, "sparsity"] >= 0.45
    assert panel.export_choice.value == "prune"
    # Not displayed in a notebook: the live view keeps the final comparison.
    (final,) = panel.live.outputs
    assert final["data"][COMPARISON_MIME]["done"]
    assert [r["technique"] for r in final["data"][COMPARISON_MIME]["rows"]] == [
        "baseline",
        "prune",
    ]


def test_the_stored_sparse_box_adds_the_pruned_model_stored_sparse(trained_cnn, digits):
    """Ticked, pruning gives two rows: the dense pruned model and the same weights stored
    sparse, a smaller file whose dense weights live in RAM (and not on an MCU)."""
    x_train, y_train, x_test, y_test = digits
    panel = nbopt.panel(trained_cnn, eval=(x_test, y_test), fit=(x_train, y_train))
    assert not panel.sparse.disabled
    panel.schemes = ["prune"]
    panel.sparsity.value = 0.8
    panel.sparse.value = True
    panel.run()
    assert panel.wait() and panel.state == "done", panel.error
    pruned = [r for r in panel.comparison.rows if r["technique"] == "prune"]
    rows = {bool(r.get("stored_sparse")): r for r in pruned}
    dense, sparse = rows[False], rows[True]
    assert sparse["size_bytes"] < 0.5 * dense["size_bytes"]  # 80% zeros, not stored
    assert sparse["ram_bytes"] > dense["ram_bytes"]  # DENSIFY's dense weights in the arena
    assert sparse["mcu_ready"] is False
    assert sparse["accuracy"] == pytest.approx(dense["accuracy"], abs=1e-9)


def test_the_cancel_button_stops_a_run_after_its_current_step(trained_cnn, digits, tmp_path):
    x_train, _, x_test, y_test = digits
    panel = nbopt.panel(trained_cnn, calib=x_train[:128], eval=(x_test, y_test))
    panel.schemes = "float16,dynamic,int8"

    def click_cancel_on_first_row(change):
        if len(change["new"]) == 1:
            panel.cancel_button.click()

    panel.model_state.observe(click_cancel_on_first_row, names="rows")
    panel.run_button.click()
    assert panel.wait() and panel.state == "cancelled"
    assert panel.df["variant"].tolist() == ["float32"]
    assert panel.status.value.startswith("cancelled: kept 1 row measured in")
    labels = {key: label.value for key, (_, label) in panel.bars.items()}
    assert labels == {
        "float32": "ok",
        "float16": "cancelled",
        "dynamic": "cancelled",
        "int8": "cancelled",
    }
    assert not panel.run_button.disabled and panel.cancel_button.disabled
    # The row kept can be exported: it is chosen, and Export writes its .tflite and the table.
    assert panel.export_choice.options == ("float32",)
    assert panel.export_choice.value == "float32" and not panel.export_button.disabled
    panel.export_path.value = str(tmp_path)
    panel.export_button.click()
    tflite = tmp_path / "digits_cnn_float32.tflite"
    assert tflite.stat().st_size == panel.df["size_bytes"].iloc[0]
    assert (tmp_path / "digits_cnn_results.csv").read_text().count("\n") == 2


@pytest.fixture(scope="module")
def planted(digits):
    """The MLP of tests/test_debug.py that int8 breaks (``hidden`` and ``mid``), with the
    digits flattened for it."""
    from test_debug import planted_mlp

    x_train, y_train, x_test, y_test = digits
    flat = x_train.reshape(len(x_train), -1), y_train, x_test.reshape(len(x_test), -1), y_test
    return planted_mlp(flat[0], flat[1]), flat


def test_the_runner_debugs_int8_and_keeps_the_ticked_layers_float(planted):
    from test_debug import LAYERS

    model, (x_train, _, x_test, y_test) = planted
    state = PanelState()
    runner = Runner(state, model, calib=x_train[:256], eval=(x_test, y_test), name="planted")
    runner.debug()
    assert state.debug_state == "done" and state.debug_error is None
    assert [r["layer"] for r in state.debug_rows][:2] == ["hidden", "mid"]
    assert sorted(r["layer"] for r in state.debug_rows) == sorted(LAYERS)
    assert [r["suspect"] for r in state.debug_rows] == [True, True, False, False, False]
    assert state.float_layers == ["hidden", "mid"]  # the suspects, pre-ticked
    with pytest.raises(NbOptUsageError, match="no debugged layer 'hiden'"):
        state.float_layers = ["hiden"]
    runner.quantize_float(Settings())
    assert state.state == "done", state.error
    assert state.variants == ["float32", "int8 float=hidden,mid"]
    base, row = state.rows
    assert row["float_layers"] == "hidden,mid" and row["float_ops"] == 2
    assert abs(row["accuracy"] - base["accuracy"]) <= 0.02 and base["accuracy"] > 0.9
    assert state.chosen == "int8 float=hidden,mid"
    recorded = nbopt.results()
    assert recorded["run_id"].isin([row["run_id"]]).sum() == 2  # through the engine


def test_the_debug_button_shows_the_report_and_the_ticked_layers_run(planted):
    model, (x_train, _, x_test, y_test) = planted
    panel = nbopt.panel(model, calib=x_train[:256], eval=(x_test, y_test))
    assert not panel.debug_button.disabled and panel.debug_hint.value.endswith("></span>")
    assert panel.float_button.layout.display == "none"
    panel.debug_button.click()
    assert panel.wait() and panel.model_state.debug_state == "done"
    (shown,) = panel.debug_output.outputs
    page = shown["data"]["text/html"]
    assert page.count('class="nbopt-bar"') == 5 and "Try --float hidden,mid" in page
    checks = panel.layer_checks
    assert list(checks)[:2] == ["hidden", "mid"] and len(checks) == 5
    assert [k for k, b in checks.items() if b.value] == ["hidden", "mid"]
    assert panel.debug_status.value.startswith("2 suspect layers ticked")
    assert panel.float_button.layout.display == ""
    # Unticking a layer is the state's; ticking it again restores the suspects.
    checks["mid"].value = False
    assert panel.float_layers == ["hidden"]
    checks["mid"].value = True
    panel.run_button.click()  # the recommended int8 first: the float run adds its row
    assert panel.wait() and panel.state == "done", panel.error
    panel.float_button.click()
    assert panel.wait() and panel.state == "done", panel.error
    df = panel.df
    assert df["variant"].tolist() == ["float32", "int8", "int8 float=hidden,mid"]
    assert df.loc[1, "accuracy"] < 0.3  # int8 collapses ...
    assert abs(df.loc[2, "accuracy"] - df.loc[0, "accuracy"]) <= 0.02  # ... not them float
    assert df.loc[2, "float_layers"] == "hidden,mid"
    (final,) = panel.live.outputs
    assert [r["float_layers"] for r in final["data"][COMPARISON_MIME]["rows"]][2] == "hidden,mid"
    assert panel.export_choice.value == "int8 float=hidden,mid"


def test_debug_int8_is_disabled_with_a_hint_without_calibration_data(planted):
    model, (_, _, x_test, y_test) = planted
    panel = nbopt.panel(model, eval=(x_test, y_test))
    assert panel.debug_button.disabled
    assert "--calib x_train[:256]" in panel.debug_hint.value
    rows = [w for w in _tree(panel) if panel.debug_button in getattr(w, "children", ())]
    assert rows and panel.debug_hint in rows[0].children
    with pytest.raises(NbOptUsageError, match=r"^Debug int8 needs --calib x_train\[:256\]"):
        panel.debug()
    assert panel.model_state.debug_state == "idle"


def test_the_debug_run_and_a_measuring_run_refuse_to_overlap(planted):
    model, (x_train, _, x_test, y_test) = planted
    state = PanelState(selection=["dynamic"])
    runner = Runner(state, model, calib=x_train[:64], eval=(x_test, y_test))
    refused = []

    def try_debug(change):
        if change["new"] == "running":
            with pytest.raises(NbOptUsageError, match=r"^the panel is already running; wait\(\)$"):
                runner.debug()
            refused.append(True)

    state.observe(try_debug, names="state")
    runner.run(Settings())
    assert refused == [True] and state.state == "done" and state.debug_state == "idle"
