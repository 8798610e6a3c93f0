"""``optimize``: tell nbopt the goal and the metric budget; it searches the techniques.

Each candidate is a call of :func:`~nbopt.api.techniques.quantize`, ``prune`` or
``cluster`` (one request through the one pipeline); the candidates are compared on a
validation split and the pick is reported on ``eval``. The decisions (candidates, budget,
verdicts) are :mod:`nbopt.engine.analyse.search`; the result is :class:`Optimized`.
"""

from __future__ import annotations

from typing import Any

from ..engine.analyse import search
from ..engine.model.tflite_model import TFLiteModel
from ..engine.request import Request
from ..engine.store.schema import check_max_drop
from ..errors import NbOptUsageError
from ..surface import entry_point
from .context import source, with_settings
from .optimized import Optimized, eval_figures
from .searching import Search


@entry_point("optimize", with_settings)
def optimize(model: Any, request: Request) -> Optimized:
    """The smallest model (by ``goal``) whose metric drops at most ``max_drop``.

    Candidates, cheap first: the post-training schemes (int8 with int8 I/O for
    ``edgetpu`` and ``mcu``), int8 with the fewest float layers if plain int8 misses
    ``max_drop``; with ``fit``, training candidates by successive halving: quantization-
    aware training, pruning at 0.5 and 0.8 (then int8, and each stored sparse),
    clustering at 16 and 8 (then int8), and PQAT / CQAT from each pruned or clustered
    model, one short fine-tune each; those that could still become the pick train on from
    their saved weights (2, then 4 more epochs). A training candidate that cannot beat the
    best so far is not run, with the reason. Candidates are compared on ``val`` (default:
    a seeded 20% of ``fit``, the rest trains them); the pick is then measured on ``eval``.
    Candidates the ``target`` cannot run are excluded; the ``budget`` (a number of
    candidates run, each fine-tune counting once, or a time) stops the search. A
    ``.tflite`` searches the post-training candidates only.

    Returns
    -------
    Optimized
        ``.df`` (every candidate's row and its ``verdict``), ``.pick`` (the chosen
        TFLiteModel, its row's figures on ``eval``), ``.reason``, ``.line`` (the magic
        that reproduces it), ``.front`` and ``.trail`` (the search's decisions).
    """
    model, request = source(model, request)
    plan = _check(model, request)
    found = Search(model, request, plan, _pool(model, request, plan))
    found.run()
    index = search.judge(found.rows, plan["goal"], plan["max_drop"])
    pick = None
    if index is not None:
        pick = eval_figures(found.models[index], plan["eval"], request.data.metric, found.baseline)
    return Optimized(found, pick, index)


def _pool(model: Any, request: Request, plan: dict[str, Any]) -> Any:
    """Dask, where the request asks for it (a .tflite's few candidates run here)."""
    grid = request.grid
    if not plan["keras"] or (grid.client is None and not grid.scheduler and not grid.workers):
        return None
    from ..sweeps.search_tasks import Pool

    return Pool.start(model, request, plan)


def _check(model: Any, request: Request) -> dict[str, Any]:
    """Every mistake as one line before any work; the plan: splits, budget, candidates."""
    from ..engine.convert.converter import LOW_BIT_SCHEMES
    from ..engine.model.keras_models import require_model

    keras = not isinstance(model, TFLiteModel)
    if keras:
        require_model(model)
    data, analysis, goal = request.data, request.analysis, request.analysis.goal
    if goal == "latency" and analysis.target != "cpu":
        raise NbOptUsageError(
            f"--goal latency is measured on this machine's CPU; it cannot rank models for "
            f"{analysis.target}: use --goal size, gzip or ram"
        )
    if data.eval is None:
        raise NbOptUsageError("optimize reports the pick on --eval: pass --eval x_test,y_test")
    if data.val is None and data.fit is None:
        raise NbOptUsageError("optimize compares candidates on --val, or 20% of --fit: pass one")
    workers = request.grid.workers
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise NbOptUsageError(f"workers must be 1 or more; got {workers!r}")
    for label, kb in (("ram_kb", analysis.ram_kb), ("flash_kb", analysis.flash_kb)):
        if kb is not None and (not isinstance(kb, (int, float)) or kb <= 0):
            raise NbOptUsageError(f"{label} must be a positive number of KB; got {kb!r}")
    count, seconds = search.parse_budget(request.analysis.budget)
    train, val = _splits(model, data.fit, data.val, request.analysis.seed)
    evaluation = _labelled(model, data.eval)
    calib = data.calib if data.calib is not None else (train[0] if train else None)
    low_bit = tuple(s for s in ("int4", "int4-block32", "weight-int8") if s in LOW_BIT_SCHEMES)
    return {
        "goal": goal,
        "max_drop": check_max_drop(request.conversion.max_drop),
        "count": count,
        "seconds": seconds,
        "train": train,
        "val": val,
        "eval": evaluation,
        "calib": calib,
        "candidates": search.candidates(analysis.target, low_bit),
        "lines": search.lines(analysis.target, goal),
        "keras": keras,
        "name": request.name or getattr(model, "name", "model"),
        "identity": _identity(model, request, train, val, evaluation, calib),
    }


def _splits(model: Any, fit: Any, val: Any, seed: int) -> tuple[Any, Any]:
    """``(train, val)``: ``val`` as given (``fit`` trains), else a seeded 20% of ``fit``."""
    import numpy as np

    from ..engine.data.labels import eval_data, fit_data
    from ..engine.pipeline.checks import model_specs

    specs, outs, _ = model_specs(model)
    train = None
    if fit is not None:
        data = fit_data(fit, specs, outs)
        train = (_one(data.x), _one(data.ys))
    if val is not None:
        checked = eval_data(val, specs, outs, what="val", hint="pass (x, y), e.g. --val x,y")
        return train, (_one(checked.x), _one(checked.ys))
    n = len(data.x[0])
    if n < 5:
        raise NbOptUsageError(f"fit has {n} samples; hold out a validation part: pass --val x,y")
    order = np.random.default_rng(seed).permutation(n)
    held, rest = order[: max(1, n // 5)], order[max(1, n // 5) :]
    pick = lambda arrays, idx: _one([a[idx] for a in arrays])  # noqa: E731
    return (pick(data.x, rest), pick(data.ys, rest)), (pick(data.x, held), pick(data.ys, held))


def _labelled(model: Any, data: Any) -> tuple[Any, Any]:
    """``eval`` as ``(x, y)`` arrays (a dataset or generator read once), or a one-line error."""
    from ..engine.data.labels import eval_data
    from ..engine.pipeline.checks import model_specs

    specs, outs, _ = model_specs(model)
    checked = eval_data(data, specs, outs)
    return _one(checked.x), _one(checked.ys)


def _one(arrays: list[Any]) -> Any:
    return arrays[0] if len(arrays) == 1 else list(arrays)


def _identity(model: Any, request: Request, *splits: Any) -> str | None:
    """What makes a re-run the same search (not the budget): the model, data and options
    that decide each candidate's measurement."""
    from ..engine.store import searches

    metric = request.data.metric
    facts = {
        "seed": request.analysis.seed,
        "target": request.analysis.target,
        "metric": getattr(metric, "__qualname__", metric),
        "threads": request.measurement.threads,
        "name": request.name,
    }
    names = ("train", "val", "eval", "calib")
    return searches.identity(model, dict(zip(names, splits)), facts)
