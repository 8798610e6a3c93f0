"""Comparisons: convert a model with several schemes and measure every variant."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from ..errors import ConversionError, NbOptError, NbOptUsageError
from . import results
from .convert import IO_TYPES, NEEDS_CALIBRATION, convert, export_saved_model
from .data import EvalData, calibration_arrays, eval_data, resolve_metric
from .events import Event, Listener, emit
from .interpreter import Runner, first_line
from .keras_models import input_specs, output_shape, require_model
from .measure import MeasureSettings, measure_latency
from .tflite_model import TFLiteModel


class Comparison:
    """Variants of one model and their measurements.

    ``df`` is the results table (one row per variant, float32 baseline first), ``models``
    maps each scheme to its :class:`TFLiteModel`. While a comparison runs, rows are added
    as each variant is measured.
    """

    def __init__(self, name: str):
        self.name = name
        self.rows: list[dict[str, Any]] = []
        self.models: dict[str, TFLiteModel] = {}
        self.done = False
        self.interrupted = False

    @property
    def df(self) -> Any:
        """The rows as a pandas DataFrame (a new frame each time)."""
        return results.frame(self.rows)

    def __getitem__(self, scheme: str) -> TFLiteModel:
        try:
            return self.models[scheme]
        except KeyError:
            raise KeyError(
                f"no {scheme!r} variant; this comparison has {', '.join(self.models) or 'none'}"
            ) from None

    def __len__(self) -> int:
        return len(self.rows)

    def save(self, folder: str, force: bool = False) -> list[str]:
        """Write every variant's .tflite into ``folder``; returns the paths."""
        return [
            str(m.save(folder + "/" if not folder.endswith("/") else folder, force=force))
            for m in self.models.values()
        ]

    def __repr__(self) -> str:
        from ..display import comparison_text

        return comparison_text(self)

    def _repr_html_(self) -> str:
        from ..display import comparison_html

        return comparison_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from ..display import comparison_bundle

        return comparison_bundle(self)


def _blank_row(name: str, scheme: str, run_id: str, io: str, threads: int) -> dict[str, Any]:
    return {
        "model": name,
        "technique": "baseline" if scheme == "float32" else "ptq",
        "scheme": scheme,
        "status": "ok",
        "error": None,
        "io": io if scheme == "int8" else "float",
        "threads": threads,
        "run_id": run_id,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def fill_ratios(row: dict[str, Any], base: dict[str, Any] | None) -> None:
    """``size_ratio``, ``gzip_ratio``, ``speedup`` and ``accuracy_delta`` against ``base``."""
    if not base or base.get("status") != "ok" or row.get("status") != "ok":
        return

    def ratio(a: Any, b: Any) -> float | None:
        return float(a) / float(b) if a and b else None

    row["size_ratio"] = ratio(base.get("size_bytes"), row.get("size_bytes"))
    row["gzip_ratio"] = ratio(base.get("gzip_bytes"), row.get("gzip_bytes"))
    row["speedup"] = ratio(base.get("latency_ms"), row.get("latency_ms"))
    if row.get("accuracy") is not None and base.get("accuracy") is not None:
        row["accuracy_delta"] = float(row["accuracy"]) - float(base["accuracy"])


def measure_variant(
    model: TFLiteModel,
    row: dict[str, Any],
    settings: MeasureSettings,
    evaluation: EvalData | None,
    metric: Any,
    sample: list[Any] | None,
    listener: Listener | None = None,
    index: int = 0,
    total: int = 0,
) -> None:
    """Fill ``row`` with the sizes, latency and metric of ``model``."""
    row["size_bytes"] = model.size
    row["gzip_bytes"] = model.gzip_size
    emit(listener, Event("step", model.scheme, "measuring latency", index, total))
    lat = measure_latency(model.content, settings, sample)
    row["latency_ms"] = lat.median_ms
    row["latency_p90_ms"] = lat.p90_ms
    row["latency_cv"] = lat.cv
    row["latency_runs"] = lat.runs
    if evaluation is not None:
        emit(listener, Event("step", model.scheme, "evaluating", index, total))
        outs = Runner(model.content, settings.threads).predict(
            evaluation.x, settings.eval_batch_size
        )
        name, fn = metric
        row["metric"] = name
        row["accuracy"] = float(fn(evaluation.y, outs[0]))
        row["eval_samples"] = len(evaluation)


def run_post_training(
    model: Any,
    schemes: list[str],
    *,
    calib: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    io: str = "float",
    metric: Any = None,
    name: str | None = None,
    settings: MeasureSettings | None = None,
    listener: Listener | None = None,
    skip_uncalibrated: bool = False,
) -> Comparison:
    """Convert ``model`` with the float32 baseline and each of ``schemes``, measuring each.

    Every mistake in the arguments is raised before any work starts. A variant that fails
    to convert or to run becomes a row with ``status="failed"``; the others still come.
    Rows are added to :func:`nbopt.results` as they are measured.
    """
    settings = settings or MeasureSettings()
    require_model(model)
    if io not in IO_TYPES:
        raise NbOptUsageError(f"unknown io {io!r}; choose from {', '.join(IO_TYPES)}")
    if io != "float" and "int8" not in schemes:
        raise NbOptUsageError(f"io={io!r} applies to the int8 scheme; add int8 to the schemes")
    specs = input_specs(model)
    missing = [s for s in schemes if s in NEEDS_CALIBRATION] if calib is None else []
    if missing and not skip_uncalibrated:
        raise NbOptUsageError(
            f"{', '.join(missing)} needs calibration data; pass representative samples, "
            "e.g. --calib x_train[:256] (calib=...)"
        )
    calib_arrays = calibration_arrays(calib, specs) if calib is not None else None
    evaluation = eval_data(eval, specs) if eval is not None else None
    resolved_metric = (
        resolve_metric(metric, evaluation.y, output_shape(model)) if evaluation else None
    )
    sample = evaluation.x if evaluation else calib_arrays
    name = name or getattr(model, "name", "model")
    run_id = uuid.uuid4().hex[:8]
    comparison = Comparison(name)
    order = ["float32", *[s for s in schemes if s != "float32"]]
    total = len(order)
    emit(listener, Event("start", None, f"tracing {name}", 0, total))
    exported = export_saved_model(model)
    base_row: dict[str, Any] | None = None
    try:
        for i, scheme in enumerate(order):
            row = _blank_row(name, scheme, run_id, io, settings.threads)
            if calib_arrays is not None and scheme in NEEDS_CALIBRATION:
                row["calib_samples"] = len(calib_arrays[0])
            if scheme in missing:
                row["status"] = "skipped"
                row["error"] = "needs calibration data (calib=... / --calib)"
            else:
                emit(listener, Event("step", scheme, "converting", i, total))
                started = time.perf_counter()
                try:
                    content = convert(
                        exported.path, scheme, calib_arrays, io if scheme == "int8" else "float"
                    )
                    row["convert_seconds"] = time.perf_counter() - started
                    variant = TFLiteModel(
                        content,
                        name=name,
                        scheme=scheme,
                        technique=row["technique"],
                        settings=settings,
                    )
                    variant.row, variant.comparison = row, comparison
                    comparison.models[scheme] = variant
                    measure_variant(
                        variant,
                        row,
                        settings,
                        evaluation,
                        resolved_metric,
                        sample,
                        listener,
                        i,
                        total,
                    )
                except (ConversionError, NbOptError, RuntimeError, ValueError) as exc:
                    row["status"] = "failed"
                    row["error"] = first_line(exc)
            if scheme == "float32":
                base_row = row
            fill_ratios(row, base_row)
            comparison.rows.append(row)
            results.record(row)
            emit(listener, Event("row", scheme, row["status"], i + 1, total, row=row))
    except KeyboardInterrupt:
        comparison.interrupted = True
        raise
    finally:
        comparison.done = True
        exported.cleanup()
        emit(
            listener,
            Event(
                "done",
                None,
                "interrupted" if comparison.interrupted else "done",
                len(comparison.rows),
                total,
            ),
        )
    return comparison
