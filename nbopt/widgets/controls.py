"""The panel's controls: the checkboxes, sliders, dropdowns, buttons and outputs it is made
of, built once, and their layout (:class:`PanelControls`, a part of the Panel class).
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..engine.analyse.recommend import TARGETS
from ..engine.convert.converter import NEEDS_CALIBRATION, SCHEMES
from .state import CHOICES, PanelState, missing_data

LABELS = {
    "float16": "float16",
    "dynamic": "dynamic range",
    "int8": "full integer (int8)",
    "int16x8": "int16x8",
    "qat": "quantization-aware (QAT)",
    "prune": "pruning",
    "cluster": "clustering",
}
HINT = (
    '<span style="color:var(--jp-ui-font-color2,#666);font-size:90%;white-space:nowrap">{}</span>'
)
ERROR = '<span style="color:var(--jp-error-color1,#b00020)">{}</span>'


class PanelControls:
    """Builds the panel's widgets as attributes of the panel (see :class:`Panel`)."""

    model_state: PanelState
    calib: Any
    fit: Any
    name: str

    # -- building ---------------------------------------------------------------------------

    def _build_choices(self, target: str) -> None:
        self.checkboxes: dict[str, widgets.Checkbox] = {}
        self.hints: dict[str, widgets.HTML] = {}
        for key in CHOICES:
            reason = self.model_state.disabled.get(key)
            box = widgets.Checkbox(
                value=False, description=LABELS[key], indent=False, layout={"width": "200px"}
            )
            box.disabled = reason is not None
            hint = reason
            if hint is None and key in NEEDS_CALIBRATION and self.calib is None:
                hint = "calibrated on the --fit inputs (no --calib given)"
            box.tooltip = hint or LABELS[key]
            box.observe(self._on_box, names="value")
            self.checkboxes[key] = box
            self.hints[key] = widgets.HTML(
                HINT.format(html.escape(hint or "")), layout={"margin": "0 0 0 8px"}
            )
        self._build_technique_settings()
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
                line("prune", self.sparsity, self.sparse),
                line("cluster", self.clusters),
                widgets.HBox([self.io, self.target]),
            ],
        )

    def _build_technique_settings(self) -> None:
        """The training techniques' sliders, each usable when its technique is."""
        self.sparsity = widgets.FloatSlider(
            value=0.5, min=0.1, max=0.95, step=0.05, description="sparsity", readout_format=".0%"
        )
        self.sparse = widgets.Checkbox(
            value=False,
            description="stored sparse",
            indent=False,
            layout={"width": "auto"},
            tooltip="Also store the pruned model's zeros sparse (the converter's "
            "EXPERIMENTAL_SPARSITY): a smaller .tflite whose dense weights are rebuilt in RAM",
        )
        self.clusters = widgets.IntSlider(value=16, min=2, max=64, description="clusters")
        self.epochs = widgets.IntSlider(value=1, min=1, max=10, description="epochs")
        for slider, key in (
            (self.sparsity, "prune"),
            (self.sparse, "prune"),
            (self.clusters, "cluster"),
        ):
            slider.disabled = self.checkboxes[key].disabled
        self.epochs.disabled = self.fit is None

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
            HINT.format(html.escape(reason or "")), layout={"margin": "0 0 0 8px"}
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

    def _layout(self) -> list[widgets.Widget]:
        """The panel's rows, top to bottom."""
        return [
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
