"""Conversions keyed by content, so the same conversion is never done twice.

A conversion's key is a SHA-256 over everything that decides its flatbuffer: the Keras
model's architecture (``to_json``, else ``get_config``) and weights, the scheme and its
options (I/O type, which converter), the calibration data's own hash (for schemes that
calibrate), and the versions of TensorFlow, LiteRT, the LiteRT Quantizer and nbopt. The
key is computed from the model in memory, without the SavedModel export that a conversion
starts with, so a hit skips the export as well.

Hits come from the results store's ``conversions`` table (:mod:`nbopt.engine.store.database`), which
outlives the kernel; with ``NbOpt.store = ""`` from a bounded in-memory cache instead.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from . import results

#: Bytes of flatbuffers the in-memory cache (used when there is no store) holds at most.
MEMORY_LIMIT = 256 * 2**20
#: How nbopt converts, in every key too: raised when a change of nbopt's conversion (not of
#: its version number) makes different flatbuffers, so that stores filled before it do not
#: serve the old ones. 2: reshape targets made constant at export (Keras 3 without SHAPE).
CONVERSION_REVISION = 2

#: The distributions whose versions go into every key.
VERSIONED = ("tensorflow", "tf-keras", "ai-edge-litert", "litert-quantizer", "nbopt")


@dataclass
class Hit:
    """A conversion made before: its flatbuffer and how it was made (``converter``, ...)."""

    content: bytes
    info: dict[str, Any]


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """The installed version of each of :data:`VERSIONED` (``""`` if absent)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = ""
    return out


def _architecture(model: Any) -> str | None:
    for describe in (lambda: model.to_json(), lambda: json.dumps(model.get_config())):
        try:
            return f"{type(model).__module__}.{type(model).__qualname__}:{describe()}"
        except Exception:  # subclassed models without a config, unserializable arguments
            continue
    return None


def model_digest(model: Any) -> str | None:
    """SHA-256 of ``model``'s architecture and weights; ``None`` if it cannot be described
    (a subclassed model without ``get_config``: its conversions are not cached)."""
    architecture = _architecture(model)
    if architecture is None:
        return None
    h = hashlib.sha256(architecture.encode())
    for weight in model.get_weights():
        array = np.ascontiguousarray(weight)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def arrays_digest(arrays: list[np.ndarray] | None) -> str | None:
    """SHA-256 of arrays' dtypes, shapes and bytes (``None`` for no data)."""
    if arrays is None:
        return None
    h = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        h.update(f"{array.dtype.str}{array.shape}".encode())
        h.update(array.tobytes())
    return h.hexdigest()


def conversion_key(model: str, scheme: str, **options: Any) -> str:
    """The key of converting the model of digest ``model`` with ``scheme`` and ``options``
    (JSON-able values: ``io``, ``engine``, ``calib`` as a digest, ...)."""
    parts = {
        "model": model,
        "scheme": scheme,
        "options": options,
        "versions": versions(),
        "revision": CONVERSION_REVISION,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class _Memory:
    """Least recently used flatbuffers, at most :data:`MEMORY_LIMIT` bytes in all."""

    def __init__(self) -> None:
        self.items: OrderedDict[str, Hit] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Hit | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is not None:
                self.items.move_to_end(key)
            return hit

    def put(self, key: str, hit: Hit) -> None:
        with self.lock:
            self.items[key] = hit
            total = sum(len(h.content) for h in self.items.values())
            while total > MEMORY_LIMIT and len(self.items) > 1:
                _, dropped = self.items.popitem(last=False)
                total -= len(dropped.content)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_memory = _Memory()


def contains(key: str) -> bool:
    """Whether a conversion keyed ``key`` was kept."""
    target = results.store()
    if target is None:
        return _memory.get(key) is not None
    try:
        return target.has_conversion(key)
    except (sqlite3.Error, OSError):  # an unreadable store: what this process kept, if any
        return _memory.get(key) is not None


def lookup(key: str) -> Hit | None:
    """The conversion keyed ``key``, if it was made before."""
    target = results.store()
    if target is None:
        return _memory.get(key)
    try:
        found = target.conversion(key)
    except (sqlite3.Error, OSError):
        return _memory.get(key)
    return Hit(*found) if found else None


def keep(key: str, content: bytes, info: dict[str, Any]) -> None:
    """Remember that the conversion keyed ``key`` made ``content`` (``info``: how).

    A store that cannot be written keeps it in memory instead (:func:`results.record`
    warns about the store itself).
    """
    target = results.store()
    if target is not None:
        try:
            target.put_conversion(key, content, info)
            return
        except (sqlite3.Error, OSError):
            pass
    _memory.put(key, Hit(bytes(content), dict(info)))


def forget_memory() -> None:
    """Empty the in-memory cache (the store's conversions stay)."""
    _memory.clear()


class LazyExport:
    """A model's SavedModel export, made on first use of ``path`` (a cache hit needs none)."""

    def __init__(self, model: Any):
        self.model = model
        self._exported: Any = None

    @property
    def path(self) -> str:
        if self._exported is None:
            from ..convert.converter import export_saved_model

            self._exported = export_saved_model(self.model)
        return self._exported.path

    def cleanup(self) -> None:
        if self._exported is not None:
            self._exported.cleanup()
