"""Pruned weights stored sparse (--sparse): real tfmot, the real converter, measured costs."""

from __future__ import annotations

import numpy as np
import pytest

import nbopt
from nbopt.engine.analyse.compat import op_report
from nbopt.engine.measure.sparse import sparse_weights
from nbopt.engine.measure.weights import weight_tensors
from nbopt.errors import NbOptUsageError


@pytest.fixture(scope="module")
def stored(trained_cnn, digits):
    """The digits CNN pruned to 0.8 once, exported dense and sparse, float32 and int8."""
    x_train, y_train, x_test, y_test = digits
    result = nbopt.prune(
        trained_cnn,
        0.8,
        (x_train, y_train),
        epochs=2,
        eval=(x_test, y_test),
        calib=x_train[:128],
        then="int8",
        sparse=True,
    )
    return result, {m.variant: m for m in result.comparison.models.values()}


def test_each_pruned_variant_has_a_sparse_twin_after_it(stored):
    result, models = stored
    assert [r["stored_sparse"] for r in result.comparison.rows] == [
        False,
        False,
        True,
        False,
        True,
    ]
    assert list(models) == ["float32", "prune", "prune sparse", "prune+int8", "prune+int8 sparse"]
    assert result is models["prune+int8 sparse"]  # the last variant is what --as binds


def test_the_sparse_file_is_at_most_half_the_dense_one_and_reads_through_densify(stored):
    _, models = stored
    dense, sparse = models["prune"], models["prune sparse"]
    assert sparse.size <= 0.5 * dense.size
    assert sparse.row["size_bytes"] == sparse.size
    assert op_report(sparse.content).ops["DENSIFY"] == 4  # two convolutions, two dense layers
    assert "DENSIFY" not in op_report(dense.content).ops
    assert models["prune+int8 sparse"].size < models["prune+int8"].size
    assert op_report(models["prune+int8 sparse"].content).ops["DENSIFY"] == 4


def test_the_least_stored_sparse_size_is_a_true_bound(stored):
    """What optimize skips a stored-sparse conversion by: the dense float32 file without
    its zeros (float32), or with one byte per non-zero weight (int8), is never more than
    the sparse file the converter makes."""
    from nbopt.engine.training.exports import stored_sparse_floor

    _, models = stored
    dense = models["prune"]
    zeros = sum(int(np.sum(t.values == 0)) for t in weight_tensors(dense.content))
    assert stored_sparse_floor(dense.content, "float32") == dense.size - 4 * zeros
    for scheme, name in (("float32", "prune sparse"), ("int8", "prune+int8 sparse")):
        floor, actual = stored_sparse_floor(dense.content, scheme), models[name].size
        print(f"{name}: at least {floor:,} bytes, made {actual:,}")
        assert 0.3 * actual < floor <= actual
    assert stored_sparse_floor(dense.content, "dynamic") is None


def test_the_same_weights_give_the_same_accuracy(stored):
    _, models = stored
    dense, sparse = models["prune"].row, models["prune sparse"].row
    assert sparse["accuracy"] == pytest.approx(dense["accuracy"], abs=1e-6)
    assert sparse["sparsity"] == pytest.approx(dense["sparsity"], abs=1e-6)
    assert dense["sparsity"] == pytest.approx(0.8, abs=0.05)
    by_shape = {t.values.shape: t.values for t in weight_tensors(models["prune"].content)}
    read_back = weight_tensors(models["prune sparse"].content)
    assert len(read_back) == len(by_shape) == 4
    for t in read_back:  # the sparse encoding read back dense is the dense file's tensor
        np.testing.assert_array_equal(t.values, by_shape[t.values.shape])
    int8, int8_sparse = models["prune+int8"].row, models["prune+int8 sparse"].row
    assert abs(int8_sparse["accuracy"] - int8["accuracy"]) <= 0.005


def test_ram_holds_the_densified_weights(stored):
    _, models = stored
    for name in ("prune", "prune+int8"):
        dense, sparse = models[name].row, models[f"{name} sparse"].row
        densified = sparse_weights(models[f"{name} sparse"].content).dense_bytes
        assert densified >= 0.95 * dense["weights_bytes"]  # every kernel is stored sparse
        assert sparse["ram_bytes"] >= dense["ram_bytes"] + densified
        assert sparse["weights_bytes"] < 0.5 * dense["weights_bytes"]
        kb = f"{densified / 1024:,.0f} KB"
        assert (
            f"RAM: DENSIFY writes the {kb} of dense weights into RAM at load"
            in (sparse["compat_notes"])
        )


def test_compatibility_says_which_runtimes_cannot_run_densify(stored):
    _, models = stored
    dense, sparse = models["prune"].row, models["prune sparse"].row
    assert dense["mcu_ready"] is True and sparse["mcu_ready"] is False
    assert "MCU: ops TFLite Micro does not register: DENSIFY" in sparse["compat_notes"]
    assert "Edge TPU: ops the Edge TPU does not run: DENSIFY" in sparse["compat_notes"]
    assert "DENSIFY" not in dense["compat_notes"]
    assert sparse["gpu_compatible"] is True  # the GPU delegate folds DENSIFY into the weights
    int8 = models["prune+int8 sparse"].row
    assert (
        "CPU: XNNPack (LiteRT's default CPU delegate) cannot run integer weights"
        in (int8["compat_notes"])
    )
    assert "XNNPack" not in sparse["compat_notes"]


def test_integer_weights_stored_sparse_run_without_xnnpack(stored, digits):
    from ai_edge_litert.interpreter import Interpreter

    _, models = stored
    int8, int8_sparse = models["prune+int8"], models["prune+int8 sparse"]
    with pytest.raises(RuntimeError, match="TfLiteXNNPackDelegate"):  # why nbopt avoids it
        Interpreter(model_content=int8_sparse.content).allocate_tensors()
    x_test = digits[2]
    same = np.argmax(int8_sparse.predict(x_test), 1) == np.argmax(int8.predict(x_test), 1)
    assert same.mean() >= 0.99


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m, x: nbopt.prune(m, 0.8, ([], []), then="int16x8", calib=x, sparse=True),
            "int16x8 cannot be stored sparse: the converter makes it, but the model computes "
            "wrong outputs",
        ),
        (
            lambda m, x: nbopt.cluster(m, 8, ([], []), sparse=True),
            "--sparse stores a model's zeros sparse: prune .--sparsity., or cluster a pruned "
            "model with --preserve sparsity",
        ),
    ],
)
def test_sparse_storage_mistakes_are_one_clear_error(trained_cnn, digits, call, message):
    with pytest.raises(NbOptUsageError, match=message):
        call(trained_cnn, digits[0][:8])


def test_prune_magic_stores_sparse(ip, ns):
    result = ip.run_line_magic(
        "prune", "model --sparsity 0.8 --fit x_train,y_train --epochs 2 --sparse --as pruned_s"
    )
    assert ns["pruned_s"] is result and result.variant == "prune sparse"
    rows = {nbopt.engine.store.schema.variant_label(r): r for r in result.comparison.rows}
    assert list(rows) == ["float32", "prune", "prune sparse"]
    assert rows["prune sparse"]["stored_sparse"] is True
    assert rows["prune sparse"]["size_bytes"] <= 0.5 * rows["prune"]["size_bytes"]
    assert rows["prune sparse"]["ram_bytes"] >= rows["prune"]["ram_bytes"]
    assert "--sparse" in ip.find_line_magic("prune").__doc__
    stored = ip.run_line_magic("nbopt", "results --all").tail(2)  # the store has every column
    assert stored["stored_sparse"].tolist() == [False, True]
    assert stored["sparsity"].tolist() == [pytest.approx(rows["prune"]["sparsity"])] * 2


def test_clustering_a_pruned_model_keeps_its_zeros_stored_sparse(stored, digits):
    x_train, y_train, _, _ = digits
    pruned = stored[0].keras_model
    result = nbopt.cluster(
        pruned, 8, (x_train, y_train), preserve="sparsity", sparse=True, epochs=1
    )
    rows = {nbopt.engine.store.schema.variant_label(r): r for r in result.comparison.rows}
    assert list(rows) == ["float32", "cluster", "cluster sparse"]
    dense, sparse = rows["cluster"], rows["cluster sparse"]
    assert sparse["size_bytes"] <= 0.5 * dense["size_bytes"]
    assert sparse["sparsity"] == pytest.approx(dense["sparsity"]) and dense["sparsity"] >= 0.75
    assert sparse["max_distinct_values"] == dense["max_distinct_values"] <= 8


def test_weights_pruned_in_blocks_stay_sparse_where_tflite_micro_cannot_read_them():
    """A fully connected layer pruned in 1x4 blocks computes on its sparse weights (no
    DENSIFY): read back dense, run right by LiteRT, and not for TFLite Micro."""
    import tf_keras as keras

    from nbopt.engine.convert.converter import convert, export_saved_model
    from nbopt.engine.measure.interpreter import Runner
    from nbopt.engine.measure.memory import memory_columns
    from nbopt.engine.measure.sparse import sparse_columns

    inputs = keras.Input((128,))
    model = keras.Model(inputs, keras.layers.Dense(64)(inputs))
    kernel, bias = model.get_weights()
    blocks = np.random.default_rng(0).random((32, 64)) < 0.8  # 80% of the 1x4 blocks
    model.set_weights([kernel * np.repeat(~blocks, 4, axis=0), bias])
    with export_saved_model(model) as exported:
        content = convert(exported.path, "float32", isolate=False, sparse=True)
    assert "DENSIFY" not in op_report(content).ops
    assert sparse_weights(content).tensors == 1 and sparse_weights(content).dense_bytes == 0
    (weights,) = weight_tensors(content)
    np.testing.assert_array_equal(weights.values, model.get_weights()[0].T)
    x = np.random.default_rng(1).random((16, 128), dtype=np.float32)
    np.testing.assert_allclose(Runner(content).predict([x])[0], model(x).numpy(), atol=1e-5)
    row = memory_columns(content)
    assert row["mcu_ready"] is True  # TFLite Micro allocates it, then reads it wrongly
    sparse_columns(row, content)
    assert row["mcu_ready"] is False and row["stored_sparse"] is True
    assert "MCU: TFLite Micro has no code for tensors stored sparse" in row["compat_notes"]
