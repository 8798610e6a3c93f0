"""A process forked from the kernel while TensorFlow is imported but idle; it forks the
converter workers.

An exec'd converter worker imports TensorFlow itself and builds its own copy of what
TensorFlow initialises (its op registry, kernels and some 400,000 Python objects): about
250 MB that the kernel already holds. A process forked from the kernel shares those pages
with it until one of them writes a page. But the kernel can be forked safely only before
TensorFlow starts its threads (with the first model or tensor), and a converter worker is
replaced after a crash, an interrupt or a number of conversions, long after that.

So when the extension loads, right after the kernel has imported TensorFlow, it forks this
*zygote* (:func:`start`). The zygote does nothing but fork a converter worker when asked
(:meth:`Zygote.fork`), from its unchanging copy of the kernel's memory, and report how
each one ended: a crash is still reported with its signal. Each worker shares the zygote's
pages, and through it the kernel's. Where the zygote is not running (TensorFlow was busy
before the extension loaded, or not on Linux), workers are exec'd as before.

Kernel and zygote talk over a ``SOCK_SEQPACKET`` socket pair: the kernel sends a worker's
three descriptors (its inbox, its outbox, its output file) with ``SCM_RIGHTS``; the
zygote answers ``p`` with the worker's pid, and later ``x`` with its exit code. The zygote
ends when the kernel's end closes.
"""

from __future__ import annotations

import ctypes
import gc
import os
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable

#: ``/proc/<pid>/comm`` of the zygote and of the workers it forks (``ps``, ``top``).
NAME = "nbopt-zygote"
WORKER_NAME = "nbopt-convert"
_MESSAGE = struct.Struct("<cii")  # kind (b"p": forked, b"x": exited), pid, exit code


def fork_safe() -> bool:
    """Whether this process can be forked: TensorFlow is imported and has not started a
    thread of its own (its eager context, thread pools and graph runner start with the
    first model or tensor). A kernel's other threads (ZeroMQ's, OpenBLAS's) are never used
    by the forked process."""
    if "tensorflow" not in sys.modules or not sys.platform.startswith("linux"):
        return False
    try:
        names = [
            open(f"/proc/self/task/{task}/comm").read().strip()
            for task in os.listdir("/proc/self/task")
        ]
    except OSError:
        return False
    return not any(name.startswith("tf_") for name in names)


class Child:
    """A worker forked by the zygote: the part of :class:`subprocess.Popen` that the
    converter's worker handling uses (``pid``, ``poll``, ``wait``, ``kill``)."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid

    def poll(self) -> int | None:
        return self.zygote.exit_code(self.pid)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(WORKER_NAME, timeout or 0)
            self.zygote.receive(timeout=0.05)
        return code

    def kill(self) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Zygote:
    """The kernel's handle on the zygote process."""

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock
        self.owner = os.getpid()  # a process forked from the kernel does not share it
        self.codes: dict[int, int] = {}
        self.lock = threading.Lock()

    def alive(self) -> bool:
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    def fork(self, inbox: int, outbox: int, output: int) -> Child | None:
        """A new worker serving ``inbox``/``outbox`` and writing to ``output``; None if the
        zygote is gone."""
        with self.lock:
            try:
                socket.send_fds(self.sock, [b"w"], [inbox, outbox, output])
                while True:
                    kind, pid = self._read(block=True)
                    if kind == b"p":
                        return Child(self, pid)
            except (OSError, EOFError):
                return None

    def receive(self, timeout: float = 0.0) -> None:
        """Record the exit codes the zygote has sent, waiting up to ``timeout`` for one."""
        with self.lock:
            try:
                if select.select([self.sock], [], [], timeout)[0]:
                    while self._read(block=False)[0]:
                        pass
            except (OSError, EOFError, ValueError):
                pass

    def exit_code(self, pid: int) -> int | None:
        self.receive()
        if pid not in self.codes and not self.alive():  # its workers are orphans now
            return None if _exists(pid) else -signal.SIGKILL
        return self.codes.get(pid)

    def _read(self, block: bool) -> tuple[bytes, int]:
        """One message (recording an exit code); ``(b"", 0)`` if none is waiting."""
        try:
            data = self.sock.recv(_MESSAGE.size, 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b"", 0
        if not data:
            raise EOFError
        kind, pid, code = _MESSAGE.unpack(data)
        if kind == b"x":
            self.codes[pid] = code
        return kind, pid

    def close(self) -> None:
        self.sock.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_zygote: Zygote | None = None


def start(serve: Callable[[int, int], None]) -> bool:
    """Fork the zygote from this process if it is safe now (see :func:`fork_safe`); its
    workers run ``serve(inbox, outbox)``. True if a zygote is running."""
    global _zygote
    if get() is not None:
        return True
    if not fork_safe():
        return False
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    # Python's collector writes to the header of every object it traverses: the kernel's
    # first full collection would copy every page of TensorFlow's 400,000 objects, and
    # the zygote's copies would no longer be shared. Frozen, the objects that exist now
    # (modules, for the most part, which live as long as the kernel) are never traversed.
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the zygote (tests drive it from a real kernel)
        ours.close()
        _run(theirs, serve)
    theirs.close()
    _zygote = Zygote(pid, ours)
    return True


def get() -> Zygote | None:
    """The running zygote, if any (and if this process started it)."""
    z = _zygote
    return z if z is not None and z.owner == os.getpid() and z.alive() else None


def stop() -> None:
    """End the zygote (its workers are not affected)."""
    global _zygote
    zygote, _zygote = _zygote, None
    if zygote is not None:
        zygote.close()


def _become(name: str, output: int | None) -> None:
    """This forked process's own name and standard streams."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull if output is None else output, 1)
    os.dup2(devnull if output is None else output, 2)
    os.close(devnull)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own streams
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    with open("/proc/self/comm", "w") as fh:
        fh.write(name)


def _close_sockets(keep: int) -> None:
    """Close the kernel's sockets (its ZeroMQ ports), so that a restarted kernel can bind
    them again while a worker still finishes its conversion."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if fd != keep and stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)
        except OSError:
            pass


def _run(sock: socket.socket, serve: Callable[[int, int], None]) -> None:
    """The zygote's life: fork a worker per request, report each one's end."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the kernel decides about interrupts
        _close_sockets(sock.fileno())
        _become(NAME, None)
        gc.freeze()  # a collection would write to the header of every shared object
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        while True:
            ready = select.select([sock, wake_r], [], [])[0]
            if wake_r in ready:
                os.read(wake_r, 512)
            _reap(sock)
            if sock in ready and not _serve_request(sock, serve, (wake_r, wake_w)):
                break
    finally:
        os._exit(0)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(_MESSAGE.pack(b"x", pid, os.waitstatus_to_exitcode(status)))


def _serve_request(
    sock: socket.socket, serve: Callable[[int, int], None], own: tuple[int, int]
) -> bool:
    """Fork one worker for the request waiting on ``sock``; False once the kernel is gone."""
    message, fds, _, _ = socket.recv_fds(sock, 16, 3)
    if not message or len(fds) != 3:
        return False
    pid = os.fork()
    if pid == 0:
        _worker(sock, serve, own, *fds)
    for fd in fds:
        os.close(fd)
    sock.send(_MESSAGE.pack(b"p", pid, 0))
    return True


def _worker(  # pragma: no cover - a worker (tests drive it from a real kernel)
    sock: socket.socket,
    serve: Callable[[int, int], None],
    own: tuple[int, ...],
    inbox: int,
    outbox: int,
    output: int,
) -> None:
    code = 0
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        sock.close()
        for fd in own:
            os.close(fd)
        _become(WORKER_NAME, output)
        os.close(output)
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
        if mallopt is not None:
            mallopt(-8, 2)  # M_ARENA_MAX: two arenas, as an exec'd worker's environment says
        serve(inbox, outbox)
    except BaseException:  # noqa: BLE001 - a worker never returns into the zygote's loop
        code = 1
    finally:
        os._exit(code)
