"""Reading results and flatbuffers for answers: what runs where, which layer hurts, what to pick.

- :mod:`.compat`: op breakdown, GPU delegate and Edge TPU / TFLite Micro readiness;
- :mod:`.layers`: which ops of a flatbuffer belong to which Keras layer;
- :mod:`.selective`: int8 variants with named layers kept float, derived from one
  calibration;
- :mod:`.sensitivity`: per-layer sensitivity, one layer quantized at a time;
- :mod:`.debug_report`: its answer, :class:`~nbopt.engine.analyse.debug_report.DebugReport`;
- :mod:`.float_search`: the search for the fewest float layers within a metric budget;
- :mod:`.recommend`: TFLite's decision tree (pure logic: the pick, the path, the reasons);
- :mod:`.pareto`: the variants no other beats on both axes.
"""
