"""Keras model → SavedModel (once) → .tflite flatbuffer for each scheme.

Recurrent models (LSTM, GRU, SimpleRNN) are traced with a fixed batch of one: the TFLite
converter turns a tf_keras LSTM into its fused ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op, and other
recurrent layers (GRU) into a ``WHILE`` loop of built-in ops, only when every shape in the
loop is static (with a free batch it stops at ``TensorListReserve``). A Keras 3 LSTM has no
fused form of its own, so a Keras 3 recurrent model is converted through its tf_keras rebuild
(:func:`nbopt.engine.model.rebuild.to_tf_keras`, outputs checked equal) where one can be made.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ConversionError, NbOptUsageError
from .. import capture
from ..data.specs import InputSpec
from ..measure.interpreter import first_line
from ..model.keras_models import input_specs, output_names, recurrent_layers, require_model
from . import worker
from .shapes import fold_reshape_targets

#: Post-training schemes, in the order a comparison shows them (the default comparison).
SCHEMES = ("float16", "dynamic", "int8", "int16x8")
#: Schemes below int8 and weight-only schemes, made from the float32 flatbuffer by the LiteRT
#: Quantizer only: 4-bit weights per channel (int4) or per block of 32/64 values with
#: dynamic-range activations, and weights stored in int8/int4 and dequantized at load.
LOW_BIT_SCHEMES = ("int4", "int4-block32", "int4-block64", "weight-int8", "weight-int4")
#: Every scheme nbopt converts, the float32 reference first.
ALL_SCHEMES = ("float32", *SCHEMES, *LOW_BIT_SCHEMES)
#: Schemes that need representative (calibration) samples.
NEEDS_CALIBRATION = frozenset({"int8", "int16x8"})
#: Input/output types for an integer-only int8 model.
IO_TYPES = ("float", "int8", "uint8")
#: Schemes the TFLite converter can store with sparse weights (EXPERIMENTAL_SPARSITY).
SPARSE_SCHEMES = ("float32", "float16", "dynamic", "int8")
#: Why the other schemes cannot be (measured with TF 2.21 and ai-edge-litert 2.3).
UNSPARSE = {
    "int16x8": "the converter makes it, but the model computes wrong outputs (10% accuracy "
    "on the digits CNN, against 93% stored dense)",
}


def parse_schemes(scheme: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"float16,int8"`` or ``["float16", "int8"]`` → validated, de-duplicated scheme names."""
    if isinstance(scheme, str):
        names = [s.strip().lower() for s in scheme.split(",")]
    elif isinstance(scheme, (list, tuple)):
        names = [str(s).strip().lower() for s in scheme]
    else:
        raise NbOptUsageError(
            f"scheme must be a name or a list of names, got {type(scheme).__name__}"
        )
    names = [n for n in names if n]
    if not names:
        raise NbOptUsageError(f"no scheme given; choose from {', '.join(ALL_SCHEMES)}")
    aliases = {
        "fp16": "float16",
        "dynamic_range": "dynamic",
        "drq": "dynamic",
        "full_integer": "int8",
        "int16": "int16x8",
        "16x8": "int16x8",
        "fp32": "float32",
        "int4-b32": "int4-block32",
        "int4-b64": "int4-block64",
        "weight-only-int8": "weight-int8",
        "weight-only-int4": "weight-int4",
    }
    out: list[str] = []
    for n in names:
        n = aliases.get(n, n)
        if n not in ALL_SCHEMES:
            raise NbOptUsageError(f"unknown scheme {n!r}; choose from {', '.join(ALL_SCHEMES)}")
        if n not in out:
            out.append(n)
    return out


@dataclass
class ExportedModel:
    """A model traced once into a SavedModel that every conversion reuses."""

    path: str
    specs: list[InputSpec]
    _tmp: Any = field(default=None, repr=False)
    #: The batch size the signature insists on (1 for recurrent models), None if free.
    batch: int | None = None
    #: The model's recurrent layers (their presence fixes the batch).
    recurrent: list[str] = field(default_factory=list)
    #: Keras' names of the outputs ``out0``, ``out1``, ... of the signature, in order.
    output_names: list[str] = field(default_factory=list)
    #: How the model was traced: ``"keras"`` (as given) or ``"tf_keras rebuild"``.
    traced_from: str = "keras"

    def cleanup(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> ExportedModel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


def export_saved_model(model: Any) -> ExportedModel:
    """Trace ``model`` once for inference and save it to a temporary SavedModel.

    Inputs are named ``in0, in1, ...`` and outputs ``out0, out1, ...`` (in the order of
    ``model.outputs``, whose Keras names ``ExportedModel.output_names`` keeps) with a free
    batch dimension, so the interpreter can be resized for batched evaluation; recurrent
    models get a fixed batch of one (see the module's docstring). A reshape whose target the
    model computes from its input's run-time shape (Keras 3's ``Flatten``) gets a constant
    target with ``-1`` for the batch (:mod:`.shapes`). The user's model is only read.
    """
    flavor = require_model(model)
    specs = input_specs(model)
    recurrent = recurrent_layers(model)
    batch = 1 if recurrent else None
    traced, traced_from = model, "keras"
    if recurrent and flavor == "keras3":
        traced, traced_from = _tf_keras_twin(model)
    tmp = tempfile.mkdtemp(prefix="nbopt-")
    try:
        with capture.native():  # "Assets written to ..." and the C++ logs are kept, not shown
            _save_signature(traced, specs, batch, tmp)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConversionError(f"cannot trace model {model.name!r}: {first_line(exc)}") from exc
    return ExportedModel(
        path=tmp,
        specs=specs,
        _tmp=tmp,
        batch=batch,
        recurrent=recurrent,
        output_names=output_names(model),
        traced_from=traced_from,
    )


def _tf_keras_twin(model: Any) -> tuple[Any, str]:
    """The tf_keras rebuild of a Keras 3 recurrent model (fused LSTM), or the model itself."""
    from ..model.rebuild import to_tf_keras

    try:
        return to_tf_keras(model), "tf_keras rebuild"
    except Exception:  # a layer without a tf_keras twin: its loop converts as it is
        return model, "keras"


def _save_signature(model: Any, specs: list[InputSpec], batch: int | None, folder: str) -> None:
    """Save ``model``'s inference function as the ``serving_default`` signature."""
    import tensorflow as tf

    flavor = require_model(model)
    tf_specs = [
        tf.TensorSpec([batch, *s.shape[1:]], s.dtype, name=f"in{i}") for i, s in enumerate(specs)
    ]

    struct = getattr(model, "_inputs_struct", None)  # Keras 3
    if struct is None:
        struct = getattr(model, "_nested_inputs", None)  # tf_keras

    def serve(*xs: Any) -> dict[str, Any]:
        args: Any = xs[0] if len(xs) == 1 else list(xs)
        if isinstance(struct, dict) and len(xs) > 1:  # a model built on a dict of inputs
            args = tf.nest.pack_sequence_as(struct, list(xs))
        outs = tf.nest.flatten(model(args, training=False))
        fold_reshape_targets(outs[0].graph)  # no SHAPE ops for a Keras 3 Flatten (shapes.py)
        # Flattening orders a dict of outputs by key, as Keras orders model.outputs.
        return {f"out{i}": o for i, o in enumerate(outs)}

    fn = tf.function(serve, input_signature=tf_specs, autograph=False)
    concrete = fn.get_concrete_function()
    holder = tf.Module()
    # Track only the variables: saving the Keras object itself is slower and may fail.
    holder.variables_ = [getattr(v, "value", v) if flavor == "keras3" else v for v in model.weights]
    holder.serve = fn
    tf.saved_model.save(holder, folder, signatures={"serving_default": concrete})


def _representative(calib: list[np.ndarray]) -> Any:
    def gen() -> Iterator[list[np.ndarray]]:
        for i in range(len(calib[0])):
            yield [x[i : i + 1] for x in calib]

    return gen


def check_arguments(
    scheme: str,
    calib: Any,
    io: str,
    aware: bool = False,
    per_tensor: bool = False,
    sparse: bool = False,
) -> None:
    """Raise the user's mistakes in a conversion's arguments before any work."""
    if per_tensor and scheme != "int8":
        raise NbOptUsageError(f"per_tensor applies to the int8 scheme only, not {scheme}")
    if sparse and scheme not in SPARSE_SCHEMES:
        why = UNSPARSE.get(scheme, "the TFLite converter does not make it")
        raise NbOptUsageError(
            f"{scheme} cannot be stored sparse: {why}; {', '.join(SPARSE_SCHEMES)} can be"
        )
    if scheme in NEEDS_CALIBRATION and calib is None and not aware:
        raise NbOptUsageError(
            f"scheme {scheme} needs calibration data; pass representative samples, "
            "e.g. --calib x_train[:256]"
        )
    if io != "float" and scheme != "int8":
        raise NbOptUsageError(f"io={io!r} applies to the int8 scheme only, not {scheme}")


def converter_for(
    saved_model_dir: str,
    scheme: str,
    calib: list[np.ndarray] | None = None,
    io: str = "float",
    aware: bool = False,
    allow_flex: bool = False,
    per_tensor: bool = False,
    sparse: bool = False,
) -> Any:
    """A ``tf.lite.TFLiteConverter`` set up for ``scheme`` (the documented recipes).

    ``aware`` marks a quantization-aware trained model: its int8 ranges come from training,
    so no calibration data is needed. ``allow_flex`` lets ops without a TFLite kernel stay
    TensorFlow ops (``SELECT_TF_OPS``); such a model needs the Flex delegate to run.
    ``per_tensor`` gives int8 weights one scale per tensor instead of one per output
    channel (what many MCU and NPU toolchains need). ``sparse`` stores the weights' zeros
    sparsely (``EXPERIMENTAL_SPARSITY``: each sparse enough tensor is read through a
    DENSIFY op).
    """
    import tensorflow as tf

    check_arguments(scheme, calib, io, aware, per_tensor, sparse)
    if scheme in LOW_BIT_SCHEMES:
        raise ConversionError(f"the TFLite converter does not make {scheme}")
    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if scheme != "float32":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if scheme == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif scheme == "int8":
        if calib is not None:
            conv.representative_dataset = _representative(calib)
        if per_tensor:  # private, but the converter's only switch for it (TF 2.21)
            conv._experimental_disable_per_channel = True
        if io != "float":
            ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8 if io == "int8" else tf.uint8
            conv.inference_output_type = tf.int8 if io == "int8" else tf.uint8
    elif scheme == "int16x8":
        conv.representative_dataset = _representative(calib)
        ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if sparse:
        conv.optimizations = [*conv.optimizations, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if allow_flex:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
    if allow_flex or ops != [tf.lite.OpsSet.TFLITE_BUILTINS]:
        conv.target_spec.supported_ops = ops
    return conv


#: What the converter says when a model needs TensorFlow ops that TFLite has no kernel for.
_FLEX_SIGNS = ("neither a custom op nor a flex op", "Select TF ops", "SELECT_TF_OPS")


def conversion_error(scheme: str, exc: BaseException, allow_flex: bool = False) -> str:
    """One sentence for a failed conversion, with what to do where nbopt knows it."""
    text = first_line(exc)
    raw = str(exc)
    if not allow_flex and any(sign in raw for sign in _FLEX_SIGNS):
        ops = sorted(set(re.findall(r"'tf\.(\w+)' op is neither", raw)))
        which = f" ({', '.join(ops)})" if ops else ""
        return (
            f"{scheme} conversion failed: the model uses TensorFlow ops that TFLite has no "
            f"built-in kernel for{which}. Pass allow_flex=True (--allow-flex) to keep them as "
            "TensorFlow (Flex) ops; the model then needs the Flex delegate to run."
        )
    if "not yet supported for op" in text:  # e.g. int16x8 of a fused LSTM
        others = ", ".join(s for s in ("int8", "dynamic", "float16") if s != scheme)
        return f"{scheme} conversion failed: {text} Use {others} for this model."
    if "same scale constraint" in text:  # a QAT model whose ranges TFLite cannot take
        return (
            f"{scheme} conversion failed: {text}; training gave this op's input and output "
            "different scales: use post-training int8 (--scheme int8) for this model"
        )
    return f"{scheme} conversion failed: {text}"


@worker.leaks
def _convert_here(
    saved_model_dir: str,
    scheme: str,
    calib: list[np.ndarray] | None,
    io: str,
    aware: bool,
    allow_flex: bool = False,
    per_tensor: bool = False,
    sparse: bool = False,
) -> bytes:
    conv = converter_for(saved_model_dir, scheme, calib, io, aware, allow_flex, per_tensor, sparse)
    try:
        try:
            return bytes(conv.convert())
        except Exception as exc:
            if not (allow_flex and "Lowering tensor list ops is failed" in str(exc)):
                raise
            conv._experimental_lower_tensor_list_ops = False  # TensorFlow's own advice
            return bytes(conv.convert())
    except Exception as exc:
        raise ConversionError(conversion_error(scheme, exc, allow_flex)) from exc


def convert(
    saved_model_dir: str,
    scheme: str,
    calib: list[np.ndarray] | None = None,
    io: str = "float",
    aware: bool = False,
    isolate: bool = True,
    allow_flex: bool = False,
    per_tensor: bool = False,
    sparse: bool = False,
) -> bytes:
    """The .tflite flatbuffer of ``scheme``, made by the TFLite converter.

    With ``isolate`` (the default) the converter runs in nbopt's worker process, so a
    crash of the converter fails this conversion (``ConversionError``) and nothing else.
    ``allow_flex`` adds ``SELECT_TF_OPS``, ``sparse`` stores zeros sparsely (see
    :func:`converter_for`).
    """
    check_arguments(scheme, calib, io, aware, per_tensor, sparse)
    args = (saved_model_dir, scheme, calib, io, aware, allow_flex, per_tensor, sparse)
    if not isolate:
        return _convert_here(*args)
    return worker.call(_convert_here, *args)


def flex_ops(content: bytes) -> list[str]:
    """The TensorFlow (Flex) ops in a .tflite flatbuffer, e.g. ``["FlexMatrixInverse"]``."""
    from ..analyse.compat import op_report

    return sorted(
        op.split(":", 1)[1] for op in op_report(content).ops if op.startswith("CUSTOM:Flex")
    )


def check_calibratable(float_content: bytes, scheme: str) -> None:
    """Refuse int8 / int16x8 for a model whose float32 form has a recurrent ``WHILE`` loop.

    Calibrating such a loop crashes the TFLite converter (TF 2.21) and the LiteRT Quantizer
    cannot run it; TFLite has a fused kernel for LSTM only.
    """
    if scheme not in NEEDS_CALIBRATION:
        return
    from ..analyse.compat import op_report

    if "WHILE" in op_report(float_content).ops:
        raise ConversionError(
            f"{scheme} cannot calibrate this model's recurrent loop: TFLite turns a GRU or "
            "SimpleRNN layer (anything but a tf_keras LSTM) into a WHILE loop, and calibrating "
            "that loop crashes the TFLite converter. Use float16 or dynamic for this model, "
            f"or build the recurrent layer with unroll=True to get {scheme}."
        )
