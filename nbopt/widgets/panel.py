"""The interactive panel: choose schemes by looking, run them off the cell, compare live.

The work runs in a background thread (clicks are not delivered while a cell runs) and
reports through the engine's progress events; the panel turns each event into a progress
bar, a table row and a chart point. Cancel sets a flag that the event listener checks:
the next step raises, so the run stops after the current step and keeps finished rows.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .. import api
from ..display import rows_html
from ..engine.convert import NEEDS_CALIBRATION, SCHEMES
from ..engine.events import Event
from ..engine.files import write_atomic
from ..engine.recommend import TARGETS, decide
from ..errors import NbOptError, NbOptUsageError
from .chart import ParetoChart

#: Techniques that fine-tune, after the post-training schemes.
TRAINING = ("qat", "prune", "cluster")
#: Every scheme the panel offers, in the order it runs them.
CHOICES = (*SCHEMES, *TRAINING)
_LABELS = {
    "float16": "float16",
    "dynamic": "dynamic range",
    "int8": "full integer (int8)",
    "int16x8": "int16x8",
    "qat": "quantization-aware (QAT)",
    "prune": "pruning",
    "cluster": "clustering",
}
#: How far a variant is once its run reports each phase.
_PHASES = {"converting": 0.3, "measuring latency": 0.6, "evaluating": 0.85}


class _Cancelled(Exception):
    """Raised by the panel's listener on the first step after Cancel."""


class Panel(widgets.VBox):
    """Scheme selection, the recommendation, a live table and chart, and export.

    Parameters
    ----------
    model : keras.Model
        The model to optimize (only read).
    calib, eval, fit : optional
        Representative samples, labelled evaluation data, labelled training data (as
        :func:`nbopt.quantize` and :func:`nbopt.prune` take them). What is missing
        disables the schemes that need it.
    target : {"cpu", "gpu", "edgetpu", "dsp"}
        The hardware the recommendation is for.

    Notes
    -----
    From scripts and tests: ``panel.schemes`` (the selection; settable), ``panel.run()``,
    ``panel.wait(timeout)``, ``panel.cancel()``, ``panel.df``, ``panel.models`` and
    ``panel.export(variant, folder, force=False)``.
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
        self.model = keras_model
        self.name = name or source_name or getattr(keras_model, "name", "model")
        self.calib, self.eval, self.fit = calib, eval, fit
        self.rows: list[dict[str, Any]] = []
        self.variants: list[str] = []
        self.models: dict[str, Any] = {}
        self.state = "idle"
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._current: str | None = None
        self._started = 0.0

        self.checkboxes = {
            key: widgets.Checkbox(
                value=False, description=_LABELS[key], indent=False, layout={"width": "210px"}
            )
            for key in CHOICES
        }
        samples = calib is not None or fit is not None
        for key, box in self.checkboxes.items():
            missing = self._missing(key)
            box.disabled = missing is not None
            box.tooltip = missing or self._tooltip(key, samples)
        self.sparsity = widgets.FloatSlider(
            value=0.5, min=0.1, max=0.95, step=0.05, description="sparsity", readout_format=".0%"
        )
        self.clusters = widgets.IntSlider(value=16, min=2, max=64, description="clusters")
        self.epochs = widgets.IntSlider(value=1, min=1, max=10, description="epochs")
        for slider, key in ((self.sparsity, "prune"), (self.clusters, "cluster")):
            slider.disabled = self.checkboxes[key].disabled
        self.epochs.disabled = fit is None
        self.io = widgets.Dropdown(
            options=["float", "int8", "uint8"],
            value="float",
            description="int8 I/O",
            tooltip="Input/output type of int8 and QAT models; int8/uint8 make integer-only models",
        )
        self.target = widgets.Dropdown(options=list(TARGETS), value=target, description="target")
        self.advice = widgets.HTML()
        self.target.observe(self._on_target, names="value")

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
        self.table = widgets.HTML()
        metric = "accuracy"
        self.chart = ParetoChart(metric)

        self.export_choice = widgets.Dropdown(options=[], description="variant")
        self.export_path = widgets.Text(value="nbopt_models", description="folder")
        self.export_force = widgets.Checkbox(value=False, description="overwrite", indent=False)
        self.export_button = widgets.Button(
            description="Export", icon="download", disabled=True, tooltip="Write .tflite + CSV"
        )
        self.export_status = widgets.HTML()
        self.export_button.on_click(lambda _: self._click_export())

        self._apply_recommendation()
        schemes_box = widgets.VBox(
            [
                widgets.HTML("<b>Post-training</b>"),
                widgets.HBox([self.checkboxes[k] for k in SCHEMES]),
                widgets.HTML("<b>With training data</b>"),
                widgets.HBox([self.checkboxes["qat"], self.epochs]),
                widgets.HBox([self.checkboxes["prune"], self.sparsity]),
                widgets.HBox([self.checkboxes["cluster"], self.clusters]),
                widgets.HBox([self.io, self.target]),
            ]
        )
        super().__init__(
            [
                widgets.HTML(f"<h3>nbopt: {html.escape(self.name)}</h3>"),
                widgets.HBox([schemes_box, self.advice]),
                widgets.HBox([self.run_button, self.cancel_button, self.status]),
                self.progress,
                widgets.HBox([self.table, self.chart.figure]),
                widgets.HBox(
                    [self.export_choice, self.export_path, self.export_force, self.export_button]
                ),
                self.export_status,
            ]
        )

    # -- selection and advice -------------------------------------------------------------

    def _missing(self, key: str) -> str | None:
        """What to pass to enable ``key``, or None if its data is there."""
        if key in NEEDS_CALIBRATION and self.calib is None and self.fit is None:
            return (
                f"{key} needs calibration data: pass representative samples, "
                "e.g. --calib x_train[:256] (calib=...)"
            )
        if key in TRAINING and self.fit is None:
            return (
                f"{_LABELS[key]} fine-tunes the model: pass training data, "
                "e.g. --fit x_train,y_train (fit=(x, y))"
            )
        return None

    def _tooltip(self, key: str, samples: bool) -> str:
        if key in NEEDS_CALIBRATION and self.calib is None:
            return f"{key}, calibrated on the --fit inputs (no --calib given)"
        return _LABELS[key]

    def _apply_recommendation(self) -> None:
        rec = self.recommendation
        box = self.checkboxes.get(rec.scheme)
        if box is not None and not box.disabled:
            box.value = True
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

    @property
    def schemes(self) -> list[str]:
        """The selected schemes, in the order they run (settable: a list or ``"a,b"``)."""
        return [k for k in CHOICES if self.checkboxes[k].value]

    @schemes.setter
    def schemes(self, value: str | list[str]) -> None:
        names = [s.strip() for s in value.split(",")] if isinstance(value, str) else list(value)
        unknown = [n for n in names if n not in CHOICES]
        if unknown:
            raise NbOptUsageError(
                f"unknown scheme {', '.join(repr(u) for u in unknown)}; "
                f"choose from {', '.join(CHOICES)}"
            )
        for n in names:
            if self.checkboxes[n].disabled:
                raise NbOptUsageError(self.checkboxes[n].tooltip)
        for key, box in self.checkboxes.items():
            box.value = key in names

    # -- running --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> Panel:
        """Measure the selection in a background thread (returns at once)."""
        if self.running:
            raise NbOptUsageError("the panel is already running; press Cancel or wait()")
        schemes = self.schemes
        if not schemes:
            raise NbOptUsageError("select at least one scheme, then Run")
        self._cancel.clear()
        self.rows, self.variants, self.models = [], [], {}
        self.error = None
        self.state = "running"
        self._started = time.perf_counter()
        self.bars = {}
        lines = []
        for key in ["float32", *schemes]:
            bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, layout={"width": "200px"})
            label = widgets.HTML("queued")
            self.bars[key] = (bar, label)
            lines.append(widgets.HBox([widgets.Label(key, layout={"width": "90px"}), bar, label]))
        self.progress.children = lines
        self._refresh()
        self.run_button.disabled = True
        self.cancel_button.disabled = False
        self.status.value = "running…"
        settings = {
            "sparsity": float(self.sparsity.value),
            "clusters": int(self.clusters.value),
            "epochs": int(self.epochs.value),
            "io": self.io.value,
        }
        self._thread = threading.Thread(
            target=self._work, args=(schemes, settings), name="nbopt-panel", daemon=True
        )
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (or ``timeout`` seconds); True if it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def cancel(self) -> None:
        """Stop after the current step; the rows measured so far stay."""
        if self.running:
            self._cancel.set()
            self.cancel_button.disabled = True
            self.status.value = "cancelling after this step…"

    def _click_run(self) -> None:
        try:
            self.run()
        except NbOptError as exc:
            self.status.value = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'

    def _work(self, schemes: list[str], settings: dict[str, Any]) -> None:
        try:
            post = [s for s in schemes if s in SCHEMES]
            calib = self.calib if self.calib is not None else self.fit
            needs = any(s in NEEDS_CALIBRATION for s in post)
            comparison = api.quantize(
                self.model,
                ["float32", *post],
                calib if needs else None,
                self.eval,
                io=settings["io"] if "int8" in post else "float",
                name=self.name,
                progress=self._listen,
            )
            self.models.update(comparison.models)
            base = comparison.models.get("float32")
            if base is not None:
                base.keras_model = self.model  # training techniques reuse this baseline
            for kind in (s for s in schemes if s in TRAINING):
                if self._cancel.is_set():
                    raise _Cancelled
                self._train(kind, base if base is not None else self.model, settings)
            self.state = "done"
        except _Cancelled:
            self.state = "cancelled"
        except Exception as exc:  # shown in the panel: a thread has no one to raise to
            self.state = "failed"
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._finish()

    def _train(self, kind: str, source: Any, settings: dict[str, Any]) -> None:
        self._current = kind
        common = {
            "fit": self.fit,
            "epochs": settings["epochs"],
            "eval": self.eval,
            "name": self.name,
            "progress": self._listen,
        }
        try:
            if kind == "qat":
                result = api.quantize(source, aware=True, io=settings["io"], **common)
            elif kind == "prune":
                result = api.prune(source, settings["sparsity"], **common)
            else:
                result = api.cluster(source, settings["clusters"], **common)
            self.models[kind] = result
        except NbOptError as exc:
            if not any(v == kind for v in self.variants):
                row = {"model": self.name, "technique": kind, "scheme": kind}
                row.update(status="failed", error=str(exc))
                self._add(kind, row)
        finally:
            self._current = None

    def _key(self, event: Event) -> str:
        if self._current is not None:
            return self._current
        return event.scheme or ""

    def _listen(self, event: Event) -> None:
        """The engine's progress events → bars, rows, chart (and Cancel's stop)."""
        if event.kind in ("start", "step") and self._cancel.is_set():
            raise _Cancelled
        if event.kind == "step":
            key = self._key(event)
            if key in self.bars:
                bar, label = self.bars[key]
                bar.value = max(bar.value, _PHASES.get(event.message, 0.15))
                label.value = html.escape(event.message)
        elif event.kind == "row" and event.row is not None:
            row = event.row
            if row.get("technique") == "baseline":
                if "float32" in self.variants:
                    return  # a training technique re-announces the shared baseline
                key = "float32"
            else:
                key = self._key(event)
            self._add(key, row)

    def _add(self, key: str, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.variants.append(key)
        if key in self.bars:
            bar, label = self.bars[key]
            bar.value = 1.0
            status = str(row.get("status"))
            bar.bar_style = "success" if status == "ok" else "danger"
            text = status if not row.get("error") else f"{status}: {row['error']}"
            label.value = html.escape(text)
        self._refresh()

    def _finish(self) -> None:
        elapsed = time.perf_counter() - self._started
        n = len(self.rows)
        for bar, label in self.bars.values():
            if bar.value < 1.0:
                bar.bar_style = "warning"
                label.value = "cancelled" if self.state == "cancelled" else "not run"
        if self.state == "cancelled":
            text = f"cancelled: kept the {n} rows measured in {elapsed:.1f} s"
        elif self.state == "failed":
            text = f'<span style="color:#b00020">failed: {html.escape(self.error or "")}</span>'
        else:
            text = f"done: {n} rows in {elapsed:.1f} s"
        self.status.value = text
        self.run_button.disabled = False
        self.cancel_button.disabled = True
        self._refresh()

    # -- views ----------------------------------------------------------------------------

    @property
    def df(self) -> Any:
        """The measured rows as a DataFrame, with a ``variant`` column first."""
        from ..engine.results import frame

        df = frame(list(self.rows))
        df.insert(0, "variant", list(self.variants))
        return df

    @property
    def pareto(self) -> list[str]:
        """The Pareto-optimal variants (smallest size for their accuracy) on the chart."""
        return list(self.chart.pareto)

    def _refresh(self) -> None:
        rows = list(self.rows)
        names = list(self.variants)
        shown = [dict(r, scheme=n) for n, r in zip(names, rows)]
        pending = "" if self.state != "running" else "measuring"
        table = rows_html(shown, "", pending)
        self.table.value = table + _compat_html(names, rows)
        metric = next((r.get("metric") for r in rows if r.get("metric")), "accuracy")
        self.chart.update(names, rows, lower_is_better=metric == "mse")
        self.chart.figure.axes[1].label = metric
        options = [n for n in names if n in self.models]
        self.export_choice.options = options
        self.export_button.disabled = not options

    # -- export ---------------------------------------------------------------------------

    def export(
        self, variant: str | None = None, folder: str | None = None, force: bool | None = None
    ) -> list[Path]:
        """Write ``variant``'s .tflite and the table (CSV) into ``folder``.

        Files are written atomically; existing ones are kept (and an error raised) unless
        ``force``. Returns the two paths.
        """
        variant = variant or self.export_choice.value
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
            self.export_status.value = f'<span style="color:#b00020">{html.escape(str(exc))}</span>'
            return
        self.export_status.value = "wrote " + ", ".join(
            f"<code>{html.escape(str(p))}</code>" for p in paths
        )


def _compat_html(names: list[str], rows: list[dict[str, Any]]) -> str:
    """What each variant can run on, under the table."""
    esc = html.escape
    body = []
    for name, row in zip(names, rows):
        if row.get("status") != "ok":
            continue

        def mark(v: Any) -> str:
            return "—" if v is None else ("yes" if v else "no")

        body.append(
            f"<tr><td>{esc(name)}</td><td>{mark(row.get('gpu_compatible'))}</td>"
            f"<td>{mark(row.get('edgetpu_ready'))}</td>"
            f"<td style='text-align:left'>{esc(str(row.get('compat_notes') or ''))}</td></tr>"
        )
    if not body:
        return ""
    return (
        '<table class="nbopt-table"><thead><tr><th>variant</th><th>GPU</th><th>Edge TPU</th>'
        "<th>notes</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
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
