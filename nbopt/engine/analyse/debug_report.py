"""The per-layer debug report (:func:`~nbopt.engine.analyse.sensitivity.analyze`'s answer).

:class:`DebugReport` holds one row per Keras layer (:data:`COLUMNS`), most harmful first,
and says what was measured, which layers are suspect and what to try next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Columns of ``DebugReport.df``, in order.
COLUMNS = (
    "layer",
    "ops",
    "sensitivity",
    "metric_alone",
    "output_error",
    "rmse_over_scale",
    "sqnr_db",
    "range",
    "scale",
    "zero_point",
    "max_abs_error",
    "suspect",
)


@dataclass
class DebugReport:
    """The per-layer analysis of one model: which layers ``scheme`` hurts, and how much.

    ``df`` has one row per Keras layer that became TFLite ops, most harmful first;
    ``measure`` says what ``sensitivity`` is, ``rule`` when a layer is ``suspect``, and
    ``advice`` what to try.
    """

    name: str
    scheme: str
    rows: list[dict[str, Any]]
    measure: str
    rule: str
    metric: str | None = None
    float_value: float | None = None
    quantized_value: float | None = None
    seconds: float = 0.0
    calib_samples: int = 0
    eval_samples: int = 0
    without_ops: list[str] = field(default_factory=list)

    @property
    def df(self) -> Any:
        """One row per layer, sorted by ``sensitivity`` (most harmful first)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    @property
    def suspects(self) -> list[str]:
        """The suspect layers, most harmful first."""
        return [r["layer"] for r in self.rows if r["suspect"]]

    @property
    def summary(self) -> str:
        """The float and quantized metric, one sentence."""
        if self.metric is None or self.float_value is None or self.quantized_value is None:
            return ""
        return (
            f"{self.metric}: float32 {self.float_value:.4g}, {self.scheme} "
            f"{self.quantized_value:.4g} ({self.quantized_value - self.float_value:+.4g})."
        )

    @property
    def advice(self) -> str:
        """One sentence: what to try next."""
        if not self.suspects:
            other = "--scheme int16x8" if self.scheme == "int8" else "dynamic or float16"
            return (
                f"No layer stands out; if {self.scheme} still loses too much, try {other} "
                "or --max-drop with --eval."
            )
        names = ",".join(self.suspects[:3])
        return (
            f"Try --float {names} to keep {'it' if len(self.suspects[:3]) == 1 else 'them'} "
            f"in float, or --max-drop 0.01 to find the fewest float layers that keep the "
            "metric within a point."
        )

    def __repr__(self) -> str:
        lines = [f"nbopt debug: {self.name} ({self.scheme}), {len(self.rows)} layers"]
        if self.summary:
            lines.append(self.summary)
        lines.append(self.df.to_string(index=False))
        lines += [f"sensitivity: {self.measure}", f"suspect: {self.rule}", self.advice]
        return "\n".join(lines)
