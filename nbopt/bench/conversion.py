"""Conversion paths: a full post-training comparison against the TFLite tutorials' loop."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .models import SCHEMES


def tutorial_loop(
    model: Any, calib: np.ndarray, x: np.ndarray, y: np.ndarray, latency_runs: int
) -> dict[str, Any]:
    """The TFLite tutorials' way: convert from Keras per scheme, evaluate sample by sample,
    time ``invoke()`` in a loop."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    out: dict[str, Any] = {}
    for scheme in SCHEMES:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        if scheme != "float32":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
        if scheme == "float16":
            conv.target_spec.supported_types = [tf.float16]
        if scheme == "int8":

            def rep() -> Any:
                for i in range(len(calib)):
                    yield [calib[i : i + 1]]

            conv.representative_dataset = rep
        content = conv.convert()
        interp = Interpreter(model_content=content, num_threads=os.cpu_count())
        interp.allocate_tensors()
        inp = interp.get_input_details()[0]["index"]
        outp = interp.get_output_details()[0]["index"]
        correct = 0
        for i in range(len(x)):
            interp.set_tensor(inp, x[i : i + 1])
            interp.invoke()
            correct += int(np.argmax(interp.get_tensor(outp)) == y[i])
        times = []
        for _ in range(latency_runs):
            t0 = time.perf_counter()
            interp.invoke()
            times.append(time.perf_counter() - t0)
        out[scheme] = {
            "size": len(content),
            "accuracy": correct / len(x),
            "latency_ms": float(np.median(times) * 1000),
        }
    return out


def bench_comparison(
    label: str, model: Any, calib: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    import nbopt
    from nbopt.config import NbOpt, set_current

    runs = 50
    # No results store and fresh=True: every call here converts, as a first run does.
    set_current(NbOpt(latency_warmup_runs=3, latency_runs=runs, latency_min_seconds=0.0, store=""))
    t0 = time.perf_counter()
    ref = tutorial_loop(model, calib, x, y, runs)
    t_ref = time.perf_counter() - t0
    from nbopt.engine.convert import worker

    worker.shutdown()  # the first nbopt call pays for starting the converter worker
    t0 = time.perf_counter()
    nbopt.quantize(model, "float16,dynamic,int8", calib, (x, y), fresh=True)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    cmp = nbopt.quantize(model, "float16,dynamic,int8", calib, (x, y), fresh=True)
    t_new = time.perf_counter() - t0
    set_current(
        NbOpt(
            latency_warmup_runs=3,
            latency_runs=runs,
            latency_min_seconds=0.0,
            engine="converter",
            store="",
        )
    )
    t0 = time.perf_counter()
    nbopt.quantize(model, "float16,dynamic,int8", calib, (x, y), fresh=True)
    t_conv = time.perf_counter() - t0
    set_current(NbOpt(store=""))
    print(
        f"\n[{label}] full comparison (float32, float16, dynamic, int8), "
        f"{len(calib)} calibration and {len(x)} evaluation samples"
    )
    print(f"  tutorial loop                          {t_ref:8.2f} s   1.00x")
    print(f"  nbopt, first call (starts its worker)  {t_cold:8.2f} s   {t_cold / t_ref:.2f}x")
    print(f"  nbopt, converter for every scheme      {t_conv:8.2f} s   {t_conv / t_ref:.2f}x")
    print(
        f"  nbopt (default)                        {t_new:8.2f} s   {t_new / t_ref:.2f}x "
        "of the tutorial loop"
    )
    df = cmp.df.set_index("scheme")
    print("  scheme    size(nbopt/tutorial)  accuracy nbopt / tutorial")
    for scheme in SCHEMES:
        size_ratio = df.loc[scheme, "size_bytes"] / ref[scheme]["size"]
        print(
            f"  {scheme:8s}  {size_ratio:8.3f}             "
            f"{df.loc[scheme, 'accuracy']:.4f} / {ref[scheme]['accuracy']:.4f}"
        )
    return {
        "tutorial_s": t_ref,
        "nbopt_s": t_new,
        "ratio": t_new / t_ref,
        "cold_ratio": t_cold / t_ref,
    }
