"""Layers tfmot's default QAT registry leaves out, and what nbopt does with them.

- 1-D convolutions and poolings (``Conv1D``, ``MaxPooling1D``): tfmot has the configs for
  their 2-D twins but lists these commented out. TFLite runs a ``Conv1D`` as a ``CONV_2D``
  between two reshapes; its kernel is quantized per tensor (tfmot's per-channel quantizer
  handles 2-D and 4-D kernels only, not a ``Conv1D``'s 3-D one), its activation as a
  ``Conv2D``'s; a max pooling passes its input range through, as ``MaxPooling2D`` does.
- Layers tfmot refuses that have nothing to train (``Rescaling``, an adapted
  ``Normalization``, ...): they are left float with their output quantized, by default, and
  the row's note says so. A refused layer with trainable weights (``Embedding``, ``LSTM``,
  ``MultiHeadAttention``) is still named in an error that suggests ``--skip``: leaving it
  float gives up part of what QAT is for, which the user should choose.
"""

from __future__ import annotations

from typing import Any


def extra_config(layer: Any) -> Any | None:
    """The quantize config nbopt gives ``layer`` where tfmot's registry has none, or None."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_configs as configs,
    )
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    kind = type(layer).__name__
    if kind == "BatchNormalization" and not _after_convolution(layer):
        # tfmot folds a BatchNormalization into the convolution before it; one that follows
        # anything else (DenseNet's and ResNetV2's pre-activation) it refuses. TFLite runs it
        # as a MUL and an ADD: quantizing its output is what int8 needs.
        return configs.Default8BitOutputQuantizeConfig()
    if kind == "Conv1D" and getattr(layer, "groups", 1) == 1:
        return registry.Default8BitQuantizeConfig(["kernel"], ["activation"], False)
    if kind == "MaxPooling1D":
        return configs.NoOpQuantizeConfig()
    return None


def _after_convolution(layer: Any) -> bool:
    """Whether ``layer``'s one input comes from a layer tfmot folds a BatchNormalization
    into (a convolution or a dense layer)."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if len(nodes) != 1:
        return False
    inbound = nodes[0].inbound_layers
    before = inbound[0] if isinstance(inbound, (list, tuple)) and len(inbound) == 1 else inbound
    return type(before).__name__ in ("Conv2D", "DepthwiseConv2D", "Dense")


def nothing_to_train(layer: Any) -> bool:
    """Whether ``layer`` has no trainable weights (it may hold statistics, as an adapted
    Normalization does): QAT has nothing to make quantization-aware in it."""
    return not getattr(layer, "trainable_weights", [])


def left_float_note(layers: list[Any]) -> str:
    """The row's note for refused layers left float by default (grouped by class when a
    class has several: ``16 Multiply layers ('block1a_se_excite', ..., 'block7a_se_excite')``)."""
    by_class: dict[str, list[str]] = {}
    for layer in layers:
        by_class.setdefault(type(layer).__name__, []).append(repr(layer.name))
    listed = ", ".join(
        f"{names[0]} ({kind})"
        if len(names) == 1
        else f"{len(names)} {kind} layers ({names[0]}, ..., {names[-1]})"
        for kind, names in by_class.items()
    )
    verb = "is" if len(layers) == 1 else "are"
    return (
        f"tfmot cannot quantize {listed}, which {verb} left float (nothing in it trains); its "
        "output is quantized, so the layers after it run in int8"
    )


#: Layers tfmot's registry does not list because its layout transforms handle them (a
#: Concatenate's inputs sharing one range, separable convolutions split in two), and the
#: input. (A BatchNormalization after a convolution is folded into it; after anything else
#: :func:`extra_config` gives it one.)
TRANSFORMED = {
    "InputLayer",
    "Concatenate",
    "SeparableConv1D",
    "SeparableConv2D",
}


def transformed(layer: Any) -> bool:
    """Whether tfmot's layout transforms, not its registry, take care of ``layer``."""
    kind = type(layer).__name__
    return kind in TRANSFORMED or (kind == "BatchNormalization" and _after_convolution(layer))


def unsupported_layers(model: Any, leave: set[str]) -> list[str]:
    """The layers (not in ``leave``) that tfmot's registry has no config for and nbopt gives
    none: what ``quantize_apply`` would refuse, one try at a time (a ``MultiHeadAttention``
    even fails in ``compute_output_shape``, naming no layer)."""
    import tf_keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    known = registry.Default8BitQuantizeRegistry()
    return [
        layer.name
        for layer in model.layers
        if not transformed(layer)
        and layer.name not in leave
        and not isinstance(layer, (tf_keras.Model, tf_keras.layers.Lambda))
        and not known.supports(layer)
        and extra_config(layer) is None
    ]
