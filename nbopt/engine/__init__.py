"""The engine: data in, data out; no IPython, no widgets, no HTML. TensorFlow on first use.

Its parts, one sub-package each:

- :mod:`.data`: what users pass as ``calib``, ``eval`` and ``fit``, made into arrays;
- :mod:`.model`: Keras models (2 and 3) and converted ``.tflite`` models (:class:`TFLiteModel`);
- :mod:`.convert`: making variants (TFLite converter, LiteRT Quantizer, the isolated worker);
- :mod:`.measure`: running, timing, memory and weights of a flatbuffer;
- :mod:`.analyse`: compatibility, per-layer debugging, selective quantization, the
  recommendation, the Pareto front;
- :mod:`.store`: the results schema, rows, the SQLite store and caches;
- :mod:`.pipeline`: a comparison's stages (check -> make -> measure -> record);
- :mod:`.training`: QAT, pruning and clustering with tfmot, through the same pipeline.

Loose here: :mod:`.events` (the progress stream every front end renders) and
:mod:`.capture` (native output kept out of cells).
"""
