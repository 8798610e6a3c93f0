"""The interactive panel: choose schemes by looking, run them off the cell, compare live.

The panel is a thin view of a :class:`~nbopt.widgets.state.PanelState`: its controls
(built in :mod:`~nbopt.widgets.controls`) write the state, and it redraws what the state
says (:mod:`~nbopt.widgets.observers`); :class:`~nbopt.widgets.runner.Runner` does the
work. The live table and chart are the same ``application/vnd.nbopt.comparison+json``
output as ``%quantize`` shows, re-displayed in an Output widget as rows arrive; when a
run ends the comparison also goes into the cell's own output, so a saved notebook shows
what was measured without a kernel.

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

import nbopt.api as api

from ..display.units import count
from ..engine.store.files import write_atomic
from ..errors import NbOptError, NbOptUsageError
from .controls import ERROR, PanelControls
from .observers import PanelObservers
from .runner import Runner
from .state import CHOICES, TRAINING, PanelState, Settings, missing_data


class Panel(PanelControls, PanelObservers, widgets.VBox):
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
        metric: Any = None,
    ):
        from ..api.context import source
        from ..engine.request import Request

        keras_model, chained = source(model, Request())
        self.recommendation = api.recommend(keras_model, calib, fit, target=target)
        self._sensitive = list(self.recommendation.sensitive)
        self.name = name or chained.name or getattr(keras_model, "name", "model")
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
            self.model_state,
            keras_model,
            calib=calib,
            eval=eval,
            fit=fit,
            name=self.name,
            metric=metric,
        )
        self._build_choices(target)
        self._build_run()
        self._build_export()
        self._build_debug()
        self._observe_state()
        self._apply_recommendation()
        super().__init__(self._layout())

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

    # -- selection --------------------------------------------------------------------------

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
            sparse=bool(self.sparse.value),
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
            self.status.value = ERROR.format(html.escape(str(exc)))

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
            self.debug_status.value = ERROR.format(html.escape(str(exc)))

    def _click_float(self) -> None:
        try:
            self.quantize_float()
        except NbOptError as exc:
            self.status.value = ERROR.format(html.escape(str(exc)))

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
            self.export_status.value = ERROR.format(html.escape(str(exc)))
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
    metric: Any = None,
) -> Panel:
    """The interactive panel for ``model`` (see :class:`Panel`); ``metric`` scores every
    variant (see :func:`nbopt.quantize`)."""
    return Panel(model, calib, eval, fit, target=target, name=name, metric=metric)


__all__ = ["CHOICES", "TRAINING", "Panel", "PanelState", "panel"]
