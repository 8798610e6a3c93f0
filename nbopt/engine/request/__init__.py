"""The request: every option of nbopt's operations, declared once.

A :class:`Request` is what the engine receives: a frozen dataclass whose parts hold the data
(:class:`Data`), how variants are made (:class:`Conversion`), how a copy is fine-tuned
(:class:`Training`), how variants are measured (:class:`Measurement`), what the analyses
ask (:class:`Analysis`), a sweep's grid (:class:`Grid`) and where the result goes
(:class:`Output`). Each user-facing field is declared with :func:`option`: its help, its
flag, its type and choices, and which operations (``ENTRIES``) and surfaces (the Python
API, the magics, the command line) take it. The API's signatures and docstrings and the
magics' and the CLI's argument parsers are derived from these declarations
(:mod:`nbopt.surface`): a new option is one field here plus its use in the engine.

Fields declared with :func:`context` are not options: the front end fills them (the
measurement settings in force, a chained model's baseline row).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from ...errors import NbOptUsageError
from ..measure.latency import MeasureSettings
from .option import Option
from .parts import Analysis, Conversion, Data, Grid, Measurement, Output, Training

__all__ = ["Declared", "Option", "Request", "declared"]

PARTS = {
    "data": Data,
    "conversion": Conversion,
    "training": Training,
    "measurement": Measurement,
    "analysis": Analysis,
    "grid": Grid,
    "output": Output,
}


@dataclass(frozen=True)
class Request:
    """Everything one operation was asked: its technique and the options of each part.

    ``technique`` is ``ptq`` (post-training schemes), ``qat``, ``prune`` or ``cluster``.
    Build one with :meth:`build` from flat keyword options (what the API and the magics
    receive); read ``request.data.calib``, ``request.training.epochs`` and so on.
    """

    technique: str = "ptq"
    data: Data = field(default_factory=Data)
    conversion: Conversion = field(default_factory=Conversion)
    training: Training = field(default_factory=Training)
    measurement: Measurement = field(default_factory=Measurement)
    analysis: Analysis = field(default_factory=Analysis)
    grid: Grid = field(default_factory=Grid)
    output: Output = field(default_factory=Output)

    @classmethod
    def build(cls, technique: str = "ptq", **options: Any) -> Request:
        """A request from flat options (``calib=``, ``epochs=``, ...); unknown names raise."""
        homes = _homes()
        unknown = sorted(set(options) - set(homes))
        if unknown:
            raise NbOptUsageError(f"unknown option {unknown[0]!r}")
        parts: dict[str, dict[str, Any]] = {part: {} for part in PARTS}
        for name, value in options.items():
            parts[homes[name]][name] = value
        return cls(technique, **{p: PARTS[p](**values) for p, values in parts.items()})

    def with_options(self, **options: Any) -> Request:
        """A copy with some flat options (or context fields) changed."""
        homes = _homes()
        out = self
        for name, value in options.items():
            part = homes[name]
            out = replace(out, **{part: replace(getattr(out, part), **{name: value})})
        return out

    def get(self, name: str) -> Any:
        """One flat option's value (``request.get("epochs")``)."""
        return getattr(getattr(self, _homes()[name]), name)

    @property
    def settings(self) -> MeasureSettings:
        return self.measurement.settings

    @property
    def name(self) -> str | None:
        return self.output.name

    @property
    def listener(self) -> Any:
        return self.output.progress


def _homes() -> dict[str, str]:
    """Every field name (options and context) -> the part that holds it."""
    return {f.name: part for part, cls in PARTS.items() for f in fields(cls)}


@dataclass(frozen=True)
class Declared:
    """One declared option: its name, its part, its default and how it appears."""

    name: str
    part: str
    default: Any
    option: Option


def declared(entry: str | None = None, surface: str | None = None) -> Iterator[Declared]:
    """The options, in declaration order; only those ``entry`` takes on ``surface``."""
    for part, cls in PARTS.items():
        for f in fields(cls):
            opt = f.metadata.get("option")
            if opt is None:
                continue
            if entry is not None and entry not in opt.entries:
                continue
            if surface is not None and surface not in opt.surfaces:
                continue
            default = f.default if f.default is not MISSING else None
            yield Declared(f.name, part, default, opt)
