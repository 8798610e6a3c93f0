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
from ..engine.events import Listener
from ..engine.pipeline.comparison import Comparison
from .runner import stored_keys

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


def run_sweep(
    models: Any,
    grid: dict[str, Any],
    *,
    fit: Any = None,
    calib: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    client: Any = None,
    scheduler: str | None = None,
    epochs: int = 1,
    batch_size: int = 32,
    io: str = "float",
    metric: Any = None,
    fine_tune: Any = None,
    names: list[str] | None = None,
    resume: bool = False,
    settings: Any = None,
    listener: Listener | None = None,
) -> Comparison:
    """Run every configuration of ``grid`` for each model as a Dask task (see nbopt.sweep)."""
    from . import cluster
    from .grid import (
        Config,
        check_calibration,
        configurations,
        data_hash,
        keyed,
        model_bytes,
        model_hash,
    )
    from .runner import Sweep, new_run, stream

    if settings is None:
        from ..config import current

        settings = current().measure_settings()
    named = _named(models, names)
    configs = configurations(list(named), grid)
    check_calibration(configs, calib)
    data = {"fit": fit, "calib": calib, "eval": eval}
    extra = {k: data_hash(v) for k, v in data.items() if v is not None}
    extra.update(epochs=epochs, batch_size=batch_size, io=io, fine_tune=bool(fine_tune))
    shipped, keys = {}, {}
    for name, model in named.items():
        shipped[name] = model_bytes(model)
        keys[name] = model_hash(model)
    configs = [keyed(c, keys[c.model], extra) for c in configs]
    bases = [keyed(Config(name, "baseline"), keys[name], extra) for name in named]
    skip = stored_keys([c.key for c in (*configs, *bases)]) if resume else set()
    todo = [c for c in configs if c.key not in skip]
    dask_client = cluster.get(client, scheduler)
    _announce(dask_client)
    run = new_run(len(todo) + len(bases), settings, listener)
    run.start(f"sweep: {count(len(todo), 'configuration')} of {count(len(named), 'model')}")
    sweep = Sweep(
        client=dask_client,
        run=run,
        models=dict(zip(shipped, dask_client.scatter(list(shipped.values())))),
        data=dask_client.scatter([data])[0],
        options={
            "epochs": epochs,
            "batch_size": batch_size,
            "io": io,
            "metric": metric,
            "fine_tune": fine_tune,
            "settings": settings,
        },
        pending={
            name: [b for b in bases if b.model == name] + [c for c in todo if c.model == name]
            for name in named
        },
        recorded={b.key for b in bases if b.key in skip},
        slots=cluster.host_slots(dask_client),
    )
    comparison = stream(sweep)
    comparison.skipped = len(configs) - len(todo)  # type: ignore[attr-defined]
    return comparison


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
