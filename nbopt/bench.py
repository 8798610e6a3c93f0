"""Benchmarks: ``python -m nbopt.bench``.

Every figure is printed as a ratio against a baseline measured in the same run, with the
absolute seconds beside it, so numbers from a noisy machine still compare.

1. A full post-training comparison (float32, float16, dynamic, int8) against the loop the
   TFLite tutorials teach, on MobileNetV2 (96x96, alpha 0.5, 10 classes) and the digits CNN.
2. nbopt's latency against a bare ``invoke()`` loop on the same interpreter and input.
3. Batched accuracy evaluation against a per-sample loop on 2,000 samples.
4. Re-running an unchanged comparison (its conversions reused from the results store and
   measured again) against its first run.
5. A sweep: 12 training configurations of the digits CNN on a LocalCluster of 2 workers
   against the same 12 one after another in this process (same rows), and the converter
   worker's memory over 200 conversions, recycled and not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

SCHEMES = ("float32", "float16", "dynamic", "int8")


def mobilenet_v2() -> Any:
    import tf_keras

    return tf_keras.applications.MobileNetV2(
        weights=None, input_shape=(96, 96, 3), alpha=0.5, classes=10
    )


MOBILENET = "MobileNetV2 96x96 alpha 0.5"


def mobilenet_data() -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """MobileNetV2 (random weights), 32 calibration and 300 labelled random images."""
    rng = np.random.default_rng(0)
    calib = rng.random((32, 96, 96, 3), dtype=np.float32)
    x = rng.random((300, 96, 96, 3), dtype=np.float32)
    return mobilenet_v2(), calib, x, rng.integers(0, 10, 300)


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


def bench_rerun(
    label: str, model: Any, calib: np.ndarray, x: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    """The same comparison run twice on a new results store: converted, then reused.

    The converter worker is already running (as in a kernel after its first comparison),
    so the first run's time is conversions plus measurement, and the second's measurement.
    Then ``fresh=True`` converts again, as ``--fresh`` does.
    """
    import tempfile

    import nbopt
    from nbopt.config import NbOpt, set_current

    set_current(NbOpt(store=""))
    nbopt.quantize(model, "float32", fresh=True)  # the worker is up, as after a first cell
    figures: dict[str, float] = {}
    print(f"\n[{label}] re-running an unchanged comparison (float32, float16, dynamic, int8)")
    defaults = NbOpt()
    for settings, title in (
        ({"latency_runs": 50, "latency_min_seconds": 0.0}, "50 timed runs per variant"),
        (
            {},
            f"NbOpt's default latency settings (at least {defaults.latency_runs} runs and "
            f"{defaults.latency_min_seconds:g} s timed per variant)",
        ),
    ):
        with tempfile.TemporaryDirectory() as folder:
            set_current(NbOpt(store=f"{folder}/results.db", **settings))
            times, frames = [], []
            for fresh in (False, False, True):
                t0 = time.perf_counter()
                cmp = nbopt.quantize(model, "float16,dynamic,int8", calib, (x, y), fresh=fresh)
                times.append(time.perf_counter() - t0)
                frames.append(cmp.df)
            set_current(NbOpt(store=""))
        first, again, fresh_df = frames
        same = list(first["size_bytes"]) == list(again["size_bytes"])
        print(f"  {title}")
        print(f"    first run (converts)       {times[0]:7.2f} s   1.00x")
        print(
            f"    unchanged re-run (reuses)  {times[1]:7.2f} s   {times[1] / times[0]:.2f}x   "
            f"cached: {bool(again['cached'].all())}, sizes equal: {same}"
        )
        print(
            f"    --fresh (converts again)   {times[2]:7.2f} s   {times[2] / times[0]:.2f}x   "
            f"cached: {bool(fresh_df['cached'].any())}"
        )
        figures.setdefault("rerun_ratio", times[1] / times[0])
    return figures


def bench_reruns(model: Any, digits: tuple[np.ndarray, ...], mobilenet: tuple | None) -> None:
    """The re-run figure on the digits CNN and, unless skipped, on MobileNetV2."""
    x_train, x_test, y_test = digits
    bench_rerun("digits CNN", model, x_train[:32], x_test[:300], y_test[:300])
    if mobilenet is not None:
        bench_rerun(MOBILENET, *mobilenet)


def digits_mlp() -> Any:
    """A small dense classifier on the flattened digits: interpreter overhead dominates."""
    import tf_keras as keras

    from nbopt.demo import digits_data

    x_train, y_train, _, _ = digits_data()
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=5, verbose=0)
    return model


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


def sweep_grid() -> dict[str, Any]:
    """The bench's 12 training configurations: 4 sparsities x 3 schemes after them."""
    return {"prune": [0.5, 0.7, 0.8, 0.9], "then": ["none", "dynamic", "int8"]}


def bench_sweep(model: Any, data: tuple[np.ndarray, ...], workers: int = 2) -> float:
    """The 12 configurations as Dask tasks on ``workers`` against one after another here."""
    from nbopt.config import current
    from nbopt.sweeps import cluster, run_sweep
    from nbopt.sweeps.grid import Config, configurations, model_bytes
    from nbopt.sweeps.runner import PLACEHOLDER
    from nbopt.sweeps.task import run_config

    x_train, y_train, x_test, y_test = data
    settings = current().measure_settings()
    common = {"fit": (x_train, y_train), "calib": x_train[:64], "eval": (x_test, y_test)}
    t0 = time.perf_counter()
    client = cluster.local_client(workers)
    t_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    swept = run_sweep({"cnn": model}, sweep_grid(), settings=settings, client=client, **common)
    t_sweep = time.perf_counter() - t0
    shipped = model_bytes(model)
    options = {"epochs": 1, "batch_size": 32, "settings": settings}
    cluster.get_ready()  # here too: the kernel as ready as each worker is
    t0 = time.perf_counter()
    cpu0 = cpu_seconds()
    every = [Config("cnn", "baseline"), *configurations(["cnn"], sweep_grid())]
    serial = [run_config(c, shipped, common, options, PLACEHOLDER, None)["row"] for c in every]
    t_serial = time.perf_counter() - t0
    cores = (cpu_seconds() - cpu0) / t_serial
    same = _same_rows(swept.rows, serial)
    print(f"\n[sweep] 12 training configurations of the digits CNN, {workers} Dask workers")
    print(f"  one after another here  {t_serial:7.1f} s   1.00x")
    print(f"  LocalCluster sweep      {t_sweep:7.1f} s   {t_serial / t_sweep:.2f}x faster")
    print(
        f"  (starting the LocalCluster took {t_start:.1f} s before that: once per kernel, "
        f"every later sweep reuses it)"
    )
    print(f"  same rows (size, sparsity, distinct values): {same}")
    print(
        f"  one after another, this process and its converter kept {cores:.2f} of "
        f"{os.cpu_count()} cores busy (TensorFlow's own threads): a sweep here can gain at "
        f"most {min(os.cpu_count() or 1, (os.cpu_count() or 1) / cores):.2f}x"
    )
    busy = [r.get("task_seconds") or 0.0 for r in swept.rows]
    waited = sum(r.get("wait_seconds") or 0.0 for r in swept.rows)
    print(
        f"  sweep tasks: {sum(busy) / len(busy):.1f} s each on average, "
        f"{waited:.1f} s in all paused while latencies were timed (host alone)"
    )
    return t_serial / t_sweep


def cpu_seconds() -> float:
    """CPU seconds (user and system) of this process and its living children so far."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in (me, *me.children(recursive=True)):
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _same_rows(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    def key(r: dict[str, Any]) -> tuple:
        return (r.get("target_sparsity") or 0, r.get("scheme"))

    def facts(r: dict[str, Any]) -> tuple:
        return (r.get("size_bytes"), round(r.get("sparsity") or 0, 4), r.get("distinct_values"))

    return len(a) == len(b) and all(
        facts(x) == facts(y) for x, y in zip(sorted(a, key=key), sorted(b, key=key))
    )


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (Linux /proc)."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def converter_rss(model: Any, conversions: int, recycle_after: int) -> list[float]:
    """The converter worker's RSS (MB) after each of ``conversions`` float32 conversions.

    NaN where the worker was replaced by that conversion (or had not started before it).
    """
    from nbopt.engine.convert import worker
    from nbopt.engine.convert.converter import convert, export_saved_model

    before = worker.RECYCLE_AFTER
    worker.RECYCLE_AFTER = recycle_after
    worker.shutdown()
    samples = []
    try:
        with export_saved_model(model) as exported:
            for _ in range(conversions):
                before = worker.pid()
                convert(exported.path, "float32", isolate=True)
                # The worker that converted, unless it was just replaced (then: not sampled).
                alive = before is not None and worker.pid() == before
                samples.append(rss_mb(before) if alive else float("nan"))
    finally:
        worker.RECYCLE_AFTER = before
        worker.shutdown()
    return samples


def bench_converter_memory(model: Any, conversions: int = 200) -> None:
    """Peak RSS of the converter worker over ``conversions``, recycled and never recycled."""
    from nbopt.engine.convert import worker

    print(f"\n[memory] converter worker RSS over {conversions} conversions of the digits CNN")
    for recycle in (0, worker.RECYCLE_AFTER):
        rss = [v for v in converter_rss(model, conversions, recycle) if v == v]
        label = f"recycled every {recycle}" if recycle else "never recycled"
        print(
            f"  {label:22s} first {rss[0]:7.1f} MB   peak {max(rss):7.1f} MB   "
            f"last {rss[-1]:7.1f} MB"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbopt.bench", description=__doc__)
    parser.add_argument("--skip-mobilenet", action="store_true", help="only the digits CNN (fast)")
    parser.add_argument(
        "--only", choices=["rerun"], default=None, help="only this figure (rerun: re-run ratio)"
    )
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep figures")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from nbopt.config import NbOpt, set_current
    from nbopt.demo import trained_digits_cnn

    set_current(NbOpt(store=""))  # the benchmark leaves no results store behind
    print(f"nbopt benchmark on {os.cpu_count()} cores, {sys.platform}")
    model, (x_train, y_train, x_test, y_test) = trained_digits_cnn(epochs=5)
    mobilenet = None if args.skip_mobilenet else mobilenet_data()
    if args.only == "rerun":
        bench_reruns(model, (x_train, x_test, y_test), mobilenet)
        return 0
    if args.sweep_only:
        bench_sweep(model, (x_train, y_train, x_test, y_test))
        bench_converter_memory(model)
        return 0
    results = {
        "digits": bench_comparison("digits CNN", model, x_train[:32], x_test[:300], y_test[:300])
    }
    if mobilenet is not None:
        results["mobilenet"] = bench_comparison(MOBILENET, *mobilenet)
    bench_reruns(model, (x_train, x_test, y_test), mobilenet)
    import nbopt

    digits_cmp = nbopt.quantize(model, "int8", x_train[:64])
    content = digits_cmp.content
    x2000 = np.concatenate([x_train, x_test])[:2000]
    x2000 = np.concatenate([x2000, x2000])[:2000]
    y2000 = np.concatenate([y_train, y_test])
    y2000 = np.concatenate([y2000, y2000])[:2000]
    bench_latency(content, x_test)
    print("\n  -- digits CNN (about 150k parameters: compute per sample dominates)")
    bench_evaluation(content, x2000, y2000)
    print("\n  -- digits MLP (2.4k parameters: per-call overhead dominates)")
    mlp = nbopt.quantize(digits_mlp(), "float32")
    bench_evaluation(mlp.content, x2000, y2000)
    bench_sweep(model, (x_train, y_train, x_test, y_test))
    bench_converter_memory(model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
