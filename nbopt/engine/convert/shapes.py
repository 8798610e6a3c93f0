"""Reshape targets as constants, so a traced model does no shape arithmetic at run time.

Keras 3 builds a reshape's target from the tensor's run-time shape: ``Flatten`` reshapes ``x``
to ``(ops.shape(x)[0], 64)``, and ``UpSampling2D`` and ``RepeatVector`` (through ``tf.repeat``)
concatenate slices of ``tf.shape(x)``. Traced with a free batch, these become ``Shape``,
``StridedSlice``, ``Pack`` and ``ConcatV2`` ops, which convert to the ``SHAPE``,
``STRIDED_SLICE``, ``PACK`` and ``CONCATENATION`` ops an integer accelerator such as the Edge
TPU cannot run; tf_keras wrote ``(-1, 64)`` instead.

TensorFlow's shape inference already knows every dimension of such a target but the batch, and
a reshape computes one unknown dimension itself (``-1``). So a ``Reshape`` whose output has at
most one unknown dimension gets that output shape as a constant target, ``-1`` in place of the
unknown dimension. On every input for which the traced reshape is valid the result is the same,
and the flatbuffer keeps its free batch (the interpreter is resized for batched evaluation).
The shape arithmetic that fed the target is then unused, and the converter drops it.
"""

from __future__ import annotations

from typing import Any


def constant_target(op: Any) -> list[int] | None:
    """The constant target that makes ``Reshape`` ``op`` compute the same, or None.

    None when the target is a constant already, or when the output has more than one unknown
    dimension (only one can be ``-1``) or a known dimension of zero (then ``-1`` is ambiguous).
    """
    import tensorflow as tf

    if op.type != "Reshape" or tf.get_static_value(op.inputs[1]) is not None:
        return None
    dims = op.outputs[0].shape
    if dims.rank is None:
        return None
    known = [d for d in dims.as_list() if d is not None]
    if dims.rank - len(known) > 1 or any(d <= 0 for d in known):
        return None
    return [-1 if d is None else int(d) for d in dims.as_list()]


def fold_reshape_targets(graph: Any) -> list[str]:
    """Give each ``Reshape`` in ``graph`` (being traced) its constant target; their names.

    ``Operation._update_input`` is private, but it is how TensorFlow's own graph rewrites
    (control flow) replace an input of an op already built; it keeps the graph's shape checks.
    """
    import tensorflow as tf

    changed = []
    for op in graph.get_operations():
        target = constant_target(op)
        if target is None:
            continue
        with graph.as_default():
            const = tf.constant(target, dtype=op.inputs[1].dtype, name=f"{op.name}/target")
        op._update_input(1, const)
        changed.append(op.name)
    return changed
