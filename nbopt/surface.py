"""The surfaces derived from the request's declarations: API signatures, magic and CLI options.

:mod:`nbopt.engine.request` declares every option once. Here each operation
(:data:`ENTRIES`) gets, from those declarations:

- its Python API function (:func:`entry_point`): a keyword signature (``inspect.signature``
  and ``help()`` show it) and a numpy-style *Parameters* section, and a body that builds the
  :class:`~nbopt.engine.request.Request` the engine receives;
- its argparse options (:func:`add_options`), used by the magics' parsers and the command
  line, with the same help texts.

An operation's own parameters that are not options (the model, a sweep's grid) and its
positional order and defaults sit in its :class:`Entry`.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .engine.request import Declared, Request, declared
from .engine.request import option as req
from .engine.request.option import API, CLI, MAGIC


@dataclass(frozen=True)
class Entry:
    """One operation: its leading parameters, and how its options differ from the declared.

    ``params``: parameters before the options that are not options (``model``, a sweep's
    ``grid``), with their docs; ``positional``: options that may be passed by position;
    ``defaults``, ``choices``: per-operation values; ``required``: options a magic must be
    given (the API has a default for them).
    """

    name: str
    technique: str = "ptq"
    params: tuple[tuple[str, str, str], ...] = (
        ("model", "keras.Model", "A tf_keras (Keras 2) or Keras 3 model. It is only read."),
    )
    positional: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    def default(self, d: Declared) -> Any:
        return self.defaults.get(d.name, d.default)

    def options(self, surface: str) -> list[Declared]:
        """The options this operation takes on ``surface``, positional ones first."""
        found = list(declared(self.name, surface))
        order = {name: i for i, name in enumerate(self.positional)}
        return sorted(found, key=lambda d: order.get(d.name, len(order)))


_CHAINED = (
    "model",
    "keras.Model or TFLiteModel",
    "The Keras model, or a pruned, clustered or QAT result to chain (its baseline is kept).",
)

ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(req.QUANTIZE, params=(_CHAINED,), positional=("scheme", "calib", "eval")),
        Entry(
            req.PRUNE,
            "prune",
            params=(_CHAINED,),
            positional=("sparsity", "fit"),
            defaults={"sparsity": 0.5, "epochs": 2},
            required=("sparsity",),
        ),
        Entry(
            req.CLUSTER,
            "cluster",
            params=(_CHAINED,),
            positional=("clusters", "fit"),
            defaults={"clusters": 16},
            choices={"preserve": ("sparsity",)},
            required=("clusters",),
        ),
        Entry(
            req.DEBUG,
            positional=("calib", "eval", "scheme"),
            defaults={"scheme": "int8"},
            choices={"scheme": ("int8", "int16x8")},
        ),
        Entry(req.RECOMMEND, positional=("calib", "fit", "eval"), defaults={"max_drop": 0.01}),
        Entry(
            req.SWEEP,
            params=(
                ("models", "keras.Model, list or dict of name -> model", "The models to sweep."),
                (
                    "grid",
                    "dict, optional",
                    "Axes whose product is swept: prune (sparsities), cluster (cluster "
                    "counts; after pruning they preserve the zeros), then (the scheme after "
                    'training; "none" keeps float32), or scheme (post-training schemes). '
                    "Values are lists or comma-separated strings.",
                ),
            ),
            positional=("fit", "calib", "eval", "client"),
        ),
        Entry(req.PANEL, positional=("calib", "eval", "fit")),
        Entry(
            req.OPTIMIZE,
            positional=("goal", "max_drop", "calib", "fit", "eval"),
            defaults={"max_drop": 0.01},
            choices={"target": ("cpu", "gpu", "edgetpu", "mcu")},
        ),
        Entry(req.COMPARE),
    )
}


# ---------------------------------------------------------------- the Python API


def _parameters(entry: Entry) -> list[inspect.Parameter]:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    out = [
        inspect.Parameter(name, kind, default=None if i else inspect.Parameter.empty)
        for i, (name, _, _) in enumerate(entry.params)
    ]
    for d in entry.options(API):
        kind = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD
            if d.name in entry.positional
            else inspect.Parameter.KEYWORD_ONLY
        )
        out.append(inspect.Parameter(d.name, kind, default=entry.default(d)))
    return out


def _type_text(entry: Entry, d: Declared) -> str:
    choices = entry.choices.get(d.name, d.option.choices)
    if choices:
        return "{" + ", ".join(f'"{c}"' for c in choices) + "}"
    if d.option.doc_type:
        return d.option.doc_type
    if d.option.kind == "flag":
        return "bool"
    return getattr(d.option.type, "__name__", "str")


def parameters_doc(entry: Entry) -> str:
    """The numpy-style *Parameters* section of ``entry``'s API function."""
    lines = ["Parameters", "----------"]
    items = [(name, kind, text) for name, kind, text in entry.params]
    items += [(d.name, _type_text(entry, d), d.option.help) for d in entry.options(API)]
    for name, kind, text in items:
        lines.append(f"{name} : {kind}")
        lines += textwrap.wrap(text, 88, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)


def _docstring(entry: Entry, impl: Callable[..., Any]) -> str:
    doc = inspect.cleandoc(impl.__doc__ or "")
    head, sep, tail = doc.partition("\nReturns\n")
    return f"{head.rstrip()}\n\n{parameters_doc(entry)}\n" + (f"\nReturns\n{tail}" if sep else "")


def entry_point(
    entry_name: str, settings: Callable[[Request], Request]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make ``impl(*params, request)`` the API function of ``entry_name``.

    The function takes ``impl``'s leading parameters and every option the entry declares
    (its signature and docstring say so) and calls ``impl`` with the built request, after
    ``settings`` filled in its context (the measurement settings in force).
    """
    entry = ENTRIES[entry_name]
    signature = inspect.Signature(_parameters(entry))
    leading = [name for name, _, _ in entry.params]

    def decorate(impl: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(impl)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{entry_name}(): {exc}") from None
            bound.apply_defaults()
            values = dict(bound.arguments)
            head = [values.pop(name) for name in leading]
            request = settings(Request.build(entry.technique, **values))
            return impl(*head, request)

        call.__signature__ = signature  # type: ignore[attr-defined]
        call.__doc__ = _docstring(entry, impl)
        del call.__wrapped__  # type: ignore[attr-defined] # help() shows the signature above
        return call

    return decorate


# ---------------------------------------------------------------- argparse options


def _argument(entry: Entry, d: Declared, surface: str) -> tuple[list[str], dict[str, Any]]:
    opt = d.option
    flags = [opt.flag_for(d.name, surface), *opt.aliases]
    if opt.short and surface == MAGIC:
        flags.insert(0, opt.short)
    helptext = (opt.cli_help if surface == CLI else None) or opt.help
    kwargs: dict[str, Any] = {"dest": d.name, "default": None, "help": helptext.replace("%", "%%")}
    if opt.kind == "flag":
        kwargs.update(action="store_true", default=False)
        return flags, kwargs
    choices = entry.choices.get(d.name, opt.choices)
    if choices:
        kwargs["choices"] = list(choices)
    else:
        kwargs["metavar"] = flags[-1].lstrip("-").replace("-", "_").upper()
    if opt.kind == "value" and opt.type is not str:
        kwargs["type"] = opt.type
    if d.name in entry.required and surface == MAGIC:
        kwargs["required"] = True
    if opt.bare and surface == MAGIC:
        kwargs.update(nargs="?", const="")
    return flags, kwargs


def add_options(parser: argparse.ArgumentParser, entry_name: str, surface: str) -> None:
    """Add ``entry_name``'s options on ``surface`` (MAGIC or CLI) to ``parser``.

    Every option defaults to None (False for a switch): only what was given is passed on,
    so the API's defaults apply to the rest.
    """
    entry = ENTRIES[entry_name]
    for d in entry.options(surface):
        flags, kwargs = _argument(entry, d, surface)
        parser.add_argument(*flags, **kwargs)


def magic_options(entry_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``add_options`` as IPython ``@argument`` decorators, for ``@magic_arguments()``."""
    from IPython.core.magic_arguments import argument

    entry = ENTRIES[entry_name]

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for d in reversed(entry.options(MAGIC)):
            flags, kwargs = _argument(entry, d, MAGIC)
            fn = argument(*flags, **kwargs)(fn)
        return fn

    return decorate


def given(args: argparse.Namespace, entry_name: str, surface: str) -> dict[str, Any]:
    """The options of ``entry_name`` that ``args`` holds a value for (raw, unevaluated)."""
    out = {}
    for d in ENTRIES[entry_name].options(surface):
        value = getattr(args, d.name, None)
        if value is None or (d.option.kind == "flag" and value is False):
            continue
        out[d.name] = value
    return out


def kind_of(name: str) -> str | None:
    """The declared kind of option ``name`` (``data``, ``expr``, ``metric``, ``flag``, ...)."""
    return next((d.option.kind for d in declared() if d.name == name), None)
