"""Re-running an unchanged comparison (conversions reused from the results store) against
its first run."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .models import MOBILENET


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
