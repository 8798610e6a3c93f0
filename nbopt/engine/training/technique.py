"""What a training-time technique applies: QAT, pruning or clustering, and its parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import NbOptUsageError

TECHNIQUES = ("qat", "prune", "cluster")
SCHEDULES = ("polynomial", "constant")
INITS = {
    "kmeans++": "KMEANS_PLUS_PLUS",
    "linear": "LINEAR",
    "density": "DENSITY_BASED",
    "random": "RANDOM",
}
PRESERVE = {"qat": ("sparsity", "clusters", "both"), "cluster": ("sparsity",), "prune": ()}


class NbOptWarning(UserWarning):
    """Something worked, but not as asked (e.g. pruning reached less than its target)."""


def layer_names(skip: Any) -> list[str]:
    """``"a, b"``, ``["a", "b"]`` or None as a list of layer names."""
    if skip is None:
        return []
    if isinstance(skip, str):
        return [s.strip() for s in skip.split(",") if s.strip()]
    if isinstance(skip, (list, tuple, set)) and all(isinstance(s, str) for s in skip):
        return [s.strip() for s in skip if s.strip()]
    raise NbOptUsageError(
        f"skip must be layer names (a comma-separated string or a list), got {skip!r}"
    )


@dataclass
class Technique:
    """What to apply and with which parameters; ``skip`` names layers left as they are."""

    kind: str
    sparsity: float | None = None
    schedule: str = "polynomial"
    structure: str | None = None
    clusters: int | None = None
    init: str = "kmeans++"
    preserve: str | None = None
    skip: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.skip = layer_names(self.skip)

    @classmethod
    def of(cls, request: Any) -> Technique:
        """The technique a :class:`~nbopt.engine.request.Request` asks for."""
        t = request.training
        return cls(
            request.technique,
            sparsity=t.sparsity,
            schedule=t.schedule,
            structure=t.structure,
            clusters=t.clusters,
            init=t.init,
            preserve=t.preserve,
            skip=t.skip,
        )

    def validate(self) -> None:
        """Raise the mistakes in the technique's own parameters."""
        if self.kind not in TECHNIQUES:
            raise NbOptUsageError(f"unknown technique {self.kind!r}; choose from {TECHNIQUES}")
        if self.kind == "prune":
            self._validate_pruning()
        if self.kind == "cluster":
            if not isinstance(self.clusters, (int, np.integer)) or self.clusters < 2:
                raise NbOptUsageError(
                    f"clusters must be a whole number of 2 or more, got {self.clusters}; "
                    "e.g. --clusters 16"
                )
            if self.init not in INITS:
                raise NbOptUsageError(f"unknown init {self.init!r}; choose from {', '.join(INITS)}")
        if self.preserve is not None and self.preserve not in PRESERVE[self.kind]:
            allowed = ", ".join(PRESERVE[self.kind]) or "nothing"
            raise NbOptUsageError(
                f"--preserve {self.preserve} does not apply to {self.kind}; it can preserve "
                f"{allowed}"
            )

    def _validate_pruning(self) -> None:
        if self.sparsity is None or not isinstance(self.sparsity, (int, float)):
            raise NbOptUsageError("pruning needs a target sparsity, e.g. --sparsity 0.8")
        if not 0 <= float(self.sparsity) < 1:
            raise NbOptUsageError(
                f"sparsity must be in [0, 1), got {self.sparsity}; e.g. --sparsity 0.8 "
                "keeps 20% of the weights"
            )
        if self.schedule not in SCHEDULES:
            raise NbOptUsageError(
                f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}"
            )
        self.structure_m_by_n()

    def check_skip(self, model: Any) -> None:
        """Every name in ``skip`` is a layer of ``model``."""
        names = [layer.name for layer in model.layers]
        unknown = [s for s in self.skip if s not in names]
        if unknown:
            raise NbOptUsageError(
                f"--skip: no layer named {', '.join(repr(u) for u in unknown)}; the model's "
                f"layers are {', '.join(names)}"
            )

    def structure_m_by_n(self) -> tuple[int, int] | None:
        if not self.structure:
            return None
        try:
            m, n = (int(v) for v in self.structure.split(":"))
        except ValueError:
            m = n = 0
        if (m, n) != (2, 4):
            raise NbOptUsageError(
                f"unknown structure {self.structure!r}; tfmot supports 2:4 (two zeros in "
                "every four weights)"
            )
        return m, n

    def params(self) -> dict[str, Any]:
        """The row's parameter columns."""
        out: dict[str, Any] = {}
        if self.kind == "prune":
            out.update(
                target_sparsity=float(self.sparsity),
                schedule=self.schedule,
                structure=self.structure,
            )
        if self.kind == "cluster":
            out.update(clusters=int(self.clusters), init=self.init)
        if self.preserve:
            out["preserve"] = self.preserve
        if self.skip:
            out["skip"] = ",".join(self.skip)
        return out
