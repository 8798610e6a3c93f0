"""nbopt: model optimization as a notebook activity.

``%load_ext nbopt`` in IPython or Jupyter registers ``%quantize`` and ``%nbopt``; the same
operations are plain functions here. Importing nbopt does not import TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "Comparison",
    "TFLiteModel",
    "cluster",
    "debug",
    "inspect",
    "load",
    "log",
    "optimize",
    "panel",
    "prune",
    "quantize",
    "recommend",
    "results",
    "sweep",
    "__version__",
]

if TYPE_CHECKING:
    from .api import (
        cluster,
        debug,
        inspect,
        load,
        log,
        optimize,
        prune,
        quantize,
        recommend,
        results,
        sweep,
    )
    from .engine.model.tflite_model import TFLiteModel
    from .engine.pipeline.comparison import Comparison
    from .widgets.panel import panel

_LAZY = {
    "quantize": ("nbopt.api", "quantize"),
    "results": ("nbopt.api", "results"),
    "sweep": ("nbopt.api", "sweep"),
    "recommend": ("nbopt.api", "recommend"),
    "inspect": ("nbopt.api", "inspect"),
    "load": ("nbopt.api", "load"),
    "debug": ("nbopt.api", "debug"),
    "log": ("nbopt.api", "log"),
    "optimize": ("nbopt.api", "optimize"),
    "panel": ("nbopt.widgets.panel", "panel"),
    "prune": ("nbopt.api", "prune"),
    "cluster": ("nbopt.api", "cluster"),
    "Comparison": ("nbopt.engine.pipeline.comparison", "Comparison"),
    "TFLiteModel": ("nbopt.engine.model.tflite_model", "TFLiteModel"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'nbopt' has no attribute {name!r}")


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds nbopt's prebuilt extension (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "nbopt"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbopt``: register the display formatters, the magics, the configuration."""
    from .display.formatters import register
    from .magics import load

    register(ipython)
    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext nbopt``."""
    from .display.formatters import unregister
    from .magics import unload

    unload(ipython)
    unregister(ipython)


def _register_formatters() -> None:
    """Inside IPython, show nbopt's results richly even before ``%load_ext nbopt``."""
    import sys

    if "IPython" not in sys.modules:
        return
    shell = sys.modules["IPython"].get_ipython()
    if shell is not None:
        from .display.formatters import register

        register(shell)


_register_formatters()
