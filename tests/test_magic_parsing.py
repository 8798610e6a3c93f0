"""Option values are Python as Python writes it, and every magic's help is true."""

from __future__ import annotations

import numpy as np
import pytest

from nbopt.magics.parsing import split


@pytest.mark.parametrize(
    ("line", "pieces"),
    [
        ("model --eval (x_test, y_test)", ["model", "--eval", "(x_test, y_test)"]),
        ("m --calib x_train[:200, :, :]", ["m", "--calib", "x_train[:200, :, :]"]),
        ("m --calib wide[:, :4] --as w", ["m", "--calib", "wide[:, :4]", "--as", "w"]),
        ('m --eval "(x_test, y_test)"', ["m", "--eval", "(x_test, y_test)"]),
        (
            "m --calib (x[None] for x in x_train[:100])",
            ["m", "--calib", "(x[None] for x in x_train[:100])"],
        ),
        ("m --scheme dynamic, int8", ["m", "--scheme", "dynamic, int8"]),
        (
            "m --eval x_test, y_test --threads 2",
            ["m", "--eval", "x_test, y_test", "--threads", "2"],
        ),
        ("m --calib x / 255 --threads -1", ["m", "--calib", "x / 255", "--threads", "-1"]),
        ("m --eval {'a': x, 'b': y}, t", ["m", "--eval", "{'a': x, 'b': y}, t"]),
        ("m --save 'my models' --force", ["m", "--save", "my models", "--force"]),
        ("results --save /tmp/a-b/r.csv", ["results", "--save", "/tmp/a-b/r.csv"]),
        ("m --structure 2:4", ["m", "--structure", "2:4"]),
        ("m --scheme int8  # the smallest", ["m", "--scheme", "int8"]),
        ("m --save 'out#1'", ["m", "--save", "out#1"]),
    ],
)
def test_a_line_is_split_where_python_would_not_join_it(line, pieces):
    assert [p.value for p in split(line)] == pieces


def test_expressions_with_spaces_brackets_and_quotes(ip, ns):
    plain = ip.run_line_magic(
        "quantize",
        "model --scheme dynamic, int8 --calib x_train[:200, :, :] --eval (x_test, y_test)",
    )
    df = plain.df.set_index("scheme")
    assert list(df.index) == ["float32", "dynamic", "int8"]
    assert df.loc["int8", "calib_samples"] == 200
    assert (df["eval_samples"] == 360).all() and (df["status"] == "ok").all()

    quoted = ip.run_line_magic("quantize", 'model --scheme dynamic --eval "(x_test, y_test)"')
    assert quoted.row["eval_samples"] == 360  # the expression inside the quotes, not a string
    assert quoted.row["accuracy"] == df.loc["dynamic", "accuracy"]


def test_a_generator_expression_is_one_value(ip, ns):
    m = ip.run_line_magic(
        "quantize", "model --scheme int8 --calib (x[None] for x in x_train[:100])"
    )
    assert m.scheme == "int8" and m.row["calib_samples"] == 100


def test_a_column_slice_of_a_wide_table(ip, ns):
    import tf_keras as keras

    ns["small"] = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    ns["wide"] = np.random.default_rng(0).random((50, 10), dtype=np.float32)
    m = ip.run_line_magic("quantize", "small --scheme int8 --calib wide[:, :4]")
    assert m.row["status"] == "ok" and m.row["calib_samples"] == 50


def test_braces_reach_python_and_a_quoted_path_is_a_path(ip, ns, tmp_path):
    """IPython's {var} expansion is off, so a dict literal is Python's own."""
    ip.run_line_magic("quantize", "model --scheme dynamic --as m8")
    inspection = ip.run_line_magic("nbopt", "inspect {'k': m8}['k']")
    assert len(inspection.ops) > 0
    path = ns.pop("m8").save(tmp_path / "m.tflite")
    from_file = ip.run_line_magic("nbopt", f"inspect '{path}'")
    assert from_file.ops.equals(inspection.ops)


def test_each_magic_lists_only_its_own_options(ip):
    quantize, prune, cluster = (
        " ".join(ip.find_line_magic(name).__doc__.split())
        for name in ("quantize", "prune", "cluster")
    )
    assert "--then" not in quantize
    assert "Representative samples for int8" in quantize and "--aware" in quantize
    for doc in (prune, cluster):
        assert "--then THEN" in doc and "--calib CALIB" in doc and "--aware" not in doc
    assert "--sparsity" not in cluster and "--clusters" not in prune


def test_nbopt_help_lists_each_subcommand_with_its_own_options(ip):
    doc = ip.find_line_magic("nbopt").__doc__
    parts = {part.split()[1]: part for part in doc.split("::")[2:]}
    assert set(parts) == {
        "results",
        "log",
        "panel",
        "recommend",
        "debug",
        "inspect",
        "sweep",
        "load",
        "optimize",
    }
    assert "--goal {size,gzip,latency,ram}" in parts["optimize"]
    assert "--target {cpu,gpu,edgetpu,mcu}" in parts["optimize"]
    assert "--ram RAM_KB, --ram-kb RAM_KB" in parts["optimize"]
    assert "--budget BUDGET" in parts["optimize"] and "--threshold" not in parts["optimize"]
    assert "--threshold" in parts["debug"] and "--fit" not in parts["debug"]
    assert "--scheduler" in parts["sweep"] and "--scheduler" not in parts["panel"]
    assert "--verify" in parts["recommend"] and "--verify" not in parts["inspect"]
    assert "--clear" in parts["results"] and "--calib" not in parts["results"]
    assert "--target" in parts["panel"] and "--max-drop" not in parts["panel"]


def test_question_mark_shows_the_help(ip, capsys):
    ip.run_cell("%quantize?")
    shown = capsys.readouterr().out
    assert "--scheme" in shown and "--calib" in shown and "--then" not in shown
