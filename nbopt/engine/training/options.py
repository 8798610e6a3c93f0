"""How a technique is trained and measured: one options object for QAT, pruning, clustering."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ...errors import NbOptUsageError
from ..convert.converter import SCHEMES
from ..events import Listener
from ..measure.latency import MeasureSettings
from ..pipeline.checks import check_request
from .technique import Technique


@dataclass
class TrainOptions:
    """Everything but the technique: data, fine-tuning, ``--then``, measurement.

    Either ``fit`` (``(x, y)`` data: nbopt compiles and fits) or ``fine_tune`` (a callable
    that receives the wrapped model and trains it; the cell body of ``%%prune``) is needed.
    ``then`` applies a post-training scheme to the result; ``baseline`` reuses an already
    measured float32 row instead of measuring the original model again.
    """

    fit: Any = None
    epochs: int = 1
    batch_size: int = 32
    fine_tune: Callable[[Any], Any] | None = None
    eval: Any = None
    calib: Any = None
    then: str | None = None
    io: str = "float"
    metric: Any = None
    name: str | None = None
    baseline: dict[str, Any] | None = None
    settings: MeasureSettings = field(default_factory=MeasureSettings)
    listener: Listener | None = None

    @classmethod
    def pick(cls, arguments: dict[str, Any]) -> TrainOptions:
        """The options among a call's ``arguments`` (e.g. ``locals()`` of :func:`nbopt.prune`)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in arguments.items() if k in names})

    def validate(self, technique: Technique) -> None:
        """Raise every mistake in the options before any work starts."""
        kind = technique.kind
        if self.fit is None and self.fine_tune is None:
            magic = "quantize --aware" if kind == "qat" else kind
            raise NbOptUsageError(
                f"{kind} fine-tunes the model and needs training data; pass "
                f"--fit x_train,y_train (fit=(x, y)) or fine-tune in the cell body (%%{magic})"
            )
        if self.fit is not None and _unlabelled(self.fit):
            raise NbOptUsageError(
                "--fit needs labels to fine-tune: pass inputs and labels, e.g. "
                "--fit x_train,y_train (fit=(x, y))"
            )
        if not isinstance(self.epochs, (int, np.integer)) or self.epochs < 1:
            raise NbOptUsageError(f"epochs must be 1 or more, got {self.epochs}")
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise NbOptUsageError(f"batch size must be 1 or more, got {self.batch_size}")
        if self.then is not None:
            if kind == "qat":
                raise NbOptUsageError("--then does not apply to QAT: its result is already int8")
            if self.then not in SCHEMES:
                raise NbOptUsageError(
                    f"unknown --then scheme {self.then!r}; choose from {', '.join(SCHEMES)}"
                )
        schemes = ["int8"] if kind == "qat" else [self.then] if self.then else []
        check_request(schemes, self.calib, self.io, aware=kind == "qat", option="--then ")


def _unlabelled(fit: Any) -> bool:
    """True for inputs alone (an array or DataFrame), where ``(x, y)`` was needed."""
    if isinstance(fit, (tuple, list)):
        return False
    return (hasattr(fit, "shape") and hasattr(fit, "dtype")) or hasattr(fit, "columns")
