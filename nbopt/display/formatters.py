"""Registering the presentation layer as IPython's display formatters for nbopt's types.

Types are named by module and class (``for_type_by_name``), so registering imports
neither the engine nor TensorFlow.
"""

from __future__ import annotations

from typing import Any

#: (module, class, the bundle of one object) for the MIME-bundle formatter.
_BUNDLES = (
    ("nbopt.engine.pipeline.comparison", "Comparison", "comparison_bundle"),
    ("nbopt.engine.model.tflite_model", "TFLiteModel", "model_bundle"),
    ("nbopt.engine.analyse.debug_report", "DebugReport", "debug_bundle"),
    ("nbopt.api.optimized", "Optimized", "optimized_bundle"),
)
#: (module, class, its HTML) for the text/html formatter.
_HTML = (
    ("nbopt.engine.analyse.recommend", "Recommendation", "recommendation_html"),
    ("nbopt.engine.analyse.compat", "Inspection", "inspection_html"),
    ("nbopt.engine.analyse.recommend", "Trail", "trail_html"),
)


def _function(name: str) -> Any:
    import nbopt.display as display

    return getattr(display, name)


def register(shell: Any) -> None:
    """Make nbopt's renderings ``shell``'s formatters (idempotent)."""
    formatter = getattr(shell, "display_formatter", None)
    if formatter is None:
        return
    for module, cls, fn in _BUNDLES:
        formatter.mimebundle_formatter.for_type_by_name(module, cls, _bundle(_function(fn)))
    html = formatter.formatters["text/html"]
    for module, cls, fn in _HTML:
        html.for_type_by_name(module, cls, _function(fn))


def unregister(shell: Any) -> None:
    """Remove what :func:`register` added."""
    formatter = getattr(shell, "display_formatter", None)
    if formatter is None:
        return
    for module, cls, _ in _BUNDLES:
        _pop(formatter.mimebundle_formatter, module, cls)
    for module, cls, _ in _HTML:
        _pop(formatter.formatters["text/html"], module, cls)


def _pop(f: Any, module: str, cls: str) -> None:
    f.deferred_printers.pop((module, cls), None)
    for typ in list(f.type_printers):
        if getattr(typ, "__module__", None) == module and typ.__name__ == cls:
            f.type_printers.pop(typ)


def _bundle(fn: Any) -> Any:
    def printer(obj: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        data = fn(obj)
        if include:
            data = {k: v for k, v in data.items() if k in include}
        if exclude:
            data = {k: v for k, v in data.items() if k not in exclude}
        return data

    return printer
