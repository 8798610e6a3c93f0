"""``recommend``: TFLite's decision tree, and measuring its pick until one meets the budget.

The tree itself is pure logic (:mod:`nbopt.engine.analyse.recommend`); here the pick is
measured (``verify``, or device budgets) with :func:`~nbopt.api.techniques.quantize`.
"""

from __future__ import annotations

from typing import Any

from ..engine.model.tflite_model import TFLiteModel
from ..engine.request import Request
from ..engine.store.schema import check_max_drop, metric_drop
from ..errors import ConversionError, NbOptUsageError
from ..surface import entry_point
from .context import keras_only, source, with_settings
from .techniques import quantize


@entry_point("recommend", with_settings)
def recommend(model: Any, request: Request) -> Any:
    """Which scheme to try first, and why: TFLite's decision tree.

    No data: dynamic range (float16 for a GPU). Representative data (``calib``, or the
    inputs of ``fit``): full integer int8, or int16x8 when activations have outliers
    that int8 resolves poorly. Integer-only accelerators (``edgetpu``, ``dsp``): int8
    with int8 inputs and outputs, then quantization-aware training. Microcontrollers
    (``mcu``): the same, for TFLite Micro, checked against RAM and flash budgets.
    ``verify`` measures the pick and moves down the path while its metric drops more than
    ``max_drop``; after plain int8 the path tries int8 with its most sensitive layers
    float, taken only if at most half of the ops stay float. With ``ram_kb`` or
    ``flash_kb`` the pick is measured (even without ``verify``).

    Returns
    -------
    Recommendation
        ``.scheme``, ``.io``, ``.reasons`` (sentences), ``.path``; after ``verify``
        also ``.trail`` (what was measured) and ``.model`` (the chosen TFLiteModel).
    """
    model, request = source(model, request)
    keras_only(model, "the recommendation")
    rec = _decide(model, request)
    common = {
        "threads": request.measurement.threads,
        "name": request.name,
        "metric": request.data.metric,
    }
    common["progress"] = request.listener
    samples = request.data.calib if request.data.calib is not None else request.data.fit
    if not request.analysis.verify:
        budgets = rec.ram_kb is not None or rec.flash_kb is not None
        if budgets and not rec.needs and rec.scheme != "qat":
            rec.model = _measure(model, rec.choice, samples, request.data.fit, None, common)
            rec.reasons.append(_fit_sentence(rec, rec.choice, rec.model.row or {}))
        return rec
    if rec.needs:
        raise NbOptUsageError(f"cannot verify {rec.scheme} without data: pass {rec.needs}")
    return _verify(rec, model, samples, request, common)


def _decide(model: Any, request: Request) -> Any:
    """The decision, after every mistake in the request is raised."""
    from ..engine.analyse.recommend import activations, decide, sensitive_activations
    from ..engine.data.arrays import calibration_arrays
    from ..engine.model.keras_models import input_specs, require_model
    from ..engine.pipeline.checks import prepare_data

    data, analysis, max_drop = request.data, request.analysis, request.conversion.max_drop
    require_model(model)
    check_max_drop(max_drop)
    if analysis.verify and data.eval is None:
        raise NbOptUsageError("verify needs labelled evaluation data: pass --eval x_test,y_test")
    for label, budget in (("ram_kb", analysis.ram_kb), ("flash_kb", analysis.flash_kb)):
        if budget is not None and (not isinstance(budget, (int, float)) or budget <= 0):
            raise NbOptUsageError(f"{label} must be a positive number of KB; got {budget!r}")
    samples = data.calib if data.calib is not None else data.fit
    sensitive: list[str] = []
    if samples is not None:
        arrays = calibration_arrays(samples, input_specs(model))
        sensitive = sensitive_activations(activations(model, arrays))
    if data.fit is not None:
        prepare_data(model, None, data.fit, None)  # a mistake in fit shows now, not in verify
    rec = decide(
        calib=data.calib is not None,
        fit=data.fit is not None,
        target=analysis.target,
        sensitive=sensitive,
        per_tensor=request.conversion.per_tensor,
    )
    rec.max_drop, rec.ram_kb, rec.flash_kb = float(max_drop), analysis.ram_kb, analysis.flash_kb
    return rec


def _verify(rec: Any, model: Any, samples: Any, request: Request, common: dict) -> Any:
    """Measure each choice on the path until one is within the budget (and fits)."""
    from ..engine.analyse.recommend import with_selective_step

    best = None
    rec.path = with_selective_step(rec.path)
    for i, choice in enumerate(rec.path):
        nxt = rec.path[i + 1].label if i + 1 < len(rec.path) else None
        after = f"; next: {nxt}." if nxt else "."
        try:
            measured = _measure(
                model, choice, samples, request.data.fit, request.data.eval, common, rec.max_drop
            )
        except ConversionError as exc:
            rec.trail.append({"scheme": choice.scheme, "io": choice.io, "error": str(exc)})
            rec.reasons.append(f"Measured: {choice.label} failed ({exc})" + after)
            continue
        ok, fits, drop = _judge(rec, choice, measured)
        if fits and (best is None or (drop is not None and drop < best[2])):
            best = (i, measured, drop if drop is not None else float("inf"))
        row = measured.row or {}
        said = f"Measured: {choice.label} changes {row.get('metric', 'accuracy')} by "
        said += f"{row.get('accuracy_delta'):+.4f}"
        if ok:
            rec.chosen, rec.model = i, measured
            rec.reasons.append(f"{said}, within the {rec.max_drop:.4f} budget.")
            if rec.target == "cpu" and choice.scheme != "qat":
                _offer_int4(rec, model, request.data.eval, common, row)
            return rec
        verdict = f"over the {rec.max_drop:.4f} budget" if fits else "but does not fit the device"
        rec.reasons.append(f"{said}, {verdict}" + after)
    return _fallback(rec, best)


def _judge(rec: Any, choice: Any, measured: TFLiteModel) -> tuple[bool, bool, float | None]:
    """Is ``measured`` within the budget, does it fit the device, and its metric's drop."""
    row = measured.row or {}
    delta = row.get("accuracy_delta")
    drop = metric_drop(row)  # accuracy falls, an error rises
    ok = drop is not None and drop <= rec.max_drop
    fits = True
    if rec.ram_kb is not None or rec.flash_kb is not None or rec.target == "mcu":
        fits = _fits(rec, row)
        rec.reasons.append(_fit_sentence(rec, choice, row))
    ok = ok and fits
    if choice.float_layers:  # only if most of the model stays int8
        ok = ok and _mostly_integer(measured.content)
    rec.trail.append(
        {
            "scheme": choice.scheme,
            "io": choice.io,
            **({"float_layers": row.get("float_layers")} if choice.float_layers else {}),
            "accuracy": row.get("accuracy"),
            "accuracy_delta": delta,
            "within_budget": ok,
            "ram_bytes": row.get("ram_bytes"),
            "size_bytes": row.get("size_bytes"),
            "mcu_ready": row.get("mcu_ready"),
        }
    )
    return ok, fits, drop


def _fallback(rec: Any, best: tuple[int, TFLiteModel, float] | None) -> Any:
    """No choice met the budget: the one that lost least, or why there is none."""
    if best is None and rec.trail and "error" not in rec.trail[-1]:
        rec.reasons.append("No scheme on the path fits the device; try a smaller model.")
        return rec
    if best is None:
        raise ConversionError(f"every scheme on the path failed: {rec.trail[-1]['error']}")
    rec.chosen, rec.model = best[0], best[1]
    rec.reasons.append(f"No scheme met the budget; {rec.choice.label} lost the least accuracy.")
    return rec


def _mostly_integer(content: bytes) -> bool:
    """True if at most half of the compute ops of ``content`` stay float."""
    from ..engine.analyse.compat import op_report

    report = op_report(content)
    compute = report.total_ops - report.ops["QUANTIZE"] - report.ops["DEQUANTIZE"]
    return 2 * sum(report.float_ops.values()) <= compute


def _measure(
    model: Any,
    choice: Any,
    samples: Any,
    fit: Any,
    eval: Any,  # noqa: A002
    common: dict[str, Any],
    max_drop: float | None = None,
) -> TFLiteModel:
    """Measure one step of a recommendation's path (QAT fine-tunes on ``fit``)."""
    if choice.float_layers:  # int8 with its most sensitive layers float
        return quantize(model, "int8", samples, eval, max_drop=max_drop, **common)
    if choice.scheme == "qat":
        return quantize(model, aware=True, fit=fit, io=choice.io, eval=eval, **common)
    return quantize(
        model, choice.scheme, samples, eval, io=choice.io, per_tensor=choice.per_tensor, **common
    )


def _offer_int4(
    rec: Any,
    model: Any,
    eval: Any,  # noqa: A002
    common: dict[str, Any],
    picked: dict[str, Any],
) -> None:
    """On a CPU, measure int4 too and mention it when it keeps the accuracy budget."""
    try:
        int4 = quantize(model, "int4", None, eval, **common)
    except ConversionError:
        return
    row = int4.row or {}
    delta, drop = row.get("accuracy_delta"), metric_drop(row)
    if drop is None or not picked.get("size_bytes") or not row.get("size_bytes"):
        return
    if drop > rec.max_drop:
        return
    rec.alternative = int4
    rec.reasons.append(
        f"int4 (4-bit weights) is within the budget too ({delta:+.4f}) and "
        f"{picked['size_bytes'] / row['size_bytes']:.1f}x smaller than {rec.choice.label}; "
        "its activations stay float, so it runs on LiteRT's CPU kernels (measure its latency: "
        "hybrid kernels can be slower than int8)."
    )


def _fits(rec: Any, row: dict[str, Any]) -> bool:
    from ..engine.analyse.recommend import budget_check

    ok, _ = budget_check(row, rec.ram_kb, rec.flash_kb)
    return ok and (rec.target != "mcu" or row.get("mcu_ready") is True)


def _fit_sentence(rec: Any, choice: Any, row: dict[str, Any]) -> str:
    """One sentence: does the measured ``choice`` fit the device's budgets (and run there)?"""
    from ..engine.analyse.recommend import budget_check

    _, said = budget_check(row, rec.ram_kb, rec.flash_kb)
    sentence = f"Measured: {choice.label} needs " + (
        said or f"{(row.get('ram_bytes') or 0) / 1024:,.1f} KB RAM"
    )
    if rec.target == "mcu" and row.get("mcu_ready") is not True:
        sentence += "; it does not run under TFLite Micro as it is"
    return sentence + "."
