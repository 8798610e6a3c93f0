"""Deriving quantized variants from the float flatbuffer with the LiteRT Quantizer.

Tracing and converting a Keras model takes seconds per scheme; quantizing the already
converted float32 flatbuffer takes a fraction of that. The recipes here match the TFLite
converter's schemes (sizes within a few percent, the same accuracy: tests/test_speed.py);
the converter stays the reference path (``NbOpt.engine = "converter"``) and takes over
wherever the quantizer cannot (int8 with float or uint8 I/O, int16x8, or an error).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ...errors import ConversionError
from ..measure.interpreter import first_line

#: Schemes only the quantizer makes (the TFLite converter has no 4-bit or weight-only
#: recipe), each with its LiteRT Quantizer recipe: 4-bit weights per channel or in blocks of
#: 32/64 values with dynamic-range activations, or weights dequantized to float at load.
QUANTIZER_ONLY_RECIPES = {
    "int4": "dynamic_wi4_afp32",
    "int4-block32": "dynamic_wi4b32_afp32",
    "int4-block64": "dynamic_wi4b64_afp32",
    "weight-int8": "weight_only_wi8_afp32",
    "weight-int4": "weight_only_wi4_afp32",
}
#: Schemes the quantizer makes: float16 and dynamic with float inputs and outputs, int8 as
#: an integer-only model (int8 inputs and outputs, like the converter's io="int8").
QUANTIZER_SCHEMES = frozenset({"float16", "dynamic", "int8", *QUANTIZER_ONLY_RECIPES})
#: What the quantizer can make from a float32 flatbuffer alone (a .tflite from anywhere):
#: int16x8 too (``static_wi8_ai16``), which a Keras model gets from the TFLite converter.
FLATBUFFER_SCHEMES = QUANTIZER_SCHEMES | {"int16x8"}
#: The schemes that calibrate on representative samples.
_STATIC = ("int8", "int16x8")


def _recipe(scheme: str, per_tensor: bool = False) -> Any:
    from litert_quantizer import qtyping, recipe
    from litert_quantizer.algorithm_manager import AlgorithmName
    from litert_quantizer.recipe_manager import RecipeManager

    if scheme in QUANTIZER_ONLY_RECIPES:
        return getattr(recipe, QUANTIZER_ONLY_RECIPES[scheme])()
    if scheme == "dynamic":
        return recipe.dynamic_wi8_afp32()
    if scheme == "int8" and per_tensor:  # one weight scale per tensor
        manager = RecipeManager()
        manager.add_static_config(
            regex=".*",
            operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
            activation_num_bits=8,
            weight_num_bits=8,
            weight_granularity=qtyping.QuantGranularity.TENSORWISE,
        )
        return manager.get_quantization_recipe()
    if scheme == "int8":
        return recipe.static_wi8_ai8()
    if scheme == "int16x8":
        return recipe.static_wi8_ai16()
    manager = RecipeManager()  # float16: fp16 weights, float compute, as the converter does
    manager.add_weight_only_config(
        regex=".*",
        operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
        num_bits=16,
        algorithm_key=AlgorithmName.FLOAT_CASTING,
    )
    return manager.get_quantization_recipe()


#: How the quantizer names a weight it cannot quantize (e.g. a dimension that is not a
#: multiple of the block size).
_UNQUANTIZABLE = re.compile(r"Failed to get quantization parameters for tensor: (.+?)\. Error:")


def _consumer_scopes(content: bytes, tensor: str) -> list[str]:
    """The quantizer's scope names (output names, ``;``-joined) of the ops reading ``tensor``."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    scopes = []
    for sub in model.subgraphs or []:
        names = [t.name.decode() if isinstance(t.name, bytes) else t.name for t in sub.tensors]
        for op in sub.operators or []:
            if tensor in [names[i] for i in op.inputs if i >= 0]:
                scopes.append("".join(f"{names[i]};" for i in op.outputs if i >= 0))
    return scopes


def _quantize_weights(quantizer: Any, float_content: bytes, scheme: str) -> bytes:
    """A low-bit or weight-only scheme; ops whose weights it cannot quantize stay float."""
    base = _recipe(scheme)
    kept: list[str] = []
    for _ in range(64):  # one op more left in float per try
        skip = [
            {**base[0], "regex": f"^{re.escape(scope)}$", "algorithm_key": "no_quantize"}
            for scope in kept
        ]
        try:
            q = quantizer.Quantizer(bytearray(float_content))
            q.load_quantization_recipe(base + skip)
            result = q.quantize(None, enable_progress_bar=False, enable_progress_report=False)
            return bytes(result.quantized_model)
        except Exception as exc:
            found = _UNQUANTIZABLE.search(str(exc))
            scopes = _consumer_scopes(float_content, found.group(1)) if found else []
            if not scopes or set(scopes) <= set(kept):
                raise ConversionError(f"LiteRT Quantizer: {first_line(exc)}") from exc
            kept += [s for s in scopes if s not in kept]
    raise ConversionError(f"LiteRT Quantizer: {scheme} could not quantize this model")


def _signature_inputs(content: bytes) -> tuple[str, list[str], int | None]:
    """The signature's key, its input names and the batch size it insists on (or None)."""
    from ..measure.interpreter import make_interpreter

    interp = make_interpreter(content)
    signatures = interp.get_signature_list()
    if len(signatures) != 1:
        raise ConversionError("the LiteRT Quantizer needs a model with one signature")
    key, sig = next(iter(signatures.items()))
    details = interp.get_signature_runner(key).get_input_details()
    shape = next(iter(details.values())).get("shape_signature") if details else None
    fixed = int(shape[0]) if shape is not None and len(shape) and shape[0] > 0 else None
    return key, sorted(sig["inputs"]), fixed


def quantize_flatbuffer(
    float_content: bytes,
    scheme: str,
    calib: list[np.ndarray] | None = None,
    threads: int = 1,
    batch: int = 32,
    per_tensor: bool = False,
) -> bytes:
    """``scheme`` applied to a float32 .tflite by the LiteRT Quantizer.

    ``per_tensor`` (int8 only) gives every weight tensor one scale instead of one per channel.
    """
    if scheme not in FLATBUFFER_SCHEMES:
        raise ConversionError(f"the LiteRT Quantizer path does not make {scheme}")
    import contextlib
    import io
    import warnings

    from litert_quantizer import quantizer

    # The quantizer draws tqdm bars even when asked not to, and warns about the debug
    # interpreter option its calibrator uses: neither is for the user.
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        content = _quantize(quantizer, float_content, scheme, calib, threads, batch, per_tensor)
    return inline_buffers(content)


def inline_buffers(content: bytes) -> bytes:
    """``content`` with every weight inside the flatbuffer.

    The quantizer stores the weights of models over 256 KB after the flatbuffer (buffers
    with an offset, a format for models over 2 GB); TFLite Micro and other readers of the
    plain format do not see them there.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    head = schema.Model.GetRootAs(bytearray(content), 0)
    if not any(head.Buffers(i).Offset() > 1 for i in range(head.BuffersLength())):
        return content
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))  # reads them in
    for buf in model.buffers:
        buf.offset, buf.size = 0, 0
        if buf.data is not None:  # packed as one vector (a bytearray is packed bytewise)
            buf.data = np.frombuffer(bytes(buf.data), np.uint8)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _quantize(
    quantizer: Any,
    float_content: bytes,
    scheme: str,
    calib: list[np.ndarray] | None,
    threads: int,
    batch: int,
    per_tensor: bool = False,
) -> bytes:
    if scheme in QUANTIZER_ONLY_RECIPES:
        return _quantize_weights(quantizer, float_content, scheme)
    try:
        q = quantizer.Quantizer(bytearray(float_content))
        q.load_quantization_recipe(_recipe(scheme, per_tensor))
        calibration = None
        if scheme in _STATIC:
            if calib is None:
                raise ConversionError(f"{scheme} needs calibration data")
            key, names, fixed = _signature_inputs(float_content)
            batch = fixed or batch  # a recurrent model's signature takes one sample
            # Min/max statistics over batches equal those over single samples.
            samples = [
                {name: x[i : i + batch] for name, x in zip(names, calib)}
                for i in range(0, len(calib[0]), batch)
            ]
            calibration = q.calibrate({key: samples}, num_threads=threads)
        result = q.quantize(calibration, enable_progress_bar=False, enable_progress_report=False)
    except ConversionError:
        raise
    except Exception as exc:
        raise ConversionError(f"LiteRT Quantizer: {first_line(exc)}") from exc
    return bytes(result.quantized_model)  # the quantizer returns a bytearray
