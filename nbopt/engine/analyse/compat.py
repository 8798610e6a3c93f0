"""What a .tflite variant can run on: its ops, the GPU delegate and the Edge TPU.

Everything here reads the flatbuffer itself (no interpreter is allocated): the op
breakdown from the schema, GPU delegate compatibility from TFLite's own analyzer, and
Edge TPU readiness from Coral's documented requirements.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..store.memo import by_content

#: Ops the Edge TPU compiler maps to the TPU, from Coral's "TensorFlow models on the Edge
#: TPU" (supported operations table), as TFLite builtin operator names.
EDGETPU_OPS = frozenset(
    {
        "ADD",
        "AVERAGE_POOL_2D",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "EXPAND_DIMS",
        "FULLY_CONNECTED",
        "GATHER",
        "HARD_SWISH",
        "L2_NORMALIZATION",
        "LOGISTIC",
        "LSTM",
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "MAXIMUM",
        "MAX_POOL_2D",
        "MEAN",
        "MINIMUM",
        "MUL",
        "PACK",
        "PAD",
        "PRELU",
        "QUANTIZE",
        "REDUCE_MAX",
        "REDUCE_MIN",
        "RELU",
        "RELU6",
        "RELU_N1_TO_1",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR",
        "RSQRT",
        "SLICE",
        "SOFTMAX",
        "SPACE_TO_DEPTH",
        "SPLIT",
        "SQUARED_DIFFERENCE",
        "SQUEEZE",
        "STRIDED_SLICE",
        "SUB",
        "SUM",
        "TANH",
        "TRANSPOSE",
        "TRANSPOSE_CONV",
    }
)

#: Tensor types that the Edge TPU (and other integer-only accelerators) compute in.
_INTEGER_ACTIVATIONS = frozenset({"INT8", "UINT8"})
_FLOAT_TYPES = frozenset({"FLOAT32", "FLOAT16", "FLOAT64"})
#: Ops that convert between float and integer at a model's edges.
_CONVERSIONS = frozenset({"QUANTIZE", "DEQUANTIZE"})


def _names(enum: Any) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


@dataclass
class OpReport:
    """The ops and tensors of a .tflite flatbuffer.

    ``ops`` counts each op type; ``float_ops`` counts the compute ops that read or write
    a float tensor (they stay float at run time); ``tensor_types`` counts tensors by type;
    ``inputs`` / ``outputs`` are the model's input and output tensor types.
    """

    ops: Counter = field(default_factory=Counter)
    float_ops: Counter = field(default_factory=Counter)
    tensor_types: Counter = field(default_factory=Counter)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def total_ops(self) -> int:
        return sum(self.ops.values())

    def frame(self) -> Any:
        """One row per op type: ``op``, ``count``, ``float`` (how many stay float)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {"op": op, "count": n, "float": self.float_ops.get(op, 0)}
                for op, n in sorted(self.ops.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            columns=["op", "count", "float"],
        )


def _ints(values: Any) -> list[int]:
    # flatbuffers' ``...AsNumpy()`` returns 0 for an absent vector
    return [] if values is None or isinstance(values, int) else [int(v) for v in values]


@by_content()
def op_report(content: bytes) -> OpReport:
    """Read every operator and tensor of ``content`` (a .tflite flatbuffer).

    The flatbuffer is read in place: operator codes, tensor types and operator edges only,
    never the weights.
    """
    return _read_report(bytes(content))


def _op_codes(model: Any, op_names: dict[int, str]) -> list[str]:
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(int(code.BuiltinCode() or 0), int(code.DeprecatedBuiltinCode() or 0))
        name = op_names.get(builtin, f"OP_{builtin}")
        custom = code.CustomCode()
        if name == "CUSTOM" and custom:
            name = "CUSTOM:" + (custom.decode() if isinstance(custom, bytes) else str(custom))
        codes.append(name)
    return codes


def _read_report(content: bytes) -> OpReport:
    from tensorflow.lite.python import schema_py_generated as schema

    type_names = _names(schema.TensorType)
    model = schema.Model.GetRootAs(content, 0)
    codes = _op_codes(model, _names(schema.BuiltinOperator))
    report = OpReport()
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
        types = [
            type_names.get(int(subgraph.Tensors(t).Type()), str(subgraph.Tensors(t).Type()))
            for t in range(subgraph.TensorsLength())
        ]
        report.tensor_types.update(types)
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            name = codes[op.OpcodeIndex()]
            report.ops[name] += 1
            touched = [int(i) for i in (*_ints(op.InputsAsNumpy()), *_ints(op.OutputsAsNumpy()))]
            touched = [i for i in touched if i >= 0]
            if name not in _CONVERSIONS and any(types[i] in _FLOAT_TYPES for i in touched):
                report.float_ops[name] += 1
        if not report.inputs:
            report.inputs = [types[i] for i in _ints(subgraph.InputsAsNumpy())]
            report.outputs = [types[i] for i in _ints(subgraph.OutputsAsNumpy())]
    return report


_capture_lock = threading.Lock()


@contextlib.contextmanager
def _captured_stdout() -> Any:
    """Collect what is written to stdout, from Python and from C++ (the process's fd 1)."""
    with _capture_lock, tempfile.TemporaryFile(mode="w+b") as tmp:
        text = io.StringIO()
        result: dict[str, str] = {}
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        saved = os.dup(1)
        try:
            os.dup2(tmp.fileno(), 1)
            with contextlib.redirect_stdout(text):
                yield result
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            result["text"] = text.getvalue() + tmp.read().decode(errors="replace")


def gpu_report(content: bytes) -> str:
    """TFLite's analyzer report for ``content`` with the GPU delegate compatibility check."""
    import tensorflow as tf

    with _captured_stdout() as out:
        tf.lite.experimental.Analyzer.analyze(model_content=bytes(content), gpu_compatibility=True)
    return out["text"]


def gpu_compatibility(content: bytes, ops: OpReport | None = None) -> tuple[bool, list[str]]:
    """Whether the GPU delegate takes every op, and the analyzer's warnings if not.

    On top of the analyzer's check: custom ops (Select TF ``Flex`` ops among them) are
    never run by the GPU delegate (the analyzer of TF 2.21 does not flag them).
    """
    report = gpu_report(content)
    custom = sorted(op for op in (ops or op_report(content)).ops if op.startswith("CUSTOM"))
    if custom:
        return False, [f"custom ops stay on CPU: {', '.join(custom)}"]
    warnings = [
        line.split("GPU COMPATIBILITY WARNING:", 1)[1].strip()
        for line in report.splitlines()
        if "GPU COMPATIBILITY WARNING" in line
    ]
    compatible = not warnings and "compatible with GPU delegate" in report
    if not compatible and not warnings:
        warnings = ["the analyzer did not report GPU delegate compatibility"]
    return compatible, warnings


def edgetpu_readiness(report: OpReport) -> tuple[bool, list[str]]:
    """Whether the Edge TPU compiler can map the whole model, and why not.

    Coral's requirements: every tensor int8/uint8 (weights and activations, int32 biases),
    integer inputs and outputs, and only ops from the supported list.
    """
    reasons = []
    if report.float_ops:
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(report.float_ops.items()))
        reasons.append(f"ops stay float ({ops}); use full-integer quantization (int8)")
    if "INT16" in report.tensor_types:
        reasons.append("int16 activations (int16x8) are not supported; use int8")
    edges = [t for t in [*report.inputs, *report.outputs] if t not in _INTEGER_ACTIVATIONS]
    if edges and not report.float_ops and "INT16" not in report.tensor_types:
        reasons.append(
            f"inputs/outputs are {'/'.join(sorted(set(edges))).lower()}; convert int8 with "
            "integer I/O (io='int8', --io int8)"
        )
    elif edges:
        reasons.append(f"inputs/outputs are {'/'.join(sorted(set(edges))).lower()}")
    unsupported = sorted(op for op in report.ops if op not in EDGETPU_OPS | {"DEQUANTIZE"})
    if unsupported:
        reasons.append(
            f"ops the Edge TPU does not run: {', '.join(unsupported)} (they fall to CPU)"
        )
    return not reasons, reasons


def compatibility(content: bytes) -> dict[str, Any]:
    """The compatibility columns of a results row.

    ``gpu_compatible`` (bool), ``edgetpu_ready`` (bool) and ``compat_notes`` (the reasons
    either is false, ``"; "``-separated, or ``""``).
    """
    try:
        ops = op_report(content)
        gpu, gpu_notes = gpu_compatibility(content, ops)
        tpu, tpu_notes = edgetpu_readiness(ops)
    except Exception as exc:  # a model the readers do not understand: say so, keep the row
        return {
            "gpu_compatible": None,
            "edgetpu_ready": None,
            "compat_notes": f"not checked: {exc}",
        }
    notes = [f"GPU: {n}" for n in gpu_notes] + [f"Edge TPU: {n}" for n in tpu_notes]
    return {"gpu_compatible": gpu, "edgetpu_ready": tpu, "compat_notes": "; ".join(notes)}


@dataclass
class Inspection:
    """The op breakdown and compatibility of one .tflite model (``%nbopt inspect``)."""

    name: str
    scheme: str
    size: int
    report: OpReport
    compat: dict[str, Any]
    #: Selective quantization: the Keras layers kept float (``--float``), if any.
    float_layers: str | None = None

    @property
    def ops(self) -> Any:
        """One row per op type: ``op``, ``count``, ``float``."""
        return self.report.frame()

    def lines(self) -> list[str]:
        """The report as sentences (I/O types, tensor types, float ops, compatibility)."""
        r = self.report
        floats = ", ".join(f"{op} x{n}" for op, n in sorted(r.float_ops.items())) or "none"
        return [
            f"inputs {', '.join(r.inputs)} → outputs {', '.join(r.outputs)}",
            "tensors: " + ", ".join(f"{t} x{n}" for t, n in sorted(r.tensor_types.items())),
            f"ops that stay float: {floats}",
            *([f"layers kept float: {self.float_layers}"] if self.float_layers else []),
            f"GPU delegate: {'compatible' if self.compat['gpu_compatible'] else 'not compatible'}",
            f"Edge TPU: {'ready' if self.compat['edgetpu_ready'] else 'not ready'}",
            *([self.compat["compat_notes"]] if self.compat["compat_notes"] else []),
        ]

    def __repr__(self) -> str:
        head = f"{self.name} ({self.scheme}): {self.size:,} bytes, {self.report.total_ops} ops"
        ops = [f"  {op:<24} {n:>4}" for op, n in self.report.ops.most_common()]
        return "\n".join([head, *ops, *self.lines()])


def inspect_content(content: bytes, name: str = "model", scheme: str = "?") -> Inspection:
    """Op breakdown and compatibility of a .tflite flatbuffer."""
    return Inspection(name, scheme, len(content), op_report(content), compatibility(content))
