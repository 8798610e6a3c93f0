"""Before any work: the mistakes in a request, and its data prepared for the model."""

from __future__ import annotations

from typing import Any

from ...errors import NbOptUsageError
from ..convert.converter import (
    IO_TYPES,
    NEEDS_CALIBRATION,
)
from ..data.arrays import calibration_arrays
from ..data.labels import eval_data
from ..data.metrics import resolve_metrics
from ..data.specs import EvalData
from ..model.keras_models import input_specs, output_shapes, output_specs
from ..model.tflite_model import TFLiteModel


def check_request(
    schemes: list[str],
    calib: Any,
    io: str,
    *,
    skip_uncalibrated: bool = False,
    aware: bool = False,
    option: str = "",
) -> list[str]:
    """Raise the mistakes in schemes, calibration and ``io`` before any work starts.

    Shared by post-training quantization and the training techniques (``option="--then "``
    names their ``--then`` scheme; ``aware``: a QAT model's int8 needs no calibration).
    Returns the schemes left out for lack of calibration data (``skip_uncalibrated``).
    """
    if io not in IO_TYPES:
        raise NbOptUsageError(f"unknown io {io!r}; choose from {', '.join(IO_TYPES)}")
    if io != "float" and "int8" not in schemes:
        add = f"add {option}int8" if option else "add int8 to the schemes"
        raise NbOptUsageError(f"io={io!r} applies to the int8 scheme; {add}")
    needs = [s for s in schemes if s in NEEDS_CALIBRATION and not aware]
    missing = needs if calib is None else []
    if missing and not skip_uncalibrated:
        raise NbOptUsageError(
            f"{', '.join(option + s for s in missing)} needs calibration data; pass "
            "representative samples, e.g. --calib x_train[:256] (calib=...)"
        )
    return missing


def prepare_data(
    model: Any,
    calib: Any,
    eval: Any,
    metric: Any,  # noqa: A002
) -> tuple[list[Any] | None, EvalData | None, list[tuple[str, Any]] | None]:
    """Calibration arrays, evaluation data and the metric of each scored output of ``model``."""
    specs, outputs, shapes = model_specs(model)
    calib_arrays = calibration_arrays(calib, specs) if calib is not None else None
    evaluation = eval_data(eval, specs, outputs) if eval is not None else None
    resolved = resolve_metrics(metric, evaluation, shapes) if evaluation else None
    return calib_arrays, evaluation, resolved


def model_specs(model: Any) -> tuple[list[Any], list[Any], list[tuple[int | None, ...]]]:
    """Inputs, outputs and output shapes of a Keras model or a :class:`TFLiteModel`."""
    if isinstance(model, TFLiteModel):
        outputs = model.output_specs()
        return model.input_specs(), outputs, [o.shape for o in outputs]
    return input_specs(model), output_specs(model), output_shapes(model)
