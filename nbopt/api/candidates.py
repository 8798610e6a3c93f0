"""One candidate of optimize's search measured: its request through the one pipeline, its rows.

A post-training candidate is one ``quantize`` call; a training candidate is one fine-tune
(``prune``, ``cluster``, or ``quantize(aware=True)``) whose every variant is a row, named
after the candidate (``prune 0.8+int8 sparse``). Every candidate is measured on the
search's validation split.
"""

from __future__ import annotations

from typing import Any

from ..engine.analyse import search
from ..engine.request import Request
from ..engine.store import results
from .optimized import skipped_row
from .techniques import _train, run_quantize


def _common(plan: dict[str, Any], request: Request) -> dict[str, Any]:
    return {
        "eval": plan["val"],
        "metric": request.data.metric,
        "threads": request.measurement.threads,
        "name": plan["name"],
    }


def _failed(plan: dict[str, Any], c: Any, exc: Exception) -> dict[str, Any]:
    row = skipped_row(plan["name"], c, f"excluded: it failed ({exc})")
    row.update(status="failed", error=str(exc))
    return row


def _request(s: Any, technique: str, **options: Any) -> Request:
    """A candidate's request: its options, with the search's measurement settings."""
    built = Request.build(technique, **options)
    return built.with_options(settings=s.request.settings)


def post_training(s: Any, c: Any) -> list[tuple[dict[str, Any], Any]]:
    """Candidate ``c`` (a scheme, or int8 with the fewest float layers) as ``(row, model)``."""
    plan, common = s.plan, _common(s.plan, s.request)
    options = {**c.options, **common, "calib": plan["calib"]}
    if c.call == "float-search":
        options["max_drop"] = plan["max_drop"]
    try:
        made = run_quantize(s.model, _request(s, "ptq", **options))
    except Exception as exc:  # a candidate that fails is a row, not the end of the search
        return [(_failed(plan, c, exc), None)]
    s.saw(made.comparison)
    made.row["candidate"] = c.label
    return [(made.row, made)]


def post_training_together(s: Any, jobs: list[Any], done: Any) -> None:
    """Post-training ``jobs`` (one scheme each, the same I/O) in one comparison, with one
    float32 baseline; ``done(job)`` as each one's row is measured."""
    plan = s.plan
    by_scheme = {job.c.options["scheme"]: job for job in jobs}
    io = jobs[0].c.options.get("io", "float")

    def listen(event: Any) -> None:
        row = event.row or {}
        job = by_scheme.get(row.get("scheme")) if event.kind == "row" else None
        if job is not None and row.get("technique") != "baseline" and not job.pairs:
            row["candidate"] = job.c.label
            job.pairs = [(row, event.model)]
            done(job)

    options = {**_common(plan, s.request), "calib": plan["calib"], "io": io}
    request = _request(s, "ptq", scheme=",".join(by_scheme), progress=listen, **options)
    try:
        made = run_quantize(s.model, request)
        s.saw(getattr(made, "comparison", None) or made)  # one scheme: its TFLiteModel
    except Exception as exc:  # noqa: BLE001 - the candidates not measured fail, each a row
        for job in jobs:
            if not job.pairs:
                job.pairs = [(_failed(plan, job.c, exc), None)]
                done(job)
    for job in jobs:
        if not job.pairs:
            why = RuntimeError("the comparison made no row for it")
            job.pairs = [(_failed(plan, job.c, why), None)]
            done(job)


def training(
    s: Any, c: Any, source: Any, epochs: int, state: dict[str, Any] | None
) -> tuple[Any, list[tuple[dict[str, Any], Any]]]:
    """Fine-tune training candidate ``c`` of ``source`` for ``epochs`` (on from the weights
    its last rung saved, in ``state``); the result, and ``(row, model)`` for each variant.

    ``source`` is the model, or for PQAT / CQAT the pruned or clustered Keras model, whose
    rows keep the original model's float32 baseline as their reference."""
    import tensorflow as tf

    plan, request = s.plan, s.request
    options = {**c.options, **_common(plan, request), "fit": plan["train"], "epochs": epochs}
    if c.options.get("then") in ("int8", "int16x8") or c.options.get("io") == "int8":
        options["calib"] = plan["calib"]
    built = _request(s, _technique(c), **options)
    start = state and (state.get("wrapped") or state["weights"])  # in memory: no new trace
    built = built.with_options(start_from=start, keep_weights=True)
    if s.baseline_row is not None:  # measured once per search, not again per fine-tune
        built = built.with_options(baseline=s.baseline_row)
    built = built.with_options(beat=s.beat)  # a variant that cannot beat it goes unmeasured
    tf.keras.utils.set_random_seed(request.analysis.seed)
    try:
        made = _train(source, built)
    except Exception as exc:  # a candidate that fails is a row, not the end of the search
        return None, [(_failed(plan, c, exc), None)]
    s.saw(made.comparison)
    return made, _variants(made, c, epochs + (state["epochs"] if state else 0))


def _technique(c: Any) -> str:
    return "qat" if c.options.get("aware") else c.call


def rebuild(s: Any, c: Any, state: dict[str, Any]) -> Any:
    """The fine-tuned Keras model of training candidate ``c`` (pruning or clustering of the
    model) from its kept weights, without training or measuring it."""
    from ..engine.training.pipeline import rebuild as rebuilt

    options = {**c.options, "fit": s.plan["train"], "epochs": search.EPOCHS}
    for name in ("then", "sparse", "io"):  # conversions: not needed for the Keras model
        options.pop(name, None)
    built = Request.build(_technique(c), **options).with_options(start_from=state["weights"])
    return rebuilt(s.model, built)


def restored(s: Any, stored: list[tuple[dict[str, Any], Any]]) -> list[tuple[dict, Any]] | None:
    """Rows and models of a candidate run read back from the store (each flatbuffer
    verified and opened in the worker first), or None if one is not sound."""
    from ..engine.model.trust import check

    isolate = s.request.settings.isolate
    out = []
    for row, content in stored:
        row.pop("verdict", None)
        model = None
        if content is not None:
            try:
                check(content, f"the stored {row.get('candidate')}", isolate)
            except Exception:  # noqa: BLE001 - damaged: measured again
                return None
            model = model_of(row, content, s.request.settings)
        out.append((row, model))
    return out


def model_of(row: dict[str, Any], content: bytes | None, settings: Any) -> Any:
    """The :class:`TFLiteModel` of a row measured elsewhere (the store, a Dask worker)."""
    from ..engine.model.tflite_model import TFLiteModel

    if content is None:
        return None
    model = TFLiteModel(
        content, name=row.get("model") or "model", scheme=row.get("scheme") or "float32",
        technique=row.get("technique") or "ptq", settings=settings,
    )  # fmt: skip
    model.row = row
    return model


def _variants(made: Any, c: Any, total: int) -> list[tuple[dict[str, Any], Any]]:
    """Every non-baseline row of the fine-tune's comparison, labelled, with its model."""
    comparison = made.comparison
    by_row = {id(m.row): m for m in comparison.models.values()}
    out = []
    for row in comparison.rows:
        if row.get("technique") == "baseline":
            continue
        if total != row.get("epochs"):
            row["epochs"] = total  # the rungs before this one count too
            results.update(row)
        row["candidate"] = label(c, row, total)
        model = by_row.get(id(row))
        if model is not None:  # every variant stands for the fine-tuned Keras model
            model.keras_model = made.keras_model
        out.append((row, model))
    return out


def label(c: Any, row: dict[str, Any], total: int) -> str:
    """``prune 0.8+int8 sparse, 3 epochs``: the candidate, its variant, its training."""
    text = c.label
    if row.get("then"):
        text += f"+{row['then']}"
    if row.get("stored_sparse"):
        text += " sparse"
    return text if total == search.EPOCHS else f"{text}, {total} epochs"
