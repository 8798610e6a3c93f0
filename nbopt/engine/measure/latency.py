"""Measuring a .tflite model: size, compressed size, latency and accuracy."""

from __future__ import annotations

import gzip
import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..store.memo import by_content
from .interpreter import Runner


@dataclass(frozen=True)
class MeasureSettings:
    """How latency and accuracy are measured (see ``NbOpt`` for the user-facing names).

    Latency follows TFLite's ``benchmark_model``: ``warmup_runs`` untimed invocations, then
    timed ones until at least ``runs`` were made *and* ``min_seconds`` have passed, stopping
    early only at ``max_seconds``.
    """

    warmup_runs: int = 3
    runs: int = 50
    min_seconds: float = 0.05
    max_seconds: float = 20.0
    threads: int = os.cpu_count() or 1
    eval_batch_size: int = 256
    #: Run the TFLite converter in a worker process (a converter crash spares the caller).
    isolate: bool = True
    #: ``"litert"``: derive float16/dynamic/int8 from the float32 flatbuffer with the LiteRT
    #: Quantizer (fast); ``"converter"``: the TFLite converter for every scheme (reference).
    engine: str = "litert"


@dataclass(frozen=True)
class LatencyStats:
    """Per-invocation latency of one model at batch size 1, in milliseconds."""

    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    cv: float
    runs: int
    threads: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def columns(self) -> dict[str, Any]:
        """The results columns these stats fill."""
        return {
            "latency_ms": self.median_ms,
            "latency_p90_ms": self.p90_ms,
            "latency_cv": self.cv,
            "latency_runs": self.runs,
        }

    def __repr__(self) -> str:
        return (
            f"LatencyStats(median={self.median_ms:.4g} ms, p90={self.p90_ms:.4g} ms, "
            f"cv={self.cv:.1%}, runs={self.runs}, threads={self.threads})"
        )


@by_content()
def gzip_size(content: bytes) -> int:
    """Bytes of ``content`` compressed with gzip at level 9 (the download size)."""
    return len(gzip.compress(bytes(content), compresslevel=9, mtime=0))


def time_invocations(runner: Runner, settings: MeasureSettings) -> LatencyStats:
    """Time ``runner``'s ``invoke()`` with whatever inputs are set (benchmark_model's method)."""
    invoke = runner.interpreter.invoke
    for _ in range(settings.warmup_runs):
        invoke()
    times: list[float] = []
    clock = time.perf_counter
    start = clock()
    while True:
        t0 = clock()
        invoke()
        t1 = clock()
        times.append(t1 - t0)
        elapsed = t1 - start
        if elapsed >= settings.max_seconds or (
            len(times) >= settings.runs and elapsed >= settings.min_seconds
        ):
            break
    ms = np.asarray(times) * 1000.0
    mean = float(ms.mean())
    return LatencyStats(
        median_ms=float(np.median(ms)),
        p90_ms=float(np.percentile(ms, 90)),
        mean_ms=mean,
        min_ms=float(ms.min()),
        cv=float(ms.std() / mean) if mean > 0 else 0.0,
        runs=len(times),
        threads=settings.threads,
    )


def measure_latency(
    content: bytes, settings: MeasureSettings, sample: list[np.ndarray] | None = None
) -> LatencyStats:
    """Latency of one invocation at batch size 1, on ``sample`` (one sample per input) or zeros."""
    runner = Runner(content, settings.threads)
    runner.resize(runner.fixed_batch() or 1)
    if sample is not None:
        runner.set_inputs([s[:1] for s in sample])
    else:
        runner.set_inputs([np.zeros(d["shape"], np.float32) for d in runner.inputs])
    return time_invocations(runner, settings)
