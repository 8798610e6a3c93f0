"""``python -m nbopt.bench``: parse the flags, then run the chosen benchmark figures."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from nbopt import bench

from .conversion import bench_comparison
from .measurement import bench_evaluation, bench_latency
from .memory import bench_converter_memory
from .models import EFFICIENTNET, MOBILENET, digits_mlp, efficientnet_data, mobilenet_data
from .optimizing import bench_optimizing, bench_workers
from .rerun import bench_reruns
from .sweep import bench_sweep
from .verify import bench_verify


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m nbopt.bench", description=bench.__doc__)
    parser.add_argument("--skip-mobilenet", action="store_true", help="only the digits CNN (fast)")
    parser.add_argument(
        "--only",
        choices=["rerun", "verify", "efficientnet", "optimize", "workers"],
        default=None,
        help="only this figure (rerun: re-run ratio; verify: checking a foreign .tflite; "
        "efficientnet: a full comparison of EfficientNetB0 at 224x224; optimize: "
        "nbopt.optimize against doing it by hand; workers: the same search on two Dask "
        "workers against one)",
    )
    parser.add_argument("--sweep-only", action="store_true", help="only the sweep figures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from nbopt.config import NbOpt, set_current
    from nbopt.demo import trained_digits_cnn

    set_current(NbOpt(store=""))  # the benchmark leaves no results store behind
    print(f"nbopt benchmark on {os.cpu_count()} cores, {sys.platform}")
    if args.only == "verify":
        bench_verify()
        return 0
    if args.only == "optimize":
        bench_optimizing(args.skip_mobilenet)
        return 0
    if args.only == "workers":
        bench_workers(args.skip_mobilenet)
        return 0
    if args.only == "efficientnet":
        bench_comparison(EFFICIENTNET, *efficientnet_data())
        return 0
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
        results["efficientnet"] = bench_comparison(EFFICIENTNET, *efficientnet_data())
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
    bench_verify()
    bench_optimizing(args.skip_mobilenet)
    bench_workers(args.skip_mobilenet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
