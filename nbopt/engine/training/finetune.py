"""Fine-tuning a tfmot-wrapped model: nbopt's own ``fit`` or the user's cell."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ...errors import NbOptUsageError
from ..data.specs import EvalData
from ..measure.interpreter import first_line
from ..model.keras_models import import_tfmot, keras_flavor


def _loss_for(y: np.ndarray, output_classes: int | None, probabilities: bool) -> str | Any:
    import tf_keras

    if output_classes and output_classes > 1:
        integer = np.issubdtype(y.dtype, np.integer) or y.ndim == 1
        if y.ndim >= 2 and y.shape[-1] == output_classes and not integer:
            return tf_keras.losses.CategoricalCrossentropy(from_logits=not probabilities)
        return tf_keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities)
    return "mse"


def compile_like(wrapped: Any, original: Any, ys: list[np.ndarray]) -> None:
    """Compile ``wrapped`` with the original's loss and optimizer where it had them.

    Without them (a Keras 3 model rebuilt for tfmot, or one never compiled), each output
    gets the loss its labels and scores call for.
    """
    loss = getattr(original, "loss", None) if keras_flavor(original) == "tf_keras" else None
    if isinstance(getattr(original, "loss", None), str):
        loss = original.loss
    optimizer: Any = "adam"
    opt = getattr(original, "optimizer", None)
    if opt is not None and keras_flavor(original) == "tf_keras":
        try:
            optimizer = type(opt).from_config(opt.get_config())
        except Exception:
            optimizer = "adam"
    if loss is None:
        loss = _default_losses(wrapped, ys)
    classes = wrapped.outputs[0].shape[-1] if len(wrapped.outputs) == 1 else None
    metrics = ["accuracy"] if classes and classes > 1 else []
    wrapped.compile(optimizer=optimizer, loss=loss, metrics=metrics)


def _default_losses(wrapped: Any, ys: list[np.ndarray]) -> Any:
    """One loss per output: cross-entropy for class scores, else mean squared error."""
    zeros = [np.zeros((1, *t.shape[1:]), t.dtype.as_numpy_dtype) for t in wrapped.inputs]
    out = wrapped.predict(zeros[0] if len(zeros) == 1 else zeros, verbose=0)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    losses = []
    for sample, y, tensor in zip(outs, ys, wrapped.outputs):
        probs = bool(np.all(sample >= 0) and np.allclose(sample.sum(axis=-1), 1, atol=1e-3))
        losses.append(_loss_for(y, tensor.shape[-1], probs))
    return losses[0] if len(losses) == 1 else losses


def training_steps(n: int, batch_size: int, epochs: int) -> int:
    """How many optimizer steps ``fit`` will run."""
    return max(1, math.ceil(n / batch_size)) * max(1, epochs)


def pruning_schedule(target: float, kind: str, steps: int | None) -> Any:
    """A schedule that reaches ``target`` within ``steps`` training steps.

    tfmot's default (prune every 100 steps) prunes nothing in a short fine-tune; here the
    frequency and end step follow the number of steps the fit will run.
    """
    tfmot = import_tfmot()

    sched = tfmot.sparsity.keras
    if steps is None:  # the cell decides how long to train: prune early and often
        return sched.ConstantSparsity(target, begin_step=0, frequency=10)
    frequency = max(1, min(100, steps // 10))
    if kind == "constant":
        return sched.ConstantSparsity(target, begin_step=0, frequency=frequency)
    end = max(frequency, (int(steps * 0.7) // frequency) * frequency)
    return sched.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=target, begin_step=0, end_step=end, frequency=frequency
    )


def with_pruning_step(wrapped: Any) -> None:
    """Make ``wrapped.fit`` add tfmot's ``UpdatePruningStep`` callback by itself."""
    tfmot = import_tfmot()

    plain_fit = wrapped.fit

    def fit(*args: Any, callbacks: Any = None, **kwargs: Any) -> Any:
        callbacks = list(callbacks or [])
        if not any(isinstance(c, tfmot.sparsity.keras.UpdatePruningStep) for c in callbacks):
            callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())
        return plain_fit(*args, callbacks=callbacks, **kwargs)

    wrapped.fit = fit


_progress: Any = None


def epoch_callback(on_epoch: Any, on_batch: Any = None) -> Any:
    """A Keras callback calling ``on_epoch(epoch)`` (1-based) as each epoch begins, and
    ``on_batch()`` (if given) after each training batch.

    One class for every call, holding the callables on the instance: a class made per call
    was never freed, and through its methods' closures it kept the run, its comparison, the
    fine-tuned model and every flatbuffer alive after the result was dropped.
    """
    global _progress
    if _progress is None:
        import tf_keras

        class Progress(tf_keras.callbacks.Callback):
            def __init__(self, on_epoch: Any, on_batch: Any) -> None:
                super().__init__()
                self.epoch_begins, self.batch_ends = on_epoch, on_batch

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.epoch_begins(epoch + 1)

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                if self.batch_ends is not None:
                    self.batch_ends()

        _progress = Progress
    return _progress(on_epoch, on_batch)


@contextmanager
def forgetting_custom_gradients() -> Iterator[None]:
    """Drop the custom gradients TensorFlow registers while the block runs.

    Tracing a ``@tf.custom_gradient`` in a graph (Keras' train function does) adds it to a
    global registry that is never emptied, and with it the whole traced training graph:
    about 20 MB for the digits CNN at every fine-tune, kept to the end of the kernel. The
    train function nbopt's own ``fit`` traces is complete once traced (its gradients are
    in it) and is not traced again, so its entries can go. Nothing is dropped where
    TensorFlow's private registry is not where it was (TensorFlow 2.21).
    """
    try:
        from tensorflow.python.framework import ops

        registry = ops._gradient_registry._registry
        before = set(registry)
    except (ImportError, AttributeError, TypeError):
        yield
        return
    try:
        yield
    finally:
        for name in [n for n in list(registry) if n not in before]:
            if name.startswith("CustomGradient-"):
                registry.pop(name, None)


def fit(
    wrapped: Any,
    original: Any,
    data: EvalData,
    *,
    kind: str,
    epochs: int,
    batch_size: int,
    on_epoch: Any,
    on_batch: Any = None,
) -> None:
    """Compile ``wrapped`` like ``original`` and fit it on ``data``.

    A failure of Keras, tfmot or TensorFlow becomes one :class:`NbOptUsageError` line that
    says what to try (the original error stays on ``__cause__``).
    """
    import tensorflow as tf

    tfmot = import_tfmot()

    callbacks = [epoch_callback(on_epoch, on_batch)]
    if kind == "prune":
        callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())
    x = data.x[0] if len(data.x) == 1 else data.x
    try:
        if not getattr(wrapped, "_nbopt_compiled", False):  # compiled: trained on as it is
            compile_like(wrapped, original, data.ys)
            wrapped._nbopt_compiled = True
        with forgetting_custom_gradients():
            wrapped.fit(
                x,
                data.targets,
                epochs=int(epochs),
                batch_size=int(batch_size),
                verbose=0,
                callbacks=callbacks,
            )
    except tf.errors.ResourceExhaustedError as exc:
        raise NbOptUsageError(
            f"fine-tuning ({kind}) ran out of memory: {first_line(exc)}; pass a smaller "
            "--batch-size"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - tfmot's traced code raises any Python error
        raise NbOptUsageError(
            f"fine-tuning ({kind}) failed: {first_line(exc)}; check that --fit's labels fit the "
            "model's output, or fine-tune in the cell body with your own compile and fit"
        ) from exc
