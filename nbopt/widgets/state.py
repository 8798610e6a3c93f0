"""The panel's state as traitlets, and what it is made of.

:class:`PanelState` holds what the panel shows (the selection, the run's state, its rows,
per-variant progress, the error, the variant chosen for export, the int8 debug report and
the layers ticked to keep float) and refuses a selection or a layer that cannot be; the
view only observes it. :class:`Settings` is what a run reads of the sliders and dropdowns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traitlets import Dict, Enum, Float, HasTraits, List, TraitError, Unicode, validate

from ..engine.convert.converter import NEEDS_CALIBRATION, SCHEMES
from ..engine.store.schema import variant_label
from ..errors import NbOptUsageError

#: Techniques that fine-tune, after the post-training schemes.
TRAINING = ("qat", "prune", "cluster")
#: Every scheme the panel offers, in the order it runs them.
CHOICES = (*SCHEMES, *TRAINING)
#: How far a variant is once its run reports each phase.
PHASES = {"converting": 0.3, "measuring latency": 0.6, "evaluating": 0.85}
#: The states of a run; the last three are final.
STATES = ("idle", "running", "cancelling", "done", "cancelled", "failed")
#: The states of a per-layer debug run.
DEBUG_STATES = ("idle", "running", "done", "failed")


def variant_name(row: dict[str, Any]) -> str:
    """The variant a row measured, as tables name it (``int8``, ``prune``, ``qat``)."""
    return variant_label(row)


def missing_data(key: str, calib: bool, fit: bool) -> str | None:
    """What to pass to enable ``key``, or None if the data it needs is there."""
    if key in NEEDS_CALIBRATION and not calib and not fit:
        return "needs --calib x_train[:256] (calib=...)"
    if key in TRAINING and not fit:
        return "needs --fit x_train,y_train (fit=(x, y))"
    return None


class PanelState(HasTraits):
    """Everything the panel shows, as traitlets (rows are replaced, never mutated).

    ``disabled`` maps each choice that cannot run to the reason (what to pass); a
    selection including one of them is refused with that reason.
    """

    disabled = Dict(help="choice -> what to pass to enable it")
    selection = List(Unicode(), help="the chosen schemes, in the order they run")
    state = Enum(STATES, default_value="idle", help="where the run is")
    rows = List(help="the last run's rows, in measurement order")
    progress = Dict(help="variant -> {'fraction', 'message', 'status'} of the last run")
    error = Unicode(None, allow_none=True, help="why the last run failed")
    chosen = Unicode(None, allow_none=True, help="the variant to export")
    elapsed = Float(0.0, help="seconds the last run took")
    debug_state = Enum(DEBUG_STATES, default_value="idle", help="where the debug run is")
    debug_rows = List(help="the int8 debug report's rows, most harmful layer first")
    debug_error = Unicode(None, allow_none=True, help="why the debug run failed")
    float_layers = List(Unicode(), help="the layers ticked to keep in float")

    @validate("float_layers")
    def _check_float_layers(self, proposal: dict[str, Any]) -> list[str]:
        names = list(proposal["value"])
        known = [r["layer"] for r in self.debug_rows]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise NbOptUsageError(
                f"no debugged layer {', '.join(repr(u) for u in unknown)}; "
                f"the layers are {', '.join(known) or 'none yet (run Debug int8)'}"
            )
        return [n for n in known if n in names]  # in the report's order

    @validate("selection")
    def _check_selection(self, proposal: dict[str, Any]) -> list[str]:
        names = list(proposal["value"])
        unknown = [n for n in names if n not in CHOICES]
        if unknown:
            raise NbOptUsageError(
                f"unknown scheme {', '.join(repr(u) for u in unknown)}; "
                f"choose from {', '.join(CHOICES)}"
            )
        for n in names:
            if n in self.disabled:
                raise NbOptUsageError(f"{n} {self.disabled[n]}")
        return [k for k in CHOICES if k in names]

    @validate("chosen")
    def _check_chosen(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"]
        if value is not None and value not in self.variants:
            raise TraitError(f"no measured variant {value!r}")
        return value

    @property
    def running(self) -> bool:
        return self.state in ("running", "cancelling")

    @property
    def variants(self) -> list[str]:
        """The measured variants' names, in the order of ``rows``."""
        return [variant_name(r) for r in self.rows]


@dataclass(frozen=True)
class Settings:
    """The panel's sliders and dropdowns, read once when a run starts."""

    sparsity: float = 0.5
    sparse: bool = False
    clusters: int = 16
    epochs: int = 1
    io: str = "float"
