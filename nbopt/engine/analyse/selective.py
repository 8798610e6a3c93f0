"""Selective quantization: keep named Keras layers' ops float, quantize everything else.

The TFLite converter names each op's output tensor after the Keras layer that made it
(``digits_cnn/dense/MatMul;digits_cnn/dense/BiasAdd``): :func:`model_ops` reads those names
from the float32 flatbuffer and maps every op to its layer (an op whose name says no layer,
such as the ``StatefulPartitionedCall:0`` softmax at the output, belongs to the layer of
the op that feeds it). :class:`Calibrated` calibrates the float32 flatbuffer once with the
LiteRT Quantizer and derives any variant from it in milliseconds: the recipe quantizes
every op (``.*``) and then, per op of a float layer, a recipe entry matching exactly that
op's scope (its output tensor names) says ``no_quantize``; the quantizer puts DEQUANTIZE and
QUANTIZE ops around the float ops. A tensor between two layers stays float only if both its
producer and its consumer do.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ConversionError, NbOptUsageError
from ..measure.interpreter import first_line

#: Schemes whose ops can be kept float one layer at a time, and their activation bits.
ACTIVATION_BITS = {"int8": 8, "int16x8": 16}


@dataclass
class OpInfo:
    """One operator of a flatbuffer: its position, type, scope and Keras layer."""

    index: int
    op: str
    scope: str
    layer: str | None
    inputs: list[int]
    outputs: list[int]
    #: Other layers fused into this op (a BatchNormalization or ReLU folded into a conv).
    fused: list[str] = field(default_factory=list)


def _op_names(model: Any) -> list[str]:
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if isinstance(v, int)}
    return [
        names.get(max(int(c.builtinCode or 0), int(c.deprecatedBuiltinCode or 0)), "?")
        for c in model.operatorCodes
    ]


def _renamed_scopes(scopes: list[str], layers: list[str], model_name: str | None) -> dict:
    """``{scope: layer}`` for scopes TensorFlow renamed to keep them unique.

    Keras 3 calls the model twice in one traced graph, so its scopes come out as
    ``digits_cnn_1/conv2d_1`` (layer ``conv2d``) and ``digits_cnn_1/conv2d_1_2`` (layer
    ``conv2d_1``): each is matched to the first unclaimed layer, in the model's order, whose
    name it is with at most one ``_N`` suffix.
    """
    if not model_name:
        return {}
    renamed = re.compile(re.escape(model_name) + r"_\d+")
    seen: list[str] = []
    for scope in scopes:
        for name in scope.split(";"):
            parts = name.split("/")
            if len(parts) > 2 and renamed.fullmatch(parts[0]) and parts[1] not in seen:
                seen.append(parts[1])
    found, free = {}, list(layers)
    for part in seen:
        for layer in free:
            if part == layer or re.fullmatch(re.escape(layer) + r"_\d+", part):
                found[part] = layer
                free.remove(layer)
                break
    return found


def _layers_of(scope: str, layers: list[str], model_name: str | None, renamed: dict) -> list:
    """The layers named by ``scope``'s tensor names, in the model's order."""
    found = set()
    for name in scope.split(";"):
        parts = name.split("/")
        if len(parts) > 2 and parts[1] in renamed:
            found.add(renamed[parts[1]])
            continue
        if len(parts) > 1 and parts[0] == model_name:
            parts = parts[1:]
        found.update(next(([p] for p in parts[:-1] if p in layers), []))
    return [layer for layer in layers if layer in found]


def _signature_outputs(model: Any, outputs: list[str] | None) -> dict[int, str]:
    """``{tensor index: layer}`` of the signature's outputs ``out0, out1, ...``."""
    if not outputs or not model.signatureDefs:
        return {}
    found = {}
    for entry in model.signatureDefs[0].outputs or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else str(entry.name)
        if name.startswith("out") and name[3:].isdigit() and int(name[3:]) < len(outputs):
            found[int(entry.tensorIndex)] = outputs[int(name[3:])]
    return found


def model_ops(
    content: bytes,
    layers: Iterable[str],
    model_name: str | None = None,
    outputs: list[str] | None = None,
) -> list[OpInfo]:
    """Every op of the main subgraph of ``content``, with the Keras layer it belongs to.

    An op is named after the layers in its output tensors' names; one that names none takes
    the layer of the model output it makes (``outputs``: the layers making ``out0``,
    ``out1``, ...), else that of the op feeding it. An op several layers were fused into
    belongs to the first of them in the model's order (the others are ``fused``).
    """
    from litert_quantizer.utils import tfl_flatbuffer_utils as fu

    model = fu.read_model(bytearray(content))
    graph = model.subgraphs[0]
    codes = _op_names(model)
    layers = list(layers)
    scopes = [fu.get_op_scope(op, graph.tensors) for op in graph.operators]
    renamed = _renamed_scopes(scopes, layers, model_name)
    made = {t: name for t, name in _signature_outputs(model, outputs).items() if name in layers}
    ops = []
    producer: dict[int, OpInfo] = {}
    for i, (op, scope) in enumerate(zip(graph.operators, scopes)):
        named = _layers_of(scope, layers, model_name, renamed)
        info = OpInfo(
            i,
            codes[op.opcodeIndex],
            scope,
            named[0] if named else None,
            [int(t) for t in op.inputs if t >= 0],
            [int(t) for t in op.outputs if t >= 0],
            named[1:],
        )
        if info.layer is None:
            out = [made[t] for t in info.outputs if t in made]
            fed = [producer[t] for t in info.inputs if t in producer]
            info.layer = out[0] if out else (fed[0].layer if fed else None)
        for t in info.outputs:
            producer[t] = info
        ops.append(info)
    return ops


def layer_ops(ops: list[OpInfo], order: Iterable[str]) -> dict[str, list[OpInfo]]:
    """``{layer: its ops}`` in the order of ``order``; layers without ops are left out."""
    out: dict[str, list[OpInfo]] = {}
    for name in order:
        mine = [o for o in ops if o.layer == name]
        if mine:
            out[name] = mine
    return out


def parse_layers(names: str | Iterable[str] | None) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` → ``["a", "b"]`` (empty names dropped, order kept)."""
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else list(names)
    return list(dict.fromkeys(str(n).strip() for n in items if str(n).strip()))


def check_layers(names: list[str], known: Iterable[str]) -> None:
    """Raise one error naming every unknown layer and its close matches."""
    known = list(known)
    unknown = [n for n in names if n not in known]
    if not unknown:
        return
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        parts.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    raise NbOptUsageError(
        f"no layer {', '.join(parts)} with TFLite ops in this model; its layers are "
        f"{', '.join(known)}"
    )


def float_op_count(content: bytes) -> int:
    """How many compute ops of ``content`` read or write float tensors (stay float)."""
    from .compat import op_report

    return sum(op_report(content).float_ops.values())


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


def tensor_types(content: bytes) -> dict[str, str]:
    """``{tensor name: type name}`` of the main subgraph (e.g. ``"INT8"``, ``"FLOAT32"``)."""
    from litert_quantizer.utils import tfl_flatbuffer_utils as fu
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.TensorType).items() if isinstance(v, int)}
    graph = fu.read_model(bytearray(content)).subgraphs[0]
    return {fu.get_tensor_name(t): names.get(int(t.type), "?") for t in graph.tensors}


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


def start_session(
    model: Any,
    calib: Any,
    eval: Any,  # noqa: A002 - the documented name
    *,
    scheme: str = "int8",
    metric: Any = None,
    name: str | None = None,
    settings: Any = None,
    listener: Any = None,
    total: int = 2,
) -> Session:
    """Trace ``model``, measure its float32 baseline as the first row and calibrate once."""
    from ..convert.converter import check_calibratable, convert, export_saved_model
    from ..measure.latency import MeasureSettings
    from ..model.keras_models import output_names, require_model
    from ..pipeline.checks import prepare_data
    from ..pipeline.run import Run

    settings = settings or MeasureSettings()
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
    calib_arrays, evaluation, resolved = prepare_data(model, calib, eval, metric)
    run = Run(
        name or model.name,
        total,
        settings=settings,
        evaluation=evaluation,
        metric=resolved,
        sample=evaluation.x if evaluation else calib_arrays,
        listener=listener,
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


def run_selective(
    model: Any,
    float_layers: str | list[str],
    calib: Any,
    eval: Any = None,  # noqa: A002 - the documented name
    **options: Any,
) -> Any:
    """The float32 baseline and ``scheme`` with ``float_layers`` kept float, measured.

    Returns the selective variant's :class:`TFLiteModel` (its ``comparison`` holds both
    rows). ``options`` are :func:`start_session`'s.
    """
    names = parse_layers(float_layers)
    if not names:
        raise NbOptUsageError("float_layers is empty; name the layers to keep in float")
    from ..model.keras_models import require_model

    require_model(model)
    check_layers(names, [layer.name for layer in model.layers])
    session = start_session(model, calib, eval, **options)
    run = session.run
    try:
        check_layers(names, session.calibrated.members)
        variant = session.add(names)
    finally:
        run.finish()
    if variant is None:
        raise ConversionError(f"{run.comparison.name}: {run.comparison.rows[-1]['error']}")
    return variant
