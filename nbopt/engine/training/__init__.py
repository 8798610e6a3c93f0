"""Training-time techniques of the Model Optimization Toolkit, measured like the others.

Quantization-aware training, pruning and weight clustering each take a copy of the user's
model (rebuilt with tf_keras if it is a Keras 3 model), wrap it with tfmot, fine-tune it,
strip the wrappers, export a .tflite and measure it beside the float32 baseline.

- :mod:`.technique`: what to apply (:class:`Technique`);
- :mod:`.options`: how to train and measure it (:class:`TrainOptions`);
- :mod:`.tfmot_wrap`: wrapping a copy with tfmot (``skip``, refused layers, cluster limits);
- :mod:`.finetune`: compiling and fitting the wrapped copy;
- :mod:`.pipeline`: the four steps every technique takes (:func:`optimize`).
"""

from .finetune import compile_like, pruning_schedule, with_pruning_step
from .options import TrainOptions
from .pipeline import Outcome, optimize
from .technique import INITS, PRESERVE, SCHEDULES, TECHNIQUES, NbOptWarning, Technique
from .tfmot_wrap import require_graph_model, supported_clusters, tfmot_model

__all__ = [
    "INITS",
    "PRESERVE",
    "SCHEDULES",
    "TECHNIQUES",
    "NbOptWarning",
    "Outcome",
    "Technique",
    "TrainOptions",
    "compile_like",
    "optimize",
    "pruning_schedule",
    "require_graph_model",
    "supported_clusters",
    "tfmot_model",
    "with_pruning_step",
]
