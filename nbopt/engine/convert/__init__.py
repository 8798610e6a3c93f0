"""Making variants: a Keras model or a float32 flatbuffer in, a quantized flatbuffer out.

- :mod:`.converter`: the schemes, and the TFLite converter (Keras model -> SavedModel ->
  flatbuffer), recurrent models and Flex ops included;
- :mod:`.litert`: the LiteRT Quantizer's recipes, which derive float16, dynamic, int8, int4,
  blockwise and weight-only variants from the float32 flatbuffer in a fraction of a second;
- :mod:`.worker`: the crash-isolated process the converter runs in, so a native abort spares
  the kernel.
"""
