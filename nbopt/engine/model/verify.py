"""A flatbuffer verifier for the TFLite schema: foreign bytes checked before native code reads them.

The LiteRT interpreter builds a model from bytes without verifying them, so a damaged file
can make it read outside the buffer and kill the process (a Jupyter kernel, with every
variable in it). :func:`verify` walks the flatbuffer as the schema (``schema.fbs``, version
3) lays it out and checks what the interpreter trusts:

- structure: the root offset, every table's vtable and fields, every vector and string lie
  inside the buffer (offsets, lengths, alignment of what is read);
- references: every tensor's buffer index, every operator's opcode index, the tensor
  indices of operators, subgraph inputs and outputs and signatures, the subgraph indices of
  control flow (IF, WHILE, CALL_ONCE), metadata buffers;
- values: tensor types, op codes and option types the schema knows; shapes with no
  negative dimension; constant data at least as large as its tensor.

It raises :class:`InvalidModel` with what is wrong. The semantic checks a kernel makes on
its own (``Prepare``) are left to the interpreter, which is first run on the bytes in the
crash-isolated worker (:mod:`nbopt.engine.model.trust`).
"""

from __future__ import annotations

import struct
from typing import Any

from ...errors import NbOptError

#: Largest values of the schema's enums (ai-edge-litert 2.3's schema_py_generated).
MAX_TENSOR_TYPE = 22
MAX_BUILTIN_OPERATOR = 209
MAX_BUILTIN_OPTIONS = 126
MAX_BUILTIN_OPTIONS_2 = 23
#: Bytes per element of fixed-size tensor types (0: packed, strings, resources: not checked).
ELEMENT_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 8: 8, 9: 1, 10: 8, 11: 16, 12: 8}
ELEMENT_BYTES.update({15: 4, 16: 2, 18: 2, 21: 1, 22: 1})
#: Control-flow operators and the option fields (slot numbers) holding subgraph indices.
SUBGRAPH_FIELDS = {118: (92, (0, 1)), 119: (93, (0, 1)), 129: (103, (0,))}
MAX_ELEMENTS = 1 << 40
_STRUCTS = {f: struct.Struct(f) for f in ("<b", "<B", "<H", "<i", "<I", "<Q")}


class InvalidModel(NbOptError):
    """The bytes are not a TFLite model nbopt can open safely; the message says why."""


class _Reader:
    """Bounds-checked reads of little-endian scalars, tables and vectors."""

    def __init__(self, buf: bytes):
        self.buf = buf
        self.size = len(buf)

    def scalar(self, fmt: str, pos: int, what: str) -> Any:
        unpack = _STRUCTS[fmt]
        if pos < 0 or pos + unpack.size > self.size:
            raise InvalidModel(f"{what} lies outside the file (byte {pos} of {self.size})")
        return unpack.unpack_from(self.buf, pos)[0]

    def table(self, pos: int, what: str) -> _Table:
        if pos % 4:
            raise InvalidModel(f"{what} is not aligned (byte {pos})")
        vtable = pos - self.scalar("<i", pos, what)
        length = self.scalar("<H", vtable, f"{what}'s vtable")
        inline = self.scalar("<H", vtable + 2, f"{what}'s vtable")
        if length < 4 or length % 2 or vtable + length > self.size:
            raise InvalidModel(f"{what} has a damaged vtable (byte {vtable})")
        if pos + inline > self.size:
            raise InvalidModel(f"{what} runs past the end of the file")
        return _Table(self, pos, vtable, length, inline, what)

    def vector(self, pos: int, width: int, what: str) -> tuple[int, int]:
        """``(first element's position, length)`` of the vector at ``pos``."""
        if pos % 4:
            raise InvalidModel(f"{what} is not aligned (byte {pos})")
        count = self.scalar("<I", pos, what)
        if pos + 4 + count * width > self.size:
            raise InvalidModel(f"{what} claims {count} items, more than the file holds")
        return pos + 4, count


class _Table:
    """One table: its fields by slot number (declaration order in the schema)."""

    def __init__(self, reader: _Reader, pos: int, vtable: int, length: int, inline: int, what):
        self.r, self.pos, self.vtable, self.length, self.inline = (
            reader,
            pos,
            vtable,
            length,
            inline,
        )
        self.what = what

    def field(self, slot: int, width: int) -> int | None:
        entry = 4 + 2 * slot
        if entry + 2 > self.length:
            return None
        offset = self.r.scalar("<H", self.vtable + entry, self.what)
        if offset == 0:
            return None
        if offset + width > self.inline:
            raise InvalidModel(f"{self.what}: field {slot} lies outside its table")
        return self.pos + offset

    def scalar(self, slot: int, fmt: str, default: Any = 0) -> Any:
        at = self.field(slot, _STRUCTS[fmt].size)
        return default if at is None else self.r.scalar(fmt, at, self.what)

    def target(self, slot: int, what: str) -> int | None:
        """The position an offset field points to (checked to lie inside the file)."""
        at = self.field(slot, 4)
        if at is None:
            return None
        to = at + self.r.scalar("<I", at, what)
        if to >= self.r.size:
            raise InvalidModel(f"{what} points outside the file")
        return to

    def vector(self, slot: int, width: int, what: str) -> tuple[int, int]:
        to = self.target(slot, what)
        return (0, 0) if to is None else self.r.vector(to, width, what)

    def ints(self, slot: int, fmt: str, what: str) -> tuple[int, ...]:
        start, count = self.vector(slot, _STRUCTS[fmt].size, what)
        return struct.unpack_from(f"<{count}{fmt[-1]}", self.r.buf, start) if count else ()

    def string(self, slot: int, what: str) -> str:
        start, count = self.vector(slot, 1, what)
        return bytes(self.r.buf[start : start + count]).decode("utf-8", "replace")

    def table(self, slot: int, what: str) -> _Table | None:
        to = self.target(slot, what)
        return None if to is None else self.r.table(to, what)

    def tables(self, slot: int, what: str) -> list[_Table]:
        start, count = self.vector(slot, 4, what)
        out = []
        for i in range(count):
            at = start + 4 * i
            to = at + self.r.scalar("<I", at, what)
            out.append(self.r.table(to, f"{what} {i}"))
        return out


def verify(content: bytes) -> None:
    """Raise :class:`InvalidModel` unless ``content`` is a well-formed TFLite flatbuffer."""
    if len(content) < 16:
        raise InvalidModel(f"{len(content)} bytes are too few for a TFLite model")
    if bytes(content[4:8]) != b"TFL3":
        raise InvalidModel("it lacks the TFL3 identifier of a TFLite flatbuffer")
    r = _Reader(content)
    model = r.table(r.scalar("<I", 0, "the root offset"), "the model")
    version = model.scalar(0, "<I")
    if version != 3:
        raise InvalidModel(f"schema version {version}; TFLite models are version 3")
    buffers = _buffers(model)
    codes = _operator_codes(model)
    subgraphs = model.tables(2, "subgraph")
    if not subgraphs:
        raise InvalidModel("it has no subgraph")
    sizes = [_subgraph(g, i, buffers, codes, len(subgraphs)) for i, g in enumerate(subgraphs)]
    _metadata(model, len(buffers))
    _signatures(model, sizes)


def _buffers(model: _Table) -> list[int | None]:
    """Each buffer's data length (None for an empty one); external data checked in range."""
    out: list[int | None] = []
    for buffer in model.tables(4, "buffer"):
        _, count = buffer.vector(0, 1, buffer.what)
        offset, size = buffer.scalar(1, "<Q"), buffer.scalar(2, "<Q")
        if offset > 1 and offset + size > buffer.r.size:
            raise InvalidModel(f"{buffer.what} points past the end of the file")
        out.append(count or (size if offset > 1 else None))
    return out


def _operator_codes(model: _Table) -> list[int]:
    codes = []
    for code in model.tables(1, "operator code"):
        builtin = max(code.scalar(0, "<b"), code.scalar(3, "<i"))
        if not 0 <= builtin <= MAX_BUILTIN_OPERATOR:
            raise InvalidModel(f"{code.what} names op {builtin}, which TFLite does not have")
        code.string(1, f"{code.what}'s custom name")
        codes.append(builtin)
    return codes


def _subgraph(
    graph: _Table, index: int, buffers: list[int | None], codes: list[int], n_graphs: int
) -> int:
    """Check one subgraph; returns its tensor count."""
    what = f"subgraph {index}"
    tensors = graph.tables(0, f"{what}: tensor")
    for tensor in tensors:
        _tensor(tensor, buffers)
    count = len(tensors)
    for slot, name in ((1, "inputs"), (2, "outputs")):
        found = graph.ints(slot, "<i", f"{what}'s {name}")
        _indices(found, count, f"{what}'s {name}", False)
        if index == 0 and not found:
            raise InvalidModel(f"its main subgraph has no {name}")
    for op in graph.tables(3, f"{what}: operator"):
        _operator(op, codes, count, n_graphs)
    graph.string(4, f"{what}'s name")
    return count


def _tensor(tensor: _Table, buffers: list[int | None]) -> None:
    what = tensor.what
    kind = tensor.scalar(1, "<b")
    if not 0 <= kind <= MAX_TENSOR_TYPE:
        raise InvalidModel(f"{what} has type {kind}, which TFLite does not have")
    shape = tensor.ints(0, "<i", f"{what}'s shape")
    if any(d < 0 for d in shape):
        raise InvalidModel(f"{what} has a negative dimension in its shape {list(shape)}")
    signature = tensor.ints(7, "<i", f"{what}'s shape signature")
    if signature and (
        len(signature) != len(shape) or any(s not in (-1, d) for s, d in zip(signature, shape))
    ):
        raise InvalidModel(
            f"{what}'s shape {list(shape)} does not match its signature {list(signature)}"
        )
    tensor.string(3, f"{what}'s name")
    index = tensor.scalar(2, "<I")
    if index >= len(buffers):
        raise InvalidModel(f"{what} uses buffer {index} of {len(buffers)}")
    elements = 1
    for d in shape:
        elements *= d
    if elements > MAX_ELEMENTS:
        raise InvalidModel(f"{what} claims {elements} elements")
    _quantization(tensor.table(4, f"{what}'s quantization"), len(shape))
    sparse = tensor.table(6, f"{what}'s sparsity")
    data = buffers[index]
    if data is not None and sparse is None and kind in ELEMENT_BYTES:
        if data < elements * ELEMENT_BYTES[kind]:
            raise InvalidModel(
                f"{what} needs {elements * ELEMENT_BYTES[kind]} bytes of data, its buffer has "
                f"{data}"
            )


def _quantization(quant: _Table | None, rank: int) -> None:
    if quant is None:
        return
    what = quant.what
    for slot, width, name in ((0, 4, "min"), (1, 4, "max"), (2, 4, "scale"), (3, 8, "zero point")):
        quant.vector(slot, width, f"{what}'s {name}")
    details = quant.scalar(4, "<B")
    if details > 3:
        raise InvalidModel(f"{what} has unknown details type {details}")
    if details:
        quant.table(5, f"{what}'s details")
    dim = quant.scalar(6, "<i")
    _, scales = quant.vector(2, 4, what)
    if scales > 1 and not 0 <= dim < max(rank, 1):
        raise InvalidModel(f"{what} quantizes dimension {dim} of a rank-{rank} tensor")


def _operator(op: _Table, codes: list[int], tensors: int, n_graphs: int) -> None:
    what = op.what
    index = op.scalar(0, "<I")
    if index >= len(codes):
        raise InvalidModel(f"{what} uses op code {index} of {len(codes)}")
    for slot, name in ((1, "inputs"), (2, "outputs"), (8, "intermediates")):
        _indices(op.ints(slot, "<i", f"{what}'s {name}"), tensors, f"{what}'s {name}", True)
    for type_slot, value_slot, largest in (
        (3, 4, MAX_BUILTIN_OPTIONS),
        (11, 12, MAX_BUILTIN_OPTIONS_2),
    ):
        kind = op.scalar(type_slot, "<B")
        if kind > largest:
            raise InvalidModel(f"{what} has unknown options type {kind}")
        options = op.table(value_slot, f"{what}'s options") if kind else None
        expected = SUBGRAPH_FIELDS.get(codes[index])
        if options is not None and expected and expected[0] == kind and type_slot == 3:
            for slot in expected[1]:
                sub = options.scalar(slot, "<i")
                if not 0 <= sub < n_graphs:
                    raise InvalidModel(f"{what} calls subgraph {sub} of {n_graphs}")
    op.vector(5, 1, f"{what}'s custom options")
    op.vector(7, 1, f"{what}'s mutating inputs")
    offset, size = op.scalar(9, "<Q"), op.scalar(10, "<Q")
    if offset and offset + size > op.r.size:
        raise InvalidModel(f"{what}'s custom options lie past the end of the file")


def _indices(values: tuple[int, ...], count: int, what: str, optional: bool) -> None:
    low = -1 if optional else 0
    bad = [v for v in values if not low <= v < count]
    if bad:
        raise InvalidModel(f"{what} name tensor {bad[0]}, of {count}")


def _metadata(model: _Table, n_buffers: int) -> None:
    for entry in model.tables(6, "metadata"):
        entry.string(0, f"{entry.what}'s name")
        if entry.scalar(1, "<I") >= n_buffers:
            raise InvalidModel(f"{entry.what} uses a buffer the model does not have")
    for index in model.ints(5, "<i", "the metadata buffers"):
        if not 0 <= index < n_buffers:
            raise InvalidModel(f"metadata buffer {index} of {n_buffers}")


def _signatures(model: _Table, sizes: list[int]) -> None:
    for sig in model.tables(7, "signature"):
        graph = sig.scalar(4, "<I")
        if graph >= len(sizes):
            raise InvalidModel(f"{sig.what} names subgraph {graph} of {len(sizes)}")
        sig.string(2, f"{sig.what}'s key")
        for slot in (0, 1):
            for entry in sig.tables(slot, f"{sig.what}'s tensor"):
                entry.string(0, f"{entry.what}'s name")
                if entry.scalar(1, "<I") >= sizes[graph]:
                    raise InvalidModel(f"{entry.what} names a tensor its subgraph lacks")
