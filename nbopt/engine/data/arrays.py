"""Turning what users pass as ``calib``, ``eval`` and ``fit`` into arrays the interpreter takes.

Accepted: numpy arrays (and anything ``np.asarray`` understands), pandas DataFrames and
Series, ``(x, y)`` tuples, ``tf.data.Dataset`` objects (batched or not), generators and other
iterables, and callables that return one (the form TFLite's ``representative_dataset`` uses).
A model with several inputs takes a list, a tuple or a dict keyed by input name; a model with
several outputs takes its labels as a list (one array per output, in order) or a dict keyed
by output name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ...errors import NbOptTypeError, NbOptUsageError
from .specs import MAX_CALIBRATION_SAMPLES, InputSpec, OutputSpec


def _to_numpy(value: Any) -> Any:
    """Tensors, DataFrames and Series as numpy arrays; anything else unchanged."""
    if type(value).__module__.startswith("pandas") and hasattr(value, "to_numpy"):
        return _frame_array(value)
    if hasattr(value, "numpy") and callable(value.numpy):
        return value.numpy()
    return value


def _frame_array(frame: Any) -> np.ndarray:
    """A DataFrame's (or Series') values; a non-numeric column is named in the error."""
    table = frame if hasattr(frame, "columns") else frame.to_frame()
    for column in table.columns:
        if getattr(table[column].dtype, "kind", "O") not in "biuf":
            raise NbOptTypeError(
                f"column {str(column)!r} of the {type(frame).__name__} is not numeric "
                f"({table[column].dtype}); select the numeric columns or encode it first"
            )
    return frame.to_numpy()


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


def _is_pandas(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and hasattr(value, "to_numpy")


def _by_name(values: dict[Any, Any], names: list[str], what: str, kind: str) -> list[Any]:
    """``values`` (a dict keyed by input or output name) in the order of ``names``."""
    if not all(names):
        raise NbOptUsageError(
            f"{what}: this model does not know its {kind} names; pass a list in the order "
            f"of its {kind}s"
        )
    missing = [n for n in names if n not in values]
    unknown = [str(k) for k in values if k not in names]
    if missing or unknown:
        got = ", ".join(repr(str(k)) for k in values)
        raise NbOptUsageError(
            f"{what}: the model's {kind}s are {', '.join(repr(n) for n in names)}; got keys {got}"
        )
    return [values[n] for n in names]


def _split_inputs(x: Any, specs: list[InputSpec], what: str) -> list[Any]:
    """One value per model input from ``x``: an array, or a list, tuple or dict for several."""
    if isinstance(x, dict):
        if len(specs) == 1 and len(x) == 1:
            return list(x.values())
        return _by_name(x, [s.name for s in specs], what, "input")
    if len(specs) == 1:
        return [x]
    if isinstance(x, (list, tuple)) and len(x) == len(specs):
        return list(x)
    names = ", ".join(repr(s.name) for s in specs)
    raise NbOptUsageError(
        f"{what}: the model has {len(specs)} inputs ({names}); pass a list of "
        f"{len(specs)} arrays or a dict keyed by input name"
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

    ``data`` may be ``x`` (an array, a DataFrame, or a list or dict of them for several
    inputs), ``(x, y)`` (labels are ignored), a dataset or a generator whose items are
    single samples, batches, ``(x, y)`` pairs or ``[x]`` lists.
    """
    what = "calibration data"
    if data is None:
        raise NbOptUsageError(
            f"{what}: none given; pass representative samples, e.g. x_train[:256]"
        )
    if _looks_like_xy(data, specs):
        data = data[0]
    if _is_pandas(data):
        data = _to_numpy(data)
    if (
        isinstance(data, dict)
        or isinstance(data, np.ndarray)
        or (hasattr(data, "shape") and hasattr(data, "dtype") and not _is_dataset(data))
    ):
        arrays = [_as_array(v, s, what) for v, s in zip(_split_inputs(data, specs, what), specs)]
        return [a[:limit] for a in arrays]
    if isinstance(data, (list, tuple)) and len(specs) > 1 and len(data) == len(specs):
        return [_as_array(v, s, what)[:limit] for v, s in zip(data, specs)]
    if isinstance(data, list):
        arrays = [_as_array(data, specs[0], what)]
        return [a[:limit] for a in arrays]
    return _collect(data, specs, what, limit, None)[0]


def _collect(
    data: Any,
    specs: list[InputSpec],
    what: str,
    limit: int | None,
    outputs: list[OutputSpec] | None | bool,
) -> tuple[list[np.ndarray], list[np.ndarray], list[int]]:
    """Drain a dataset or generator into arrays (stopping after ``limit`` samples).

    With ``outputs`` (a list, or True for a single unnamed output) every item is an
    ``(x, y)`` pair and the labels are collected per output too.
    """
    with_labels = outputs is not None
    parts: list[list[np.ndarray]] = [[] for _ in specs]
    labels: list[list[np.ndarray]] = []
    scored: list[int] = []
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
            ys, scored = _labels(y, _outputs_or_one(outputs), what)
            labels = labels or [[] for _ in ys]
            for store, part in zip(labels, ys):
                store.append(part if part.ndim >= 1 and len(part) == len(arrays[0]) else part[None])
        count += len(arrays[0])
        if limit is not None and count >= limit:
            break
    if count == 0:
        raise NbOptUsageError(f"{what}: the dataset or generator yielded no samples")
    xs = [np.concatenate(p)[:limit] if limit else np.concatenate(p) for p in parts]
    return xs, [np.concatenate(p) for p in labels], scored


def _same_rank(item: Any, spec: InputSpec) -> bool:
    """True when a 2-item ``item`` is itself a 2-sample batch rather than ``(x, y)``."""
    try:
        arr = np.asarray(_to_numpy(item))
    except Exception:
        return False
    return arr.dtype != object and arr.ndim == len(spec.shape)


def _outputs_or_one(outputs: list[OutputSpec] | None | bool) -> list[OutputSpec]:
    if isinstance(outputs, list) and outputs:
        return outputs
    return [OutputSpec("out0", ())]


def _label_array(y: Any, what: str) -> np.ndarray:
    y = np.asarray(_to_numpy(y))
    if y.dtype == object or y.ndim == 0:
        raise NbOptTypeError(f"{what}: labels must be a numeric array, got {y.dtype}")
    return y


def _array_like(value: Any) -> bool:
    return isinstance(value, np.ndarray) or _is_pandas(value) or hasattr(value, "numpy")


def _labels(y: Any, outputs: list[OutputSpec], what: str) -> tuple[list[np.ndarray], list[int]]:
    """Label arrays and the index of the output each scores, from one array, a list or a dict."""
    names = [o.name for o in outputs]
    if isinstance(y, dict):
        index = {o.name: i for i, o in enumerate(outputs)}
        index.update({o.key: i for i, o in enumerate(outputs) if o.key})
        unknown = [str(k) for k in y if k not in index]
        if unknown:
            raise NbOptUsageError(
                f"{what}: no output named {unknown[0]!r}; the model's outputs are "
                f"{', '.join(repr(n) for n in names)}"
            )
        pairs = sorted((index[k], v) for k, v in y.items())
        return [_label_array(v, what) for _, v in pairs], [i for i, _ in pairs]
    several = isinstance(y, (list, tuple)) and y and all(_array_like(v) for v in y)
    if len(outputs) == 1:
        if several and len(y) > 1:
            raise NbOptUsageError(
                f"{what}: the model has one output but {len(y)} label arrays were given; "
                "pass one array of labels"
            )
        return [_label_array(y[0] if several else y, what)], [0]
    if several and len(y) == len(outputs):
        return [_label_array(v, what) for v in y], list(range(len(outputs)))
    example = ", ".join(f"y_{n}" for n in names)
    keyed = ", ".join(f"{n!r}: y_{n}" for n in names)
    raise NbOptUsageError(
        f"{what}: the model has {len(outputs)} outputs ({', '.join(repr(n) for n in names)}); "
        f"pass labels for each, e.g. (x, [{example}]) or (x, {{{keyed}}})"
    )
