"""Training-time techniques of the Model Optimization Toolkit, measured like the others.

Quantization-aware training, pruning and weight clustering each take a copy of the user's
model (rebuilt with tf_keras if it is a Keras 3 model), wrap it with tfmot, fine-tune it,
strip the wrappers, export a .tflite and measure it beside the float32 baseline. What to
apply and how is a :class:`~nbopt.engine.request.Request` (its ``technique`` and its
``training`` part).

- :mod:`.technique`: what to apply (:class:`Technique`, read from the request);
- :mod:`.checks`: the request's training mistakes, raised before any work;
- :mod:`.tfmot_wrap`: wrapping a copy with tfmot (``skip``, refused layers, cluster limits);
- :mod:`.qat_layers`: layers tfmot's QAT registry leaves out (``Conv1D``, a
  BatchNormalization after no convolution) and those left float by default;
- :mod:`.finetune`: compiling and fitting the wrapped copy;
- :mod:`.pipeline`: the four steps every technique takes (:func:`optimize`).

Import from the modules themselves (``from nbopt.engine.training.pipeline import optimize``).
"""
