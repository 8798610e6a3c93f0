"""A comparison's result (:class:`Comparison`): its rows, its models, saving them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..model.tflite_model import TFLiteModel
from ..store import results
from ..store.schema import variant_label


class Comparison:
    """Variants of one model and their measurements.

    ``df`` is the results table (one row per variant, float32 baseline first), ``models``
    maps each scheme to its :class:`TFLiteModel`. While a comparison runs, rows are added
    as each variant is measured.
    """

    def __init__(self, name: str):
        self.name = name
        self.rows: list[dict[str, Any]] = []
        self.models: dict[str, TFLiteModel] = {}
        self.done = False
        self.interrupted = False

    @property
    def df(self) -> Any:
        """The rows as a pandas DataFrame (a new frame each time)."""
        return results.frame(self.rows)

    def __getitem__(self, scheme: str) -> TFLiteModel:
        try:
            return self.models[scheme]
        except KeyError:
            raise KeyError(
                f"no {scheme!r} variant; this comparison has {', '.join(self.models) or 'none'}"
            ) from None

    def __len__(self) -> int:
        return len(self.rows)

    def baseline(self) -> TFLiteModel | None:
        """The float32 baseline's model, if this comparison measured one."""
        for model in self.models.values():
            row = model.row or {}
            if row.get("technique") == "baseline" and row.get("status") == "ok":
                return model
        return None

    def save(self, folder: str, force: bool = False) -> list[str]:
        """Write every variant's .tflite into ``folder``; returns the paths."""
        return [
            str(m.save(folder + "/" if not folder.endswith("/") else folder, force=force))
            for m in self.models.values()
        ]

    def to_csv(self, path: str | os.PathLike[str], force: bool = False) -> Path:
        """Write the rows to ``path`` as CSV (see :func:`nbopt.engine.store.results.write_csv`).

        An existing file is kept, and an error raised, unless ``force=True``.
        """
        return results.write_csv(self.rows, path, force=force)

    def __repr__(self) -> str:
        # Plain text for scripts; notebooks show the presentation layer's rendering.
        state = "interrupted" if self.interrupted else ("done" if self.done else "running")
        lines = [f"Comparison({self.name!r}, {state}, {len(self.rows)} variants)"]
        lines += [f"  {summary(r)}" for r in self.rows]
        return "\n".join(lines)


def summary(row: dict[str, Any]) -> str:
    """One plain line for a row: variant, status, size, latency, metric or error."""
    parts = [f"{variant_label(row)}: {row.get('status')}"]
    if row.get("status") != "ok":
        return parts[0] + (f" ({row['error']})" if row.get("error") else "")
    if row.get("size_bytes") is not None:
        parts.append(f"{int(row['size_bytes']):,} bytes")
    if row.get("latency_ms") is not None:
        parts.append(f"latency {row['latency_ms']:.3g} ms")
    if row.get("accuracy") is not None:
        parts.append(f"{row.get('metric')} {row['accuracy']:.4g}")
    if row.get("accuracy_delta") is not None:
        parts.append(f"delta {row['accuracy_delta']:+.4g}")
    return ", ".join(parts)
