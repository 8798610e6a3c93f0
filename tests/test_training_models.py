"""The training techniques on the models users bring: BatchNorm, MobileNetV2, skip, limits.

Real tfmot and LiteRT; every model is built in code and small, every claim is counted in
the exported flatbuffer.
"""

from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbopt
from nbopt.engine.analyse.compat import op_report
from nbopt.engine.measure.weights import distinct_values, weight_tensors
from nbopt.engine.training.technique import NbOptWarning
from nbopt.engine.training.tfmot_wrap import supported_clusters
from nbopt.errors import NbOptUsageError

#: TFLite ops that compute (as opposed to moving or converting data).
COMPUTE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MEAN"}


def _conv_bn_relu(keras):
    keras.utils.set_random_seed(0)
    layers = keras.layers
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(32, 3, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="conv_bn_relu")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _kernel(content: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """The one constant tensor of ``shape`` in a flatbuffer."""
    (found,) = [t.values for t in weight_tensors(content) if t.values.shape == shape]
    return found


def test_qat_folds_conv_batchnorm_relu_without_skip(digits):
    import tf_keras as keras

    x_train, y_train, x_test, y_test = digits
    model = _conv_bn_relu(keras)
    model.fit(x_train, y_train, epochs=20, batch_size=32, verbose=0)
    qat = nbopt.quantize(model, aware=True, fit=(x_train, y_train), epochs=2, eval=(x_test, y_test))
    report = op_report(qat.content)
    assert report.ops["CONV_2D"] == 2 and report.ops["FULLY_CONNECTED"] == 1
    assert not report.float_ops  # every compute op reads and writes int8
    assert "skip" not in qat.row
    base = qat.comparison.rows[0]
    assert base["accuracy"] > 0.8
    assert abs(qat.row["accuracy"] - base["accuracy"]) <= 0.02


def test_mobilenetv2_qat_leaves_no_float_compute_op():
    """MobileNetV2 (alpha 0.35, 96x96, weights=None): tfmot folds its 52 BatchNorms."""
    import tf_keras as keras

    model = keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=4
    )
    rng = np.random.default_rng(0)
    x = rng.random((8, 96, 96, 3), dtype=np.float32)
    y = rng.integers(0, 4, 8)
    qat = nbopt.quantize(model, aware=True, fit=(x, y), epochs=1, batch_size=8)
    report = op_report(qat.content)
    assert report.ops["CONV_2D"] == 35 and report.ops["DEPTHWISE_CONV_2D"] == 17
    assert report.ops["ADD"] == 10
    assert not report.float_ops, report.float_ops
    assert qat.row["edgetpu_ready"] is False  # float input/output: only --io int8 is ready


def test_a_refused_layer_with_nothing_to_train_stays_float_and_the_rest_int8(digits):
    import tf_keras as keras

    x_train, y_train, _, _ = digits
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, use_bias=False)(inputs)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Rescaling(0.5, name="halve")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    with pytest.warns(NbOptWarning, match="left float"):
        qat = nbopt.quantize(model, aware=True, fit=(x_train[:256], y_train[:256]))
    assert qat.row["note"] == (
        "tfmot cannot quantize 'halve' (Rescaling), which is left float (nothing in it "
        "trains); its output is quantized, so the layers after it run in int8"
    )
    # The layer left float has its output quantized: the layers after it (and the MUL) are
    # int8, as with --skip.
    report = op_report(qat.content)
    assert report.ops["MUL"] == 1 and report.ops["FULLY_CONNECTED"] == 1
    assert not report.float_ops


def test_conv1d_trains_quantization_aware_and_exports_int8(digits):
    """tfmot's registry leaves Conv1D and MaxPooling1D out; nbopt gives them its configs."""
    import tf_keras as keras

    x_train, y_train, x_test, y_test = digits
    keras.utils.set_random_seed(0)
    frames = keras.Sequential(
        [
            keras.Input((8, 8)),
            keras.layers.Conv1D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling1D(2),
            keras.layers.Conv1D(16, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    frames.compile("adam", "sparse_categorical_crossentropy")
    frames.fit(x_train[..., 0], y_train, epochs=10, verbose=0)
    qat = nbopt.quantize(
        frames, aware=True, fit=(x_train[..., 0], y_train), eval=(x_test[..., 0], y_test)
    )
    report = op_report(qat.content)
    assert report.ops["CONV_2D"] == 2 and report.ops["MAX_POOL_2D"] == 1
    assert not report.float_ops
    base = qat.comparison.rows[0]
    assert base["accuracy"] > 0.7 and qat.row["accuracy"] >= base["accuracy"] - 0.03


@pytest.fixture(scope="module")
def small_cnn(digits):
    """A trained digits CNN small enough to train in a second."""
    import tf_keras as keras

    x_train, y_train, _, _ = digits
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="pixels")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="small_cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, verbose=0)
    return model


def test_prune_skip_leaves_the_layer_dense(small_cnn, digits):
    x_train, y_train, _, _ = digits
    pruned = nbopt.prune(small_cnn, 0.8, (x_train, y_train), epochs=2, skip="hidden")
    hidden = _kernel(pruned.content, (32, 144))  # TFLite stores FC weights (out, in)
    head = _kernel(pruned.content, (10, 32))
    assert np.mean(hidden == 0) < 0.01
    assert np.mean(head == 0) == pytest.approx(0.8, abs=0.05)
    assert pruned.row["skip"] == "hidden"
    assert pruned.row.get("note") is None  # the target is judged on the pruned layers


def test_cluster_skip_leaves_the_layer_unclustered(small_cnn, digits):
    x_train, y_train, _, _ = digits
    clustered = nbopt.cluster(small_cnn, 8, (x_train, y_train), skip=["hidden"])
    counts = distinct_values(weight_tensors(clustered.content))
    assert np.unique(_kernel(clustered.content, (32, 144))).size > 1000
    assert np.unique(_kernel(clustered.content, (10, 32))).size <= 8
    assert sorted(counts.values())[-1] > 1000 and sorted(counts.values())[-2] <= 8


def test_prune_and_cluster_magics_take_skip(ip, ns, small_cnn):
    ns["small"] = small_cnn
    pruned = ip.run_line_magic(
        "prune", "small --sparsity 0.8 --fit x_train,y_train --epochs 2 --skip hidden,head"
    )
    assert np.mean(_kernel(pruned.content, (10, 32)) == 0) < 0.01
    assert np.mean(_kernel(pruned.content, (4, 3, 3, 1)) == 0) >= 0.75
    with pytest.raises(UsageError, match="--skip: no layer named 'nope'; the model's layers"):
        ip.run_line_magic("cluster", "small --clusters 8 --fit x_train,y_train --skip nope")


def test_kmeans_limit_is_what_tfmot_can_initialise():
    """11 negative and 3 positive weights: tfmot asks 12 negative centroids of 16."""
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    kernel = np.array([-0.5 - 0.1 * i for i in range(11)] + [0.3, 0.4, 0.5] + [0.0] * 6)
    layer = keras.layers.Dense(1, name="few")
    model = keras.Sequential([keras.Input((20,)), layer])
    layer.set_weights([kernel.reshape(20, 1).astype("float32"), np.zeros(1, "float32")])
    assert supported_clusters(layer, 16, preserve=True) == 15
    assert supported_clusters(layer, 16, preserve=False) == 16
    assert supported_clusters(layer, 32, preserve=False) == 20  # a layer of 20 weights
    with pytest.raises(tf.errors.InvalidArgumentError, match="12 vs 11"):
        tfmot.clustering.keras.cluster_weights(model, number_of_clusters=16, preserve_sparsity=True)
    tfmot.clustering.keras.cluster_weights(model, number_of_clusters=15, preserve_sparsity=True)


def test_readme_prune_then_cluster_16_preserving_sparsity_then_int8(ip, ns, small_cnn):
    """The README's chain: the 36-weight conv keeps about 7 non-zero weights, not 16."""
    ns["small"] = small_cnn
    ip.run_line_magic(
        "prune",
        "small --sparsity 0.8 --fit x_train,y_train --epochs 2 --eval x_test,y_test --as pruned",
    )
    with pytest.warns(UserWarning, match="layer 'conv' has too few non-zero weights"):
        final = ip.run_line_magic(
            "cluster",
            "pruned --clusters 16 --preserve sparsity --fit x_train,y_train --then int8 "
            "--calib x_train[:256] --eval x_test,y_test",
        )
    rows = final.comparison.rows
    assert [r["status"] for r in rows] == ["ok", "ok", "ok"]
    note = rows[1]["note"]
    lowered = int(note.split("clustered into ")[1])
    assert 2 <= lowered < 16
    assert note == (
        f"layer 'conv' has too few non-zero weights for 16 clusters: clustered into {lowered}"
    )
    conv = _kernel(final.comparison["cluster"].content, (4, 3, 3, 1))
    assert np.unique(conv).size <= lowered
    assert final.scheme == "int8" and final.row["sparsity"] >= 0.75
    assert final.row["gzip_ratio"] > ns["pruned"].row["gzip_ratio"]  # the chain pays off


def test_fine_tuning_failure_is_one_line_with_the_cause(small_cnn, digits):
    x_train, _, _, _ = digits
    wrong = np.eye(3, dtype="float32")[np.arange(len(x_train)) % 3]  # 3 classes, model has 10
    with pytest.raises(NbOptUsageError, match=r"^fine-tuning \(prune\) failed: ") as info:
        nbopt.prune(small_cnn, 0.5, (x_train, wrong), epochs=1)
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is not None


def test_fit_without_labels_says_fit_needs_labels(small_cnn, digits):
    x_train, _, _, _ = digits
    with pytest.raises(NbOptUsageError, match="^--fit needs labels to fine-tune"):
        nbopt.prune(small_cnn, 0.5, x_train)


def test_qat_notes_a_lambda_layer_and_keeps_the_model_int8(digits):
    import tf_keras as keras

    x_train, y_train, _, _ = digits
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    with pytest.warns(UserWarning, match="'double' \\(Lambda\\) is not quantization-aware"):
        qat = nbopt.quantize(model, aware=True, fit=(x_train[:256], y_train[:256]))
    assert qat.row["note"] == (
        "layer 'double' (Lambda) is not quantization-aware (tfmot cannot see inside a "
        "Lambda); only its output is quantized"
    )
    report = op_report(qat.content)
    assert report.ops["MUL"] == 1 and not report.float_ops


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m, d: nbopt.prune(m, 0.5, d, io="int8"),
            "io='int8' applies to the int8 scheme; add --then int8",
        ),
        (
            lambda m, d: nbopt.cluster(m, 8, d, then="int16x8"),
            "--then int16x8 needs calibration data; pass representative samples, "
            "e.g. --calib x_train[:256] (calib=...)",
        ),
        (
            lambda m, d: nbopt.prune(m, 0.5, d, skip=3),
            "skip must be layer names (a comma-separated string or a list), got 3",
        ),
        (
            lambda m, d: nbopt.cluster(m, 8, d, skip="hidden,nope"),
            "--skip: no layer named 'nope'; the model's layers are pixels, conv, flatten, "
            "hidden, head",
        ),
    ],
)
def test_training_checks_are_one_exact_line(small_cnn, digits, weights_unchanged, call, message):
    x_train, y_train, _, _ = digits
    weights_unchanged.snapshot(small_cnn)
    with pytest.raises(NbOptUsageError) as info:
        call(small_cnn, (x_train[:64], y_train[:64]))
    assert str(info.value) == message
    weights_unchanged.check()
