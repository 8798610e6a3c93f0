"""The parts of a request: data, conversion, training, measurement, analysis, grid, output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..measure.latency import MeasureSettings
from .option import (
    API,
    CLI,
    CLUSTER,
    COMPARE,
    DEBUG,
    EVALUATED,
    MAGIC,
    OPTIMIZE,
    PANEL,
    PRUNE,
    QUANTIZE,
    RECOMMEND,
    SWEEP,
    context,
    option,
)


@dataclass(frozen=True)
class Data:
    """The user's data: calibration samples, evaluation data, training data, the metric."""

    calib: Any = option(
        None,
        "Representative samples for int8 and int16x8 (100-500 is typical): an array, "
        "(x, y), a tf.data.Dataset or a generator.",
        kind="data",
        short="-c",
        entries=(QUANTIZE, PRUNE, CLUSTER, DEBUG, RECOMMEND, SWEEP, PANEL, COMPARE, OPTIMIZE),
        surfaces=(API, MAGIC, CLI),
        cli_help="Representative samples: data.npz[:key] or data.npy.",
        doc_type="array, (x, y), tf.data.Dataset or generator, optional",
    )
    eval: Any = option(
        None,
        "Labelled evaluation data, e.g. (x_test, y_test): accuracy (classifiers) or mean "
        "squared error is measured on it.",
        kind="data",
        short="-e",
        entries=EVALUATED,
        surfaces=(API, MAGIC, CLI),
        cli_help="Labelled data: data.npz with arrays x and y (or data.npz:x,y).",
        doc_type="(x, y), tf.data.Dataset or generator, optional",
    )
    fit: Any = option(
        None,
        "Labelled training data for the fine-tune, e.g. (x_train, y_train) (the line form).",
        kind="data",
        short="-f",
        entries=(QUANTIZE, PRUNE, CLUSTER, RECOMMEND, SWEEP, PANEL, OPTIMIZE),
        doc_type="(x, y), tf.data.Dataset or generator, optional",
    )
    metric: Any = option(
        None,
        "The task's metric: a name (accuracy, topK such as top5, mse, mae, auc, f1), a Keras "
        "metric, or a function (y_true, y_pred) -> float from the namespace (lower is better "
        "when it has higher_is_better = False or its name says error or loss, e.g. wer). "
        "Default: top-1 accuracy for classifiers, else mean squared error.",
        kind="metric",
        entries=(QUANTIZE, PRUNE, CLUSTER, DEBUG, RECOMMEND, SWEEP, PANEL, OPTIMIZE),
        doc_type="str, Keras metric or callable, optional",
    )
    val: Any = option(
        None,
        "Labelled validation data the candidates are compared on (default: a seeded 20% "
        "held out of fit; the rest trains them); the pick is then reported on eval.",
        kind="data",
        entries=(OPTIMIZE,),
        doc_type="(x, y), optional",
    )
    #: A chained model's float32 baseline row, reused instead of measured again.
    baseline: dict[str, Any] | None = context()


@dataclass(frozen=True)
class Conversion:
    """How post-training variants are made."""

    scheme: Any = option(
        None,
        "float16, dynamic, int8, int16x8 (the default four; those needing calibration are "
        "skipped without --calib), int4, int4-block32, int4-block64, weight-int8, "
        "weight-int4; comma-separated or a list.",
        short="-s",
        entries=(QUANTIZE, DEBUG, COMPARE),
        surfaces=(API, MAGIC, CLI),
        doc_type="str or list of str, optional",
    )
    io: str = option(
        "float",
        "Input/output type of the int8 variant (int8/uint8: an integer-only model).",
        choices=("float", "int8", "uint8"),
        entries=(QUANTIZE, PRUNE, CLUSTER, SWEEP, COMPARE),
        surfaces=(API, MAGIC, CLI),
    )
    per_tensor: bool = option(
        False,
        "int8 weights with one scale per tensor, not per channel (MCU and NPU toolchains).",
        kind="flag",
        entries=(QUANTIZE, RECOMMEND),
    )
    allow_flex: bool = option(
        False,
        "Let ops without a TFLite kernel run as TensorFlow ops (Flex; needs the Flex "
        "delegate at run time; the needs_flex column).",
        kind="flag",
        entries=(QUANTIZE,),
    )
    fresh: bool = option(
        False,
        "Convert again, even where the same conversion was made before (and stored).",
        kind="flag",
        entries=(QUANTIZE,),
    )
    float_layers: Any = option(
        None,
        "Keras layers whose ops stay float in int8 (or int16x8), comma-separated or a list "
        "(selective quantization).",
        flag="--float",
        entries=(QUANTIZE,),
        doc_type='list of str or "a,b", optional',
    )
    sparse: bool = option(
        False,
        "Also store each variant with its zeros encoded sparse (the converter's "
        "EXPERIMENTAL_SPARSITY; pruning, or clustering with --preserve sparsity): a smaller "
        ".tflite whose DENSIFY ops write the dense weights into RAM at load, measured in a "
        "row of its own after the dense one.",
        kind="flag",
        entries=(PRUNE, CLUSTER),
    )
    max_drop: float | None = option(
        None,
        "The metric budget (0.01: one point): with --eval, keep the fewest layers float "
        "that hold the drop to this; recommend --verify moves down the tree while missed; "
        "optimize picks among the candidates within it.",
        type=float,
        entries=(QUANTIZE, RECOMMEND, OPTIMIZE),
        doc_type="float, optional",
    )


@dataclass(frozen=True)
class Training:
    """What a training-time technique applies, and how the copy is fine-tuned."""

    aware: bool = option(
        False,
        "Quantization-aware training (fine-tunes; the cell form runs your own fit).",
        kind="flag",
        entries=(QUANTIZE,),
    )
    sparsity: float | None = option(
        None,
        "Share of weights to zero in every prunable layer, in [0, 1), e.g. 0.8.",
        type=float,
        entries=(PRUNE,),
        doc_type="float in [0, 1)",
    )
    schedule: str = option(
        "polynomial",
        "How sparsity rises during the fine-tune: polynomial ramps it over the first 70% "
        "of the steps, constant prunes at once (both reach the target).",
        choices=("polynomial", "constant"),
        entries=(PRUNE,),
    )
    structure: str | None = option(
        None, "2:4 for structured sparsity (two zeros in every four weights).", entries=(PRUNE,)
    )
    clusters: int | None = option(
        None,
        "Distinct values per weight tensor, 2 or more, e.g. 16.",
        type=int,
        entries=(CLUSTER,),
        doc_type="int",
    )
    init: str = option(
        "kmeans++",
        "How the cluster centroids start.",
        choices=("kmeans++", "linear", "density", "random"),
        entries=(CLUSTER,),
    )
    preserve: str | None = option(
        None,
        "Keep a pruned or clustered model's structure: sparsity, clusters or both in "
        "quantization-aware training (PQAT, CQAT, PCQAT); sparsity when clustering.",
        choices=("sparsity", "clusters", "both"),
        entries=(QUANTIZE, CLUSTER),
        doc_type="str, optional",
    )
    skip: Any = option(
        None,
        "Layers to leave as they are, comma-separated or a list (QAT: layers tfmot "
        "refuses, left out of training; pruning: left dense; clustering: unclustered).",
        entries=(QUANTIZE, PRUNE, CLUSTER),
        doc_type="str or list of str, optional",
    )
    epochs: int = option(
        1, "Fine-tuning epochs.", type=int, entries=(QUANTIZE, PRUNE, CLUSTER, SWEEP)
    )
    batch_size: int = option(
        32, "Fine-tuning batch size.", type=int, entries=(QUANTIZE, PRUNE, CLUSTER, SWEEP)
    )
    fine_tune: Any = option(
        None,
        "A callable that trains the wrapped model it receives, instead of fit (nbopt adds "
        "the pruning callback to its fit); the magics' cell form.",
        kind="expr",
        entries=(QUANTIZE, PRUNE, CLUSTER, SWEEP),
        surfaces=(API,),
        doc_type="callable(model), optional",
    )
    then: str | None = option(
        None,
        "A post-training scheme applied to the result: int8, dynamic, float16.",
        entries=(PRUNE, CLUSTER),
        doc_type="str, optional",
    )
    #: The wrapped copy (or its weights) to fine-tune on from (optimize's later rungs),
    #: and whether to keep them on the result (``trained_wrapped``, ``trained_weights``).
    start_from: list[Any] | None = context()
    keep_weights: bool = context(False)


@dataclass(frozen=True)
class Measurement:
    """How variants are measured."""

    threads: int | None = option(
        None,
        "Interpreter threads for measurement (default: NbOpt.threads, one per core).",
        type=int,
        short="-t",
        entries=(QUANTIZE, PRUNE, CLUSTER, DEBUG, RECOMMEND, SWEEP, COMPARE, OPTIMIZE),
        surfaces=(API, MAGIC, CLI),
        doc_type="int, optional",
    )
    #: The measurement settings in force (``NbOpt``'s, with ``threads`` applied).
    settings: MeasureSettings = context(MeasureSettings())
    beat: Any = context()  # optimize's search.Beat: variants that cannot beat it go unmeasured


@dataclass(frozen=True)
class Analysis:
    """What the analyses ask: the debugger's threshold, the recommendation's target."""

    threshold: float | None = option(
        None,
        "Sensitivity above which a layer is suspect (default 0.01 of the metric with "
        "--eval, 0.05 relative output error without).",
        type=float,
        entries=(DEBUG,),
        doc_type="float, optional",
    )
    target: str = option(
        "cpu",
        "The hardware to run on (mcu: TensorFlow Lite for Microcontrollers).",
        choices=("cpu", "gpu", "edgetpu", "dsp", "mcu"),
        entries=(RECOMMEND, PANEL, OPTIMIZE),
    )
    verify: bool = option(
        False,
        "Measure the pick; move down the tree while it misses --max-drop (needs --eval).",
        kind="flag",
        entries=(RECOMMEND,),
    )
    ram_kb: float | None = option(
        None,
        "A microcontroller's RAM budget in KB.",
        type=float,
        flag="--ram",
        aliases=("--ram-kb",),
        entries=(RECOMMEND, OPTIMIZE),
        doc_type="float, optional",
    )
    flash_kb: float | None = option(
        None,
        "A microcontroller's flash budget in KB.",
        type=float,
        flag="--flash",
        aliases=("--flash-kb",),
        entries=(RECOMMEND, OPTIMIZE),
        doc_type="float, optional",
    )
    goal: str = option(
        "size",
        "What the search makes smallest: size (the .tflite file), gzip (the download), "
        "latency (on this machine's CPU) or ram.",
        choices=("size", "gzip", "latency", "ram"),
        entries=(OPTIMIZE,),
    )
    budget: Any = option(
        "10m",
        "How much the search may do: a number of candidates (12) or a time (10m, 90s).",
        entries=(OPTIMIZE,),
        doc_type="int or str",
    )
    seed: int = option(
        0, "Seed of the validation split and of the fine-tunes.", type=int, entries=(OPTIMIZE,)
    )


@dataclass(frozen=True)
class Grid:
    """A sweep: the cluster it runs on and whether it resumes (its axes are ``grid=``)."""

    client: Any = option(
        None,
        "The Dask cluster (distributed.Client) to use; else --scheduler, else a LocalCluster "
        "of one single-threaded process worker per core, started on first use and reused.",
        kind="expr",
        entries=(SWEEP, OPTIMIZE),
        surfaces=(API,),
        doc_type="distributed.Client, optional",
    )
    scheduler: str | None = option(
        None,
        "A Dask scheduler's address (a sweep's default: NbOpt.scheduler; optimize runs in "
        "the kernel unless given this, --workers or client).",
        entries=(SWEEP, OPTIMIZE),
        doc_type="str, optional",
    )
    workers: int | None = option(
        None,
        "Run optimize's candidates on a LocalCluster of this many single-threaded process "
        "workers (started on first use, resized, reused).",
        type=int,
        entries=(OPTIMIZE,),
        doc_type="int, optional",
    )
    resume: bool = option(
        False,
        "Skip configurations whose config_key the results already hold.",
        kind="flag",
        entries=(SWEEP,),
    )
    names: list[str] | None = option(
        None,
        "Names for the models, when they are given as a list.",
        kind="expr",
        entries=(SWEEP,),
        surfaces=(API,),
        doc_type="list of str, optional",
    )


@dataclass(frozen=True)
class Output:
    """Where the result goes: its name, its files, the progress listener."""

    name: str | None = option(
        None,
        "The name shown in tables (default: the model's own name).",
        entries=(QUANTIZE, PRUNE, CLUSTER, DEBUG, RECOMMEND, PANEL, OPTIMIZE),
        surfaces=(API,),
        doc_type="str, optional",
    )
    save: str | None = option(
        None,
        "Write every variant's .tflite into this folder (a magic's bare --save: NbOpt.output_dir).",
        entries=(QUANTIZE, PRUNE, CLUSTER, COMPARE),
        surfaces=(API, MAGIC, CLI),
        cli_flag="--out",
        cli_help="Folder to write the .tflite files to.",
        bare=True,
        doc_type="str, optional",
    )
    force: bool = option(
        False,
        "Replace existing files when saving.",
        kind="flag",
        entries=(QUANTIZE, PRUNE, CLUSTER, COMPARE),
        surfaces=(API, MAGIC, CLI),
    )
    progress: Any = option(
        None,
        "Receives progress events (nbopt.engine.events.Event) while the work runs.",
        kind="expr",
        entries=(QUANTIZE, PRUNE, CLUSTER, RECOMMEND, SWEEP, OPTIMIZE),
        surfaces=(API,),
        doc_type="callable(Event), optional",
    )
    as_name: str | None = option(
        None,
        "Bind the result (TFLiteModel or Comparison; optimize: its pick) to this variable.",
        flag="--as",
        entries=(QUANTIZE, PRUNE, CLUSTER, SWEEP, OPTIMIZE),
        surfaces=(MAGIC,),
    )
