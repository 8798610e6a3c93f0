"""One path for every training technique: validate, baseline, fine-tune, export and measure."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from ...errors import NbOptError, NbOptTypeError, NbOptUsageError
from ..convert.converter import NEEDS_CALIBRATION, convert, export_saved_model
from ..data.labels import fit_data
from ..data.specs import EvalData
from ..measure.interpreter import first_line
from ..measure.weights import distinct_values, sparsity, weight_tensors
from ..model.keras_models import import_tfmot, input_specs, output_specs
from ..model.tflite_model import TFLiteModel
from ..pipeline.checks import prepare_data
from ..pipeline.comparison import Comparison
from ..pipeline.run import Run
from ..pipeline.variants import derive
from ..request import Request
from ..store import results
from . import finetune
from .checks import check_training
from .technique import NbOptWarning, Technique
from .tfmot_wrap import cluster_wrap, prune_wrap, quantize_wrap, require_graph_model, tfmot_model


@dataclass
class Outcome:
    """What a training-time technique produced."""

    comparison: Comparison
    keras_model: Any
    final: TFLiteModel | None  # the last variant, or None if it failed


@dataclass
class Plan:
    """A technique checked and ready: its data, and the tfmot-wrapped copy to fine-tune."""

    model: Any
    technique: Technique
    request: Request
    training: EvalData | None
    calib: list[Any] | None
    evaluation: EvalData | None
    metric: tuple[str, Any] | None
    wrapped: Any
    notes: list[str] = field(default_factory=list)
    pruned_share: float = 1.0  # of the kernel weights, in layers not skipped

    @property
    def name(self) -> str:
        return self.request.name or getattr(self.model, "name", "model")

    def run(self) -> Run:
        then = self.request.training.then is not None
        sparse = self.request.conversion.sparse  # a twin of each (QAT refuses it)
        total = 2 + then + sparse * (1 + then) - (self.request.data.baseline is not None)
        return Run(
            self.name,
            total,
            settings=self.request.settings,
            evaluation=self.evaluation,
            metric=self.metric,
            sample=self.evaluation.x if self.evaluation else self.calib,
            listener=self.request.listener,
        )


def validate(model: Any, request: Request) -> Plan:
    """Step 1: every mistake raised, data read, and the copy wrapped, before any training."""
    technique = Technique.of(request)
    technique.validate()
    require_graph_model(model)
    check_training(request, technique)
    training = (
        fit_data(request.data.fit, input_specs(model), output_specs(model))
        if request.data.fit is not None
        else None
    )
    if training is not None and training.y.ndim == 0:
        raise NbOptTypeError("fit data: labels must be an array")
    calib, evaluation, metric = prepare_data(
        model, request.data.calib, request.data.eval, request.data.metric
    )
    work = tfmot_model(model)  # errors (subclassed, unknown layers) before any training
    technique.check_skip(work)
    start = request.training.start_from
    if start is not None and not isinstance(start, list):  # the wrapped copy itself, trained on
        wrapped, notes = start, []
    else:
        wrapped, notes = wrap(work, technique, request, training)
    if isinstance(start, list):
        _start_from(wrapped, start)
    plan = Plan(model, technique, request, training, calib, evaluation, metric, wrapped, notes)
    plan.pruned_share = _kernel_share(work, technique.skip)
    return plan


def _start_from(wrapped: Any, weights: list[Any]) -> None:
    """Set the wrapped copy's weights to ``weights`` (saved from the same wrapping)."""
    mine = wrapped.get_weights()
    if len(mine) != len(weights) or any(a.shape != b.shape for a, b in zip(mine, weights)):
        raise NbOptUsageError(
            f"cannot continue fine-tuning {wrapped.name!r}: the saved weights are of another "
            "wrapping of the model"
        )
    wrapped.set_weights(weights)


def _kernel_share(model: Any, skip: list[str]) -> float:
    """The share of ``model``'s kernel weights (rank 2 or more) outside the ``skip`` layers."""
    sizes = {
        layer.name: sum(int(w.shape.num_elements()) for w in layer.weights if w.shape.rank >= 2)
        for layer in model.layers
    }
    total = sum(sizes.values())
    return 1 - sum(sizes.get(name, 0) for name in skip) / total if total else 1.0


def wrap(
    work: Any, technique: Technique, request: Request, training: EvalData | None
) -> tuple[Any, list[str]]:
    """``work`` (a tf_keras copy) wrapped by tfmot, and notes on what differs from the ask.

    An error of tfmot or TensorFlow while wrapping becomes one :class:`NbOptUsageError` line
    (the original stays on ``__cause__``).
    """

    try:
        return _wrap(work, technique, request, training)
    except NbOptError:
        raise
    except Exception as exc:  # noqa: BLE001 - tfmot's rewriting raises any Python error
        raise NbOptUsageError(
            f"tfmot cannot apply {technique.kind} to model {work.name!r}: {first_line(exc)}; "
            "pass --skip LAYER to leave out the layer it names"
        ) from exc


def _wrap(
    work: Any, technique: Technique, request: Request, training: EvalData | None
) -> tuple[Any, list[str]]:
    if technique.kind == "qat":
        notes = [
            f"layer {layer.name!r} (Lambda) is not quantization-aware (tfmot cannot see "
            "inside a Lambda); only its output is quantized"
            for layer in work.layers
            if type(layer).__name__ == "Lambda" and layer.name not in technique.skip
        ]
        wrapped, left_float = quantize_wrap(work, technique)
        return wrapped, notes + left_float
    if technique.kind == "prune":
        steps = None
        if training is not None:
            steps = finetune.training_steps(
                len(training), request.training.batch_size, request.training.epochs
            )
        schedule = finetune.pruning_schedule(float(technique.sparsity), technique.schedule, steps)
        return prune_wrap(work, technique, schedule), []
    wrapped, lowered = cluster_wrap(work, technique)
    notes = [
        f"layer {name!r} has too few {'non-zero ' if technique.preserve else ''}weights for "
        f"{technique.clusters} clusters: clustered into {k}"
        for name, k in lowered.items()
    ]
    return wrapped, notes


def measure_baseline(run: Run, plan: Plan) -> None:
    """Step 2: the float32 row of the original model (or the chain's earlier one)."""
    if plan.request.data.baseline is not None:
        run.add(dict(plan.request.data.baseline), record=False)
        return
    with export_saved_model(plan.model) as exported:
        run.variant(
            run.row("float32", "baseline", io="float", converter="tflite-converter"),
            lambda: convert(exported.path, "float32", isolate=plan.request.settings.isolate),
        )


def fine_tune(run: Run, plan: Plan) -> Any:
    """Step 3: train the wrapped copy (nbopt's fit or the user's cell); returns it stripped."""
    kind, request = plan.technique.kind, plan.request
    if request.training.fine_tune is not None:
        if kind == "prune":
            finetune.with_pruning_step(plan.wrapped)
        run.step(kind, "running the cell's fine-tuning")
        request.training.fine_tune(plan.wrapped)
    else:
        try:
            finetune.fit(
                plan.wrapped,
                plan.model,
                plan.training,
                kind=kind,
                epochs=request.training.epochs,
                batch_size=request.training.batch_size,
                on_epoch=lambda e: run.step(
                    kind, f"fine-tuning, epoch {e}/{request.training.epochs}"
                ),
                on_batch=run.yield_point,
            )
        except NbOptUsageError as exc:  # the failure is a row too, as conversions are
            row = run.row("int8" if kind == "qat" else "float32", kind, **plan.technique.params())
            row.update(status="failed", error=str(exc))
            run.add(row)
            raise
    return strip(plan.wrapped, kind)


def strip(wrapped: Any, kind: str) -> Any:
    """The model without tfmot's training wrappers (QAT keeps its fake quantization)."""
    tfmot = import_tfmot()

    if kind == "prune":
        return tfmot.sparsity.keras.strip_pruning(wrapped)
    if kind == "cluster":
        return tfmot.clustering.keras.strip_clustering(wrapped)
    return wrapped


def export_and_measure(run: Run, plan: Plan, result: Any) -> TFLiteModel | None:
    """Step 4: convert the fine-tuned model (and its ``--then`` scheme) and measure each;
    with ``--sparse``, each also stored sparse, in a row after its dense one."""
    technique, request = plan.technique, plan.request
    isolate = request.settings.isolate
    params = technique.params()
    params.update(
        epochs=int(request.training.epochs) if request.training.fine_tune is None else None,
        fit_samples=len(plan.training) if plan.training is not None else None,
    )
    if plan.notes:
        params["note"] = "; ".join(plan.notes)
    with export_saved_model(result) as exported:
        if technique.kind == "qat":
            row = run.row(
                "int8", "qat", io=request.conversion.io, converter="tflite-converter", **params
            )
            io = request.conversion.io
            calib = _io_samples(plan) if io != "float" else None
            make = lambda: convert(exported.path, "int8", calib, io, True, isolate)  # noqa: E731
            return _measured(run, row, make, "qat", plan)
        kind, then = technique.kind, request.training.then
        row = run.row("float32", kind, io="float", converter="tflite-converter", **params)
        make = lambda: convert(exported.path, "float32", isolate=isolate)  # noqa: E731
        dense = final = _measured(run, row, make, kind, plan)
        if request.conversion.sparse:
            final = _stored_sparse(run, plan, exported.path, "float32", params)
        if then is None:
            return final
        final = _then(run, plan, exported.path, dense, params)
        if request.conversion.sparse:
            final = _stored_sparse(run, plan, exported.path, then, params)
        return final


def _io_samples(plan: Plan) -> list[Any] | None:
    """Samples for the input and output scales of a QAT model with integer I/O (which the
    converter takes from a representative dataset): ``calib``, else 256 of ``fit``."""
    if plan.calib is not None:
        return plan.calib
    if plan.training is None:
        return None
    return [x[:256] for x in plan.training.x]


def _stored_sparse(
    run: Run, plan: Plan, saved_model: str, scheme: str, params: dict[str, Any]
) -> TFLiteModel | None:
    """``scheme`` of the fine-tuned model with its zeros stored sparse (the converter's
    ``EXPERIMENTAL_SPARSITY``), measured in a row of its own."""
    kind, isolate = plan.technique.kind, plan.request.settings.isolate
    io = plan.request.conversion.io if scheme == "int8" else "float"
    row = run.row(scheme, kind, io=io, converter="tflite-converter", stored_sparse=True, **params)
    calib = plan.calib if scheme in NEEDS_CALIBRATION else None
    if scheme != "float32":
        row["then"] = scheme
    if calib is not None:
        row["calib_samples"] = len(calib[0])
    make = lambda: convert(saved_model, scheme, calib, io, isolate=isolate, sparse=True)  # noqa: E731
    label = kind if scheme == "float32" else f"{kind}+{scheme}"
    return _measured(run, row, make, f"{label} sparse", plan)


def _then(
    run: Run, plan: Plan, saved_model: str, final: TFLiteModel | None, params: dict[str, Any]
) -> TFLiteModel | None:
    """The ``--then`` scheme of the fine-tuned model, from its float32 flatbuffer if it can."""
    kind, then, io = plan.technique.kind, plan.request.training.then, plan.request.conversion.io
    row = run.row(then, kind, io=io if then == "int8" else "float", **params)
    row["then"] = then
    if plan.calib is not None and then in NEEDS_CALIBRATION:
        row["calib_samples"] = len(plan.calib[0])
    content = final.content if final is not None else None
    return _measured(
        run,
        row,
        lambda: derive(run, row, then, saved_model, content, plan.calib, row["io"]),
        f"{kind}+{then}",
        plan,
    )


def _measured(run: Run, row: dict[str, Any], make: Any, key: str, plan: Plan) -> TFLiteModel | None:
    variant = run.variant(row, make, key=key)
    weights_columns(variant, row, plan.technique, plan.pruned_share)
    results.update(row)  # recorded as it was measured: the store gets the weights' columns
    return variant


def weights_columns(
    model: TFLiteModel | None,
    row: dict[str, Any],
    technique: Technique,
    pruned_share: float = 1.0,
) -> None:
    """Sparsity and distinct values actually present in the exported weights.

    ``pruned_share``: the share of kernel weights in layers that were pruned (not skipped).
    """
    if model is None:
        return
    tensors = weight_tensors(model.content)
    if technique.kind == "prune" or technique.preserve in ("sparsity", "both"):
        row["sparsity"] = sparsity(tensors)  # only where the technique sets zeros
    if technique.kind == "cluster" or technique.preserve in ("clusters", "both"):
        counts = distinct_values(tensors)
        row["distinct_values"] = counts
        row["max_distinct_values"] = max(counts.values()) if counts else None
    target = row.get("target_sparsity")
    if target is not None and row.get("sparsity", 0.0) < target * pruned_share - 0.05:
        goal = f"{target:.0%} target"
        if pruned_share < 1:
            goal = f"{target * pruned_share:.0%} that {goal} on the pruned layers makes"
        note = (
            f"exported weights are {row['sparsity']:.0%} zeros, short of the {goal}; "
            "fine-tune for more steps (more epochs or data)"
        )
        row["note"] = "; ".join(n for n in (row.get("note"), note) if n)
        warnings.warn(note, NbOptWarning, stacklevel=4)


def rebuild(model: Any, request: Request) -> Any:
    """The fine-tuned Keras model that ``request.training.start_from`` (weights kept from a
    fine-tune of the same request) stands for, without training or measuring."""
    plan = validate(model, request)
    return strip(plan.wrapped, plan.technique.kind)


def optimize(model: Any, request: Request) -> Outcome:
    """Apply ``request``'s technique to a copy of ``model``, fine-tune, export and measure.

    Every technique takes the same four steps: :func:`validate`, :func:`measure_baseline`,
    :func:`fine_tune`, :func:`export_and_measure`.
    """
    plan = validate(model, request)
    technique = plan.technique
    for note in plan.notes:
        warnings.warn(note, NbOptWarning, stacklevel=2)
    run = plan.run()
    run.start(f"{technique.kind} {plan.name}")
    interrupted = False
    final = result = None
    try:
        measure_baseline(run, plan)
        result = fine_tune(run, plan)
        final = export_and_measure(run, plan, result)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        run.finish(interrupted)
    if final is not None:
        final.keras_model = result
        if request.training.keep_weights:
            final.trained_weights = plan.wrapped.get_weights()
            final.trained_wrapped = plan.wrapped
    return Outcome(run.comparison, result, final)
