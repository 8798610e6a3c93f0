"""Bad input gets one clear error, the user's work is never lost, outputs are text only."""

# ruff: noqa: E501  (the exact messages a user reads, one per line)

from __future__ import annotations

import gc
import os
import tempfile

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbopt
from nbopt.display import comparison_bundle, comparison_html, model_bundle
from nbopt.errors import NbOptError

# Every magic, every kind of mistake: exactly one UsageError line that says what to do.
# (magic, line, cell body or None, the exact message)
BAD_MAGIC_CALLS = [
    (
        "quantize",
        "model --aware --allow-flex --fit x_train,y_train",
        None,
        "--allow-flex applies to post-training schemes, not to --aware",
    ),
    (
        "quantize",
        "modle --scheme dynamic",
        None,
        "no variable named 'modle' in this kernel; pass the name of a Keras model",
    ),
    ("quantize", "notamodel --scheme dynamic", None, "model is a list, not a Keras model"),
    (
        "quantize",
        "model --scheme int9",
        None,
        "unknown scheme 'int9'; choose from float32, float16, dynamic, int8, int16x8, int4, int4-block32, int4-block64, weight-int8, weight-int4",
    ),
    (
        "quantize",
        "model --scheme int8,int16x8",
        None,
        "int8, int16x8 needs calibration data; pass representative samples, e.g. --calib x_train[:256] (calib=...)",
    ),
    (
        "quantize",
        "model --scheme int8 --calib x_train[:4,:2]",
        None,
        "calibration data: data of shape (4, 2, 8, 1) does not fit the model's input (None, 8, 8, 1); reshape it to (n, 8, 8, 1)",
    ),
    (
        "quantize",
        "model --scheme int8 --calib x_train[",
        None,
        "--calib x_train[: '[' is never closed; assign the expression to a variable first (data = ...) and pass its name (--calib data)",
    ),
    (
        "quantize",
        "model --scheme int8 --calib 1/0",
        None,
        "--calib '1/0': evaluating it raised ZeroDivisionError: division by zero",
    ),
    (
        "quantize",
        "model --scheme dynamic --eval x_test",
        None,
        "evaluation data: got inputs without labels; pass (x, y), e.g. --eval x_test,y_test",
    ),
    (
        "quantize",
        "model --scheme dynamic --eval x_test,y_test[:10]",
        None,
        "evaluation data: x has 360 samples but y has 10; pass arrays of equal length",
    ),
    (
        "quantize",
        "model --scheme dynamic --as class",
        None,
        "--as 'class' is not a valid Python variable name",
    ),
    (
        "quantize",
        "model --scheme dynamic --io int4",
        None,
        "%quantize: argument --io: invalid choice: 'int4' (choose from 'float', 'int8', 'uint8'); see %quantize? for the options",
    ),
    (
        "quantize",
        "model --scheme dynamic --io int8",
        None,
        "io='int8' applies to the int8 scheme; add int8 to the schemes",
    ),
    (
        "quantize",
        "model --scheme dynamic --frobnicate",
        None,
        "unrecognized arguments: --frobnicate; see %quantize? for the options",
    ),
    (
        "quantize",
        "model --fit x_train,y_train",
        None,
        "--fit goes with --aware (quantization-aware training)",
    ),
    (
        "quantize",
        "model --aware --preserve nothing",
        None,
        "%quantize: argument --preserve: invalid choice: 'nothing' (choose from 'sparsity', 'clusters', 'both'); see %quantize? for the options",
    ),
    (
        "quantize",
        "model --aware",
        None,
        "qat fine-tunes the model and needs training data; pass --fit x_train,y_train (fit=(x, y)) or fine-tune in the cell body (%%quantize --aware)",
    ),
    (
        "prune",
        "model --sparsity 1.5 --fit x_train,y_train",
        None,
        "sparsity must be in [0, 1), got 1.5; e.g. --sparsity 0.8 keeps 20% of the weights",
    ),
    (
        "prune",
        "model --sparsity 0.5 --fit x_train,y_train --epochs 0",
        None,
        "epochs must be 1 or more, got 0",
    ),
    (
        "prune",
        "model --sparsity 0.5 --fit x_train,y_train[:5]",
        None,
        "fit data: x has 1437 samples but y has 5; pass arrays of equal length",
    ),
    (
        "prune",
        "model --sparsity 0.5 --fit x_train,y_train --then int4",
        None,
        "unknown --then scheme 'int4'; choose from float16, dynamic, int8, int16x8",
    ),
    (
        "prune",
        "model --fit x_train,y_train",
        None,
        "%prune: the following arguments are required: --sparsity; see %prune? for the options",
    ),
    (
        "prune",
        "model --sparsity 0.5 --fit x_train,y_train --structure 1:3",
        None,
        "unknown structure '1:3'; tfmot supports 2:4 (two zeros in every four weights)",
    ),
    (
        "cluster",
        "model --clusters 0 --fit x_train,y_train",
        None,
        "clusters must be a whole number of 2 or more, got 0; e.g. --clusters 16",
    ),
    (
        "cluster",
        "model --clusters 8",
        None,
        "cluster fine-tunes the model and needs training data; pass --fit x_train,y_train (fit=(x, y)) or fine-tune in the cell body (%%cluster)",
    ),
    (
        "cluster",
        "model --clusters 8 --fit x_train,y_train --init best",
        None,
        "%cluster: argument --init: invalid choice: 'best' (choose from 'kmeans++', 'linear', 'density', 'random'); see %cluster? for the options",
    ),
    (
        "nbopt",
        "results --load /nonexistent/results.csv",
        None,
        "--load: no file '/nonexistent/results.csv'",
    ),
    (
        "nbopt",
        "frobnicate",
        None,
        "%nbopt: argument command: invalid choice: 'frobnicate' (choose from 'results', 'log', 'panel', 'recommend', 'debug', 'inspect', 'load', 'sweep', 'optimize'); see %nbopt? for the options",
    ),
    (
        "quantize",
        "model --scheme dynamic --eval x_test y_test",
        None,
        "--eval x_test y_test: 'y_test' is cut off from --eval's value; assign the expression to a variable first (data = ...) and pass its name (--eval data)",
    ),
    (
        "quantize",
        "model --scheme int8 --calib x_train[:200, :",
        None,
        "--calib x_train[:200, :: '[' is never closed; assign the expression to a variable first (data = ...) and pass its name (--calib data)",
    ),
    (
        "quantize",
        "model --scheme dynamic --eval x_test, y_test)",
        None,
        "--eval x_test, y_test): ')' closes nothing; assign the expression to a variable first (data = ...) and pass its name (--eval data)",
    ),
    (
        "quantize",
        "model --scheme int8 --calib x_train[:2, :3)",
        None,
        "--calib x_train[:2, :3): ')' does not close '['; assign the expression to a variable first (data = ...) and pass its name (--calib data)",
    ),
    (
        "quantize",
        "model --scheme dynamic --save 'unfinished",
        None,
        "--save 'unfinished: the quote ' is never closed; assign the expression to a variable first (data = ...) and pass its name (--save data)",
    ),
    (
        "quantize",
        "model --scheme int8 --then int8",
        None,
        "%quantize does not take --then: it is an option of %prune and %cluster; see %quantize? for the options",
    ),
    (
        "quantize",
        'model --scheme dynamic --eval "(x_test, y_test[:10])"',
        None,
        "evaluation data: x has 360 samples but y has 10; pass arrays of equal length",
    ),
    (
        "quantize",
        'model --scheme int8 --calib "x_train[:4, :2]"',
        None,
        "calibration data: data of shape (4, 2, 8, 1) does not fit the model's input (None, 8, 8, 1); reshape it to (n, 8, 8, 1)",
    ),
    (
        "quantize",
        "model --scheme dynamic, int9",
        None,
        "unknown scheme 'int9'; choose from float32, float16, dynamic, int8, int16x8, int4, int4-block32, int4-block64, weight-int8, weight-int4",
    ),
    (
        "quantize",
        "model --scheme int8 --calib (x[:2] for x in x_train[:4])",
        None,
        "calibration data: data of shape (1, 2, 8, 1) does not fit the model's input (None, 8, 8, 1); reshape it to (n, 8, 8, 1)",
    ),
    (
        "quantize",
        "model --scheme dynamic --threads two",
        None,
        "%quantize: argument -t/--threads: invalid int value: 'two'; see %quantize? for the options",
    ),
    (
        "quantize",
        "model --scheme dynamic --eval x_test, y_test --calib",
        None,
        "%quantize: argument -c/--calib: expected one argument; see %quantize? for the options",
    ),
    (
        "quantize",
        "model --scheme dynamic --sparsity 0.5",
        None,
        "%quantize does not take --sparsity: it is an option of %prune; see %quantize? for the options",
    ),
    (
        "prune",
        "model --sparsity 0.5 --fit x_train, y_train --aware",
        None,
        "%prune does not take --aware: it is an option of %quantize; see %prune? for the options",
    ),
    (
        "cluster",
        "model --clusters 8 --fit (x_train, y_train) --preserve both",
        None,
        "%cluster: argument --preserve: invalid choice: 'both' (choose from 'sparsity'); see %cluster? for the options",
    ),
    (
        "prune",
        "model --sparsity 0.5 --eval x_test, y_test",
        "pruned.fit(x_train, y_train)",
        "%%prune needs --as NAME: the name your cell uses for the model it trains",
    ),
    (
        "quantize",
        "model --scheme int8 --calib x_train[:64]",
        "pass",
        "%%quantize is for quantization-aware training: add --aware",
    ),
    (
        "nbopt",
        "inspect model --verify",
        None,
        "%nbopt inspect does not take --verify: it is an option of %nbopt recommend; see %nbopt? for the options",
    ),
    (
        "nbopt",
        "results model",
        None,
        "%nbopt results takes no model; see %nbopt? for the options",
    ),
    (
        "nbopt",
        "recommend",
        None,
        "%nbopt recommend needs a model, e.g. %nbopt recommend model",
    ),
    (
        "nbopt",
        "recommend model --target tpu",
        None,
        "%nbopt recommend: argument --target: invalid choice: 'tpu' (choose from 'cpu', 'gpu', 'edgetpu', 'dsp', 'mcu'); see %nbopt? for the options",
    ),
    (
        "nbopt",
        "recommend model --verify",
        None,
        "verify needs labelled evaluation data: pass --eval x_test,y_test",
    ),
    (
        "nbopt",
        "panel nothere",
        None,
        "no variable named 'nothere' in this kernel; pass the name of a Keras model",
    ),
    (
        "nbopt",
        "inspect notamodel",
        None,
        "cannot inspect a list; pass a TFLiteModel, a Keras model, bytes or a .tflite path",
    ),
    ("nbopt", "inspect 'nothere.tflite'", None, "no .tflite file at 'nothere.tflite'"),
    (
        "nbopt",
        "results --save",
        None,
        "%nbopt results: argument --save: expected one argument; see %nbopt? for the options",
    ),
    (
        "nbopt",
        "panel model --max-drop 0.1",
        None,
        "%nbopt panel does not take --max-drop: it is an option of %nbopt recommend and %nbopt optimize; see %nbopt? for the options",
    ),
]


def _shown(capsys) -> list[str]:
    """What the user sees on stderr, less the progress lines of a terminal."""
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if not line.startswith("[nbopt]")]


@pytest.mark.parametrize(
    ("magic", "line", "cell", "message"),
    BAD_MAGIC_CALLS,
    ids=[f"{m}:{line}{'+cell' if cell else ''}" for m, line, cell, _ in BAD_MAGIC_CALLS],
)
def test_bad_magic_calls_are_one_usage_error_line_and_change_nothing(
    ip, ns, weights_unchanged, capsys, magic, line, cell, message
):
    ns["notamodel"] = [1, 2, 3]
    weights_unchanged.snapshot(ns["model"])
    names = dict(ns)
    capsys.readouterr()
    source = f"%{magic} {line}" if cell is None else f"%%{magic} {line}\n{cell}"
    result = ip.run_cell(source)
    assert type(result.error_in_exec) is UsageError
    assert _shown(capsys) == [f"UsageError: {message}"]
    assert set(ns) == set(names) and all(ns[k] is names[k] for k in names)
    weights_unchanged.check()


def test_api_mistakes_are_nbopt_errors_that_are_also_value_or_type_errors(trained_cnn):
    cases = [
        lambda: nbopt.quantize(trained_cnn, "bogus"),
        lambda: nbopt.quantize("model", "dynamic"),
        lambda: nbopt.quantize(trained_cnn, "int8", calib="not data"),
        lambda: nbopt.quantize(trained_cnn, "dynamic", eval=42),
        lambda: nbopt.prune(trained_cnn, 2.0, (np.zeros((2, 8, 8, 1)), np.zeros(2))),
        lambda: nbopt.cluster(trained_cnn, 1.5, (np.zeros((2, 8, 8, 1)), np.zeros(2))),
    ]
    for case in cases:
        with pytest.raises(NbOptError) as info:
            case()
        assert isinstance(info.value, (ValueError, TypeError))


EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_rendered_outputs_treat_names_and_errors_as_text(trained_cnn):
    import tensorflow as tf
    import tf_keras as keras

    comparison = nbopt.quantize(trained_cnn, "float16,dynamic", name=EVIL)
    html = comparison_html(comparison)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert model_bundle(comparison["float16"])["text/html"].count("&lt;script&gt;") >= 1
    payload = comparison_bundle(comparison)["application/vnd.nbopt.comparison+json"]
    assert payload["name"] == EVIL  # data, for the extension to show as text

    # an error message that carries markup (a failing variant) is escaped too
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Lambda(tf.sin)(inputs)))
    failed = nbopt.quantize(model, "float16,int16x8", np.zeros((4, 8), "float32"), name=EVIL)
    assert failed.rows[-1]["status"] == "failed"
    html = comparison_html(failed)
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_exports_never_replace_a_file_unless_forced(trained_cnn, tmp_path):
    m = nbopt.quantize(trained_cnn, "dynamic")
    target = tmp_path / "model.tflite"
    target.write_bytes(b"the user's own file")
    with pytest.raises(nbopt.errors.NbOptUsageError, match="already exists.*force"):
        m.save(target)
    assert target.read_bytes() == b"the user's own file"
    m.save(target, force=True)
    assert target.read_bytes() == m.content
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]  # no temporary left


def test_cli_refuses_code_in_model_files_unless_unsafe(tmp_path, capsys):
    import keras
    import tf_keras

    from nbopt.cli import main

    for k, suffix in [(keras, ".keras"), (tf_keras, ".h5")]:
        inputs = k.Input((4,))
        model = k.Model(inputs, k.layers.Lambda(lambda t: t * 2)(inputs))
        path = tmp_path / f"lambda{suffix}"
        model.save(path)
        assert main(["compare", str(path), "--scheme", "float16"]) == 2
        assert "holds code (a Lambda layer)" in capsys.readouterr().err
        assert main(["compare", str(path), "--scheme", "float16", "--unsafe"]) == 0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_fifty_comparisons_do_not_grow_memory_or_leave_files(ip, ns, tmp_path, monkeypatch):
    import tf_keras as keras

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # this process's temporary files

    small = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8), keras.layers.Dense(4)])
    ns["small"] = small

    def run(n: int) -> None:
        for _ in range(n):
            ip.run_line_magic("quantize", "small --scheme dynamic")
        gc.collect()

    run(10)  # warm-up: the worker, caches, first traces
    warm = _rss_mb()
    run(40)
    grown = _rss_mb() - warm
    assert grown < 60, f"memory grew by {grown:.0f} MB over 40 comparisons"
    assert os.listdir(tmp) == []
    n = len(nbopt.results())
    assert n >= 100
    ip.run_line_magic("nbopt", "results --clear")
    assert len(nbopt.results()) == 0
