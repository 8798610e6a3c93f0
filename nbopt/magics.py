"""IPython magics: ``%quantize`` and ``%nbopt``. A parsing layer over :mod:`nbopt.api`."""

from __future__ import annotations

import keyword
import os
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from . import api
from .config import NbOpt, current, set_current
from .errors import NbOptError
from .live import LiveTable

_announced = False


class NbOptUsageError(UsageError):
    """A mistake in a magic's arguments, shown as one line."""


def _usage(fn: Any) -> Any:
    """Turn nbopt's own errors inside a magic into one-line ``UsageError``s."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NbOptError as exc:
            raise NbOptUsageError(str(exc)) from None
        except NbOptUsageError:
            raise
        except UsageError as exc:  # from IPython's argument parser
            raise NbOptUsageError(f"{exc}; see %{fn.__name__}? for the options") from None

    return wrapper


@magics_class
class NbOptMagics(Magics):
    """nbopt's magics."""

    def _eval(self, expr: str | None, option: str) -> Any:
        if expr is None:
            return None
        try:
            return self.shell.ev(expr)
        except Exception as exc:
            raise NbOptUsageError(
                f"{option} {expr!r}: evaluating it raised {type(exc).__name__}: {exc}"
            ) from None

    def _model(self, expr: str) -> Any:
        if expr not in self.shell.user_ns and expr.isidentifier():
            raise NbOptUsageError(
                f"no variable named {expr!r} in this kernel; pass the name of a Keras model"
            )
        return self._eval(expr, "model")

    def _bind(self, name: str | None, value: Any) -> None:
        if name:
            self.shell.user_ns[name] = value

    @staticmethod
    def _check_name(name: str | None) -> None:
        if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
            raise NbOptUsageError(f"--as {name!r} is not a valid Python variable name")

    @magic_arguments()
    @argument("model", help="The Keras model: a variable name or expression.")
    @argument(
        "-s",
        "--scheme",
        default=None,
        help="float16, dynamic, int8, int16x8, comma-separated (default: all four).",
    )
    @argument(
        "-c",
        "--calib",
        default=None,
        help="Expression for representative samples (needed by int8 and int16x8).",
    )
    @argument(
        "-e",
        "--eval",
        default=None,
        help="Expression for labelled evaluation data, e.g. x_test,y_test.",
    )
    @argument(
        "--io",
        default="float",
        choices=["float", "int8", "uint8"],
        help="Input/output type of the int8 variant (int8/uint8: integer-only model).",
    )
    @argument(
        "-t",
        "--threads",
        type=int,
        default=None,
        help="Interpreter threads for measurement (default: NbOpt.threads).",
    )
    @argument(
        "--as",
        dest="as_name",
        default=None,
        help="Bind the result (TFLiteModel or Comparison) to this variable.",
    )
    @argument(
        "--save",
        nargs="?",
        const="",
        default=None,
        help="Write the .tflite files to this folder (default: NbOpt.output_dir).",
    )
    @argument("--force", action="store_true", help="Replace existing files when saving.")
    @line_magic
    @_usage
    def quantize(self, line: str) -> Any:
        """Post-training quantization, measured against the float32 baseline.

        Examples::

            %quantize model --scheme int8 --calib x_train[:256] --eval x_test,y_test --as m8
            %quantize model --scheme float16,dynamic,int8,int16x8 --calib x_train[:256]
        """
        args = parse_argstring(self.quantize, line)
        self._check_name(args.as_name)
        model = self._model(args.model)
        calib = self._eval(args.calib, "--calib")
        evaluation = self._eval(args.eval, "--eval")
        if args.threads is not None and args.threads < 1:
            raise NbOptUsageError("--threads must be 1 or more")
        save = None
        if args.save is not None:
            save = args.save or current().output_dir
        result = api.quantize(
            model,
            args.scheme,
            calib,
            evaluation,
            io=args.io,
            threads=args.threads,
            name=args.model,
            save=save,
            force=args.force,
            progress=LiveTable(self.shell, args.model),
        )
        self._bind(args.as_name, result)
        return result

    @magic_arguments()
    @argument("command", choices=["results"], help="results: every row measured in this kernel.")
    @argument("--save", default=None, help="Write the results to this CSV file.")
    @argument("--load", default=None, help="Add the rows of a CSV file saved before.")
    @argument("--clear", action="store_true", help="Forget every measured row.")
    @argument("--force", action="store_true", help="Replace an existing CSV file.")
    @line_magic
    @_usage
    def nbopt(self, line: str) -> Any:
        """nbopt's own commands.

        ``%nbopt results [--save PATH.csv] [--load PATH.csv] [--clear]``
        """
        args = parse_argstring(self.nbopt, line)
        from .engine import results as store

        if args.clear:
            n = store.clear()
            print(f"nbopt: cleared {n} rows")
            return None
        if args.load:
            if not os.path.exists(args.load):
                raise NbOptUsageError(f"--load: no file {args.load!r}")
            n = store.load_csv(args.load)
            print(f"nbopt: loaded {n} rows from {args.load}")
        df = api.results()
        if args.save:
            from .engine.files import write_atomic

            write_atomic(args.save, df.to_csv(index=False).encode(), force=args.force)
            print(f"nbopt: saved {len(df)} rows to {args.save}")
        return df


def load(ipython: Any) -> None:
    """Register magics and configuration; select tf_keras if TensorFlow is not loaded yet."""
    global _announced
    config = NbOpt(parent=ipython)
    ipython.configurables.append(config)
    set_current(config)
    ipython.register_magics(NbOptMagics)
    if "tensorflow" not in sys.modules and "TF_USE_LEGACY_KERAS" not in os.environ:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        if not _announced:
            print(
                "nbopt: set TF_USE_LEGACY_KERAS=1, so tf.keras is Keras 2 (tf_keras), "
                "which the Model Optimization Toolkit needs."
            )
    _announced = True


def unload(ipython: Any) -> None:
    """Remove the magics and the configuration object."""
    for name in ("quantize", "nbopt"):
        ipython.magics_manager.magics["line"].pop(name, None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, NbOpt)]
    set_current(None)
