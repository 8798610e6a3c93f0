"""Post-training quantization through the Python API, measured with the LiteRT interpreter."""

from __future__ import annotations

import numpy as np
import pytest

import nbopt
from nbopt.errors import NbOptTypeError, NbOptUsageError


@pytest.fixture(scope="module")
def full_comparison(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    return nbopt.quantize(
        trained_cnn, "float16,dynamic,int8,int16x8", x_train[:200], (x_test, y_test)
    )


def test_every_scheme_is_a_row_with_the_float32_baseline_first(full_comparison):
    df = full_comparison.df
    assert list(df["scheme"]) == ["float32", "float16", "dynamic", "int8", "int16x8"]
    assert list(df["status"]) == ["ok"] * 5
    assert list(df["technique"]) == ["baseline"] + ["ptq"] * 4
    assert df.loc[0, "size_ratio"] == 1.0
    assert set(full_comparison.models) == {"float32", "float16", "dynamic", "int8", "int16x8"}


def test_columns_are_the_documented_ones_and_numbers_are_numbers(full_comparison):
    df = full_comparison.df
    for col in [
        "model",
        "technique",
        "scheme",
        "status",
        "error",
        "size_bytes",
        "gzip_bytes",
        "size_ratio",
        "latency_ms",
        "latency_p90_ms",
        "speedup",
        "metric",
        "accuracy",
        "accuracy_delta",
        "path",
        "threads",
        "calib_samples",
        "eval_samples",
    ]:
        assert col in df.columns
    for col in ["size_ratio", "latency_ms", "latency_p90_ms", "speedup", "accuracy"]:
        assert df[col].dtype == np.float64, col
    assert str(df["size_bytes"].dtype) == "Int64"
    assert (df["latency_p90_ms"] >= df["latency_ms"]).all()
    assert (df["eval_samples"] == 360).all()
    assert df.loc[df.scheme == "int8", "calib_samples"].item() == 200


def test_integer_schemes_are_more_than_3_3_times_smaller(full_comparison):
    df = full_comparison.df.set_index("scheme")
    assert df.loc["int8", "size_ratio"] >= 3.3
    assert df.loc["dynamic", "size_ratio"] >= 3.3
    assert 1.8 <= df.loc["float16", "size_ratio"] <= 2.0
    assert df.loc["int8", "size_bytes"] == len(full_comparison["int8"].content)
    assert df.loc["int8", "size_ratio"] == pytest.approx(
        df.loc["float32", "size_bytes"] / df.loc["int8", "size_bytes"]
    )


def test_int8_accuracy_is_within_3_points_of_keras(full_comparison, keras_accuracy):
    df = full_comparison.df.set_index("scheme")
    assert df.loc["float32", "metric"] == "accuracy"
    assert df.loc["float32", "accuracy"] == pytest.approx(keras_accuracy, abs=1e-9)
    assert abs(df.loc["int8", "accuracy"] - keras_accuracy) <= 0.03
    assert df.loc["int8", "accuracy_delta"] == pytest.approx(
        df.loc["int8", "accuracy"] - df.loc["float32", "accuracy"]
    )


@pytest.mark.parametrize("scheme", ["float32", "float16", "dynamic"])
def test_sizes_agree_with_the_converter_used_directly(trained_cnn, full_comparison, scheme):
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(trained_cnn)
    if scheme != "float32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if scheme == "float16":
        conv.target_spec.supported_types = [tf.float16]
    direct = len(conv.convert())
    assert full_comparison[scheme].size == pytest.approx(direct, rel=0.02)


def test_batched_predictions_equal_per_sample_ones(full_comparison, digits):
    _, _, x_test, _ = digits
    model = full_comparison["int8"]
    batched = model.predict(x_test[:50], batch_size=16)
    single = np.concatenate([model.predict(x_test[i : i + 1]) for i in range(50)])
    np.testing.assert_array_equal(batched, single)
    assert batched.shape == (50, 10)


def test_the_users_model_is_not_modified(digits, weights_unchanged):
    from nbopt.demo import digits_cnn

    x_train, y_train, x_test, y_test = digits
    model = digits_cnn()
    model.fit(x_train[:64], y_train[:64], epochs=1, verbose=0)
    weights_unchanged.snapshot(model)
    nbopt.quantize(model, "dynamic,int8", x_train[:32], (x_test[:32], y_test[:32]))
    weights_unchanged.check()


def test_one_scheme_returns_a_tflite_model_with_its_baseline(trained_cnn, digits, tmp_path):
    x_train, _, x_test, y_test = digits
    m = nbopt.quantize(trained_cnn, "int8", x_train[:100], (x_test, y_test), io="int8")
    assert isinstance(m, nbopt.TFLiteModel)
    assert m.scheme == "int8" and m.row["io"] == "int8"
    assert [r["scheme"] for r in m.comparison.rows] == ["float32", "int8"]
    details = m._runner_().inputs[0]
    assert np.dtype(details["dtype"]) == np.int8
    assert m.evaluate(x_test, y_test) == pytest.approx(m.row["accuracy"])
    path = m.save(tmp_path)
    assert path.name == "digits_cnn_int8.tflite" and path.read_bytes() == m.content
    assert m.row["path"] == str(path)
    with pytest.raises(NbOptUsageError, match="already exists"):
        m.save(path)
    stats = m.benchmark(x_test, runs=3, min_seconds=0.0)
    assert stats.runs >= 3 and stats.p90_ms >= stats.median_ms > 0


def test_uint8_io(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    m = nbopt.quantize(trained_cnn, "int8", x_train[:100], (x_test, y_test), io="uint8")
    assert np.dtype(m._runner_().inputs[0]["dtype"]) == np.uint8
    assert m.row["accuracy"] > 0.85


def test_calibration_as_dataset_generator_and_xy_tuple(trained_cnn, digits):
    import tensorflow as tf

    x_train, y_train, x_test, y_test = digits
    x = x_train[:64]
    sizes = {}
    for label, calib in {
        "array": x,
        "xy": (x, y_train[:64]),
        "dataset": tf.data.Dataset.from_tensor_slices(x).batch(16),
        "dataset_xy": tf.data.Dataset.from_tensor_slices((x, y_train[:64])),
        "generator": lambda: ([x[i : i + 1]] for i in range(64)),
        "float64": x.astype("float64"),
    }.items():
        m = nbopt.quantize(trained_cnn, "int8", calib, (x_test[:50], y_test[:50]))
        assert m.row["calib_samples"] == 64, label
        sizes[label] = m.size
    assert len(set(sizes.values())) == 1


def test_one_hot_labels_give_the_same_accuracy(full_comparison, digits):
    _, _, x_test, y_test = digits
    model = full_comparison["float32"]
    one_hot = np.eye(10, dtype="float32")[y_test]
    assert model.evaluate(x_test, one_hot) == model.evaluate(x_test, y_test)


def test_regression_model_is_measured_with_mse():
    import tf_keras as keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5, 3.0], dtype="float32")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    model.fit(x, y, epochs=3, verbose=0)
    c = nbopt.quantize(model, "dynamic,int8", x[:64], (x, y))
    df = c.df.set_index("scheme")
    assert (df["metric"] == "mse").all()
    keras_mse = float(np.mean((model.predict(x, verbose=0)[:, 0] - y) ** 2))
    assert df.loc["float32", "accuracy"] == pytest.approx(keras_mse, rel=1e-4)


def test_keras3_models_are_quantized_directly(digits):
    import keras

    from nbopt.demo import digits_cnn

    x_train, y_train, x_test, y_test = digits
    model = digits_cnn(keras)
    model.fit(x_train, y_train, epochs=3, verbose=0)
    keras_acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), 1) == y_test))
    c = nbopt.quantize(model, "dynamic,int8", x_train[:100], (x_test, y_test))
    df = c.df.set_index("scheme")
    assert list(df["status"]) == ["ok"] * 3
    assert df.loc["float32", "accuracy"] == pytest.approx(keras_acc)
    assert df.loc["int8", "size_ratio"] >= 3.3


def test_a_failing_scheme_is_a_failed_row_and_the_others_are_measured():
    import tensorflow as tf
    import tf_keras as keras

    # SIN has no 16x8 kernel: the int16x8 conversion fails, the rest must not.
    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(4)(keras.layers.Lambda(tf.sin)(inputs))
    model = keras.Model(inputs, outputs, name="with_sin")
    x = np.random.default_rng(0).random((32, 8), dtype="float32")
    c = nbopt.quantize(model, "float16,int16x8,int8", x, (x, np.zeros((32, 4), "float32")))
    status = dict(zip(c.df["scheme"], c.df["status"]))
    assert status == {"float32": "ok", "float16": "ok", "int16x8": "failed", "int8": "ok"}
    row = c.df.set_index("scheme").loc["int16x8"]
    assert "16x8" in row["error"] and "SIN" in row["error"]
    assert np.isnan(row["size_ratio"])
    assert "int16x8" not in c.models


def test_results_collects_every_row_of_this_process(trained_cnn, digits):
    _, _, x_test, y_test = digits
    before = len(nbopt.results())
    nbopt.quantize(trained_cnn, "float16", eval=(x_test, y_test))
    after = nbopt.results()
    assert len(after) == before + 2
    assert list(after["scheme"].iloc[-2:]) == ["float32", "float16"]


def test_default_schemes_skip_what_needs_calibration(trained_cnn):
    c = nbopt.quantize(trained_cnn)
    status = dict(zip(c.df["scheme"], c.df["status"]))
    assert status == {
        "float32": "ok",
        "float16": "ok",
        "dynamic": "ok",
        "int8": "skipped",
        "int16x8": "skipped",
    }
    assert "calibration" in c.df.set_index("scheme").loc["int8", "error"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"scheme": "int2"}, NbOptUsageError, "unknown scheme 'int2'; choose from float32"),
        ({"scheme": "int8"}, NbOptUsageError, "int8 needs calibration data"),
        (
            {"scheme": "int8", "calib": np.zeros((4, 9, 9, 1))},
            NbOptUsageError,
            r"shape \(4, 9, 9, 1\) does not fit the model's input \(None, 8, 8, 1\)",
        ),
        ({"scheme": "int8", "calib": np.array(["a", "b"])}, NbOptTypeError, "expected numbers"),
        (
            {"scheme": "dynamic", "eval": (np.zeros((4, 8, 8, 1)), np.zeros(3))},
            NbOptUsageError,
            "x has 4 samples but y has 3",
        ),
        ({"scheme": "dynamic", "io": "int8"}, NbOptUsageError, "applies to the int8 scheme"),
        ({"scheme": "int8", "calib": np.zeros((0, 8, 8, 1))}, NbOptUsageError, "empty"),
    ],
)
def test_mistakes_are_one_clear_error(trained_cnn, kwargs, error, message):
    with pytest.raises(error, match=message):
        nbopt.quantize(trained_cnn, **kwargs)


def test_not_a_keras_model_is_a_type_error():
    with pytest.raises(TypeError, match="is a dict, not a Keras model"):
        nbopt.quantize({"not": "a model"}, "dynamic")


def test_a_subclassed_keras3_model_is_told_how_to_wrap_it():
    import keras

    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = keras.layers.Dense(10)

        def call(self, x):
            return self.dense(x)

    net = Net()
    x = np.zeros((4, 8), "float32")
    net(x)  # called, and still no recorded inputs
    with pytest.raises(NbOptUsageError) as info:
        nbopt.quantize(net, "dynamic")
    assert str(info.value) == (
        "model 'net' is a subclassed Keras model, which does not record its input shape; wrap "
        "it in a functional model first, e.g. inp = keras.Input(shape); "
        "wrapped = keras.Model(inp, net(inp))"
    )
    inp = keras.Input((8,))
    assert nbopt.quantize(keras.Model(inp, net(inp)), "dynamic").row["status"] == "ok"
