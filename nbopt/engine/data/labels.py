"""Labelled data: ``eval`` and ``fit`` as inputs and per-output labels (:class:`EvalData`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ...errors import NbOptTypeError, NbOptUsageError
from .arrays import (
    _as_array,
    _collect,
    _is_dataset,
    _is_pandas,
    _labels,
    _outputs_or_one,
    _split_inputs,
)
from .specs import EvalData, InputSpec, OutputSpec


def eval_data(
    data: Any,
    specs: list[InputSpec],
    outputs: list[OutputSpec] | None = None,
    what: str = "evaluation data",
    hint: str = "pass (x, y), e.g. --eval x_test,y_test",
) -> EvalData:
    """Inputs and labels from an ``(x, y)`` tuple, a dataset or a generator of pairs.

    ``outputs`` are the model's outputs (see :func:`nbopt.engine.model.keras_models.output_specs`):
    ``y`` may then be a list (one array per output) or a dict keyed by output name.
    """
    outs = _outputs_or_one(outputs)
    if isinstance(data, (tuple, list)) and len(data) == 2 and not _is_dataset(data):
        x, y = data
        xs = [_as_array(v, s, what) for v, s in zip(_split_inputs(x, specs, what), specs)]
        ys, scored = _labels(y, outs, what)
    elif _is_pandas(data) or isinstance(data, np.ndarray):
        raise NbOptUsageError(f"{what}: got inputs without labels; {hint}")
    elif _is_dataset(data) or isinstance(data, Iterable) or callable(data):
        if isinstance(data, dict):
            raise NbOptUsageError(f"{what}: got a dict of inputs without labels; {hint}")
        xs, ys, scored = _collect(data, specs, what, None, outs)
    else:
        raise NbOptTypeError(
            f"{what}: expected an (x, y) tuple, a tf.data.Dataset or a generator of (x, y), "
            f"got {type(data).__name__}"
        )
    lengths = {len(a) for a in xs}
    for y in ys:
        if len(lengths) != 1 or len(y) not in lengths:
            raise NbOptUsageError(
                f"{what}: x has {len(xs[0])} samples but y has {len(y)}; "
                "pass arrays of equal length"
            )
    return EvalData(xs, ys, scored, [outs[i].name for i in scored])


def fit_data(
    data: Any, specs: list[InputSpec], outputs: list[OutputSpec] | None = None
) -> EvalData:
    """Training ``(x, y)`` for ``fit=``: as :func:`eval_data`, with errors that name ``fit``."""
    return eval_data(
        data, specs, outputs, what="fit data", hint="fit needs labels, e.g. fit=(x_train, y_train)"
    )
