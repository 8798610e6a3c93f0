"""The entry points over many rows: ``sweep``, ``results`` and ``log``."""

from __future__ import annotations

from typing import Any

from ..engine.pipeline.comparison import Comparison
from ..engine.request import Request
from ..surface import entry_point
from .context import with_settings


@entry_point("sweep", with_settings)
def sweep(models: Any, grid: dict[str, Any] | None, request: Request) -> Comparison:
    """Many configurations of one or more models, each a Dask task; rows stream in.

    ``fit``, ``calib`` and ``eval`` are scattered to the workers once.

    Returns
    -------
    Comparison
        Every row (one per configuration and a float32 baseline per model), with
        ``worker``, ``host`` and ``config_key``; ``models`` maps each configuration's
        label to its TFLiteModel.
    """
    from ..config import current
    from ..sweeps import run_sweep

    if request.grid.scheduler is None and current().scheduler:
        request = request.with_options(scheduler=current().scheduler)
    return run_sweep(models, dict(grid or {}), request)


def results(
    all: bool = False,  # noqa: A002 - the documented name
    model: str | None = None,
    run: str | None = None,
) -> Any:
    """Every row measured in this kernel (or process), as a DataFrame.

    Parameters
    ----------
    all : bool
        Every row in the results store (``NbOpt.store``), from every kernel and session.
    model, run : str, optional
        Only the rows of this model name, or of this ``run_id``.
    """
    from ..engine.store import results as store

    return store.frame(store.rows(all=all, model=model, run=run))


def log() -> str:
    """What TensorFlow, the converter and the quantizer printed during the last run.

    nbopt keeps that output out of the notebook's cells; a failed row's ``error`` quotes
    the relevant lines, and this returns all of it (``%nbopt log`` prints it).
    """
    from ..engine.capture import log as captured

    return captured()
