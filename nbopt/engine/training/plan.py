"""A technique checked and ready to fine-tune (:class:`Plan`), made by the pipeline's first step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..data.specs import EvalData
from ..pipeline.run import Run
from ..request import Request
from .technique import Technique


@dataclass
class Plan:
    """A technique checked and ready: its data, and the tfmot-wrapped copy to fine-tune."""

    model: Any
    technique: Technique
    request: Request
    training: EvalData | None
    calib: list[Any] | None
    evaluation: EvalData | None
    metric: tuple[str, Any] | None
    wrapped: Any
    notes: list[str] = field(default_factory=list)
    pruned_share: float = 1.0  # of the kernel weights, in layers not skipped

    @property
    def name(self) -> str:
        return self.request.name or getattr(self.model, "name", "model")

    def run(self) -> Run:
        then = self.request.training.then is not None
        sparse = self.request.conversion.sparse  # a twin of each (QAT refuses it)
        total = 2 + then + sparse * (1 + then) - (self.request.data.baseline is not None)
        return Run(
            self.name,
            total,
            settings=self.request.settings,
            evaluation=self.evaluation,
            metric=self.metric,
            sample=self.evaluation.x if self.evaluation else self.calib,
            listener=self.request.listener,
            beat=self.request.measurement.beat,
        )
