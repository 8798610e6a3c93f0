"""Rebuilding a Keras 3 model as an equivalent tf_keras (Keras 2) model for tfmot.

tfmot only rewrites tf_keras Sequential and Functional models. A Keras 3 model of built-in
layers is rebuilt layer by layer from each layer's config, its weights are copied, and the
two models' outputs are checked equal on sample data before the copy is used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import NbOptUsageError
from .keras_models import input_specs, is_graph_model

#: Keys of Keras 3 layer configs that tf_keras layers do not take.
_DROP = {"quantization_config", "lora_rank", "lora_alpha", "build_config", "compile_config"}


def _legacy(value: Any) -> Any:
    """Keras 3 serialized objects ({module, class_name, config, ...}) in tf_keras' form."""
    if isinstance(value, dict):
        if "class_name" in value and "config" in value and "module" in value:
            if value["class_name"] in ("DTypePolicy", "FloatDTypePolicy"):
                return value["config"]["name"]
            return {"class_name": value["class_name"], "config": _legacy(value["config"])}
        return {k: _legacy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_legacy(v) for v in value]
    return value


def _convert_layer(layer: Any) -> Any:
    import tf_keras

    kind = type(layer).__name__
    cls = getattr(tf_keras.layers, kind, None)
    if cls is None or not type(layer).__module__.startswith("keras.src.layers"):
        raise NbOptUsageError(
            f"layer {layer.name!r} ({kind}) has no tf_keras equivalent, so tfmot cannot "
            "optimize this Keras 3 model; build the model with tf_keras (import tf_keras as "
            "keras) or replace that layer"
        )
    # Initializers do not matter (the weights are copied) and their options differ.
    config = {
        k: v
        for k, v in _legacy(layer.get_config()).items()
        if k not in _DROP and not k.endswith("_initializer")
    }
    for _ in range(10):  # drop options tf_keras does not know, one at a time
        try:
            return cls.from_config(config)
        except TypeError as exc:
            text = str(exc)
            marker = "unexpected keyword argument '"
            key = text.split(marker, 1)[1].split("'")[0] if marker in text else None
            if key is None or key not in config:
                break
            config.pop(key)
        except Exception:
            break
    raise NbOptUsageError(
        f"layer {layer.name!r} ({kind}) could not be rebuilt as a tf_keras layer; "
        "build the model with tf_keras (import tf_keras as keras)"
    )


def to_tf_keras(model: Any, check_samples: int = 4) -> Any:
    """An equivalent tf_keras model of a Keras 3 Sequential or Functional ``model``."""
    import tf_keras
    from keras import tree

    if not is_graph_model(model):
        raise NbOptUsageError(
            f"model {model.name!r} is a subclassed Keras model; tfmot needs a Sequential or "
            "Functional model"
        )
    specs = input_specs(model)
    graph = getattr(model, "_functional", None) or model  # a Sequential wraps a Functional
    new_inputs = [
        tf_keras.Input(shape=s.shape[1:], dtype=s.dtype, name=getattr(t, "name", None))
        for s, t in zip(specs, graph.inputs)
    ]
    tensors: dict[int, Any] = {id(t): n for t, n in zip(graph.inputs, new_inputs)}
    pairs: list[tuple[Any, Any]] = []
    converted: dict[int, Any] = {}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            layer = node.operation
            if type(layer).__name__ == "InputLayer":
                continue
            if id(layer) not in converted:
                converted[id(layer)] = _convert_layer(layer)
                pairs.append((layer, converted[id(layer)]))
            new_layer = converted[id(layer)]

            def swap(value: Any) -> Any:
                return tensors.get(id(value), value)

            args = tree.map_structure(swap, node.arguments.args)
            kwargs = tree.map_structure(swap, node.arguments.kwargs)
            outputs = new_layer(*args, **kwargs)
            flat = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            for old, new in zip(node.outputs, flat):
                tensors[id(old)] = new
    try:
        new_outputs = [tensors[id(t)] for t in graph.outputs]
    except KeyError as exc:
        raise NbOptUsageError(f"model {model.name!r} could not be rebuilt with tf_keras") from exc
    rebuilt = tf_keras.Model(
        new_inputs[0] if len(new_inputs) == 1 else new_inputs,
        new_outputs[0] if len(new_outputs) == 1 else new_outputs,
        name=model.name,
    )
    for old, new in pairs:
        try:
            new.set_weights(old.get_weights())
        except ValueError as exc:
            raise NbOptUsageError(
                f"layer {old.name!r} ({type(old).__name__}): its weights do not fit the tf_keras "
                f"layer ({exc}); build the model with tf_keras"
            ) from exc
    _check_equal(model, rebuilt, specs, check_samples)
    return rebuilt


def _check_equal(model: Any, rebuilt: Any, specs: list[Any], n: int) -> None:
    rng = np.random.default_rng(0)
    xs = [rng.random((n, *(d or 1 for d in s.shape[1:]))).astype(s.dtype) for s in specs]
    feed = xs[0] if len(xs) == 1 else xs
    want = model(feed, training=False)
    got = rebuilt(feed, training=False)
    want = want if isinstance(want, (list, tuple)) else [want]
    got = got if isinstance(got, (list, tuple)) else [got]
    for a, b in zip(want, got):
        if not np.allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5):
            raise NbOptUsageError(
                f"model {model.name!r}: the tf_keras rebuild does not compute the same outputs "
                "as the Keras 3 model; build the model with tf_keras (import tf_keras as keras)"
            )
