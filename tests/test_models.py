"""Model families beyond the CNN: recurrent layers (LSTM, GRU) and ops that need Flex."""

from __future__ import annotations

import numpy as np
import pytest

import nbopt
from nbopt.engine.analyse.compat import op_report

SCHEMES = "float16,dynamic,int8,int16x8"


@pytest.fixture(scope="module")
def sequences():
    """Sequences of 10 steps; the label says whether the first feature sums above zero."""
    rng = np.random.RandomState(0)
    x = rng.randn(520, 10, 2).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("int64")
    return x[:400], y[:400], x[400:], y[400:]


def recurrent_model(flavor: str, kind: str, sequences):
    """A trained ``kind`` (LSTM or GRU) classifier built with tf_keras or Keras 3."""
    if flavor == "tf_keras":
        import tf_keras as keras
    else:
        import keras

        keras.utils.set_random_seed(0)
    x_train, y_train, _, _ = sequences
    inputs = keras.Input((10, 2))
    hidden = getattr(keras.layers, kind)(32)(inputs)  # unroll=False, the default
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(hidden))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=12, batch_size=32, verbose=0)
    return model


def keras_accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def ops_of(comparison, scheme: str) -> set[str]:
    return set(op_report(comparison.models[scheme].content).ops)


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
def test_lstm_converts_to_the_fused_op_and_quantizes(flavor, sequences):
    model = recurrent_model(flavor, "LSTM", sequences)
    _, _, x_test, y_test = sequences
    reference = keras_accuracy(model, x_test, y_test)
    assert reference > 0.8  # the model learned the task

    comparison = nbopt.quantize(model, SCHEMES, calib=sequences[0][:100], eval=(x_test, y_test))
    rows = {r["scheme"]: r for r in comparison.rows}

    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops_of(comparison, "float32")
    for scheme in ("float32", "float16", "dynamic", "int8"):
        assert rows[scheme]["status"] == "ok", rows[scheme]["error"]
        assert abs(rows[scheme]["accuracy"] - reference) <= 0.04, scheme
    assert rows["float32"]["accuracy"] == pytest.approx(reference, abs=0.01)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops_of(comparison, "int8")
    assert rows["int8"]["size_bytes"] < 0.6 * rows["float32"]["size_bytes"]
    assert rows["int16x8"]["status"] == "failed"
    assert rows["int16x8"]["error"] == (
        "int16x8 conversion failed: Quantization to 16x8-bit not yet supported for op: "
        "'UNIDIRECTIONAL_SEQUENCE_LSTM'. Use int8, dynamic, float16 for this model."
    )


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
def test_gru_converts_to_a_loop_and_refuses_calibration_in_one_sentence(flavor, sequences):
    model = recurrent_model(flavor, "GRU", sequences)
    _, _, x_test, y_test = sequences
    reference = keras_accuracy(model, x_test, y_test)
    assert reference > 0.8

    comparison = nbopt.quantize(model, SCHEMES, calib=sequences[0][:100], eval=(x_test, y_test))
    rows = {r["scheme"]: r for r in comparison.rows}

    assert "WHILE" in ops_of(comparison, "float32")  # TFLite has no fused GRU
    for scheme in ("float32", "float16", "dynamic"):
        assert rows[scheme]["status"] == "ok", rows[scheme]["error"]
        assert abs(rows[scheme]["accuracy"] - reference) <= 0.04, scheme
    for scheme in ("int8", "int16x8"):
        assert rows[scheme]["status"] == "failed"
        assert rows[scheme]["error"] == (
            f"{scheme} cannot calibrate this model's recurrent loop: TFLite turns a GRU or "
            "SimpleRNN layer (anything but a tf_keras LSTM) into a WHILE loop, and calibrating "
            "that loop crashes the TFLite converter. Use float16 or dynamic for this model, "
            f"or build the recurrent layer with unroll=True to get {scheme}."
        )


def test_an_unrolled_gru_quantizes_to_int8_as_the_advice_says(sequences):
    import tf_keras as keras

    inputs = keras.Input((10, 2))
    outputs = keras.layers.Dense(2)(keras.layers.GRU(8, unroll=True)(inputs))
    model = keras.Model(inputs, outputs)
    comparison = nbopt.quantize(model, ["int8"], calib=sequences[0][:50])
    assert [r["status"] for r in comparison.rows] == ["ok", "ok"]
    assert "WHILE" not in ops_of(comparison, "int8")


def flex_model():
    """A model whose matrix inverse has no TFLite kernel (a TensorFlow op: Flex)."""
    import tensorflow as tf
    import tf_keras as keras

    inputs = keras.Input((3, 3))
    inverse = keras.layers.Lambda(lambda t: tf.linalg.inv(t + 3.0 * tf.eye(3)))(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(inverse))
    return keras.Model(inputs, outputs, name="with_inverse")


def test_tensorflow_ops_fail_with_the_allow_flex_advice():
    comparison = nbopt.quantize(flex_model(), ["dynamic"])
    for row in comparison.rows:
        assert row["status"] == "failed"
        assert row["error"] == (
            f"{row['scheme']} conversion failed: the model uses TensorFlow ops that TFLite has "
            "no built-in kernel for (MatrixInverse). Pass allow_flex=True (--allow-flex) to "
            "keep them as TensorFlow (Flex) ops; the model then needs the Flex delegate to run."
        )


def test_allow_flex_converts_and_marks_the_rows(tmp_path):
    comparison = nbopt.quantize(flex_model(), ["dynamic"], allow_flex=True)
    df = comparison.df
    assert list(df["scheme"]) == ["float32", "dynamic"]
    assert df["needs_flex"].tolist() == [True, True]
    assert (df["size_bytes"] > 0).all()
    assert (
        df["compat_notes"]
        .str.startswith("needs the Flex delegate (TensorFlow ops: FlexMatrixInverse)")
        .all()
    )
    # The LiteRT interpreter in Python has no Flex delegate: the rows say so in full.
    assert df["status"].tolist() == ["failed", "failed"]
    assert (
        df["error"].tolist()
        == [
            "the model contains TensorFlow (Flex) ops and the LiteRT interpreter in Python has no "
            "Flex delegate, so it cannot be measured here; the .tflite is made (save it from "
            ".models) and runs where the Flex delegate is linked"
        ]
        * 2
    )
    saved = comparison.models["dynamic"].save(tmp_path)
    assert saved.stat().st_size == df["size_bytes"].iloc[1]


def test_a_loop_with_a_free_batch_fails_in_one_sentence_and_converts_with_flex(tmp_path):
    """What every recurrent model got before the fixed batch: TensorFlow's hint, not loc(...)."""
    import tf_keras as keras

    from nbopt.engine.convert.converter import _convert_here, _save_signature, flex_ops
    from nbopt.engine.model.keras_models import input_specs
    from nbopt.errors import ConversionError

    inputs = keras.Input((10, 2))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GRU(4)(inputs)))
    _save_signature(model, input_specs(model), None, str(tmp_path))
    with pytest.raises(ConversionError) as err:
        _convert_here(str(tmp_path), "float32", None, "float", False)
    assert str(err.value) == (
        "float32 conversion failed: the model uses TensorFlow ops that TFLite has no built-in "
        "kernel for. Pass allow_flex=True (--allow-flex) to keep them as TensorFlow (Flex) ops; "
        "the model then needs the Flex delegate to run."
    )
    content = _convert_here(str(tmp_path), "float32", None, "float", False, allow_flex=True)
    assert "FlexTensorListReserve" in flex_ops(content)
