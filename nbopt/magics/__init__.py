"""IPython magics: ``%quantize``, ``%prune``, ``%cluster`` and ``%nbopt``, as shims.

Each magic parses its line into the options the request declares for it (the parsers are
derived from :mod:`nbopt.engine.request` by :mod:`nbopt.surface`), calls :mod:`nbopt.api`,
and shows the result; every mistake becomes one line.

- :mod:`.parsing`: reading a line as Python writes it (``tokenize``), then argparse;
- :mod:`.base`: evaluating options in the namespace, ``--as``, the cell form's fine-tune;
- :mod:`.quantize`, :mod:`.training`, :mod:`.command`: the magics, by technique;
- :mod:`.errors`: one-line errors (``UsageError`` itself), Ctrl-C's count of kept rows;
- :mod:`.live`: the table that fills in while a magic runs.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..config import NbOpt, set_current
from .command import CommandMagics
from .quantize import QuantizeMagics
from .training import TrainingMagics

_announced = False
_MAGICS = ("quantize", "prune", "cluster", "nbopt")


def load(ipython: Any) -> None:
    """Register magics and configuration; select tf_keras if TensorFlow is not loaded yet."""
    global _announced
    config = NbOpt(parent=ipython)
    ipython.configurables.append(config)
    set_current(config)
    for magics in (QuantizeMagics, TrainingMagics, CommandMagics):
        ipython.register_magics(magics)
    if "tensorflow" not in sys.modules and "TF_USE_LEGACY_KERAS" not in os.environ:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        if not _announced:
            print(
                "nbopt: set TF_USE_LEGACY_KERAS=1, so tf.keras is Keras 2 (tf_keras), "
                "which the Model Optimization Toolkit needs."
            )
    _announced = True
    from ..engine import capture

    capture.import_tensorflow()  # its native log lines go to %nbopt log, not the next cell
    if config.isolate:
        from ..engine.convert import worker

        # The converter's process starts now, not at the first %quantize, forked from this
        # one while TensorFlow is imported but idle: the two share its memory.
        worker.warm(fork=True)


def unload(ipython: Any) -> None:
    """Remove the magics and the configuration object."""
    for kind in ("line", "cell"):
        for name in _MAGICS:
            ipython.magics_manager.magics[kind].pop(name, None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, NbOpt)]
    set_current(None)
