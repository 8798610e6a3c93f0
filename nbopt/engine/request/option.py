"""How an option is declared: :class:`Option` (its help, flag, type, operations, surfaces)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Surfaces an option can appear on.
API, MAGIC, CLI = "api", "magic", "cli"


@dataclass(frozen=True)
class Option:
    """How one option appears on the surfaces.

    ``kind``: ``"data"`` (arrays or ``(x, y)``: a Python expression in a magic, a file on
    the command line), ``"expr"`` (any Python value: an expression in a magic),
    ``"flag"`` (a boolean switch), ``"value"`` (a literal of ``type``).
    """

    help: str
    kind: str = "value"
    type: Any = str
    choices: tuple[str, ...] = ()
    flag: str | None = None
    short: str | None = None
    entries: tuple[str, ...] = ()
    surfaces: tuple[str, ...] = (API, MAGIC)
    cli_help: str | None = None
    cli_flag: str | None = None
    doc_type: str = ""
    #: In a magic, the flag may stand alone (``--save``: the default folder).
    bare: bool = False
    #: Other spellings of the flag on the magics and the CLI (``--ram-kb`` for ``--ram``).
    aliases: tuple[str, ...] = ()

    def flag_for(self, name: str, surface: str) -> str:
        if surface == CLI and self.cli_flag:
            return self.cli_flag
        return self.flag or "--" + name.replace("_", "-")


def option(default: Any, help: str, **meta: Any) -> Any:  # noqa: A002 - argparse's word
    """A dataclass field declared as a user-facing option (see :class:`Option`)."""
    return field(default=default, metadata={"option": Option(help=help, **meta)})


def context(default: Any = None) -> Any:
    """A field the front end fills, not an option users pass."""
    return field(default=default, compare=False, metadata={"context": True})


# Entry points: the operations whose options are declared here.
QUANTIZE, PRUNE, CLUSTER = "quantize", "prune", "cluster"
DEBUG, RECOMMEND, SWEEP, PANEL, COMPARE = "debug", "recommend", "sweep", "panel", "compare"
OPTIMIZE = "optimize"
TRAINING = (QUANTIZE, PRUNE, CLUSTER)
EVALUATED = (QUANTIZE, PRUNE, CLUSTER, DEBUG, RECOMMEND, SWEEP, PANEL, COMPARE, OPTIMIZE)
