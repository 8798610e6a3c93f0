"""Peak memory of a Jupyter kernel and every process it starts, as proportional set size.

PSS charges each page to the processes that map it in equal shares, so TensorFlow's
libraries, mapped by the kernel and by the converter worker alike, count once in the sum,
not once per process as RSS counts them. But the shares are taken among *every* process on
the machine: on a machine running other TensorFlow processes (the test runner, other
kernels, CI neighbours) the kernel's share of those libraries shrinks (the quick start
measured 800 MB so on a busy machine, 1044 MB alone). The sum here is therefore the PSS the
kernel's tree would have if it ran alone, as in a Binder session:

- anonymous and shared-memory pages: ``Pss_Anon + Pss_Shmem`` of ``/proc/<pid>/smaps_rollup``
  (no process outside the tree shares them; the zygote and the converter workers forked
  from the kernel share some of the kernel's, and PSS splits those among them);
- file pages (libraries, mapped files): for each file, the most of it resident in any
  process of the tree, split among the tree's processes that map it. Each process's files
  are read from ``/proc/<pid>/smaps`` when its file-backed RSS has changed by 4 MB or more.
  Pages of a file resident in two processes are taken to overlap: checked against the
  distinct physical pages (``/proc/<pid>/pagemap``, as root), the sum is about 1% low.

:class:`PssSampler` samples every 0.2 s; besides the peak it keeps each sample's share per
role (the ``kernel``, the converter ``worker``, ``dask`` workers, any ``other`` child) and
which cell was running, so that a peak can be traced to a process and a cell.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

MB = 2**20
#: Names of the processes forked from the kernel (``nbopt.engine.convert.zygote``): they
#: have the kernel's command line, and pages of their own besides the ones they share.
FORKED = ("nbopt-zygote", "nbopt-convert")
#: A process's files are read again when its file-backed RSS moved by this much.
REREAD_FILES = 4 * MB
#: Mappings with a path that are shared memory (counted in ``Pss_Shmem``), not files.
_NOT_FILES = ("/memfd:", "/dev/", "/SYSV", "/anon_hugepage")


def rollup(pid: int) -> dict[str, int]:
    """The fields of ``/proc/<pid>/smaps_rollup`` in bytes (empty once it has exited)."""
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    except (OSError, ValueError):
        pass
    return fields


def file_resident(pid: int) -> dict[str, int]:
    """Bytes of each mapped file resident in process ``pid`` (copy-on-write copies, which
    are anonymous pages, left out)."""
    try:
        with open(f"/proc/{pid}/smaps") as fh:
            text = fh.read()
    except OSError:
        return {}
    files: dict[str, int] = {}
    path = None
    rss = 0
    for line in text.splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("Anonymous:"):
            if path is not None:
                files[path] = files.get(path, 0) + rss - int(line.split()[1]) * 1024
        elif not line[:1].isupper():  # a mapping's header: address range, perms, ..., path
            parts = line.split(None, 5)
            name = parts[5] if len(parts) == 6 else ""
            path = name if name.startswith("/") and not name.startswith(_NOT_FILES) else None
    return files


def role(cmdline: list[str]) -> str:
    """What a process started by the kernel is, from its command line."""
    text = " ".join(cmdline)
    if "nbopt.engine.convert.worker" in text:
        return "worker"
    if "dask" in text or "distributed" in text:
        return "dask"
    return "other"


class _Process:
    """A process of the tree: its role and its resident files as last read."""

    def __init__(self, pid: int, name: str):
        self.pid = pid
        self.role = name
        self.files: dict[str, int] = {}
        self.files_at: int | None = None  # its file-backed RSS when ``files`` was read

    def sample(self) -> int:
        """This process's anonymous and shared-memory PSS; rereads its files if needed."""
        fields = rollup(self.pid)
        file_rss = fields.get("Rss", 0) - fields.get("Anonymous", 0)
        if self.files_at is None or abs(file_rss - self.files_at) >= REREAD_FILES:
            self.files = file_resident(self.pid)
            self.files_at = file_rss
        return fields.get("Pss_Anon", 0) + fields.get("Pss_Shmem", 0)


def tree_pss(processes: list[_Process]) -> dict[str, int]:
    """PSS per role of ``processes`` as if no other process mapped their files."""
    parts: dict[str, int] = {}
    own = {p.pid: p.sample() for p in processes}
    union: dict[str, int] = {}
    mapped: dict[str, int] = {}
    for p in processes:
        for path, size in p.files.items():
            union[path] = max(union.get(path, 0), size)
            mapped[path] = mapped.get(path, 0) + size
    for p in processes:
        files = sum(union[f] * size // mapped[f] for f, size in p.files.items() if size)
        parts[p.role] = parts.get(p.role, 0) + own[p.pid] + files
    return parts


@dataclass
class Sample:
    """One sample: seconds since the start, the running cell, PSS (bytes) per role."""

    seconds: float
    cell: int | None
    parts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.parts.values())


@dataclass
class Peak:
    """The sample with the highest summed PSS, and every role's own highest PSS."""

    total_mb: float
    parts_mb: dict[str, float]
    cell: int | None
    seconds: float
    role_peaks_mb: dict[str, float] = field(default_factory=dict)

    def breakdown(self) -> str:
        """``kernel 610 + worker 420 MB at cell 7`` (the parts of the peak sample)."""
        parts = " + ".join(f"{k} {v:.0f}" for k, v in sorted(self.parts_mb.items()))
        return f"{parts} MB at cell {self.cell}" if parts else "no process sampled"


class PssSampler(threading.Thread):
    """Samples the PSS of the kernels this process starts after it is made, and of their
    descendants; processes started before (a converter worker of earlier tests, say) do
    not count. Set :attr:`cell` to the running cell's index as cells run."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[Sample] = []
        self.cell: int | None = None
        self._stop_event = threading.Event()
        self._before = {p.pid for p in psutil.Process().children(recursive=True)}
        self._known: dict[int, _Process] = {}
        self._start = time.perf_counter()

    def run(self) -> None:
        self._start = time.perf_counter()
        while not self._stop_event.is_set():
            parts = tree_pss(self._kernel_tree())
            self.samples.append(Sample(time.perf_counter() - self._start, self.cell, parts))
            self._stop_event.wait(self.interval)

    def _kernel_tree(self) -> list[_Process]:
        """The kernels started since this sampler was made, and their descendants."""
        tree = []
        for proc in psutil.Process().children():
            try:
                if proc.pid in self._before or "ipykernel" not in " ".join(proc.cmdline()):
                    continue
                found = [(proc.pid, "kernel")]
                kernel = proc.cmdline()
                for child in proc.children(recursive=True):
                    line = child.cmdline()
                    if line != kernel:
                        found.append((child.pid, role(line)))
                    elif child.name() in FORKED:  # forked, with pages of its own
                        found.append((child.pid, "worker"))
                    # else: forked to exec, not exec'd yet (``vfork``: the kernel's own
                    # pages, which its rollup would count a second time)
            except psutil.Error:
                continue
            for pid, name in found:
                if pid not in self._known or self._known[pid].role != name:
                    self._known[pid] = _Process(pid, name)
                tree.append(self._known[pid])
        return tree

    def stop(self) -> Peak:
        """Stop sampling; the peak."""
        self._stop_event.set()
        self.join()
        return peak(self.samples)


def peak(samples: list[Sample]) -> Peak:
    """The :class:`Peak` of ``samples``."""
    if not samples:
        return Peak(0.0, {}, None, 0.0)
    top = max(samples, key=lambda s: s.total)
    roles: dict[str, float] = {}
    for sample in samples:
        for name, value in sample.parts.items():
            roles[name] = max(roles.get(name, 0.0), value / MB)
    parts = {k: v / MB for k, v in top.parts.items() if v}
    return Peak(top.total / MB, parts, top.cell, top.seconds, roles)
