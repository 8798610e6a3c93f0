"""Scoring predictions: top-1 accuracy, mean squared error or the user's own metric, per output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...errors import NbOptUsageError
from .specs import EvalData

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


def resolve_metrics(
    metric: str | Metric | dict[str, Any] | None,
    evaluation: EvalData,
    shapes: list[tuple[int | None, ...]],
) -> list[tuple[str, Metric]]:
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
    evaluation: EvalData, metrics: list[tuple[str, Metric]], predictions: list[np.ndarray]
) -> dict[str, dict[str, Any]]:
    """Every scored output's metric: ``{output name: {"metric": name, "value": number}}``.

    ``predictions`` holds one array per model output, in the model's output order.
    """
    scores: dict[str, dict[str, Any]] = {}
    for name, index, y, (metric_name, fn) in zip(
        evaluation.names, evaluation.outputs, evaluation.ys, metrics
    ):
        scores[name] = {"metric": metric_name, "value": float(fn(y, predictions[index]))}
    return scores
