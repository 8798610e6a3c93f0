"""Quantization-aware training, pruning and clustering: real tfmot, measured in the export."""

from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbopt
from nbopt.engine.measure.weights import distinct_values, sparsity, weight_tensors
from nbopt.errors import NbOptUsageError


@pytest.fixture(scope="module")
def pruned(trained_cnn, digits):
    x_train, y_train, x_test, y_test = digits
    return nbopt.prune(trained_cnn, 0.8, (x_train, y_train), epochs=2, eval=(x_test, y_test))


def test_pruning_reaches_the_target_in_the_exported_weights(pruned):
    row = pruned.row
    assert row["technique"] == "prune" and row["target_sparsity"] == 0.8
    measured = sparsity(weight_tensors(pruned.content))
    assert measured == pytest.approx(row["sparsity"])
    assert abs(row["sparsity"] - 0.8) <= 0.05


def test_pruning_shrinks_the_compressed_size_not_the_file(pruned):
    df = pruned.comparison.df.set_index("technique")
    assert df.loc["prune", "size_bytes"] == pytest.approx(
        df.loc["baseline", "size_bytes"], rel=0.01
    )
    assert df.loc["prune", "gzip_ratio"] >= 2.5
    assert df.loc["prune", "gzip_bytes"] < 0.4 * df.loc["baseline", "gzip_bytes"]
    assert df.loc["prune", "accuracy"] >= df.loc["baseline", "accuracy"] - 0.05


def test_clustering_leaves_at_most_k_values_per_tensor(trained_cnn, digits, weights_unchanged):
    x_train, y_train, x_test, y_test = digits
    weights_unchanged.snapshot(trained_cnn)
    clustered = nbopt.cluster(trained_cnn, 16, (x_train, y_train), epochs=1, eval=(x_test, y_test))
    weights_unchanged.check()  # cluster_weights mutates its input: nbopt clones first
    counts = distinct_values(weight_tensors(clustered.content))
    assert len(counts) == 4 and max(counts.values()) <= 16
    assert clustered.row["max_distinct_values"] == max(counts.values())
    assert clustered.row["distinct_values"] == counts
    assert clustered.row["gzip_ratio"] > 3
    assert clustered.row["accuracy_delta"] >= -0.05


def test_qat_int8_is_within_2_points_of_float(trained_cnn, digits, weights_unchanged):
    x_train, y_train, x_test, y_test = digits
    weights_unchanged.snapshot(trained_cnn)
    qat = nbopt.quantize(
        trained_cnn, aware=True, fit=(x_train, y_train), epochs=1, eval=(x_test, y_test)
    )
    weights_unchanged.check()
    df = qat.comparison.df.set_index("technique")
    assert qat.scheme == "int8" and df.loc["qat", "status"] == "ok"
    assert df.loc["qat", "size_ratio"] >= 3.3
    assert abs(df.loc["qat", "accuracy"] - df.loc["baseline", "accuracy"]) <= 0.02
    types = {t.values.dtype for t in weight_tensors(qat.content)}
    assert types == {np.dtype("int8")}


def test_pruning_does_not_modify_the_users_model(trained_cnn, digits, weights_unchanged):
    x_train, y_train, _, _ = digits
    weights_unchanged.snapshot(trained_cnn)
    nbopt.prune(trained_cnn, 0.5, (x_train[:256], y_train[:256]), epochs=1)
    weights_unchanged.check()


def test_prune_then_cluster_then_int8_keeps_sparsity_and_is_smallest(pruned, digits):
    x_train, y_train, x_test, y_test = digits
    final = nbopt.cluster(
        pruned,
        16,
        (x_train, y_train),
        preserve="sparsity",
        epochs=1,
        eval=(x_test, y_test),
        calib=x_train[:100],
        then="int8",
    )
    df = final.comparison.df
    assert list(df["technique"]) == ["baseline", "cluster", "cluster"]
    assert list(df["scheme"]) == ["float32", "float32", "int8"]
    # the chain keeps the original model's baseline as its reference
    assert df["run_id"].iloc[0] == pruned.comparison.rows[0]["run_id"]
    assert final.scheme == "int8" and final.row["then"] == "int8"
    assert final.row["sparsity"] >= 0.75
    assert final.row["gzip_ratio"] > pruned.row["gzip_ratio"]
    assert final.row["accuracy_delta"] >= -0.05


def test_pqat_keeps_sparsity_through_quantization_aware_training(pruned, digits):
    x_train, y_train, x_test, y_test = digits
    pqat = nbopt.quantize(
        pruned, aware=True, preserve="sparsity", fit=(x_train, y_train), eval=(x_test, y_test)
    )
    assert pqat.row["preserve"] == "sparsity"
    assert pqat.row["sparsity"] >= 0.75
    plain = nbopt.quantize(pruned.keras_model, aware=True, fit=(x_train, y_train))
    assert "sparsity" not in plain.row  # plain QAT sets no zeros: no column to show
    assert sparsity(weight_tensors(plain.content)) < pqat.row["sparsity"]


def test_layers_tfmot_cannot_quantize_are_named_and_can_be_skipped(digits):
    import tf_keras as keras

    x_train, y_train, _, _ = digits
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.LayerNormalization(name="norm")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    with pytest.raises(
        NbOptUsageError,
        match=r"cannot quantize layer 'norm' \(LayerNormalization\); "
        "pass --skip norm",
    ):
        nbopt.quantize(model, aware=True, fit=(x_train, y_train))
    qat = nbopt.quantize(model, aware=True, fit=(x_train[:256], y_train[:256]), skip="norm")
    assert qat.row["status"] == "ok" and qat.row["skip"] == "norm"
    with pytest.raises(NbOptUsageError, match="--skip: no layer named 'nope'"):
        nbopt.quantize(model, aware=True, fit=(x_train, y_train), skip="nope")


def test_subclassed_models_are_refused_with_what_tfmot_needs():
    import tf_keras as keras

    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(NbOptUsageError, match="subclassed Keras model; tfmot needs a Sequential"):
        nbopt.prune(model, 0.5, (np.zeros((4, 3)), np.zeros(4)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: nbopt.prune(m, 1.0, ([], [])), r"sparsity must be in \[0, 1\)"),
        (lambda m: nbopt.prune(m, -0.1, ([], [])), r"sparsity must be in \[0, 1\)"),
        (lambda m: nbopt.cluster(m, 1, ([], [])), "clusters must be a whole number of 2 or more"),
        (lambda m: nbopt.prune(m, 0.5), "needs training data; pass --fit x_train,y_train"),
        (lambda m: nbopt.cluster(m, 8), "needs training data"),
        (lambda m: nbopt.quantize(m, aware=True), "needs training data"),
        (lambda m: nbopt.prune(m, 0.5, ([], []), structure="3:7"), "unknown structure '3:7'"),
        (lambda m: nbopt.prune(m, 0.5, ([], []), then="int8"), "--then int8 needs calibration"),
        (
            lambda m: nbopt.cluster(m, 8, ([], []), preserve="clusters"),
            "--preserve clusters does not apply to cluster",
        ),
    ],
)
def test_training_mistakes_are_one_clear_error(trained_cnn, call, message):
    with pytest.raises(NbOptUsageError, match=message):
        call(trained_cnn)


def test_keras3_model_is_rebuilt_for_tfmot_and_left_untouched(digits, weights_unchanged):
    import keras

    from nbopt.demo import digits_cnn

    x_train, y_train, x_test, y_test = digits
    model = digits_cnn(keras)
    model.fit(x_train, y_train, epochs=3, verbose=0)
    weights_unchanged.snapshot(model)
    result = nbopt.prune(model, 0.8, (x_train, y_train), epochs=2, eval=(x_test, y_test))
    weights_unchanged.check()
    assert abs(result.row["sparsity"] - 0.8) <= 0.05
    assert type(result.keras_model).__module__.startswith("tf_keras")
    baseline = result.comparison.rows[0]
    keras_acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), 1) == y_test))
    assert baseline["accuracy"] == pytest.approx(keras_acc)


def test_keras3_layer_without_tf_keras_equivalent_is_named():
    import keras

    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2)(keras.layers.Lambda(lambda t: t * 2, name="double")(inputs))
    with pytest.raises(NbOptUsageError, match="layer 'double' \\(Lambda\\)"):
        nbopt.prune(keras.Model(inputs, outputs), 0.5, (np.zeros((4, 4)), np.zeros((4, 2))))


# -- the magics, in a real IPython shell ---------------------------------------------------


def test_prune_magic_line_form(ip, ns):
    result = ip.run_line_magic(
        "prune",
        "model --sparsity 0.8 --fit x_train,y_train --epochs 2 --eval x_test,y_test --as pruned_m",
    )
    assert ns["pruned_m"] is result
    assert result.row["sparsity"] >= 0.75
    assert result.row["gzip_bytes"] < 0.4 * result.comparison.rows[0]["gzip_bytes"]


def test_prune_cell_form_adds_the_pruning_callback_itself(ip, ns):
    cell = (
        "pruned_c.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
        "history = pruned_c.fit(x_train, y_train, epochs=1, verbose=0)\n"
    )
    result = ip.run_cell_magic("prune", "model --sparsity 0.6 --as pruned_c", cell)
    assert ns["pruned_c"] is result  # after the cell, the name holds the result
    assert abs(result.row["sparsity"] - 0.6) <= 0.05


def test_quantize_aware_cell_form(ip, ns):
    cell = (
        "qat_model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',\n"
        "                  metrics=['accuracy'])\n"
        "qat_model.fit(x_train, y_train, epochs=1, verbose=0)\n"
    )
    result = ip.run_cell_magic(
        "quantize", "model --aware --as qat_model --eval x_test,y_test", cell
    )
    assert result.technique == "qat" and ns["qat_model"] is result
    assert abs(result.row["accuracy_delta"]) <= 0.02


def test_cluster_magic_and_its_mistakes(ip, ns):
    result = ip.run_line_magic("cluster", "model --clusters 8 --fit x_train,y_train")
    assert result.row["max_distinct_values"] <= 8
    with pytest.raises(UsageError, match="clusters must be a whole number of 2 or more"):
        ip.run_line_magic("cluster", "model --clusters 1 --fit x_train,y_train")
    with pytest.raises(UsageError, match="%%cluster needs --as NAME"):
        ip.run_cell_magic("cluster", "model --clusters 8", "pass\n")
    with pytest.raises(UsageError, match="needs training data"):
        ip.run_line_magic("prune", "model --sparsity 0.5")


def test_a_failing_cell_leaves_the_namespace_as_it_was(ip, ns):
    ns["keep"] = "mine"
    with pytest.raises(ZeroDivisionError):
        ip.run_cell_magic("prune", "model --sparsity 0.5 --as keep", "1 / 0\n")
    assert ns["keep"] == "mine"
