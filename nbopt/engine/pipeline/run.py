"""A comparison under way (:class:`Run`): each variant made or reused, measured, recorded."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from ...errors import NbOptError
from .. import capture
from ..analyse.compat import compatibility
from ..convert.converter import (
    flex_ops,
)
from ..data.metrics import score
from ..data.specs import EvalData
from ..events import Event, Listener, emit
from ..measure.interpreter import Runner, first_line
from ..measure.latency import MeasureSettings, measure_latency
from ..measure.memory import add_memory_columns
from ..measure.sparse import sparse_columns
from ..model.tflite_model import TFLiteModel
from ..model.trust import runs_safely
from ..store import cache, results
from ..store.schema import fill_ratios
from .comparison import Comparison


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
        beat: Any = None,
    ):
        self.comparison = Comparison(name)
        self.fresh = fresh
        self.beat = beat  # a request's Beat: variants that cannot beat it are not measured
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
        ``cache_key`` (:mod:`nbopt.engine.store.cache`) reuses the flatbuffer of the same
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
                if self.settings.isolate:
                    runs_safely(content, scheme)  # a runtime abort kills the worker, not the kernel
                variant = TFLiteModel(
                    content,
                    name=self.comparison.name,
                    scheme=scheme,
                    technique=row["technique"],
                    settings=self.settings,
                )
                variant.row, variant.comparison = row, self.comparison
                why = self.cannot_win(variant, row)
                if why is not None:
                    self.skip(row, why)
                    return variant  # not measured, but the next variant may derive from it
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

    def cannot_win(self, model: TFLiteModel, row: dict[str, Any]) -> str | None:
        """Why ``model`` cannot beat the run's :attr:`beat` (its file is larger), or None;
        ``row`` then holds its sizes."""
        if self.beat is None or row.get("technique") == "baseline":  # the reference
            return None
        row["size_bytes"], row["gzip_bytes"] = model.size, model.gzip_size
        return self.beat.why(row["size_bytes" if self.beat.goal == "size" else "gzip_bytes"])

    def skip(self, row: dict[str, Any], why: str) -> None:
        """Add ``row`` as ``skipped``, ``why`` its reason (a variant that cannot win)."""
        row["status"], row["error"] = "skipped", why
        self.add(row)

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
        sparse_columns(row, model.content)
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
            row["higher_is_better"] = scores[headline]["higher_is_better"]
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
