"""Writing files the user keeps: atomically, and never over an existing file unless asked."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ...errors import NbOptUsageError


def write_atomic(path: str | os.PathLike[str], data: bytes, force: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    An existing file is kept (and an error raised) unless ``force`` is true; a crash midway
    leaves either the old file or none, never half of one.
    """
    target = Path(path).expanduser()
    if target.exists() and not force:
        raise NbOptUsageError(
            f"{target} already exists; choose another path or pass force=True (--force)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target
