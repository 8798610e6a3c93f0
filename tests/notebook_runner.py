"""Execute a tutorial notebook in a fresh kernel and report its run time and peak memory.

Used by ``tests/test_tutorials.py`` (the project's venv) and ``tests/test_binder.py`` (a venv
built from ``binder/requirements.txt``): the kernel runs ``python`` (any interpreter with
ipykernel), nbclient drives it from this process, and a thread samples the proportional set
size (PSS) of the kernel and every process it starts (the converter runs in a worker
process), every 0.2 s: :mod:`kernel_memory`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from kernel_memory import Peak, PssSampler, Sample
from nbclient import NotebookClient

KERNEL_NAME = "nbopt-tutorial"
#: ``(label, seconds, peak)`` of every execution in this process, for the test summary.
RUNS: list[tuple[str, float, Peak]] = []
PROBE_MARK = "NBOPT-PROBE:"


@dataclass
class Run:
    """What one execution produced: the executed notebook, time, memory and probe values."""

    notebook: Any
    seconds: float
    memory: Peak
    samples: list[Sample] = field(default_factory=list)
    probe: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_mb(self) -> float:
        """The highest summed PSS of the kernel and its processes, in MB."""
        return self.memory.total_mb

    def text(self) -> str:
        """Every text output of every cell (stream text and text/plain results)."""
        parts = []
        for cell in self.notebook.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream":
                    parts.append(out.get("text", ""))
                elif "data" in out:
                    parts.append(out["data"].get("text/plain", ""))
        return "\n".join(parts)


def _kernel_dir(python: str) -> str:
    """A temporary Jupyter data dir holding a kernel spec that runs ``python``."""
    root = tempfile.mkdtemp(prefix="nbopt-kernel-")
    spec = Path(root, "kernels", KERNEL_NAME)
    spec.mkdir(parents=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "nbopt tutorial", "language": "python"})
    )
    return root


def execute(
    path: str | os.PathLike[str],
    *,
    python: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: int = 300,
    probe: str | None = None,
    env: dict[str, str] | None = None,
    label: str | None = None,
) -> Run:
    """Run every cell of the notebook at ``path`` top to bottom in a fresh kernel.

    ``timeout`` is per cell. ``probe`` is code appended as a last cell: it should print
    ``NBOPT-PROBE:`` followed by JSON, returned as ``Run.probe``. ``env`` adds variables
    to the kernel's environment; ``label`` names the run in :data:`RUNS`. Raises nbclient's
    ``CellExecutionError`` on any error.
    """
    nb = nbformat.read(path, as_version=4)
    if probe:
        nb.cells.append(nbformat.v4.new_code_cell(probe))
    old_path = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = _kernel_dir(python or sys.executable)
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    sampler = PssSampler()

    def on_cell_execute(cell: Any, cell_index: int) -> None:
        sampler.cell = cell_index

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(cwd or Path(path).parent)}},
        on_cell_execute=on_cell_execute,
    )
    start = time.perf_counter()
    sampler.start()
    try:
        client.execute()
    finally:
        seconds = time.perf_counter() - start
        peak = sampler.stop()
        for k, v in [("JUPYTER_PATH", old_path), *saved.items()]:
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    run = Run(nb, seconds, peak, sampler.samples)
    RUNS.append((label or Path(path).name, seconds, peak))
    keep = os.environ.get("NBOPT_EXECUTED_DIR")  # to read the outputs after a test run
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(keep) / Path(path).name)
        _write_samples(sampler.samples, Path(keep) / f"{Path(path).stem}.memory.csv")
    if probe:
        for line in run.text().splitlines():
            if line.startswith(PROBE_MARK):
                run.probe = json.loads(line[len(PROBE_MARK) :])
        nb.cells.pop()
    return run


def _write_samples(samples: list[Sample], path: Path) -> None:
    """The memory samples as CSV: seconds, cell, then PSS in MB per role and in total."""
    roles = sorted({name for sample in samples for name in sample.parts})
    lines = [",".join(["seconds", "cell", *roles, "total"])]
    for s in samples:
        mb = [f"{s.parts.get(name, 0) / 2**20:.1f}" for name in roles]
        lines.append(",".join([f"{s.seconds:.1f}", str(s.cell), *mb, f"{s.total / 2**20:.1f}"]))
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    """``python tests/notebook_runner.py NOTEBOOK [KERNEL_PYTHON]``: run it, print time/memory.

    Set ``NBOPT_EXECUTED_DIR`` to keep the executed notebook (with outputs) there, and its
    memory samples as ``<notebook>.memory.csv``.
    """
    path = sys.argv[1]
    python = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as cwd:
        run = execute(path, python=python, cwd=cwd)
    print(
        f"{Path(path).name}: {run.seconds:.0f} s, peak PSS {run.peak_mb:.0f} MB "
        f"({run.memory.breakdown()})"
    )


if __name__ == "__main__":
    main()
