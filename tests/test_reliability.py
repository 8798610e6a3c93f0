"""Bad input gets one clear error, the user's work is never lost, outputs are text only."""

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

# Every magic, every kind of mistake: one UsageError line that says what to do.
BAD_MAGIC_CALLS = [
    ("quantize", "modle --scheme dynamic", "no variable named 'modle'"),
    ("quantize", "notamodel --scheme dynamic", "is a list, not a Keras model"),
    ("quantize", "model --scheme int9", "unknown scheme 'int9'; choose from"),
    ("quantize", "model --scheme int8,int16x8", "int8, int16x8 needs calibration data"),
    ("quantize", "model --scheme int8 --calib x_train[:4,:2]", "does not fit the model's input"),
    (
        "quantize",
        "model --scheme int8 --calib x_train[",
        r"--calib 'x_train\[': evaluating it raised SyntaxError",
    ),
    ("quantize", "model --scheme int8 --calib 1/0", "raised ZeroDivisionError"),
    ("quantize", "model --scheme dynamic --eval x_test", "got inputs without labels"),
    (
        "quantize",
        "model --scheme dynamic --eval x_test,y_test[:10]",
        "x has 360 samples but y has 10",
    ),
    ("quantize", "model --scheme dynamic --as class", "--as 'class' is not a valid Python"),
    ("quantize", "model --scheme dynamic --io int4", "argument --io: invalid choice"),
    ("quantize", "model --scheme dynamic --io int8", "applies to the int8 scheme"),
    ("quantize", "model --scheme dynamic --frobnicate", "unrecognized arguments: --frobnicate"),
    ("quantize", "model --fit x_train,y_train", "--fit goes with --aware"),
    ("quantize", "model --aware --preserve nothing", "argument --preserve: invalid choice"),
    ("quantize", "model --aware", "needs training data; pass --fit x_train,y_train"),
    ("prune", "model --sparsity 1.5 --fit x_train,y_train", r"sparsity must be in \[0, 1\)"),
    ("prune", "model --sparsity 0.5 --fit x_train,y_train --epochs 0", "epochs must be 1 or more"),
    ("prune", "model --sparsity 0.5 --fit x_train,y_train[:5]", "x has 1437 samples but y has 5"),
    ("prune", "model --sparsity 0.5 --fit x_train,y_train --then int4", "unknown --then scheme"),
    ("prune", "model --fit x_train,y_train", "the following arguments are required: --sparsity"),
    (
        "prune",
        "model --sparsity 0.5 --fit x_train,y_train --structure 1:3",
        "unknown structure '1:3'",
    ),
    ("cluster", "model --clusters 0 --fit x_train,y_train", "clusters must be a whole number"),
    ("cluster", "model --clusters 8", "needs training data"),
    (
        "cluster",
        "model --clusters 8 --fit x_train,y_train --init best",
        "argument --init: invalid choice",
    ),
    ("nbopt", "results --load /nonexistent/results.csv", "--load: no file"),
    ("nbopt", "frobnicate", "argument command: invalid choice"),
]


@pytest.mark.parametrize(
    ("magic", "line", "message"),
    BAD_MAGIC_CALLS,
    ids=[f"{m}:{line}" for m, line, _ in BAD_MAGIC_CALLS],
)
def test_bad_magic_calls_are_one_usage_error_and_change_nothing(
    ip, ns, weights_unchanged, magic, line, message
):
    ns["notamodel"] = [1, 2, 3]
    weights_unchanged.snapshot(ns["model"])
    names = dict(ns)
    with pytest.raises(UsageError, match=message) as info:
        ip.run_line_magic(magic, line)
    assert "\n" not in str(info.value)
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
