"""One path for every training technique: validate, baseline, fine-tune, export and measure."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from ...errors import NbOptError, NbOptTypeError, NbOptUsageError
from ..convert.converter import convert, export_saved_model
from ..data.labels import fit_data
from ..data.specs import EvalData
from ..measure.interpreter import first_line
from ..model.keras_models import import_tfmot, input_specs, output_specs
from ..model.tflite_model import TFLiteModel
from ..pipeline.checks import prepare_data
from ..pipeline.comparison import Comparison
from ..pipeline.run import Run
from ..request import Request
from . import finetune
from .checks import check_training
from .exports import export_and_measure
from .plan import Plan
from .technique import NbOptWarning, Technique
from .tfmot_wrap import cluster_wrap, prune_wrap, quantize_wrap, require_graph_model, tfmot_model


@dataclass
class Outcome:
    """What a training-time technique produced."""

    comparison: Comparison
    keras_model: Any
    final: TFLiteModel | None  # the last variant, or None if it failed


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
