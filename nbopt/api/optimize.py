"""``optimize``: tell nbopt the goal and the metric budget; it searches the techniques.

Each candidate is a call of :func:`~nbopt.api.techniques.quantize`, ``prune`` or
``cluster`` (one request through the one pipeline); the candidates are compared on a
validation split and the pick is reported on ``eval``. The decisions (candidates, budget,
verdicts) are :mod:`nbopt.engine.analyse.search`; the result is :class:`Optimized`.
"""

from __future__ import annotations

import time
from typing import Any

from ..engine.analyse import search
from ..engine.events import Event, emit
from ..engine.request import Request
from ..engine.store.schema import check_max_drop
from ..errors import NbOptUsageError
from ..surface import entry_point
from .context import keras_only, source, with_settings
from .optimized import Optimized, eval_figures, skipped_row
from .techniques import cluster, prune, quantize

_CALLS = {"quantize": quantize, "prune": prune, "cluster": cluster}


@entry_point("optimize", with_settings)
def optimize(model: Any, request: Request) -> Optimized:
    """The smallest model (by ``goal``) whose metric drops at most ``max_drop``.

    Candidates, cheap first: the post-training schemes (int8 with int8 I/O for
    ``edgetpu`` and ``mcu``), int8 with the fewest float layers if plain int8 misses
    ``max_drop``; with ``fit``: quantization-aware training, pruning at 0.5 and 0.8 then
    int8, clustering at 16 then int8 (one fine-tuning epoch each). They are compared on
    ``val`` (default: a seeded 20% of ``fit``, the rest trains them); the pick is then
    measured on ``eval``. Candidates the ``target`` cannot run are excluded; the
    ``budget`` (candidates or time) stops the search.

    Returns
    -------
    Optimized
        ``.df`` (every candidate's row and its ``verdict``), ``.pick`` (the chosen
        TFLiteModel, its row's figures on ``eval``), ``.reason``, ``.line`` (the magic
        that reproduces it) and ``.front``.
    """
    model, request = source(model, request)
    keras_only(model, "optimize")
    plan = _check(model, request)
    rows, models = _search(model, request, plan)
    index = search.judge(rows, plan["goal"], plan["max_drop"])
    pick = None
    if index is not None:
        pick = eval_figures(models[index], plan["eval"], request.data.metric)
    return Optimized(rows, pick, index, plan)


def _check(model: Any, request: Request) -> dict[str, Any]:
    """Every mistake as one line before any work; the plan: splits, budget, candidates."""
    from ..engine.convert.converter import LOW_BIT_SCHEMES
    from ..engine.model.keras_models import require_model

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
        "name": request.name or getattr(model, "name", "model"),
    }


def _splits(model: Any, fit: Any, val: Any, seed: int) -> tuple[Any, Any]:
    """``(train, val)``: ``val`` as given (``fit`` trains), else a seeded 20% of ``fit``."""
    import numpy as np

    from ..engine.data.labels import eval_data, fit_data
    from ..engine.model.keras_models import input_specs, output_specs

    specs, outs = input_specs(model), output_specs(model)
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
    from ..engine.model.keras_models import input_specs, output_specs

    checked = eval_data(data, input_specs(model), output_specs(model))
    return _one(checked.x), _one(checked.ys)


def _one(arrays: list[Any]) -> Any:
    return arrays[0] if len(arrays) == 1 else list(arrays)


def _search(model: Any, request: Request, plan: dict[str, Any]) -> tuple[list, list]:
    """Run the candidates in order; a row (and its model, or None) for each."""
    listener, cands = request.listener, plan["candidates"]
    rows: list[dict[str, Any]] = []
    models: list[Any] = []
    started, ran = time.perf_counter(), 0
    emit(listener, Event("start", message="optimize", total=len(cands)))
    for i, c in enumerate(cands):
        why = _why_not(c, rows, request, plan, ran, time.perf_counter() - started)
        if why is not None:
            rows.append(skipped_row(plan["name"], c, why))
            models.append(None)
            continue
        best = search.best_so_far(rows, plan["goal"], plan["max_drop"])
        message = f"{ran} done, {len(cands) - i} left; best so far: {best}"
        emit(listener, Event("step", scheme=c.label, message=message, index=i, total=len(cands)))
        row, made = _run(model, c, request, plan)
        ran += 1
        a = request.analysis
        row["verdict"] = row.get("verdict") or search.excluded_after(
            row, a.target, a.ram_kb, a.flash_kb
        )
        rows.append(row)
        models.append(made)
        emit(listener, Event("row", c.label, index=i + 1, total=len(cands), row=row, model=made))
    emit(listener, Event("done", message="optimize", index=len(cands), total=len(cands)))
    return rows, models


def _why_not(c: Any, rows: list, request: Request, plan: dict, ran: int, spent: float) -> Any:
    """Why candidate ``c`` is not run (excluded by the target, no data, budget), or None."""
    why = search.excluded_before(c, request.analysis.target, plan["train"] is not None)
    if why is None and plan["calib"] is None and c.options.get("scheme") in ("int8", "int16x8"):
        why = "not run: it calibrates; pass --calib or --fit"
    if why is None and c.call == "float-search":
        int8 = next((r for r in rows if r.get("candidate") == "int8"), None)
        if int8 is None or int8.get("status") != "ok":
            why = "not run: plain int8 was not measured"
        elif search.drop_of(int8) <= plan["max_drop"]:
            why = "not run: plain int8 is within max_drop"
    if why is None and plan["count"] is not None and ran >= plan["count"]:
        why = f"not run: budget spent ({plan['count']} candidates)"
    if why is None and plan["seconds"] is not None and spent >= plan["seconds"]:
        why = f"not run: budget spent ({spent:.0f} s)"
    return why


def _run(model: Any, c: Any, request: Request, plan: dict[str, Any]) -> tuple[dict, Any]:
    """Measure one candidate on the validation split through its entry point."""
    common = {
        "eval": plan["val"],
        "metric": request.data.metric,
        "threads": request.measurement.threads,
        "name": plan["name"],
    }
    try:
        if c.trains:
            import tensorflow as tf

            tf.keras.utils.set_random_seed(request.analysis.seed)
            if c.options.get("then") in ("int8", "int16x8"):
                common["calib"] = plan["calib"]
            fit, epochs = plan["train"], search.EPOCHS
            made = _CALLS[c.call](model, fit=fit, epochs=epochs, **c.options, **common)
        elif c.call == "float-search":
            made = quantize(
                model, calib=plan["calib"], max_drop=plan["max_drop"], **c.options, **common
            )
        else:
            made = quantize(model, calib=plan["calib"], **c.options, **common)
    except Exception as exc:  # a candidate that fails is a row, not the end of the search
        row = skipped_row(plan["name"], c, f"excluded: it failed ({exc})")
        row.update(status="failed", error=str(exc))
        return row, None
    return {**made.row, "candidate": c.label}, made
