"""What every entry point fills in before the engine runs: settings, chained models, results."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from ..engine.model.tflite_model import TFLiteModel
from ..engine.request import Request
from ..errors import ConversionError, NbOptTypeError


def with_settings(request: Request) -> Request:
    """``request`` with the measurement settings in force (``NbOpt``'s, its ``threads``)."""
    from ..config import current

    settings = current().measure_settings()
    threads = request.measurement.threads
    if threads:
        settings = replace(settings, threads=threads)
    return request.with_options(settings=settings)


def source(model: Any, request: Request) -> tuple[Any, Request]:
    """The Keras model to work on, and ``request`` with the chain's name and baseline.

    A :class:`TFLiteModel` made by pruning, clustering or QAT stands for its fine-tuned
    Keras model, so techniques chain (prune → cluster → QAT); the chain keeps the original
    model's float32 baseline row as its reference.
    """
    if isinstance(model, (str, os.PathLike, bytes, bytearray, memoryview)):
        from .files import load

        model = load(model)
    if not isinstance(model, TFLiteModel):
        return model, request
    if model.keras_model is None:  # a .tflite: only a comparison starts from it
        return model, request.with_options(name=request.name or model.name)
    base = None
    if model.comparison is not None:
        base = next(
            (
                r
                for r in model.comparison.rows
                if r.get("technique") == "baseline" and r.get("status") == "ok"
            ),
            None,
        )
    return model.keras_model, request.with_options(name=request.name or model.name, baseline=base)


def keras_only(model: Any, what: str) -> None:
    """Refuse a .tflite where ``what`` needs the Keras model."""
    if isinstance(model, TFLiteModel):
        raise NbOptTypeError(
            f"{model.name!r} is a .tflite model ({model.scheme}) without a Keras model behind "
            f"it; {what} needs the Keras model it came from (a .tflite compares with "
            "%quantize / nbopt.quantize)"
        )


def finish(outcome: Any, request: Request) -> TFLiteModel:
    """A training technique's last variant (its files saved if asked), or its error."""
    comparison = outcome.comparison
    if request.output.save:
        comparison.save(request.output.save, force=request.output.force)
    if outcome.final is None:
        failed = [r for r in comparison.rows if r.get("status") == "failed"]
        reason = failed[-1]["error"] if failed else "no variant was produced"
        raise ConversionError(f"{comparison.name}: {reason}")
    return outcome.final
