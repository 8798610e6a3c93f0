"""Selective quantization: keep named Keras layers' ops float, quantize everything else.

Every op is mapped to its Keras layer (:func:`~nbopt.engine.analyse.layers.model_ops`).
:class:`Calibrated` calibrates the float32 flatbuffer once with the LiteRT Quantizer and
derives any variant from it in milliseconds: the recipe quantizes every op (``.*``) and
then, per op of a float layer, a recipe entry matching exactly that op's scope (its output
tensor names) says ``no_quantize``; the quantizer puts DEQUANTIZE and QUANTIZE ops around
the float ops. A tensor between two layers stays float only if both its producer and its
consumer do.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import ConversionError, NbOptUsageError
from ..measure.interpreter import first_line
from ..request import Request
from .layers import check_layers, float_op_count, layer_ops, model_ops, parse_layers

#: Schemes whose ops can be kept float one layer at a time, and their activation bits.
ACTIVATION_BITS = {"int8": 8, "int16x8": 16}


def _quiet() -> Any:
    """The quantizer's tqdm bars and its warnings about the calibrator's options, kept out."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    return stack


class Calibrated:
    """A float32 flatbuffer calibrated once, from which every selective variant is derived.

    Parameters
    ----------
    float_content : bytes
        The float32 .tflite (nbopt's export: one signature).
    calib : list of arrays
        Representative samples, one array per model input.
    layers : list of str
        The Keras model's layer names, in order.
    model_name : str, optional
        The Keras model's name (the first component of its tensor names).
    """

    def __init__(
        self,
        float_content: bytes,
        calib: list[np.ndarray],
        layers: list[str],
        model_name: str | None = None,
        threads: int = 1,
        outputs: list[str] | None = None,
    ):
        from litert_quantizer import quantizer

        from ..convert.litert import _recipe, _signature_inputs

        self.float_content = float_content
        self.ops = model_ops(float_content, layers, model_name, outputs)
        #: Each layer's own ops (an op several layers were fused into: its first layer's).
        self.layers = layer_ops(self.ops, layers)
        #: Every layer with a part in some op, and those ops (fused layers included).
        self.members = {
            name: [o for o in self.ops if o.layer == name or name in o.fused] for name in layers
        }
        self.members = {name: ops for name, ops in self.members.items() if ops}
        self._quantizer = quantizer.Quantizer(bytearray(float_content))
        self._quantizer.load_quantization_recipe(_recipe("int8"))
        key, names, fixed = _signature_inputs(float_content)
        batch = fixed or 32
        samples = [
            {name: x[i : i + batch] for name, x in zip(names, calib)}
            for i in range(0, len(calib[0]), batch)
        ]
        try:
            with _quiet():
                self._calibration = self._quantizer.calibrate({key: samples}, num_threads=threads)
        except Exception as exc:
            raise ConversionError(f"LiteRT Quantizer calibration: {first_line(exc)}") from exc

    def variant(
        self,
        float_layers: Iterable[str] = (),
        scheme: str = "int8",
        only: Iterable[str] | None = None,
    ) -> bytes:
        """``scheme`` with ``float_layers``' ops kept float, or with only ``only``'s quantized."""
        from litert_quantizer import qtyping
        from litert_quantizer.algorithm_manager import AlgorithmName
        from litert_quantizer.recipe_manager import RecipeManager

        if scheme not in ACTIVATION_BITS:
            raise NbOptUsageError(
                f"layers can be kept float in {', '.join(ACTIVATION_BITS)} only, not {scheme}"
            )
        bits = ACTIVATION_BITS[scheme]
        every = qtyping.TFLOperationName.ALL_SUPPORTED
        manager = RecipeManager()

        def static(regex: str) -> None:
            manager.add_static_config(regex, every, activation_num_bits=bits, weight_num_bits=8)

        def none(regex: str) -> None:
            manager.add_quantization_config(regex, every, None, AlgorithmName.NO_QUANTIZE)

        base, special = (none, static) if only is not None else (static, none)
        base(".*")
        for name in only if only is not None else float_layers:
            for op in self.members[name]:  # the last matching entry wins
                special("^" + re.escape(op.scope) + "$")
        return self._quantize(manager.get_quantization_recipe())

    def _quantize(self, recipe: Any) -> bytes:
        try:
            with _quiet():
                self._quantizer.load_quantization_recipe(recipe)
                result = self._quantizer.quantize(
                    self._calibration, enable_progress_bar=False, enable_progress_report=False
                )
        except Exception as exc:
            raise ConversionError(f"LiteRT Quantizer: {first_line(exc)}") from exc
        return bytes(result.quantized_model)


@dataclass
class Session:
    """What every selective variant of one model shares: the run, its float32 baseline row
    (measured) and the one calibration."""

    run: Any  # compare.Run
    calibrated: Calibrated
    calib: list[np.ndarray]
    scheme: str

    def add(self, float_layers: list[str], key: str | None = None, **extra: Any) -> Any:
        """Measure ``scheme`` with ``float_layers`` float as a new row; its TFLiteModel or None."""
        row = self.run.row(self.scheme, "ptq", float_layers=",".join(float_layers), **extra)
        row["calib_samples"] = len(self.calib[0])
        row["converter"] = "litert-quantizer"

        def make() -> bytes:
            from ..convert.litert import inline_buffers

            content = inline_buffers(self.calibrated.variant(float_layers, self.scheme))
            row["float_ops"] = float_op_count(content)
            row["io"] = _io_type(content)
            return content

        return self.run.variant(row, make, key or variant_key(self.scheme, float_layers))


def variant_key(scheme: str, float_layers: list[str]) -> str:
    """The name of a selective variant in ``Comparison.models``: ``int8 float=a,b``."""
    return f"{scheme} float={','.join(float_layers)}" if float_layers else scheme


def _io_type(content: bytes) -> str:
    from .compat import op_report

    kind = op_report(content).inputs[0]
    return "float" if kind.startswith("FLOAT") else kind.lower()


def start_session(model: Any, request: Request, scheme: str, total: int = 2) -> Session:
    """Trace ``model``, measure its float32 baseline as the first row and calibrate once.

    ``request`` gives the data, the metric, the name, the settings and the listener.
    """
    from ..convert.converter import check_calibratable, convert, export_saved_model
    from ..model.keras_models import output_names, require_model
    from ..pipeline.checks import prepare_data
    from ..pipeline.run import Run

    settings, calib = request.settings, request.data.calib
    require_model(model)
    if scheme not in ACTIVATION_BITS:
        raise NbOptUsageError(
            f"layers can be kept float in {', '.join(ACTIVATION_BITS)} only, not {scheme}"
        )
    if calib is None:
        raise NbOptUsageError(
            f"{scheme} needs calibration data; pass representative samples, e.g. "
            "--calib x_train[:256]"
        )
    calib_arrays, evaluation, resolved = prepare_data(
        model, calib, request.data.eval, request.data.metric
    )
    run = Run(
        request.name or model.name,
        total,
        settings=settings,
        evaluation=evaluation,
        metric=resolved,
        sample=evaluation.x if evaluation else calib_arrays,
        listener=request.listener,
    )
    run.start(f"tracing {run.comparison.name}")
    with export_saved_model(model) as exported:
        row = run.row("float32", "baseline", io="float", converter="tflite-converter")
        base = run.variant(row, lambda: convert(exported.path, "float32", isolate=settings.isolate))
    if base is None:
        run.finish()
        raise ConversionError(f"{run.comparison.name}: float32 failed: {row['error']}")
    check_calibratable(base.content, scheme)
    layers = [layer.name for layer in model.layers]
    calibrated = Calibrated(
        base.content, calib_arrays, layers, model.name, settings.threads, output_names(model)
    )
    return Session(run, calibrated, calib_arrays, scheme)


def run_selective(model: Any, request: Request, scheme: str) -> Any:
    """The float32 baseline and ``scheme`` with the request's ``float_layers`` kept float.

    Returns the selective variant's :class:`TFLiteModel` (its ``comparison`` holds both
    rows).
    """
    names = parse_layers(request.conversion.float_layers)
    if not names:
        raise NbOptUsageError("float_layers is empty; name the layers to keep in float")
    from ..model.keras_models import require_model

    require_model(model)
    check_layers(names, [layer.name for layer in model.layers])
    session = start_session(model, request, scheme)
    run = session.run
    try:
        check_layers(names, session.calibrated.members)
        variant = session.add(names)
    finally:
        run.finish()
    if variant is None:
        raise ConversionError(f"{run.comparison.name}: {run.comparison.rows[-1]['error']}")
    return variant
