"""The memory a variant needs: weights (flash), the tensor arena (RAM) and MCU readiness."""

from __future__ import annotations

import numpy as np
import pytest

import nbopt
from nbopt.config import NbOpt, set_current
from nbopt.engine.measure import memory
from nbopt.engine.measure.memory import Graph, Tensor


def _quiet(fn):
    set_current(NbOpt(latency_warmup_runs=1, latency_runs=5, latency_min_seconds=0.0))
    try:
        return fn()
    finally:
        set_current(None)


@pytest.fixture(scope="module")
def digits_variants(trained_cnn, digits):
    """float32, dynamic, integer-only int8 and weight-int8 of the digits CNN."""
    x_train, _, x_test, y_test = digits
    return _quiet(
        lambda: nbopt.quantize(
            trained_cnn, "dynamic,int8,weight-int8", x_train[:128], (x_test, y_test), io="int8"
        )
    )


@pytest.fixture(scope="module")
def residual_variants():
    """A small net with a residual add, a concatenation and a depthwise convolution."""
    import tf_keras as keras

    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    y = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.Add()([x, layers.Conv2D(16, 1)(y)])
    x = layers.Concatenate()([x, layers.Conv2D(8, 1)(x)])
    x = layers.GlobalAveragePooling2D()(layers.MaxPooling2D()(x))
    model = keras.Model(inputs, layers.Dense(4, activation="softmax")(x), name="residual")
    calib = np.random.default_rng(0).random((64, 16, 16, 3), dtype=np.float32)
    return _quiet(lambda: nbopt.quantize(model, "int8,weight-int8", calib))


def _chain(sizes: list[int]) -> Graph:
    """Tensors 0 → op 0 → 1 → op 1 → 2 ...: each op reads the last tensor, writes the next."""
    tensors = [Tensor(n, False, False, "INT8") for n in sizes]
    ops = [("RELU", [i], [i + 1]) for i in range(len(sizes) - 1)]
    return Graph(tensors, ops, [0], [len(sizes) - 1], weights_bytes=0)


def test_greedy_planner_reuses_the_memory_of_dead_tensors():
    # 100 → 200 → 50: the 50-byte output goes where the input was (aligned to 16 bytes).
    assert memory.plan_arena(_chain([100, 200, 50])) == 208 + 112
    # A long chain needs only its two largest neighbours at once.
    assert memory.plan_arena(_chain([64, 64, 64, 64, 64])) == 128
    # The two large tensors never live at once: they share one place.
    assert memory.plan_arena(_chain([16, 1000, 16, 1000])) == 1008 + 16


def _variants(comparison):
    return {scheme: m.content for scheme, m in comparison.models.items()}


def test_planner_matches_tflite_micro_arena(digits_variants, residual_variants):
    pytest.importorskip("tflite_micro")
    checked = 0
    for comparison in (digits_variants, residual_variants):
        for scheme, content in _variants(comparison).items():
            plan = memory.plan_arena(memory.read_graph(content))
            measured = memory.tflm_arena(content, plan)
            if not measured["ok"]:  # dynamic (hybrid) does not run there
                continue
            assert plan == pytest.approx(measured["head"], rel=0.10), scheme
            assert plan == measured["head"]  # same algorithm, same order: the same bytes
            checked += 1
    assert checked == 6


def test_rows_use_tflite_micro_where_it_runs_and_the_planner_elsewhere(digits_variants):
    df = digits_variants.df.set_index("scheme")
    expected = "tflm" if memory.tflm_available() else "greedy"
    assert df.loc["int8", "ram_method"] == expected
    assert df.loc["dynamic", "ram_method"] == "greedy"
    assert df.loc["int8", "arena_bytes"] > df.loc["int8", "ram_bytes"] or expected == "greedy"


def test_int8_needs_a_quarter_of_float32_ram(digits_variants):
    df = digits_variants.df.set_index("scheme")
    # Activations are 1 byte instead of 4: 2,304 bytes against 9,216 on the digits CNN.
    assert df.loc["int8", "ram_bytes"] / df.loc["float32", "ram_bytes"] == pytest.approx(
        0.25, abs=0.05
    )
    assert df.loc["dynamic", "ram_bytes"] == df.loc["float32", "ram_bytes"]  # float activations


def test_weights_bytes_are_the_constant_data(digits_variants, trained_cnn):
    df = digits_variants.df.set_index("scheme")
    params = trained_cnn.count_params()
    # float32: 4 bytes a parameter plus the reshape's shape (two int32).
    assert df.loc["float32", "weights_bytes"] == 4 * params + 8
    # int8: 1 byte a weight, int32 biases.
    assert df.loc["int8", "weights_bytes"] < 1.1 * params
    assert str(df["weights_bytes"].dtype) == "Int64" and str(df["ram_bytes"].dtype) == "Int64"


def test_mcu_ready_says_why_not(digits_variants):
    rows = {r["scheme"]: r for r in digits_variants.rows}
    assert rows["int8"]["mcu_ready"] is True
    assert rows["float32"]["mcu_ready"] is True  # TFLite Micro has float kernels too
    assert rows["dynamic"]["mcu_ready"] is False
    note = rows["dynamic"]["compat_notes"]
    assert "MCU: " in note and "CONV_2D" in note and "hybrid" in note.lower()


def test_without_tflite_micro_the_planner_and_op_rules_decide(digits_variants, monkeypatch):
    monkeypatch.setattr(memory, "tflm_available", lambda: False)
    models = _variants(digits_variants)
    int8 = memory.memory_columns(models["int8"])
    assert int8["ram_method"] == "greedy" and int8["ram_bytes"] == 2304
    assert int8["mcu_ready"] is True and int8["mcu_notes"] == []
    dynamic = memory.memory_columns(models["dynamic"])
    assert dynamic["mcu_ready"] is False
    assert dynamic["mcu_notes"] == [
        "MCU: float activations with integer weights (hybrid CONV_2D, FULLY_CONNECTED) "
        "are not supported: use int8"
    ]


def test_mcu_recommendation_is_integer_only_int8_per_tensor_on_request():
    from nbopt.engine.analyse.recommend import decide

    rec = decide(calib=True, fit=True, target="mcu")
    assert [c.label for c in rec.path] == ["int8 (int8 I/O)", "qat (int8 I/O)"]
    assert "--per-tensor" in " ".join(rec.reasons)
    per_tensor = decide(calib=True, fit=False, target="mcu", per_tensor=True)
    assert [c.label for c in per_tensor.path] == ["int8 (int8 I/O, per-tensor)"]
    assert decide(calib=False, fit=False, target="mcu").needs == "--calib"


def test_recommend_for_mcu_checks_ram_and_flash_budgets(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    common = {"calib": x_train[:128], "eval": (x_test, y_test), "target": "mcu"}
    fits = nbopt.recommend(trained_cnn, **common, ram_kb=64, flash_kb=256, verify=True)
    assert fits.scheme == "int8" and fits.io == "int8" and fits.model is not None
    step = fits.trail[0]
    assert step["within_budget"] and step["mcu_ready"] and step["size_bytes"] < 256 * 1024
    assert any("KB of 64 KB" in r and "within budget" in r for r in fits.reasons)
    # int8 weights of the 154k-parameter CNN need about 155 KB of flash: not in 100 KB.
    too_small = nbopt.recommend(trained_cnn, **common, flash_kb=100, verify=True)
    assert too_small.model is None and not too_small.trail[0]["within_budget"]
    assert any("over the flash budget" in r for r in too_small.reasons)
    assert too_small.reasons[-1] == "No scheme on the path fits the device; try a smaller model."


def test_quantizer_weights_are_stored_inside_the_flatbuffer(trained_cnn, digits):
    import warnings

    from litert_quantizer import quantizer

    from nbopt.engine.convert.litert import _recipe, inline_buffers
    from nbopt.engine.measure.interpreter import Runner

    float16 = nbopt.quantize(trained_cnn, "float16")
    assert float16.row["converter"] == "litert-quantizer"
    assert memory.read_graph(float16.content).external_buffers == 0
    # Over 256 KB of weights, the quantizer itself writes them after the flatbuffer.
    base = float16.comparison.models["float32"].content
    q = quantizer.Quantizer(bytearray(base))
    q.load_quantization_recipe(_recipe("float16"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = bytes(q.quantize(None, enable_progress_bar=False).quantized_model)
    outside = memory.read_graph(raw)
    assert outside.external_buffers > 0
    inlined = inline_buffers(raw)
    inside = memory.read_graph(inlined)
    assert inside.external_buffers == 0 and inside.weights_bytes == outside.weights_bytes
    x = digits[2][:16]
    np.testing.assert_array_equal(Runner(raw).predict([x])[0], Runner(inlined).predict([x])[0])
    assert memory.memory_columns(raw)["mcu_ready"] is False


def test_memory_columns_read_twice_are_the_same_row(digits_variants):
    # the second reading comes from the content-keyed memo: the caller's changes to the
    # first (add_memory_columns pops the notes) must not reach it
    content = _variants(digits_variants)["dynamic"]
    rows = [{"compat_notes": ""}, {"compat_notes": ""}]
    for row in rows:
        memory.add_memory_columns(row, content, "dynamic")
    assert rows[0] == rows[1]
    assert rows[0]["mcu_ready"] is False and "hybrid" in rows[0]["compat_notes"]
    assert rows[0]["ram_bytes"] > 0 and rows[0]["weights_bytes"] > 0
