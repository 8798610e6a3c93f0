"""The parts of a request that say how it is measured, analysed, swept and output."""

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
    MAGIC,
    PANEL,
    PRUNE,
    QUANTIZE,
    RECOMMEND,
    SWEEP,
    context,
    option,
)


@dataclass(frozen=True)
class Measurement:
    """How variants are measured."""

    threads: int | None = option(
        None,
        "Interpreter threads for measurement (default: NbOpt.threads, one per core).",
        type=int,
        short="-t",
        entries=(QUANTIZE, PRUNE, CLUSTER, DEBUG, RECOMMEND, SWEEP, COMPARE),
        surfaces=(API, MAGIC, CLI),
        doc_type="int, optional",
    )
    #: The measurement settings in force (``NbOpt``'s, with ``threads`` applied).
    settings: MeasureSettings = context(MeasureSettings())


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
        entries=(RECOMMEND, PANEL),
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
        entries=(RECOMMEND,),
        doc_type="float, optional",
    )
    flash_kb: float | None = option(
        None,
        "A microcontroller's flash budget in KB.",
        type=float,
        flag="--flash",
        entries=(RECOMMEND,),
        doc_type="float, optional",
    )


@dataclass(frozen=True)
class Grid:
    """A sweep: the cluster it runs on and whether it resumes (its axes are ``grid=``)."""

    client: Any = option(
        None,
        "The Dask cluster (distributed.Client) to use; else --scheduler, else a LocalCluster "
        "of one single-threaded process worker per core, started on first use and reused.",
        kind="expr",
        entries=(SWEEP,),
        surfaces=(API,),
        doc_type="distributed.Client, optional",
    )
    scheduler: str | None = option(
        None,
        "A Dask scheduler's address (default: NbOpt.scheduler).",
        entries=(SWEEP,),
        doc_type="str, optional",
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
        entries=(QUANTIZE, PRUNE, CLUSTER, DEBUG, RECOMMEND, PANEL),
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
        entries=(QUANTIZE, PRUNE, CLUSTER, RECOMMEND, SWEEP),
        surfaces=(API,),
        doc_type="callable(Event), optional",
    )
    as_name: str | None = option(
        None,
        "Bind the result (TFLiteModel or Comparison) to this variable.",
        flag="--as",
        entries=(QUANTIZE, PRUNE, CLUSTER, SWEEP),
        surfaces=(MAGIC,),
    )
