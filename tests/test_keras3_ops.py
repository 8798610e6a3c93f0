"""Keras 3 models convert without shape arithmetic, to the ops of their tf_keras twins.

Keras 3 computes a reshape's target from the tensor's run-time shape (``Flatten`` reshapes to
``(ops.shape(x)[0], 64)``); traced with a free batch that became ``SHAPE``, ``STRIDED_SLICE``
and ``PACK`` ops, and the Edge TPU note said it cannot run ``SHAPE``. The export gives such a
reshape a constant target with ``-1`` for the batch (``nbopt/engine/convert/shapes.py``): the
op lists below are those of the same family built with tf_keras, and the flatbuffer keeps its
free batch, so accuracy is still measured in batches.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pytest
from model_zoo import PTQ, post_training, trained_once
from test_matrix import MAX_DROP, MAX_TRAINING_DROP

import nbopt
from nbopt.engine.analyse.compat import op_report
from nbopt.engine.convert.converter import convert, export_saved_model
from nbopt.engine.measure.interpreter import Runner, make_interpreter

SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK"}
CNN = (
    "plain CNN",
    "Conv+BN+Dropout",
    "residual block",
    "two inputs",
    "two outputs",
    "Rescaling",
    "MobileNetV2 a0.35 96x96",
)
#: The plain CNN's op counts, as the tf_keras build converts them (float32 and int8).
PLAIN_CNN_OPS = {"CONV_2D": 1, "MAX_POOL_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 2, "SOFTMAX": 1}


def _ops(family: str, flavor: str, scheme: str) -> Counter:
    return Counter(op_report(post_training(family, flavor)[scheme].content).ops)


def _first_output(predictions: Any) -> np.ndarray:
    return np.asarray(predictions[0] if isinstance(predictions, list) else predictions)


def _keras_accuracy(model: Any, data: Any) -> float:
    """Top-1 accuracy of the model's first output on the eval data, by Keras itself."""
    labels = data.y_test[0] if isinstance(data.y_test, list) else data.y_test
    scores = _first_output(model.predict(data.x_test, batch_size=64, verbose=0))
    return float(np.mean(np.argmax(scores, axis=-1) == labels))


@pytest.mark.parametrize("scheme", ("float32", *PTQ))
@pytest.mark.parametrize("family", CNN)
def test_keras3_converts_to_the_ops_of_tf_keras(family: str, scheme: str) -> None:
    keras3 = _ops(family, "keras3", scheme)
    assert not set(keras3) & SHAPE_OPS, dict(keras3)
    assert keras3 == _ops(family, "tf_keras", scheme)


def test_the_plain_cnn_op_list() -> None:
    assert _ops("plain CNN", "keras3", "float32") == PLAIN_CNN_OPS
    assert _ops("plain CNN", "keras3", "int8") == {**PLAIN_CNN_OPS, "QUANTIZE": 1, "DEQUANTIZE": 1}


@pytest.mark.parametrize("family", CNN)
def test_every_scheme_is_ok_and_float32_is_keras_own_accuracy(family: str) -> None:
    model, data = trained_once(family, "keras3")
    rows = {r["scheme"]: r for r in post_training(family, "keras3").rows}
    reference = _keras_accuracy(model, data)
    assert rows["float32"]["status"] == "ok", rows["float32"].get("error")
    assert rows["float32"]["accuracy"] == pytest.approx(reference, abs=1e-6)
    for scheme in PTQ:
        assert rows[scheme]["status"] == "ok", rows[scheme].get("error")
        drop = rows["float32"]["accuracy"] - rows[scheme]["accuracy"]
        assert drop <= MAX_DROP[scheme], scheme


def test_the_flatbuffer_keeps_a_free_batch_and_predicts_in_batches() -> None:
    model, data = trained_once("two inputs", "keras3")
    runner = Runner(post_training("two inputs", "keras3")["float32"].content)
    assert [list(d["shape_signature"]) for d in runner.inputs] == [[-1, 8, 8, 1], [-1, 8]]
    got = runner.predict(data.x_test, batch_size=256)[0]
    assert runner.batch == 180  # 360 samples in two equal batches
    want = model.predict(data.x_test, batch_size=64, verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_keras3_flatten_is_edge_tpu_ready_as_int8_with_integer_io() -> None:
    model, data = trained_once("plain CNN", "keras3")
    integer = nbopt.quantize(model, "int8", data.calib, io="int8")
    assert integer.row["edgetpu_ready"] is True
    assert integer.row["compat_notes"] == ""
    for row in post_training("plain CNN", "keras3").rows:
        assert not re.search(r"\bSHAPE\b", row["compat_notes"]), row["scheme"]
        assert "does not run" not in row["compat_notes"], row["scheme"]


TECHNIQUES = {
    "qat": lambda model, **kw: nbopt.quantize(model, aware=True, **kw),
    "prune": lambda model, **kw: nbopt.prune(model, 0.5, **kw),
    "cluster": lambda model, **kw: nbopt.cluster(model, 8, **kw),
}


@pytest.mark.parametrize("technique", TECHNIQUES)
@pytest.mark.parametrize("family", ("residual block", "two outputs", "Rescaling"))
def test_training_techniques_give_ok_rows_without_shape_ops(family: str, technique: str) -> None:
    model, data = trained_once(family, "keras3")
    skip = {"skip": ["rescaling"]} if (family, technique) == ("Rescaling", "qat") else {}
    result = TECHNIQUES[technique](model, fit=data.fit, epochs=1, eval=data.eval, **skip)
    assert result.row["status"] == "ok", result.row.get("error")
    for row in result.comparison.rows:
        assert row["status"] == "ok"
    assert not set(op_report(result.content).ops) & SHAPE_OPS
    baseline = next(r for r in result.comparison.rows if r["technique"] == "baseline")
    assert baseline["accuracy"] - result.row["accuracy"] <= MAX_TRAINING_DROP


def _layers_model(keras: Any, build: Any, shape: tuple[int | None, ...]) -> Any:
    inputs = keras.Input(shape)
    return keras.Model(inputs, build(keras.layers)(inputs))


#: Keras 3 layers whose reshape target came from the run-time shape (not only Flatten).
RESHAPING = {
    "Reshape": lambda layers: layers.Reshape((4, 16)),
    "UpSampling2D": lambda layers: layers.UpSampling2D(),
    "RepeatVector": lambda layers: lambda x: layers.RepeatVector(3)(layers.Flatten()(x)),
}


@pytest.mark.parametrize("layer", RESHAPING)
def test_reshapes_of_other_layers_lose_their_shape_ops_and_compute_the_same(layer: str) -> None:
    import keras

    model = _layers_model(keras, RESHAPING[layer], (8, 8, 1))
    x = np.random.default_rng(0).random((37, 8, 8, 1)).astype("float32")
    with export_saved_model(model) as exported:
        content = convert(exported.path, "float32", isolate=False)
    assert not set(op_report(content).ops) & (SHAPE_OPS | {"CONCATENATION"})
    runner = Runner(content)
    for size in (1, 37):
        got = runner.predict([x], batch_size=size)[0]
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-6)


def test_two_free_dimensions_keep_their_shape_ops_and_still_compute_the_same() -> None:
    """Only one dimension of a target can be -1: with a free length too, nothing is folded."""
    import keras

    model = _layers_model(keras, lambda layers: layers.Reshape((-1, 2)), (None, 4))
    with export_saved_model(model) as exported:
        content = convert(exported.path, "float32", isolate=False)
    assert "SHAPE" in op_report(content).ops
    interpreter = make_interpreter(content)
    index = interpreter.get_input_details()[0]["index"]
    for steps in (3, 5):
        x = np.random.default_rng(steps).random((6, steps, 4)).astype("float32")
        interpreter.resize_tensor_input(index, x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-6)
