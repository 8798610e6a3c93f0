"""``load``: a .tflite from anywhere, verified, then a :class:`TFLiteModel` like any variant."""

from __future__ import annotations

import os
from typing import Any

from ..engine.model.tflite_model import TFLiteModel


def load(source: Any, name: str | None = None) -> TFLiteModel:
    """A ``.tflite`` file (or its bytes) as a :class:`TFLiteModel`, checked before use.

    The bytes are first verified against the TFLite schema (buffer bounds, offsets, tensor,
    buffer and op code indices) and opened once in nbopt's crash-isolated worker process
    (load, allocate, one invoke on zeros); only then does an interpreter in this process
    read them. A damaged file is one :class:`~nbopt.errors.InvalidModelError` line, and
    this process is untouched.

    Parameters
    ----------
    source : str, os.PathLike, bytes or TFLiteModel
        The path of a ``.tflite`` file, or a flatbuffer's bytes.
    name : str, optional
        The name shown in tables (default: the file's name without ``.tflite``).

    Returns
    -------
    TFLiteModel
        ``.scheme`` says how it is quantized (read from its tensors); ``predict``,
        ``evaluate``, ``benchmark``, ``save``; pass it to :func:`nbopt.quantize` to compare
        it with the schemes that can be made from it.
    """
    from ..config import current
    from ..engine.model.scheme import scheme_of
    from ..engine.model.trust import check, read

    if isinstance(source, TFLiteModel):
        return source
    content, label = read(source)
    check(content, label, isolate=current().isolate)
    if name is None:
        name = os.path.splitext(label)[0] if label != "the flatbuffer" else "model"
    model = TFLiteModel(
        content,
        name=name,
        scheme=scheme_of(content),
        technique="file",
        settings=current().measure_settings(),
    )
    if isinstance(source, (str, os.PathLike)):
        model.path = os.fspath(source)
    return model
