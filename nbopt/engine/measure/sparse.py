"""Weights stored sparse (the converter's ``EXPERIMENTAL_SPARSITY``): what a flatbuffer holds
and what it costs where it runs.

The converter (``compiler/mlir/lite/transforms/dense_to_sparse.cc``) stores each weight
tensor with 30% zeros or more as its non-zero values and their indices. A fully connected
layer pruned in the blocks its kernel supports computes on that as it is; every other
layer reads it through a DENSIFY op that rebuilds the dense tensor. What runs it, from the
sources (TensorFlow 2.21, tflite-micro, Coral's operation list):

- TFLite's kernel (``tensorflow/lite/kernels/densify.cc``) writes the dense weights into the
  persistent part of the tensor arena at the first invocation and keeps them: they are RAM
  for the whole run, on top of the activations (the RAM column plans them so,
  :func:`nbopt.engine.measure.memory.lifetimes`).
- XNNPack, LiteRT's default CPU delegate (``delegates/xnnpack/xnnpack_delegate.cc``), unpacks
  float32, float16 and int8 DENSIFY inputs into its own buffer when it is applied, then
  hints XNNPack's sparse inference (``XNN_FLAG_HINT_SPARSE_INFERENCE``: float 1x1
  convolutions, where XNNPack can rewrite the graph to NCHW layout). It fails to prepare
  integer weights stored sparse (int8 and dynamic-range models with ai-edge-litert 2.3, as
  google/XNNPACK#3060 reports): those run on TFLite's built-in kernels
  (:func:`xnnpack_refuses`).
- TFLite's GPU delegate reads DENSIFY (op version 1) and folds the dense weights into the
  convolution or fully connected layer it feeds when it builds its graph
  (``delegates/gpu/common/model_builder.cc``, ``transformations/merge_densify.cc``); TFLite's
  analyzer fills the GPU column. LiteRT's newer GPU accelerator (ML Drift) refuses constant
  tensors stored sparse ("ML Drift doesn't support sparsity").
- TFLite Micro has no DENSIFY kernel and no code for tensors stored sparse (none in
  ``tensorflow/lite/micro``): it would read their values as dense ones. DENSIFY is not an
  Edge TPU operation. The MCU and Edge TPU columns say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..store.memo import by_content

#: ``DimensionType`` of the TFLite schema.
DENSE, SPARSE_CSR = 0, 1
#: Bytes per element of the tensor types weights are stored in (TFLite ``TensorType``).
_TYPES = {0: ("FLOAT32", 4), 1: ("FLOAT16", 2), 3: ("UINT8", 1), 9: ("INT8", 1)}


@dataclass(frozen=True)
class SparseWeights:
    """The tensors of a flatbuffer stored sparse, and those DENSIFY turns back dense."""

    tensors: int = 0
    #: Element type of each DENSIFY input, and the bytes of their dense outputs.
    densified: tuple[str, ...] = ()
    dense_bytes: int = 0

    @property
    def stored(self) -> bool:
        return self.tensors > 0

    @property
    def integer(self) -> bool:
        return any(t not in ("FLOAT32", "FLOAT16") for t in self.densified)


@by_content()
def sparse_weights(content: bytes) -> SparseWeights:
    """Which tensors of ``content`` are stored sparse (read in place, no interpreter).

    A sparse tensor is read through DENSIFY unless its layer computes on it as it is
    (fully connected weights pruned in blocks the kernel supports, no DENSIFY).
    """
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(bytearray(content), 0)
    densify = {
        i
        for i in range(model.OperatorCodesLength())
        if max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
        == schema.BuiltinOperator.DENSIFY
    }
    tensors, types, dense = 0, [], 0
    for g in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(g)
        tensors += sum(
            subgraph.Tensors(t).Sparsity() is not None for t in range(subgraph.TensorsLength())
        )
        for o in range(subgraph.OperatorsLength()):
            op = subgraph.Operators(o)
            if op.OpcodeIndex() not in densify or op.InputsLength() < 1:
                continue
            tensor = subgraph.Tensors(op.Inputs(0))
            name, size = _TYPES.get(tensor.Type(), (f"TYPE_{tensor.Type()}", 4))
            types.append(name)
            dense += size * int(np.prod(tensor.ShapeAsNumpy())) if tensor.ShapeLength() else 0
    return SparseWeights(tensors, tuple(types), dense)


def xnnpack_refuses(content: bytes) -> bool:
    """Whether XNNPack fails to prepare ``content``: integer weights stored sparse.

    Such a model runs on TFLite's built-in kernels (the interpreter without its default
    delegate); an unreadable flatbuffer is left to the interpreter to refuse.
    """
    try:
        return sparse_weights(content).integer
    except Exception:
        return False


def sparse_columns(row: dict[str, Any], content: bytes) -> None:
    """``stored_sparse`` (what the flatbuffer holds) and what it costs, as notes.

    A row made with sparse storage (``stored_sparse`` already True) whose weights the
    converter left dense (none had enough zeros) says so in its ``note``.
    """
    info = sparse_weights(content)
    if row.get("stored_sparse") and not info.stored:
        note = "the converter stored no weight sparse: no tensor had 30% zeros or more"
        row["note"] = "; ".join(n for n in (row.get("note"), note) if n)
    row["stored_sparse"] = info.stored
    notes = []
    if info.dense_bytes:
        notes.append(
            f"RAM: DENSIFY writes the {info.dense_bytes / 1024:,.0f} KB of dense weights into "
            "RAM at load, where they stay"
        )
    if info.integer:
        notes.append(
            "CPU: XNNPack (LiteRT's default CPU delegate) cannot run integer weights stored "
            "sparse: this model runs, and was measured, on TFLite's built-in kernels"
        )
    if info.stored and row.get("mcu_ready") is True:  # allocated, but read wrongly
        row["mcu_ready"] = False
        notes.append(
            "MCU: TFLite Micro has no code for tensors stored sparse: it would read their "
            "values as dense ones"
        )
    row["compat_notes"] = "; ".join(filter(None, [row.get("compat_notes") or "", *notes]))


def densify(
    values: np.ndarray,
    shape: tuple[int, ...],
    traversal_order: list[int],
    block_map: list[int],
    dims: list[tuple[int, int, Any, Any]],
) -> np.ndarray:
    """The dense tensor of a sparse one, as TFLite's ``FormatConverter::SparseToDense``.

    ``dims``: one ``(format, dense_size, array_segments, array_indices)`` per level of
    ``traversal_order`` (the original dimensions, then the block dimensions).
    """
    rank = len(shape)
    pos = np.zeros(1, np.int64)  # each path's position in the level above
    coords: list[np.ndarray] = []
    for fmt, size, segments, indices in dims:
        if fmt == DENSE:
            coords = [np.repeat(c, size) for c in coords] + [np.tile(np.arange(size), len(pos))]
            pos = (pos[:, None] * size + np.arange(size)).ravel()
            continue
        segments, indices = np.asarray(segments, np.int64), np.asarray(indices, np.int64)
        starts, counts = segments[pos], segments[pos + 1] - segments[pos]
        parent = np.repeat(np.arange(len(pos)), counts)
        pos = (
            starts[parent] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        coords = [c[parent] for c in coords] + [indices[pos]]
    index = [np.zeros(len(pos), np.int64) for _ in range(rank)]
    for level, dim in enumerate(traversal_order[:rank]):
        index[dim] = coords[level]
    for level in range(rank, len(traversal_order)):
        block = traversal_order[level] - rank
        dim = block_map[block]
        index[dim] = index[dim] * dims[rank + block][1] + coords[level]
    dense = np.zeros(int(np.prod(shape)), values.dtype)
    dense[np.ravel_multi_index(index, shape)] = values[: len(pos)]
    return dense.reshape(shape)
