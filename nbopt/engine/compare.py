"""Comparisons: convert a model with several schemes and measure every variant."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ConversionError, NbOptError, NbOptUsageError
from . import cache, capture, results
from .compat import compatibility
from .convert import (
    IO_TYPES,
    LOW_BIT_SCHEMES,
    NEEDS_CALIBRATION,
    check_calibratable,
    convert,
    flex_ops,
)
from .data import EvalData, calibration_arrays, eval_data, resolve_metrics, score
from .events import Event, Listener, emit
from .interpreter import Runner, first_line
from .keras_models import input_specs, output_shapes, output_specs, require_model
from .litert import QUANTIZER_SCHEMES, quantize_flatbuffer
from .measure import MeasureSettings, measure_latency
from .memory import add_memory_columns
from .schema import fill_ratios, variant_label
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

    def to_csv(self, path: str | os.PathLike[str], force: bool = False) -> Path:
        """Write the rows to ``path`` as CSV (see :func:`nbopt.engine.results.write_csv`).

        An existing file is kept, and an error raised, unless ``force=True``.
        """
        return results.write_csv(self.rows, path, force=force)

    def __repr__(self) -> str:
        # Plain text for scripts; notebooks show the presentation layer's rendering.
        state = "interrupted" if self.interrupted else ("done" if self.done else "running")
        lines = [f"Comparison({self.name!r}, {state}, {len(self.rows)} variants)"]
        lines += [f"  {summary(r)}" for r in self.rows]
        return "\n".join(lines)


def summary(row: dict[str, Any]) -> str:
    """One plain line for a row: variant, status, size, latency, metric or error."""
    parts = [f"{variant_label(row)}: {row.get('status')}"]
    if row.get("status") != "ok":
        return parts[0] + (f" ({row['error']})" if row.get("error") else "")
    if row.get("size_bytes") is not None:
        parts.append(f"{int(row['size_bytes']):,} bytes")
    if row.get("latency_ms") is not None:
        parts.append(f"latency {row['latency_ms']:.3g} ms")
    if row.get("accuracy") is not None:
        parts.append(f"{row.get('metric')} {row['accuracy']:.4g}")
    if row.get("accuracy_delta") is not None:
        parts.append(f"delta {row['accuracy_delta']:+.4g}")
    return ", ".join(parts)


class Run:
    """One comparison under way: measures variants into rows, one at a time.

    Holds what every variant shares (settings, evaluation data, metric, the latency
    sample) and sends each row to the comparison, to :func:`nbopt.results` and to the
    listener as soon as it is measured.
    """

    def __init__(
        self,
        name: str,
        total: int,
        *,
        settings: MeasureSettings,
        evaluation: EvalData | None,
        metric: tuple[str, Any] | None,
        sample: list[Any] | None,
        listener: Listener | None,
        fresh: bool = False,
    ):
        self.comparison = Comparison(name)
        self.fresh = fresh
        self.settings = settings
        self.evaluation = evaluation
        self.metric = metric
        self.sample = sample
        self.listener = listener
        self.total = total
        self.run_id = uuid.uuid4().hex[:8]
        self.baseline: dict[str, Any] | None = None

    @property
    def index(self) -> int:
        return len(self.comparison.rows)

    def step(self, scheme: str | None, message: str) -> None:
        emit(self.listener, Event("step", scheme, message, self.index, self.total))

    def yield_point(self) -> None:
        """A point between two pieces of work (a training batch, a variant) where a sweep's
        task may give its host to a measurement waiting for it; nothing to do here."""

    def row(self, scheme: str, technique: str, **params: Any) -> dict[str, Any]:
        """A new row for a variant, with the run's parameters."""
        return {
            "model": self.comparison.name,
            "technique": technique,
            "scheme": scheme,
            "status": "ok",
            "error": None,
            "threads": self.settings.threads,
            "run_id": self.run_id,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **params,
        }

    def variant(
        self,
        row: dict[str, Any],
        make: Any,
        key: str | None = None,
        cache_key: str | None = None,
    ) -> TFLiteModel | None:
        """Convert with ``make()`` (returns flatbuffer bytes), measure, and add the row.

        A failure of the conversion or of the interpreter makes a failed row instead.
        ``key`` names the variant in ``comparison.models`` (default: its scheme).
        ``cache_key`` (:mod:`nbopt.engine.cache`) reuses the flatbuffer of the same
        conversion made before, unless the run is ``fresh``.
        """
        self.yield_point()
        scheme = row["scheme"]
        variant = None
        started = time.perf_counter()
        position = capture.mark()
        try:
            with capture.native():
                content = self.convert(row, make, cache_key)
                row["convert_seconds"] = time.perf_counter() - started
                variant = TFLiteModel(
                    content,
                    name=self.comparison.name,
                    scheme=scheme,
                    technique=row["technique"],
                    settings=self.settings,
                )
                variant.row, variant.comparison = row, self.comparison
                self.comparison.models[key or scheme] = variant
                self.measure(variant, row)
        except (NbOptError, RuntimeError, ValueError) as exc:
            row["status"] = "failed"
            row["error"] = capture.with_log(first_line(exc), capture.since(position))
            variant = None
        self.add(row, content=variant.content if variant is not None else None, model=variant)
        return variant

    def convert(self, row: dict[str, Any], make: Any, cache_key: str | None) -> bytes:
        """``make()``, or the flatbuffer the conversion keyed ``cache_key`` made before
        (the row then says ``cached``)."""
        if cache_key is not None:
            row.setdefault("config_key", cache_key)
        hit = cache.lookup(cache_key) if cache_key is not None and not self.fresh else None
        if hit is not None:
            self.step(row["scheme"], "reusing its stored conversion")
            row.update(hit.info)
            row["cached"] = True
            return hit.content
        self.step(row["scheme"], "converting")
        content = make()
        row["cached"] = False
        if cache_key is not None:
            cache.keep(cache_key, content, {k: row[k] for k in ("converter", "note") if k in row})
        return content

    def measure(self, model: TFLiteModel, row: dict[str, Any]) -> None:
        """Fill ``row`` with the sizes, latency and metric of ``model``."""
        row["size_bytes"] = model.size
        row["gzip_bytes"] = model.gzip_size
        row.update(compatibility(model.content))  # ~5 ms: reads the flatbuffer only
        flex = flex_ops(model.content)
        row["needs_flex"] = bool(flex)
        if flex:
            note = f"needs the Flex delegate (TensorFlow ops: {', '.join(flex)})"
            row["compat_notes"] = "; ".join(n for n in (note, row.get("compat_notes")) if n)
        add_memory_columns(row, model.content, model.scheme, self.settings.isolate)
        self.fill_latency(row, model.content)
        if self.evaluation is not None and self.metric is not None:
            self.step(model.scheme, "evaluating")
            outs = Runner(model.content, self.settings.threads).predict(
                self.evaluation.x, self.settings.eval_batch_size
            )
            metrics = self.metric if isinstance(self.metric, list) else [self.metric]
            scores = score(self.evaluation, metrics, outs)
            headline = self.evaluation.names[0]
            row["metric"] = scores[headline]["metric"]
            row["accuracy"] = scores[headline]["value"]
            row["metrics"] = scores
            if len(outs) > 1:
                row["metric_output"] = headline
            row["eval_samples"] = len(self.evaluation)

    def fill_latency(self, row: dict[str, Any], content: bytes) -> None:
        """Time ``content`` into ``row``'s latency columns (a sweep's task leaves them to
        the sweep's timing, which holds the host alone)."""
        self.step(row["scheme"], "measuring latency")
        row.update(measure_latency(content, self.settings, self.sample).columns())

    def add(
        self,
        row: dict[str, Any],
        record: bool = True,
        content: bytes | None = None,
        model: Any = None,
    ) -> None:
        """Append a finished row (the first ``float32`` baseline row is the reference).

        The row (and its flatbuffer ``content``) is recorded in :mod:`results` before the
        listener hears of it (with ``model``, the variant), so a process that dies in the
        listener has stored it.
        """
        if self.baseline is None and row.get("technique") == "baseline":
            self.baseline = row
        fill_ratios(row, self.baseline)
        self.comparison.rows.append(row)
        if record:
            results.record(row, content)
        emit(
            self.listener,
            Event("row", row["scheme"], row["status"], self.index, self.total, row, model),
        )

    def start(self, message: str) -> None:
        capture.new_run()
        emit(self.listener, Event("start", None, message, 0, self.total))

    def finish(self, interrupted: bool = False) -> None:
        self.comparison.done = True
        self.comparison.interrupted = interrupted
        emit(
            self.listener,
            Event("done", None, "interrupted" if interrupted else "done", self.index, self.total),
        )


def derive(
    run: Run,
    row: dict[str, Any],
    scheme: str,
    saved_model_dir: str,
    float_content: bytes | None,
    calib: list[Any] | None,
    io: str = "float",
    allow_flex: bool = False,
    per_tensor: bool = False,
) -> bytes:
    """``scheme`` of a model: from its float32 flatbuffer with the LiteRT Quantizer where
    that applies (``engine="litert"``), else (or if it fails) with the TFLite converter.
    The low-bit and weight-only schemes (``LOW_BIT_SCHEMES``) only the quantizer makes.

    ``row["converter"]`` says which made it.
    """
    settings = run.settings
    if scheme in LOW_BIT_SCHEMES:
        row["converter"] = "litert-quantizer"
        if float_content is None:
            raise ConversionError(f"{scheme} is made from the float32 model, which failed")
        return quantize_flatbuffer(float_content, scheme, None, settings.threads)
    if float_content is not None:
        check_calibratable(float_content, scheme)
    # The quantizer's int8 model has int8 inputs and outputs: it stands in for io="int8".
    fits = io == ("int8" if scheme == "int8" else "float")
    if (
        settings.engine == "litert"
        and float_content is not None
        and scheme in QUANTIZER_SCHEMES
        and fits
    ):
        try:
            content = quantize_flatbuffer(
                float_content, scheme, calib, settings.threads, per_tensor=per_tensor
            )
            _check_quantized(content, float_content, scheme)
            row["converter"] = "litert-quantizer"
            return content
        except ConversionError as exc:
            row["note"] = f"{exc}; made with the TFLite converter instead"
    row["converter"] = "tflite-converter"
    return convert(
        saved_model_dir,
        scheme,
        calib,
        io,
        isolate=settings.isolate,
        allow_flex=allow_flex,
        per_tensor=per_tensor,
    )


def _check_quantized(content: bytes, float_content: bytes, scheme: str) -> None:
    """Refuse a quantizer result that left most weights float32 (ops it does not know,
    such as fused LSTMs or embedding lookups): the TFLite converter quantizes them."""
    from .weights import float32_weight_bytes

    total = float32_weight_bytes(float_content)
    left = float32_weight_bytes(content)
    if total and left > 0.25 * total:
        raise ConversionError(
            f"the LiteRT Quantizer left {left / 1024:.0f} of {total / 1024:.0f} KB of weights "
            f"in float32 for {scheme}"
        )


def check_request(
    schemes: list[str],
    calib: Any,
    io: str,
    *,
    skip_uncalibrated: bool = False,
    aware: bool = False,
    option: str = "",
) -> list[str]:
    """Raise the mistakes in schemes, calibration and ``io`` before any work starts.

    Shared by post-training quantization and the training techniques (``option="--then "``
    names their ``--then`` scheme; ``aware``: a QAT model's int8 needs no calibration).
    Returns the schemes left out for lack of calibration data (``skip_uncalibrated``).
    """
    if io not in IO_TYPES:
        raise NbOptUsageError(f"unknown io {io!r}; choose from {', '.join(IO_TYPES)}")
    if io != "float" and "int8" not in schemes:
        add = f"add {option}int8" if option else "add int8 to the schemes"
        raise NbOptUsageError(f"io={io!r} applies to the int8 scheme; {add}")
    needs = [s for s in schemes if s in NEEDS_CALIBRATION and not aware]
    missing = needs if calib is None else []
    if missing and not skip_uncalibrated:
        raise NbOptUsageError(
            f"{', '.join(option + s for s in missing)} needs calibration data; pass "
            "representative samples, e.g. --calib x_train[:256] (calib=...)"
        )
    return missing


def conversion_keys(
    model: Any,
    schemes: list[str],
    calib: list[Any] | None,
    io: str,
    engine: str,
    *,
    allow_flex: bool = False,
    per_tensor: bool = False,
) -> dict[str, str | None]:
    """Each scheme's conversion key (:mod:`nbopt.engine.cache`); ``None`` for a model that
    cannot be described without exporting it. Every option that changes the flatbuffer
    is part of the key."""
    digest = cache.model_digest(model)
    calib_digest = cache.arrays_digest(calib)
    keys: dict[str, str | None] = {}
    for scheme in schemes:
        options: dict[str, Any] = {"io": io if scheme == "int8" else "float"}
        if scheme != "float32":
            options["engine"] = engine
        if scheme in NEEDS_CALIBRATION:
            options["calib"] = calib_digest
        if allow_flex:
            options["allow_flex"] = True
        if per_tensor and scheme == "int8":
            options["per_tensor"] = True
        keys[scheme] = cache.conversion_key(digest, scheme, **options) if digest else None
    return keys


def prepare_data(
    model: Any,
    calib: Any,
    eval: Any,
    metric: Any,  # noqa: A002
) -> tuple[list[Any] | None, EvalData | None, list[tuple[str, Any]] | None]:
    """Calibration arrays, evaluation data and the metric of each scored output of ``model``."""
    specs = input_specs(model)
    calib_arrays = calibration_arrays(calib, specs) if calib is not None else None
    evaluation = eval_data(eval, specs, output_specs(model)) if eval is not None else None
    resolved = resolve_metrics(metric, evaluation, output_shapes(model)) if evaluation else None
    return calib_arrays, evaluation, resolved


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
    allow_flex: bool = False,
    per_tensor: bool = False,
    fresh: bool = False,
) -> Comparison:
    """Convert ``model`` with the float32 baseline and each of ``schemes``, measuring each.

    Every mistake in the arguments is raised before any work starts. A variant that fails
    to convert or to run becomes a row with ``status="failed"``; the others still come.
    Rows are added to :func:`nbopt.results` as they are measured. ``allow_flex`` keeps ops
    TFLite has no kernel for as TensorFlow (Flex) ops (rows mark ``needs_flex``).
    Rows are added to :func:`nbopt.results` as they are measured. A conversion made before
    (same model, weights, scheme, options and calibration data) is reused and measured
    again, its row ``cached``; ``fresh`` converts anew.
    """
    settings = settings or MeasureSettings()
    require_model(model)
    missing = check_request(schemes, calib, io, skip_uncalibrated=skip_uncalibrated)
    if per_tensor and "int8" not in schemes:
        raise NbOptUsageError("per_tensor applies to the int8 scheme; add int8 to the schemes")
    calib_arrays, evaluation, resolved = prepare_data(model, calib, eval, metric)
    order = ["float32", *[s for s in schemes if s != "float32"]]
    run = Run(
        name or getattr(model, "name", "model"),
        len(order),
        settings=settings,
        evaluation=evaluation,
        metric=resolved,
        sample=evaluation.x if evaluation else calib_arrays,
        listener=listener,
        fresh=fresh,
    )
    keys = conversion_keys(
        model,
        order,
        calib_arrays,
        io,
        settings.engine,
        allow_flex=allow_flex,
        per_tensor=per_tensor,
    )
    exported = cache.LazyExport(model)
    needed = [keys[s] for s in order if s not in missing]
    if fresh or not all(k is not None and cache.contains(k) for k in needed):
        run.start(f"tracing {run.comparison.name}")
        if settings.isolate:
            from . import worker

            worker.warm()  # the worker imports TensorFlow while the model is traced here
        exported.path  # noqa: B018 - export now: a model that cannot be traced raises here
    else:
        run.start(f"reusing {run.comparison.name}'s conversions")
    interrupted = False
    try:
        for scheme in order:
            technique = "baseline" if scheme == "float32" else "ptq"
            row = run.row(scheme, technique, io=io if scheme == "int8" else "float")
            if per_tensor and scheme == "int8":
                row["per_tensor"] = True
            if calib_arrays is not None and scheme in NEEDS_CALIBRATION:
                row["calib_samples"] = len(calib_arrays[0])
            if scheme in missing:
                row["status"] = "skipped"
                row["error"] = "needs calibration data (calib=... / --calib)"
                run.add(row)
                continue
            if scheme == "float32":
                row["converter"] = "tflite-converter"
                run.variant(
                    row,
                    lambda: convert(
                        exported.path, "float32", isolate=settings.isolate, allow_flex=allow_flex
                    ),
                    cache_key=keys[scheme],
                )
                continue
            base = run.comparison.models.get("float32")
            run.variant(
                row,
                lambda s=scheme, r=row, b=base: derive(
                    run,
                    r,
                    s,
                    exported.path,
                    b.content if b else None,
                    calib_arrays,
                    r["io"],
                    allow_flex,
                    bool(r.get("per_tensor")),
                ),
                cache_key=keys[scheme],
            )
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        exported.cleanup()
        run.finish(interrupted)
    return run.comparison
