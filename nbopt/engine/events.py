"""The progress event stream that the magics, the panel and the CLI each render."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One step of long work.

    ``kind`` is ``"start"`` (``total`` variants to come), ``"step"`` (a variant
    entered a phase named in ``message``: converting, measuring latency, ...),
    ``"row"`` (a variant finished; ``row`` holds its results and ``model``, if it was
    made, its :class:`~nbopt.engine.model.tflite_model.TFLiteModel`) or ``"done"``.
    """

    kind: str
    scheme: str | None = None
    message: str = ""
    index: int = 0
    total: int = 0
    row: dict[str, Any] | None = field(default=None, compare=False)
    model: Any = field(default=None, compare=False)


Listener = Callable[[Event], None]


def emit(listener: Listener | None, event: Event) -> None:
    """Send ``event`` to ``listener`` if there is one."""
    if listener is not None:
        listener(event)
