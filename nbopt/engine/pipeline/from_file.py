"""Comparisons that start from a flatbuffer: a .tflite from anywhere as the baseline.

The file is measured as it is (its row's ``scheme`` is read from its tensors), and every
scheme that can be made from a float32 flatbuffer is made by the LiteRT Quantizer: float16,
dynamic, int8 and int16x8 (calibrated on ``calib``; int8 then has int8 inputs and
outputs), int4, blockwise int4 and weight-only. What cannot be made from the file is a
failed row that says why: any scheme of an already-quantized file, and what needs the
Keras model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..convert.litert import FLATBUFFER_SCHEMES, quantize_flatbuffer
from ..model.scheme import scheme_of
from ..model.tflite_model import TFLiteModel
from ..request import Request
from .checks import check_request, prepare_data
from .comparison import Comparison
from .post_training import requested_schemes
from .run import Run

#: Schemes the quantizer calibrates on representative samples.
CALIBRATED = ("int8", "int16x8")


def run_from_flatbuffer(source: TFLiteModel, request: Request) -> Comparison:
    """The file ``source`` as the baseline, and each requested scheme made from it."""
    conv, data = request.conversion, request.data
    schemes = [s for s in requested_schemes(request) if s != "float32"]
    missing = check_request(schemes, data.calib, conv.io, skip_uncalibrated=conv.scheme is None)
    calib, evaluation, metric = prepare_data(source, data.calib, data.eval, data.metric)
    run = Run(
        request.name or source.name,
        1 + len(schemes),
        settings=request.settings,
        evaluation=evaluation,
        metric=metric,
        sample=evaluation.x if evaluation else calib,
        listener=request.listener,
        fresh=True,
    )
    base_scheme = scheme_of(source.content)
    run.start(f"measuring {run.comparison.name} ({base_scheme})")
    interrupted = False
    try:
        row = run.row(base_scheme, "baseline", io=_io_of(source), converter="file")
        run.variant(row, lambda: source.content, key=base_scheme)
        for scheme in schemes:
            _variant(run, scheme, base_scheme, source, calib, scheme in missing, request)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        run.finish(interrupted)
    return run.comparison


def _variant(
    run: Run,
    scheme: str,
    base_scheme: str,
    source: TFLiteModel,
    calib: list[Any] | None,
    uncalibrated: bool,
    request: Request,
) -> None:
    """One row: ``scheme`` made from the file by the LiteRT Quantizer, or why it cannot be."""
    conv = request.conversion
    io = "int8" if scheme == "int8" else "float"
    row = run.row(scheme, "ptq", io=io, converter="litert-quantizer")
    if calib is not None and scheme in CALIBRATED:
        row["calib_samples"] = len(calib[0])
    why = _cannot(scheme, base_scheme, conv.io, uncalibrated)
    if why:
        row.update(status="skipped" if uncalibrated else "failed", error=why)
        run.add(row)
        return
    if scheme == "int8" and conv.io == "float":
        row["note"] = "made from a flatbuffer, int8 has int8 inputs and outputs"
    if conv.per_tensor and scheme == "int8":
        row["per_tensor"] = True
    threads = request.settings.threads
    run.variant(
        row,
        lambda: quantize_flatbuffer(
            source.content,
            scheme,
            calib if scheme in CALIBRATED else None,
            threads,
            per_tensor=conv.per_tensor,
        ),
    )


def _cannot(scheme: str, base_scheme: str, io: str, uncalibrated: bool) -> str | None:
    """Why ``scheme`` cannot be made from a ``base_scheme`` file (None if it can)."""
    if uncalibrated:
        return "needs calibration data (calib=... / --calib)"
    if base_scheme != "float32":
        return (
            f"{scheme} is made from a float32 model; this file is already {base_scheme} "
            "(its row measures it as it is)"
        )
    if scheme not in FLATBUFFER_SCHEMES:
        return f"{scheme} cannot be made from a flatbuffer; pass the Keras model"
    if scheme == "int8" and io == "uint8":
        return "the LiteRT Quantizer makes int8 inputs and outputs, not uint8; use --io int8"
    return None


def _io_of(source: TFLiteModel) -> str:
    """``int8``/``uint8`` for an integer-I/O file, else ``float``."""
    kinds = {np.dtype(d["dtype"]).name for d in source._runner_().inputs}
    for kind in ("int8", "uint8"):
        if kind in kinds:
            return kind
    return "float"
