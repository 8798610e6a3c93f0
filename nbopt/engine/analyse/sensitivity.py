"""Why did int8 lose accuracy? Per-layer sensitivity, one layer quantized at a time.

:func:`analyze` quantizes one Keras layer at a time (every other op float, as AIMET's
per-layer analysis does) from one calibration (:class:`~nbopt.engine.analyse.selective.Calibrated`)
and measures, for each layer, what that costs: the metric's drop on the evaluation data,
or without labels the output's error against the float32 model on the calibration data.
It also reads the layer's quantized output tensor beside the float one (the statistics of
TensorFlow's ``QuantizationDebugger``: ``rmse_over_scale``, ``sqnr_db``, ...). Each layer
costs one quantization (about 10 ms) and one evaluation pass, so the analysis grows
linearly with the number of layers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..measure.interpreter import Runner, _io_details
from ..request import Request
from ..store.schema import higher_is_better
from .debug_report import DebugReport
from .selective import Calibrated, Session, start_session

#: A layer is suspect when quantizing it alone costs more than this (points of the metric).
SUSPECT_DROP = 0.01
#: ... or, without labels, when it moves the output by more than this (RMSE / std).
SUSPECT_ERROR = 0.05


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


def _drop(base: dict[str, Any], reference: float, value: float) -> float:
    """How much worse ``value`` is than ``reference`` (accuracy falls, an error rises)."""
    return reference - value if higher_is_better(base) else value - reference


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


def rank_layers(session: Session, threshold: float | None) -> tuple[list[dict[str, Any]], str, str]:
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
        else _drop(base, base["accuracy"], row["metric_alone"])
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


def analyze(model: Any, request: Request, scheme: str = "int8") -> DebugReport:
    """Per-layer sensitivity of ``model`` to ``scheme`` (see the module's docstring); the
    request's ``threshold`` marks a layer suspect."""
    threshold = request.analysis.threshold
    started = time.perf_counter()
    session = start_session(model, request, scheme, total=1)
    try:
        rows, measure, rule = rank_layers(session, threshold)
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
