"""The memory a .tflite variant needs: weights (flash) and the tensor arena (RAM).

``weights_bytes`` is the constant data in the flatbuffer. ``ram_bytes`` is the part of the
tensor arena that holds activations (TFLite Micro's non-persistent "head"): measured by
TFLite Micro itself (the ``tflite-micro`` package) where it can run the model, else computed
by :func:`plan_arena`, a greedy planner over tensor lifetimes in execution order like
TFLite Micro's ``GreedyMemoryPlanner``. ``ram_method`` says which. ``mcu_ready`` says whether
TFLite Micro runs the variant as it is, with the reason in ``compat_notes`` when not.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

from ..store.memo import by_content

#: TFLite Micro aligns every arena buffer to 16 bytes (MicroArenaBufferAlignment).
ALIGNMENT = 16
#: Models larger than this are planned, not allocated in TFLite Micro: no microcontroller has
#: that much flash, and the allocation would cost memory and time on big server models.
TFLM_MAX_BYTES = 16 << 20
#: Bytes per element of each TFLite tensor type (INT4 is packed two to a byte).
_TYPE_BYTES = {
    "FLOAT32": 4,
    "FLOAT16": 2,
    "INT32": 4,
    "UINT8": 1,
    "INT64": 8,
    "BOOL": 1,
    "INT16": 2,
    "COMPLEX64": 8,
    "INT8": 1,
    "FLOAT64": 8,
    "COMPLEX128": 16,
    "UINT64": 8,
    "UINT32": 4,
    "UINT16": 2,
    "INT4": 0.5,
    "BFLOAT16": 2,
}
#: Builtin ops TFLite Micro registers (its MicroMutableOpResolver's Add* list, tflite-micro
#: 2026-10), used when the ``tflite-micro`` package is not installed.
TFLM_OPS = frozenset(
    "ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL "
    "BATCH_TO_SPACE_ND BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D "
    "COS CUMSUM DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV ELU EMBEDDING_LOOKUP EQUAL EXP "
    "EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER "
    "GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG "
    "LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAXIMUM MAX_POOL_2D MEAN MINIMUM "
    "MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_ALL "
    "REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR "
    "REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH "
    "SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH "
    "TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE "
    "ZEROS_LIKE".split()
)
#: Ops whose second input is a weight tensor that a weight scheme quantizes.
WEIGHT_OPS = frozenset(
    {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "FULLY_CONNECTED",
        "TRANSPOSE_CONV",
        "CONV_3D",
        "BATCH_MATMUL",
        "EMBEDDING_LOOKUP",
    }
)


@dataclass
class Tensor:
    """One tensor of the main subgraph: its size in bytes and whether it is constant."""

    nbytes: int
    constant: bool
    variable: bool
    type: str


@dataclass
class Graph:
    """The main subgraph of a flatbuffer, as a memory planner sees it."""

    tensors: list[Tensor]
    ops: list[tuple[str, list[int], list[int]]]  # op name, inputs, outputs
    inputs: list[int]
    outputs: list[int]
    weights_bytes: int
    subgraphs: int = 1
    external_buffers: int = 0  # weights stored after the flatbuffer (offset buffers)


def _enum_names(enum: Any) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


def read_graph(content: bytes) -> Graph:
    """Tensors, ops and constant data of ``content``'s main subgraph (no interpreter)."""
    from tensorflow.lite.python import schema_py_generated as schema

    types = _enum_names(schema.TensorType)
    opnames = _enum_names(schema.BuiltinOperator)
    model = schema.Model.GetRootAs(bytearray(content), 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        codes.append(opnames.get(builtin, f"OP_{builtin}"))
    sub = model.Subgraphs(0)
    tensors, used_buffers, external = [], {}, set()
    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        kind = types.get(t.Type(), "UNKNOWN")
        buf = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        # Data lives inline (DataLength) or, in models over 2 GB, at an offset (Size).
        data = (buf.DataLength() or (buf.Size() if buf.Offset() > 1 else 0)) if buf else 0
        if data:
            used_buffers[t.Buffer()] = data
        if buf and buf.Offset() > 1:
            external.add(t.Buffer())
        elements = 1
        for d in t.ShapeAsNumpy() if t.ShapeLength() else []:
            elements *= max(int(d), 1)
        nbytes = int(-(-elements * _TYPE_BYTES.get(kind, 4) // 1))
        tensors.append(Tensor(nbytes, bool(data), bool(t.IsVariable()), kind))
    ops = []
    for i in range(sub.OperatorsLength()):
        op = sub.Operators(i)
        ins = [int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else []
        ops.append((codes[op.OpcodeIndex()], ins, outs))
    return Graph(
        tensors=tensors,
        ops=ops,
        inputs=[int(x) for x in sub.InputsAsNumpy()] if sub.InputsLength() else [],
        outputs=[int(x) for x in sub.OutputsAsNumpy()] if sub.OutputsLength() else [],
        weights_bytes=sum(used_buffers.values()),
        subgraphs=model.SubgraphsLength(),
        external_buffers=len(external),
    )


def _align(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def lifetimes(graph: Graph) -> dict[int, tuple[int, int, int]]:
    """``tensor -> (first op, last op, aligned bytes)`` for every tensor the arena holds.

    As TFLite Micro's AllocationInfoBuilder: inputs live from op 0, outputs to the last op,
    an op's outputs from that op, its inputs until that op; constants and variables are not
    planned. DENSIFY's dense weights live throughout (TFLite keeps them: :mod:`.sparse`).
    """
    last = max(len(graph.ops) - 1, 0)
    first: dict[int, int] = {i: 0 for i in graph.inputs}
    end: dict[int, int] = {i: last for i in graph.outputs}
    for index, (name, ins, outs) in enumerate(graph.ops):
        for t in outs:
            first.setdefault(t, 0 if name == "DENSIFY" else index)
            end[t] = last if name == "DENSIFY" else end.get(t, index)
        for t in ins:
            if t >= 0:
                end[t] = max(end.get(t, index), index)
    planned = {}
    for t, start in first.items():
        tensor = graph.tensors[t]
        if tensor.constant or tensor.variable:
            continue
        planned[t] = (start, max(end.get(t, start), start), _align(tensor.nbytes))
    return planned


def plan_arena(graph: Graph) -> int:
    """The activation arena in bytes, placed greedily like TFLite Micro's planner.

    Largest buffers first, each at the lowest offset where it overlaps no placed buffer
    that is alive at the same time. Returns the arena's high-water mark.
    """
    # Largest first; equal sizes in reverse tensor order, as TFLite Micro's planner takes
    # them (it lists the buffers from the tail, then sorts them stably by size).
    planned = lifetimes(graph)
    buffers = [planned[t] for t in sorted(planned, key=lambda t: (-planned[t][2], -t))]
    placed: list[tuple[int, int, int, int]] = []  # offset, size, first, last
    for start, stop, size in buffers:
        live = sorted((p for p in placed if p[2] <= stop and start <= p[3]), key=lambda p: p[0])
        offset = 0
        for p_offset, p_size, _, _ in live:
            if offset + size <= p_offset:
                break
            offset = max(offset, p_offset + p_size)
        placed.append((offset, size, start, stop))
    return max((o + s for o, s, _, _ in placed), default=0)


def float_weight_ops(graph: Graph) -> dict[str, int]:
    """Weight-bearing ops whose weights are still float32 constants (they stay float)."""
    counts: dict[str, int] = {}
    for name, ins, _ in graph.ops:
        if name in WEIGHT_OPS and len(ins) > 1 and ins[1] >= 0:
            weight = graph.tensors[ins[1]]
            if weight.constant and weight.type == "FLOAT32":
                counts[name] = counts.get(name, 0) + 1
    return counts


_stderr_lock = threading.Lock()


@contextlib.contextmanager
def _captured_stderr() -> Any:
    """Collect what native code writes to the process's fd 2 (TFLite Micro's log)."""
    with _stderr_lock, tempfile.TemporaryFile(mode="w+b") as tmp:
        result: dict[str, str] = {}
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            yield result
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            result["text"] = tmp.read().decode(errors="replace")


def tflm_available() -> bool:
    """Whether the ``tflite-micro`` package (TFLite Micro's Python interpreter) imports."""
    try:
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401
    except Exception:
        return False
    return True


def _allocate(content: bytes, arena: int) -> tuple[bool, str]:
    from tflite_micro.python.tflite_micro import runtime

    with _captured_stderr() as log:
        try:
            interp = runtime.Interpreter.from_bytes(bytes(content), arena_size=arena)
            interp.print_allocations()
            ok = True
        except RuntimeError:
            ok = False
    return ok, log["text"]


def tflm_arena(content: bytes, estimate: int) -> dict[str, Any]:
    """Allocate ``content`` in TFLite Micro: ``{"ok", "head", "tail", "log"}``.

    ``head`` is the non-persistent arena (activations and scratch buffers), ``tail`` the
    persistent part (tensor structs, kernel data). ``estimate`` (the greedy plan) sizes the
    first try; a too-small arena is retried once, four times larger.
    """
    arena = 2 * estimate + len(content) // 4 + (1 << 20)
    ok, log = _allocate(content, arena)
    if not ok and "Failed to resize buffer" in log:
        ok, log = _allocate(content, 4 * arena)
    found = {
        key: int(m.group(1))
        for key in ("head", "tail")
        if (m := re.search(rf"Arena allocation {key} (\d+) bytes", log))
    }
    return {"ok": ok and "head" in found, **found, "log": log}


def _tflm_reason(log: str) -> str:
    """What TFLite Micro's log says about why it cannot run a model, in one sentence."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    lines = [re.sub(r"^tensorflow/lite/micro/\S+\s*", "", ln) for ln in lines]
    node = next((m for ln in lines if (m := re.match(r"Node (\S+) \(number \d+\)", ln))), None)
    useful = [
        ln for ln in lines if not ln.startswith("Node ") and "failed to allocate" not in ln.lower()
    ]
    reason = " ".join(useful[:2]) or "TFLite Micro could not allocate the model"
    return f"{node.group(1)} fails in TFLite Micro: {reason}" if node else reason


def mcu_rules(graph: Graph) -> list[str]:
    """Why TFLite Micro would not run ``graph``, judged from its ops and tensor types."""
    reasons = []
    missing = sorted({name for name, _, _ in graph.ops if name not in TFLM_OPS})
    if missing:
        reasons.append(f"ops TFLite Micro does not register: {', '.join(missing)}")
    hybrid = sorted(
        {
            name
            for name, ins, _ in graph.ops
            if name in WEIGHT_OPS
            and len(ins) > 1
            and graph.tensors[ins[0]].type == "FLOAT32"
            and graph.tensors[ins[1]].type in ("INT8", "INT4")
        }
    )
    if hybrid:
        reasons.append(
            f"float activations with integer weights (hybrid {', '.join(hybrid)}) are not "
            "supported: use int8"
        )
    dequantized = sorted(
        {
            graph.tensors[ins[0]].type.lower()
            for name, ins, _ in graph.ops
            if name == "DEQUANTIZE" and graph.tensors[ins[0]].type not in ("INT8", "INT16", "UINT8")
        }
    )
    if dequantized:
        reasons.append(f"DEQUANTIZE from {', '.join(dequantized)} is not supported")
    return reasons


def memory_columns(content: bytes, isolate: bool = False) -> dict[str, Any]:
    """The memory columns of a results row.

    ``weights_bytes``, ``ram_bytes`` (the activation arena), ``ram_method`` (``"tflm"``:
    TFLite Micro's own planner; ``"greedy"``: :func:`plan_arena`), ``mcu_ready`` and
    ``mcu_notes`` (the reasons it is not, or what stays float). With ``isolate``,
    TFLite Micro runs in nbopt's worker process, so a crash of it spares the caller.
    """
    return _memory_columns(content, isolate, tflm_available())


@by_content()
def _memory_columns(content: bytes, isolate: bool, tflm: bool) -> dict[str, Any]:
    graph = read_graph(content)
    plan = plan_arena(graph)
    row: dict[str, Any] = {
        "weights_bytes": graph.weights_bytes,
        "ram_bytes": plan,
        "ram_method": "greedy",
    }
    notes = []
    if graph.external_buffers:  # TFLite Micro would take them for empty arena tensors
        row["mcu_ready"] = False
        notes.append(
            f"{graph.external_buffers} weight buffers are stored after the flatbuffer "
            "(offset buffers), which TFLite Micro does not read"
        )
    elif len(content) <= TFLM_MAX_BYTES and tflm:
        try:
            if isolate:
                from ..convert import worker

                measured = worker.call(tflm_arena, content, plan)
            else:
                measured = tflm_arena(content, plan)
        except Exception as exc:  # noqa: BLE001 - a crash of TFLite Micro is a note
            how = re.search(r"\((signal \w+|exit code -?\d+)\)", str(exc))
            measured = {
                "ok": False,
                "log": f"TFLite Micro crashed on this model ({how.group(1) if how else exc})",
            }
        if measured["ok"]:
            row.update(ram_bytes=measured["head"], ram_method="tflm")
            row["arena_bytes"] = measured["head"] + measured["tail"]
        else:  # the readable reason where the op rules know it, else TFLite Micro's own
            notes.extend(mcu_rules(graph) or [_tflm_reason(measured["log"])])
        row["mcu_ready"] = bool(measured["ok"])
    else:
        notes = mcu_rules(graph)
        row["mcu_ready"] = not notes
    if graph.subgraphs > 1 and row["ram_method"] == "greedy":
        notes.append(f"RAM planned for the main subgraph of {graph.subgraphs}")
    row["mcu_notes"] = [f"MCU: {n}" for n in notes]
    return row


def add_memory_columns(
    row: dict[str, Any], content: bytes, scheme: str, isolate: bool = False
) -> None:
    """Fill ``row`` with :func:`memory_columns` and add its notes to ``compat_notes``.

    For the low-bit and weight-only schemes, the notes also name the ops whose weights the
    scheme could not quantize (they stay float32).
    """
    from ..convert.converter import LOW_BIT_SCHEMES

    try:
        columns = memory_columns(content, isolate)
    except Exception as exc:  # a model the reader does not understand: say so, keep the row
        columns = {"mcu_ready": None, "mcu_notes": [f"memory not measured: {exc}"]}
    notes = columns.pop("mcu_notes")
    if scheme in LOW_BIT_SCHEMES:
        floats = float_weight_ops(read_graph(content))
        if floats:
            ops = ", ".join(f"{op} x{n}" for op, n in sorted(floats.items()))
            notes.insert(0, f"{scheme} leaves float32 weights in {ops} (they stay float)")
    if scheme == "float16" and columns.get("ram_bytes"):
        notes.append(
            "RAM: the float16 weights are dequantized to float32 at load (DEQUANTIZE "
            "outputs live in the tensor arena)"
        )
    row.update(columns)
    row["compat_notes"] = "; ".join(filter(None, [row.get("compat_notes") or "", *notes]))
