"""What a model takes and gives (:class:`InputSpec`, :class:`OutputSpec`); labelled data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Calibration stops after this many samples when the data is an endless stream.
MAX_CALIBRATION_SAMPLES = 2000


@dataclass(frozen=True)
class InputSpec:
    """One model input: its shape with ``None`` for unknown dims (batch first) and dtype."""

    shape: tuple[int | None, ...]
    dtype: str
    name: str = ""

    def describe(self) -> str:
        dims = ", ".join("None" if d is None else str(d) for d in self.shape)
        return f"({dims})"


@dataclass(frozen=True)
class OutputSpec:
    """One model output: its name, shape (batch first) and another name it answers to."""

    name: str
    shape: tuple[int | None, ...]
    key: str | None = None


@dataclass
class EvalData:
    """Inputs (one array per model input) and labels (one array per scored output).

    ``outputs`` holds the index in the model's outputs that each label array scores, and
    ``names`` those outputs' names; ``y`` is the first scored output's labels.
    """

    x: list[np.ndarray]
    ys: list[np.ndarray]
    outputs: list[int] = field(default_factory=lambda: [0])
    names: list[str] = field(default_factory=lambda: ["out0"])

    @property
    def y(self) -> np.ndarray:
        return self.ys[0]

    @property
    def targets(self) -> Any:
        """The labels as Keras' ``fit`` takes them: one array, or a list per output."""
        return self.ys[0] if len(self.ys) == 1 else list(self.ys)

    def __len__(self) -> int:
        return len(self.ys[0])
