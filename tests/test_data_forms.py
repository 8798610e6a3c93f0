"""The ways a notebook passes data: several inputs, several outputs, pandas, fit labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbopt
from nbopt.engine.data.labels import fit_data
from nbopt.engine.model.keras_models import input_specs
from nbopt.errors import NbOptTypeError, NbOptUsageError


@pytest.fixture(scope="module")
def tables():
    """Two feature tables, a class label and a regression target, 300 train + 100 test rows."""
    rng = np.random.RandomState(1)
    a = rng.randn(400, 4).astype("float32")
    b = rng.randn(400, 3).astype("float32")
    label = (a[:, 0] + b[:, 0] > 0).astype("int64")
    target = (a[:, 1] - b[:, 2]).astype("float32")
    return a, b, label, target


@pytest.fixture(scope="module")
def two_inputs(tables):
    """A classifier over two named inputs, feat_a and feat_b (tf_keras)."""
    import tf_keras as keras

    a, b, label, _ = tables
    in_a, in_b = keras.Input((4,), name="feat_a"), keras.Input((3,), name="feat_b")
    hidden = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate()([in_a, in_b]))
    model = keras.Model([in_a, in_b], keras.layers.Dense(2, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit([a[:300], b[:300]], label[:300], epochs=10, verbose=0)
    return model


@pytest.fixture(scope="module", params=["tf_keras", "keras3"])
def two_outputs(request, tables):
    """A regression output ``reg`` (first) and a classifier output ``cls``."""
    if request.param == "tf_keras":
        import tf_keras as keras
    else:
        import keras
    a, _, label, target = tables
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    reg = keras.layers.Dense(1, name="reg")(hidden)
    cls = keras.layers.Dense(2, activation="softmax", name="cls")(hidden)
    model = keras.Model(inputs, [reg, cls])
    model.compile("adam", ["mse", "sparse_categorical_crossentropy"])
    model.fit(a[:300], [target[:300], label[:300]], epochs=10, verbose=0)
    return model


def test_two_inputs_take_a_list_or_a_dict_keyed_by_name(two_inputs, tables):
    a, b, label, _ = tables
    pred = two_inputs.predict([a[300:], b[300:]], verbose=0)
    reference = float(np.mean(np.argmax(pred, axis=1) == label[300:]))

    by_list = nbopt.quantize(
        two_inputs, "int8", calib=[a[:100], b[:100]], eval=([a[300:], b[300:]], label[300:])
    )
    by_dict = nbopt.quantize(
        two_inputs,
        "int8",
        calib={"feat_b": b[:100], "feat_a": a[:100]},  # order of the keys does not matter
        eval=({"feat_b": b[300:], "feat_a": a[300:]}, label[300:]),
    )
    for result in (by_list, by_dict):
        baseline = result.comparison.rows[0]
        assert baseline["accuracy"] == pytest.approx(reference, abs=0.01)
        assert abs(result.row["accuracy"] - reference) <= 0.03
    assert by_dict.row["accuracy"] == by_list.row["accuracy"]
    np.testing.assert_allclose(
        by_dict.comparison["float32"].predict([a[300:], b[300:]]),
        pred,
        atol=1e-5,
    )


def test_a_dict_with_unknown_input_names_is_one_clear_line(two_inputs, tables):
    a, b, label, _ = tables
    with pytest.raises(NbOptUsageError) as err:
        nbopt.quantize(two_inputs, "dynamic", eval=({"a": a, "b": b}, label))
    assert str(err.value) == (
        "evaluation data: the model's inputs are 'feat_a', 'feat_b'; got keys 'a', 'b'"
    )


def keras_scores(model, x, label, target) -> dict[str, float]:
    reg, cls = model.predict(x, verbose=0)
    return {
        "reg": float(np.mean((reg[:, 0].astype(np.float64) - target) ** 2)),
        "cls": float(np.mean(np.argmax(cls, axis=1) == label)),
    }


@pytest.mark.parametrize("labels", ["list", "dict"])
def test_every_output_is_scored(two_outputs, tables, labels):
    a, _, label, target = tables
    y = (
        [target[300:], label[300:]]
        if labels == "list"
        else {"cls": label[300:], "reg": target[300:]}
    )
    comparison = nbopt.quantize(two_outputs, "dynamic,int8", calib=a[:100], eval=(a[300:], y))
    expected = keras_scores(two_outputs, a[300:], label[300:], target[300:])

    df = comparison.df
    assert df["status"].tolist() == ["ok", "ok", "ok"]
    assert df["metric_output"].tolist() == ["reg"] * 3  # the headline is the first output
    assert df["metric"].tolist() == ["mse"] * 3
    baseline = df.iloc[0]
    assert list(baseline["metrics"]) == ["reg", "cls"]
    assert baseline["metrics"]["reg"]["metric"] == "mse"
    assert baseline["metrics"]["cls"]["metric"] == "accuracy"
    assert baseline["metrics"]["reg"]["value"] == pytest.approx(expected["reg"], rel=1e-4)
    assert baseline["metrics"]["cls"]["value"] == pytest.approx(expected["cls"], abs=0.01)
    assert baseline["accuracy"] == baseline["metrics"]["reg"]["value"]
    for _, row in df.iloc[1:].iterrows():
        assert row["accuracy"] == row["metrics"]["reg"]["value"]
        assert abs(row["metrics"]["cls"]["value"] - expected["cls"]) <= 0.03
        assert row["metrics"]["reg"]["value"] == pytest.approx(expected["reg"], rel=0.1)
        assert row["metrics"]["cls"]["delta"] == pytest.approx(
            row["metrics"]["cls"]["value"] - baseline["metrics"]["cls"]["value"]
        )


def test_every_outputs_metrics_survive_a_csv(two_outputs, tables, tmp_path):
    from nbopt.engine.store import results

    a, _, label, target = tables
    comparison = nbopt.quantize(
        two_outputs, ["dynamic"], eval=(a[300:], [target[300:], label[300:]])
    )
    path = tmp_path / "rows.csv"
    comparison.to_csv(path)
    before = len(results.rows())
    assert results.load_csv(str(path)) == 2
    loaded = results.rows()[before:]
    assert [r["metrics"] for r in loaded] == [r["metrics"] for r in comparison.rows]
    assert [r["metric_output"] for r in loaded] == ["reg", "reg"]


def test_one_label_array_for_two_outputs_is_refused(two_outputs, tables):
    a, _, _, target = tables
    with pytest.raises(NbOptUsageError) as err:
        nbopt.quantize(two_outputs, "dynamic", eval=(a[300:], target[300:]))
    assert str(err.value) == (
        "evaluation data: the model has 2 outputs ('reg', 'cls'); pass labels for each, "
        "e.g. (x, [y_reg, y_cls]) or (x, {'reg': y_reg, 'cls': y_cls})"
    )


def test_two_label_arrays_for_one_output_are_refused(two_inputs, tables):
    a, b, label, _ = tables
    with pytest.raises(NbOptUsageError) as err:
        nbopt.quantize(two_inputs, "dynamic", eval=([a, b], [label, label]))
    assert str(err.value) == (
        "evaluation data: the model has one output but 2 label arrays were given; "
        "pass one array of labels"
    )


def test_dataframes_and_series_go_where_arrays_go(tables):
    import tf_keras as keras

    a, _, label, _ = tables
    frame = pd.DataFrame(a, columns=["w", "x", "y", "z"])
    series = pd.Series(label, name="label")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(frame[:300], series[:300], epochs=5, verbose=0)

    from_pandas = nbopt.quantize(model, "int8", calib=frame[:100], eval=(frame[300:], series[300:]))
    from_numpy = nbopt.quantize(model, "int8", calib=a[:100], eval=(a[300:], label[300:]))
    assert from_pandas.row["status"] == "ok"
    assert from_pandas.row["calib_samples"] == 100
    assert from_pandas.row["eval_samples"] == 100
    assert from_pandas.row["accuracy"] == from_numpy.row["accuracy"]
    assert from_pandas.size == from_numpy.size

    training = fit_data((frame, series), input_specs(model))
    assert len(training) == 400
    np.testing.assert_array_equal(training.y, label)


def test_a_text_column_is_named(two_inputs, tables):
    import tf_keras as keras

    a, _, _, _ = tables
    frame = pd.DataFrame(a, columns=["w", "x", "y", "z"]).assign(x=lambda d: d.x.astype(str))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(NbOptTypeError) as err:
        nbopt.quantize(model, "int8", calib=frame)
    assert str(err.value).startswith("column 'x' of the DataFrame is not numeric (")
    assert str(err.value).endswith("); select the numeric columns or encode it first")


def test_fit_without_labels_says_fit_needs_labels(two_inputs, tables):
    a, b, _, _ = tables
    specs = input_specs(two_inputs)
    with pytest.raises(NbOptUsageError) as err:
        fit_data(a[:, :3], input_specs(two_inputs)[1:])
    assert str(err.value) == (
        "fit data: got inputs without labels; fit needs labels, e.g. fit=(x_train, y_train)"
    )
    with pytest.raises(NbOptUsageError) as err:
        fit_data({"feat_a": a, "feat_b": b}, specs)
    assert str(err.value) == (
        "fit data: got a dict of inputs without labels; "
        "fit needs labels, e.g. fit=(x_train, y_train)"
    )


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
def test_dict_inputs_and_outputs_from_a_dataset(flavor, tables):
    """A model built on dicts: fed and scored by key, outputs mapped back in Keras' order."""
    import tensorflow as tf

    if flavor == "tf_keras":
        import tf_keras as keras
    else:
        import keras
    a, b, label, target = tables
    in_a, in_b = keras.Input((4,), name="feat_a"), keras.Input((3,), name="feat_b")
    hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([in_a, in_b]))
    outputs = {
        "z_cls": keras.layers.Dense(2, name="cls")(hidden),
        "a_reg": keras.layers.Dense(1, name="reg")(hidden),
    }
    model = keras.Model({"feat_b": in_b, "feat_a": in_a}, outputs)
    x = {"feat_a": a[300:], "feat_b": b[300:]}
    labels = {"z_cls": label[300:], "reg": target[300:, None]}  # a key and a layer name
    dataset = tf.data.Dataset.from_tensor_slices((x, labels)).batch(16)

    comparison = nbopt.quantize(model, "float16,dynamic", eval=dataset)
    predicted = model.predict(x, verbose=0)
    baseline = comparison.rows[0]
    assert baseline["metric_output"] == "a_reg"
    assert baseline["metrics"]["a_reg"]["value"] == pytest.approx(
        float(np.mean((predicted["a_reg"][:, 0].astype(np.float64) - target[300:]) ** 2)),
        rel=1e-4,
    )
    assert baseline["metrics"]["z_cls"]["value"] == pytest.approx(
        float(np.mean(np.argmax(predicted["z_cls"], axis=1) == label[300:])), abs=0.01
    )
    reg, cls = comparison["float32"].predict([a[300:], b[300:]])
    np.testing.assert_allclose(reg, predicted["a_reg"], atol=1e-5)
    np.testing.assert_allclose(cls, predicted["z_cls"], atol=1e-5)
    assert [r["status"] for r in comparison.rows] == ["ok", "ok", "ok"]
