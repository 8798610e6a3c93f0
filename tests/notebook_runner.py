"""Execute a tutorial notebook in a fresh kernel and report its run time and peak memory.

Used by ``tests/test_tutorials.py`` (the project's venv) and ``tests/test_binder.py`` (a venv
built from ``binder/requirements.txt``): the kernel runs ``python`` (any interpreter with
ipykernel), nbclient drives it from this process, and a thread samples the resident memory
of the kernel and every process it starts (the converter runs in a worker process).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
from nbclient import NotebookClient

KERNEL_NAME = "nbopt-tutorial"
#: ``(label, seconds, peak MB)`` of every execution in this process, for the test summary.
RUNS: list[tuple[str, float, float]] = []
PROBE_MARK = "NBOPT-PROBE:"


@dataclass
class Run:
    """What one execution produced: the executed notebook, time, memory and probe values."""

    notebook: Any
    seconds: float
    peak_mb: float
    probe: dict[str, Any] = field(default_factory=dict)

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


class _MemorySampler(threading.Thread):
    """Peak summed RSS of the processes started after it (the kernel and its workers).

    Only the kernel and its descendants count: processes this one had already started, or
    starts meanwhile (a converter worker of earlier tests, say), do not.
    """

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()
        self._before = {p.pid for p in psutil.Process().children(recursive=True)}

    def run(self) -> None:
        while not self._stop_event.is_set():
            total = 0
            for proc in self._kernel_tree():
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop_event.wait(self.interval)

    def _kernel_tree(self) -> list[psutil.Process]:
        """The kernels started since this sampler was made, and their descendants."""
        tree = []
        for proc in psutil.Process().children():
            try:
                if proc.pid in self._before or "ipykernel" not in " ".join(proc.cmdline()):
                    continue
                tree += [proc, *proc.children(recursive=True)]
            except psutil.Error:
                pass
        return tree

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak / 2**20


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
    sampler = _MemorySampler()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(cwd or Path(path).parent)}},
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
    run = Run(nb, seconds, peak)
    RUNS.append((label or Path(path).name, seconds, peak))
    keep = os.environ.get("NBOPT_EXECUTED_DIR")  # to read the outputs after a test run
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, Path(keep) / Path(path).name)
    if probe:
        for line in run.text().splitlines():
            if line.startswith(PROBE_MARK):
                run.probe = json.loads(line[len(PROBE_MARK) :])
        nb.cells.pop()
    return run


def main() -> None:
    """``python tests/notebook_runner.py NOTEBOOK [KERNEL_PYTHON]``: run it, print time/memory.

    Set ``NBOPT_EXECUTED_DIR`` to keep the executed notebook (with outputs) there.
    """
    path = sys.argv[1]
    python = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as cwd:
        run = execute(path, python=python, cwd=cwd)
    print(f"{Path(path).name}: {run.seconds:.0f} s, peak {run.peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
