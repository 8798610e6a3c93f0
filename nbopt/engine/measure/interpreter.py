"""Running a .tflite flatbuffer with the LiteRT interpreter, in batches."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ConversionError


def make_interpreter(content: bytes, threads: int | None = None) -> Any:
    """A LiteRT interpreter for ``content`` (not yet allocated).

    A model that XNNPack fails to prepare (integer weights stored sparse:
    :func:`.sparse.xnnpack_refuses`) gets TFLite's built-in kernels instead.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from .sparse import xnnpack_refuses

    options: dict[str, Any] = {}
    if xnnpack_refuses(content):
        options["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        return Interpreter(model_content=bytes(content), num_threads=threads, **options)
    except Exception as exc:
        raise interpreter_error("load", exc) from exc


def first_line(exc: BaseException, limit: int = 600) -> str:
    """The one line of an exception's message that says what went wrong.

    Converter (MLIR) errors run to pages: each ``error:`` line is prefixed by a
    ``loc(callsite(...))`` trace. The text after ``error:`` is kept, TensorFlow's own hint
    ("Please consider ...", "... not supported ...") preferred, locations removed.
    """
    lines = [ln.strip() for ln in str(exc).replace("\\n", ";").splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    if lines[0].startswith("Graph execution error") and len(lines) > 1:
        # TensorFlow's message, then "[[{{node ...}}]]": the line before the node says it all.
        node = next((i for i, ln in enumerate(lines) if ln.startswith("[[")), len(lines))
        text = lines[max(1, node - 1)]
        return text if len(text) <= limit else text[: limit - 1] + "…"
    found = [_strip_locations(ln[ln.index("error:") :]) for ln in lines if "error:" in ln]
    found = [f for f in found if f and not f.startswith("failed while converting")]
    hints = [f for f in found if any(k in f for k in _HINTS)]
    text = hints[-1] if hints else (found[0] if found else _strip_locations(lines[0]))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _strip_locations(text: str) -> str:
    """``error: loc(callsite(...)): message`` → ``message`` (MLIR's location prefixes)."""
    while True:
        text = text.strip().removeprefix("error:").strip()
        if not text.startswith("loc("):
            return text
        depth = 0
        for i, ch in enumerate(text[3:], start=3):  # from the "(" of "loc("
            depth += (ch == "(") - (ch == ")")
            if depth == 0:
                text = text[i + 1 :].lstrip(" :")
                break
        else:
            return ""


#: Words of the converter's lines that say what to do, preferred over the first error.
_HINTS = ("Please consider", "not supported", "neither a custom op nor a flex op", "consider")

#: The interpreter's complaint about a model with TensorFlow (Flex) ops.
_FLEX_REFUSAL = "Select TensorFlow op(s)"


def interpreter_error(action: str, exc: BaseException) -> ConversionError:
    """A ``ConversionError`` for an interpreter that cannot ``action`` the model."""
    if _FLEX_REFUSAL in str(exc):
        return ConversionError(
            "the model contains TensorFlow (Flex) ops and the LiteRT interpreter in Python has "
            "no Flex delegate, so it cannot be measured here; the .tflite is made (save it "
            "from .models) and runs where the Flex delegate is linked"
        )
    return ConversionError(f"the interpreter cannot {action} the model: {first_line(exc)}")


def quantize_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """``x`` in the tensor's dtype, quantized with its scale and zero point if integer."""
    dtype = np.dtype(detail["dtype"])
    if dtype == x.dtype:
        return x
    scale, zero_point = detail["quantization"]
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        q = np.round(x.astype(np.float64) / scale + zero_point)
        return np.clip(q, info.min, info.max).astype(dtype)
    return x.astype(dtype)


def dequantize_output(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """An integer output tensor as float, using its scale and zero point."""
    scale, zero_point = detail["quantization"]
    if np.issubdtype(y.dtype, np.integer) and scale:
        return (y.astype(np.float32) - zero_point) * np.float32(scale)
    return y


class Runner:
    """One interpreter resized to a batch size, fed from float arrays.

    Inputs are matched to the model's by signature name order when the model has one
    (nbopt's exports name them ``in0``, ``in1``, ...), else by position.
    """

    def __init__(self, content: bytes, threads: int | None = None):
        self.interpreter = make_interpreter(content, threads)
        self.inputs, self.outputs = _io_details(self.interpreter)
        self.batch: int | None = None

    def resize(self, batch: int) -> None:
        """Make every input take ``batch`` samples; falls back to the model's fixed batch."""
        if batch == self.batch:
            return
        try:
            for d in self.inputs:
                self.interpreter.resize_tensor_input(d["index"], [batch, *d["shape"][1:]])
            self.interpreter.allocate_tensors()
        except Exception as exc:
            raise interpreter_error("allocate", exc) from exc
        self.batch = batch

    def fixed_batch(self) -> int | None:
        """The batch size the model insists on, or None if it can be resized."""
        sig = self.inputs[0].get("shape_signature")
        if sig is not None and len(sig) and sig[0] == -1:
            return None
        return int(self.inputs[0]["shape"][0])

    def set_inputs(self, xs: list[np.ndarray]) -> None:
        for d, x in zip(self.inputs, xs):
            self.interpreter.set_tensor(d["index"], quantize_input(x, d))

    def outputs_now(self) -> list[np.ndarray]:
        return [dequantize_output(self.interpreter.get_tensor(d["index"]), d) for d in self.outputs]

    def predict(self, xs: list[np.ndarray], batch_size: int = 256) -> list[np.ndarray]:
        """Every output for every sample of ``xs``, ``batch_size`` samples per invocation."""
        n = len(xs[0])
        fixed = self.fixed_batch()
        if fixed is not None:
            size = fixed
        else:  # equal batches: no second allocation for a short last batch
            batches = max(1, -(-n // max(1, batch_size)))
            size = max(1, -(-n // batches))
        chunks: list[list[np.ndarray]] = [[] for _ in self.outputs]
        for start in range(0, n, size):
            part = [x[start : start + size] for x in xs]
            count = len(part[0])
            if fixed is None:
                self.resize(count)
            else:
                self.resize(fixed)
                if count < fixed:  # pad the last batch of a fixed-batch model
                    part = [
                        np.concatenate([p, np.zeros((fixed - count, *p.shape[1:]), p.dtype)])
                        for p in part
                    ]
            self.set_inputs(part)
            # Fused sequence ops (LSTM) keep their state in variable tensors across
            # invocations: each batch starts from zeros, as in Keras.
            self.interpreter.reset_all_variables()
            self.interpreter.invoke()
            for store, out in zip(chunks, self.outputs_now()):
                store.append(out[:count].copy())
        return [np.concatenate(c) for c in chunks]


def _io_details(interpreter: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Input and output tensor details, in signature-name order where there is a signature."""
    if interpreter.get_signature_list():
        runner = interpreter.get_signature_runner()
        return (
            [d for _, d in sorted(runner.get_input_details().items(), key=_natural)],
            [d for _, d in sorted(runner.get_output_details().items(), key=_natural)],
        )
    return interpreter.get_input_details(), interpreter.get_output_details()


def _natural(item: tuple[str, Any]) -> tuple[str, int]:
    """Sort ``in2`` before ``in10``."""
    name = item[0]
    stem = name.rstrip("0123456789")
    digits = name[len(stem) :]
    return stem, int(digits) if digits else -1
