"""What a user sees when a magic fails: one UsageError line, in IPython and in a kernel."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import numpy as np
from IPython.core.error import UsageError

import nbopt
from nbopt.engine.store import results


def _shown(capsys) -> list[str]:
    """What the user sees on stderr, less the progress lines of a terminal."""
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if not line.startswith("[nbopt]")]


def test_ctrl_c_prints_one_line_and_keeps_the_rows_measured(
    ip, ns, capsys, monkeypatch, weights_unchanged
):
    """A real SIGINT while the comparison runs: the rows measured so far stay."""
    record = results.record
    seen = []

    def record_then_interrupt(row, content=None):
        record(row, content)
        seen.append(row["scheme"])
        if len(seen) == 2:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C (or a kernel interrupt) sends
            for _ in range(10**8):  # the handler raises KeyboardInterrupt within this loop
                pass

    monkeypatch.setattr(results, "record", record_then_interrupt)
    weights_unchanged.snapshot(ns["model"])
    names = dict(ns)
    before = len(nbopt.results())
    capsys.readouterr()
    cell = ip.run_cell(
        "%quantize model --scheme float16, dynamic, int8 --calib x_train[:64] --as cmp"
    )
    assert type(cell.error_in_exec) is UsageError
    assert isinstance(cell.error_in_exec.__cause__, KeyboardInterrupt)
    assert _shown(capsys) == [
        "UsageError: interrupted: 2 of 4 rows measured and kept in nbopt.results() "
        "(%nbopt results shows them)"
    ]
    kept = nbopt.results().iloc[before:]
    assert list(kept["scheme"]) == ["float32", "float16"] and (kept["status"] == "ok").all()
    assert (kept["size_bytes"] > 0).all()
    assert set(ns) == set(names) and "cmp" not in ns  # --as is not bound
    weights_unchanged.check()


def test_a_tensorflow_error_is_restated_in_one_line_with_the_original_kept(
    ip, ns, capsys, weights_unchanged
):
    """Labels outside the model's classes: TensorFlow's error, restated; the cause is kept."""
    import tensorflow as tf

    ns["y_bad"] = ns["y_train"] + 20
    weights_unchanged.snapshot(ns["model"])
    capsys.readouterr()
    cell = ip.run_cell("%prune model --sparsity 0.5 --fit x_train, y_bad --epochs 1")
    error = cell.error_in_exec
    assert type(error) is UsageError
    causes = [error.__cause__, getattr(error.__cause__, "__cause__", None)]
    assert any(isinstance(c, tf.errors.InvalidArgumentError) for c in causes)
    assert sys.last_value is error  # so "sys.last_value.__cause__" reaches the original
    (line,) = _shown(capsys)
    assert line.startswith("UsageError: fine-tuning (prune) failed: Received a label value of ")
    assert "which is outside the valid range of [0, 10)" in line
    assert line.endswith(
        "; check that --fit's labels fit the model's output, or fine-tune in the cell body "
        "with your own compile and fit"
    )
    del ns["y_bad"]
    weights_unchanged.check()


def test_an_error_in_the_cells_own_code_keeps_its_traceback(ip, ns, capsys):
    """The user's fine-tuning code is theirs: its traceback shows their lines, not nbopt's."""
    capsys.readouterr()
    cell = ip.run_cell(
        "%%prune model --sparsity 0.5 --as pruned\nsteps = 3\nraise ValueError('my own mistake')"
    )
    assert type(cell.error_in_exec) is ValueError
    captured = capsys.readouterr()
    shown = re.sub(r"\x1b\[[0-9;]*m", "", captured.out + captured.err)  # no colours
    assert "raise ValueError('my own mistake')" in shown and "steps = 3" in shown
    assert "ValueError: my own mistake" in shown
    assert "magics.py" not in shown and "training.py" not in shown
    assert "pruned" not in ns


def test_in_a_jupyter_kernel_a_mistake_is_one_line(tmp_path):
    """A real kernel: stderr holds one line, the reply is a UsageError with no frames."""
    from jupyter_client.manager import start_new_kernel

    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "3"}
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(tmp_path))

    def run(code: str) -> tuple[dict, list[dict]]:
        messages: list[dict] = []
        reply = kc.execute_interactive(code, output_hook=messages.append, timeout=300)
        return reply["content"], messages

    try:
        ok, _ = run(
            "%load_ext nbopt\n%config NbOpt.isolate = False\n"
            "import numpy as np, tf_keras as keras\n"
            "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
            "x_test, y_test = np.zeros((8, 4), 'float32'), np.zeros(8, 'int64')"
        )
        assert ok["status"] == "ok"
        cases = {
            "%quantize model --scheme int8": "UsageError: int8 needs calibration data; pass "
            "representative samples, e.g. --calib x_train[:256] (calib=...)",
            "%quantize model --eval x_test y_test": "UsageError: --eval x_test y_test: 'y_test' "
            "is cut off from --eval's value; assign the expression to a variable first "
            "(data = ...) and pass its name (--eval data)",
            "%nbopt inspect model --verify": "UsageError: %nbopt inspect does not take "
            "--verify: it is an option of %nbopt recommend; see %nbopt? for the options",
        }
        for code, expected in cases.items():
            reply, messages = run(code)
            assert reply["status"] == "error" and reply["ename"] == "UsageError"
            assert reply["traceback"] == []
            assert not [m for m in messages if m["msg_type"] == "error"]
            stderr = "".join(
                m["content"]["text"]
                for m in messages
                if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
            )
            assert stderr == expected + "\n"
        reply, _ = run("assert 'model' in dir() and float(np.sum(model.get_weights()[1])) == 0")
        assert reply["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_an_api_error_is_a_value_error_not_a_usage_error(trained_cnn):
    """The Python API keeps nbopt's own errors; only the magics speak UsageError."""
    try:
        nbopt.quantize(trained_cnn, "int8", calib=np.zeros((4, 3)))
    except Exception as exc:  # noqa: BLE001 - the type is what is tested
        assert isinstance(exc, ValueError) and not isinstance(exc, UsageError)
    else:
        raise AssertionError("no error")


def test_errors_are_named_after_the_library_that_raised_them():
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    from nbopt.magics.errors import library_of

    def raised(call):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the exception is what is tested
            return exc
        raise AssertionError("no error")

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    clustering = raised(lambda: tfmot.clustering.keras.cluster_weights(model, number_of_clusters=1))
    assert library_of(clustering) == "tfmot"
    assert library_of(raised(lambda: tf.reshape(tf.zeros(3), [2]))) == "TensorFlow"
    assert library_of(raised(lambda: int("nbopt's own bug"))) is None
