"""The magics in a real IPython shell."""

from __future__ import annotations

import os

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbopt


@pytest.fixture(autouse=True)
def forget_bound_names(ip):
    yield
    for name in ("m8", "cmp"):
        ip.user_ns.pop(name, None)


def test_config_is_traitlets_on_a_class_named_NbOpt(ip, ns, caplog):
    from nbopt.config import current

    ip.run_line_magic("config", "NbOpt.latency_runs = 7")
    assert current().latency_runs == 7
    ip.run_line_magic("config", "NbOpt.latency_runs = 0")  # refused, and said so
    assert current().latency_runs == 7
    assert "latency_runs' trait of a NbOpt instance should not be less than 1" in caplog.text


def test_quantize_magic_compares_all_schemes(ip, ns, keras_accuracy, weights_unchanged):
    weights_unchanged.snapshot(ns["model"])
    names_before = set(ns)
    result = ip.run_line_magic(
        "quantize",
        "model --scheme float16,dynamic,int8,int16x8 --calib x_train[:200] --eval x_test,y_test",
    )
    weights_unchanged.check()
    assert set(ns) == names_before  # nothing but --as names is written
    df = result.df.set_index("scheme")
    assert list(df.index) == ["float32", "float16", "dynamic", "int8", "int16x8"]
    assert (df["model"] == "model").all()
    assert df.loc["int8", "size_ratio"] >= 3.3 and df.loc["dynamic", "size_ratio"] >= 3.3
    assert abs(df.loc["int8", "accuracy"] - keras_accuracy) <= 0.03
    bundle, _ = ip.display_formatter.format(result)  # the formatters %load_ext registered
    assert "<table" in bundle["text/html"] and "<svg" in bundle["text/html"]
    payload = bundle["application/vnd.nbopt.comparison+json"]
    assert [r["scheme"] for r in payload["rows"]] == list(df.index)
    assert payload["rows"][0]["error"] is None and payload["columns"][0] == "model"
    import json

    json.dumps(payload, allow_nan=False)  # valid JSON: no NaN
    assert "int16x8" in repr(result)


def test_as_binds_a_tflite_model_for_one_scheme(ip, ns):
    cell = ip.run_cell("%quantize model --scheme int8 --calib x_train[:64] --as m8")
    assert cell.success
    from nbopt import TFLiteModel

    assert isinstance(ns["m8"], TFLiteModel) and ns["m8"].scheme == "int8"
    assert cell.result is ns["m8"]


def test_save_writes_files_and_refuses_to_overwrite(ip, ns, tmp_path):
    out = tmp_path / "models"
    ip.run_line_magic("quantize", f"model --scheme dynamic --save {out}")
    files = sorted(p.name for p in out.iterdir())
    assert files == ["model_dynamic.tflite", "model_float32.tflite"]
    with pytest.raises(UsageError, match="already exists.*--force"):
        ip.run_line_magic("quantize", f"model --scheme dynamic --save {out}")
    ip.run_line_magic("quantize", f"model --scheme dynamic --save {out} --force")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("nothere --scheme dynamic", "no variable named 'nothere'"),
        ("x_test --scheme dynamic", "is a ndarray, not a Keras model"),
        ("model --scheme int3", "unknown scheme 'int3'"),
        ("model --scheme int8", "int8 needs calibration data; pass representative samples"),
        ("model --scheme int8 --calib x_train[:5,:4]", "does not fit the model's input"),
        ("model --scheme dynamic --eval x_test,y_train", "x has 360 samples but y has 1437"),
        ("model --scheme dynamic --eval undefined_thing", "--eval 'undefined_thing': evaluating"),
        ("model --scheme dynamic --as 1bad", "--as '1bad' is not a valid Python variable name"),
        ("model --scheme dynamic --threads 0", "--threads must be 1 or more"),
        ("model --bogus", r"unrecognized arguments: --bogus; see %quantize\? for the options"),
    ],
)
def test_mistakes_are_one_usage_error_line(ip, ns, line, message):
    names = set(ns)
    with pytest.raises(UsageError, match=message) as info:
        ip.run_line_magic("quantize", line)
    assert "\n" not in str(info.value)
    assert set(ns) == names


def test_nbopt_results_save_load_and_clear(ip, ns, tmp_path):
    ip.run_line_magic("quantize", "model --scheme float16")
    df = ip.run_line_magic("nbopt", "results")
    assert len(df) >= 2 and list(df["scheme"].iloc[-2:]) == ["float32", "float16"]
    csv = tmp_path / "results.csv"
    ip.run_line_magic("nbopt", f"results --save {csv}")
    with pytest.raises(UsageError, match="already exists"):
        ip.run_line_magic("nbopt", f"results --save {csv}")
    n = len(df)
    ip.run_line_magic("nbopt", "results --clear")
    assert len(ip.run_line_magic("nbopt", "results")) == 0
    restored = ip.run_line_magic("nbopt", f"results --load {csv}")
    assert len(restored) == n
    assert restored["size_bytes"].tolist() == df["size_bytes"].tolist()
    np.testing.assert_allclose(restored["latency_ms"], df["latency_ms"])


def test_help_is_real(ip):
    doc = ip.find_line_magic("quantize").__doc__
    assert "--calib" in doc and "--scheme" in doc and "%quantize model" in doc


def test_load_ext_selects_tf_keras_before_tensorflow_is_imported(tmp_path):
    """In a fresh IPython process: the message, the env var and tf.keras being Keras 2."""
    import subprocess
    import sys

    script = tmp_path / "s.ipy"
    script.write_text(
        "%load_ext nbopt\n"
        "import os, sys\n"
        "print('LEGACY', os.environ.get('TF_USE_LEGACY_KERAS'))\n"
        "import tensorflow as tf\n"
        "print('KERAS', tf.keras.__name__.split('.')[0])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    ipython = os.path.join(os.path.dirname(sys.executable), "ipython")
    out = subprocess.run(
        [ipython, "--quick", str(script)], capture_output=True, text=True, env=env, timeout=300
    ).stdout
    assert "nbopt: set TF_USE_LEGACY_KERAS=1" in out
    assert "LEGACY 1" in out and "KERAS tf_keras" in out


def test_nbopt_log_prints_what_the_last_run_captured(ip, ns, capsys):
    ip.run_line_magic("quantize", "model --scheme int8 --calib x_train[:64]")
    captured = nbopt.log()
    assert captured.strip(), "the converter's output was not kept"
    capsys.readouterr()
    ip.run_line_magic("nbopt", "log")
    assert capsys.readouterr().out.strip() == captured.strip()
