"""The converter worker's memory over many conversions, recycled and never recycled."""

from __future__ import annotations

from typing import Any


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
