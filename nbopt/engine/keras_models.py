"""Recognising Keras models (tf_keras / Keras 2 and Keras 3) without importing either."""

from __future__ import annotations

from typing import Any

from ..errors import NbOptTypeError, NbOptUsageError
from .data import InputSpec


def keras_flavor(obj: Any) -> str | None:
    """``"tf_keras"`` for a Keras 2 model, ``"keras3"`` for a Keras 3 model, else None."""
    for cls in type(obj).__mro__:
        if cls.__name__ == "Model":
            root = cls.__module__.split(".")[0]
            if root == "tf_keras":
                return "tf_keras"
            if root == "keras":
                return "keras3"
    return None


def require_model(obj: Any, what: str = "model") -> str:
    """The flavor of a Keras model, or an error that says what ``obj`` is instead."""
    flavor = keras_flavor(obj)
    if flavor is None:
        kind = type(obj).__name__
        hint = ""
        if kind == "TFLiteModel":
            hint = "; it is already a .tflite model, pass the Keras model it came from"
        raise NbOptTypeError(f"{what} is a {kind}, not a Keras model{hint}")
    return flavor


def is_graph_model(model: Any) -> bool:
    """True for Sequential and Functional models (what tfmot can rewrite)."""
    names = {cls.__name__ for cls in type(model).__mro__}
    return bool({"Sequential", "Functional"} & names)


def input_specs(model: Any) -> list[InputSpec]:
    """The model's inputs; a model that was never built or called has none to give."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise NbOptUsageError(
            f"model {model.name!r} has no defined inputs yet; build it with an Input layer "
            "or call it once on a batch of data before optimizing it"
        )
    specs = []
    for tensor in inputs:
        shape = tuple(None if d is None else int(d) for d in tensor.shape)
        dtype = getattr(tensor.dtype, "name", str(tensor.dtype))
        specs.append(InputSpec(shape=shape, dtype=dtype))
    return specs


def output_shape(model: Any) -> tuple[int | None, ...]:
    """Shape of the model's first output."""
    outputs = model.outputs if getattr(model, "outputs", None) else None
    if not outputs:
        return ()
    return tuple(None if d is None else int(d) for d in outputs[0].shape)


def weights_snapshot(model: Any) -> list[Any]:
    """Copies of every weight, to check later that nothing changed them."""
    import numpy as np

    return [np.array(w) for w in model.get_weights()]
