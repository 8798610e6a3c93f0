"""nbopt's latency and batched accuracy evaluation, each against a bare interpreter loop."""

from __future__ import annotations

import os
import time

import numpy as np


def bench_latency(content: bytes, sample: np.ndarray, blocks: int = 20) -> float:
    """nbopt's latency against a bare ``invoke()`` loop on the same interpreter and input.

    The two alternate in blocks of 100 invocations, so that both see the same noise; each
    figure is the median over all of its invocations.
    """
    from nbopt.engine.measure.interpreter import Runner
    from nbopt.engine.measure.latency import MeasureSettings, time_invocations

    settings = MeasureSettings(
        warmup_runs=3, runs=100, min_seconds=0.0, threads=os.cpu_count() or 1
    )
    runner = Runner(content, settings.threads)
    runner.resize(1)
    runner.set_inputs([sample[:1]])
    invoke = runner.interpreter.invoke
    ours, bare = [], []
    for _ in range(blocks):
        ours.append(time_invocations(runner, settings).median_ms)
        for _ in range(3):
            invoke()
        times = []
        for _ in range(100):
            t0 = time.perf_counter()
            invoke()
            times.append(time.perf_counter() - t0)
        bare.append(float(np.median(times)) * 1000)
    o, b = float(np.median(ours)), float(np.median(bare))
    print("\n[latency] nbopt's measurement against a bare invoke() loop, same interpreter")
    print(f"  bare loop   {b:.4f} ms   1.00x")
    print(f"  nbopt       {o:.4f} ms   {o / b:.3f}x  ({abs(o / b - 1):.1%} apart)")
    return o / b


def bench_evaluation(content: bytes, x: np.ndarray, y: np.ndarray, repeats: int = 5) -> float:
    """Batched evaluation against a per-sample loop; each the best of ``repeats`` runs
    (interpreter creation included in both)."""
    from ai_edge_litert.interpreter import Interpreter

    from nbopt.engine.data.metrics import top1_accuracy
    from nbopt.engine.measure.interpreter import Runner

    def loop() -> float:
        interp = Interpreter(model_content=content, num_threads=os.cpu_count())
        interp.allocate_tensors()
        inp = interp.get_input_details()[0]
        outp = interp.get_output_details()[0]["index"]
        scale, zero = inp["quantization"]
        preds = []
        for i in range(len(x)):
            sample = x[i : i + 1]
            if inp["dtype"] != np.float32:
                sample = np.clip(np.round(sample / scale + zero), -128, 127).astype(inp["dtype"])
            interp.set_tensor(inp["index"], sample)
            interp.invoke()
            preds.append(interp.get_tensor(outp)[0].copy())
        return top1_accuracy(y, np.stack(preds).astype(np.float32))

    def batched() -> float:
        return top1_accuracy(y, Runner(content, os.cpu_count()).predict([x], 256)[0])

    t_loop, t_batch = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        loop_acc = loop()
        t_loop.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        acc = batched()
        t_batch.append(time.perf_counter() - t0)
    tl, tb = min(t_loop), min(t_batch)
    print(f"[evaluation] {len(x)} samples: batched against a per-sample loop (best of {repeats})")
    print(f"  per-sample loop  {tl:.4f} s   1.00x   accuracy {loop_acc:.4f}")
    print(
        f"  batched          {tb:.4f} s   {tl / tb:.1f}x faster   accuracy {acc:.4f}  "
        f"identical: {acc == loop_acc}"
    )
    return tl / tb
