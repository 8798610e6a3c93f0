"""Rewrite the README's quick-start table from a real run of ``nbopt demo``.

``make readme`` runs this. The table sits between the two ``demo table`` markers in
README.md; ``tests/test_readme.py`` fails when its columns differ from the demo's.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- demo table: written by `make readme` from a run of `nbopt demo` -->"
END = "<!-- end of demo table -->"


def table_of(output: str) -> list[str]:
    """The comparison table and its notes in ``nbopt demo``'s output."""
    lines = output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("variant "))
    end = next((i for i in range(first, len(lines)) if not lines[i].strip()), len(lines))
    return lines[first:end]


def columns_of(header: str) -> list[str]:
    """A table header's column names (separated by two spaces or more)."""
    return re.split(r"\s{2,}", header.strip())


def readme_table() -> list[str]:
    text = README.read_text()
    block = text.split(START, 1)[1].split(END, 1)[0]
    return [line for line in block.strip().strip("`").strip().splitlines() if line.strip()]


def main() -> int:
    run = subprocess.run(
        [sys.executable, "-m", "nbopt", "demo"], capture_output=True, text=True, check=True
    )
    table = table_of(run.stdout)
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n```\n" + "\n".join(table) + f"\n```\n{END}{tail}")
    print(f"README.md: the demo table has {len(table)} lines from this run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
