"""Native output kept, not printed: TensorFlow's C++ and Python logs, converter prints.

TensorFlow writes its C++ logs (``oneDNN custom operations``, ``failed call to cuInit``),
and the converter its ``fully_quantize: 0, ...`` lines, straight to file descriptors 1
and 2, where ``contextlib.redirect_stderr`` cannot catch them; in a Jupyter kernel those
descriptors are read by the kernel and land in whichever cell is running. :func:`native`
points the descriptors (and TensorFlow's Python loggers) at a temporary file while nbopt
works, and keeps what was written: :func:`log` returns the last run's output, failed
rows quote its relevant lines (:func:`relevant`), and with :func:`set_verbose` it is
echoed to ``sys.stderr`` (the running cell) as well.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_chunks: list[str] = []
_lock = threading.RLock()
_depth = 0
_state: dict[str, Any] = {}
_verbose = False

#: Lines worth quoting in a failed row's error.
_RELEVANT = re.compile(
    r"error|fail|abort|check failed|not supported|unsupported|exception|fatal|^F\d{4}|^E\d{4}",
    re.IGNORECASE,
)
_NOISE = re.compile(r"cuInit|cuda|oneDNN|cpu_feature_guard|InitializeLog", re.IGNORECASE)
#: The converter's own diagnostics: its exception carries them already, restated once.
_CONVERTER = re.compile(r"^(loc\(|error:|<unknown>|failed while converting)|ops_select|TF Select")
_LOGGERS = ("tensorflow", "absl", "h5py._conv")
#: What TensorFlow printed while :func:`import_tensorflow` imported it.
_startup = ""


def set_verbose(on: bool) -> None:
    """Echo captured output to ``sys.stderr`` as well (``NbOpt.verbose``)."""
    global _verbose
    _verbose = bool(on)


def new_run() -> None:
    """Start a new run: :func:`log` forgets the previous one."""
    with _lock:
        _chunks.clear()


def add(text: str) -> None:
    """Keep ``text`` (output of nbopt's work, e.g. the converter worker's)."""
    if not text:
        return
    with _lock:
        _chunks.append(text)
    if _verbose:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")


def log() -> str:
    """Everything TensorFlow, the converter and the quantizer printed in the last run
    (before any run: what TensorFlow printed while nbopt imported it)."""
    with _lock:
        chunks = _chunks or [_startup]
        return "".join(c if c.endswith("\n") else c + "\n" for c in chunks if c)


def import_tensorflow() -> None:
    """Import TensorFlow and probe its devices with their native lines kept, not printed.

    TensorFlow's import writes absl, CUDA-stub and CPU-feature lines straight to file
    descriptor 2, and its first device probe a ``failed call to cuInit`` line; setting
    ``TF_CPP_MIN_LOG_LEVEL`` does not stop all of them. Done under :func:`native` when the
    extension loads (or the CLI starts), they land in :func:`log`, not in the first cell.
    Nothing happens if TensorFlow is imported already: the user's own import is theirs.
    """
    global _startup
    if "tensorflow" in sys.modules:
        return
    with _lock:
        before = len(_chunks)
    with native():
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except ImportError:  # said where TensorFlow is first needed, with its context
            pass
    with _lock:
        _startup = "".join(_chunks[before:])


def mark() -> int:
    """A position in the log, for :func:`since`."""
    with _lock:
        return len(_chunks)


def since(position: int) -> str:
    """What was kept after :func:`mark` returned ``position``."""
    with _lock:
        return "".join(_chunks[position:])


def relevant(text: str, limit: int = 3) -> list[str]:
    """The last ``limit`` lines of ``text`` that name an error or a failure.

    TensorFlow's start-up noise (no CUDA driver, oneDNN) is never relevant.
    """
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if _RELEVANT.search(ln.strip()) and not _NOISE.search(ln)
    ]
    return [ln[:300] for ln in lines[-limit:]]


def with_log(message: str, text: str) -> str:
    """``message`` and, on the same line, the relevant lines of ``text`` it does not hold."""
    extra = [ln for ln in relevant(text) if ln not in message and not _CONVERTER.search(ln)]
    return message if not extra else f"{message} [log: {' | '.join(extra)}]"


def _fd_stream(stream: Any, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _start() -> None:
    sink = tempfile.TemporaryFile()
    saved = {}
    streams = {}
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
        saved[fd] = os.dup(fd)
        if _fd_stream(stream, fd):  # a terminal: Python's own prints keep their place
            streams[name] = stream
            setattr(sys, name, open(os.dup(saved[fd]), "w", buffering=1, closefd=True))
        os.dup2(sink.fileno(), fd)
    text = io.TextIOWrapper(os.fdopen(os.dup(sink.fileno()), "wb"), write_through=True)
    handler = logging.StreamHandler(text)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    loggers = {}
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        loggers[name] = (logger.handlers[:], logger.propagate)
        logger.handlers = [handler]
        logger.propagate = False
    _state.update(sink=sink, saved=saved, streams=streams, loggers=loggers, text=text)


def _stop() -> str:
    if "text" not in _state:
        return ""
    sink = _state["sink"]
    for fd, dup in _state["saved"].items():
        os.dup2(dup, fd)
        os.close(dup)
    for name, stream in _state["streams"].items():
        _repoint_handlers(getattr(sys, name), stream)
        getattr(sys, name).close()
        setattr(sys, name, stream)
    for name, (handlers, propagate) in _state["loggers"].items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate = handlers, propagate
    _state["text"].close()
    sink.seek(0)
    out = sink.read().decode("utf-8", "replace")
    sink.close()
    _state.clear()
    return out


def _repoint_handlers(stand_in: Any, stream: Any) -> None:
    """Logging handlers made while ``stand_in`` was ``sys.stderr`` (TensorFlow's, made as it
    is imported) write to ``stream`` again, not to the closed stand-in."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and handler.stream is stand_in:
                handler.setStream(stream)


@contextmanager
def native() -> Iterator[None]:
    """Capture file descriptors 1 and 2 and TensorFlow's loggers; keep what they got.

    Nested and concurrent uses share one capture; the outermost exit restores the
    descriptors and keeps the text.
    """
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1:
            try:
                _start()
            except OSError:  # no descriptors to redirect (an embedded interpreter)
                _state.clear()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            text = _stop() if _depth == 0 else ""
        add(text)
