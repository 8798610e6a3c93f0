"""Post-training comparisons: the float32 baseline and each scheme, converted and measured."""

from __future__ import annotations

from typing import Any

from ...errors import NbOptUsageError
from ..convert.converter import (
    NEEDS_CALIBRATION,
    convert,
)
from ..events import Listener
from ..measure.latency import MeasureSettings
from ..model.keras_models import require_model
from ..store import cache
from .checks import check_request, prepare_data
from .comparison import Comparison
from .run import Run
from .variants import conversion_keys, derive


def run_post_training(
    model: Any,
    schemes: list[str],
    *,
    calib: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    io: str = "float",
    metric: Any = None,
    name: str | None = None,
    settings: MeasureSettings | None = None,
    listener: Listener | None = None,
    skip_uncalibrated: bool = False,
    allow_flex: bool = False,
    per_tensor: bool = False,
    fresh: bool = False,
) -> Comparison:
    """Convert ``model`` with the float32 baseline and each of ``schemes``, measuring each.

    Every mistake in the arguments is raised before any work starts. A variant that fails
    to convert or to run becomes a row with ``status="failed"``; the others still come.
    Rows are added to :func:`nbopt.results` as they are measured. ``allow_flex`` keeps ops
    TFLite has no kernel for as TensorFlow (Flex) ops (rows mark ``needs_flex``).
    Rows are added to :func:`nbopt.results` as they are measured. A conversion made before
    (same model, weights, scheme, options and calibration data) is reused and measured
    again, its row ``cached``; ``fresh`` converts anew.
    """
    settings = settings or MeasureSettings()
    require_model(model)
    missing = check_request(schemes, calib, io, skip_uncalibrated=skip_uncalibrated)
    if per_tensor and "int8" not in schemes:
        raise NbOptUsageError("per_tensor applies to the int8 scheme; add int8 to the schemes")
    calib_arrays, evaluation, resolved = prepare_data(model, calib, eval, metric)
    order = ["float32", *[s for s in schemes if s != "float32"]]
    run = Run(
        name or getattr(model, "name", "model"),
        len(order),
        settings=settings,
        evaluation=evaluation,
        metric=resolved,
        sample=evaluation.x if evaluation else calib_arrays,
        listener=listener,
        fresh=fresh,
    )
    keys = conversion_keys(
        model,
        order,
        calib_arrays,
        io,
        settings.engine,
        allow_flex=allow_flex,
        per_tensor=per_tensor,
    )
    exported = cache.LazyExport(model)
    needed = [keys[s] for s in order if s not in missing]
    if fresh or not all(k is not None and cache.contains(k) for k in needed):
        run.start(f"tracing {run.comparison.name}")
        if settings.isolate:
            from ..convert import worker

            worker.warm()  # the worker imports TensorFlow while the model is traced here
        exported.path  # noqa: B018 - export now: a model that cannot be traced raises here
    else:
        run.start(f"reusing {run.comparison.name}'s conversions")
    interrupted = False
    try:
        for scheme in order:
            technique = "baseline" if scheme == "float32" else "ptq"
            row = run.row(scheme, technique, io=io if scheme == "int8" else "float")
            if per_tensor and scheme == "int8":
                row["per_tensor"] = True
            if calib_arrays is not None and scheme in NEEDS_CALIBRATION:
                row["calib_samples"] = len(calib_arrays[0])
            if scheme in missing:
                row["status"] = "skipped"
                row["error"] = "needs calibration data (calib=... / --calib)"
                run.add(row)
                continue
            if scheme == "float32":
                row["converter"] = "tflite-converter"
                run.variant(
                    row,
                    lambda: convert(
                        exported.path, "float32", isolate=settings.isolate, allow_flex=allow_flex
                    ),
                    cache_key=keys[scheme],
                )
                continue
            base = run.comparison.models.get("float32")
            run.variant(
                row,
                lambda s=scheme, r=row, b=base: derive(
                    run,
                    r,
                    s,
                    exported.path,
                    b.content if b else None,
                    calib_arrays,
                    r["io"],
                    allow_flex,
                    bool(r.get("per_tensor")),
                ),
                cache_key=keys[scheme],
            )
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        exported.cleanup()
        run.finish(interrupted)
    return run.comparison
