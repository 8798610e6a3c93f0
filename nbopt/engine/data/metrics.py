"""Scoring predictions by the task's metric, per output, and which way is better.

A metric is a name (``accuracy``, ``topK`` such as ``top5``, ``mse``, ``mae``, ``auc``,
``f1``), a Keras metric object or class, or any callable ``(y_true, y_pred) -> float``.
Each resolves to a :class:`Metric`: its name, its function and whether higher is better.
A callable says its direction with a ``higher_is_better`` attribute; otherwise a name that
says error or loss (``wer``, ``cer``, ``mse``, ``..._error``, ``..._loss``) is lower-is-better
and any other higher-is-better.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ...errors import NbOptUsageError
from .specs import EvalData

Fn = Callable[[np.ndarray, np.ndarray], float]


class Metric(NamedTuple):
    """A resolved metric: its name, ``fn(y_true, y_pred) -> float`` and its direction."""

    name: str
    fn: Fn
    higher_is_better: bool = True


#: Words in a metric's name that say lower is better.
_LOWER = re.compile(r"(error|loss|mse|mae|rmse|wer|cer|distance|perplexity)", re.IGNORECASE)
_TOP_K = re.compile(r"^top(\d+)$")


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


def mean_absolute_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of absolute differences (targets broadcast to the prediction's shape)."""
    y_true = y_true.astype(np.float64).reshape(y_pred.shape)
    return float(np.mean(np.abs(y_pred.astype(np.float64) - y_true)))


def top_k_accuracy(k: int) -> Fn:
    """Share of samples whose label is among the ``k`` highest-scoring classes."""

    def top_k(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        scores = y_pred.reshape(len(y_pred), -1)
        labels = y_true
        if labels.ndim >= 2 and labels.shape[-1] > 1:
            labels = np.argmax(labels, axis=-1)
        best = np.argsort(-scores, axis=-1)[:, :k]
        return float(np.mean(np.any(best == labels.reshape(-1, 1), axis=-1)))

    return top_k


def _binary(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels and the positive class's score (the last column of a softmax)."""
    scores = y_pred.reshape(len(y_pred), -1)[:, -1].astype(np.float64)
    labels = y_true.reshape(len(y_true), -1)
    labels = labels[:, -1] if labels.shape[-1] > 1 else labels[:, 0]
    return (labels > 0.5).astype(np.int64), scores


def roc_auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Area under the ROC curve of a binary classifier (Mann-Whitney U; ties count half)."""
    labels, scores = _binary(y_true, y_pred)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if not positives or not negatives:
        raise NbOptUsageError("auc needs labels of both classes in --eval")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # the 0-based rank of each distinct score's first
    ranks = first[inverse] + (counts[inverse] - 1) / 2 + 1  # 1-based, ties averaged
    u = ranks[labels == 1].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 score of a binary classifier at threshold 0.5 (macro F1 over classes otherwise)."""
    scores = y_pred.reshape(len(y_pred), -1)
    if scores.shape[-1] <= 2:
        labels, positive = _binary(y_true, y_pred)
        predicted = (positive > 0.5).astype(np.int64)
        classes = [1]
    else:
        labels = y_true if y_true.ndim == 1 else np.argmax(y_true.reshape(len(y_true), -1), -1)
        labels = labels.reshape(-1)
        predicted = np.argmax(scores, axis=-1)
        classes = list(range(scores.shape[-1]))
    values = []
    for c in classes:
        tp = np.sum((predicted == c) & (labels == c))
        fp, fn = np.sum((predicted == c) & (labels != c)), np.sum((predicted != c) & (labels == c))
        values.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(values))


#: The metrics known by name: function and direction.
NAMED: dict[str, tuple[Fn, bool]] = {
    "accuracy": (top1_accuracy, True),
    "top1": (top1_accuracy, True),
    "mse": (mean_squared_error, False),
    "mae": (mean_absolute_error, False),
    "auc": (roc_auc, True),
    "f1": (f1, True),
}


def is_metric_name(text: str) -> bool:
    """True for a metric nbopt knows by name (``accuracy``, ``top5``, ``mse``, ...)."""
    return text in NAMED or bool(_TOP_K.match(text))


def _named(metric: str) -> Metric:
    if metric in NAMED:
        fn, higher = NAMED[metric]
        return Metric("accuracy" if metric == "top1" else metric, fn, higher)
    found = _TOP_K.match(metric)
    if found and int(found.group(1)) >= 1:
        return Metric(metric, top_k_accuracy(int(found.group(1))), True)
    raise NbOptUsageError(
        f"unknown metric {metric!r}; use accuracy, topK (e.g. top5), mse, mae, auc, f1, a "
        "Keras metric or a function (y_true, y_pred) -> float"
    )


def _keras(metric: Any) -> Metric:
    """A Keras metric object (or class): reset, updated on the whole set, read."""
    if isinstance(metric, type):
        metric = metric()

    def keras_metric(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        metric.reset_state()
        metric.update_state(y_true, y_pred)
        return float(np.asarray(metric.result()))

    name = str(getattr(metric, "name", type(metric).__name__))
    higher = getattr(metric, "higher_is_better", None)
    return Metric(
        name, keras_metric, bool(higher) if higher is not None else not _LOWER.search(name)
    )


def as_metric(metric: Any) -> Metric | None:
    """``metric`` as a :class:`Metric` (None: chosen from the data later)."""
    if metric is None or isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        return _named(metric)
    if hasattr(metric, "update_state") and hasattr(metric, "result"):
        return _keras(metric)
    if callable(metric):
        name = str(getattr(metric, "__name__", "metric"))
        name = "metric" if name == "<lambda>" else name
        higher = getattr(metric, "higher_is_better", None)
        lower = _LOWER.search(name) is not None
        return Metric(name, metric, bool(higher) if higher is not None else not lower)
    raise NbOptUsageError(
        f"metric must be a name, a Keras metric or a function (y_true, y_pred); got "
        f"{type(metric).__name__}"
    )


def resolve_metric(metric: Any, y: np.ndarray, output_shape: tuple[int | None, ...]) -> Metric:
    """The metric of one output: ``metric`` as given, else top-1 accuracy for classifiers
    and mean squared error otherwise.

    A classifier is a model whose labels are integers (or one-hot rows) and whose output
    has one score per class (or one sigmoid score for 0/1 labels).
    """
    given = as_metric(metric)
    if given is not None:
        return given
    return (
        Metric("accuracy", top1_accuracy)
        if _classifier(y, output_shape)
        else Metric("mse", mean_squared_error, False)
    )


def _classifier(y: np.ndarray, output_shape: tuple[int | None, ...]) -> bool:
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
            return True
    return bool(classes == 1 and integer_labels and set(np.unique(y)).issubset({0, 1}))


def resolve_metrics(
    metric: Any,
    evaluation: EvalData,
    shapes: list[tuple[int | None, ...]],
) -> list[Metric]:
    """The metric of every scored output of ``evaluation`` (see :func:`resolve_metric`).

    ``metric`` applies to every output, or is a dict keyed by output name.
    """
    resolved = []
    for name, index, y in zip(evaluation.names, evaluation.outputs, evaluation.ys):
        chosen = metric.get(name) if isinstance(metric, dict) else metric
        shape = shapes[index] if index < len(shapes) else ()
        resolved.append(resolve_metric(chosen, y, shape))
    return resolved


def score(
    evaluation: EvalData, metrics: list[Metric], predictions: list[np.ndarray]
) -> dict[str, dict[str, Any]]:
    """Every scored output's metric: ``{output: {"metric", "value", "higher_is_better"}}``.

    ``predictions`` holds one array per model output, in the model's output order.
    """
    scores: dict[str, dict[str, Any]] = {}
    for name, index, y, metric in zip(evaluation.names, evaluation.outputs, evaluation.ys, metrics):
        value = metric.fn(y, predictions[index])
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise NbOptUsageError(
                f"metric {metric.name} returned {type(value).__name__}, not a number"
            ) from None
        scores[name] = {
            "metric": metric.name,
            "value": value,
            "higher_is_better": metric.higher_is_better,
        }
    return scores
