"""The sweep figure: training configurations on a LocalCluster against one after another here."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


def sweep_grid() -> dict[str, Any]:
    """The bench's 12 training configurations: 4 sparsities x 3 schemes after them."""
    return {"prune": [0.5, 0.7, 0.8, 0.9], "then": ["none", "dynamic", "int8"]}


def bench_sweep(model: Any, data: tuple[np.ndarray, ...], workers: int = 2) -> float:
    """The 12 configurations as Dask tasks on ``workers`` against one after another here."""
    from nbopt.config import current
    from nbopt.engine.request import Request
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
    request = Request.build(client=client, **common).with_options(settings=settings)
    swept = run_sweep({"cnn": model}, sweep_grid(), request)
    t_sweep = time.perf_counter() - t0
    shipped = model_bytes(model)
    options = Request.build().with_options(settings=settings)
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
