"""IPython magics: ``%quantize``, ``%prune``, ``%cluster`` and ``%nbopt``.

A parsing layer: arguments are parsed and evaluated in the user's namespace, the work is
done by :mod:`nbopt.api`, and nbopt's own errors become one-line ``UsageError``s.
"""

from __future__ import annotations

import functools
import keyword
import os
import sys
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
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

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NbOptUsageError:
            raise
        except UsageError as exc:  # from IPython's argument parser
            raise NbOptUsageError(f"{exc}; see %{fn.__name__}? for the options") from None
        except NbOptError as exc:
            raise NbOptUsageError(str(exc)) from None

    return wrapper


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every optimizing magic takes."""
    for decorator in reversed(
        [
            argument(
                "-e",
                "--eval",
                default=None,
                help="Expression for labelled evaluation data, e.g. x_test,y_test.",
            ),
            argument(
                "-t",
                "--threads",
                type=int,
                default=None,
                help="Interpreter threads for measurement (default: NbOpt.threads).",
            ),
            argument(
                "--as",
                dest="as_name",
                default=None,
                help="Bind the result (TFLiteModel or Comparison) to this variable.",
            ),
            argument(
                "--save",
                nargs="?",
                const="",
                default=None,
                help="Write the .tflite files to this folder (default: NbOpt.output_dir).",
            ),
            argument("--force", action="store_true", help="Replace existing files when saving."),
        ]
    ):
        fn = decorator(fn)
    return fn


def _training(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the techniques that fine-tune."""
    for decorator in reversed(
        [
            argument(
                "-f",
                "--fit",
                default=None,
                help="Expression for training data, e.g. x_train,y_train (line form).",
            ),
            argument("--epochs", type=int, default=None, help="Fine-tuning epochs."),
            argument("--batch-size", type=int, default=32, help="Fine-tuning batch size."),
            argument(
                "-c",
                "--calib",
                default=None,
                help="Expression for representative samples (for --then int8).",
            ),
            argument(
                "--then",
                default=None,
                help="A post-training scheme applied to the result: int8, dynamic, float16.",
            ),
            argument(
                "--io",
                default="float",
                choices=["float", "int8", "uint8"],
                help="Input/output type of an int8 result (int8/uint8: integer-only).",
            ),
        ]
    ):
        fn = decorator(fn)
    return fn


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

    @staticmethod
    def _check(args: Any) -> None:
        name = args.as_name
        if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
            raise NbOptUsageError(f"--as {name!r} is not a valid Python variable name")
        if args.threads is not None and args.threads < 1:
            raise NbOptUsageError("--threads must be 1 or more")

    def _output(self, args: Any) -> dict[str, Any]:
        """Keyword arguments every API call takes, from the common options."""
        save = None
        if args.save is not None:
            save = args.save or current().output_dir
        return {
            "eval": self._eval(args.eval, "--eval"),
            "threads": args.threads,
            "name": args.model,
            "save": save,
            "force": args.force,
            "progress": LiveTable(self.shell, args.model),
        }

    def _fine_tune(self, args: Any, cell: str | None, magic: str) -> dict[str, Any]:
        """``fit``/``epochs`` for the line form, or ``fine_tune`` running the cell body."""
        if cell is None:
            out = {"fit": self._eval(args.fit, "--fit"), "batch_size": args.batch_size}
            if args.epochs is not None:
                out["epochs"] = args.epochs
            return out
        if not args.as_name:
            raise NbOptUsageError(
                f"%%{magic} needs --as NAME: the name your cell uses for the model it trains"
            )
        if args.fit:
            raise NbOptUsageError(f"%%{magic} fine-tunes in the cell body; drop --fit")
        return {"fine_tune": self._cell_runner(args.as_name, cell)}

    def _cell_runner(self, name: str, cell: str) -> Callable[[Any], None]:
        ns = self.shell.user_ns
        code = self.shell.transform_cell(cell)

        def fine_tune(wrapped: Any) -> None:
            ns[name] = wrapped
            self.shell.ex(code)

        return fine_tune

    def _technique(
        self,
        magic: Callable[..., Any],
        line: str,
        cell: str | None,
        call: Callable[[Any, Any, dict[str, Any]], Any],
    ) -> Any:
        """Parse a training technique's magic and run ``call(model, args, keyword_arguments)``."""
        args = parse_argstring(magic, line)
        self._check(args)
        model = self._model(args.model)
        kwargs = {"calib": self._eval(args.calib, "--calib"), "then": args.then, "io": args.io}
        kwargs["skip"] = args.skip  # %prune and %cluster both take --skip
        kwargs.update(self._fine_tune(args, cell, magic.__name__))
        kwargs.update(self._output(args))
        return self._run(args, lambda: call(model, args, kwargs))

    def _run(self, args: Any, call: Callable[[], Any]) -> Any:
        """Call the API; bind ``--as`` on success, restore it on failure."""
        ns = self.shell.user_ns
        missing = object()
        previous = ns.get(args.as_name, missing) if args.as_name else missing
        try:
            result = call()
        except BaseException:
            if args.as_name:
                if previous is missing:
                    ns.pop(args.as_name, None)
                else:
                    ns[args.as_name] = previous
            raise
        if args.as_name:
            ns[args.as_name] = result
        return result

    @magic_arguments()
    @argument("model", help="The Keras model: a variable name or expression.")
    @argument(
        "-s",
        "--scheme",
        default=None,
        help="float16, dynamic, int8, int16x8, comma-separated (default: all four).",
    )
    @argument(
        "--aware",
        action="store_true",
        help="Quantization-aware training (fine-tunes; the cell form runs your own fit).",
    )
    @argument(
        "--preserve",
        default=None,
        choices=["sparsity", "clusters", "both"],
        help="With --aware: keep a pruned/clustered model's structure (PQAT/CQAT/PCQAT).",
    )
    @argument(
        "--skip", default=None, help="With --aware: layers to leave in float, comma-separated."
    )
    @_training
    @_common
    @line_cell_magic
    @_usage
    def quantize(self, line: str, cell: str | None = None) -> Any:
        """Quantize a Keras model and measure it against its float32 baseline.

        Post-training (line form)::

            %quantize model --scheme int8 --calib x_train[:256] --eval x_test,y_test --as m8
            %quantize model --scheme float16,dynamic,int8,int16x8 --calib x_train[:256]

        Quantization-aware training: the line form fine-tunes with the model's own loss
        and optimizer; in the cell form the body is your fine-tuning code, run with the
        ``--as`` name bound to the quantization-aware copy (afterwards it names the result)::

            %quantize model --aware --fit x_train,y_train --epochs 1 --eval x_test,y_test

            %%quantize model --aware --as qat_model --eval x_test,y_test
            qat_model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
            qat_model.fit(x_train, y_train, epochs=1)
        """
        args = parse_argstring(self.quantize, line)
        self._check(args)
        if cell is not None and not args.aware:
            raise NbOptUsageError("%%quantize is for quantization-aware training: add --aware")
        model = self._model(args.model)
        calib = self._eval(args.calib, "--calib")
        if not args.aware:
            for option in ("fit", "epochs", "then", "preserve", "skip"):
                if getattr(args, option) is not None:
                    raise NbOptUsageError(
                        f"--{option} goes with --aware (quantization-aware training)"
                    )
            out = self._output(args)
            return self._run(
                args, lambda: api.quantize(model, args.scheme, calib, io=args.io, **out)
            )
        if args.then:
            raise NbOptUsageError("--then does not apply to --aware: its result is already int8")
        training = self._fine_tune(args, cell, "quantize")
        out = self._output(args)
        return self._run(
            args,
            lambda: api.quantize(
                model,
                args.scheme,
                calib,
                io=args.io,
                aware=True,
                preserve=args.preserve,
                skip=args.skip,
                **training,
                **out,
            ),
        )

    @magic_arguments()
    @argument("model", help="The Keras model (or a pruned/clustered result to chain).")
    @argument(
        "--sparsity",
        type=float,
        required=True,
        help="Share of weights to zero, in [0, 1), e.g. 0.8.",
    )
    @argument(
        "--schedule",
        default="polynomial",
        choices=["polynomial", "constant"],
        help="How sparsity rises during the fine-tune (both reach the target).",
    )
    @argument("--structure", default=None, help="2:4 for structured sparsity.")
    @argument("--skip", default=None, help="Layers to leave dense, comma-separated.")
    @_training
    @_common
    @line_cell_magic
    @_usage
    def prune(self, line: str, cell: str | None = None) -> Any:
        """Magnitude pruning with tfmot, fine-tuned, stripped, exported and measured.

        ::

            %prune model --sparsity 0.8 --fit x_train,y_train --epochs 2 --eval x_test,y_test

            %%prune model --sparsity 0.8 --as pruned --eval x_test,y_test
            pruned.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
            pruned.fit(x_train, y_train, epochs=2)   # nbopt adds the pruning callback

        The row's ``sparsity`` is the share of zeros in the exported kernels; compare
        ``gzip_bytes``: pruning shrinks the compressed file, not the .tflite itself.
        """
        return self._technique(
            self.prune,
            line,
            cell,
            lambda model, args, kw: api.prune(
                model, args.sparsity, schedule=args.schedule, structure=args.structure, **kw
            ),
        )

    @magic_arguments()
    @argument("model", help="The Keras model (or a pruned/clustered result to chain).")
    @argument(
        "--clusters",
        type=int,
        required=True,
        help="Distinct values per weight tensor, 2 or more, e.g. 16.",
    )
    @argument(
        "--init",
        default="kmeans++",
        choices=["kmeans++", "linear", "density", "random"],
        help="How the cluster centroids start.",
    )
    @argument(
        "--preserve",
        default=None,
        choices=["sparsity"],
        help="Keep the zeros of a pruned model (sparsity-preserving clustering).",
    )
    @argument("--skip", default=None, help="Layers to leave unclustered, comma-separated.")
    @_training
    @_common
    @line_cell_magic
    @_usage
    def cluster(self, line: str, cell: str | None = None) -> Any:
        """Weight clustering with tfmot, fine-tuned, stripped, exported and measured.

        ::

            %cluster model --clusters 16 --fit x_train,y_train --epochs 1 --eval x_test,y_test
            %cluster pruned --clusters 16 --preserve sparsity --fit x_train,y_train \\
                --then int8 --calib x_train[:256]

        The row's ``max_distinct_values`` counts the distinct values in the exported kernels.
        """
        return self._technique(
            self.cluster,
            line,
            cell,
            lambda model, args, kw: api.cluster(
                model, args.clusters, init=args.init, preserve=args.preserve, **kw
            ),
        )

    @magic_arguments()
    @argument(
        "command",
        choices=["results", "panel", "recommend", "inspect"],
        help="results: every row measured in this kernel; panel: the interactive panel; "
        "recommend: which scheme to try first; inspect: a variant's ops.",
    )
    @argument("model", nargs="?", default=None, help="panel/recommend/inspect: the model.")
    @argument("-c", "--calib", default=None, help="Expression for representative samples.")
    @argument("-e", "--eval", default=None, help="Expression for labelled evaluation data.")
    @argument("-f", "--fit", default=None, help="Expression for labelled training data.")
    @argument(
        "--target",
        default="cpu",
        choices=["cpu", "gpu", "edgetpu", "dsp"],
        help="recommend/panel: the hardware to run on.",
    )
    @argument(
        "--max-drop",
        type=float,
        default=0.01,
        help="recommend --verify: accuracy budget (0.01 = one point).",
    )
    @argument(
        "--verify",
        action="store_true",
        help="recommend: measure the pick; move down the tree while it misses the budget.",
    )
    @argument("--save", default=None, help="results: write the results to this CSV file.")
    @argument("--load", default=None, help="results: add the rows of a CSV file saved before.")
    @argument("--clear", action="store_true", help="results: forget every measured row.")
    @argument("--force", action="store_true", help="results: replace an existing CSV file.")
    @line_magic
    @_usage
    def nbopt(self, line: str) -> Any:
        """nbopt's own commands.

        ``%nbopt results [--save PATH.csv] [--load PATH.csv] [--clear]``
        ``%nbopt panel MODEL [--calib EXPR] [--eval EXPR] [--fit EXPR] [--target T]``
        ``%nbopt recommend MODEL [--calib EXPR] [--fit EXPR] [--target T] [--max-drop P]
        [--verify --eval EXPR]``
        ``%nbopt inspect MODEL_OR_VARIANT``
        """
        args = parse_argstring(self.nbopt, line)
        if args.command == "results":
            if args.model is not None:
                raise NbOptUsageError("%nbopt results takes no model")
            return self._results(args)
        if args.model is None:
            raise NbOptUsageError(
                f"%nbopt {args.command} needs a model, e.g. %nbopt {args.command} model"
            )
        model = self._model(args.model)
        if args.command == "inspect":
            return api.inspect(model, name=args.model)
        calib = self._eval(args.calib, "--calib")
        fit = self._eval(args.fit, "--fit")
        evaluation = self._eval(args.eval, "--eval")
        if args.command == "recommend":
            return api.recommend(
                model,
                calib,
                fit,
                evaluation,
                target=args.target,
                max_drop=args.max_drop,
                verify=args.verify,
                name=args.model,
                progress=LiveTable(self.shell, args.model) if args.verify else None,
            )
        from .widgets.panel import panel

        return panel(model, calib, evaluation, fit, target=args.target, name=args.model)

    def _results(self, args: Any) -> Any:
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


_MAGICS = ("quantize", "prune", "cluster", "nbopt")


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
    if config.isolate:
        from .engine import worker

        worker.warm()  # the converter's process starts now, not at the first %quantize


def unload(ipython: Any) -> None:
    """Remove the magics and the configuration object."""
    for kind in ("line", "cell"):
        for name in _MAGICS:
            ipython.magics_manager.magics[kind].pop(name, None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, NbOpt)]
    set_current(None)
