"""The two kinds of model nbopt holds: a user's Keras model, and a converted ``.tflite``.

- :mod:`.keras_models`: recognising tf_keras (Keras 2) and Keras 3 models without importing
  either, and reading their input and output specs;
- :mod:`.rebuild`: a Keras 3 model rebuilt as an equivalent tf_keras model for tfmot;
- :mod:`.tflite_model`: :class:`TFLiteModel`, a variant with what a user does with it
  (predict, evaluate, benchmark, save).
"""
