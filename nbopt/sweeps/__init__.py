"""Sweeps: many configurations of one or more models as Dask tasks.

- :mod:`.grid`: the configurations of a grid and their ``config_key``;
- :mod:`.cluster`: the Dask client (a LocalCluster on first use, or a scheduler's address);
- :mod:`.recycle`: restarting a worker whose memory has grown, between two of its tasks;
- :mod:`.worker_plugin`: the base class of those two modules' worker plugins;
- :mod:`.hostlock`: one measurement at a time per host, while training runs in parallel;
- :mod:`.task`: what a worker runs for one configuration;
- :mod:`.runner`: the kernel's side: submit, stream rows as tasks finish, progress.

(The package is ``nbopt.sweeps`` so that ``nbopt.sweep`` stays the function.)
"""

from __future__ import annotations

from typing import Any

from ..display.units import count
from ..engine.pipeline.comparison import Comparison
from ..engine.request import Request
from .runner import Sweep, new_run, stored_keys, stream

__all__ = ["run_sweep", "stored_keys"]

_announced: set[str] = set()


def _named(models: Any, names: list[str] | None) -> dict[str, Any]:
    from ..engine.model.keras_models import require_model
    from ..errors import NbOptUsageError

    if isinstance(models, dict):
        out = dict(models)
    else:
        models = list(models) if isinstance(models, (list, tuple)) else [models]
        labels = names or [getattr(m, "name", f"model{i}") for i, m in enumerate(models)]
        if len(labels) != len(models):
            raise NbOptUsageError(f"{len(labels)} names for {len(models)} models")
        out = dict(zip(labels, models))
        if len(out) != len(models):
            raise NbOptUsageError("two models share a name; pass names=... or a dict")
    for name, model in out.items():
        require_model(model, f"model {name!r}")
    return out


def run_sweep(models: Any, grid: dict[str, Any], request: Request) -> Comparison:
    """Run every configuration of ``grid`` for each model as a Dask task (see nbopt.sweep).

    The tasks get ``request`` without its data (fit, calib and eval are scattered once) and
    without the kernel's listener; each builds its configuration's request from it.
    """
    from . import cluster
    from .grid import Config, check_calibration, configurations, keyed

    data = {k: getattr(request.data, k) for k in ("fit", "calib", "eval")}
    named = _named(models, request.grid.names)
    configs = configurations(list(named), grid)
    check_calibration(configs, data["calib"])
    shipped, keys, extra = _identities(named, data, request)
    configs = [keyed(c, keys[c.model], extra) for c in configs]
    bases = [keyed(Config(name, "baseline"), keys[name], extra) for name in named]
    skip = stored_keys([c.key for c in (*configs, *bases)]) if request.grid.resume else set()
    todo = [c for c in configs if c.key not in skip]
    dask_client = cluster.get(request.grid.client, request.grid.scheduler)
    _announce(dask_client)
    run = new_run(len(todo) + len(bases), request.settings, request.listener)
    run.start(f"sweep: {count(len(todo), 'configuration')} of {count(len(named), 'model')}")
    shipped_request = request.with_options(
        fit=None, calib=None, eval=None, progress=None, client=None
    )
    sweep = Sweep(
        client=dask_client,
        run=run,
        models={},
        data=None,
        shipped=(shipped, data),
        request=shipped_request,
        pending={
            name: [b for b in bases if b.model == name] + [c for c in todo if c.model == name]
            for name in named
        },
        recorded={b.key for b in bases if b.key in skip},
        slots=cluster.host_slots(dask_client),
    )
    sweep.scatter()
    comparison = stream(sweep)
    comparison.skipped = len(configs) - len(todo)  # type: ignore[attr-defined]
    return comparison


def _identities(
    named: dict[str, Any], data: dict[str, Any], request: Request
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """Each model as bytes to ship, its hash, and what else decides a configuration's key."""
    from .grid import data_hash, model_bytes, model_hash

    training = request.training
    extra = {k: data_hash(v) for k, v in data.items() if v is not None}
    extra.update(
        epochs=training.epochs,
        batch_size=training.batch_size,
        io=request.conversion.io,
        fine_tune=bool(training.fine_tune),
    )
    shipped = {name: model_bytes(model) for name, model in named.items()}
    keys = {name: model_hash(model) for name, model in named.items()}
    return shipped, keys, extra


def _announce(client: Any) -> None:
    from .cluster import dashboard

    link = dashboard(client)
    scheduler = client.scheduler.address
    if scheduler in _announced:
        return
    _announced.add(scheduler)
    workers = len(client.nthreads())
    where = f"; dashboard {link}" if link else ""
    print(f"nbopt: sweeping on Dask scheduler {scheduler} ({workers} workers){where}")
