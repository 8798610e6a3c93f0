"""The Python API: the one door the magics, the panel and the CLI use.

Each entry point is thin: its options (names, defaults, docs) are declared once in
:mod:`nbopt.engine.request` and derived by :mod:`nbopt.surface`; it fills in the context
(:mod:`.context`) and hands the engine one request.

- :mod:`.techniques`: ``quantize``, ``prune``, ``cluster``;
- :mod:`.analysis`: ``debug``, ``inspect``;
- :mod:`.recommend`: ``recommend``;
- :mod:`.optimize`: ``optimize`` (the search; its result in :mod:`.optimized`);
- :mod:`.files`: ``load`` (a .tflite from anywhere, verified);
- :mod:`.rows`: ``sweep``, ``results``, ``log``.
"""

from .analysis import debug, inspect
from .files import load
from .optimize import optimize
from .recommend import recommend
from .rows import log, results, sweep
from .techniques import cluster, prune, quantize

__all__ = [
    "cluster",
    "debug",
    "inspect",
    "load",
    "log",
    "optimize",
    "prune",
    "quantize",
    "recommend",
    "results",
    "sweep",
]
