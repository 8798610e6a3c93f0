"""The interactive panel: choose schemes by looking, run them off the cell, compare live.

The panel is a thin view of a :class:`~nbopt.widgets.runner.PanelState`: its controls
write the state, and it redraws what the state says. The live table and chart are the
same ``application/vnd.nbopt.comparison+json`` output as ``%quantize`` shows, re-displayed
in an Output widget as rows arrive; when a run ends the comparison also goes into the
cell's own output, so a saved notebook shows what was measured without a kernel.

*Debug int8* shows :func:`nbopt.debug`'s per-layer table and chart, a checkbox per layer
(the suspects ticked), and a button measuring int8 with the ticked layers float as one
more row of the comparison.
"""

from __future__ import annotations

import html
import uuid
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .. import api
from ..display.units import count
from ..engine.analyse.recommend import TARGETS, decide
from ..engine.convert.converter import NEEDS_CALIBRATION, SCHEMES
from ..engine.store.files import write_atomic
from ..errors import NbOptError, NbOptUsageError
from .runner import CHOICES, TRAINING, PanelState, Runner, Settings, missing_data

_LABELS = {
    "float16": "float16",
    "dynamic": "dynamic range",
    "int8": "full integer (int8)",
    "int16x8": "int16x8",
    "qat": "quantization-aware (QAT)",
    "prune": "pruning",
    "cluster": "clustering",
}
_HINT = (
    '<span style="color:var(--jp-ui-font-color2,#666);font-size:90%;white-space:nowrap">{}</span>'
)
_ERROR = '<span style="color:var(--jp-error-color1,#b00020)">{}</span>'


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _comparison_bundle(comparison: Any) -> dict[str, Any]:
    from ..display import comparison_bundle

    return comparison_bundle(comparison)


class Panel(widgets.VBox):
    """Scheme selection, the recommendation, a live comparison, and export.

    Parameters
    ----------
    model : keras.Model
        The model to optimize (only read).
    calib, eval, fit : optional
        Representative samples, labelled evaluation data, labelled training data (as
        :func:`nbopt.quantize` and :func:`nbopt.prune` take them). What is missing
        disables the schemes that need it, with a hint beside each saying what to pass.
    target : {"cpu", "gpu", "edgetpu", "dsp"}
        The hardware the recommendation is for.

    Notes
    -----
    From scripts and tests: ``panel.schemes`` (the selection; settable), ``panel.run()``,
    ``panel.wait(timeout)``, ``panel.cancel()``, ``panel.df``, ``panel.models``,
    ``panel.comparison`` and ``panel.export(variant, folder, force=False)``. The state the
    panel shows is ``panel.model_state`` (a :class:`PanelState`).
    """

    def __init__(
        self,
        model: Any,
        calib: Any = None,
        eval: Any = None,  # noqa: A002 - the documented name
        fit: Any = None,
        *,
        target: str = "cpu",
        name: str | None = None,
    ):
        keras_model, _, source_name = api._source(model)
        self.recommendation = api.recommend(keras_model, calib, fit, target=target)
        self._sensitive = list(self.recommendation.sensitive)
        self.name = name or source_name or getattr(keras_model, "name", "model")
        self.calib, self.eval, self.fit = calib, eval, fit
        self._display_id = f"nbopt-panel-{uuid.uuid4().hex}"
        self._widget_display_id = f"{self._display_id}-widget"
        self._displayed = False
        self._syncing = False
        self.model_state = PanelState(
            disabled={
                k: reason
                for k in CHOICES
                if (reason := missing_data(k, calib is not None, fit is not None))
            }
        )
        self.runner = Runner(
            self.model_state, keras_model, calib=calib, eval=eval, fit=fit, name=self.name
        )
        self._build_choices(target)
        self._build_run()
        self._build_export()
        self._build_debug()
        self.model_state.observe(self._on_selection, names="selection")
        self.model_state.observe(self._on_rows, names="rows")
        self.model_state.observe(self._on_progress, names="progress")
        self.model_state.observe(self._on_state, names="state")
        self.model_state.observe(self._on_chosen, names="chosen")
        self.model_state.observe(self._on_debug_state, names="debug_state")
        self.model_state.observe(self._on_debug_rows, names="debug_rows")
        self.model_state.observe(self._on_float_layers, names="float_layers")
        self._apply_recommendation()
        super().__init__(
            [
                widgets.HTML(f"<h3>nbopt: {html.escape(self.name)}</h3>"),
                widgets.HBox([self._choices_box, self.advice], layout={"flex_flow": "row wrap"}),
                widgets.HBox([self.run_button, self.cancel_button, self.status]),
                self.progress,
                self.live,
                widgets.HBox(
                    [self.export_choice, self.export_path, self.export_force, self.export_button]
                ),
                self.export_status,
                widgets.HBox([self.debug_button, self.debug_hint, self.debug_status]),
                self.debug_output,
                self.layer_boxes,
                self.float_button,
            ]
        )

    # -- building ---------------------------------------------------------------------------

    def _build_choices(self, target: str) -> None:
        self.checkboxes: dict[str, widgets.Checkbox] = {}
        self.hints: dict[str, widgets.HTML] = {}
        for key in CHOICES:
            reason = self.model_state.disabled.get(key)
            box = widgets.Checkbox(
                value=False, description=_LABELS[key], indent=False, layout={"width": "200px"}
            )
            box.disabled = reason is not None
            hint = reason
            if hint is None and key in NEEDS_CALIBRATION and self.calib is None:
                hint = "calibrated on the --fit inputs (no --calib given)"
            box.tooltip = hint or _LABELS[key]
            box.observe(self._on_box, names="value")
            self.checkboxes[key] = box
            self.hints[key] = widgets.HTML(
                _HINT.format(html.escape(hint or "")), layout={"margin": "0 0 0 8px"}
            )
        self.sparsity = widgets.FloatSlider(
            value=0.5, min=0.1, max=0.95, step=0.05, description="sparsity", readout_format=".0%"
        )
        self.clusters = widgets.IntSlider(value=16, min=2, max=64, description="clusters")
        self.epochs = widgets.IntSlider(value=1, min=1, max=10, description="epochs")
        for slider, key in ((self.sparsity, "prune"), (self.clusters, "cluster")):
            slider.disabled = self.checkboxes[key].disabled
        self.epochs.disabled = self.fit is None
        self.io = widgets.Dropdown(
            options=["float", "int8", "uint8"],
            value="float",
            description="int8 I/O",
            tooltip="Input/output type of int8 and QAT models; int8/uint8 make integer-only models",
        )
        self.target = widgets.Dropdown(options=list(TARGETS), value=target, description="target")
        self.target.observe(self._on_target, names="value")
        self.advice = widgets.HTML(layout={"flex": "1 1 320px", "margin": "0 0 0 16px"})

        def line(key: str, *extra: widgets.Widget) -> widgets.HBox:
            return widgets.HBox([self.checkboxes[key], *extra, self.hints[key]])

        self._choices_box = widgets.VBox(
            layout={"flex": "0 0 auto"},
            children=[
                widgets.HTML("<b>Post-training</b>"),
                *(line(k) for k in SCHEMES),
                widgets.HTML("<b>With training data</b>"),
                line("qat", self.epochs),
                line("prune", self.sparsity),
                line("cluster", self.clusters),
                widgets.HBox([self.io, self.target]),
            ],
        )

    def _build_run(self) -> None:
        self.run_button = widgets.Button(
            description="Run", button_style="primary", icon="play", tooltip="Measure the selection"
        )
        self.cancel_button = widgets.Button(
            description="Cancel", icon="stop", disabled=True, tooltip="Stop after this step"
        )
        self.run_button.on_click(lambda _: self._click_run())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.status = widgets.HTML("Select schemes and press Run.")
        self.progress = widgets.VBox()
        self.bars: dict[str, tuple[widgets.FloatProgress, widgets.HTML]] = {}
        self.live = widgets.Output(layout={"width": "100%"})

    def _build_export(self) -> None:
        self.export_choice = widgets.Dropdown(options=[], value=None, description="variant")
        self.export_path = widgets.Text(value="nbopt_models", description="folder")
        self.export_force = widgets.Checkbox(value=False, description="overwrite", indent=False)
        self.export_button = widgets.Button(
            description="Export",
            icon="download",
            disabled=True,
            tooltip="Write the chosen variant's .tflite and the table (CSV)",
        )
        self.export_status = widgets.HTML()
        self.export_choice.observe(self._on_export_choice, names="value")
        self.export_button.on_click(lambda _: self._click_export())

    def _build_debug(self) -> None:
        reason = None if self.calib is not None else missing_data("int8", False, False)
        self.debug_button = widgets.Button(
            description="Debug int8",
            icon="search",
            disabled=reason is not None,
            tooltip="Which layers does int8 hurt? Each layer quantized alone, measured",
        )
        self.debug_hint = widgets.HTML(
            _HINT.format(html.escape(reason or "")), layout={"margin": "0 0 0 8px"}
        )
        self.debug_status = widgets.HTML(layout={"margin": "0 0 0 8px"})
        self.debug_output = widgets.Output(layout={"width": "100%"})
        self.layer_checks: dict[str, widgets.Checkbox] = {}
        self.layer_boxes = widgets.HBox(layout={"flex_flow": "row wrap"})
        self.float_button = widgets.Button(
            description="Quantize with these layers float",
            icon="play",
            layout={"width": "auto", "display": "none"},
            tooltip="Measure int8 with the ticked layers kept in float32",
        )
        self.debug_button.on_click(lambda _: self._click_debug())
        self.float_button.on_click(lambda _: self._click_float())

    # -- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        n = len(self.model_state.rows)
        return f"nbopt panel for {self.name!r} ({count(n, 'variant')} measured)"

    def _ipython_display_(self) -> None:
        """The widget, then an output the finished run's comparison is written into."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True, display_id=self._widget_display_id)
        display(self._saved_bundle(), raw=True, display_id=self._display_id)
        self._displayed = True

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
        self._syncing = True
        try:
            for key, box in self.checkboxes.items():
                box.value = key in change["new"]
        finally:
            self._syncing = False

    @property
    def schemes(self) -> list[str]:
        """The selected schemes, in the order they run (settable: a list or ``"a,b"``)."""
        return list(self.model_state.selection)

    @schemes.setter
    def schemes(self, value: str | list[str]) -> None:
        names = [s.strip() for s in value.split(",")] if isinstance(value, str) else list(value)
        self.model_state.selection = names

    # -- running ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.model_state.running

    @property
    def state(self) -> str:
        """Where the last run is: idle, running, cancelling, done, cancelled or failed."""
        return self.model_state.state

    @property
    def error(self) -> str | None:
        """Why the last run failed, if it did."""
        return self.model_state.error

    def settings(self) -> Settings:
        """The sliders' and dropdowns' values, as a run will use them."""
        return Settings(
            sparsity=float(self.sparsity.value),
            clusters=int(self.clusters.value),
            epochs=int(self.epochs.value),
            io=self.io.value,
        )

    def run(self) -> Panel:
        """Measure the selection in a background thread (returns at once)."""
        self.runner.start(self.settings())
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (or ``timeout`` seconds); True if it has ended."""
        return self.runner.wait(timeout)

    def cancel(self) -> None:
        """Stop after the current step; the rows measured so far stay."""
        self.runner.cancel()

    def _click_run(self) -> None:
        try:
            self.run()
        except NbOptError as exc:
            self.status.value = _ERROR.format(html.escape(str(exc)))

    def debug(self) -> Panel:
        """Rank the layers int8 hurts in a background thread (returns at once)."""
        self.runner.start_debug()
        return self

    def quantize_float(self) -> Panel:
        """Measure int8 with the ticked layers float, in a background thread."""
        self.runner.start_float(self.settings())
        return self

    @property
    def float_layers(self) -> list[str]:
        """The layers ticked to keep in float (settable)."""
        return list(self.model_state.float_layers)

    @float_layers.setter
    def float_layers(self, value: list[str]) -> None:
        self.model_state.float_layers = list(value)

    def _click_debug(self) -> None:
        try:
            self.debug()
        except NbOptError as exc:
            self.debug_status.value = _ERROR.format(html.escape(str(exc)))

    def _click_float(self) -> None:
        try:
            self.quantize_float()
        except NbOptError as exc:
            self.status.value = _ERROR.format(html.escape(str(exc)))

    # -- observers: debug state -> widgets --------------------------------------------------

    def _on_debug_state(self, change: dict[str, Any]) -> None:
        s = self.model_state
        self.debug_button.disabled = s.debug_state == "running" or self.calib is None
        if s.debug_state == "running":
            self.debug_status.value = "ranking the layers int8 hurts…"
            self.debug_output.outputs = ()
        elif s.debug_state == "failed":
            self.debug_status.value = _ERROR.format(html.escape(f"failed: {s.debug_error or ''}"))
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
        self._syncing = True
        try:
            for key, box in self.layer_checks.items():
                box.value = key in change["new"]
        finally:
            self._syncing = False

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
            self.status.value = _ERROR.format(html.escape(f"failed: {s.error or ''}"))
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

    # -- results ----------------------------------------------------------------------------

    @property
    def models(self) -> dict[str, Any]:
        """Every measured variant's :class:`TFLiteModel`, by variant name."""
        return self.runner.models

    @property
    def comparison(self) -> Any:
        """The last run as a :class:`Comparison` (rows and models)."""
        return self.runner.comparison

    @property
    def df(self) -> Any:
        """The measured rows as a DataFrame, with a ``variant`` column first."""
        df = self.comparison.df
        df.insert(0, "variant", self.model_state.variants)
        return df

    @property
    def pareto(self) -> list[str]:
        """The Pareto-optimal variants: none other is both smaller and more accurate."""
        return self.runner.pareto()

    # -- export -----------------------------------------------------------------------------

    def export(
        self, variant: str | None = None, folder: str | None = None, force: bool | None = None
    ) -> list[Path]:
        """Write ``variant``'s .tflite and the table (CSV) into ``folder``.

        Files are written atomically; existing ones are kept (and an error raised) unless
        ``force``. Returns the two paths.
        """
        variant = variant or self.model_state.chosen
        folder = folder if folder is not None else self.export_path.value
        force = self.export_force.value if force is None else force
        if not variant or variant not in self.models:
            have = ", ".join(self.models) or "none yet"
            raise NbOptUsageError(f"no measured variant {variant!r} to export; have {have}")
        if not folder:
            raise NbOptUsageError("give a folder to export into")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        target = Path(folder).expanduser()
        tflite = target / f"{safe}_{variant}.tflite"
        csv = target / f"{safe}_results.csv"
        existing = [str(p) for p in (tflite, csv) if p.exists()]
        if existing and not force:
            raise NbOptUsageError(
                f"{', '.join(existing)} already exists; tick overwrite (force=True) or "
                "choose another folder"
            )
        self.models[variant].save(tflite, force=force)
        write_atomic(csv, self.df.to_csv(index=False).encode(), force=force)
        return [tflite, csv]

    def _click_export(self) -> None:
        try:
            paths = self.export()
        except NbOptError as exc:
            self.export_status.value = _ERROR.format(html.escape(str(exc)))
            return
        self.export_status.value = "wrote " + ", ".join(
            f"<code>{html.escape(str(p))}</code>" for p in paths
        )


def panel(
    model: Any,
    calib: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    fit: Any = None,
    *,
    target: str = "cpu",
    name: str | None = None,
) -> Panel:
    """The interactive panel for ``model`` (see :class:`Panel`)."""
    return Panel(model, calib, eval, fit, target=target, name=name)


__all__ = ["CHOICES", "TRAINING", "Panel", "PanelState", "panel"]
