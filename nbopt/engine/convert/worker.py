"""A worker process for the TFLite converter, so that a converter crash spares the kernel.

The converter is native code that can abort its process. Conversions run in one long-lived
worker process (``python -m nbopt.engine.convert.worker``, started on first use; it imports
TensorFlow, without Keras, as it starts, while the caller goes on with its own work). If the
worker dies, that conversion fails with a clear error and the next call starts a new worker.
The user's kernel lives on.

The worker's standard output and error (TensorFlow's C++ logs, the converter's prints) go
to a temporary file, never to the kernel's descriptors: the parent reads what each call
wrote after its reply and keeps it in :mod:`nbopt.engine.capture`, so nothing the worker
prints lands asynchronously in whatever cell is running.

The worker is a plain subprocess talking over two pipes, not ``multiprocessing``: spawning
through ``multiprocessing`` re-runs an unguarded ``__main__`` script in the child. In a
kernel where the extension loaded before TensorFlow was busy, workers are forked by a
:mod:`.zygote` instead, and share the kernel's copy of TensorFlow.
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import importlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from ...errors import ConversionError
from .. import capture
from . import zygote


def _environment() -> dict[str, str]:
    """The worker's environment: this process's, with glibc's malloc held to two arenas.

    With an arena per thread (glibc's default), the converter's threads leave freed memory
    spread over many heaps: converting MobileNetV2 peaked 20-45 MB higher, and the idle
    worker grew by 15 MB per conversion. A value the user set is kept.
    """
    return {"MALLOC_ARENA_MAX": "2", **os.environ}


class _Worker:
    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.output = tempfile.TemporaryFile()
        self.read_to = 0
        forker = zygote.get()
        forked = forker and forker.fork(to_child_r, from_child_w, self.output.fileno())
        self.proc: Any = forked or self._exec(to_child_r, from_child_w)
        os.close(to_child_r)
        os.close(from_child_w)
        self.outbox = Connection(to_child_w, readable=False)
        self.inbox = Connection(from_child_r, writable=False)
        self.owner = os.getpid()  # a process forked from this one starts its own worker
        self.pending = 0  # replies still to read (from warm-up requests)
        self.calls = 0  # conversions answered (see :func:`leaks`)

    def _exec(self, inbox: int, outbox: int) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nbopt.engine.convert.worker",
                str(inbox),
                str(outbox),
            ],
            pass_fds=(inbox, outbox),
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=self.output,
            stderr=self.output,
        )

    def send(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self.outbox.send((fn.__module__, fn.__qualname__, args, kwargs))
        self.pending += 1

    def receive(self) -> tuple[bool, Any]:
        reply = self.inbox.recv()
        self.pending -= 1
        return reply

    def new_output(self) -> str:
        """What the worker wrote since the last call of this method."""
        try:
            end = os.fstat(self.output.fileno()).st_size
            data = os.pread(self.output.fileno(), end - self.read_to, self.read_to)
        except (OSError, ValueError):
            return ""
        self.read_to += len(data)
        return data.decode("utf-8", "replace")

    def close(self, kill: bool = False) -> int | None:
        for conn in (self.outbox, self.inbox):
            try:
                conn.close()
            except OSError:
                pass
        if kill and self.proc.poll() is None:
            self.proc.kill()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        capture.add(self.new_output())
        self.output.close()
        return code


_lock = threading.RLock()
_worker: _Worker | None = None

#: Conversions after which the worker is replaced by a fresh one (0: never). The TFLite
#: converter of TensorFlow 2.21 leaks memory on every call (TensorFlow #122598); a new
#: process bounds it. The next worker starts (and imports TensorFlow) at once, unless
#: :data:`WARM_AFTER_RECYCLE` is off.
RECYCLE_AFTER = 25
#: Start the next worker as soon as one is recycled. A sweep's Dask worker turns it off:
#: a start in the background is work on the host that its latency timing cannot see, so
#: there the next worker starts with the next conversion, inside a task.
WARM_AFTER_RECYCLE = True


def _get() -> _Worker:
    global _worker
    if _worker is None or _worker.owner != os.getpid() or _worker.proc.poll() is not None:
        _worker = _Worker()
    return _worker


def _warm() -> int:
    """Answered once the worker has imported TensorFlow (the slow part of a first
    conversion), which it does as it starts."""
    return os.getpid()


def warm(fork: bool = False) -> None:
    """Start the worker (if needed) and have it import TensorFlow, without waiting.

    With ``fork``, the :mod:`.zygote` starts first where that is safe, and the worker is
    forked from it (it has TensorFlow imported already).
    """
    if fork:
        zygote.start(_serve)
    with _lock:
        worker = _get()
        if worker.pending == 0:
            worker.send(_warm, (), {})


def ready() -> None:
    """Start the worker (if needed) and wait until it has imported TensorFlow."""
    call(_warm)


def leaks(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``fn`` as a call that leaks in the worker (a conversion): :data:`RECYCLE_AFTER`
    counts these; running a model to probe it or plan its memory does not leak."""
    fn.__nbopt_leaks__ = True  # type: ignore[attr-defined]
    return fn


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in the worker process; its exceptions are re-raised here.

    ``fn`` must be a module-level function. A crash of the worker (abort, segfault,
    killed) raises :class:`ConversionError`; an interrupt stops the worker and propagates.
    """
    global _worker
    trim_heap()  # this process waits while the worker works: at its smallest meanwhile
    with _lock:
        worker = _get()
        try:
            while worker.pending:  # replies of warm-up requests
                worker.receive()
            worker.send(fn, args, kwargs)
            ok, value = worker.receive()
            capture.add(worker.new_output())
            worker.calls += getattr(fn, "__nbopt_leaks__", False)
            if RECYCLE_AFTER and worker.calls >= RECYCLE_AFTER:
                worker.close()
                _worker = None
                if WARM_AFTER_RECYCLE:
                    warm()
        except (EOFError, OSError, BrokenPipeError):
            start = capture.mark()
            code = worker.close()
            _worker = None
            how = (
                f"signal {signal.Signals(-code).name}"
                if code is not None and code < 0
                else f"exit code {code}"
            )
            raise ConversionError(
                capture.with_log(
                    f"the converter crashed its worker process ({how}); this variant failed, "
                    "your kernel is unaffected",
                    capture.since(start),
                )
            ) from None
        except BaseException:  # KeyboardInterrupt: the reply would come out of step
            worker.close(kill=True)
            _worker = None
            raise
    if ok:
        return value
    raise value


def shutdown() -> None:
    """Stop the worker process (a new one starts on the next call)."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    if worker is not None:
        worker.close(kill=True)


def stop() -> None:
    """Stop the worker and the zygote (at exit)."""
    shutdown()
    zygote.stop()


def pid() -> int | None:
    """The worker's process id, if one is running."""
    worker = _worker
    return worker.proc.pid if worker is not None and worker.proc.poll() is None else None


atexit.register(stop)


_frozen = False


def trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``).

    glibc keeps memory that was freed for reuse: after converting MobileNetV2 the worker
    held about 150 MB more than it used. Nothing happens where the C library has no
    ``malloc_trim`` (macOS, musl).
    """
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _release_memory() -> None:
    """Between calls: free the last call's cycles and give the heap's free pages back.

    TensorFlow's modules are some 400,000 objects; once it is imported they are frozen
    (``gc.freeze``), so a collection costs microseconds instead of 0.2 s.
    """
    global _frozen
    gc.collect()
    if not _frozen and "tensorflow" in sys.modules:
        gc.freeze()
        _frozen = True
    trim_heap()


def _import_tensorflow() -> None:
    """Import TensorFlow without the Keras its ``__init__`` loads eagerly.

    TensorFlow imports ``tf_keras.src.optimizers`` (``keras.src.optimizers`` without
    ``TF_USE_LEGACY_KERAS``) so that Keras' optimizers register with the SavedModel loader:
    all of tf_keras and pandas, 45 MB and 0.6 s. The worker converts nbopt's exports (a
    ``tf.Module`` holding variables and one traced function, no optimizer) and runs TFLite
    Micro; neither uses Keras. TensorFlow skips that import when it raises ImportError, and
    Keras stays importable afterwards (``tf.keras`` loads it on first use).
    """
    blocked = [name for name in ("tf_keras", "keras") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import tensorflow  # noqa: F401
    except ImportError:  # said by the call that needs it, with its context
        pass
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _serve(inbox_fd: int, outbox_fd: int) -> None:
    """The worker's loop: receive calls, answer each with ``(ok, value)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides about interrupts
    _import_tensorflow()  # as the worker starts: every worker converts sooner or later
    inbox = Connection(inbox_fd, writable=False)
    outbox = Connection(outbox_fd, readable=False)
    while True:
        try:
            module, name, args, kwargs = inbox.recv()
        except EOFError:
            return
        try:
            fn: Any = importlib.import_module(module)
            for part in name.split("."):
                fn = getattr(fn, part)
            reply = (True, fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
            reply = (False, exc)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            outbox.send(reply)
        except Exception as exc:  # an unpicklable result or exception
            outbox.send((False, ConversionError(f"{type(exc).__name__}: {exc}")))
        reply = args = kwargs = fn = None  # the call's data, freed before the heap is trimmed
        _release_memory()  # while the caller reads the reply


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
