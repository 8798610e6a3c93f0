"""The panel's live chart: size against accuracy, latency as colour, Pareto front marked."""

from __future__ import annotations

from typing import Any

import bqplot as bq
import numpy as np

from ..engine.pareto import pareto_mask


class ParetoChart:
    """A bqplot figure updated by data: one point per measured variant.

    ``points`` holds every variant with a size and an accuracy (x: ``size_bytes``, y:
    ``accuracy``, colour: ``latency_ms``); ``front`` holds the Pareto-optimal ones
    (no other variant both smaller and more accurate), drawn as diamonds on a line.
    """

    def __init__(self, metric: str = "accuracy"):
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale()
        self.c_scale = bq.ColorScale(scheme="viridis")
        self.front = bq.Lines(
            x=[],
            y=[],
            scales={"x": self.x_scale, "y": self.y_scale},
            colors=["#d62728"],
            marker="diamond",
            marker_size=80,
            line_style="dashed",
            labels=["Pareto front"],
        )
        self.points = bq.Scatter(
            x=[],
            y=[],
            color=[],
            names=[],
            display_names=True,
            default_size=80,
            scales={"x": self.x_scale, "y": self.y_scale, "color": self.c_scale},
            tooltip=bq.Tooltip(
                fields=["name", "x", "y", "color"],
                labels=["variant", "bytes", metric, "latency ms"],
            ),
        )
        axes = [
            bq.Axis(scale=self.x_scale, label="size (bytes)", tick_format=".3s"),
            bq.Axis(scale=self.y_scale, label=metric, orientation="vertical"),
            bq.ColorAxis(scale=self.c_scale, label="latency ms", side="right"),
        ]
        self.figure = bq.Figure(
            marks=[self.front, self.points],
            axes=axes,
            title="size against " + metric,
            layout={"width": "560px", "height": "360px"},
            fig_margin={"top": 50, "bottom": 50, "left": 60, "right": 90},
        )
        self.pareto: list[str] = []

    def update(self, names: list[str], rows: list[dict[str, Any]], lower_is_better: bool) -> None:
        """Show ``rows`` (one per name): the ok ones with a size and a metric value."""
        shown = [
            (n, r)
            for n, r in zip(names, rows)
            if r.get("status") == "ok"
            and r.get("size_bytes") is not None
            and r.get("accuracy") is not None
        ]
        x = np.array([float(r["size_bytes"]) for _, r in shown], dtype=float)
        y = np.array([float(r["accuracy"]) for _, r in shown], dtype=float)
        c = np.array([float(r.get("latency_ms") or np.nan) for _, r in shown], dtype=float)
        mask = pareto_mask(list(x), list(-y if lower_is_better else y))
        self.pareto = [n for (n, _), m in zip(shown, mask) if m]
        order = np.argsort(x[mask]) if len(x) else np.array([], dtype=int)
        with self.points.hold_sync():
            self.points.x, self.points.y, self.points.color = x, y, c
            self.points.names = [n for n, _ in shown]
        with self.front.hold_sync():
            self.front.x, self.front.y = x[mask][order], y[mask][order]
