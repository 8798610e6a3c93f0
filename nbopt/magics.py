"""IPython magics: ``%quantize``, ``%prune``, ``%cluster`` and ``%nbopt``.

A parsing layer: a line is read as Python writes it (:mod:`nbopt.magic_args`), option
values are evaluated in the user's namespace, the work is done by :mod:`nbopt.api`, and
every mistake becomes one line (:mod:`nbopt.magic_errors`).

Where each option is declared: ``_common`` (every optimizing magic: ``--eval``,
``--threads``, ``--as``, ``--save``, ``--force``), ``_training`` (every magic that
fine-tunes: ``--fit``, ``--epochs``, ``--batch-size``), ``_then`` (``%prune`` and
``%cluster`` only: ``--calib``, ``--then``, ``--io``); the rest sit on each magic.
``%nbopt``'s subcommands are argparse subparsers built by ``_nbopt_parser``.
"""

from __future__ import annotations

import argparse
import keyword
import os
import sys
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import MagicArgumentParser, argument, magic_arguments

from . import api
from .config import NbOpt, current, set_current
from .live import LiveTable
from .magic_args import options_of, parse
from .magic_errors import Tally, mark_from_cell, one_line_errors

_announced = False


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every optimizing magic takes."""
    for decorator in reversed(
        [
            argument(
                "-e",
                "--eval",
                default=None,
                help="Expression for labelled evaluation data, e.g. (x_test, y_test).",
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
                help="Expression for training data, e.g. (x_train, y_train) (line form).",
            ),
            argument("--epochs", type=int, default=None, help="Fine-tuning epochs."),
            argument("--batch-size", type=int, default=32, help="Fine-tuning batch size."),
        ]
    ):
        fn = decorator(fn)
    return fn


def _then(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options of %prune and %cluster only: a post-training scheme applied to the result."""
    for decorator in reversed(
        [
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
                help="Input/output type of a --then int8 result (int8/uint8: integer-only).",
            ),
        ]
    ):
        fn = decorator(fn)
    return fn


def _nbopt_parser() -> MagicArgumentParser:
    """``%nbopt``'s parser: one argparse subparser per subcommand, each with its own options."""
    parser = MagicArgumentParser(prog="nbopt", description="nbopt's own commands.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=MagicArgumentParser)

    def add(name: str, help: str) -> MagicArgumentParser:
        return sub.add_parser(name, help=help, description=help)

    def data(p: argparse.ArgumentParser, *names: str) -> None:
        helps = {
            "calib": "Expression for representative samples.",
            "eval": "Expression for labelled evaluation data.",
            "fit": "Expression for labelled training data.",
        }
        for name in names:
            p.add_argument(f"-{name[0]}", f"--{name}", default=None, help=helps[name])

    def target(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--target",
            default="cpu",
            choices=["cpu", "gpu", "edgetpu", "dsp", "mcu"],
            help="The hardware to run on (mcu: TensorFlow Lite for Microcontrollers).",
        )

    results = add("results", "Every row measured in this kernel, as a DataFrame.")
    results.add_argument(
        "--all", action="store_true", help="Every row in the results store (NbOpt.store)."
    )
    results.add_argument("--model", default=None, help="Only this model's rows.")
    results.add_argument("--run", default=None, help="Only the rows of this run_id.")
    results.add_argument("--save", default=None, help="Write the results to this CSV file.")
    results.add_argument("--load", default=None, help="Add the rows of a CSV file saved before.")
    results.add_argument(
        "--clear",
        action="store_true",
        help="Forget this kernel's rows (with --all: delete them from the store too).",
    )
    results.add_argument("--force", action="store_true", help="Replace an existing CSV file.")

    add("log", "The output TensorFlow and the converter printed during the last run.")

    panel = add("panel", "The interactive panel: pick schemes, watch the comparison fill in.")
    panel.add_argument("model", help="The Keras model: a variable name or expression.")
    data(panel, "calib", "eval", "fit")
    target(panel)

    recommend = add("recommend", "Which scheme to try first, and why (TFLite's decision tree).")
    recommend.add_argument("model", help="The Keras model: a variable name or expression.")
    data(recommend, "calib", "eval", "fit")
    target(recommend)
    recommend.add_argument(
        "--max-drop", type=float, default=0.01, help="--verify's accuracy budget (0.01: a point)."
    )
    recommend.add_argument(
        "--verify",
        action="store_true",
        help="Measure the pick; move down the tree while it misses the budget (needs --eval).",
    )
    recommend.add_argument("--ram", type=float, default=None, help="mcu: the RAM budget in KB.")
    recommend.add_argument("--flash", type=float, default=None, help="mcu: the flash budget in KB.")
    recommend.add_argument(
        "--per-tensor",
        action="store_true",
        help="mcu: int8 weights with one scale per tensor (toolchains that need it).",
    )

    debug = add("debug", "Which layers int8 hurts: each Keras layer quantized alone, measured.")
    debug.add_argument("model", help="The Keras model: a variable name or expression.")
    data(debug, "calib", "eval")
    debug.add_argument(
        "-s", "--scheme", default="int8", choices=["int8", "int16x8"], help="The scheme."
    )
    debug.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="Sensitivity above which a layer is suspect (default 0.01 of the metric).",
    )

    inspect = add("inspect", "A variant's ops, tensor types and compatibility.")
    inspect.add_argument(
        "model", help="A TFLiteModel or Keras model (an expression), or a quoted .tflite path."
    )
    sweep = add("sweep", "Many configurations as Dask tasks; rows stream in as they finish.")
    sweep.add_argument("model", help="Keras models: comma-separated variable names.")
    data(sweep, "calib", "eval", "fit")
    sweep.add_argument("--prune", default=None, help="Sparsities, e.g. 0.5,0.75,0.9.")
    sweep.add_argument("--cluster", default=None, help="Cluster counts, e.g. 8,16,32.")
    sweep.add_argument("--then", default=None, help="Schemes after training, e.g. none,int8.")
    sweep.add_argument("--scheme", default=None, help="Post-training schemes, e.g. dynamic,int8.")
    sweep.add_argument("--epochs", type=int, default=1, help="Fine-tuning epochs per task.")
    sweep.add_argument("--batch-size", type=int, default=32, help="Fine-tuning batch size.")
    sweep.add_argument("--io", default="float", choices=["float", "int8", "uint8"])
    sweep.add_argument(
        "--scheduler", default=None, help="A Dask scheduler's address (default: NbOpt.scheduler)."
    )
    sweep.add_argument(
        "--resume", action="store_true", help="Skip configurations the results already hold."
    )
    sweep.add_argument("--as", dest="as_name", default=None, help="Bind the result to a name.")
    parser.subcommands = dict(sub.choices)  # type: ignore[attr-defined]
    return parser


def _nbopt_help(parser: MagicArgumentParser) -> str:
    parts = [parser.format_help().replace("usage: ", "", 1)]
    for sub in parser.subcommands.values():  # type: ignore[attr-defined]
        parts.append(sub.format_help().replace("usage: ", "", 1))
    return "\n".join(parts)


@magics_class
class NbOptMagics(Magics):
    """nbopt's magics."""

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

    def _model(self, expr: str) -> Any:
        if expr not in self.shell.user_ns and expr.isidentifier():
            raise UsageError(
                f"no variable named {expr!r} in this kernel; pass the name of a Keras model"
            )
        return self._eval(expr, "model")

    def _parse(self, magic: Callable[..., Any], line: str) -> Any:
        """``line`` read as Python writes it, parsed with ``magic``'s own options."""
        others = {
            f"%{name}": options_of(getattr(self, name).parser)
            for name in ("quantize", "prune", "cluster")
            if name != magic.__name__
        }
        return parse(magic.parser, line, f"%{magic.__name__}", others)

    @staticmethod
    def _check(args: Any) -> None:
        name = args.as_name
        if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
            raise UsageError(f"--as {name!r} is not a valid Python variable name")
        if args.threads is not None and args.threads < 1:
            raise UsageError("--threads must be 1 or more")

    def _progress(self, title: str) -> Tally:
        """The live table, counted: Ctrl-C then says how many rows were kept."""
        self.tally = Tally(LiveTable(self.shell, title))
        return self.tally

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
            "progress": self._progress(args.model),
        }

    def _fine_tune(self, args: Any, cell: str | None, magic: str) -> dict[str, Any]:
        """``fit``/``epochs`` for the line form, or ``fine_tune`` running the cell body."""
        if cell is None:
            out = {"fit": self._eval(args.fit, "--fit"), "batch_size": args.batch_size}
            if args.epochs is not None:
                out["epochs"] = args.epochs
            return out
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

    def _technique(
        self,
        magic: Callable[..., Any],
        line: str,
        cell: str | None,
        call: Callable[[Any, Any, dict[str, Any]], Any],
    ) -> Any:
        """Parse a training technique's magic and run ``call(model, args, keyword_arguments)``."""
        args = self._parse(magic, line)
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
        help="float16, dynamic, int8, int16x8 (the default four), int4, int4-block32, "
        "int4-block64, weight-int8, weight-int4; comma-separated.",
    )
    @argument(
        "-c",
        "--calib",
        default=None,
        help="Expression for representative samples, needed by int8 and int16x8.",
    )
    @argument(
        "--io",
        default="float",
        choices=["float", "int8", "uint8"],
        help="Input/output type of the int8 variant (int8/uint8: integer-only).",
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
        "--per-tensor",
        action="store_true",
        help="int8 weights with one scale per tensor, not per channel (MCU and NPU toolchains).",
    )
    @argument(
        "--allow-flex",
        action="store_true",
        help="Let ops without a TFLite kernel run as TensorFlow ops (Flex; needs the Flex "
        "delegate at run time).",
    )
    @argument(
        "--skip",
        default=None,
        help="With --aware: layers tfmot refuses, left out of training (the rest stays int8).",
    )
    @argument(
        "--fresh",
        action="store_true",
        help="Convert again, even where the same conversion was made before (and stored).",
    )
    @argument(
        "--float",
        dest="float_layers",
        default=None,
        help="Keras layers whose ops stay float in int8, comma-separated (selective).",
    )
    @argument(
        "--max-drop",
        type=float,
        default=None,
        help="With --eval: keep the fewest layers float that hold the drop to this, e.g. 0.01.",
    )
    @_training
    @_common
    @line_cell_magic
    @no_var_expand
    @one_line_errors
    def quantize(self, line: str, cell: str | None = None) -> Any:
        """Quantize a Keras model and measure it against its float32 baseline.

        Post-training (line form)::

            %quantize model --scheme int8 --calib x_train[:256] --eval (x_test, y_test) --as m8
            %quantize model --scheme float16, dynamic, int8, int16x8 --calib x_train[:256]

        Option values are Python expressions as Python writes them (spaces, brackets,
        generator expressions); a value in quotes is the expression inside the quotes.

        Quantization-aware training: the line form fine-tunes with the model's own loss
        and optimizer (--fit, --epochs, --batch-size); in the cell form the body is your
        fine-tuning code, run with the ``--as`` name bound to the quantization-aware copy
        (afterwards it names the result)::

            %quantize model --aware --fit x_train, y_train --epochs 1 --eval x_test, y_test

            %%quantize model --aware --as qat_model --eval x_test, y_test
            qat_model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
            qat_model.fit(x_train, y_train, epochs=1)
        """
        args = self._parse(self.quantize, line)
        self._check(args)
        if cell is not None and not args.aware:
            raise UsageError("%%quantize is for quantization-aware training: add --aware")
        model = self._model(args.model)
        calib = self._eval(args.calib, "--calib")
        if not args.aware:
            for option in ("fit", "epochs", "preserve", "skip"):
                if getattr(args, option) is not None:
                    raise UsageError(f"--{option} goes with --aware (quantization-aware training)")
            out = self._output(args)
            selective = {"float_layers": args.float_layers, "max_drop": args.max_drop}
            return self._run(
                args,
                lambda: api.quantize(
                    model,
                    args.scheme,
                    calib,
                    io=args.io,
                    allow_flex=args.allow_flex,
                    per_tensor=args.per_tensor,
                    fresh=args.fresh,
                    **selective,
                    **out,
                ),
            )
        for option in ("allow_flex", "per_tensor"):
            if getattr(args, option):
                raise UsageError(
                    f"--{option.replace('_', '-')} applies to post-training schemes, not to --aware"
                )
        if args.float_layers is not None or args.max_drop is not None:
            raise UsageError("--float and --max-drop are post-training options; drop --aware")
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
    @_then
    @_training
    @_common
    @line_cell_magic
    @no_var_expand
    @one_line_errors
    def prune(self, line: str, cell: str | None = None) -> Any:
        """Magnitude pruning with tfmot, fine-tuned, stripped, exported and measured.

        ::

            %prune model --sparsity 0.8 --fit x_train, y_train --epochs 2 --eval x_test, y_test

            %%prune model --sparsity 0.8 --as pruned --eval x_test, y_test
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
    @_then
    @_training
    @_common
    @line_cell_magic
    @no_var_expand
    @one_line_errors
    def cluster(self, line: str, cell: str | None = None) -> Any:
        """Weight clustering with tfmot, fine-tuned, stripped, exported and measured.

        ::

            %cluster model --clusters 16 --fit x_train, y_train --epochs 1 --eval x_test, y_test
            %cluster pruned --clusters 16 --preserve sparsity --fit x_train, y_train \\
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

    @line_magic
    @no_var_expand
    @one_line_errors
    def nbopt(self, line: str) -> Any:
        """nbopt's own commands (the full help is set below from the parser)."""
        parser = self.nbopt.parser
        first = line.split()[0] if line.split() else ""
        label = f"%nbopt {first}" if first in parser.subcommands else "%nbopt"
        others = {
            f"%nbopt {name}": options_of(sub)
            for name, sub in parser.subcommands.items()
            if name != first
        }
        args = parse(parser, line, label, others)
        if args.command == "results":
            return self._results(args)
        if args.command == "log":
            print(api.log() or "nbopt: the last run printed nothing")
            return None
        if args.command == "sweep":
            return self._sweep(args)
        if args.command == "inspect" and args.model in args.quoted:
            return api.inspect(args.model)  # a .tflite path
        model = self._model(args.model)
        if args.command == "inspect":
            return api.inspect(model, name=args.model)
        calib = self._eval(args.calib, "--calib")
        if args.command == "debug":
            return api.debug(
                model,
                calib,
                self._eval(args.eval, "--eval"),
                args.scheme,
                threshold=args.threshold,
                name=args.model,
            )
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
                ram_kb=args.ram,
                flash_kb=args.flash,
                per_tensor=args.per_tensor,
                name=args.model,
                progress=self._progress(args.model) if args.verify else None,
            )
        from .widgets.panel import panel

        return panel(model, calib, evaluation, fit, target=args.target, name=args.model)

    nbopt.parser = _nbopt_parser()  # type: ignore[attr-defined]
    nbopt.__doc__ = _nbopt_help(nbopt.parser)  # type: ignore[attr-defined]

    def _sweep(self, args: Any) -> Any:
        names = [n.strip() for n in args.model.split(",") if n.strip()]
        models = {name: self._model(name) for name in names}
        grid = {
            k: getattr(args, k)
            for k in ("prune", "cluster", "then", "scheme")
            if getattr(args, k) is not None
        }
        call = lambda: api.sweep(  # noqa: E731
            models,
            grid,
            fit=self._eval(args.fit, "--fit"),
            calib=self._eval(args.calib, "--calib"),
            eval=self._eval(args.eval, "--eval"),
            scheduler=args.scheduler,
            epochs=args.epochs,
            batch_size=args.batch_size,
            io=args.io,
            resume=args.resume,
            progress=self._progress(",".join(names)),
        )
        return self._run(args, call)

    def _results(self, args: Any) -> Any:
        from .engine.store import results as store

        where = {"model": args.model, "run": args.run}
        if args.clear:
            n = store.clear(all=args.all, **where)
            target = store.store()
            if args.all and target is not None:
                print(f"nbopt: deleted {n} rows from {target.path}")
            else:
                print(f"nbopt: cleared {n} rows")
            return None
        if args.load:
            if not os.path.exists(args.load):
                raise UsageError(f"--load: no file {args.load!r}")
            n = store.load_csv(args.load)
            print(f"nbopt: loaded {n} rows from {args.load}")
        df = api.results(all=args.all, **where)
        if args.save:
            store.write_csv(df, args.save, force=args.force)
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
        from .engine.convert import worker

        worker.warm()  # the converter's process starts now, not at the first %quantize


def unload(ipython: Any) -> None:
    """Remove the magics and the configuration object."""
    for kind in ("line", "cell"):
        for name in _MAGICS:
            ipython.magics_manager.magics[kind].pop(name, None)
    ipython.configurables[:] = [c for c in ipython.configurables if not isinstance(c, NbOpt)]
    set_current(None)
