"""Step 4 of a fine-tune: the variants the fine-tuned model is exported as, each measured.

The fine-tuned model's float32 flatbuffer (or QAT's int8), its ``--then`` scheme derived
from it, and with ``--sparse`` each of them stored sparse (the converter's
``EXPERIMENTAL_SPARSITY``). A row each, with the sparsity and distinct values actually
present in the exported weights. A run with a size to beat (optimize's) does not measure a
variant that cannot beat it, and does not convert a stored-sparse one whose least possible
size is over it.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..convert.converter import NEEDS_CALIBRATION, convert, export_saved_model
from ..measure.weights import distinct_values, sparsity, weight_tensors
from ..model.tflite_model import TFLiteModel
from ..pipeline.run import Run
from ..pipeline.variants import derive
from ..store import results
from ..store.memo import by_content
from .plan import Plan
from .technique import NbOptWarning, Technique


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
            final = _stored_sparse(run, plan, exported.path, "float32", params, dense) or final
        if then is None:
            return final
        final = _then(run, plan, exported.path, dense, params) or final
        if request.conversion.sparse:
            final = _stored_sparse(run, plan, exported.path, then, params, dense) or final
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
    run: Run,
    plan: Plan,
    saved_model: str,
    scheme: str,
    params: dict[str, Any],
    dense: TFLiteModel | None,
) -> TFLiteModel | None:
    """``scheme`` of the fine-tuned model with its zeros stored sparse (the converter's
    ``EXPERIMENTAL_SPARSITY``), measured in a row of its own. Not converted where the run
    has a size to beat that its least possible size (from the ``dense`` float32) is over."""
    kind, isolate = plan.technique.kind, plan.request.settings.isolate
    io = plan.request.conversion.io if scheme == "int8" else "float"
    row = run.row(scheme, kind, io=io, converter="tflite-converter", stored_sparse=True, **params)
    calib = plan.calib if scheme in NEEDS_CALIBRATION else None
    if scheme != "float32":
        row["then"] = scheme
    if calib is not None:
        row["calib_samples"] = len(calib[0])
    why = _cannot_win_sparse(run, scheme, dense)
    if why is not None:
        run.skip(row, why)
        return None
    make = lambda: convert(saved_model, scheme, calib, io, isolate=isolate, sparse=True)  # noqa: E731
    label = kind if scheme == "float32" else f"{kind}+{scheme}"
    return _measured(run, row, make, f"{label} sparse", plan)


def _cannot_win_sparse(run: Run, scheme: str, dense: TFLiteModel | None) -> str | None:
    """Why the stored-sparse ``scheme`` cannot beat the run's size to beat, or None."""
    if run.beat is None or run.beat.goal != "size" or dense is None:
        return None
    floor = stored_sparse_floor(dense.content, scheme)
    return None if floor is None else run.beat.why(floor, at_least=True)


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


def stored_sparse_floor(float32: bytes, scheme: str) -> int | None:
    """The least size, in bytes, the converter's ``EXPERIMENTAL_SPARSITY`` can give
    ``scheme`` (float32 or int8) of the model whose dense float32 flatbuffer is ``float32``
    (the converter's own, not stored sparse): that file without its weights' zeros (float32),
    or with its weights' non-zeros as one byte each (int8). A sparse tensor stores its
    non-zero values and their indices besides, and int8 adds quantization parameters, so
    the file is never smaller; None for another scheme."""
    nonzeros, stored = _float_weights(float32)
    if scheme == "float32":
        return len(float32) - stored + nonzeros * 4
    if scheme == "int8":
        return len(float32) - stored + nonzeros
    return None


@by_content(kept=4)
def _float_weights(content: bytes) -> tuple[int, int]:
    """``(non-zero values, bytes)`` of the float32 weight tensors of ``content`` (read once
    for both stored-sparse variants of a fine-tune)."""
    tensors = [t.values for t in weight_tensors(content) if t.values.dtype == np.float32]
    return sum(int(np.count_nonzero(v)) for v in tensors), sum(v.size for v in tensors) * 4
