"""Reading a magic's line as Python writes it: split with ``tokenize``, parse with argparse.

Brackets, parentheses, braces and string literals are never cut, so option values are
Python expressions as written: ``--eval (x_test, y_test)``, ``--calib x_train[:200, :, :]``,
``--calib (x[None] for x in x_train[:100])``. A piece that ends with a comma or an operator,
or that starts with one, continues the value before it: ``--scheme dynamic, int8`` and
``--eval x_test, y_test`` are one value each. A value written as one string literal is
unquoted, as a shell does: ``--save "my models"`` is the folder ``my models`` and
``--eval "(x_test, y_test)"`` is the expression ``(x_test, y_test)``. As in Python, a ``#``
outside a string starts a comment.

A line that still cannot be read raises IPython's ``UsageError`` naming the piece that was
cut, and says to assign the expression to a variable first.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass

from IPython.core.error import UsageError

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPERATORS = {",", "+", "-", "*", "/", "//", "%", "@", "**", "|", "&", "^", "~", "."}
_OPERATORS |= {"<", ">", "<=", ">=", "==", "!="}
#: A piece ending with one of these continues into the next piece.
_CONTINUES_AFTER = _OPERATORS | {"and", "or", "not", "in", "is", "if", "else"}
#: A piece starting with one of these continues the piece before it.
_CONTINUES_BEFORE = (_OPERATORS - {"~"}) | {"and", "or", "not", "in", "is", "if", "else"}
_FLAG = re.compile(r"--?[A-Za-z]")
_SKIPPED = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}


@dataclass
class Piece:
    """One argument of the line: ``text`` as written, from column ``start`` to ``end``."""

    text: str
    start: int
    end: int
    first: str
    last: str
    quoted: bool = False

    @property
    def flag(self) -> bool:
        return bool(_FLAG.match(self.text))

    @property
    def value(self) -> str:
        """The argument argparse gets: a lone string literal's content, else the text."""
        if self.quoted:
            try:
                value = ast.literal_eval(self.text)
            except (ValueError, SyntaxError):
                return self.text
            if isinstance(value, str):
                return value
        return self.text


def _cut(line: str, pieces: list[Piece], start: int, end: int, reason: str) -> UsageError:
    """The error for a value that cannot be read: it runs from the last option to ``end``."""
    flags = [i for i, p in enumerate(pieces) if p.flag]
    owner = pieces[flags[-1]].text if flags else None
    after = pieces[flags[-1] + 1 :] if flags else pieces
    value = line[after[0].start if after else start : end].strip()
    where = f"{owner} {value}" if owner else value
    name = f"{owner} data" if owner else "data"
    return UsageError(
        f"{where}: {reason}; assign the expression to a variable first "
        f"(data = ...) and pass its name ({name})"
    )


def split(line: str) -> list[Piece]:
    """Cut ``line`` at the spaces that are outside brackets and string literals."""
    pieces: list[Piece] = []
    current: Piece | None = None
    stack: list[str] = []
    tokens = tokenize.generate_tokens(io.StringIO(line).readline)
    try:
        for tok in tokens:
            if tok.type in _SKIPPED or tok.string.isspace():
                continue
            if tok.type == tokenize.COMMENT and not stack:
                break  # as in Python, a # outside a string starts a comment
            start, end = tok.start[1], tok.end[1]
            if current is not None and not stack and start > current.end:
                pieces.append(current)
                current = None
            if tok.type == tokenize.ERRORTOKEN and tok.string in "'\"":
                at = current.start if current else start
                raise _cut(line, pieces, at, len(line), f"the quote {tok.string} is never closed")
            if current is None:
                current = Piece("", start, end, tok.string, tok.string, tok.type == tokenize.STRING)
            else:
                current.quoted = False
            current.end, current.last = end, tok.string
            current.text = line[current.start : end]
            if tok.string in _OPENERS and tok.type == tokenize.OP:
                stack.append(tok.string)
            elif tok.string in _CLOSERS and tok.type == tokenize.OP:
                if not stack or stack[-1] != _CLOSERS[tok.string]:
                    reason = f"{tok.string!r} closes nothing"
                    if stack:
                        reason = f"{tok.string!r} does not close {stack[-1]!r}"
                    raise _cut(line, pieces, current.start, end, reason)
                stack.pop()
    except tokenize.TokenError as exc:
        if stack:
            reason = f"{stack[-1]!r} is never closed"
            raise _cut(line, [*pieces, current], 0, len(line), reason) from None
        (row, column) = exc.args[1]
        if current is not None and (row > 1 or column > current.end):
            pieces.append(current)
        raise _cut(line, pieces, column, len(line), "a string is never closed") from None
    if current is not None:
        pieces.append(current)
    return _join(line, pieces)


def _join(line: str, pieces: list[Piece]) -> list[Piece]:
    """Merge pieces that continue one expression (``x_test, y_test``; ``dynamic, int8``)."""
    out: list[Piece] = []
    for piece in pieces:
        before = out[-1] if out else None
        if (
            before is not None
            and not before.flag
            and not piece.flag
            and (before.last in _CONTINUES_AFTER or piece.first in _CONTINUES_BEFORE)
        ):
            before.text = line[before.start : piece.end]
            before.end, before.last, before.quoted = piece.end, piece.last, False
        else:
            out.append(piece)
    return out


def parse(
    parser: argparse.ArgumentParser,
    line: str,
    label: str,
    others: Mapping[str, set[str]] | None = None,
) -> argparse.Namespace:
    """Parse ``line`` with ``parser``; every mistake is one ``UsageError`` line.

    ``label`` names the magic in messages (``%quantize``); ``others`` maps the labels of
    related magics to their options, so an option given to the wrong magic is named.
    The namespace's ``quoted`` holds the values that were written as string literals.
    """
    pieces = split(line)
    helpname = label.split()[0]
    argv = [p.value for p in pieces]
    try:
        args, extras = parser.parse_known_args(argv)
    except UsageError as exc:
        if str(exc) == "the following arguments are required: model":
            raise UsageError(f"{label} needs a model, e.g. {label} model") from None
        raise UsageError(f"{label}: {exc}; see {helpname}? for the options") from None
    if extras:
        raise _unrecognized(argv, pieces, extras, label, others or {}) from None
    args.quoted = frozenset(p.value for p in pieces if p.quoted)
    return args


def options_of(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string ``parser`` takes (``--eval``, ``-e``, ...)."""
    return {s for action in parser._actions for s in action.option_strings}


def _unrecognized(
    argv: list[str],
    pieces: list[Piece],
    extras: list[str],
    label: str,
    others: Mapping[str, set[str]],
) -> UsageError:
    first = extras[0]
    helpname = label.split()[0]
    index = max(i for i, a in enumerate(argv) if a == first)
    if pieces[index].flag:
        option = first.split("=")[0]
        owners = [name for name, options in others.items() if option in options]
        if owners:
            return UsageError(
                f"{label} does not take {option}: it is an option of {' and '.join(owners)}; "
                f"see {helpname}? for the options"
            )
        return UsageError(
            f"unrecognized arguments: {' '.join(extras)}; see {helpname}? for the options"
        )
    previous = pieces[index - 1] if index else None
    if previous is not None and label.endswith(" " + previous.text):
        return UsageError(f"{label} takes no {first}; see {helpname}? for the options")
    if previous is None or previous.flag:
        return UsageError(
            f"unrecognized arguments: {' '.join(extras)}; see {helpname}? for the options"
        )
    owner = pieces[index - 2].text if index >= 2 and pieces[index - 2].flag else None
    cut = pieces[index].text
    where = f"{owner} {previous.text}" if owner else previous.text
    name = f"{owner} data" if owner else "data"
    return UsageError(
        f"{where} {cut}: {cut!r} is cut off from {owner or 'the model'}'s value; assign the "
        f"expression to a variable first (data = ...) and pass its name ({name})"
    )
