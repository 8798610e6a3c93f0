"""Below int8: 4-bit and blockwise weights, weight-only schemes, and per-tensor int8."""

from __future__ import annotations

import pytest

import nbopt
from nbopt.config import NbOpt, set_current
from nbopt.engine.convert.converter import parse_schemes
from nbopt.errors import NbOptUsageError

LOW_BIT = "int8,int4,int4-block32,int4-block64,weight-int8,weight-int4"


@pytest.fixture(scope="module")
def low_bit(trained_cnn, digits):
    """One comparison of every low-bit scheme on the digits CNN, indexed by scheme."""
    x_train, _, x_test, y_test = digits
    set_current(NbOpt(latency_warmup_runs=1, latency_runs=5, latency_min_seconds=0.0))
    try:
        c = nbopt.quantize(trained_cnn, LOW_BIT, x_train[:128], (x_test, y_test))
    finally:
        set_current(None)
    return c.df.set_index("scheme")


def _weight_scales(content: bytes) -> list[int]:
    """How many scales each int8 weight tensor (a constant of 2+ dimensions) carries."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    sub = model.subgraphs[0]
    return [
        len(t.quantization.scale)
        for t in sub.tensors
        if t.type == 9  # INT8
        and len(t.shape) > 1
        and model.buffers[t.buffer].data is not None
        and len(model.buffers[t.buffer].data)
    ]


def test_int4_is_an_eighth_of_float32_within_five_points(low_bit):
    base, int4 = low_bit.loc["float32"], low_bit.loc["int4"]
    assert int4["status"] == "ok" and int4["converter"] == "litert-quantizer"
    assert int4["size_ratio"] >= 6.0  # 4-bit weights: about 7.5x on this CNN
    assert abs(int4["accuracy_delta"]) <= 0.05
    # The weights themselves: an eighth of float32's, plus one scale per channel.
    assert int4["weights_bytes"] <= base["weights_bytes"] / 7.5


def test_every_low_bit_row_has_size_ram_weights_and_mcu_columns(low_bit):
    assert list(low_bit.index) == ["float32", *LOW_BIT.split(",")]
    assert (low_bit["status"] == "ok").all()
    assert (low_bit["ram_bytes"] > 0).all() and (low_bit["weights_bytes"] > 0).all()
    assert low_bit["mcu_ready"].map(lambda v: isinstance(v, bool)).all()
    assert (low_bit["accuracy_delta"].abs() <= 0.05).all()
    # Blocks carry a scale per 32 or 64 weights: bigger than int4, smaller than int8.
    sizes = low_bit["weights_bytes"]
    assert sizes["int4"] < sizes["int4-block64"] < sizes["int4-block32"] < sizes["int8"]


def test_blockwise_leaves_the_convolutions_it_cannot_split_in_float(low_bit):
    # The digits CNN's convolutions have 1 and 16 input channels: no block of 32 fits.
    note = low_bit.loc["int4-block32", "compat_notes"]
    assert "int4-block32 leaves float32 weights in CONV_2D x2 (they stay float)" in note
    assert "leaves float32 weights" not in low_bit.loc["int4", "compat_notes"]


def test_hybrid_int4_does_not_run_on_microcontrollers_and_says_why(low_bit):
    int4 = low_bit.loc["int4"]
    assert int4["mcu_ready"] in (False,)  # False, not unknown (None)
    assert "hybrid" in int4["compat_notes"].lower()
    assert low_bit.loc["int8", "mcu_ready"] in (True,)


def test_weight_only_keeps_float_compute_and_dequantizes_into_ram(low_bit):
    w8, int8, base = low_bit.loc["weight-int8"], low_bit.loc["int8"], low_bit.loc["float32"]
    assert w8["weights_bytes"] == int8["weights_bytes"]  # int8 weights in flash
    assert w8["accuracy"] == pytest.approx(base["accuracy"], abs=0.01)
    # At load the weights become float32 tensors in the arena.
    assert w8["ram_bytes"] > 0.9 * base["weights_bytes"]
    assert "DEQUANTIZE" in low_bit.loc["weight-int4", "compat_notes"]


def test_int4_leaves_depthwise_convolutions_in_float_and_says_so():
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 8))
    x = keras.layers.DepthwiseConv2D(3, padding="same")(inputs)
    x = keras.layers.Conv2D(32, 1)(x)
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(x)))
    row = nbopt.quantize(model, "int4").row
    assert row["status"] == "ok"
    assert "int4 leaves float32 weights in DEPTHWISE_CONV_2D x1" in row["compat_notes"]


@pytest.mark.parametrize(("io", "converter"), [("float", "tflite-converter"), ("int8", None)])
def test_per_tensor_int8_has_one_scale_per_weight_tensor(trained_cnn, digits, io, converter):
    x_train, _, x_test, y_test = digits
    per_channel = nbopt.quantize(trained_cnn, "int8", x_train[:128], io=io)
    per_tensor = nbopt.quantize(
        trained_cnn, "int8", x_train[:128], (x_test, y_test), io=io, per_tensor=True
    )
    assert per_tensor.row["per_tensor"] is True
    if converter:
        assert per_tensor.row["converter"] == converter
    assert max(_weight_scales(per_channel.content)) > 1
    assert _weight_scales(per_tensor.content) == [1, 1, 1, 1]
    assert per_tensor.row["accuracy"] > 0.85


def test_per_tensor_applies_to_int8_only(trained_cnn):
    with pytest.raises(NbOptUsageError, match="per_tensor applies to the int8 scheme"):
        nbopt.quantize(trained_cnn, "dynamic,int4", per_tensor=True)


def test_low_bit_scheme_names_and_aliases():
    assert parse_schemes("INT4, int4-b32,int4-b64, weight-only-int4") == [
        "int4",
        "int4-block32",
        "int4-block64",
        "weight-int4",
    ]
    with pytest.raises(NbOptUsageError, match="int4-block32, int4-block64, weight-int8"):
        parse_schemes("int2")


def test_verified_cpu_recommendation_offers_int4_when_it_keeps_accuracy(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    rec = nbopt.recommend(
        trained_cnn, calib=x_train[:128], eval=(x_test, y_test), max_drop=0.02, verify=True
    )
    assert rec.scheme == "int8" and rec.alternative is not None
    assert rec.alternative.scheme == "int4"
    assert rec.alternative.size < rec.model.size / 1.9
    assert rec.reasons[-1].startswith("int4 (4-bit weights) is within the budget too")


def test_quantize_magic_compares_int4_with_memory_columns(ip, trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    ip.user_ns.update(model=trained_cnn, x_train=x_train, x_test=x_test, y_test=y_test)
    c = ip.run_line_magic(
        "quantize",
        "model --scheme int8,int4,int4-block32,weight-int8 --calib x_train[:256] "
        "--eval x_test,y_test",
    )
    df = c.df.set_index("scheme")
    assert list(df.index) == ["float32", "int8", "int4", "int4-block32", "weight-int8"]
    assert df.loc["int4", "size_ratio"] >= 6 and abs(df.loc["int4", "accuracy_delta"]) <= 0.05
    assert df[["ram_bytes", "weights_bytes", "mcu_ready"]].notna().all().all()
