"""Reading results and flatbuffers for answers: what runs where, which layer hurts, what to pick.

- :mod:`.compat`: op breakdown, GPU delegate and Edge TPU / TFLite Micro readiness;
- :mod:`.layers`: which ops of a flatbuffer belong to which Keras layer;
- :mod:`.selective`: int8 variants with named layers kept float, derived from one
  calibration;
- :mod:`.debug`: per-layer sensitivity, and the search for the fewest float layers within a
  metric budget;
- :mod:`.recommend`: TFLite's decision tree (pure logic: the pick, the path, the reasons);
- :mod:`.pareto`: the variants no other beats on both axes.
"""
