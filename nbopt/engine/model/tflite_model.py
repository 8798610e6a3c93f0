"""``TFLiteModel``: one converted model, with what a user does with it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..data.arrays import _as_array, _split_inputs
from ..data.metrics import resolve_metric
from ..data.specs import InputSpec, OutputSpec
from ..measure.interpreter import Runner
from ..measure.latency import LatencyStats, MeasureSettings, gzip_size, measure_latency
from ..store.files import write_atomic
from ..store.schema import variant_label


class TFLiteModel:
    """A .tflite flatbuffer and its measurements.

    Parameters
    ----------
    content : bytes
        The flatbuffer.
    name : str
        The Keras model's name (used for file names and tables).
    scheme : str
        How it was made: ``float32``, ``float16``, ``dynamic``, ``int8``, ``int16x8``, ...
    """

    def __init__(
        self,
        content: bytes,
        *,
        name: str = "model",
        scheme: str = "float32",
        technique: str = "ptq",
        settings: MeasureSettings | None = None,
    ):
        self.content = bytes(content)
        self.name = name
        self.scheme = scheme
        self.technique = technique
        self.settings = settings or MeasureSettings()
        self.path: str | None = None
        #: The measured results row, once a comparison measured this model.
        self.row: dict[str, Any] | None = None
        #: The comparison this model belongs to, if any (a
        #: :class:`~nbopt.engine.pipeline.comparison.Comparison`, which imports this module).
        self.comparison: Any = None
        #: For pruned, clustered and QAT variants: the fine-tuned Keras model it came from
        #: (pass the TFLiteModel itself to another technique to chain them).
        self.keras_model: Any = None
        #: The tfmot-wrapped copy's weights after fine-tuning, when the request kept them
        #: (what optimize's next rung continues from).
        self.trained_weights: list[Any] | None = None
        #: The tfmot-wrapped copy itself, compiled (a later rung trains it on, untraced).
        self.trained_wrapped: Any = None
        self._gzip: int | None = None
        self._runner: Runner | None = None

    @property
    def size(self) -> int:
        """Size of the flatbuffer in bytes."""
        return len(self.content)

    @property
    def gzip_size(self) -> int:
        """Size in bytes once gzip-compressed (what pruning and clustering shrink)."""
        if self._gzip is None:
            self._gzip = gzip_size(self.content)
        return self._gzip

    def _runner_(self) -> Runner:
        if self._runner is None:
            self._runner = Runner(self.content, self.settings.threads)
        return self._runner

    def input_specs(self) -> list[InputSpec]:
        """The inputs as the user feeds them (float for integer-I/O models)."""
        specs = []
        for d in self._runner_().inputs:
            sig = d.get("shape_signature")
            shape = sig if sig is not None and len(sig) else d["shape"]
            dims = tuple(None if (i == 0 or s < 0) else int(s) for i, s in enumerate(shape))
            dtype = np.dtype(d["dtype"])
            if np.issubdtype(dtype, np.integer) and d["quantization"][0]:
                dtype = np.dtype(np.float32)
            specs.append(InputSpec(dims, dtype.name))
        return specs

    def output_specs(self) -> list[OutputSpec]:
        """The outputs: their names (``out0``... without a signature) and shapes."""
        specs = []
        for i, d in enumerate(self._runner_().outputs):
            sig = d.get("shape_signature")
            shape = sig if sig is not None and len(sig) else d["shape"]
            dims = tuple(None if (j == 0 or s < 0) else int(s) for j, s in enumerate(shape))
            specs.append(OutputSpec(f"out{i}", dims, d.get("name") or None))
        return specs

    def _inputs(self, x: Any) -> list[np.ndarray]:
        specs = self.input_specs()
        return [_as_array(v, s, "x") for v, s in zip(_split_inputs(x, specs, "x"), specs)]

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray | list[np.ndarray]:
        """Outputs for every sample of ``x``, run in batches (float, dequantized if integer).

        Returns one array for a single-output model, else a list.
        """
        outs = self._runner_().predict(self._inputs(x), batch_size or self.settings.eval_batch_size)
        return outs[0] if len(outs) == 1 else outs

    def evaluate(self, x: Any, y: Any, metric: Any = None) -> float:
        """Top-1 accuracy for a classifier, mean squared error otherwise (or ``metric``)."""
        y = np.asarray(y)
        pred = self.predict(x)
        first = pred[0] if isinstance(pred, list) else pred
        return float(resolve_metric(metric, y, (None, *first.shape[1:])).fn(y, first))

    def benchmark(self, x: Any = None, **settings: Any) -> LatencyStats:
        """Latency of one invocation at batch 1, on the first sample of ``x`` or on zeros.

        Keyword arguments override the measure settings: ``runs``, ``warmup_runs``,
        ``min_seconds``, ``max_seconds``, ``threads``.
        """
        from dataclasses import replace

        s = replace(self.settings, **settings) if settings else self.settings
        sample = self._inputs(x) if x is not None else None
        return measure_latency(self.content, s, sample)

    def save(self, path: str | os.PathLike[str], force: bool = False) -> Path:
        """Write the flatbuffer to ``path`` (a file, or a folder to put ``name_scheme.tflite`` in).

        An existing file is never replaced unless ``force=True``.
        """
        target = Path(path).expanduser()
        if target.is_dir() or str(path).endswith(os.sep):
            target = target / self.default_filename()
        written = write_atomic(target, self.content, force=force)
        self.path = str(written)
        if self.row is not None:
            from ..store import results

            self.row["path"] = self.path
            results.update(self.row)  # the stored row says where the file went too
        return written

    def default_filename(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        return f"{safe}_{self.scheme}.tflite"

    def __repr__(self) -> str:
        parts = [f"TFLiteModel({self.name!r}, variant={self.variant!r}, size={self.size:,} B"]
        row = self.row or {}
        if row.get("size_ratio"):
            parts.append(f", {row['size_ratio']:.2f}x smaller")
        if row.get("latency_ms") is not None:
            parts.append(f", latency {row['latency_ms']:.3g} ms")
        if row.get("accuracy") is not None:
            parts.append(f", {row['metric']} {row['accuracy']:.4g}")
        return "".join(parts) + ")"

    @property
    def variant(self) -> str:
        """The variant's name as tables show it: ``int8``, ``prune``, ``prune+int8``, ``qat``,
        ``prune sparse``."""
        row = self.row or {}
        fallback = {"technique": self.technique, "scheme": self.scheme}
        return variant_label(
            {**fallback, **{k: row.get(k) for k in ("float_layers", "stored_sparse")}}
        )

    def related_rows(self) -> list[dict[str, Any]]:
        """This variant's rows with its baseline: what its display compares.

        For a post-training variant, the float32 baseline and its own row; for a pruned,
        clustered or QAT variant, the baseline and every row of that technique (e.g.
        ``prune`` and ``prune+int8``).
        """
        if self.comparison is None:
            return [self.row] if self.row else []
        rows = self.comparison.rows
        if self.technique in ("ptq", "baseline"):
            if (self.row or {}).get("chosen"):  # chosen by a max_drop search: its trail
                return list(rows)
            return [r for r in rows if r.get("technique") == "baseline" or r is self.row]
        return [r for r in rows if r.get("technique") in ("baseline", self.technique)]
