"""The Python API: the same operations as the magics, callable from scripts and tests."""

from __future__ import annotations

from typing import Any

from .engine.convert.converter import SCHEMES, parse_schemes
from .engine.events import Listener
from .engine.measure.latency import MeasureSettings
from .engine.model.tflite_model import TFLiteModel
from .engine.pipeline.comparison import Comparison
from .engine.pipeline.post_training import run_post_training
from .engine.store.schema import check_max_drop


def _settings(threads: int | None) -> MeasureSettings:
    from dataclasses import replace

    from .config import current

    s = current().measure_settings()
    return replace(s, threads=threads) if threads else s


def _source(model: Any) -> tuple[Any, dict[str, Any] | None, str | None]:
    """The Keras model to work on, a float32 baseline row to reuse, and a display name.

    A :class:`TFLiteModel` made by pruning, clustering or QAT stands for its fine-tuned
    Keras model, so techniques chain (prune → cluster → QAT); the chain keeps the original
    model's float32 baseline as its reference.
    """
    if isinstance(model, TFLiteModel):
        if model.keras_model is None:
            from .errors import NbOptTypeError

            raise NbOptTypeError(
                f"{model.name!r} ({model.scheme}) is a .tflite model without a Keras model "
                "behind it; pass the Keras model it came from"
            )
        base = None
        if model.comparison is not None:
            base = next(
                (
                    r
                    for r in model.comparison.rows
                    if r.get("technique") == "baseline" and r.get("status") == "ok"
                ),
                None,
            )
        return model.keras_model, base, model.name
    return model, None, None


def _finish(outcome: Any, save: str | None, force: bool) -> TFLiteModel:
    comparison = outcome.comparison
    if save:
        comparison.save(save, force=force)
    if outcome.final is None:
        from .errors import ConversionError

        failed = [r for r in comparison.rows if r.get("status") == "failed"]
        reason = failed[-1]["error"] if failed else "no variant was produced"
        raise ConversionError(f"{comparison.name}: {reason}")
    return outcome.final


def _train(technique: Any, model: Any, arguments: dict[str, Any]) -> TFLiteModel:
    """Run ``technique`` with the training options among a public call's ``arguments``.

    ``arguments`` is the ``locals()`` of :func:`prune`, :func:`cluster` or :func:`quantize`:
    the keywords they document are :class:`~nbopt.engine.training.TrainOptions` fields
    (plus ``threads``, ``progress``, ``save`` and ``force``), read here once.
    """
    from dataclasses import replace

    from .engine.training import TrainOptions, optimize

    keras_model, baseline, source_name = _source(model)
    options = replace(
        TrainOptions.pick(arguments),
        name=arguments.get("name") or source_name,
        baseline=baseline,
        settings=_settings(arguments.get("threads")),
        listener=arguments.get("progress"),
    )
    outcome = optimize(keras_model, technique, options)
    return _finish(outcome, arguments.get("save"), bool(arguments.get("force")))


def prune(
    model: Any,
    sparsity: float = 0.5,
    fit: Any = None,
    *,
    epochs: int = 2,
    batch_size: int = 32,
    schedule: str = "polynomial",
    structure: str | None = None,
    fine_tune: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    calib: Any = None,
    then: str | None = None,
    io: str = "float",
    threads: int | None = None,
    metric: Any = None,
    name: str | None = None,
    save: str | None = None,
    force: bool = False,
    progress: Listener | None = None,
    skip: list[str] | str | None = None,
) -> TFLiteModel:
    """Magnitude pruning with tfmot: fine-tune a copy of ``model`` toward ``sparsity`` zeros.

    Parameters
    ----------
    sparsity : float in [0, 1)
        The share of weights to zero in every prunable layer.
    fit : (x, y), tf.data.Dataset or generator
        Training data for the fine-tune (or pass ``fine_tune``: a callable that trains the
        wrapped model it receives; nbopt adds the pruning callback to its ``fit``).
    schedule : {"polynomial", "constant"}
        Polynomial ramps sparsity up over the first 70% of the steps the fit will run;
        constant prunes to the target at once. Both prune often enough to reach the target.
    structure : "2:4", optional
        Structured sparsity: two zeros in every block of four weights.
    then : str, optional
        A post-training scheme (``int8``, ``dynamic``, ``float16``) applied to the result.
    skip : str or list of str, optional
        Layers to leave dense (comma-separated names or a list).

    Returns
    -------
    TFLiteModel
        The last variant (the ``then`` one if given). Its row holds ``sparsity``: the
        share of zeros actually present in the exported kernels. ``.keras_model`` is the
        stripped, pruned Keras model; ``.comparison`` holds every row.
    """
    from .engine.training import Technique

    technique = Technique(
        "prune", sparsity=sparsity, schedule=schedule, structure=structure, skip=skip
    )
    return _train(technique, model, locals())


def cluster(
    model: Any,
    clusters: int = 16,
    fit: Any = None,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    init: str = "kmeans++",
    preserve: str | None = None,
    fine_tune: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    calib: Any = None,
    then: str | None = None,
    io: str = "float",
    threads: int | None = None,
    metric: Any = None,
    name: str | None = None,
    save: str | None = None,
    force: bool = False,
    progress: Listener | None = None,
    skip: list[str] | str | None = None,
) -> TFLiteModel:
    """Weight clustering with tfmot: every kernel keeps at most ``clusters`` distinct values.

    ``init`` is ``kmeans++``, ``linear``, ``density`` or ``random``; ``preserve="sparsity"``
    keeps the zeros of a pruned model (sparsity-preserving clustering). The row holds
    ``max_distinct_values`` and ``distinct_values`` (per exported tensor). A layer with too
    few (non-zero) weights for ``clusters`` gets as many clusters as it can hold, and the
    row's ``note`` says so. ``skip`` names layers to leave unclustered. Other parameters as
    :func:`prune`.
    """
    from .engine.training import Technique

    technique = Technique("cluster", clusters=clusters, init=init, preserve=preserve, skip=skip)
    return _train(technique, model, locals())


def quantize(
    model: Any,
    scheme: str | list[str] | None = None,
    calib: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    *,
    io: str = "float",
    threads: int | None = None,
    metric: Any = None,
    name: str | None = None,
    save: str | None = None,
    force: bool = False,
    progress: Listener | None = None,
    aware: bool = False,
    fit: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    fine_tune: Any = None,
    preserve: str | None = None,
    skip: list[str] | str | None = None,
    allow_flex: bool = False,
    per_tensor: bool = False,
    fresh: bool = False,
    float_layers: list[str] | str | None = None,
    max_drop: float | None = None,
) -> TFLiteModel | Comparison:
    """Post-training quantization of a Keras model, measured against its float32 baseline.

    With ``aware=True``: quantization-aware training instead. A copy of the model is
    wrapped with tfmot's fake quantization, fine-tuned on ``fit`` (or by ``fine_tune``, a
    callable that receives the wrapped model), converted to int8 and measured; ``preserve``
    (``sparsity``, ``clusters``, ``both``) keeps a pruned or clustered model's structure
    (PQAT, CQAT, PCQAT). tfmot decides which layers it quantizes (it folds Conv+BatchNorm);
    if it refuses some, the error names them and ``skip`` leaves them out of the training
    (their outputs are still quantized, so the layers after them compute in int8). Returns a
    TFLiteModel.

    Parameters
    ----------
    model : keras.Model
        A tf_keras (Keras 2) or Keras 3 model with defined inputs. It is only read.
    scheme : str or list of str, optional
        ``float16``, ``dynamic``, ``int8``, ``int16x8`` (comma-separated or a list). By
        default these four; those needing calibration are skipped when ``calib`` is missing.
        Below int8, made by the LiteRT Quantizer without data: ``int4`` (4-bit weights per
        channel, dynamic-range activations), ``int4-block32`` / ``int4-block64`` (a scale
        per block of 32/64 weights), ``weight-int8`` / ``weight-int4`` (weight-only: stored
        as integers, dequantized to float at load).
    calib : array, (x, y), tf.data.Dataset or generator, optional
        Representative samples for ``int8`` and ``int16x8`` (100-500 is typical).
    eval : (x, y), tf.data.Dataset or generator, optional
        Labelled data; accuracy (classifiers) or mean squared error is measured on it.
    io : {"float", "int8", "uint8"}
        Input/output type of the int8 variant; integer types make an integer-only model.
    threads : int, optional
        Interpreter threads (default: ``NbOpt.threads``, one per core).
    metric : "accuracy", "mse" or callable(y_true, y_pred), optional
    name : str, optional
        The name shown in tables (default: the model's own name).
    save : str, optional
        A folder to write every variant's ``.tflite`` into.
    force : bool
        Replace existing files when saving.
    progress : callable(Event), optional
        Receives progress events while the comparison runs.
    allow_flex : bool
        Keep ops that TFLite has no kernel for as TensorFlow (Flex) ops
        (``SELECT_TF_OPS``); such variants need the Flex delegate (``needs_flex`` column).
    per_tensor : bool
        int8 weights with one scale per tensor instead of one per channel (what many
        microcontroller and NPU toolchains need).
    fresh : bool
        Convert again even if the same conversion (same architecture, weights, scheme,
        options, calibration data and versions) was made before; by default its stored
        flatbuffer is reused and measured again, and the row says ``cached``.
    float_layers : list of str or "a,b", optional
        Keras layers whose ops stay float (with QUANTIZE/DEQUANTIZE around them) in an
        ``int8`` (or ``int16x8``) model; the row records ``float_layers`` and ``float_ops``.
    max_drop : float, optional
        With ``eval``: keep the fewest, most sensitive layers float (see :func:`debug`) so
        that the metric drops at most this much (0.01: one point). Every tried variant is
        a row; the chosen one (returned) has ``chosen=True``. With ``float_layers`` or
        ``max_drop`` the LiteRT Quantizer makes the variants, with int8 inputs and outputs,
        and ``save`` writes the float32 baseline and the returned variant.

    Returns
    -------
    TFLiteModel
        when exactly one scheme was asked for (its ``comparison`` holds the baseline too);
    Comparison
        otherwise.
    """
    if aware:
        from .engine.training import Technique

        if scheme is not None and parse_schemes(scheme) != ["int8"]:
            from .errors import NbOptUsageError

            raise NbOptUsageError("quantization-aware training makes int8 models; drop --scheme")
        return _train(Technique("qat", preserve=preserve, skip=skip), model, locals())
    model, _, source_name = _source(model)
    name = name or source_name
    if float_layers is not None or max_drop is not None:
        return _selective(
            model,
            scheme,
            calib,
            eval,
            float_layers,
            max_drop,
            io=io,
            metric=metric,
            name=name,
            threads=threads,
            listener=progress,
            save=save,
            force=force,
        )
    single = isinstance(scheme, str) and "," not in scheme
    schemes = parse_schemes(scheme) if scheme is not None else list(SCHEMES)
    comparison = run_post_training(
        model,
        schemes,
        calib=calib,
        eval=eval,
        io=io,
        metric=metric,
        name=name,
        settings=_settings(threads),
        listener=progress,
        skip_uncalibrated=scheme is None,
        allow_flex=allow_flex,
        per_tensor=per_tensor,
        fresh=fresh,
    )
    if save:
        comparison.save(save, force=force)
    if single:
        chosen = schemes[0]
        if chosen in comparison.models:
            return comparison.models[chosen]
        failed = next(r for r in comparison.rows if r["scheme"] == chosen)
        from .errors import ConversionError

        raise ConversionError(f"{chosen} failed for {comparison.name}: {failed['error']}")
    return comparison


def _selective(
    model: Any,
    scheme: Any,
    calib: Any,
    eval: Any,  # noqa: A002
    float_layers: Any,
    max_drop: float | None,
    **options: Any,
) -> TFLiteModel:
    """``quantize`` with ``float_layers`` or ``max_drop`` (see ``engine.analyse.selective``)."""
    from .engine.analyse import float_search as per_layer
    from .engine.analyse.selective import run_selective
    from .errors import NbOptUsageError

    schemes = parse_schemes(scheme if scheme is not None else "int8")
    if len(schemes) != 1 or schemes[0] not in ("int8", "int16x8"):
        raise NbOptUsageError("--float and --max-drop apply to one scheme: int8 or int16x8")
    if float_layers is not None and max_drop is not None:
        raise NbOptUsageError("give --float or --max-drop, not both")
    if options.pop("io") == "uint8":
        raise NbOptUsageError("--float and --max-drop make int8 inputs and outputs; drop --io")
    save, force = options.pop("save"), options.pop("force")
    options.update(scheme=schemes[0], settings=_settings(options.pop("threads")))
    if max_drop is not None:
        chosen = per_layer.search(model, calib, eval, max_drop, **options)
    else:
        chosen = run_selective(model, float_layers, calib, eval, **options)
    if save:
        folder = save if save.endswith("/") else save + "/"
        chosen.comparison["float32"].save(folder, force=force)
        chosen.save(folder, force=force)
    return chosen


def debug(
    model: Any,
    calib: Any,
    eval: Any = None,  # noqa: A002 - the documented name
    scheme: str = "int8",
    *,
    metric: Any = None,
    threshold: float | None = None,
    threads: int | None = None,
    name: str | None = None,
) -> Any:
    """Which layers does int8 hurt? Each Keras layer quantized alone, measured.

    Parameters
    ----------
    model : keras.Model
    calib : array, (x, y), tf.data.Dataset or generator
        Representative samples; calibrated once for every per-layer variant.
    eval : (x, y), optional
        Labelled data: ``sensitivity`` is then the metric's drop with only that layer
        quantized; without it, the output's error against float32 on ``calib``.
    scheme : {"int8", "int16x8"}
    threshold : float, optional
        A layer is ``suspect`` when its sensitivity exceeds this (default: 0.01 of the
        metric with ``eval``, 0.05 relative output error without).

    Returns
    -------
    DebugReport
        ``.df`` (one row per layer, most harmful first: ``sensitivity``,
        ``rmse_over_scale``, ``sqnr_db``, ``range``, ``scale``, ``zero_point``,
        ``max_abs_error``, ``suspect``), ``.suspects``, ``.measure``, ``.rule``,
        ``.advice``; shown as a table and a bar chart.
    """
    from .engine.analyse.sensitivity import analyze

    model, _, source_name = _source(model)
    schemes = parse_schemes(scheme)
    if len(schemes) != 1:
        from .errors import NbOptUsageError

        raise NbOptUsageError("debug analyzes one scheme: int8 or int16x8")
    return analyze(
        model,
        calib,
        eval,
        scheme=schemes[0],
        metric=metric,
        threshold=threshold,
        name=name or source_name,
        settings=_settings(threads),
    )


def recommend(
    model: Any,
    calib: Any = None,
    fit: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    *,
    target: str = "cpu",
    max_drop: float = 0.01,
    verify: bool = False,
    threads: int | None = None,
    name: str | None = None,
    progress: Listener | None = None,
    ram_kb: float | None = None,
    flash_kb: float | None = None,
    per_tensor: bool = False,
) -> Any:
    """Which scheme to try first, and why: TFLite's decision tree.

    No data: dynamic range (float16 for a GPU). Representative data (``calib``, or the
    inputs of ``fit``): full integer int8, or int16x8 when activations have outliers
    that int8 resolves poorly. Integer-only accelerators (``edgetpu``, ``dsp``): int8
    with int8 inputs and outputs, then quantization-aware training. Microcontrollers
    (``mcu``): the same, for TFLite Micro, checked against RAM and flash budgets.

    Parameters
    ----------
    calib : array, (x, y), tf.data.Dataset or generator, optional
        Unlabeled representative samples.
    fit : (x, y), optional
        Labeled training data (makes QAT possible).
    eval : (x, y), optional
        Labeled evaluation data, needed by ``verify``.
    target : {"cpu", "gpu", "edgetpu", "dsp", "mcu"}
    max_drop : float
        The accuracy budget for ``verify``: 0.01 allows one point of accuracy lost.
    verify : bool
        Measure the pick (with :func:`quantize`) and move down the path while its
        accuracy drop exceeds ``max_drop``. After plain int8 the path tries int8 with its
        most sensitive layers float (``quantize(..., max_drop=)``), taken only if at most
        half of the ops stay float.
    ram_kb, flash_kb : float, optional
        A microcontroller's RAM and flash in KB. The pick is measured (even without
        ``verify``) and a variant that does not fit, or does not run under TFLite Micro
        for ``target="mcu"``, is not within budget.
    per_tensor : bool
        ``mcu``: int8 weights with one scale per tensor.

    Returns
    -------
    Recommendation
        ``.scheme``, ``.io``, ``.reasons`` (sentences), ``.path``; after ``verify``
        also ``.trail`` (what was measured) and ``.model`` (the chosen TFLiteModel).
    """
    from .engine.analyse.recommend import (
        activations,
        decide,
        sensitive_activations,
        with_selective_step,
    )
    from .engine.data.arrays import calibration_arrays
    from .engine.model.keras_models import input_specs, require_model
    from .engine.pipeline.checks import prepare_data
    from .errors import ConversionError, NbOptUsageError

    model, _, source_name = _source(model)
    require_model(model)
    check_max_drop(max_drop)
    if verify and eval is None:
        raise NbOptUsageError("verify needs labelled evaluation data: pass --eval x_test,y_test")
    for label, budget in (("ram_kb", ram_kb), ("flash_kb", flash_kb)):
        if budget is not None and (not isinstance(budget, (int, float)) or budget <= 0):
            raise NbOptUsageError(f"{label} must be a positive number of KB; got {budget!r}")
    samples = calib if calib is not None else fit
    sensitive: list[str] = []
    if samples is not None:
        arrays = calibration_arrays(samples, input_specs(model))
        sensitive = sensitive_activations(activations(model, arrays))
    if fit is not None:
        prepare_data(model, None, fit, None)  # a mistake in fit shows now, not in verify
    rec = decide(
        calib=calib is not None,
        fit=fit is not None,
        target=target,
        sensitive=sensitive,
        per_tensor=per_tensor,
    )
    rec.max_drop, rec.ram_kb, rec.flash_kb = float(max_drop), ram_kb, flash_kb
    budgets = ram_kb is not None or flash_kb is not None
    common = {"threads": threads, "name": name or source_name, "progress": progress}
    if not verify:
        if budgets and not rec.needs and rec.scheme != "qat":
            rec.model = _measure_choice(model, rec.choice, samples, fit, None, common)
            rec.reasons.append(_fit_sentence(rec, rec.choice, rec.model.row or {}))
        return rec
    if rec.needs:
        raise NbOptUsageError(f"cannot verify {rec.scheme} without data: pass {rec.needs}")
    best = None
    rec.path = with_selective_step(rec.path)
    for i, choice in enumerate(rec.path):
        nxt = rec.path[i + 1].label if i + 1 < len(rec.path) else None
        try:
            measured = _measure_choice(model, choice, samples, fit, eval, common, max_drop)
        except ConversionError as exc:
            rec.trail.append({"scheme": choice.scheme, "io": choice.io, "error": str(exc)})
            rec.reasons.append(
                f"Measured: {choice.label} failed ({exc})" + (f"; next: {nxt}." if nxt else ".")
            )
            continue
        row = measured.row or {}
        delta = row.get("accuracy_delta")
        drop = None
        if delta is not None:  # accuracy falls, mean squared error rises
            drop = float(delta) if row.get("metric") == "mse" else -float(delta)
        ok = drop is not None and drop <= max_drop
        fits = True
        if budgets or target == "mcu":
            fits = _fits(rec, row)
            rec.reasons.append(_fit_sentence(rec, choice, row))
        ok = ok and fits
        if choice.float_layers:  # only if most of the model stays int8
            ok = ok and _mostly_integer(measured.content)
        step = {
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
        rec.trail.append(step)
        if fits and (best is None or (drop is not None and drop < best[2])):
            best = (i, measured, drop if drop is not None else float("inf"))
        if ok:
            rec.chosen, rec.model = i, measured
            rec.reasons.append(
                f"Measured: {choice.label} changes {row.get('metric', 'accuracy')} by "
                f"{delta:+.4f}, within the {max_drop:.4f} budget."
            )
            if target == "cpu" and choice.scheme != "qat":
                _offer_int4(rec, model, eval, common, row)
            return rec
        verdict = f"over the {max_drop:.4f} budget" if fits else "but does not fit the device"
        rec.reasons.append(
            f"Measured: {choice.label} changes {row.get('metric', 'accuracy')} by "
            f"{delta:+.4f}, {verdict}" + (f"; next: {nxt}." if nxt else ".")
        )
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
    from .engine.analyse.compat import op_report

    report = op_report(content)
    compute = report.total_ops - report.ops["QUANTIZE"] - report.ops["DEQUANTIZE"]
    return 2 * sum(report.float_ops.values()) <= compute


def _measure_choice(
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
        model,
        choice.scheme,
        samples,
        eval,
        io=choice.io,
        per_tensor=choice.per_tensor,
        **common,
    )


def _offer_int4(
    rec: Any,
    model: Any,
    eval: Any,  # noqa: A002
    common: dict[str, Any],
    picked: dict[str, Any],
) -> None:
    """On a CPU, measure int4 too and mention it when it keeps the accuracy budget."""
    from .errors import ConversionError

    try:
        int4 = quantize(model, "int4", None, eval, **common)
    except ConversionError:
        return
    row = int4.row or {}
    delta = row.get("accuracy_delta")
    if delta is None or not picked.get("size_bytes") or not row.get("size_bytes"):
        return
    drop = float(delta) if row.get("metric") == "mse" else -float(delta)
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
    from .engine.analyse.recommend import budget_check

    ok, _ = budget_check(row, rec.ram_kb, rec.flash_kb)
    return ok and (rec.target != "mcu" or row.get("mcu_ready") is True)


def _fit_sentence(rec: Any, choice: Any, row: dict[str, Any]) -> str:
    """One sentence: does the measured ``choice`` fit the device's budgets (and run there)?"""
    from .engine.analyse.recommend import budget_check

    _, said = budget_check(row, rec.ram_kb, rec.flash_kb)
    sentence = f"Measured: {choice.label} needs " + (
        said or f"{(row.get('ram_bytes') or 0) / 1024:,.1f} KB RAM"
    )
    if rec.target == "mcu" and row.get("mcu_ready") is not True:
        sentence += "; it does not run under TFLite Micro as it is"
    return sentence + "."


def inspect(model: Any, name: str | None = None) -> Any:
    """The op breakdown of a variant: op types and counts, tensor types, ops that stay float.

    Parameters
    ----------
    model : TFLiteModel, Keras model, bytes or str
        A measured variant, a Keras model (converted to float32 first), a flatbuffer's
        bytes, or the path of a ``.tflite`` file.

    Returns
    -------
    Inspection
        ``.report`` (counts), ``.ops`` (a DataFrame), ``.compat`` (``gpu_compatible``,
        ``edgetpu_ready``, ``compat_notes``); shown as a table.
    """
    import os

    from .engine.analyse.compat import inspect_content
    from .errors import NbOptTypeError, NbOptUsageError

    if isinstance(model, TFLiteModel):
        found = inspect_content(model.content, name or model.name, model.scheme)
        found.float_layers = (model.row or {}).get("float_layers") or None
        return found
    if isinstance(model, (bytes, bytearray)):
        return inspect_content(bytes(model), name or "model", "?")
    if isinstance(model, (str, os.PathLike)):
        if not os.path.isfile(model):
            raise NbOptUsageError(f"no .tflite file at {str(model)!r}")
        with open(model, "rb") as fh:
            content = fh.read()
        return inspect_content(content, name or os.path.basename(str(model)), "file")
    from .engine.model.keras_models import keras_flavor

    if keras_flavor(model) is None:
        raise NbOptTypeError(
            f"cannot inspect a {type(model).__name__}; pass a TFLiteModel, a Keras model, "
            "bytes or a .tflite path"
        )
    variant = quantize(model, "float32", name=name)
    return inspect_content(variant.content, variant.name, "float32")


def sweep(
    models: Any,
    grid: dict[str, Any] | None = None,
    fit: Any = None,
    calib: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    client: Any = None,
    *,
    scheduler: str | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    io: str = "float",
    metric: Any = None,
    fine_tune: Any = None,
    names: list[str] | None = None,
    resume: bool = False,
    threads: int | None = None,
    progress: Listener | None = None,
) -> Comparison:
    """Many configurations of one or more models, each a Dask task; rows stream in.

    Parameters
    ----------
    models : keras.Model, list or dict of name -> model
    grid : dict
        Axes whose product is swept: ``prune`` (sparsities), ``cluster`` (cluster counts;
        after pruning they preserve the zeros), ``then`` (the scheme after training;
        ``"none"`` keeps float32), or ``scheme`` (post-training schemes). Values are lists
        or comma-separated strings.
    fit, calib, eval :
        Arrays, as for :func:`prune` and :func:`quantize`; scattered to the workers once.
    client : distributed.Client, optional
        The cluster to use. Else ``scheduler`` (an address, default ``NbOpt.scheduler``),
        else a LocalCluster of one single-threaded process worker per core, started on
        first use and reused.
    resume : bool
        Skip configurations whose ``config_key`` the results already hold.

    Returns
    -------
    Comparison
        Every row (one per configuration and a float32 baseline per model), with
        ``worker``, ``host`` and ``config_key``; ``models`` maps each configuration's
        label to its TFLiteModel.
    """
    from .config import current
    from .sweeps import run_sweep

    return run_sweep(
        models,
        dict(grid or {}),
        fit=fit,
        calib=calib,
        eval=eval,
        client=client,
        scheduler=scheduler or current().scheduler or None,
        epochs=epochs,
        batch_size=batch_size,
        io=io,
        metric=metric,
        fine_tune=fine_tune,
        names=names,
        resume=resume,
        settings=_settings(threads),
        listener=progress,
    )


def results(
    all: bool = False,  # noqa: A002 - the documented name
    model: str | None = None,
    run: str | None = None,
) -> Any:
    """Every row measured in this kernel (or process), as a DataFrame.

    Parameters
    ----------
    all : bool
        Every row in the results store (``NbOpt.store``), from every kernel and session.
    model, run : str, optional
        Only the rows of this model name, or of this ``run_id``.
    """
    from .engine.store import results as store

    return store.frame(store.rows(all=all, model=model, run=run))


def log() -> str:
    """What TensorFlow, the converter and the quantizer printed during the last run.

    nbopt keeps that output out of the notebook's cells; a failed row's ``error`` quotes
    the relevant lines, and this returns all of it (``%nbopt log`` prints it).
    """
    from .engine.capture import log as captured

    return captured()
