"""TFLite's decision tree: each branch, the sensitivity check, and verification."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import nbopt
from nbopt.display import recommendation_html
from nbopt.engine.analyse.recommend import decide, outlier_ratio
from nbopt.errors import NbOptUsageError


def labels(rec):
    return [c.label for c in rec.path]


def test_no_data_is_dynamic_range_or_float16_for_gpu():
    cpu = decide(calib=False, fit=False, target="cpu")
    assert (cpu.scheme, cpu.io) == ("dynamic", "float") and labels(cpu) == ["dynamic", "float16"]
    gpu = decide(calib=False, fit=False, target="gpu")
    assert gpu.scheme == "float16" and "GPU" in gpu.reasons[0]


def test_representative_data_is_full_integer():
    rec = decide(calib=True, fit=False, target="cpu")
    assert labels(rec) == ["int8", "int16x8", "dynamic", "float16"]
    assert "full-integer" in rec.reasons[0]
    with_fit = decide(calib=True, fit=True, target="cpu")
    assert labels(with_fit) == ["int8", "int16x8", "qat", "dynamic", "float16"]
    # The inputs of the training data calibrate when no --calib is given.
    assert decide(calib=False, fit=True).scheme == "int8"


def test_integer_only_accelerators_get_int8_io_then_qat():
    tpu = decide(calib=True, fit=True, target="edgetpu")
    assert labels(tpu) == ["int8 (int8 I/O)", "qat (int8 I/O)"] and tpu.needs is None
    dsp = decide(calib=False, fit=False, target="dsp")
    assert labels(dsp) == ["int8 (int8 I/O)"] and dsp.needs == "--calib"
    assert any("--calib x_train[:256]" in r for r in dsp.reasons)
    assert any("--fit x_train,y_train" in r for r in dsp.reasons)


def test_sensitive_activations_pick_int16x8_on_cpu_float16_on_gpu():
    cpu = decide(calib=True, fit=False, target="cpu", sensitive=["dense"])
    assert labels(cpu)[:2] == ["int16x8", "int8"] and "dense" in cpu.reasons[0]
    assert decide(calib=True, fit=False, target="gpu", sensitive=["dense"]).scheme == "float16"


def test_reasons_are_escaped_in_html_and_unknown_targets_refused():
    rec = decide(calib=True, fit=False, sensitive=["<b>x</b>"])
    page = recommendation_html(rec)
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert repr(rec).startswith("Recommendation for cpu: int16x8")
    with pytest.raises(NbOptUsageError, match="unknown target 'tpu'"):
        decide(calib=False, fit=False, target="tpu")


def test_outlier_ratio():
    import numpy as np

    even = np.linspace(0, 1, 10_000)
    assert outlier_ratio(even) == pytest.approx(1.0, rel=0.01)
    spiked = even.copy()
    spiked[0] = 100.0
    assert outlier_ratio(spiked) > 90


def test_recommend_measures_activations_of_the_real_model(trained_cnn, digits):
    x_train, _, _, _ = digits
    assert nbopt.recommend(trained_cnn).scheme == "dynamic"
    plain = nbopt.recommend(trained_cnn, calib=x_train[:128])
    assert plain.scheme == "int8" and plain.sensitive == []
    spiked = x_train[:128].copy()
    spiked[0, 3, 3, 0] = 200.0  # one pixel far outside [0, 1]: int8 steps become 0.8 wide
    rec = nbopt.recommend(trained_cnn, calib=spiked)
    assert rec.scheme == "int16x8" and "input" in rec.sensitive


def test_verify_moves_down_the_tree_while_the_drop_exceeds_the_budget(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    # Calibrating on near-black images sets tiny int8 ranges: real digits clip.
    dim = x_train[:64] * 0.02
    rec = nbopt.recommend(trained_cnn, calib=dim, eval=(x_test, y_test), max_drop=0.02, verify=True)
    steps = [(t["scheme"], t["within_budget"]) for t in rec.trail]
    assert steps[0] == ("int8", False)
    assert rec.trail[0]["accuracy_delta"] < -0.02
    assert steps[-1][1] is True and rec.scheme == steps[-1][0]
    assert rec.model.scheme == rec.scheme
    assert rec.model.row["accuracy_delta"] >= -0.02
    assert any("over the 0.0200 budget" in r for r in rec.reasons)
    table = rec.trail.df  # shown as a table in a notebook, not as a list of dicts
    assert list(table["scheme"]) == [s for s, _ in steps]
    assert list(table["within_budget"]) == [ok for _, ok in steps]
    from IPython.core.interactiveshell import InteractiveShell

    from nbopt.display.formatters import register

    shell = InteractiveShell.instance()
    register(shell)
    data, _ = shell.display_formatter.format(rec.trail)
    assert data["text/html"].startswith("<table") and "within_budget" in data["text/html"]


def test_verify_needs_evaluation_data(trained_cnn):
    with pytest.raises(NbOptUsageError, match="--eval x_test,y_test"):
        nbopt.recommend(trained_cnn, verify=True)


def test_recommend_magic_each_branch(ip, trained_cnn, digits):
    x_train, y_train, _, _ = digits
    ip.user_ns.update(model=trained_cnn, x_train=x_train, y_train=y_train)
    assert ip.run_line_magic("nbopt", "recommend model").scheme == "dynamic"
    assert ip.run_line_magic("nbopt", "recommend model --target gpu").scheme == "float16"
    assert ip.run_line_magic("nbopt", "recommend model --calib x_train[:128]").scheme == "int8"
    tpu = ip.run_line_magic(
        "nbopt", "recommend model --calib x_train[:128] --fit x_train,y_train --target edgetpu"
    )
    assert [c.label for c in tpu.path] == ["int8 (int8 I/O)", "qat (int8 I/O)"]
    with pytest.raises(UsageError, match="needs a model"):
        ip.run_line_magic("nbopt", "recommend")
    with pytest.raises(UsageError, match="no variable named 'nope'"):
        ip.run_line_magic("nbopt", "recommend nope")


def test_inspect_magic_shows_the_op_breakdown(ip, trained_cnn, digits):
    x_train = digits[0]
    ip.user_ns.update(model=trained_cnn, x_train=x_train)
    ip.run_line_magic("quantize", "model --scheme int8 --io int8 --calib x_train[:64] --as m8")
    report = ip.run_line_magic("nbopt", "inspect m8")
    assert report.name == "m8" and report.scheme == "int8"
    assert report.report.inputs == ["INT8"] and report.compat["edgetpu_ready"] is True
    with pytest.raises(UsageError, match="takes no model"):
        ip.run_line_magic("nbopt", "results model")
    ip.user_ns.pop("m8", None)
