"""Data in: what users pass as ``calib``, ``eval`` and ``fit``, made into the arrays a model takes.

- :mod:`.specs`: what a model's inputs and outputs are (:class:`InputSpec`, :class:`OutputSpec`)
  and labelled data (:class:`EvalData`);
- :mod:`.arrays`: arrays, DataFrames, ``(x, y)`` tuples, ``tf.data`` datasets and generators
  turned into input and label arrays (calibration samples among them);
- :mod:`.labels`: ``eval`` and ``fit`` read as inputs with per-output labels;
- :mod:`.metrics`: scoring predictions (top-1 accuracy, mean squared error, a callable).
"""
