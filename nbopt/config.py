"""User-settable defaults, as traitlets configuration.

``%config NbOpt.latency_runs = 100`` in a kernel, or ``c.NbOpt.latency_runs = 100`` in
``ipython_config.py``, changes them; the Python API reads the same object.
"""

from __future__ import annotations

import os

from traitlets import Bool, Enum, Float, Int, Unicode, default, observe
from traitlets.config import Configurable

from .engine.measure.latency import MeasureSettings


class NbOpt(Configurable):
    """Defaults for nbopt's measurements and exports."""

    latency_warmup_runs = Int(
        3, min=0, help="Interpreter invocations run before latency is timed (not counted)."
    ).tag(config=True)
    latency_runs = Int(
        50, min=1, help="Minimum number of timed invocations for a latency measurement."
    ).tag(config=True)
    latency_min_seconds = Float(
        0.05,
        min=0.0,
        help="Minimum time spent timing a variant; runs continue until both minimums are met. "
        "0.05 s spans several of the OS scheduler's periods, so one preemption cannot decide a "
        "median; timing longer did not make medians more repeatable on a shared machine.",
    ).tag(config=True)
    latency_max_seconds = Float(20.0, help="Upper bound on the time spent timing one variant.").tag(
        config=True
    )
    threads = Int(
        0, min=0, help="Interpreter threads for latency and evaluation; 0 means one per CPU core."
    ).tag(config=True)
    eval_batch_size = Int(
        256, min=1, help="Samples per interpreter invocation when measuring accuracy."
    ).tag(config=True)
    engine = Enum(
        ["litert", "converter"],
        "litert",
        help="How float16/dynamic/int8 variants are made: 'litert' quantizes the float32 "
        "flatbuffer with the LiteRT Quantizer (fast); 'converter' runs the TFLite converter "
        "for each scheme (the reference path).",
    ).tag(config=True)
    isolate = Bool(
        True, help="Run the TFLite converter in a worker process, so a crash spares the kernel."
    ).tag(config=True)
    output_dir = Unicode(
        "nbopt_models", help="Folder where --save writes .tflite files (created on demand)."
    ).tag(config=True)

    store = Unicode(
        help="The results store: an SQLite file every measured row and its .tflite are written "
        "to as they are measured (relative paths from the kernel's working directory); "
        "'' keeps rows in this kernel's memory only. Default: $NBOPT_STORE if set, else "
        ".nbopt/results.db.",
    ).tag(config=True)

    @default("store")
    def _default_store(self) -> str:
        return os.environ.get("NBOPT_STORE", ".nbopt/results.db")

    @observe("store")
    def _store_changed(self, change: dict) -> None:
        if self is _current:
            from .engine.store import results

            results.set_store(change["new"])

    scheduler = Unicode(
        "",
        help="Address of a running Dask scheduler for %nbopt sweep (e.g. tcp://10.0.0.5:8786); "
        "empty: a LocalCluster of one worker per core, started on first use.",
    ).tag(config=True)

    verbose = Bool(
        False,
        help="Show TensorFlow's logs and the converter's output in the cell as well "
        "(they are always kept: nbopt.log(), %nbopt log).",
    ).tag(config=True)

    @observe("verbose")
    def _verbose_changed(self, change: dict) -> None:
        from .engine import capture

        capture.set_verbose(change["new"])

    def measure_settings(self) -> MeasureSettings:
        """The engine's view of these settings."""
        return MeasureSettings(
            warmup_runs=self.latency_warmup_runs,
            runs=self.latency_runs,
            min_seconds=self.latency_min_seconds,
            max_seconds=self.latency_max_seconds,
            threads=self.threads or (os.cpu_count() or 1),
            eval_batch_size=self.eval_batch_size,
            isolate=self.isolate,
            engine=self.engine,
        )


_current: NbOpt | None = None


def current() -> NbOpt:
    """The configuration in force: the kernel's once ``%load_ext nbopt`` ran, else defaults."""
    global _current
    if _current is None:
        set_current(NbOpt())
    assert _current is not None
    return _current


def set_current(config: NbOpt | None) -> None:
    """Make ``config`` the one :func:`current` returns (``None`` restores defaults)."""
    global _current
    _current = config
    from .engine import capture
    from .engine.store import results

    capture.set_verbose(config.verbose if config is not None else False)
    results.set_store(config.store if config is not None else None)
