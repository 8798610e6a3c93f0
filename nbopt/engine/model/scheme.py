"""Which scheme made a flatbuffer, read from its tensors (for a .tflite from anywhere)."""

from __future__ import annotations

from collections import Counter

from ..store.memo import by_content

#: TensorType numbers of the TFLite schema.
FLOAT32, FLOAT16, INT8, INT16, INT4 = 0, 1, 9, 7, 17
UINT8 = 3


@by_content()
def scheme_of(content: bytes) -> str:
    """``float32``, ``float16``, ``dynamic``, ``weight-int8``, ``int4``, ``weight-int4``,
    ``int8`` or ``int16x8``: what the weights and activations of ``content`` are stored as.

    Weights are the constant tensors of the main subgraph (those with data); activations
    the others. Weights that only feed DEQUANTIZE ops are weight-only.
    """
    weights, activations, dequantized = _types(content)
    if activations[INT16] and (weights[INT8] or weights[INT16]):
        return "int16x8"
    if activations[INT8] + activations[UINT8] > activations[FLOAT32]:
        return "int8"
    for kind, name in ((INT4, "int4"), (INT8, "int8")):
        if weights[kind]:
            weight_only = dequantized[kind] >= weights[kind]
            if name == "int8":
                return "weight-int8" if weight_only else "dynamic"
            return "weight-int4" if weight_only else "int4"
    return "float16" if weights[FLOAT16] else "float32"


def _types(content: bytes) -> tuple[Counter, Counter, Counter]:
    """Counts of weight types, activation types and weight types that feed DEQUANTIZE."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    graph = model.Subgraphs(0)
    constant = set()
    weights: Counter = Counter()
    activations: Counter = Counter()
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        buffer = model.Buffers(tensor.Buffer())
        if buffer is not None and (buffer.DataLength() or buffer.Offset() > 1):
            constant.add(i)
            weights[tensor.Type()] += 1
        else:
            activations[tensor.Type()] += 1
    dequantized: Counter = Counter()
    codes = [
        max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
        for i in range(model.OperatorCodesLength())
    ]
    for j in range(graph.OperatorsLength()):
        op = graph.Operators(j)
        if codes[op.OpcodeIndex()] == schema.BuiltinOperator.DEQUANTIZE:
            for t in op.InputsAsNumpy():
                if t in constant:
                    dequantized[graph.Tensors(int(t)).Type()] += 1
    return weights, activations, dequantized
