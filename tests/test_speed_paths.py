"""The fast paths give the reference results: quantizer vs converter, batching, the worker."""

from __future__ import annotations

import os

import numpy as np
import pytest

import nbopt
from nbopt.config import NbOpt, set_current
from nbopt.errors import ConversionError


@pytest.fixture(scope="module")
def both_paths(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    data = dict(calib=x_train[:200], eval=(x_test, y_test), io="int8")
    fast = nbopt.quantize(trained_cnn, "float16,dynamic,int8", **data)
    set_current(
        NbOpt(latency_warmup_runs=1, latency_runs=5, latency_min_seconds=0.0, engine="converter")
    )
    reference = nbopt.quantize(trained_cnn, "float16,dynamic,int8", **data)
    return fast, reference


def test_each_path_says_what_made_each_variant(both_paths):
    fast, reference = both_paths
    assert list(fast.df["converter"]) == ["tflite-converter"] + ["litert-quantizer"] * 3
    assert list(reference.df["converter"]) == ["tflite-converter"] * 4


@pytest.mark.parametrize("scheme", ["float16", "dynamic", "int8"])
def test_quantizer_variants_match_the_converters(both_paths, digits, scheme):
    _, _, x_test, y_test = digits
    fast, reference = (c.df.set_index("scheme").loc[scheme] for c in both_paths)
    assert fast["size_bytes"] == pytest.approx(reference["size_bytes"], rel=0.05)
    assert abs(fast["accuracy"] - reference["accuracy"]) <= 0.01
    a = both_paths[0][scheme].predict(x_test)
    b = both_paths[1][scheme].predict(x_test)
    assert np.abs(a - b).max() <= 0.1  # softmax probabilities
    assert np.mean(a.argmax(1) == b.argmax(1)) >= 0.99


@pytest.mark.parametrize("io", ["float", "uint8"])
def test_int8_with_float_or_uint8_io_keeps_the_converter(trained_cnn, digits, io):
    x_train, _, _, _ = digits
    m = nbopt.quantize(trained_cnn, "int8", x_train[:50], io=io)
    assert m.row["converter"] == "tflite-converter"
    assert m._runner_().inputs[0]["dtype"] == (np.float32 if io == "float" else np.uint8)


def test_batched_evaluation_equals_the_per_sample_loop(both_paths, digits):
    from ai_edge_litert.interpreter import Interpreter

    _, _, x_test, y_test = digits
    model = both_paths[0]["int8"]  # integer I/O: inputs quantized as the batched path does
    interp = Interpreter(model_content=model.content)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    scale, zero = inp["quantization"]
    correct = 0
    for i in range(len(x_test)):
        q = np.clip(np.round(x_test[i : i + 1] / scale + zero), -128, 127).astype(np.int8)
        interp.set_tensor(inp["index"], q)
        interp.invoke()
        correct += int(np.argmax(interp.get_tensor(out["index"])) == y_test[i])
    assert model.row["accuracy"] == correct / len(x_test)


def test_a_crashing_worker_fails_one_call_and_the_next_one_works():
    from nbopt.engine.convert import worker

    assert worker.call(os.getpid) != os.getpid()  # really another process
    first = worker.pid()
    with pytest.raises(ConversionError, match=r"crashed its worker process \(signal SIGABRT\)"):
        worker.call(os.abort)
    assert worker.call(os.getpid) != first  # a new worker


def test_a_crash_is_a_failed_row_and_the_comparison_goes_on(trained_cnn, digits):
    from nbopt.engine.convert import worker
    from nbopt.engine.convert.converter import convert, export_saved_model
    from nbopt.engine.measure.latency import MeasureSettings
    from nbopt.engine.pipeline.run import Run

    run = Run(
        "crash",
        3,
        settings=MeasureSettings(runs=3, min_seconds=0.0),
        evaluation=None,
        metric=None,
        sample=None,
        listener=None,
    )
    with export_saved_model(trained_cnn) as exported:
        run.variant(run.row("float32", "baseline"), lambda: convert(exported.path, "float32"))
        run.variant(run.row("float16", "ptq"), lambda: worker.call(os.abort))
        run.variant(run.row("dynamic", "ptq"), lambda: convert(exported.path, "dynamic"))
    status = [r["status"] for r in run.comparison.rows]
    assert status == ["ok", "failed", "ok"]
    assert "SIGABRT" in run.comparison.rows[1]["error"]
    assert run.comparison.rows[2]["size_ratio"] > 3.3


def test_interrupting_a_comparison_keeps_the_rows_measured(trained_cnn):
    before = len(nbopt.results())

    def interrupt_after_two_rows(event):
        if event.kind == "row" and event.index == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nbopt.quantize(trained_cnn, "float16,dynamic", progress=interrupt_after_two_rows)
    kept = nbopt.results().iloc[before:]
    assert list(kept["scheme"]) == ["float32", "float16"]
    assert list(kept["status"]) == ["ok", "ok"]
    assert nbopt.quantize(trained_cnn, "dynamic").row["status"] == "ok"  # and it goes on
