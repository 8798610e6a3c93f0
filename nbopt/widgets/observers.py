"""How the panel follows its state (:class:`PanelObservers`, a part of the Panel class).

The state's observers redraw the widgets (the selection's checkboxes, the progress bars,
the live comparison, the status line, the export dropdown, the int8 debug report and its
layer checkboxes), and the widgets' own observers write what a person changes into the
state. When a run ends in a displayed panel, its comparison moves into the cell's output.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..display.units import count
from ..engine.analyse.recommend import decide
from .controls import ERROR
from .runner import Runner
from .state import CHOICES, PanelState


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _comparison_bundle(comparison: Any) -> dict[str, Any]:
    from ..display import comparison_bundle

    return comparison_bundle(comparison)


class PanelObservers:
    """Keeps the panel's widgets and its state in step (see :class:`Panel`)."""

    model_state: PanelState
    runner: Runner
    calib: Any
    fit: Any
    name: str

    def _observe_state(self) -> None:
        """Redraw the widgets whenever the state they show changes."""
        self.model_state.observe(self._on_selection, names="selection")
        self.model_state.observe(self._on_rows, names="rows")
        self.model_state.observe(self._on_progress, names="progress")
        self.model_state.observe(self._on_state, names="state")
        self.model_state.observe(self._on_chosen, names="chosen")
        self.model_state.observe(self._on_debug_state, names="debug_state")
        self.model_state.observe(self._on_debug_rows, names="debug_rows")
        self.model_state.observe(self._on_float_layers, names="float_layers")

    def _tick(self, boxes: dict[str, widgets.Checkbox], names: list[str]) -> None:
        """Tick exactly ``names`` among ``boxes``, without their observers writing back."""
        self._syncing = True
        try:
            for key, box in boxes.items():
                box.value = key in names
        finally:
            self._syncing = False

    # -- display ----------------------------------------------------------------------------

    def _saved_bundle(self) -> dict[str, Any]:
        if not self.model_state.rows:
            return {"text/plain": f"nbopt panel for {self.name!r}: no run yet"}
        return _comparison_bundle(self.comparison)

    def _show_live(self) -> None:
        bundle = _comparison_bundle(self.comparison)
        self.live.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)

    # -- selection and advice ---------------------------------------------------------------

    def _apply_recommendation(self) -> None:
        rec = self.recommendation
        if rec.scheme in CHOICES and rec.scheme not in self.model_state.disabled:
            self.model_state.selection = [*self.model_state.selection, rec.scheme]
        if rec.io != "float":
            self.io.value = rec.io
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in rec.reasons)
        self.advice.value = (
            f"<b>Recommended for {html.escape(rec.target)}:</b> "
            f"<code>{html.escape(rec.choice.label)}</code><ul>{reasons}</ul>"
        )

    def _on_target(self, change: dict[str, Any]) -> None:
        self.recommendation = decide(
            calib=self.calib is not None,
            fit=self.fit is not None,
            target=change["new"],
            sensitive=self._sensitive,
        )
        self._apply_recommendation()

    def _on_box(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        self.model_state.selection = [k for k, b in self.checkboxes.items() if b.value]

    def _on_selection(self, change: dict[str, Any]) -> None:
        self._tick(self.checkboxes, change["new"])

    # -- observers: debug state -> widgets --------------------------------------------------

    def _on_debug_state(self, change: dict[str, Any]) -> None:
        s = self.model_state
        self.debug_button.disabled = s.debug_state == "running" or self.calib is None
        if s.debug_state == "running":
            self.debug_status.value = "ranking the layers int8 hurts…"
            self.debug_output.outputs = ()
        elif s.debug_state == "failed":
            self.debug_status.value = ERROR.format(html.escape(f"failed: {s.debug_error or ''}"))
        elif s.debug_state == "done" and self.runner.report is not None:
            from ..display.debug import debug_bundle

            n = len(self.runner.report.suspects)
            ticked = f"{count(n, 'suspect layer')} ticked" if n else "no suspect"
            self.debug_status.value = f"{ticked}; tick the layers to keep float, then quantize"
            bundle = debug_bundle(self.runner.report)
            self.debug_output.outputs = (
                {"output_type": "display_data", "data": bundle, "metadata": {}},
            )

    def _on_debug_rows(self, change: dict[str, Any]) -> None:
        self.layer_checks = {}
        for row in change["new"]:
            box = widgets.Checkbox(
                value=row["layer"] in self.model_state.float_layers,
                description=row["layer"],
                indent=False,
                layout={"width": "auto", "margin": "0 12px 0 0"},
            )
            box.observe(self._on_layer_check, names="value")
            self.layer_checks[row["layer"]] = box
        self.layer_boxes.children = list(self.layer_checks.values())
        self.float_button.layout.display = "" if self.layer_checks else "none"

    def _on_layer_check(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.model_state.float_layers = [k for k, b in self.layer_checks.items() if b.value]

    def _on_float_layers(self, change: dict[str, Any]) -> None:
        self._tick(self.layer_checks, change["new"])

    # -- observers: state -> widgets --------------------------------------------------------

    def _on_progress(self, change: dict[str, Any]) -> None:
        progress = change["new"]
        if set(progress) != set(self.bars):
            self.bars = {}
            lines = []
            for key in progress:
                bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, layout={"width": "200px"})
                label = widgets.HTML()
                self.bars[key] = (bar, label)
                lines.append(
                    widgets.HBox([widgets.Label(key, layout={"width": "90px"}), bar, label])
                )
            self.progress.children = lines
        styles = {"ok": "success", "failed": "danger", "skipped": "warning"}
        for key, p in progress.items():
            bar, label = self.bars[key]
            bar.value = p["fraction"]
            bar.bar_style = styles.get(p["status"], "")
            label.value = html.escape(p["message"])

    def _sync_export(self) -> None:
        """The dropdown offers the variants with a model; it shows the state's choice."""
        variants = [v for v in self.model_state.variants if v in self.runner.models]
        chosen = self.model_state.chosen if self.model_state.chosen in variants else None
        self._syncing = True
        try:
            if list(self.export_choice.options) != variants:
                self.export_choice.options = variants
            self.export_choice.value = chosen
        finally:
            self._syncing = False
        self.export_button.disabled = chosen is None

    def _on_rows(self, change: dict[str, Any]) -> None:
        self._sync_export()
        if change["new"]:
            self._show_live()
        else:
            self.live.outputs = ()

    def _on_state(self, change: dict[str, Any]) -> None:
        s = self.model_state
        n = len(s.rows)
        running = s.running
        self.run_button.disabled = running
        self.float_button.disabled = running
        self.cancel_button.disabled = s.state != "running"
        if s.state == "running":
            self.status.value = "running…"
        elif s.state == "cancelling":
            self.status.value = "cancelling after this step…"
        elif s.state == "cancelled":
            self.status.value = f"cancelled: kept {_rows(n)} measured in {s.elapsed:.1f} s"
        elif s.state == "failed":
            self.status.value = ERROR.format(html.escape(f"failed: {s.error or ''}"))
        elif s.state == "done":
            self.status.value = f"done: {_rows(n)} in {s.elapsed:.1f} s"
        if not running and s.state != "idle":
            self._sync_export()
            if self._displayed and s.rows:
                self._save_result()
                self.status.value += " · the comparison is below, kept when the notebook is saved"
            elif s.rows:
                self._show_live()

    def _save_result(self) -> None:
        """Move the finished comparison from the live view into the panel's cell output
        (kept on save), and give the widget's one-line text its new count (what a notebook
        opened without a kernel shows of the widget)."""
        from IPython.display import update_display

        update_display(self._saved_bundle(), raw=True, display_id=self._display_id)
        update_display(self._repr_mimebundle_(), raw=True, display_id=self._widget_display_id)
        self.live.outputs = ()

    def _on_chosen(self, change: dict[str, Any]) -> None:
        self._sync_export()

    def _on_export_choice(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"] != self.model_state.chosen:
            self.model_state.chosen = change["new"]
