"""Every mistake in a magic as one line: IPython's ``UsageError`` itself.

IPython prints an exception as one line only when its type *is* ``UsageError``
(``etype is UsageError`` in ``InteractiveShell.showtraceback``), so the magics raise that
class, never a subclass, for nbopt's own errors, for argument errors, for Ctrl-C (saying how
many rows were kept) and for errors of TensorFlow, tfmot or LiteRT that reach the magic.
The original exception stays on ``__cause__``: IPython prints no chain for a ``UsageError``,
and after the cell it is ``sys.last_value.__cause__``. Errors in nbopt's own code (bugs) and
in the code of a ``%%prune`` / ``%%cluster`` / ``%%quantize`` cell keep their traceback.
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from ..engine.events import Event, Listener
from ..engine.store import results
from ..errors import NbOptError

#: Top-level modules whose errors are restated, and the name a user knows them by.
LIBRARIES = {
    "tensorflow_model_optimization": "tfmot",
    "ai_edge_litert": "LiteRT",
    "tflite_runtime": "LiteRT",
    "tensorflow": "TensorFlow",
    "tf_keras": "Keras",
    "keras": "Keras",
}
ADVICE = {
    "tfmot": "tfmot cannot apply this to the model as set; change the setting its message "
    "names, or start with post-training %quantize",
    "the TFLite converter": "the converter cannot make this variant; try another --scheme",
    "LiteRT": "the LiteRT runtime cannot run this variant; try another --scheme",
    "TensorFlow": "check that the data fits the model (input shapes, dtypes, label values)",
    "Keras": "check that the data fits the model (input shapes, dtypes, label values)",
}
_CELL = "_nbopt_from_cell"


class Tally:
    """A progress listener that passes events on and knows how many rows its run kept.

    The rows kept are those added to :func:`nbopt.results` since the tally was made (a
    row is recorded there before its event is sent, so the store is the true count).
    """

    def __init__(self, listener: Listener | None = None):
        self.listener = listener
        self.total = 0
        self.before = len(results.rows())

    @property
    def rows(self) -> int:
        return max(len(results.rows()) - self.before, 0)

    def __call__(self, event: Event) -> None:
        if event.kind == "start":
            self.total += event.total
        if self.listener is not None:
            self.listener(event)


def one_line(text: str) -> str:
    """``text`` on one line: its lines joined by spaces."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def mark_from_cell(exc: BaseException, filename: str, shell: Any) -> None:
    """Note that ``exc`` came from the user's own cell code: it keeps its traceback, shown
    from the cell's first frame (nbopt's own frames above it say nothing to the user)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    try:
        setattr(exc, _CELL, True)
        if tb is not None:
            exc._render_traceback_ = lambda: shell.InteractiveTB.structured_traceback(  # type: ignore[attr-defined]
                type(exc), exc, tb
            )
    except AttributeError:  # an exception without a __dict__
        pass


def _frames(exc: BaseException) -> list[str]:
    """The module of every frame ``exc`` passed through, innermost last."""
    names = []
    tb = exc.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_globals.get("__name__", ""))
        tb = tb.tb_next
    return names


def _label(module: str) -> str | None:
    if module.startswith(("tensorflow.lite", "tensorflow.compiler.mlir")):
        return "the TFLite converter"
    return LIBRARIES.get(module.split(".")[0])


def library_of(exc: BaseException) -> str | None:
    """The library an error comes from, if it was raised inside one (or is one's class).

    The most specific library on the way wins: a TensorFlow error raised while tfmot
    clusters a layer is tfmot's.
    """
    frames = _frames(exc)
    if _label(frames[-1] if frames else "") is None and _label(type(exc).__module__) is None:
        return None
    seen = {_label(m) for m in [*frames, type(exc).__module__]}
    order = ["tfmot", "the TFLite converter", "LiteRT", "Keras", "TensorFlow"]
    return next(name for name in order if name in seen)


def gist(exc: BaseException) -> str:
    """The line of an error message that says what went wrong (TensorFlow's come long)."""
    text = getattr(exc, "message", None)
    text = text if isinstance(text, str) and text else str(exc)
    for line in text.splitlines():
        line = re.sub(r"\s*\[Op:[^\]]*\]", "", line).strip()
        if not line or line.endswith(":") or line.startswith(("Detected at node", "File ", "[[")):
            continue
        return textwrap.shorten(line, 240, placeholder=" ...")
    return type(exc).__name__


def restate(exc: BaseException, library: str, where: str) -> str:
    """One line for a library's error: what failed, the gist, what to do."""
    return (
        f"{where}: {library} failed: {type(exc).__name__}: {gist(exc)}; {ADVICE[library]} "
        "(the full error: sys.last_value.__cause__)"
    )


def interrupted(tally: Tally | None) -> str:
    """The line for Ctrl-C: how many rows were measured and kept."""
    if tally is None or tally.rows == 0:
        return "interrupted before any row was measured; nothing was kept"
    of = f" of {tally.total}" if tally.total >= tally.rows else ""
    return (
        f"interrupted: {tally.rows}{of} rows measured and kept in nbopt.results() "
        "(%nbopt results shows them)"
    )


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every error a magic method raises for the user into one ``UsageError`` line.

    The magic may set ``self.tally`` (a :class:`Tally`) so that Ctrl-C can say how many
    rows were kept.
    """

    @functools.wraps(fn)
    def wrapper(self: Any, line: str, *rest: Any) -> Any:
        self.tally = None
        try:
            return fn(self, line, *rest)
        except UsageError as exc:
            if type(exc) is UsageError:
                raise
            raise UsageError(one_line(str(exc))) from exc
        except NbOptError as exc:
            raise UsageError(one_line(str(exc))) from exc
        except KeyboardInterrupt as exc:
            raise UsageError(interrupted(self.tally)) from exc
        except Exception as exc:
            library = None if getattr(exc, _CELL, False) else library_of(exc)
            if library is None:
                raise  # the cell's own code, or a bug in nbopt: its traceback helps
            where = f"%{fn.__name__} {line.split()[0] if line.split() else ''}".strip()
            raise UsageError(restate(exc, library, where)) from exc

    return wrapper
