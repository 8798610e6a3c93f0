"""Making a variant: which converter makes each scheme, and each conversion's cache key."""

from __future__ import annotations

from typing import Any

from ...errors import ConversionError
from ..convert.converter import (
    LOW_BIT_SCHEMES,
    NEEDS_CALIBRATION,
    check_calibratable,
    convert,
)
from ..convert.litert import QUANTIZER_SCHEMES, quantize_flatbuffer
from ..store import cache
from .run import Run


def derive(
    run: Run,
    row: dict[str, Any],
    scheme: str,
    saved_model_dir: str,
    float_content: bytes | None,
    calib: list[Any] | None,
    io: str = "float",
    allow_flex: bool = False,
    per_tensor: bool = False,
) -> bytes:
    """``scheme`` of a model: from its float32 flatbuffer with the LiteRT Quantizer where
    that applies (``engine="litert"``), else (or if it fails) with the TFLite converter.
    The low-bit and weight-only schemes (``LOW_BIT_SCHEMES``) only the quantizer makes.

    ``row["converter"]`` says which made it.
    """
    settings = run.settings
    if scheme in LOW_BIT_SCHEMES:
        row["converter"] = "litert-quantizer"
        if float_content is None:
            raise ConversionError(f"{scheme} is made from the float32 model, which failed")
        return quantize_flatbuffer(float_content, scheme, None, settings.threads)
    if float_content is not None:
        check_calibratable(float_content, scheme)
    # The quantizer's int8 model has int8 inputs and outputs: it stands in for io="int8".
    fits = io == ("int8" if scheme == "int8" else "float")
    if (
        settings.engine == "litert"
        and float_content is not None
        and scheme in QUANTIZER_SCHEMES
        and fits
    ):
        try:
            content = quantize_flatbuffer(
                float_content, scheme, calib, settings.threads, per_tensor=per_tensor
            )
            _check_quantized(content, float_content, scheme)
            row["converter"] = "litert-quantizer"
            return content
        except ConversionError as exc:
            row["note"] = f"{exc}; made with the TFLite converter instead"
    row["converter"] = "tflite-converter"
    return convert(
        saved_model_dir,
        scheme,
        calib,
        io,
        isolate=settings.isolate,
        allow_flex=allow_flex,
        per_tensor=per_tensor,
    )


def _check_quantized(content: bytes, float_content: bytes, scheme: str) -> None:
    """Refuse a quantizer result that left most weights float32 (ops it does not know,
    such as fused LSTMs or embedding lookups): the TFLite converter quantizes them."""
    from ..measure.weights import float32_weight_bytes

    total = float32_weight_bytes(float_content)
    left = float32_weight_bytes(content)
    if total and left > 0.25 * total:
        raise ConversionError(
            f"the LiteRT Quantizer left {left / 1024:.0f} of {total / 1024:.0f} KB of weights "
            f"in float32 for {scheme}"
        )


def conversion_keys(
    model: Any,
    schemes: list[str],
    calib: list[Any] | None,
    io: str,
    engine: str,
    *,
    allow_flex: bool = False,
    per_tensor: bool = False,
) -> dict[str, str | None]:
    """Each scheme's conversion key (:mod:`nbopt.engine.store.cache`); ``None`` for a model that
    cannot be described without exporting it. Every option that changes the flatbuffer
    is part of the key."""
    digest = cache.model_digest(model)
    calib_digest = cache.arrays_digest(calib)
    keys: dict[str, str | None] = {}
    for scheme in schemes:
        options: dict[str, Any] = {"io": io if scheme == "int8" else "float"}
        if scheme != "float32":
            options["engine"] = engine
        if scheme in NEEDS_CALIBRATION:
            options["calib"] = calib_digest
        if allow_flex:
            options["allow_flex"] = True
        if per_tensor and scheme == "int8":
            options["per_tensor"] = True
        keys[scheme] = cache.conversion_key(digest, scheme, **options) if digest else None
    return keys
