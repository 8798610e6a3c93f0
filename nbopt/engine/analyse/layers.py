"""Which TFLite ops belong to which Keras layer, read from a flatbuffer.

The TFLite converter names each op's output tensor after the Keras layer that made it
(``digits_cnn/dense/MatMul;digits_cnn/dense/BiasAdd``): :func:`model_ops` reads those names
from the float32 flatbuffer and maps every op to its layer (an op whose name says no layer,
such as the ``StatefulPartitionedCall:0`` softmax at the output, belongs to the layer of
the op that feeds it). Also here: reading layer names from the user (:func:`parse_layers`,
:func:`check_layers`) and what a variant's tensors and ops became (:func:`tensor_types`,
:func:`float_op_count`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...errors import NbOptUsageError


@dataclass
class OpInfo:
    """One operator of a flatbuffer: its position, type, scope and Keras layer."""

    index: int
    op: str
    scope: str
    layer: str | None
    inputs: list[int]
    outputs: list[int]
    #: Other layers fused into this op (a BatchNormalization or ReLU folded into a conv).
    fused: list[str] = field(default_factory=list)


def _op_names(model: Any) -> list[str]:
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if isinstance(v, int)}
    return [
        names.get(max(int(c.builtinCode or 0), int(c.deprecatedBuiltinCode or 0)), "?")
        for c in model.operatorCodes
    ]


def _renamed_scopes(scopes: list[str], layers: list[str], model_name: str | None) -> dict:
    """``{scope: layer}`` for scopes TensorFlow renamed to keep them unique.

    Keras 3 calls the model twice in one traced graph, so its scopes come out as
    ``digits_cnn_1/conv2d_1`` (layer ``conv2d``) and ``digits_cnn_1/conv2d_1_2`` (layer
    ``conv2d_1``): each is matched to the first unclaimed layer, in the model's order, whose
    name it is with at most one ``_N`` suffix.
    """
    if not model_name:
        return {}
    renamed = re.compile(re.escape(model_name) + r"_\d+")
    seen: list[str] = []
    for scope in scopes:
        for name in scope.split(";"):
            parts = name.split("/")
            if len(parts) > 2 and renamed.fullmatch(parts[0]) and parts[1] not in seen:
                seen.append(parts[1])
    found, free = {}, list(layers)
    for part in seen:
        for layer in free:
            if part == layer or re.fullmatch(re.escape(layer) + r"_\d+", part):
                found[part] = layer
                free.remove(layer)
                break
    return found


def _layers_of(scope: str, layers: list[str], model_name: str | None, renamed: dict) -> list:
    """The layers named by ``scope``'s tensor names, in the model's order."""
    found = set()
    for name in scope.split(";"):
        parts = name.split("/")
        if len(parts) > 2 and parts[1] in renamed:
            found.add(renamed[parts[1]])
            continue
        if len(parts) > 1 and parts[0] == model_name:
            parts = parts[1:]
        found.update(next(([p] for p in parts[:-1] if p in layers), []))
    return [layer for layer in layers if layer in found]


def _signature_outputs(model: Any, outputs: list[str] | None) -> dict[int, str]:
    """``{tensor index: layer}`` of the signature's outputs ``out0, out1, ...``."""
    if not outputs or not model.signatureDefs:
        return {}
    found = {}
    for entry in model.signatureDefs[0].outputs or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else str(entry.name)
        if name.startswith("out") and name[3:].isdigit() and int(name[3:]) < len(outputs):
            found[int(entry.tensorIndex)] = outputs[int(name[3:])]
    return found


def model_ops(
    content: bytes,
    layers: Iterable[str],
    model_name: str | None = None,
    outputs: list[str] | None = None,
) -> list[OpInfo]:
    """Every op of the main subgraph of ``content``, with the Keras layer it belongs to.

    An op is named after the layers in its output tensors' names; one that names none takes
    the layer of the model output it makes (``outputs``: the layers making ``out0``,
    ``out1``, ...), else that of the op feeding it. An op several layers were fused into
    belongs to the first of them in the model's order (the others are ``fused``).
    """
    from litert_quantizer.utils import tfl_flatbuffer_utils as fu

    model = fu.read_model(bytearray(content))
    graph = model.subgraphs[0]
    codes = _op_names(model)
    layers = list(layers)
    scopes = [fu.get_op_scope(op, graph.tensors) for op in graph.operators]
    renamed = _renamed_scopes(scopes, layers, model_name)
    made = {t: name for t, name in _signature_outputs(model, outputs).items() if name in layers}
    ops = []
    producer: dict[int, OpInfo] = {}
    for i, (op, scope) in enumerate(zip(graph.operators, scopes)):
        named = _layers_of(scope, layers, model_name, renamed)
        info = OpInfo(
            i,
            codes[op.opcodeIndex],
            scope,
            named[0] if named else None,
            [int(t) for t in op.inputs if t >= 0],
            [int(t) for t in op.outputs if t >= 0],
            named[1:],
        )
        if info.layer is None:
            out = [made[t] for t in info.outputs if t in made]
            fed = [producer[t] for t in info.inputs if t in producer]
            info.layer = out[0] if out else (fed[0].layer if fed else None)
        for t in info.outputs:
            producer[t] = info
        ops.append(info)
    return ops


def layer_ops(ops: list[OpInfo], order: Iterable[str]) -> dict[str, list[OpInfo]]:
    """``{layer: its ops}`` in the order of ``order``; layers without ops are left out."""
    out: dict[str, list[OpInfo]] = {}
    for name in order:
        mine = [o for o in ops if o.layer == name]
        if mine:
            out[name] = mine
    return out


def parse_layers(names: str | Iterable[str] | None) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` → ``["a", "b"]`` (empty names dropped, order kept)."""
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else list(names)
    return list(dict.fromkeys(str(n).strip() for n in items if str(n).strip()))


def check_layers(names: list[str], known: Iterable[str]) -> None:
    """Raise one error naming every unknown layer and its close matches."""
    known = list(known)
    unknown = [n for n in names if n not in known]
    if not unknown:
        return
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        parts.append(f"{name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    raise NbOptUsageError(
        f"no layer {', '.join(parts)} with TFLite ops in this model; its layers are "
        f"{', '.join(known)}"
    )


def float_op_count(content: bytes) -> int:
    """How many compute ops of ``content`` read or write float tensors (stay float)."""
    from .compat import op_report

    return sum(op_report(content).float_ops.values())


def tensor_types(content: bytes) -> dict[str, str]:
    """``{tensor name: type name}`` of the main subgraph (e.g. ``"INT8"``, ``"FLOAT32"``)."""
    from litert_quantizer.utils import tfl_flatbuffer_utils as fu
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.TensorType).items() if isinstance(v, int)}
    graph = fu.read_model(bytearray(content)).subgraphs[0]
    return {fu.get_tensor_name(t): names.get(int(t.type), "?") for t in graph.tensors}
