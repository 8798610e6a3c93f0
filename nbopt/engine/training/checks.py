"""Before a technique trains: the mistakes in its request, raised before any work starts."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import NbOptUsageError
from ..convert.converter import SCHEMES, check_arguments
from ..pipeline.checks import check_request
from ..request import Request
from .technique import Technique


def check_training(request: Request, technique: Technique) -> None:
    """Raise every mistake in the training options of ``request``.

    Either ``fit`` (``(x, y)`` data: nbopt compiles and fits) or ``fine_tune`` (a callable
    that receives the wrapped model and trains it; the cell body of ``%%prune``) is needed.
    """
    kind, data, training = technique.kind, request.data, request.training
    if data.fit is None and training.fine_tune is None:
        magic = "quantize --aware" if kind == "qat" else kind
        raise NbOptUsageError(
            f"{kind} fine-tunes the model and needs training data; pass "
            f"--fit x_train,y_train (fit=(x, y)) or fine-tune in the cell body (%%{magic})"
        )
    if data.fit is not None and _unlabelled(data.fit):
        raise NbOptUsageError(
            "--fit needs labels to fine-tune: pass inputs and labels, e.g. "
            "--fit x_train,y_train (fit=(x, y))"
        )
    for label, value in (("epochs", training.epochs), ("batch size", training.batch_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise NbOptUsageError(f"{label} must be 1 or more, got {value}")
    then = training.then
    if then is not None:
        if kind == "qat":
            raise NbOptUsageError("--then does not apply to QAT: its result is already int8")
        if then not in SCHEMES:
            raise NbOptUsageError(
                f"unknown --then scheme {then!r}; choose from {', '.join(SCHEMES)}"
            )
    schemes = ["int8"] if kind == "qat" else [then] if then else []
    check_request(schemes, data.calib, request.conversion.io, aware=kind == "qat", option="--then ")
    if (
        kind == "qat"
        and request.conversion.io != "float"
        and data.calib is None
        and data.fit is None
    ):
        raise NbOptUsageError(
            f"quantization-aware training with --io {request.conversion.io} needs samples to "
            "set the input and output scales: pass --calib (or --fit)"
        )
    if request.conversion.sparse:
        if kind == "qat" or (kind == "cluster" and technique.preserve != "sparsity"):
            raise NbOptUsageError(
                "--sparse stores a model's zeros sparse: prune (--sparsity), or cluster a "
                "pruned model with --preserve sparsity"
            )
        if then is not None:
            check_arguments(then, data.calib, request.conversion.io, sparse=True)


def _unlabelled(fit: Any) -> bool:
    """True for inputs alone (an array or DataFrame), where ``(x, y)`` was needed."""
    if isinstance(fit, (tuple, list)):
        return False
    return (hasattr(fit, "shape") and hasattr(fit, "dtype")) or hasattr(fit, "columns")
