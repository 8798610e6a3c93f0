"""Wrapping a copy of the user's model with tfmot: what tfmot accepts, it decides.

QAT annotates the whole model and lets ``quantize_apply`` fold Conv+BatchNorm(+ReLU) as it
does; only the layers it then refuses are named (with ``--skip`` as the way out). Pruning and
clustering wrap layer by layer so that ``skip`` leaves layers as they are, and clustering
lowers its cluster count for a layer with too few (non-zero) weights, saying so.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ...errors import NbOptUsageError
from ..measure.interpreter import first_line
from ..model.keras_models import import_tfmot, is_graph_model, require_model
from .qat_layers import extra_config, left_float_note, nothing_to_train, unsupported_layers
from .technique import INITS, Technique


def require_graph_model(model: Any) -> str:
    """The model's Keras flavor, if tfmot can rewrite it (Sequential or Functional)."""
    flavor = require_model(model)
    if not is_graph_model(model):
        raise NbOptUsageError(
            f"model {model.name!r} is a subclassed Keras model; tfmot needs a Sequential or "
            "Functional model (build it with keras.Sequential or the functional API)"
        )
    return flavor


def tfmot_model(model: Any) -> Any:
    """A tf_keras copy of ``model`` that tfmot may rewrite: never the user's own object."""
    import tf_keras

    flavor = require_graph_model(model)
    if flavor == "keras3":
        from ..model.rebuild import to_tf_keras

        return to_tf_keras(model)
    copy = tf_keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _is_input(layer: Any) -> bool:
    return type(layer).__name__ == "InputLayer"


def _fresh_input(layer: Any) -> Any:
    return layer.__class__.from_config(layer.get_config())


# -- quantization-aware training -----------------------------------------------------------


def _qat_scheme(preserve: str | None) -> Any:
    if not preserve:
        return None
    tfmot = import_tfmot()

    combine = tfmot.experimental.combine
    return {
        "sparsity": lambda: combine.Default8BitPrunePreserveQuantizeScheme(),
        "clusters": lambda: combine.Default8BitClusterPreserveQuantizeScheme(False),
        "both": lambda: combine.Default8BitClusterPreserveQuantizeScheme(True),
    }[preserve]()


def _qat_apply(model: Any, leave: set[str], preserve: str | None) -> Any:
    """tfmot's ``quantize_annotate_model`` + ``quantize_apply``, leaving ``leave`` in float."""
    tfmot = import_tfmot()
    import tf_keras
    from tf_keras.src.saving.serialization_lib import SafeModeScope

    q = tfmot.quantization.keras

    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_configs as configs,
    )

    def annotate(layer: Any) -> Any:
        if _is_input(layer):
            return layer
        if isinstance(layer, tf_keras.Model):
            if layer.name in leave:
                return layer
            raise ValueError(f"Layer {layer.name}: a model nested in the model")
        if layer.name in leave and (_reads_integers(layer) or _several_inputs(layer)):
            # token ids: tfmot cannot put a quantizer on an integer input; attention (query,
            # value): tfmot's annotation cannot wrap a layer called on several tensors
            return layer
        if layer.name in leave or isinstance(layer, tf_keras.layers.Lambda):
            # Not quantization-aware (tfmot cannot see inside a Lambda), but its output is
            # quantized so that the layers after it still compute in int8.
            output_only = configs.Default8BitOutputQuantizeConfig()
            return q.quantize_annotate_layer(layer, quantize_config=output_only)
        return q.quantize_annotate_layer(layer, quantize_config=extra_config(layer))

    scheme = _qat_scheme(preserve)
    # tfmot clones through layer configs; a Lambda's code is the user's own, in memory.
    with q.quantize_scope(), SafeModeScope(safe_mode=False):
        annotated = tf_keras.models.clone_model(model, clone_function=annotate)
        return q.quantize_apply(annotated, scheme) if scheme else q.quantize_apply(annotated)


_REFUSED = re.compile(r"Layer ([^\s:]+):")


def _refused_layer(exc: Exception, names: list[str]) -> str | None:
    """The layer tfmot names in ``exc`` ("Layer NAME:<class ...> is not supported")."""
    found = _REFUSED.search(str(exc))
    return found.group(1) if found and found.group(1) in names else None


def quantize_wrap(model: Any, technique: Technique) -> tuple[Any, list[str]]:
    """``model`` with fake quantization: the whole model, as tfmot's ``quantize_model``; and
    notes on the layers left float.

    If tfmot refuses a layer, it is left out and tfmot asked again, to find every layer it
    refuses. Those with nothing to train stay float (noted); the others are named in one
    error that suggests ``--skip``.
    """
    names = [layer.name for layer in model.layers]
    # What tfmot's registry has no config for is known without asking (each try clones the
    # whole model: 18 tries on EfficientNetB0); the tries find the rest.
    refused = unsupported_layers(model, set(technique.skip))
    for _ in range(len(names) + 1):
        try:
            wrapped = _qat_apply(model, {*technique.skip, *refused}, technique.preserve)
            break
        except (RuntimeError, ValueError, TypeError) as exc:
            name = _refused_layer(exc, names) or _integer_consumer(
                model, {*technique.skip, *refused}
            )
            if name is None or name in refused:
                raise NbOptUsageError(
                    f"tfmot cannot quantize model {model.name!r}: {first_line(exc)}; pass "
                    "--skip LAYER for the layer it names, or build the model from built-in "
                    "Keras layers"
                ) from exc
            refused.append(name)
    layers = {layer.name: layer for layer in model.layers}
    to_skip = [n for n in refused if not nothing_to_train(layers[n])]
    if to_skip:
        listed = ", ".join(f"{n!r} ({type(layers[n]).__name__})" for n in to_skip)
        raise NbOptUsageError(
            f"tfmot cannot quantize layer {listed}; pass --skip {','.join(to_skip)} to "
            "quantize the other layers"
        )
    return wrapped, [left_float_note([layers[n] for n in refused])] if refused else []


def _reads_integers(layer: Any) -> bool:
    """Whether ``layer`` reads an integer tensor (an ``Embedding``'s token ids)."""
    try:
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    except (AttributeError, ValueError):
        return False
    return any(getattr(t, "dtype", None) is not None and t.dtype.is_integer for t in inputs)


def _several_inputs(layer: Any) -> bool:
    """Whether ``layer`` is called on more than one tensor (``MultiHeadAttention(q, v)``)."""
    import tensorflow as tf

    for node in getattr(layer, "_inbound_nodes", [])[:1]:
        args = [*node.call_args, *node.call_kwargs.values()]
        return len(tf.nest.flatten(args)) > 1
    return False


def _integer_consumer(model: Any, refused: set[str]) -> str | None:
    """The first layer reading an integer input: tfmot puts a quantizer on every input and
    fails on integer ones without naming a layer."""
    for layer in model.layers:
        if not _is_input(layer) and layer.name not in refused and _reads_integers(layer):
            return layer.name
    return None


# -- pruning and clustering, layer by layer ------------------------------------------------


def _layerwise(model: Any, technique: Technique, wrap_layer: Any) -> Any:
    """A clone of ``model`` whose layers (but those in ``skip``) are wrapped by ``wrap_layer``.

    Skipped layers are reused as they are (a clone of the user's model: never theirs), so
    their weights stay; nested models are wrapped layer by layer too, as tfmot does.
    """
    import tf_keras

    def clone(layer: Any) -> Any:
        if _is_input(layer):
            return _fresh_input(layer)
        if layer.name in technique.skip or not layer.trainable_weights:
            return layer  # skipped, or nothing to prune or cluster (Rescaling, pooling, a
            # Normalization's statistics, ...)
        if isinstance(layer, tf_keras.Model):
            return tf_keras.models.clone_model(layer, clone_function=clone)
        try:
            return wrap_layer(layer)
        except (ValueError, TypeError, RuntimeError) as exc:
            verb = "prune" if technique.kind == "prune" else "cluster"
            raise NbOptUsageError(
                f"tfmot cannot {verb} layer {layer.name!r} ({type(layer).__name__}); pass "
                f"--skip {layer.name} to leave it as it is"
            ) from exc

    return tf_keras.models.clone_model(model, clone_function=clone)


def prune_wrap(model: Any, technique: Technique, schedule: Any) -> Any:
    """``model`` with tfmot's ``prune_low_magnitude`` on every layer not in ``skip``."""
    tfmot = import_tfmot()

    m_by_n = technique.structure_m_by_n()
    return _layerwise(
        model,
        technique,
        lambda layer: tfmot.sparsity.keras.prune_low_magnitude(
            layer, pruning_schedule=schedule, sparsity_m_by_n=m_by_n
        ),
    )


def cluster_wrap(model: Any, technique: Technique) -> tuple[Any, dict[str, int]]:
    """``model`` with tfmot's ``cluster_weights`` on every layer not in ``skip``.

    Returns the wrapped model and the layers whose cluster count had to be lowered (name →
    count used): a layer cannot hold more clusters than it has (non-zero) weights.
    """
    tfmot = import_tfmot()

    init = getattr(tfmot.clustering.keras.CentroidInitialization, INITS[technique.init])
    preserve = technique.preserve == "sparsity"
    wanted = int(technique.clusters)
    lowered: dict[str, int] = {}

    def wrap_layer(layer: Any) -> Any:
        k = supported_clusters(layer, wanted, preserve, technique.init)
        if k < wanted:
            lowered[layer.name] = k
        if k < 2:
            return layer  # one value or none: nothing to cluster
        return tfmot.clustering.keras.cluster_weights(
            layer,
            number_of_clusters=k,
            cluster_centroids_init=init,
            preserve_sparsity=preserve,
        )

    return _layerwise(model, technique, wrap_layer), lowered


def clustered_weights(layer: Any) -> list[np.ndarray]:
    """The weights tfmot clusters in ``layer`` (kernels; none for unknown layer types)."""
    import_tfmot()
    from tensorflow_model_optimization.python.core.clustering.keras.clustering_registry import (
        ClusteringRegistry,
    )

    if not layer.trainable_weights:
        return []
    names = ClusteringRegistry._LAYERS_WEIGHTS_MAP.get(type(layer), [])
    return [np.asarray(getattr(layer, name).numpy()) for name in names]


def supported_clusters(layer: Any, wanted: int, preserve: bool, init: str = "kmeans++") -> int:
    """The largest cluster count up to ``wanted`` that tfmot can initialise for ``layer``.

    k-means++ samples each centroid from the weights: without ``preserve`` a layer needs
    ``k`` weights; with it, one centroid is zero and the other ``k - 1`` are split between
    negative and positive weights in proportion (tfmot's rounding), each side needing as
    many weights as it gets centroids.
    """
    best = wanted
    for w in clustered_weights(layer):
        best = min(best, _largest_k(w, best, preserve, init == "kmeans++"))
    return best


def _largest_k(w: np.ndarray, wanted: int, preserve: bool, sampled: bool) -> int:
    if not preserve:
        return min(wanted, w.size)
    negative, positive = int(np.sum(w < 0)), int(np.sum(w > 0))
    nonzero = negative + positive
    if nonzero == 0:
        return wanted
    for k in range(wanted, 0, -1):
        n_neg = int(np.round((k - 1) * (negative / nonzero)))
        n_pos = k - 1 - n_neg
        fits = n_neg <= negative and n_pos <= positive
        if (fits or not sampled) and k - 1 <= nonzero:
            return k
    return 1
