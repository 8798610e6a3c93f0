"""The optimizing entry points: ``quantize``, ``prune`` and ``cluster``.

Each takes the options :mod:`nbopt.engine.request` declares for it (the signature and the
*Parameters* section are derived from there) and hands the engine one request.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..engine.convert.converter import parse_schemes
from ..engine.model.tflite_model import TFLiteModel
from ..engine.pipeline.comparison import Comparison
from ..engine.request import Request
from ..errors import ConversionError, NbOptUsageError
from ..surface import entry_point
from .context import finish, keras_only, source, with_settings

#: What each training technique is called in messages.
TRAINED = {"qat": "quantization-aware training", "prune": "pruning", "cluster": "clustering"}


def _train(model: Any, request: Request) -> TFLiteModel:
    """Run the request's training technique on ``model`` (or the chain it stands for)."""
    from ..engine.training.pipeline import optimize

    keras_model, request = source(model, request)
    keras_only(keras_model, TRAINED[request.technique])
    return finish(optimize(keras_model, request), request)


@entry_point("prune", with_settings)
def prune(model: Any, request: Request) -> TFLiteModel:
    """Magnitude pruning with tfmot: fine-tune a copy of ``model`` toward ``sparsity`` zeros.

    Either ``fit`` (nbopt compiles and fits the wrapped copy) or ``fine_tune`` (a callable
    that trains it; nbopt adds the pruning callback to its ``fit``) trains it. Pruning
    picks a schedule that reaches the target within the steps the fit will run.

    Returns
    -------
    TFLiteModel
        The last variant (the ``then`` one if given). Its row holds ``sparsity``: the
        share of zeros actually present in the exported kernels. ``.keras_model`` is the
        stripped, pruned Keras model; ``.comparison`` holds every row.
    """
    return _train(model, request)


@entry_point("cluster", with_settings)
def cluster(model: Any, request: Request) -> TFLiteModel:
    """Weight clustering with tfmot: every kernel keeps at most ``clusters`` distinct values.

    ``preserve="sparsity"`` keeps the zeros of a pruned model (sparsity-preserving
    clustering). The row holds ``max_distinct_values`` and ``distinct_values`` (per exported
    tensor). A layer with too few (non-zero) weights for ``clusters`` gets as many clusters
    as it can hold, and the row's ``note`` says so.

    Returns
    -------
    TFLiteModel
        The last variant (the ``then`` one if given); ``.keras_model`` is the clustered
        Keras model; ``.comparison`` holds every row.
    """
    return _train(model, request)


@entry_point("quantize", with_settings)
def quantize(model: Any, request: Request) -> TFLiteModel | Comparison:
    """Post-training quantization of a Keras model, measured against its float32 baseline.

    With ``aware=True``: quantization-aware training instead. A copy of the model is
    wrapped with tfmot's fake quantization, fine-tuned on ``fit`` (or by ``fine_tune``),
    converted to int8 and measured; ``preserve`` keeps a pruned or clustered model's
    structure (PQAT, CQAT, PCQAT). tfmot decides which layers it quantizes (it folds
    Conv+BatchNorm); if it refuses some, the error names them and ``skip`` leaves them out.

    With ``float_layers`` or ``max_drop`` the LiteRT Quantizer makes the variants, with int8
    inputs and outputs; every tried variant is a row, the chosen one (returned) has
    ``chosen=True``, and ``save`` writes the float32 baseline and the returned variant.

    ``model`` may be a ``.tflite`` (a path, bytes or a :class:`TFLiteModel` from
    :func:`nbopt.load`): it is measured as it is, and every scheme that can be made from a
    float32 flatbuffer is made by the LiteRT Quantizer.

    Returns
    -------
    TFLiteModel
        when exactly one scheme was asked for (its ``comparison`` holds the baseline too);
    Comparison
        otherwise.
    """
    return run_quantize(model, request)


def run_quantize(model: Any, request: Request) -> TFLiteModel | Comparison:
    """:func:`quantize` with its request built (and its settings filled in)."""
    if request.training.aware:
        scheme = request.conversion.scheme
        if scheme is not None and parse_schemes(scheme) != ["int8"]:
            raise NbOptUsageError("quantization-aware training makes int8 models; drop --scheme")
        return _train(model, replace(request, technique="qat"))
    model, request = source(model, request)
    conv = request.conversion
    if conv.float_layers is not None or conv.max_drop is not None:
        keras_only(model, "keeping layers float (--float, --max-drop)")
        return _selective(model, request)
    from ..engine.pipeline.from_file import run_from_flatbuffer
    from ..engine.pipeline.post_training import requested_schemes, run_post_training

    if isinstance(model, TFLiteModel):
        comparison = run_from_flatbuffer(model, request)
    else:
        comparison = run_post_training(model, request)
    if request.output.save:
        comparison.save(request.output.save, force=request.output.force)
    scheme = conv.scheme
    if not (isinstance(scheme, str) and "," not in scheme):
        return comparison
    chosen = requested_schemes(request)[0]
    if chosen in comparison.models:
        return comparison.models[chosen]
    failed = next(r for r in comparison.rows if r["scheme"] == chosen)
    raise ConversionError(f"{chosen} failed for {comparison.name}: {failed['error']}")


def _selective(model: Any, request: Request) -> TFLiteModel:
    """``quantize`` with ``float_layers`` or ``max_drop`` (see ``engine.analyse.selective``)."""
    from ..engine.analyse import float_search as per_layer
    from ..engine.analyse.selective import run_selective

    conv = request.conversion
    schemes = parse_schemes(conv.scheme if conv.scheme is not None else "int8")
    if len(schemes) != 1 or schemes[0] not in ("int8", "int16x8"):
        raise NbOptUsageError("--float and --max-drop apply to one scheme: int8 or int16x8")
    if conv.float_layers is not None and conv.max_drop is not None:
        raise NbOptUsageError("give --float or --max-drop, not both")
    if conv.io == "uint8":
        raise NbOptUsageError("--float and --max-drop make int8 inputs and outputs; drop --io")
    if conv.max_drop is not None:
        chosen = per_layer.search(model, request, schemes[0])
    else:
        chosen = run_selective(model, request, schemes[0])
    save = request.output.save
    if save:
        folder = save if save.endswith("/") else save + "/"
        chosen.comparison["float32"].save(folder, force=request.output.force)
        chosen.save(folder, force=request.output.force)
    return chosen
