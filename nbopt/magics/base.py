"""What every nbopt magic does: parse the line into options, evaluate them, call, bind ``--as``.

A magic's options come from the request's declarations (:func:`nbopt.surface.magic_options`);
here a parsed line becomes the keyword arguments of the API call: expressions are evaluated
in the user's namespace, only what was given is passed on (the API's defaults do the rest),
and ``--as`` binds the result.
"""

from __future__ import annotations

import keyword
import os
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from ..config import current
from ..engine.data.metrics import is_metric_name
from ..surface import given, kind_of, magic_options
from .errors import Tally, mark_from_cell, one_line_errors
from .live import LiveTable
from .parsing import options_of, parse

#: Each optimizing magic's parser, so a line given the wrong magic's option names it.
PARSERS: dict[str, Any] = {}


def optimizing_magic(entry: str, model_help: str) -> Callable[[Callable[..., Any]], Any]:
    """Declare a line-and-cell magic taking a model and ``entry``'s options (derived from
    the request), with one-line errors; its parser is registered in :data:`PARSERS`."""

    def decorate(fn: Callable[..., Any]) -> Any:
        wrapped = line_cell_magic(no_var_expand(one_line_errors(fn)))
        wrapped = magic_options(entry)(wrapped)
        wrapped = magic_arguments()(argument("model", help=model_help)(wrapped))
        PARSERS[entry] = wrapped.parser
        return wrapped

    return decorate


class MagicsBase(Magics):
    """Helpers the magic classes share (no magics of its own)."""

    tally: Tally | None = None

    def _eval(self, expr: str | None, option: str) -> Any:
        if expr is None:
            return None
        try:
            return self.shell.ev(expr)
        except Exception as exc:
            raise UsageError(
                f"{option} {expr!r}: evaluating it raised {type(exc).__name__}: {exc}"
            ) from exc

    def _model(self, expr: str, quoted: Any = ()) -> Any:
        """The model an argument names: a variable, an expression, or a .tflite path (quoted,
        or a file name ending in .tflite that exists)."""
        if expr in quoted or (expr.endswith(".tflite") and os.path.isfile(expr)):
            return expr
        if expr.endswith(".tflite"):
            raise UsageError(f"no .tflite file at {expr!r} (from {os.getcwd()})")
        if expr not in self.shell.user_ns and expr.isidentifier():
            raise UsageError(
                f"no variable named {expr!r} in this kernel; pass the name of a Keras model"
            )
        return self._eval(expr, "model")

    def _parse(self, name: str, line: str) -> Any:
        """``line`` read as Python writes it, parsed with ``%name``'s own options."""
        others = {f"%{other}": options_of(p) for other, p in PARSERS.items() if other != name}
        return parse(PARSERS[name], line, f"%{name}", others)

    @staticmethod
    def _check(args: Any) -> None:
        name = getattr(args, "as_name", None)
        if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
            raise UsageError(f"--as {name!r} is not a valid Python variable name")
        threads = getattr(args, "threads", None)
        if threads is not None and threads < 1:
            raise UsageError("--threads must be 1 or more")

    def _options(self, entry: str, args: Any) -> dict[str, Any]:
        """The options ``args`` gives for ``entry``, evaluated, as API keyword arguments."""
        from ..engine.request.option import MAGIC

        values = given(args, entry, MAGIC)
        values.pop("as_name", None)
        for name, value in values.items():
            kind = kind_of(name)
            if kind == "metric" and is_metric_name(value) and value not in self.shell.user_ns:
                continue  # a metric nbopt knows by name: --metric top5
            if kind in ("data", "expr", "metric"):
                values[name] = self._eval(value, f"--{name.replace('_', '-')}")
        if values.get("save") == "":
            values["save"] = current().output_dir
        if "name" not in values and hasattr(args, "model"):
            stem, ext = os.path.splitext(os.path.basename(args.model))
            values["name"] = stem if ext == ".tflite" else args.model
        return values

    def _progress(self, title: str) -> Tally:
        """The live table, counted: Ctrl-C then says how many rows were kept."""
        self.tally = Tally(LiveTable(self.shell, title))
        return self.tally

    def _fine_tune(self, args: Any, cell: str | None, magic: str) -> dict[str, Any]:
        """Nothing for the line form (``--fit`` is an option); the cell body as ``fine_tune``."""
        if cell is None:
            return {}
        if not args.as_name:
            raise UsageError(
                f"%%{magic} needs --as NAME: the name your cell uses for the model it trains"
            )
        if args.fit:
            raise UsageError(f"%%{magic} fine-tunes in the cell body; drop --fit")
        return {"fine_tune": self._cell_runner(args.as_name, cell)}

    def _cell_runner(self, name: str, cell: str) -> Callable[[Any], None]:
        """The cell body as a function of the wrapped model; its errors keep their traceback."""
        shell = self.shell
        code = shell.transform_cell(cell)
        filename = shell.compile.cache(code, shell.execution_count, raw_code=cell)
        compiled = compile(code, filename, "exec")

        def fine_tune(wrapped: Any) -> None:
            shell.user_ns[name] = wrapped
            try:
                exec(compiled, shell.user_global_ns, shell.user_ns)
            except Exception as exc:  # the user's own code
                mark_from_cell(exc, filename, shell)
                raise

        return fine_tune

    def _run(self, args: Any, call: Callable[[], Any]) -> Any:
        """Call the API; bind ``--as`` on success, restore it on failure."""
        ns = self.shell.user_ns
        name = getattr(args, "as_name", None)
        missing = object()
        previous = ns.get(name, missing) if name else missing
        try:
            result = call()
        except BaseException:
            if name:
                if previous is missing:
                    ns.pop(name, None)
                else:
                    ns[name] = previous
            raise
        if name:
            ns[name] = result
        return result
