"""Write the extension's version-2 payload fixtures from the measured rows of the version-1 ones.

    python tools/payload_fixtures.py

``labextension/test/payloads/*.v1.json`` are real payloads written by nbopt before payload
version 2 (commit 90a53d2): the quick start's comparison of the digits CNN (``nbopt demo``),
and the same rows with an int8 variant with int8 I/O, one with a layer kept float, a pruned
and a clustered one. Their rows, displayed by today's presentation layer, are the
``*.v2.json`` fixtures the jest tests read; ``tests/test_display.py`` fails when a fixture
differs from what this script would write, so the two sides cannot drift apart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent.parent / "labextension" / "test" / "payloads"
NAMES = ("quickstart", "variety")


def version1(name: str) -> dict:
    """The saved version-1 payload ``name``."""
    return json.loads((FOLDER / f"{name}.v1.json").read_text(encoding="utf-8"))


def version2(name: str) -> str:
    """The version-2 payload of the rows of ``name``'s version-1 payload, as JSON text."""
    from nbopt.display import comparison_payload

    old = version1(name)
    payload = comparison_payload(old["name"], old["rows"], old["done"])
    return json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def main() -> int:
    for name in NAMES:
        path = FOLDER / f"{name}.v2.json"
        path.write_text(version2(name), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
