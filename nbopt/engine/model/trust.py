"""Foreign flatbuffers: verified, then opened once in the crash-isolated worker, then trusted.

Bytes nbopt did not just make (a path, bytes, a blob from the store whose hash does not
match) go through :func:`check` before any interpreter in the caller's process reads them:

1. :func:`nbopt.engine.model.verify.verify`: the flatbuffer against the TFLite schema;
2. :func:`probe` in the converter's worker process: load, allocate, one invoke on zeros.
   A crash there kills the worker, not the kernel.

Each failure is one :class:`~nbopt.errors.InvalidModelError` line:
``m.tflite is not a valid TFLite model: <what is wrong>``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ...errors import ConversionError, InvalidModelError, NbOptUsageError
from ..measure.interpreter import first_line
from .verify import InvalidModel, verify

#: A .tflite larger than this is refused before it is read (TFLite's own 2 GB limit).
MAX_BYTES = 2**31


def read(source: Any) -> tuple[bytes, str]:
    """The bytes of a path or a bytes-like ``source``, and a label that names it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "the flatbuffer"
    if not isinstance(source, (str, os.PathLike)):
        raise NbOptUsageError(
            f"cannot read a .tflite model from a {type(source).__name__}; pass a path or bytes"
        )
    path = os.fspath(source)
    if not os.path.isfile(path):
        raise NbOptUsageError(f"no .tflite file at {path!r}")
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise InvalidModelError(f"{path} is not a valid TFLite model: {size} bytes (over 2 GB)")
    with open(path, "rb") as fh:
        return fh.read(), os.path.basename(path)


def check(content: bytes, label: str, isolate: bool = True) -> dict[str, Any]:
    """Verify ``content`` and open it in the worker; its inputs and outputs if it is sound."""
    try:
        verify(content)
    except InvalidModel as exc:
        raise InvalidModelError(f"{label} is not a valid TFLite model: {exc}") from None
    try:
        found = probe(content) if not isolate else _probe_isolated(content)
    except Exception as exc:  # noqa: BLE001 - whatever the interpreter raised on foreign bytes
        raise InvalidModelError(f"{label} is not a valid TFLite model: {first_line(exc)}") from None
    for side in ("inputs", "outputs"):
        if not found[side]:
            raise InvalidModelError(f"{label} is not a valid TFLite model: it declares no {side}")
    return found


def runs_safely(content: bytes, scheme: str) -> None:
    """Run a variant nbopt just made once in the worker before this process does.

    The TFLite runtime can abort on a model its own converter made (an int16x8 transformer
    block aborts at its first invoke): that kills the worker, and the variant's row fails,
    instead of the kernel dying at measurement. An error the interpreter raises there (a
    Flex op the worker's interpreter has no kernel for) is not a crash: the measurement in
    this process meets it as it always has.
    """
    from ..convert import worker

    try:
        worker.call(probe, content)
    except ConversionError as exc:  # the worker died
        how = re.search(r"\((signal \w+|exit code -?\d+)\)", str(exc))
        raise ConversionError(
            f"the TFLite runtime crashes running this {scheme} model "
            f"({how.group(1) if how else 'it died'} in nbopt's worker process, which runs each "
            "new model once first; your kernel is unaffected); use another scheme for this model"
        ) from None
    except Exception:  # noqa: BLE001, S110 - raised, not crashed: measured here as before
        pass


def _probe_isolated(content: bytes) -> dict[str, Any]:
    """:func:`probe` in the worker; the worker dying is the interpreter crashing on it."""
    from ..convert import worker

    try:
        return worker.call(probe, content)
    except ConversionError as exc:  # the worker died: the interpreter crashed on it
        why = str(exc).split(";")[0].replace("the converter crashed", "it crashed")
        raise RuntimeError(why) from None


def probe(content: bytes) -> dict[str, Any]:
    """Load, allocate and invoke ``content`` once on zeros (run in the worker process)."""
    import numpy as np

    from ..measure.interpreter import _io_details, make_interpreter

    interpreter = make_interpreter(content, 1)
    interpreter.allocate_tensors()
    inputs, outputs = _io_details(interpreter)
    for d in interpreter.get_input_details():
        interpreter.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    interpreter.invoke()
    keep = ("name", "shape", "shape_signature", "dtype")
    return {
        "inputs": [{k: d.get(k) for k in keep} for d in inputs],
        "outputs": [{k: d.get(k) for k in keep} for d in outputs],
    }
