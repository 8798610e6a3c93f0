"""Reading the constant weight tensors stored in a .tflite flatbuffer.

Pruning and clustering are judged by what was exported, not by what was asked for: the
share of zeros and the distinct values per tensor are counted in the flatbuffer itself
(tensors stored sparse are read back dense).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

# TensorType enum of the TFLite schema → numpy dtype.
_DTYPES = {
    0: np.float32,
    1: np.float16,
    2: np.int32,
    3: np.uint8,
    4: np.int64,
    7: np.int16,
    9: np.int8,
    10: np.float64,
}


@dataclass(frozen=True)
class WeightTensor:
    name: str
    values: np.ndarray


def weight_tensors(content: bytes, min_rank: int = 2) -> list[WeightTensor]:
    """Constant tensors of rank ``min_rank`` or more (kernels and filters, not biases)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    out = []
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            buffer = model.buffers[tensor.buffer]
            data = getattr(buffer, "data", None)
            dtype = _DTYPES.get(tensor.type)
            if data is None or len(data) == 0 or dtype is None:
                continue
            shape = tuple(int(d) for d in (tensor.shape if tensor.shape is not None else ()))
            if len(shape) < min_rank:
                continue
            values = np.frombuffer(bytes(bytearray(data)), dtype=dtype)
            if tensor.sparsity is not None:  # stored sparse: its non-zero values only
                values = _densified(values, shape, tensor.sparsity)
            if values.size != int(np.prod(shape)):
                continue
            name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
            out.append(WeightTensor(name, values.reshape(shape)))
    return out


def _densified(values: np.ndarray, shape: tuple[int, ...], params: object) -> np.ndarray:
    """The dense tensor of ``values`` stored sparse with ``params`` (``SparsityParametersT``)."""
    from .sparse import densify

    def vector(v: object) -> object:
        return None if v is None else v.values  # Int32Vector, Uint16Vector or Uint8Vector

    dims = [
        (d.format, d.denseSize, vector(d.arraySegments), vector(d.arrayIndices))
        for d in params.dimMetadata
    ]
    order = [int(i) for i in params.traversalOrder]
    blocks = [int(i) for i in params.blockMap] if params.blockMap is not None else []
    return densify(values, shape, order, blocks, dims)


def sparsity(tensors: list[WeightTensor]) -> float:
    """Share of zeros over every value of ``tensors``."""
    total = sum(t.values.size for t in tensors)
    zeros = sum(int(np.count_nonzero(t.values == 0)) for t in tensors)
    return zeros / total if total else 0.0


def distinct_values(tensors: list[WeightTensor]) -> dict[str, int]:
    """Number of distinct values in each tensor, by tensor name."""
    return {t.name: int(np.unique(t.values).size) for t in tensors}


@functools.lru_cache(maxsize=8)
def float32_weight_bytes(content: bytes) -> int:
    """Bytes of float32 constant tensors of rank 2 or more (weights left unquantized).

    Cached: a comparison asks it of the same float32 flatbuffer for every scheme."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    seen: set[int] = set()
    total = 0
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            data = getattr(model.buffers[tensor.buffer], "data", None)
            shape = tensor.shape if tensor.shape is not None else ()
            if tensor.type != 0 or data is None or len(shape) < 2 or tensor.buffer in seen:
                continue
            seen.add(tensor.buffer)
            total += len(data)
    return total
