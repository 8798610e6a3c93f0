"""Turning what users pass as ``calib`` and ``eval`` into arrays the interpreter takes.

Accepted: numpy arrays (and anything ``np.asarray`` understands), ``(x, y)`` tuples,
``tf.data.Dataset`` objects (batched or not), generators and other iterables, and callables
that return one (the form TFLite's ``representative_dataset`` uses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NbOptTypeError, NbOptUsageError

#: Calibration stops after this many samples when the data is an endless stream.
MAX_CALIBRATION_SAMPLES = 2000


@dataclass(frozen=True)
class InputSpec:
    """One model input: its shape with ``None`` for unknown dims (batch first) and dtype."""

    shape: tuple[int | None, ...]
    dtype: str

    def describe(self) -> str:
        dims = ", ".join("None" if d is None else str(d) for d in self.shape)
        return f"({dims})"


@dataclass
class EvalData:
    """Evaluation inputs (one array per model input) and targets."""

    x: list[np.ndarray]
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def _to_numpy(value: Any) -> Any:
    if hasattr(value, "numpy") and callable(value.numpy):
        return value.numpy()
    return value


def _is_dataset(obj: Any) -> bool:
    return type(obj).__module__.startswith("tensorflow") and hasattr(obj, "as_numpy_iterator")


def _iterate(obj: Any, what: str) -> Iterable[Any]:
    if _is_dataset(obj):
        return obj.as_numpy_iterator()
    if callable(obj) and not isinstance(obj, np.ndarray):
        try:
            obj = obj()
        except Exception as exc:
            raise NbOptUsageError(
                f"{what}: calling the data function raised {type(exc).__name__}: {exc}"
            ) from exc
    if isinstance(obj, (str, bytes, dict)) or not isinstance(obj, Iterable):
        raise NbOptTypeError(
            f"{what}: expected an array, an (x, y) tuple, a tf.data.Dataset or a generator, "
            f"got {type(obj).__name__}"
        )
    return obj


def _as_array(value: Any, spec: InputSpec, what: str) -> np.ndarray:
    """``value`` as a batch for ``spec``: right rank, matching known dims, spec's dtype."""
    value = _to_numpy(value)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise NbOptTypeError(f"{what}: cannot be read as an array ({exc})") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise NbOptTypeError(
            f"{what}: expected numbers, got an array of {arr.dtype}; pass numeric arrays"
        )
    rank = len(spec.shape)
    if arr.ndim == rank - 1:
        arr = arr[np.newaxis]
    if arr.ndim != rank or any(
        want is not None and got != want for want, got in zip(spec.shape[1:], arr.shape[1:])
    ):
        raise NbOptUsageError(
            f"{what}: data of shape {tuple(arr.shape)} does not fit the model's input "
            f"{spec.describe()}; reshape it to (n, {', '.join(str(d) for d in spec.shape[1:])})"
        )
    if len(arr) == 0:
        raise NbOptUsageError(f"{what}: the data is empty; pass at least one sample")
    return arr.astype(spec.dtype, copy=False)


def _split_inputs(x: Any, specs: list[InputSpec], what: str) -> list[Any]:
    """One value per model input from ``x`` (an array, or a list/tuple/dict for several)."""
    if len(specs) == 1:
        if isinstance(x, dict) and len(x) == 1:
            return list(x.values())
        return [x]
    if isinstance(x, dict):
        return list(x.values())
    if isinstance(x, (list, tuple)) and len(x) == len(specs):
        return list(x)
    raise NbOptUsageError(
        f"{what}: the model has {len(specs)} inputs; pass a list of {len(specs)} arrays"
    )


def _looks_like_xy(data: Any, specs: list[InputSpec]) -> bool:
    return (
        isinstance(data, tuple)
        and len(data) == 2
        and (len(specs) == 1 or isinstance(data[0], (list, tuple, dict)))
    )


def calibration_arrays(
    data: Any, specs: list[InputSpec], limit: int = MAX_CALIBRATION_SAMPLES
) -> list[np.ndarray]:
    """Representative samples, one array per model input, at most ``limit`` long.

    ``data`` may be ``x``, ``(x, y)`` (labels are ignored), a dataset or a generator whose
    items are single samples, batches, ``(x, y)`` pairs or ``[x]`` lists.
    """
    what = "calibration data"
    if data is None:
        raise NbOptUsageError(
            f"{what}: none given; pass representative samples, e.g. x_train[:256]"
        )
    if _looks_like_xy(data, specs):
        data = data[0]
    if isinstance(data, np.ndarray) or (
        hasattr(data, "shape") and hasattr(data, "dtype") and not _is_dataset(data)
    ):
        arrays = [_as_array(v, s, what) for v, s in zip(_split_inputs(data, specs, what), specs)]
        return [a[:limit] for a in arrays]
    if isinstance(data, (list, tuple)) and len(specs) > 1 and len(data) == len(specs):
        return [_as_array(v, s, what)[:limit] for v, s in zip(data, specs)]
    if isinstance(data, list):
        arrays = [_as_array(data, specs[0], what)]
        return [a[:limit] for a in arrays]
    return _collect(data, specs, what, limit, with_labels=False)[0]


def _collect(
    data: Any, specs: list[InputSpec], what: str, limit: int | None, with_labels: bool
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Drain a dataset or generator into arrays (stopping after ``limit`` samples)."""
    parts: list[list[np.ndarray]] = [[] for _ in specs]
    labels: list[np.ndarray] = []
    count = 0
    for item in _iterate(data, what):
        if with_labels:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise NbOptUsageError(f"{what}: each item must be an (x, y) pair")
            x, y = item
        else:
            if isinstance(item, (tuple, list)) and (
                len(item) == 2 and len(specs) == 1 and not _same_rank(item, specs[0])
            ):
                item = item[0]  # (x, y): the label is not needed
            x, y = item, None
            if isinstance(x, list) and len(x) == len(specs) and len(specs) == 1:
                x = x[0]  # TFLite's own representative_dataset form: [x]
        arrays = [_as_array(v, s, what) for v, s in zip(_split_inputs(x, specs, what), specs)]
        for store, arr in zip(parts, arrays):
            store.append(arr)
        if with_labels:
            y = np.asarray(_to_numpy(y))
            labels.append(y if y.ndim >= 1 and len(y) == len(arrays[0]) else y[np.newaxis])
        count += len(arrays[0])
        if limit is not None and count >= limit:
            break
    if count == 0:
        raise NbOptUsageError(f"{what}: the dataset or generator yielded no samples")
    xs = [np.concatenate(p)[:limit] if limit else np.concatenate(p) for p in parts]
    ys = np.concatenate(labels) if with_labels else None
    return xs, ys


def _same_rank(item: Any, spec: InputSpec) -> bool:
    """True when a 2-item ``item`` is itself a 2-sample batch rather than ``(x, y)``."""
    try:
        arr = np.asarray(_to_numpy(item))
    except Exception:
        return False
    return arr.dtype != object and arr.ndim == len(spec.shape)


def eval_data(data: Any, specs: list[InputSpec]) -> EvalData:
    """Evaluation ``(x, y)`` from a tuple, a dataset or a generator of ``(x, y)`` pairs."""
    what = "evaluation data"
    if isinstance(data, (tuple, list)) and len(data) == 2 and not _is_dataset(data):
        x, y = data
        xs = [_as_array(v, s, what) for v, s in zip(_split_inputs(x, specs, what), specs)]
        y = np.asarray(_to_numpy(y))
    elif _is_dataset(data) or isinstance(data, Iterable) or callable(data):
        if isinstance(data, np.ndarray):
            raise NbOptUsageError(
                f"{what}: got inputs without labels; pass (x, y), e.g. --eval x_test,y_test"
            )
        xs, y = _collect(data, specs, what, None, with_labels=True)
    else:
        raise NbOptTypeError(
            f"{what}: expected an (x, y) tuple, a tf.data.Dataset or a generator of (x, y), "
            f"got {type(data).__name__}"
        )
    if y.dtype == object or y.ndim == 0:
        raise NbOptTypeError(f"{what}: labels must be a numeric array, got {y.dtype}")
    lengths = {len(a) for a in xs}
    if len(lengths) != 1 or len(y) not in lengths:
        raise NbOptUsageError(
            f"{what}: x has {len(xs[0])} samples but y has {len(y)}; pass arrays of equal length"
        )
    return EvalData(xs, y)


Metric = Callable[[np.ndarray, np.ndarray], float]


def top1_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of samples whose highest-scoring class is the label (binary: threshold 0.5)."""
    if y_pred.ndim >= 2 and y_pred.shape[-1] == 1:
        predicted = (y_pred.reshape(len(y_pred)) > 0.5).astype(np.int64)
    else:
        predicted = np.argmax(y_pred.reshape(len(y_pred), -1), axis=-1)
    labels = y_true
    if labels.ndim >= 2 and labels.shape[-1] > 1:
        labels = np.argmax(labels, axis=-1)
    return float(np.mean(predicted == labels.reshape(len(labels))))


def mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of squared differences (targets broadcast to the prediction's shape)."""
    y_true = y_true.astype(np.float64).reshape(y_pred.shape)
    return float(np.mean((y_pred.astype(np.float64) - y_true) ** 2))


def resolve_metric(
    metric: str | Metric | None, y: np.ndarray, output_shape: tuple[int | None, ...]
) -> tuple[str, Metric]:
    """The metric's name and function: top-1 accuracy for classifiers, else MSE.

    A classifier is a model whose labels are integers (or one-hot rows) and whose output
    has one score per class (or one sigmoid score for 0/1 labels).
    """
    if callable(metric):
        return getattr(metric, "__name__", "custom"), metric
    if metric in ("accuracy", "top1"):
        return "accuracy", top1_accuracy
    if metric == "mse":
        return "mse", mean_squared_error
    if metric is not None:
        raise NbOptUsageError(
            f"unknown metric {metric!r}; use 'accuracy', 'mse' or a function (y_true, y_pred)"
        )
    classes = output_shape[-1] if len(output_shape) >= 2 else None
    integer_labels = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and y.size > 0 and np.all(np.mod(y, 1) == 0)
    )
    if classes and classes > 1 and integer_labels:
        one_hot = y.ndim >= 2 and y.shape[-1] == classes
        flat = y.ndim == 1 or (y.ndim == 2 and y.shape[-1] == 1)
        if (one_hot and np.all(y.sum(axis=-1) == 1)) or (
            flat and y.min() >= 0 and y.max() < classes
        ):
            return "accuracy", top1_accuracy
    if classes == 1 and integer_labels and set(np.unique(y)).issubset({0, 1}):
        return "accuracy", top1_accuracy
    return "mse", mean_squared_error
