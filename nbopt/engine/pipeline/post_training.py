"""Post-training comparisons: the float32 baseline and each scheme, converted and measured."""

from __future__ import annotations

from typing import Any

from ...errors import NbOptUsageError
from ..convert.converter import NEEDS_CALIBRATION, SCHEMES, convert, parse_schemes
from ..model.keras_models import require_model
from ..request import Request
from ..store import cache
from .checks import check_request, prepare_data
from .comparison import Comparison
from .run import Run
from .variants import conversion_keys, derive


def requested_schemes(request: Request) -> list[str]:
    """The schemes ``request`` asks for (the default four when it names none)."""
    scheme = request.conversion.scheme
    return parse_schemes(scheme) if scheme is not None else list(SCHEMES)


def run_post_training(model: Any, request: Request) -> Comparison:
    """Convert ``model`` with the float32 baseline and each requested scheme, measuring each.

    Every mistake in the request is raised before any work starts. A variant that fails to
    convert or to run becomes a row with ``status="failed"``; the others still come. Rows
    are recorded (:mod:`nbopt.engine.store.results`) as they are measured. A conversion made
    before (same model, weights, scheme, options and calibration data) is reused and
    measured again, its row ``cached``; ``fresh`` converts anew. ``allow_flex`` keeps ops
    TFLite has no kernel for as TensorFlow (Flex) ops (rows mark ``needs_flex``).
    """
    schemes = requested_schemes(request)
    conv, data = request.conversion, request.data
    require_model(model)
    missing = check_request(schemes, data.calib, conv.io, skip_uncalibrated=conv.scheme is None)
    if conv.per_tensor and "int8" not in schemes:
        raise NbOptUsageError("per_tensor applies to the int8 scheme; add int8 to the schemes")
    calib, evaluation, metric = prepare_data(model, data.calib, data.eval, data.metric)
    order = ["float32", *[s for s in schemes if s != "float32"]]
    run = Run(
        request.name or getattr(model, "name", "model"),
        len(order),
        settings=request.settings,
        evaluation=evaluation,
        metric=metric,
        sample=evaluation.x if evaluation else calib,
        listener=request.listener,
        fresh=conv.fresh,
    )
    keys = conversion_keys(
        model,
        order,
        calib,
        conv.io,
        request.settings.engine,
        allow_flex=conv.allow_flex,
        per_tensor=conv.per_tensor,
    )
    exported = cache.LazyExport(model)
    _start(run, exported, [keys[s] for s in order if s not in missing], request)
    interrupted = False
    try:
        for scheme in order:
            _variant(run, scheme, exported, calib, keys[scheme], scheme in missing, request)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        exported.cleanup()
        run.finish(interrupted)
    return run.comparison


def _start(run: Run, exported: Any, needed: list[str | None], request: Request) -> None:
    """Announce the run; trace the model now unless every conversion it needs is stored."""
    fresh = request.conversion.fresh
    if fresh or not all(k is not None and cache.contains(k) for k in needed):
        run.start(f"tracing {run.comparison.name}")
        if request.settings.isolate:
            from ..convert import worker

            worker.warm()  # the worker imports TensorFlow while the model is traced here
        exported.path  # noqa: B018 - export now: a model that cannot be traced raises here
    else:
        run.start(f"reusing {run.comparison.name}'s conversions")


def _variant(
    run: Run,
    scheme: str,
    exported: Any,
    calib: list[Any] | None,
    key: str | None,
    uncalibrated: bool,
    request: Request,
) -> None:
    """One row: ``scheme`` converted (or its stored conversion reused) and measured."""
    conv = request.conversion
    technique = "baseline" if scheme == "float32" else "ptq"
    row = run.row(scheme, technique, io=conv.io if scheme == "int8" else "float")
    if conv.per_tensor and scheme == "int8":
        row["per_tensor"] = True
    if calib is not None and scheme in NEEDS_CALIBRATION:
        row["calib_samples"] = len(calib[0])
    if uncalibrated:
        row["status"] = "skipped"
        row["error"] = "needs calibration data (calib=... / --calib)"
        run.add(row)
        return
    if scheme == "float32":
        row["converter"] = "tflite-converter"
        isolate = request.settings.isolate
        make = lambda: convert(  # noqa: E731
            exported.path, "float32", isolate=isolate, allow_flex=conv.allow_flex
        )
        run.variant(row, make, cache_key=key)
        return
    base = run.comparison.models.get("float32")
    run.variant(
        row,
        lambda: derive(
            run,
            row,
            scheme,
            exported.path,
            base.content if base else None,
            calib,
            row["io"],
            conv.allow_flex,
            bool(row.get("per_tensor")),
        ),
        cache_key=key,
    )
