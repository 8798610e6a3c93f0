"""TFLite's decision tree for choosing an optimization: which scheme to try first, and why.

Pure logic: what data the user has and what hardware they target go in, an ordered path
of schemes (the pick first, then where to go if its accuracy misses) and the reasons
come out. Measuring the pick (``verify``) is :func:`nbopt.recommend`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import NbOptUsageError

TARGETS = ("cpu", "gpu", "edgetpu", "dsp", "mcu")
#: Accelerators that run integer-only models.
INTEGER_ONLY = {"edgetpu": "the Edge TPU", "dsp": "the Hexagon DSP"}
#: An activation whose full range is this many times its central 99.8% range loses
#: too much resolution in int8's 256 steps.
SENSITIVITY_RATIO = 8.0


@dataclass(frozen=True)
class Choice:
    """One step of the path: a scheme, the input/output type of its model, and whether its
    int8 weights have one scale per tensor."""

    scheme: str
    io: str = "float"
    per_tensor: bool = False
    #: int8 with the fewest layers kept float that meet the budget (``--max-drop``).
    float_layers: bool = False

    @property
    def label(self) -> str:
        if self.float_layers:
            return f"{self.scheme} with its most sensitive layers float"
        parts = [f"{self.io} I/O"] if self.io != "float" else []
        parts += ["per-tensor"] if self.per_tensor else []
        return f"{self.scheme} ({', '.join(parts)})" if parts else self.scheme


def with_selective_step(path: list[Choice]) -> list[Choice]:
    """``path`` with selective int8 (some layers float) right after plain int8, if present."""
    out = list(path)
    for i, choice in enumerate(out):
        if choice == Choice("int8"):
            out.insert(i + 1, Choice("int8", "int8", float_layers=True))
            break
    return out


class Trail(list):
    """What a verified recommendation measured: one dict per step, in order.

    A list, so ``trail[0]["scheme"]`` works; ``.df`` is the same as a DataFrame, and a
    notebook shows it as a table (:mod:`nbopt.display`).
    """

    @property
    def df(self) -> Any:
        import pandas as pd

        return pd.DataFrame(list(self))


@dataclass
class Recommendation:
    """The scheme to try first, the reasons, and where to go if its accuracy misses.

    ``scheme`` and ``io`` name the pick, ``reasons`` are sentences, ``path`` the whole
    ordered path (the pick first), ``needs`` the option still missing to apply the pick
    (e.g. ``"--calib"``), and after verification ``trail`` holds one dict per measured
    step (``scheme``, ``io``, ``accuracy``, ``accuracy_delta``, ``within_budget``) and
    ``model`` the chosen :class:`~nbopt.TFLiteModel`.
    """

    target: str
    path: list[Choice]
    reasons: list[str]
    needs: str | None = None
    max_drop: float | None = None
    trail: Trail = field(default_factory=Trail)
    model: Any = None
    chosen: int = 0
    sensitive: list[str] = field(default_factory=list)
    ram_kb: float | None = None
    flash_kb: float | None = None
    alternative: Any = None  # a smaller variant also within budget (int4 on a CPU)

    @property
    def choice(self) -> Choice:
        return self.path[self.chosen]

    @property
    def scheme(self) -> str:
        return self.choice.scheme

    @property
    def io(self) -> str:
        return self.choice.io

    @property
    def fallbacks(self) -> list[Choice]:
        return self.path[self.chosen + 1 :]

    def __repr__(self) -> str:
        lines = [f"Recommendation for {self.target}: {self.choice.label}"]
        lines += [f"- {r}" for r in self.reasons]
        return "\n".join(lines)


def decide(
    *,
    calib: bool,
    fit: bool,
    target: str = "cpu",
    sensitive: list[str] | None = None,
    per_tensor: bool = False,
) -> Recommendation:
    """Walk TFLite's decision tree.

    Parameters
    ----------
    calib : bool
        Unlabeled representative samples are available (``--calib``).
    fit : bool
        Labeled training data is available (``--fit``); its inputs also serve as
        representative samples.
    target : {"cpu", "gpu", "edgetpu", "dsp", "mcu"}
    sensitive : list of str, optional
        Layers whose activations int8 resolves poorly (see :func:`sensitive_layers`).
    per_tensor : bool
        For ``mcu``: int8 weights with one scale per tensor (toolchains that need it).
    """
    if target not in TARGETS:
        raise NbOptUsageError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    sensitive = list(sensitive or [])
    if target == "mcu":
        rec = _decide_mcu(calib, fit, per_tensor)
    else:
        rec = _decide(calib, fit, target, sensitive)
    rec.sensitive = sensitive
    return rec


def _decide(calib: bool, fit: bool, target: str, sensitive: list[str]) -> Recommendation:
    """Every target but a microcontroller: integer-only accelerators, then by the data."""
    if target in INTEGER_ONLY:
        return _decide_integer_only(calib, fit, target, sensitive)
    if not (calib or fit):
        return _with_path(_decide_without_samples(target))
    return _with_path(_decide_with_samples(calib, fit, target, sensitive))


def _decide_integer_only(
    calib: bool, fit: bool, target: str, sensitive: list[str]
) -> Recommendation:
    """An accelerator that runs integer-only models: int8 with int8 I/O, then QAT."""
    reasons: list[str] = []
    needs = None
    device = INTEGER_ONLY[target]
    path = [Choice("int8", "int8")] + ([Choice("qat", "int8")] if fit else [])
    reasons.append(
        f"{device[0].upper()}{device[1:]} runs integer-only models: full-integer "
        "quantization (int8) with int8 inputs and outputs (io='int8')."
    )
    if calib:
        reasons.append("The calibration data sets the int8 ranges of the activations.")
    elif fit:
        reasons.append("No --calib: the training inputs serve as representative samples.")
    else:
        needs = "--calib"
        reasons.append(
            "It needs representative samples for the activation ranges: pass "
            "--calib x_train[:256] (100-500 unlabeled samples)."
        )
    if fit:
        reasons.append(
            "If int8 loses too much accuracy, quantization-aware training (QAT) is next."
        )
    else:
        reasons.append(
            "If int8 loses too much accuracy, quantization-aware training is next; it "
            "needs labeled training data (--fit x_train,y_train)."
        )
    if sensitive:
        reasons.append(
            f"Activations of {', '.join(sensitive)} are sensitive to int8 (outliers); "
            f"{device} runs int8 only, so expect to need QAT."
        )
    return Recommendation(target, path, reasons, needs)


def _decide_without_samples(target: str) -> Recommendation:
    """No representative data: float16 for a GPU, dynamic range elsewhere."""
    reasons: list[str] = []
    if target == "gpu":
        path = [Choice("float16"), Choice("dynamic")]
        reasons.append(
            "No representative data, and a GPU target: float16 quantization needs no "
            "data, halves the size and the GPU delegate computes in float16."
        )
    else:
        path = [Choice("dynamic"), Choice("float16")]
        reasons.append(
            "No representative data: dynamic-range quantization needs none; weights "
            "become int8 (up to 75% smaller) with the smallest accuracy loss."
        )
    reasons.append(
        "With representative samples (--calib x_train[:256]), full-integer int8 would "
        "also quantize the activations and cut latency further."
    )
    return Recommendation(target, path, reasons)


def _decide_with_samples(
    calib: bool, fit: bool, target: str, sensitive: list[str]
) -> Recommendation:
    """Samples to calibrate with: int8 first, unless sensitive activations call for
    int16x8 (CPU) or float16 (GPU)."""
    qat = [Choice("qat")] if fit else []
    reasons: list[str] = []
    source = "Representative data is given" if calib else "Training inputs can calibrate"
    if sensitive and target == "cpu":
        path = [Choice("int16x8"), Choice("int8"), *qat, Choice("dynamic"), Choice("float16")]
        reasons.append(
            f"{source}, but activations of {', '.join(sensitive)} have outliers that int8's "
            "256 steps resolve poorly: int16 activations with int8 weights (int16x8) keep "
            "accuracy at int8's size (on slower reference kernels)."
        )
        return Recommendation(target, path, reasons)
    if sensitive:  # gpu: no int16x8 kernels
        path = [Choice("float16"), Choice("int8"), *qat, Choice("dynamic")]
        reasons.append(
            f"Activations of {', '.join(sensitive)} have outliers that int8 resolves poorly, "
            "and the GPU has no int16x8 kernels: float16 keeps accuracy."
        )
        return Recommendation(target, path, reasons)
    tail = [Choice("int16x8")] if target == "cpu" else []
    path = [Choice("int8"), *tail, *qat, Choice("dynamic"), Choice("float16")]
    if target == "gpu":  # the delegate dequantizes: the gain is size, not integer speed
        reasons.append(
            f"{source}: full-integer quantization (int8) makes the model up to 75% smaller; "
            "the GPU delegate dequantizes its weights and computes in float, so on the GPU "
            "the gain is size, not integer kernels."
        )
    else:
        reasons.append(
            f"{source}: full-integer quantization (int8) quantizes weights and activations, "
            "up to 75% smaller and the fastest on integer kernels."
        )
    if not calib:
        reasons.append("No --calib: the training inputs serve as representative samples.")
    return Recommendation(target, path, reasons)


def _decide_mcu(calib: bool, fit: bool, per_tensor: bool) -> Recommendation:
    """A microcontroller: TFLite Micro, integer-only int8, per-tensor where the toolchain
    needs it; hybrid (dynamic, int4) and float16 models do not run there."""
    path = [Choice("int8", "int8", per_tensor)] + ([Choice("qat", "int8")] if fit else [])
    reasons = [
        "A microcontroller runs TFLite Micro, whose fast kernels (CMSIS-NN and others) are "
        "integer-only: full-integer int8 with int8 inputs and outputs. It needs a quarter of "
        "float32's RAM for activations and of its flash for weights.",
        "Dynamic-range, int4 and float16 models do not run under TFLite Micro (hybrid "
        "kernels and float16 weights are not supported); the mcu_ready column checks it.",
    ]
    if per_tensor:
        reasons.append("Weights get one scale per tensor (per_tensor), as the toolchain needs.")
    else:
        reasons.append(
            "TFLite Micro takes per-channel int8 weights; if your toolchain needs one scale "
            "per tensor, pass --per-tensor (per_tensor=True)."
        )
    needs = None
    if not (calib or fit):
        needs = "--calib"
        reasons.append(
            "int8 needs representative samples for the activation ranges: pass "
            "--calib x_train[:256] (100-500 unlabeled samples)."
        )
    elif not calib:
        reasons.append("No --calib: the training inputs serve as representative samples.")
    reasons.append(
        "If int8 loses too much accuracy, quantization-aware training is next"
        + ("." if fit else "; it needs labeled training data (--fit x_train,y_train).")
    )
    return Recommendation("mcu", path, reasons, needs)


def budget_check(
    row: dict[str, Any], ram_kb: float | None, flash_kb: float | None
) -> tuple[bool, str]:
    """Whether a measured variant fits a microcontroller's RAM and flash, in one sentence.

    RAM is TFLite Micro's whole arena (``arena_bytes``: activations and its bookkeeping)
    where it was measured, else the planned activation arena (``ram_bytes``); flash is the
    .tflite file (``size_bytes``). Budgets are in KB (1024 bytes).
    """
    ram = row.get("arena_bytes") or row.get("ram_bytes")
    flash = row.get("size_bytes")
    over, parts = [], []
    for what, used, budget in (("RAM", ram, ram_kb), ("flash", flash, flash_kb)):
        if budget is None or used is None:
            continue
        parts.append(f"{what} {used / 1024:,.1f} KB of {budget:,.0f} KB")
        if used > budget * 1024:
            over.append(what)
    if not parts:
        return True, ""
    verdict = f"over the {' and '.join(over)} budget" if over else "within budget"
    return not over, f"{', '.join(parts)}: {verdict}"


def _with_path(rec: Recommendation) -> Recommendation:
    """Add the sentence that says where the path goes if the pick's accuracy misses."""
    if len(rec.path) > 1:
        rec.reasons.append(
            f"If {rec.path[0].label} loses too much accuracy, next: "
            + " → ".join(c.label for c in rec.path[1:])
            + "."
        )
    return rec


def outlier_ratio(values: np.ndarray) -> float:
    """Full range / central 99.8% range of ``values`` (1 for evenly spread values)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size < 2:
        return 1.0
    lo, hi = np.percentile(flat, [0.1, 99.9])
    full = float(flat.max() - flat.min())
    core = float(hi - lo)
    if full == 0:
        return 1.0
    return full / core if core > 0 else float("inf")


def sensitive_activations(
    named: dict[str, np.ndarray], ratio: float = SENSITIVITY_RATIO
) -> list[str]:
    """Names of the activations whose :func:`outlier_ratio` exceeds ``ratio``."""
    return [name for name, values in named.items() if outlier_ratio(values) > ratio]


def activations(model: Any, x: list[np.ndarray], limit: int = 64) -> dict[str, np.ndarray]:
    """Every input's values and every layer's output on the first ``limit`` samples of ``x``.

    Subclassed models show only their inputs (their layers' outputs are not reachable).
    """
    from ..model.keras_models import is_graph_model, keras_flavor

    xs = [a[:limit] for a in x]
    out = {f"input {i}" if len(xs) > 1 else "input": a for i, a in enumerate(xs)}
    if not is_graph_model(model):
        return out
    if keras_flavor(model) == "tf_keras":
        import tf_keras as keras
    else:
        import keras
    layers = [
        lyr
        for lyr in model.layers
        if type(lyr).__name__ != "InputLayer" and not isinstance(lyr.output, (list, tuple, dict))
    ]
    try:
        probe = keras.Model(model.inputs, [lyr.output for lyr in layers])
        values = probe(xs[0] if len(xs) == 1 else xs, training=False)
    except Exception:  # an unusual graph: judge the inputs only
        return out
    values = values if isinstance(values, (list, tuple)) else [values]
    out.update({lyr.name: np.asarray(v) for lyr, v in zip(layers, values)})
    return out
