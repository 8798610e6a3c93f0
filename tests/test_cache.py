"""Conversions keyed by content: an unchanged %quantize reuses its variants and re-measures."""

from __future__ import annotations

import numpy as np

from nbopt.engine.pipeline.variants import conversion_keys
from nbopt.engine.store import cache, results

LINE = "model --scheme float16, dynamic, int8 --calib x_train[:64] --eval x_test, y_test"


def _frame(ip, line):
    df = ip.run_line_magic("quantize", line).df
    return df.set_index("scheme")


def test_the_second_quantize_reuses_the_stored_variants_and_measures_them_again(ip, ns):
    first = _frame(ip, LINE)
    second = _frame(ip, LINE)
    schemes = ["float32", "float16", "dynamic", "int8"]
    assert list(first.index) == list(second.index) == schemes
    assert not first["cached"].any() and second["cached"].all()
    assert list(second["size_bytes"]) == list(first["size_bytes"])
    assert list(second["converter"]) == list(first["converter"])
    assert list(second["accuracy"]) == list(first["accuracy"])  # the same flatbuffers
    assert second["latency_ms"].notna().all()  # measured again, not copied
    assert (second["run_id"] != first["run_id"]).all()
    assert list(second["config_key"]) == list(first["config_key"])

    fresh = _frame(ip, LINE + " --fresh")
    assert not fresh["cached"].any()
    assert list(fresh["size_bytes"]) == list(first["size_bytes"])
    stored = results.store().rows(run=second["run_id"].iloc[0])
    assert [r["cached"] for r in stored] == [True] * 4


def test_a_cached_run_does_not_export_the_model(ip, ns):
    ip.run_line_magic("quantize", "model --scheme dynamic")
    events = []
    import nbopt

    nbopt.quantize(ns["model"], "dynamic", name="model", progress=events.append)
    assert [e.message for e in events if e.kind in ("start", "step")][:2] == [
        "reusing model's conversions",
        "reusing its stored conversion",
    ]


def test_the_key_follows_weights_calibration_and_options(trained_cnn, digits):
    x_train = digits[0]
    calib = [x_train[:64]]
    schemes = ["float32", "float16", "int8"]
    keys = conversion_keys(trained_cnn, schemes, calib, "float", "litert")
    assert keys == conversion_keys(trained_cnn, schemes, calib, "float", "litert")
    assert len(set(keys.values())) == 3

    other_calib = conversion_keys(trained_cnn, schemes, [x_train[64:128]], "float", "litert")
    assert other_calib["int8"] != keys["int8"]
    assert other_calib["float16"] == keys["float16"]  # float16 does not calibrate
    uint8 = conversion_keys(trained_cnn, schemes, calib, "uint8", "litert")
    assert uint8["int8"] != keys["int8"] and uint8["float16"] == keys["float16"]
    converter = conversion_keys(trained_cnn, schemes, calib, "float", "converter")
    assert converter["float16"] != keys["float16"] and converter["float32"] == keys["float32"]

    weights = trained_cnn.get_weights()
    try:
        trained_cnn.set_weights([weights[0] + np.float32(1e-6), *weights[1:]])
        changed = conversion_keys(trained_cnn, schemes, calib, "float", "litert")
    finally:
        trained_cnn.set_weights(weights)
    assert not set(changed.values()) & set(keys.values())
    assert cache.versions()["tensorflow"] and cache.versions()["litert-quantizer"]


def test_without_a_store_conversions_are_cached_in_memory(trained_cnn, digits):
    import nbopt
    from nbopt.config import NbOpt, set_current

    set_current(NbOpt(store="", latency_warmup_runs=1, latency_runs=5, latency_min_seconds=0.0))
    cache.forget_memory()
    try:
        first = nbopt.quantize(trained_cnn, "float16,dynamic").df
        second = nbopt.quantize(trained_cnn, "float16,dynamic").df
    finally:
        cache.forget_memory()
    assert not first["cached"].any() and second["cached"].all()
    assert list(second["size_bytes"]) == list(first["size_bytes"])
