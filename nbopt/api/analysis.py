"""The entry points that look inside a model: ``debug`` and ``inspect``."""

from __future__ import annotations

import os
from typing import Any

from ..engine.convert.converter import parse_schemes
from ..engine.model.tflite_model import TFLiteModel
from ..engine.request import Request
from ..errors import NbOptTypeError, NbOptUsageError
from ..surface import entry_point
from .context import keras_only, source, with_settings


@entry_point("debug", with_settings)
def debug(model: Any, request: Request) -> Any:
    """Which layers does int8 hurt? Each Keras layer quantized alone, measured.

    ``calib`` is calibrated once for every per-layer variant. With ``eval``, a layer's
    ``sensitivity`` is the metric's drop with only that layer quantized; without it, the
    output's error against float32 on ``calib``.

    Returns
    -------
    DebugReport
        ``.df`` (one row per layer, most harmful first: ``sensitivity``,
        ``rmse_over_scale``, ``sqnr_db``, ``range``, ``scale``, ``zero_point``,
        ``max_abs_error``, ``suspect``), ``.suspects``, ``.measure``, ``.rule``,
        ``.advice``; shown as a table and a bar chart.
    """
    from ..engine.analyse.sensitivity import analyze

    model, request = source(model, request)
    keras_only(model, "debugging int8 layer by layer")
    schemes = parse_schemes(request.conversion.scheme)
    if len(schemes) != 1:
        raise NbOptUsageError("debug analyzes one scheme: int8 or int16x8")
    return analyze(model, request, schemes[0])


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
    from ..engine.analyse.compat import inspect_content

    if isinstance(model, TFLiteModel):
        found = inspect_content(model.content, name or model.name, model.scheme)
        found.float_layers = (model.row or {}).get("float_layers") or None
        return found
    if isinstance(model, (bytes, bytearray, memoryview, str, os.PathLike)):
        from .files import load

        loaded = load(model)  # verified before anything reads it
        label = os.path.basename(os.fspath(model)) if loaded.path else "model"
        return inspect_content(loaded.content, name or label, loaded.scheme)
    from ..engine.model.keras_models import keras_flavor
    from .techniques import quantize

    if keras_flavor(model) is None:
        raise NbOptTypeError(
            f"cannot inspect a {type(model).__name__}; pass a TFLiteModel, a Keras model, "
            "bytes or a .tflite path"
        )
    variant = quantize(model, "float32", name=name)
    return inspect_content(variant.content, variant.name, "float32")
