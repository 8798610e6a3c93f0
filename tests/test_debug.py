"""Per-layer debugging and selective quantization, checked on the flatbuffers themselves.

The planted model is an MLP on the digits where one unit of ``hidden`` is scaled up by
1000 and ``mid``'s weights for it down by 1000: the same function in float, while int8
gives that tensor one scale for a range 1000 times too wide and the other units collapse.
"""

from __future__ import annotations

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbopt
from nbopt.engine.analyse.layers import model_ops, tensor_types
from nbopt.engine.store.schema import variant_label
from nbopt.errors import NbOptUsageError

LAYERS = ["first", "hidden", "mid", "fourth", "out"]


def planted_mlp(x_train, y_train):
    """A trained MLP (Sequential) made to break under int8 without changing in float."""
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,), name="pixels"),
            keras.layers.Dense(32, activation="relu", name="first"),
            keras.layers.Dense(32, activation="relu", name="hidden"),
            keras.layers.Dense(32, activation="relu", name="mid"),
            keras.layers.Dense(32, activation="relu", name="fourth"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ],
        name="planted",
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=30, batch_size=32, verbose=0)
    kernel, bias = model.get_layer("hidden").get_weights()
    kernel[:, 0] *= 1000
    bias[0] *= 1000
    model.get_layer("hidden").set_weights([kernel, bias])
    kernel, bias = model.get_layer("mid").get_weights()
    kernel[0, :] /= 1000
    model.get_layer("mid").set_weights([kernel, bias])
    return model


@pytest.fixture(scope="module")
def flat(digits):
    x_train, y_train, x_test, y_test = digits
    return x_train.reshape(len(x_train), -1), y_train, x_test.reshape(len(x_test), -1), y_test


@pytest.fixture(scope="module")
def planted(flat):
    x_train, y_train, _, _ = flat
    return planted_mlp(x_train, y_train)


def _op_types(content: bytes, layers: list[str], model: str | None = None) -> dict[str, set]:
    """``{layer: the types of its ops' outputs}`` read from the flatbuffer."""
    types = tensor_types(content)
    from litert_quantizer.utils import tfl_flatbuffer_utils as fu

    graph = fu.read_model(bytearray(content)).subgraphs[0]
    names = [fu.get_tensor_name(t) for t in graph.tensors]
    found: dict[str, set[str]] = {}
    for op in model_ops(content, layers, model):
        if op.op in ("QUANTIZE", "DEQUANTIZE"):
            continue
        found.setdefault(op.layer, set()).update(types[names[t]] for t in op.outputs)
    return found


def test_float_layers_stay_float_on_the_flatbuffer_and_the_rest_int8(trained_cnn, digits, tmp_path):
    x_train, _, x_test, y_test = digits
    m = nbopt.quantize(
        trained_cnn,
        "int8",
        x_train[:128],
        (x_test, y_test),
        float_layers="dense, conv2d",
        save=str(tmp_path),
    )
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["digits_cnn_float32.tflite", "digits_cnn_int8.tflite"]
    assert (tmp_path / "digits_cnn_int8.tflite").read_bytes() == m.content
    layers = [layer.name for layer in trained_cnn.layers]
    assert _op_types(m.content, layers) == {
        "conv2d": {"FLOAT32"},
        "conv2d_1": {"INT8"},
        "flatten": {"INT8"},
        "dense": {"FLOAT32"},
        "dense_1": {"INT8"},
    }
    assert m.row["float_layers"] == "dense,conv2d" and m.row["float_ops"] == 2
    assert m.row["converter"] == "litert-quantizer"
    assert [r["scheme"] for r in m.comparison.rows] == ["float32", "int8"]
    assert variant_label(m.row) == m.variant == "int8 float=dense,conv2d"
    assert "layers kept float: dense,conv2d" in repr(nbopt.inspect(m))


def test_keras3_scopes_renamed_by_tensorflow_map_to_their_layers(digits):
    import keras

    from nbopt.demo import digits_cnn

    x_train, _, _, _ = digits
    model = digits_cnn(keras)  # its ops are named digits_cnn_1/conv2d_1, .../conv2d_1_2, ...
    layers = [layer.name for layer in model.layers]
    # Keras 3 numbers its layers across the process: read the names, do not assume them.
    conv_a, conv_b, dense_a, dense_b = (n for n in layers if n.startswith(("conv", "dense")))
    m = nbopt.quantize(model, "int8", x_train[:32], float_layers=[conv_b, dense_a])
    types = _op_types(m.content, layers, model.name)
    assert types[conv_b] == {"FLOAT32"} and types[dense_a] == {"FLOAT32"}
    assert types[conv_a] == {"INT8"} and types[dense_b] == {"INT8"}


def test_fused_layers_and_a_second_output_map_to_their_layers(digits):
    import tf_keras as keras

    x_train, _, _, _ = digits
    keras.utils.set_random_seed(0)
    image, extra = keras.Input((8, 8, 1), name="img"), keras.Input((4,), name="extra")
    x = keras.layers.Conv2D(8, 3, name="conv")(image)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="act")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Concatenate(name="cat")([x, keras.layers.Dense(8, name="side")(extra)])
    outputs = [keras.layers.Dense(10, name="cls")(x), keras.layers.Dense(1, name="reg")(x)]
    model = keras.Model([image, extra], outputs, name="two")
    rng = np.random.default_rng(0)  # non-trivial statistics, so the converter folds bn
    model.get_layer("bn").set_weights([rng.random(8) + 0.5 for _ in range(4)])
    calib = [x_train[:64], rng.random((64, 4), dtype="float32")]
    report = nbopt.debug(model, calib)
    ops = report.df.set_index("layer")["ops"].to_dict()
    assert ops == {
        "conv": "CONV_2D (with bn, act)",  # BatchNormalization and ReLU folded into the conv
        "flat": "RESHAPE",
        "side": "FULLY_CONNECTED",
        "cat": "CONCATENATION",
        "cls": "FULLY_CONNECTED",
        "reg": "FULLY_CONNECTED",  # its op's tensor is named StatefulPartitionedCall:1
    }
    m = nbopt.quantize(model, "int8", calib, float_layers="bn,reg")
    types = _op_types(m.content, [layer.name for layer in model.layers], "two")
    assert types["conv"] == {"FLOAT32"} and types["flat"] == {"INT8"}
    assert m.row["float_ops"] == 2


def test_float_of_every_layer_gives_the_float_accuracy(planted, flat):
    x_train, _, x_test, y_test = flat
    m = nbopt.quantize(planted, "int8", x_train[:128], (x_test, y_test), float_layers=LAYERS)
    base, variant = m.comparison.rows
    assert _op_types(m.content, LAYERS) == {name: {"FLOAT32"} for name in LAYERS}
    assert variant["float_ops"] == 6  # five FULLY_CONNECTED and the SOFTMAX
    assert variant["accuracy"] == pytest.approx(base["accuracy"], abs=1 / len(y_test))
    assert base["accuracy"] > 0.9


def test_an_unknown_layer_is_one_error_with_the_close_matches(trained_cnn, digits):
    x_train, _, _, _ = digits
    with pytest.raises(NbOptUsageError) as err:
        nbopt.quantize(trained_cnn, "int8", x_train[:32], float_layers="dense_2,convv2d")
    assert str(err.value) == (
        "no layer 'dense_2' (did you mean dense_1, dense?), 'convv2d' (did you mean conv2d, "
        "conv2d_1?) with TFLite ops in this model; its layers are digits, conv2d, conv2d_1, "
        "flatten, dense, dense_1"
    )


def test_debug_ranks_the_planted_layers_first(planted, flat):
    x_train, _, x_test, y_test = flat
    report = nbopt.debug(planted, x_train[:256], (x_test, y_test))
    df = report.df
    assert len(df) == 5 and set(df["layer"]) == set(LAYERS)
    assert set(df["layer"][:2]) == {"hidden", "mid"}
    assert list(df["layer"][:2]) == ["hidden", "mid"]  # ties broken by the output's error
    assert report.float_value > 0.9 and report.quantized_value < 0.3  # int8 collapses
    assert (df["sensitivity"][:2] > 0.5).all() and (df["sensitivity"][2:] < 0.01).all()
    assert report.suspects == ["hidden", "mid"]
    assert df.loc[0, "ops"] == "FULLY_CONNECTED" and df.loc[4, "layer"] != "hidden"
    hidden = df.set_index("layer").loc["hidden"]
    assert hidden["range"] > 1000 * df.set_index("layer").loc["first", "range"] / 10
    assert hidden["scale"] == pytest.approx(hidden["range"] / 255)
    assert report.advice.startswith("Try --float hidden,mid ")
    assert "accuracy drop on the evaluation data" in report.measure


def test_debug_without_labels_ranks_by_the_output_error(planted, flat):
    x_train, _, _, _ = flat
    report = nbopt.debug(planted, x_train[:256])
    assert set(report.df["layer"][:2]) == {"hidden", "mid"}
    assert report.df["metric_alone"].isna().all()
    assert report.measure.startswith("output_error: the output's error against float32")
    assert (report.df["sensitivity"] == report.df["output_error"]).all()


def test_debug_of_the_digits_cnn_maps_every_layer(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    report = nbopt.debug(trained_cnn, x_train[:256], (x_test, y_test))
    assert sorted(report.df["layer"]) == ["conv2d", "conv2d_1", "dense", "dense_1", "flatten"]
    ops = report.df.set_index("layer")["ops"]
    assert ops["dense_1"] == "FULLY_CONNECTED, SOFTMAX" and ops["flatten"] == "RESHAPE"
    assert report.without_ops == ["digits"]
    assert (report.df["rmse_over_scale"] < 1.0).all()  # rounding, not clipping
    print(f"digits CNN analysis: {report.seconds:.1f} s")


def test_max_drop_keeps_the_fewest_layers_float(planted, flat):
    x_train, _, x_test, y_test = flat
    best = nbopt.quantize(planted, "int8", x_train[:256], (x_test, y_test), max_drop=0.02)
    rows = best.comparison.rows
    trail = [(r["scheme"], r.get("float_layers")) for r in rows]
    assert trail[:4] == [
        ("float32", None),
        ("int8", ""),
        ("int8", "hidden"),
        ("int8", "hidden,mid"),
    ]
    assert best.row["chosen"] and sum(bool(r.get("chosen")) for r in rows) == 1
    assert best.row["float_layers"] == "hidden,mid"  # 3 of 5 layers stay int8
    assert best.row["accuracy"] >= rows[0]["accuracy"] - 0.02
    assert rows[1]["accuracy"] < 0.3
    assert best.row["note"] == "chosen: hidden, mid float, within max_drop 0.02"
    assert best.related_rows() == rows  # its display shows the whole trail


def test_max_drop_needs_labels(planted, flat):
    with pytest.raises(NbOptUsageError, match="max_drop needs labelled evaluation data"):
        nbopt.quantize(planted, "int8", flat[0][:32], max_drop=0.01)


def test_the_report_renders_a_table_and_a_bar_chart(ip, planted, flat):
    x_train, _, x_test, y_test = flat
    report = nbopt.debug(planted, x_train[:128], (x_test, y_test))
    bundle, _ = ip.display_formatter.format(report)
    page = bundle["text/html"]
    assert page.count('class="nbopt-bar"') == 5 and "<table" in page
    assert page.count('fill="#b00020"') == 2  # the two suspects in red
    assert "Try --float hidden,mid" in page and "suspect: quantizing the layer alone" in page
    assert bundle["text/plain"].startswith("nbopt debug: planted (int8), 5 layers")


def test_magics_name_the_culprit_and_bind_the_search(ip, ns, planted, flat):
    x_train, _, x_test, y_test = flat
    ip.user_ns.update(planted=planted, xf=x_train, xt=x_test, yt=y_test)
    report = ip.run_line_magic("nbopt", "debug planted --calib xf[:256] --eval xt,yt")
    assert report.df["layer"][0] == "hidden" and report.name == "planted"
    cell = ip.run_cell(
        "%quantize planted --scheme int8 --max-drop 0.02 --calib xf[:256] --eval xt,yt --as best"
    )
    assert cell.success and ip.user_ns["best"].row["float_layers"] == "hidden,mid"
    m = ip.run_line_magic("quantize", "planted --float hidden,mid --calib xf[:256] --eval xt,yt")
    assert m.row["float_ops"] == 2 and m.scheme == "int8"
    found = ip.run_line_magic("nbopt", "inspect best")
    assert found.float_layers == "hidden,mid"
    with pytest.raises(UsageError) as err:
        ip.run_line_magic("quantize", "planted --float hiden --calib xf[:32]")
    assert type(err.value) is UsageError
    assert str(err.value) == (
        "no layer 'hiden' (did you mean hidden?) with TFLite ops in this model; its layers "
        "are first, hidden, mid, fourth, out"
    )


def test_recommend_verify_keeps_layers_float_before_int16x8(planted, flat):
    x_train, _, x_test, y_test = flat
    rec = nbopt.recommend(
        planted, calib=x_train[:256], eval=(x_test, y_test), max_drop=0.02, verify=True
    )
    assert [(t["scheme"], t["io"], t["within_budget"]) for t in rec.trail] == [
        ("int8", "float", False),
        ("int8", "int8", True),
    ]
    assert rec.trail[1]["float_layers"] == "hidden,mid"
    assert rec.model.row["float_layers"] == "hidden,mid" and rec.model.row["chosen"]
    assert rec.choice.label == "int8 with its most sensitive layers float"


def test_int16x8_keeps_named_layers_float_and_the_rest_int16(planted, flat):
    x_train, _, x_test, y_test = flat
    m = nbopt.quantize(
        planted, "int16x8", x_train[:128], (x_test, y_test), float_layers=["hidden", "mid"]
    )
    types = _op_types(m.content, LAYERS)
    assert types == {
        "first": {"INT16"},
        "hidden": {"FLOAT32"},
        "mid": {"FLOAT32"},
        "fourth": {"INT16"},
        "out": {"INT16"},
    }
    assert m.row["scheme"] == "int16x8" and m.row["accuracy_delta"] >= -0.01
