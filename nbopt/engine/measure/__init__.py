"""Measuring a flatbuffer: running it, timing it, and the memory and weights it holds.

- :mod:`.interpreter`: running a flatbuffer with the LiteRT interpreter, in batches;
- :mod:`.latency`: sizes, gzip size and latency (:class:`MeasureSettings`);
- :mod:`.memory`: flash (weights) and RAM (the tensor arena), TFLite Micro's figure where it runs;
- :mod:`.weights`: the constant weight tensors, for sparsity and distinct values.
"""
