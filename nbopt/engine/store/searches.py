"""What optimize keeps in the results store, so that a re-run measures nothing twice.

Each candidate run (a post-training scheme, or one rung of a fine-tune) has a key: the
SHA-256 of the search's identity (the model's architecture and weights, every data split,
the seed, the target, the metric; not the budget) and the candidate (its label, options
and epochs in all). Its rows are stored under that key as ``config_key`` the moment it
finishes, so an interrupted search keeps them; a fine-tune's wrapped weights are stored
too, for the next rung to start from.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np

from . import results
from .cache import CONVERSION_REVISION, arrays_digest, model_digest, versions


def _arrays(data: Any) -> list[np.ndarray] | None:
    if data is None:
        return None
    if isinstance(data, tuple):
        return [a for part in data for a in _arrays(part) or []]
    if isinstance(data, list):
        return [np.asarray(a) for a in data]
    return [np.asarray(data)]


def identity(model: Any, splits: dict[str, Any], facts: dict[str, Any]) -> str | None:
    """The search's identity, or None when the model cannot be described (not resumable)."""
    content = getattr(model, "content", None)
    digest = hashlib.sha256(content).hexdigest() if content is not None else model_digest(model)
    if digest is None:
        return None
    h = hashlib.sha256(f"optimize:{digest}:{CONVERSION_REVISION}".encode())
    h.update(json.dumps(versions(), sort_keys=True).encode())
    for name in sorted(splits):
        h.update(f"{name}={arrays_digest(_arrays(splits[name]))}".encode())
    h.update(json.dumps(facts, sort_keys=True, default=repr).encode())
    return h.hexdigest()


def key(search: str, label: str, options: dict[str, Any], epochs: int | None) -> str:
    """The key of one candidate run of the search ``search``."""
    text = json.dumps([search, label, options, epochs], sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def stored(run_key: str) -> list[tuple[dict[str, Any], bytes | None]] | None:
    """The rows (and flatbuffers) stored under ``run_key``, or None if it never finished."""
    target = results.store()
    if target is None:
        return None
    try:
        found = target.by_config(run_key)
    except Exception:  # noqa: BLE001 - an unreadable store: measure again
        return None
    if not found:
        return None
    out = []
    for record in found:
        content = target.content(record.content_sha256) if record.content_sha256 else None
        if record.content_sha256 and content is None:
            return None  # its flatbuffer is gone or changed: measure again
        out.append((record.row, content))
    return out


def mark(rows: list[dict[str, Any]], run_key: str) -> None:
    """Store ``rows`` (recorded as they were measured) under ``run_key``."""
    for row in rows:
        row["config_key"] = run_key
        results.update(row)


def keep_weights(run_key: str, weights: list[np.ndarray]) -> None:
    """Keep a fine-tune's wrapped weights for the next rung (a store's blob)."""
    target = results.store()
    if target is None or weights is None:
        return
    buffer = io.BytesIO()
    np.savez(buffer, *weights)
    try:
        target.put_conversion(f"weights:{run_key}", buffer.getvalue(), {"kind": "weights"})
    except Exception:  # noqa: BLE001 - not kept: the next rung trains this one again
        pass


def weights(run_key: str) -> list[np.ndarray] | None:
    """The wrapped weights kept under ``run_key`` (arrays only, no pickles), or None."""
    target = results.store()
    found = target.conversion(f"weights:{run_key}") if target is not None else None
    if found is None:
        return None
    try:
        with np.load(io.BytesIO(found[0]), allow_pickle=False) as arrays:
            return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    except Exception:  # noqa: BLE001 - damaged: the rung is trained again
        return None
