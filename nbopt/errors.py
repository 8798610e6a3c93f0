"""nbopt's exceptions.

A user's mistake is an :class:`NbOptUsageError` (also a ``ValueError``) or an
:class:`NbOptTypeError` (also a ``TypeError``); the magics turn either into one
line, raising IPython's ``UsageError`` itself (see :mod:`nbopt.magics.errors`), and the
command line prints it as one ``nbopt: error:`` line. Every message says what is wrong
and what to do.
"""

from __future__ import annotations


class NbOptError(Exception):
    """Base class of every error nbopt raises on purpose."""


class NbOptUsageError(NbOptError, ValueError):
    """A call's values are wrong: an unknown scheme, data of the wrong shape, ..."""


class NbOptTypeError(NbOptError, TypeError):
    """A call's argument is of the wrong kind: not a Keras model, not an array, ..."""


class ConversionError(NbOptError, RuntimeError):
    """The TFLite converter or the interpreter failed on a model (not the user's mistake)."""


class InvalidModelError(NbOptUsageError):
    """Bytes given as a .tflite model are not one nbopt can open safely (damaged, truncated,
    not a TFLite flatbuffer); the message names the file and what is wrong."""
