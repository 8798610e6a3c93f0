"""Training-time techniques of the Model Optimization Toolkit, measured like the others.

Quantization-aware training, pruning and weight clustering each take a copy of the user's
model (rebuilt with tf_keras if it is a Keras 3 model), wrap it with tfmot, fine-tune it,
strip the wrappers, export a .tflite and measure it beside the float32 baseline.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import NbOptTypeError, NbOptUsageError
from .compare import Comparison, Run, derive, prepare_data
from .convert import IO_TYPES, NEEDS_CALIBRATION, SCHEMES, convert, export_saved_model
from .data import EvalData, eval_data
from .events import Listener
from .keras_models import input_specs, is_graph_model, keras_flavor, require_model
from .measure import MeasureSettings
from .weights import distinct_values, sparsity, weight_tensors

TECHNIQUES = ("qat", "prune", "cluster")
SCHEDULES = ("polynomial", "constant")
INITS = {
    "kmeans++": "KMEANS_PLUS_PLUS",
    "linear": "LINEAR",
    "density": "DENSITY_BASED",
    "random": "RANDOM",
}
PRESERVE = {"qat": ("sparsity", "clusters", "both"), "cluster": ("sparsity",), "prune": ()}


class NbOptWarning(UserWarning):
    """Something worked, but not as asked (e.g. pruning reached less than its target)."""


@dataclass
class Technique:
    """What to apply and with which parameters."""

    kind: str
    sparsity: float | None = None
    schedule: str = "polynomial"
    structure: str | None = None
    clusters: int | None = None
    init: str = "kmeans++"
    preserve: str | None = None
    skip: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.kind not in TECHNIQUES:
            raise NbOptUsageError(f"unknown technique {self.kind!r}; choose from {TECHNIQUES}")
        if self.kind == "prune":
            if self.sparsity is None or not isinstance(self.sparsity, (int, float)):
                raise NbOptUsageError("pruning needs a target sparsity, e.g. --sparsity 0.8")
            if not 0 <= float(self.sparsity) < 1:
                raise NbOptUsageError(
                    f"sparsity must be in [0, 1), got {self.sparsity}; e.g. --sparsity 0.8 "
                    "keeps 20% of the weights"
                )
            if self.schedule not in SCHEDULES:
                raise NbOptUsageError(
                    f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}"
                )
            self.structure_m_by_n()
        if self.kind == "cluster":
            if not isinstance(self.clusters, (int, np.integer)) or self.clusters < 2:
                raise NbOptUsageError(
                    f"clusters must be a whole number of 2 or more, got {self.clusters}; "
                    "e.g. --clusters 16"
                )
            if self.init not in INITS:
                raise NbOptUsageError(f"unknown init {self.init!r}; choose from {', '.join(INITS)}")
        if self.preserve is not None and self.preserve not in PRESERVE[self.kind]:
            allowed = ", ".join(PRESERVE[self.kind]) or "nothing"
            raise NbOptUsageError(
                f"--preserve {self.preserve} does not apply to {self.kind}; it can preserve "
                f"{allowed}"
            )

    def structure_m_by_n(self) -> tuple[int, int] | None:
        if not self.structure:
            return None
        try:
            m, n = (int(v) for v in self.structure.split(":"))
        except ValueError:
            m = n = 0
        if (m, n) != (2, 4):
            raise NbOptUsageError(
                f"unknown structure {self.structure!r}; tfmot supports 2:4 (two zeros in "
                "every four weights)"
            )
        return m, n

    def params(self) -> dict[str, Any]:
        """The row's parameter columns."""
        out: dict[str, Any] = {}
        if self.kind == "prune":
            out.update(
                target_sparsity=float(self.sparsity),
                schedule=self.schedule,
                structure=self.structure,
            )
        if self.kind == "cluster":
            out.update(clusters=int(self.clusters), init=self.init)
        if self.preserve:
            out["preserve"] = self.preserve
        if self.skip:
            out["skip"] = ",".join(self.skip)
        return out


def require_graph_model(model: Any) -> str:
    """The model's Keras flavor, if tfmot can rewrite it (Sequential or Functional)."""
    flavor = require_model(model)
    if not is_graph_model(model):
        raise NbOptUsageError(
            f"model {model.name!r} is a subclassed Keras model; tfmot needs a Sequential or "
            "Functional model (build it with keras.Sequential or the functional API)"
        )
    return flavor


def tfmot_model(model: Any) -> Any:
    """A tf_keras copy of ``model`` that tfmot may rewrite: never the user's own object."""
    import tf_keras

    flavor = require_graph_model(model)
    if flavor == "keras3":
        from .rebuild import to_tf_keras

        return to_tf_keras(model)
    copy = tf_keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _loss_for(y: np.ndarray, output_classes: int | None, probabilities: bool) -> str | Any:
    import tf_keras

    if output_classes and output_classes > 1:
        integer = np.issubdtype(y.dtype, np.integer) or y.ndim == 1
        if y.ndim >= 2 and y.shape[-1] == output_classes and not integer:
            return tf_keras.losses.CategoricalCrossentropy(from_logits=not probabilities)
        return tf_keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities)
    return "mse"


def compile_like(wrapped: Any, original: Any, y: np.ndarray) -> None:
    """Compile ``wrapped`` with the original's loss and optimizer where it had them."""
    import tf_keras

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
    classes = wrapped.outputs[0].shape[-1] if wrapped.outputs else None
    if loss is None:
        sample = wrapped.predict(np.zeros((1, *wrapped.inputs[0].shape[1:]), "float32"), verbose=0)
        probs = bool(np.all(sample >= 0) and np.allclose(sample.sum(axis=-1), 1, atol=1e-3))
        loss = _loss_for(y, classes, probs)
    metrics = ["accuracy"] if classes and classes > 1 else []
    wrapped.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    del tf_keras


def _steps(n: int, batch_size: int, epochs: int) -> int:
    return max(1, math.ceil(n / batch_size)) * max(1, epochs)


def pruning_schedule(target: float, kind: str, steps: int | None) -> Any:
    """A schedule that reaches ``target`` within ``steps`` training steps.

    tfmot's default (prune every 100 steps) prunes nothing in a short fine-tune; here the
    frequency and end step follow the number of steps the fit will run.
    """
    import tensorflow_model_optimization as tfmot

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


def _quantize_wrap(model: Any, technique: Technique) -> Any:
    import tensorflow_model_optimization as tfmot
    import tf_keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_module,
    )

    q = tfmot.quantization.keras
    registry = registry_module.Default8BitQuantizeRegistry()
    unknown = [name for name in technique.skip if name not in {lyr.name for lyr in model.layers}]
    if unknown:
        raise NbOptUsageError(
            f"--skip: no layer named {', '.join(repr(u) for u in unknown)}; the model's layers "
            f"are {', '.join(lyr.name for lyr in model.layers)}"
        )
    unsupported = [
        lyr
        for lyr in model.layers
        if type(lyr).__name__ != "InputLayer"
        and lyr.name not in technique.skip
        and not registry.supports(lyr)
    ]
    if unsupported:
        names = ", ".join(f"{lyr.name!r} ({type(lyr).__name__})" for lyr in unsupported)
        raise NbOptUsageError(
            f"tfmot cannot quantize layer {names}; pass --skip "
            f"{','.join(lyr.name for lyr in unsupported)} to quantize the other layers"
        )

    def annotate(layer: Any) -> Any:
        if type(layer).__name__ == "InputLayer" or layer.name in technique.skip:
            return layer
        return q.quantize_annotate_layer(layer)

    annotated = tf_keras.models.clone_model(model, clone_function=annotate)
    scheme = None
    if technique.preserve:
        combine = tfmot.experimental.combine
        scheme = {
            "sparsity": lambda: combine.Default8BitPrunePreserveQuantizeScheme(),
            "clusters": lambda: combine.Default8BitClusterPreserveQuantizeScheme(False),
            "both": lambda: combine.Default8BitClusterPreserveQuantizeScheme(True),
        }[technique.preserve]()
    with q.quantize_scope():
        return q.quantize_apply(annotated, scheme) if scheme else q.quantize_apply(annotated)


def wrap(model: Any, technique: Technique, steps: int | None) -> Any:
    """``model`` (a tf_keras copy) wrapped by tfmot for ``technique``."""
    import tensorflow_model_optimization as tfmot

    try:
        if technique.kind == "qat":
            return _quantize_wrap(model, technique)
        if technique.kind == "prune":
            return tfmot.sparsity.keras.prune_low_magnitude(
                model,
                pruning_schedule=pruning_schedule(
                    float(technique.sparsity), technique.schedule, steps
                ),
                sparsity_m_by_n=technique.structure_m_by_n(),
            )
        init = getattr(tfmot.clustering.keras.CentroidInitialization, INITS[technique.init])
        return tfmot.clustering.keras.cluster_weights(
            model,
            number_of_clusters=int(technique.clusters),
            cluster_centroids_init=init,
            preserve_sparsity=technique.preserve == "sparsity",
        )
    except NbOptUsageError:
        raise
    except (ValueError, TypeError, RuntimeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NbOptUsageError(f"tfmot cannot apply {technique.kind}: {message}") from exc


def strip(wrapped: Any, technique: Technique) -> Any:
    import tensorflow_model_optimization as tfmot

    if technique.kind == "prune":
        return tfmot.sparsity.keras.strip_pruning(wrapped)
    if technique.kind == "cluster":
        return tfmot.clustering.keras.strip_clustering(wrapped)
    return wrapped


def _epoch_events(run: Run, label: str, epochs: int) -> Any:
    import tf_keras

    class Progress(tf_keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            run.step(label, f"fine-tuning, epoch {epoch + 1}/{epochs}")

    return Progress()


def with_pruning_step(wrapped: Any) -> None:
    """Make ``wrapped.fit`` add tfmot's ``UpdatePruningStep`` callback by itself."""
    import tensorflow_model_optimization as tfmot

    plain_fit = wrapped.fit

    def fit(*args: Any, callbacks: Any = None, **kwargs: Any) -> Any:
        callbacks = list(callbacks or [])
        if not any(isinstance(c, tfmot.sparsity.keras.UpdatePruningStep) for c in callbacks):
            callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())
        return plain_fit(*args, callbacks=callbacks, **kwargs)

    wrapped.fit = fit


@dataclass
class Outcome:
    """What a training-time technique produced."""

    comparison: Comparison
    keras_model: Any
    final: Any  # the last variant's TFLiteModel, or None if it failed


def optimize(
    model: Any,
    technique: Technique,
    *,
    fit: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    fine_tune: Callable[[Any], Any] | None = None,
    eval: Any = None,  # noqa: A002 - the documented name
    calib: Any = None,
    then: str | None = None,
    io: str = "float",
    metric: Any = None,
    name: str | None = None,
    baseline: dict[str, Any] | None = None,
    settings: MeasureSettings | None = None,
    listener: Listener | None = None,
) -> Outcome:
    """Apply ``technique`` to a copy of ``model``, fine-tune, export and measure.

    Either ``fit`` (``(x, y)`` data: nbopt compiles and fits) or ``fine_tune`` (a callable
    that receives the wrapped model and trains it; the cell body of ``%%prune``) is needed.
    ``then`` applies a post-training scheme to the result. ``baseline`` reuses an already
    measured float32 row instead of measuring the original model again.
    """
    settings = settings or MeasureSettings()
    technique.validate()
    require_graph_model(model)
    if fit is None and fine_tune is None:
        raise NbOptUsageError(
            f"{technique.kind} fine-tunes the model and needs training data; pass "
            "--fit x_train,y_train (fit=(x, y)) or fine-tune in the cell body (%%"
            f"{'quantize --aware' if technique.kind == 'qat' else technique.kind})"
        )
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise NbOptUsageError(f"epochs must be 1 or more, got {epochs}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise NbOptUsageError(f"batch size must be 1 or more, got {batch_size}")
    if io not in IO_TYPES:
        raise NbOptUsageError(f"unknown io {io!r}; choose from {', '.join(IO_TYPES)}")
    if then is not None:
        if technique.kind == "qat":
            raise NbOptUsageError("--then does not apply to QAT: its result is already int8")
        if then not in SCHEMES:
            raise NbOptUsageError(
                f"unknown --then scheme {then!r}; choose from {', '.join(SCHEMES)}"
            )
        if then in NEEDS_CALIBRATION and calib is None:
            raise NbOptUsageError(
                f"--then {then} needs calibration data; pass e.g. --calib x_train[:256]"
            )
    if io != "float" and technique.kind != "qat" and then != "int8":
        raise NbOptUsageError(f"io={io!r} applies to int8 results (QAT or --then int8)")
    specs = input_specs(model)
    training: EvalData | None = eval_data(fit, specs) if fit is not None else None
    if training is not None and training.y.ndim == 0:
        raise NbOptTypeError("fit data: labels must be an array")
    calib_arrays, evaluation, resolved = prepare_data(model, calib, eval, metric)
    name = name or getattr(model, "name", "model")
    work = tfmot_model(model)  # errors (subclassed, unknown layers) before any training
    steps = _steps(len(training), batch_size, epochs) if training is not None else None
    wrapped = wrap(work, technique, steps)

    total = 2 + (then is not None) - (baseline is not None)
    run = Run(
        name,
        total,
        settings=settings,
        evaluation=evaluation,
        metric=resolved,
        sample=evaluation.x if evaluation else calib_arrays,
        listener=listener,
    )
    label = technique.kind
    run.start(f"{label} {name}")
    interrupted = False
    final = None
    try:
        if baseline is not None:
            run.add(dict(baseline), record=False)
        else:
            with export_saved_model(model) as exported:
                run.variant(
                    run.row("float32", "baseline", io="float", converter="tflite-converter"),
                    lambda: convert(exported.path, "float32", isolate=settings.isolate),
                )
        if fine_tune is not None:
            if technique.kind == "prune":
                with_pruning_step(wrapped)
            run.step(label, "running the cell's fine-tuning")
            fine_tune(wrapped)
        else:
            if technique.kind == "prune":
                callbacks = [_pruning_callback()]
            else:
                callbacks = []
            compile_like(wrapped, model, training.y)
            x = training.x[0] if len(training.x) == 1 else training.x
            wrapped.fit(
                x,
                training.y,
                epochs=int(epochs),
                batch_size=int(batch_size),
                verbose=0,
                callbacks=[*callbacks, _epoch_events(run, label, int(epochs))],
            )
        result = strip(wrapped, technique)
        params = technique.params()
        params.update(
            epochs=int(epochs) if fine_tune is None else None,
            fit_samples=len(training) if training is not None else None,
        )
        with export_saved_model(result) as exported:
            if technique.kind == "qat":
                row = run.row("int8", "qat", io=io, **params)
                row["converter"] = "tflite-converter"
                final = run.variant(
                    row,
                    lambda: convert(
                        exported.path, "int8", None, io, aware=True, isolate=settings.isolate
                    ),
                    key="qat",
                )
                _weights_columns(final, row, technique)
            else:
                row = run.row("float32", label, io="float", converter="tflite-converter", **params)
                final = run.variant(
                    row,
                    lambda: convert(exported.path, "float32", isolate=settings.isolate),
                    key=label,
                )
                _weights_columns(final, row, technique)
                if then is not None:
                    then_row = run.row(
                        then, label, io=io if then == "int8" else "float", then=then, **params
                    )
                    if calib_arrays is not None and then in NEEDS_CALIBRATION:
                        then_row["calib_samples"] = len(calib_arrays[0])
                    float_content = final.content if final is not None else None
                    final = run.variant(
                        then_row,
                        lambda: derive(
                            run,
                            then_row,
                            then,
                            exported.path,
                            float_content,
                            calib_arrays,
                            then_row["io"],
                        ),
                        key=f"{label}+{then}",
                    )
                    _weights_columns(final, then_row, technique)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        run.finish(interrupted)
    if final is not None:
        final.keras_model = result
    return Outcome(run.comparison, result, final)


def _pruning_callback() -> Any:
    import tensorflow_model_optimization as tfmot

    return tfmot.sparsity.keras.UpdatePruningStep()


def _weights_columns(model: Any, row: dict[str, Any], technique: Technique) -> None:
    """Sparsity and distinct values actually present in the exported weights."""
    if model is None:
        return
    tensors = weight_tensors(model.content)
    row["sparsity"] = sparsity(tensors)
    if technique.kind == "cluster" or technique.preserve in ("clusters", "both"):
        counts = distinct_values(tensors)
        row["distinct_values"] = counts
        row["max_distinct_values"] = max(counts.values()) if counts else None
    target = row.get("target_sparsity")
    if target is not None and row["sparsity"] < target - 0.05:
        note = (
            f"exported weights are {row['sparsity']:.0%} zeros, short of the "
            f"{target:.0%} target; fine-tune for more steps (more epochs or data)"
        )
        row["note"] = note
        warnings.warn(note, NbOptWarning, stacklevel=3)
