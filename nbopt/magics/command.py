"""``%nbopt``: nbopt's own commands, one argparse subparser each.

``panel``, ``recommend``, ``debug`` and ``sweep`` take the options the request declares for
them; ``results``, ``log`` and ``inspect`` read what was measured and have their own few.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import MagicArgumentParser

import nbopt.api as api

from ..engine.request.option import MAGIC
from ..surface import add_options
from .base import MagicsBase
from .errors import interrupted, one_line_errors
from .parsing import options_of, parse

_MODEL_HELP = "The Keras model: a variable name or expression."


def _results_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all", action="store_true", help="Every row in the results store.")
    p.add_argument("--model", default=None, help="Only this model's rows.")
    p.add_argument("--run", default=None, help="Only the rows of this run_id.")
    p.add_argument("--save", default=None, help="Write the results to this CSV file.")
    p.add_argument("--load", default=None, help="Add the rows of a CSV file saved before.")
    p.add_argument(
        "--clear",
        action="store_true",
        help="Forget this kernel's rows (with --all: delete them from the store too).",
    )
    p.add_argument("--force", action="store_true", help="Replace an existing CSV file.")


def _sweep_axes(p: argparse.ArgumentParser) -> None:
    """The grid: each axis is a list of one request option's values."""
    p.add_argument("--prune", default=None, help="Sparsities, e.g. 0.5,0.75,0.9.")
    p.add_argument("--cluster", default=None, help="Cluster counts, e.g. 8,16,32.")
    p.add_argument("--then", default=None, help="Schemes after training, e.g. none,int8.")
    p.add_argument("--scheme", default=None, help="Post-training schemes, e.g. dynamic,int8.")


#: Subcommand -> (help, takes a model, the request entry whose options it takes).
SUBCOMMANDS = {
    "results": ("Every row measured in this kernel, as a DataFrame.", False, None),
    "log": ("The output TensorFlow and the converter printed during the last run.", False, None),
    "panel": ("The interactive panel: pick schemes, watch the comparison fill in.", True, "panel"),
    "recommend": (
        "Which scheme to try first, and why (TFLite's decision tree).",
        True,
        "recommend",
    ),
    "debug": (
        "Which layers int8 hurts: each Keras layer quantized alone, measured.",
        True,
        "debug",
    ),
    "inspect": ("A variant's ops, tensor types and compatibility.", True, None),
    "load": ("A .tflite file, verified, as a TFLiteModel (bind it with --as).", True, None),
    "sweep": ("Many configurations as Dask tasks; rows stream in as they finish.", True, "sweep"),
    "optimize": (
        "Search the techniques for the smallest model (--goal) within --max-drop; "
        "--as binds the pick.",
        True,
        "optimize",
    ),
}
_MODEL_HELPS = {
    "inspect": "A TFLiteModel or Keras model (an expression), or a quoted .tflite path.",
    "sweep": "Keras models: comma-separated variable names.",
    "load": "The .tflite file's path (quoted if it has spaces).",
}


def nbopt_parser() -> MagicArgumentParser:
    """``%nbopt``'s parser: one argparse subparser per subcommand, each with its own options."""
    parser = MagicArgumentParser(prog="nbopt", description="nbopt's own commands.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=MagicArgumentParser)
    for name, (helptext, takes_model, entry) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=helptext, description=helptext)
        if takes_model:
            p.add_argument("model", help=_MODEL_HELPS.get(name, _MODEL_HELP))
        if entry is not None:
            add_options(p, entry, MAGIC)
        if name == "results":
            _results_options(p)
        if name == "sweep":
            _sweep_axes(p)
        if name == "load":
            p.add_argument("--as", dest="as_name", default=None, help="Bind it to this name.")
    parser.subcommands = dict(sub.choices)  # type: ignore[attr-defined]
    return parser


def nbopt_help(parser: MagicArgumentParser) -> str:
    parts = [parser.format_help().replace("usage: ", "", 1)]
    for sub in parser.subcommands.values():  # type: ignore[attr-defined]
        parts.append(sub.format_help().replace("usage: ", "", 1))
    return "\n".join(parts)


@magics_class
class CommandMagics(MagicsBase):
    """``%nbopt``."""

    @line_magic
    @no_var_expand
    @one_line_errors
    def nbopt(self, line: str) -> Any:
        """nbopt's own commands (the full help is set below from the parser)."""
        args = self._parse_command(line)
        self._check(args)
        if args.command == "results":
            return self._results(args)
        if args.command == "log":
            print(api.log() or "nbopt: the last run printed nothing")
            return None
        if args.command == "sweep":
            return self._sweep(args)
        if args.command == "optimize":
            return self._optimize(args)
        if args.command == "load":
            return self._run(args, lambda: api.load(args.model))
        model = self._model(args.model, args.quoted)
        if args.command == "inspect":  # a .tflite path is named after its file
            return api.inspect(model, name=None if isinstance(model, str) else args.model)
        options = self._options(args.command, args)
        if args.command == "debug":
            return api.debug(model, **options)
        if args.command == "recommend":
            if args.verify:
                options["progress"] = self._progress(args.model)
            return api.recommend(model, **options)
        from ..widgets.panel import panel

        return panel(model, **options)

    nbopt.parser = nbopt_parser()  # type: ignore[attr-defined]
    nbopt.__doc__ = nbopt_help(nbopt.parser)  # type: ignore[attr-defined]

    def _parse_command(self, line: str) -> Any:
        parser = self.nbopt.parser
        first = line.split()[0] if line.split() else ""
        label = f"%nbopt {first}" if first in parser.subcommands else "%nbopt"
        others = {
            f"%nbopt {name}": options_of(sub)
            for name, sub in parser.subcommands.items()
            if name != first
        }
        return parse(parser, line, label, others)

    def _sweep(self, args: Any) -> Any:
        names = [n.strip() for n in args.model.split(",") if n.strip()]
        models = {name: self._model(name) for name in names}
        grid = {
            k: getattr(args, k)
            for k in ("prune", "cluster", "then", "scheme")
            if getattr(args, k) is not None
        }
        options = self._options("sweep", args)
        options.pop("name", None)
        options["progress"] = self._progress(",".join(names))
        return self._run(args, lambda: api.sweep(models, grid, **options))

    def _optimize(self, args: Any) -> Any:
        """Run the search; its line names the user's data; ``--as`` binds the pick."""
        model = self._model(args.model, args.quoted)
        options = self._options("optimize", args)
        options["progress"] = self._progress(args.model)
        try:
            result = api.optimize(model, **options)
        except KeyboardInterrupt as exc:  # every finished candidate is in the store
            raise UsageError(
                f"{interrupted(self.tally)}; the same line again goes on from them"
            ) from exc
        fit_x = args.fit.split(",")[0] if args.fit else None
        texts = {"calib": args.calib or fit_x, "fit": args.fit, "eval": args.eval}
        result.names.update({k: v for k, v in texts.items() if v})
        self.tally.listener.become(result)  # the live table becomes the search's result
        if args.as_name and result.pick is None:
            print(f"nbopt: no candidate is within --max-drop; {args.as_name} is not bound")
        elif args.as_name:
            self.shell.user_ns[args.as_name] = result.pick
        return result

    def _results(self, args: Any) -> Any:
        from ..engine.store import results as store

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
