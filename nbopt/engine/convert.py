"""Keras model → SavedModel (once) → .tflite flatbuffer for each scheme."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConversionError, NbOptUsageError
from .data import InputSpec
from .interpreter import first_line
from .keras_models import input_specs, require_model

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

    Inputs are named ``in0, in1, ...`` and outputs ``out0, out1, ...`` with a free batch
    dimension, so the interpreter can be resized for batched evaluation. The user's model
    is only read.
    """
    import tensorflow as tf

    flavor = require_model(model)
    specs = input_specs(model)
    tf_specs = [
        tf.TensorSpec([None, *s.shape[1:]], s.dtype, name=f"in{i}") for i, s in enumerate(specs)
    ]

    def serve(*xs: Any) -> dict[str, Any]:
        out = model(xs[0] if len(xs) == 1 else list(xs), training=False)
        outs = (
            list(out.values())
            if isinstance(out, dict)
            else (list(out) if isinstance(out, (list, tuple)) else [out])
        )
        return {f"out{i}": o for i, o in enumerate(outs)}

    fn = tf.function(serve, input_signature=tf_specs, autograph=False)
    tmp = tempfile.mkdtemp(prefix="nbopt-")
    try:
        concrete = fn.get_concrete_function()
        holder = tf.Module()
        # Track only the variables: saving the Keras object itself is slower and may fail.
        holder.variables_ = [
            getattr(v, "value", v) if flavor == "keras3" else v for v in model.weights
        ]
        holder.serve = fn
        tf.saved_model.save(holder, tmp, signatures={"serving_default": concrete})
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConversionError(f"cannot trace model {model.name!r}: {first_line(exc)}") from exc
    return ExportedModel(path=tmp, specs=specs, _tmp=tmp)


def _representative(calib: list[np.ndarray]) -> Any:
    def gen() -> Iterator[list[np.ndarray]]:
        for i in range(len(calib[0])):
            yield [x[i : i + 1] for x in calib]

    return gen


def check_arguments(
    scheme: str, calib: Any, io: str, aware: bool = False, per_tensor: bool = False
) -> None:
    """Raise the user's mistakes in a conversion's arguments before any work."""
    if per_tensor and scheme != "int8":
        raise NbOptUsageError(f"per_tensor applies to the int8 scheme only, not {scheme}")
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
    per_tensor: bool = False,
) -> Any:
    """A ``tf.lite.TFLiteConverter`` set up for ``scheme`` (the documented recipes).

    ``aware`` marks a quantization-aware trained model: its int8 ranges come from training,
    so no calibration data is needed. ``per_tensor`` gives int8 weights one scale per
    tensor instead of one per output channel (what many MCU and NPU toolchains need).
    """
    import tensorflow as tf

    check_arguments(scheme, calib, io, aware, per_tensor)
    if scheme in LOW_BIT_SCHEMES:
        raise ConversionError(f"the TFLite converter does not make {scheme}")
    conv = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if scheme == "float32":
        return conv
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if scheme == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif scheme == "int8":
        if calib is not None:
            conv.representative_dataset = _representative(calib)
        if per_tensor:  # private, but the converter's only switch for it (TF 2.21)
            conv._experimental_disable_per_channel = True
        if io != "float":
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8 if io == "int8" else tf.uint8
            conv.inference_output_type = tf.int8 if io == "int8" else tf.uint8
    elif scheme == "int16x8":
        conv.representative_dataset = _representative(calib)
        conv.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
    return conv


def _convert_here(
    saved_model_dir: str,
    scheme: str,
    calib: list[np.ndarray] | None,
    io: str,
    aware: bool,
    per_tensor: bool = False,
) -> bytes:
    conv = converter_for(saved_model_dir, scheme, calib, io, aware, per_tensor)
    try:
        return bytes(conv.convert())
    except Exception as exc:
        raise ConversionError(f"{scheme} conversion failed: {first_line(exc)}") from exc


def convert(
    saved_model_dir: str,
    scheme: str,
    calib: list[np.ndarray] | None = None,
    io: str = "float",
    aware: bool = False,
    isolate: bool = True,
    per_tensor: bool = False,
) -> bytes:
    """The .tflite flatbuffer of ``scheme``, made by the TFLite converter.

    With ``isolate`` (the default) the converter runs in nbopt's worker process, so a
    crash of the converter fails this conversion (``ConversionError``) and nothing else.
    """
    check_arguments(scheme, calib, io, aware, per_tensor)
    if not isolate:
        return _convert_here(saved_model_dir, scheme, calib, io, aware, per_tensor)
    from . import worker

    return worker.call(_convert_here, saved_model_dir, scheme, calib, io, aware, per_tensor)
