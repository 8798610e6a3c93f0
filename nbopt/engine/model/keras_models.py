"""Recognising Keras models (tf_keras / Keras 2 and Keras 3) without importing either."""

from __future__ import annotations

import sys
from typing import Any

from ...errors import NbOptTypeError, NbOptUsageError
from ..data.specs import InputSpec, OutputSpec


def import_tfmot() -> Any:
    """``tensorflow_model_optimization``, imported without importing Keras 3 on the way.

    tfmot 0.8's pruning registry tries ``from keras.src.engine import base_layer``, which
    imports all of Keras 3 (about 75 MB and a second) before it fails and tfmot falls back
    to tf_keras. Where Keras 3 is not loaded yet, ``keras`` is unimportable for the moment
    tfmot loads (about 0.1 s), so tfmot takes its fallback at once; ``import keras`` works
    again afterwards.
    """
    if "tensorflow_model_optimization" not in sys.modules and "keras" not in sys.modules:
        sys.modules["keras"] = None  # type: ignore[assignment]
        try:
            import tensorflow_model_optimization  # noqa: F401
        finally:
            if "keras" in sys.modules and sys.modules["keras"] is None:
                del sys.modules["keras"]
    import tensorflow_model_optimization as tfmot

    return tfmot


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
    try:
        inputs = getattr(model, "inputs", None)
    except (AttributeError, ValueError):
        inputs = None
    if not inputs and not is_graph_model(model):
        raise NbOptUsageError(
            f"model {model.name!r} is a subclassed Keras model, which does not record its input "
            "shape; wrap it in a functional model first, e.g. inp = keras.Input(shape); "
            f"wrapped = keras.Model(inp, {model.name}(inp))"
        )
    if not inputs:
        raise NbOptUsageError(
            f"model {model.name!r} has no defined inputs yet; build it with an Input layer "
            "or call it once on a batch of data before optimizing it"
        )
    names = list(getattr(model, "input_names", None) or [])
    if len(names) != len(inputs):
        names = [str(getattr(t, "name", f"in{i}")).split(":")[0] for i, t in enumerate(inputs)]
    specs = []
    for tensor, name in zip(inputs, names):
        shape = tuple(None if d is None else int(d) for d in tensor.shape)
        dtype = getattr(tensor.dtype, "name", str(tensor.dtype))
        specs.append(InputSpec(shape=shape, dtype=dtype, name=name))
    return specs


def output_shapes(model: Any) -> list[tuple[int | None, ...]]:
    """Shapes of the model's outputs, in ``model.outputs`` order."""
    outputs = model.outputs if getattr(model, "outputs", None) else []
    return [tuple(None if d is None else int(d) for d in t.shape) for t in outputs]


def output_shape(model: Any) -> tuple[int | None, ...]:
    """Shape of the model's first output."""
    shapes = output_shapes(model)
    return shapes[0] if shapes else ()


def output_names(model: Any) -> list[str]:
    """The names of the model's outputs, in ``model.outputs`` order (``out0``... if unknown).

    Keras names an output after the layer that makes it; a model built with a dict of
    outputs answers to its keys as well (see :func:`output_keys`).
    """
    count = len(getattr(model, "outputs", None) or []) or 1
    names = [str(n) for n in (getattr(model, "output_names", None) or [])]
    return names if len(names) == count else [f"out{i}" for i in range(count)]


def output_keys(model: Any) -> list[str] | None:
    """The keys of a model built with a dict of outputs, in ``model.outputs`` order."""
    struct = getattr(model, "_outputs_struct", None)  # Keras 3
    if struct is None:
        struct = getattr(model, "_nested_outputs", None)  # tf_keras
    if isinstance(struct, dict):
        return sorted(str(k) for k in struct)  # flattening a dict sorts its keys
    return None


#: Layer classes that become a loop (or a fused sequence op) in TFLite.
RECURRENT_LAYERS = frozenset(
    {"RNN", "LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}
)


def recurrent_layers(model: Any) -> list[str]:
    """Names of the recurrent layers in ``model`` (nested models and wrappers included)."""
    found: list[str] = []

    def visit(layer: Any) -> None:
        if {c.__name__ for c in type(layer).__mro__} & RECURRENT_LAYERS:
            found.append(layer.name)
            return
        for inner in getattr(layer, "layers", None) or []:
            visit(inner)
        for attr in ("layer", "forward_layer", "backward_layer"):  # Bidirectional, TimeDistributed
            inner = getattr(layer, attr, None)
            if inner is not None and hasattr(inner, "name") and inner is not layer:
                visit(inner)

    for layer in getattr(model, "layers", None) or []:
        visit(layer)
    return list(dict.fromkeys(found))


def weights_snapshot(model: Any) -> list[Any]:
    """Copies of every weight, to check later that nothing changed them."""
    import numpy as np

    return [np.array(w) for w in model.get_weights()]


def output_specs(model: Any) -> list[OutputSpec]:
    """Every output of ``model``: its name, shape and another name it answers to.

    Outputs are named after their layers; a model built on a dict of outputs is named by
    its keys, and its layer names are accepted too (``OutputSpec.key``).
    """
    shapes = output_shapes(model) or [()]
    names = output_names(model)
    keys = output_keys(model) or []
    # A dict of outputs is named by its keys (as predict returns it); layer names also work.
    return [
        OutputSpec(keys[i], shape, name) if i < len(keys) else OutputSpec(name, shape)
        for i, (name, shape) in enumerate(zip(names, shapes))
    ]
