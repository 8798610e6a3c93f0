"""Why did int8 lose accuracy? Per-layer sensitivity and the automatic float-layer search.

:func:`analyze` quantizes one Keras layer at a time (every other op float, as AIMET's
per-layer analysis does) from one calibration (:class:`~nbopt.engine.analyse.selective.Calibrated`)
and measures, for each layer, what that costs: the metric's drop on the evaluation data,
or without labels the output's error against the float32 model on the calibration data.
It also reads the layer's quantized output tensor beside the float one (the statistics of
TensorFlow's ``QuantizationDebugger``: ``rmse_over_scale``, ``sqnr_db``, ...). Each layer
costs one quantization (about 10 ms) and one evaluation pass, so the analysis grows
linearly with the number of layers.

:func:`search` (``max_drop``) measures plain int8 and, while its drop exceeds the budget,
keeps the next most sensitive layer float; each tried variant is a row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import NbOptUsageError
from ..measure.interpreter import Runner, _io_details
from ..store.schema import check_max_drop, is_accuracy
from .selective import Calibrated, Session, start_session

#: A layer is suspect when quantizing it alone costs more than this (points of the metric).
SUSPECT_DROP = 0.01
#: ... or, without labels, when it moves the output by more than this (RMSE / std).
SUSPECT_ERROR = 0.05

#: Columns of ``DebugReport.df``, in order.
COLUMNS = (
    "layer",
    "ops",
    "sensitivity",
    "metric_alone",
    "output_error",
    "rmse_over_scale",
    "sqnr_db",
    "range",
    "scale",
    "zero_point",
    "max_abs_error",
    "suspect",
)


@dataclass
class DebugReport:
    """The per-layer analysis of one model: which layers ``scheme`` hurts, and how much.

    ``df`` has one row per Keras layer that became TFLite ops, most harmful first;
    ``measure`` says what ``sensitivity`` is, ``rule`` when a layer is ``suspect``, and
    ``advice`` what to try.
    """

    name: str
    scheme: str
    rows: list[dict[str, Any]]
    measure: str
    rule: str
    metric: str | None = None
    float_value: float | None = None
    quantized_value: float | None = None
    seconds: float = 0.0
    calib_samples: int = 0
    eval_samples: int = 0
    without_ops: list[str] = field(default_factory=list)

    @property
    def df(self) -> Any:
        """One row per layer, sorted by ``sensitivity`` (most harmful first)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    @property
    def suspects(self) -> list[str]:
        """The suspect layers, most harmful first."""
        return [r["layer"] for r in self.rows if r["suspect"]]

    @property
    def summary(self) -> str:
        """The float and quantized metric, one sentence."""
        if self.metric is None or self.float_value is None or self.quantized_value is None:
            return ""
        return (
            f"{self.metric}: float32 {self.float_value:.4g}, {self.scheme} "
            f"{self.quantized_value:.4g} ({self.quantized_value - self.float_value:+.4g})."
        )

    @property
    def advice(self) -> str:
        """One sentence: what to try next."""
        if not self.suspects:
            other = "--scheme int16x8" if self.scheme == "int8" else "dynamic or float16"
            return (
                f"No layer stands out; if {self.scheme} still loses too much, try {other} "
                "or --max-drop with --eval."
            )
        names = ",".join(self.suspects[:3])
        return (
            f"Try --float {names} to keep {'it' if len(self.suspects[:3]) == 1 else 'them'} "
            f"in float, or --max-drop 0.01 to find the fewest float layers that keep the "
            "metric within a point."
        )

    def __repr__(self) -> str:
        lines = [f"nbopt debug: {self.name} ({self.scheme}), {len(self.rows)} layers"]
        if self.summary:
            lines.append(self.summary)
        lines.append(self.df.to_string(index=False))
        lines += [f"sensitivity: {self.measure}", f"suspect: {self.rule}", self.advice]
        return "\n".join(lines)


class _Probe(Runner):
    """A runner whose interpreter keeps every intermediate tensor readable."""

    def __init__(self, content: bytes, threads: int | None = None):
        import warnings

        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():  # "intended for debugging purposes": it is
            warnings.simplefilter("ignore")
            self.interpreter = Interpreter(
                model_content=bytes(content),
                num_threads=threads,
                experimental_preserve_all_tensors=True,
            )
        self.inputs, self.outputs = _io_details(self.interpreter)
        self.batch = None

    def run(self, xs: list[np.ndarray], names: list[str]) -> tuple[list[np.ndarray], dict]:
        """The outputs for ``xs`` and ``{name: (values, scale, zero_point)}`` of tensors."""
        self.resize(self.fixed_batch() or len(xs[0]))
        size = self.batch or len(xs[0])
        outs: list[list[np.ndarray]] = [[] for _ in self.outputs]
        found: dict[str, list[Any]] = {}
        index = {d["name"]: d for d in self.interpreter.get_tensor_details()}
        for start in range(0, len(xs[0]) - size + 1, size):
            self.set_inputs([x[start : start + size] for x in xs])
            self.interpreter.reset_all_variables()
            self.interpreter.invoke()
            for store, out in zip(outs, self.outputs_now()):
                store.append(out.copy())
            for name in names:
                if name in index:
                    found.setdefault(name, []).append(
                        self.interpreter.get_tensor(index[name]["index"]).copy()
                    )
        tensors = {}
        for name, parts in found.items():
            scale, zero = index[name].get("quantization", (0.0, 0))
            tensors[name] = (np.concatenate(parts), float(scale), int(zero))
        return [np.concatenate(o) for o in outs], tensors


def _stats(quant: tuple[np.ndarray, float, int], reference: np.ndarray) -> dict[str, Any]:
    """``QuantizationDebugger``'s layer statistics of one quantized tensor against float."""
    values, scale, zero = quant
    real = reference.astype("float64")
    if scale > 0:
        deq = (values.astype("float64") - zero) * scale
    else:  # the tensor stayed float
        deq = values.astype("float64")
    err = deq - real
    noise = float(np.sum(err**2))
    return {
        "rmse_over_scale": float(np.sqrt(np.mean(err**2)) / scale) if scale > 0 else None,
        "sqnr_db": 10 * np.log10(float(np.sum(real**2)) / noise) if noise > 0 else float("inf"),
        # As TensorFlow's debugger tutorial defines it: the range the integer steps cover.
        "range": scale * (np.iinfo(values.dtype).max - np.iinfo(values.dtype).min)
        if scale > 0
        else float(real.max() - real.min()),
        "scale": scale if scale > 0 else None,
        "zero_point": zero if scale > 0 else None,
        "max_abs_error": float(np.abs(err).max()),
    }


def _drop(metric: str, reference: float, value: float) -> float:
    """How much worse ``value`` is than ``reference`` (accuracy falls, an error rises)."""
    return reference - value if is_accuracy(metric) else value - reference


def _relative_error(outs: list[np.ndarray], reference: list[np.ndarray]) -> float:
    err = [np.sqrt(np.mean((o - r) ** 2)) / (np.std(r) or 1.0) for o, r in zip(outs, reference)]
    return float(max(err))


def _evaluate(session: Session, content: bytes) -> float | None:
    from ..data.metrics import score

    run = session.run
    if run.evaluation is None:
        return None
    outs = Runner(content, run.settings.threads).predict(
        run.evaluation.x, run.settings.eval_batch_size
    )
    scores = score(run.evaluation, run.metric, outs)
    return scores[run.evaluation.names[0]]["value"]


def _rank(session: Session, threshold: float | None) -> tuple[list[dict[str, Any]], str, str]:
    """One row per layer (quantized alone), most harmful first; the measure and the rule."""
    calibrated: Calibrated = session.calibrated
    labelled = session.run.evaluation is not None
    outputs = {name: ops[-1].outputs[0] for name, ops in calibrated.layers.items()}
    names = _tensor_names(calibrated)
    reference = _Probe(calibrated.float_content).run(
        session.calib, [names[t] for t in outputs.values()]
    )
    limit = threshold if threshold is not None else (SUSPECT_DROP if labelled else SUSPECT_ERROR)
    rows = []
    for layer in calibrated.layers:
        row = _layer_row(session, layer, names[outputs[layer]], reference)
        row["suspect"] = bool(row["sensitivity"] > limit)
        rows.append(row)
    rows.sort(key=lambda r: (-r["sensitivity"], -r["output_error"]))
    return rows, *_wording(session, limit)


def _layer_row(
    session: Session, layer: str, tensor: str, reference: tuple[list[np.ndarray], dict]
) -> dict[str, Any]:
    """The measurements of ``layer`` quantized alone; ``tensor`` is its output's name."""
    base = session.run.baseline or {}
    content = session.calibrated.variant(scheme=session.scheme, only=[layer])
    outs, quant = _Probe(content).run(session.calib, [tensor])
    row: dict[str, Any] = {"layer": layer, "ops": _ops_text(session.calibrated.layers[layer])}
    row["output_error"] = _relative_error(outs, reference[0])
    row["metric_alone"] = _evaluate(session, content)
    row["sensitivity"] = (
        row["output_error"]
        if row["metric_alone"] is None
        else _drop(base.get("metric"), base["accuracy"], row["metric_alone"])
    )
    row.update(_stats(quant[tensor], reference[1][tensor][0]) if tensor in quant else {})
    return row


def _wording(session: Session, limit: float) -> tuple[str, str]:
    """What ``sensitivity`` measures, and the rule that makes a layer suspect."""
    scheme = session.scheme
    if session.run.evaluation is not None:
        metric = (session.run.baseline or {}).get("metric")
        return (
            f"{metric} drop on the evaluation data with only this layer {scheme}",
            f"quantizing the layer alone costs more than {limit:g} {metric}",
        )
    return (
        "output_error: the output's error against float32 on the calibration data "
        f"(RMSE / std of the float output) with only this layer {scheme}; pass --eval for "
        "the metric's drop",
        f"quantizing the layer alone moves the output by more than {limit:g}",
    )


def _ops_text(ops: list[Any]) -> str:
    """``CONV_2D`` or ``CONV_2D (with bn, act)`` when other layers were fused into them."""
    fused = list(dict.fromkeys(f for o in ops for f in o.fused))
    text = ", ".join(o.op for o in ops)
    return f"{text} (with {', '.join(fused)})" if fused else text


def _tensor_names(calibrated: Calibrated) -> dict[int, str]:
    from litert_quantizer.utils import tfl_flatbuffer_utils as fu

    graph = fu.read_model(bytearray(calibrated.float_content)).subgraphs[0]
    return {i: fu.get_tensor_name(t) for i, t in enumerate(graph.tensors)}


def analyze(
    model: Any,
    calib: Any,
    eval: Any = None,  # noqa: A002 - the documented name
    *,
    scheme: str = "int8",
    metric: Any = None,
    threshold: float | None = None,
    name: str | None = None,
    settings: Any = None,
    listener: Any = None,
) -> DebugReport:
    """Per-layer sensitivity of ``model`` to ``scheme`` (see the module's docstring)."""
    started = time.perf_counter()
    session = start_session(
        model,
        calib,
        eval,
        scheme=scheme,
        metric=metric,
        name=name,
        settings=settings,
        listener=listener,
        total=1,
    )
    try:
        rows, measure, rule = _rank(session, threshold)
        whole = _evaluate(session, session.calibrated.variant(scheme=scheme))
    finally:
        session.run.finish()
    base = session.run.baseline or {}
    return DebugReport(
        name=session.run.comparison.name,
        scheme=scheme,
        rows=rows,
        measure=measure,
        rule=rule,
        metric=base.get("metric"),
        float_value=base.get("accuracy"),
        quantized_value=whole,
        seconds=time.perf_counter() - started,
        calib_samples=len(session.calib[0]),
        eval_samples=len(session.run.evaluation) if session.run.evaluation else 0,
        without_ops=[
            layer.name for layer in model.layers if layer.name not in session.calibrated.members
        ],
    )


def _row_drop(row: dict[str, Any]) -> float:
    """The row's metric drop against float32 (inf for a failed row)."""
    delta = row.get("accuracy_delta")
    if row.get("status") != "ok" or delta is None:
        return float("inf")
    return -float(delta) if is_accuracy(row.get("metric")) else float(delta)


def search(
    model: Any,
    calib: Any,
    eval: Any,  # noqa: A002 - the documented name
    max_drop: float,
    *,
    scheme: str = "int8",
    metric: Any = None,
    name: str | None = None,
    settings: Any = None,
    listener: Any = None,
) -> Any:
    """The fewest float layers that keep ``scheme`` within ``max_drop`` of float32.

    Measures plain ``scheme``; while its drop exceeds ``max_drop``, keeps the next most
    sensitive layer (:func:`analyze`'s ranking) float; then tries leaving out each float
    layer but the last. Every tried variant is a row of the returned model's comparison;
    the chosen one has ``chosen=True``.

    Returns
    -------
    TFLiteModel
        The chosen variant; if no variant meets the budget, the one that loses least
        (its row's ``note`` says to use int16x8 or dynamic).
    """
    if eval is None:
        raise NbOptUsageError("max_drop needs labelled evaluation data: pass --eval x_test,y_test")
    check_max_drop(max_drop)
    session = start_session(
        model,
        calib,
        eval,
        scheme=scheme,
        metric=metric,
        name=name,
        settings=settings,
        listener=listener,
        total=3,
    )
    try:
        order = [r["layer"] for r in _rank(session, None)[0]]
        tried = _trail(session, order, float(max_drop))
    finally:
        session.run.finish()
    return _choose(session, tried, float(max_drop))


def _trail(session: Session, order: list[str], budget: float) -> list[tuple[list[str], Any]]:
    """Add float layers in ``order`` until the budget is met, then drop the unneeded ones."""
    tried = []
    floats: list[str] = []
    while True:
        session.run.total = len(session.run.comparison.rows) + 1
        variant = session.add(list(floats))
        tried.append((list(floats), variant))
        if _row_drop(session.run.comparison.rows[-1]) <= budget or len(floats) == len(order):
            break
        floats.append(order[len(floats)])
    if _row_drop(session.run.comparison.rows[-1]) > budget:
        return tried
    for layer in floats[:-1]:  # a layer added early may not be needed once later ones are float
        fewer = [f for f in floats if f != layer]
        session.run.total = len(session.run.comparison.rows) + 1
        variant = session.add(fewer)
        tried.append((fewer, variant))
        if _row_drop(session.run.comparison.rows[-1]) <= budget:
            floats = fewer
    return tried


def _choose(session: Session, tried: list[tuple[list[str], Any]], budget: float) -> Any:
    """Mark the chosen row: fewest float layers within the budget, else the smallest drop."""
    from ...errors import ConversionError

    measured = [(f, v) for f, v in tried if v is not None]
    if not measured:
        raise ConversionError(f"{session.run.comparison.name}: every variant failed")
    ok = [(f, v) for f, v in measured if _row_drop(v.row) <= budget]
    floats, chosen = (
        min(ok, key=lambda fv: (len(fv[0]), _row_drop(fv[1].row)))
        if ok
        else min(measured, key=lambda fv: _row_drop(fv[1].row))
    )
    for _, v in measured:
        v.row["chosen"] = v is chosen
    kept = f"{', '.join(floats)} float" if floats else "no layer float"
    if ok:
        chosen.row["note"] = f"chosen: {kept}, within max_drop {budget:g}"
    else:
        chosen.row["note"] = (
            f"no variant is within max_drop {budget:g}, even with every layer float; "
            "use --scheme int16x8 or dynamic"
        )
    return chosen
