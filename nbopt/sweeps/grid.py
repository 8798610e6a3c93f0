"""A sweep's configurations: the product of its axes, each with a stable ``config_key``.

A configuration is one task of the sweep: a model, a training chain (prune, then cluster
preserving the zeros) or a post-training scheme, and the ``--then`` scheme after it. Its
``config_key`` hashes the model's architecture and weights, the parameters and the data,
so a later sweep with ``resume`` skips what the store already holds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..engine.convert.converter import ALL_SCHEMES, NEEDS_CALIBRATION
from ..errors import NbOptUsageError

#: The axes ``grid=`` may hold.
AXES = ("prune", "cluster", "then", "scheme")


@dataclass(frozen=True)
class Config:
    """One configuration of a sweep (``kind``: ``baseline``, ``ptq`` or ``train``)."""

    model: str
    kind: str
    scheme: str = "float32"
    sparsity: float | None = None
    clusters: int | None = None
    then: str | None = None
    key: str = ""

    @property
    def label(self) -> str:
        parts = []
        if self.sparsity is not None:
            parts.append(f"prune {self.sparsity:g}")
        if self.clusters is not None:
            parts.append(f"cluster {self.clusters}")
        if self.kind != "train":
            parts.append(self.scheme)
        elif self.then:
            parts.append(self.then)
        return f"{self.model}: {' + '.join(parts)}"

    def params(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("key")
        return out


def axis(values: Any, name: str) -> list[Any]:
    """``values`` of one axis as a list (a comma-separated string or a sequence)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    elif not isinstance(values, (list, tuple)):
        values = [values]
    if name == "prune":
        out = [float(v) for v in values]
        bad = [v for v in out if not 0 <= v < 1]
        if bad:
            raise NbOptUsageError(f"--prune takes sparsities in [0, 1), got {bad[0]}")
        return out
    if name == "cluster":
        return [int(v) for v in values]
    # float32 is every sweep's baseline (scheme) or the trained model itself (then: none).
    out = [None if v in (None, "none", "", "float32") else str(v).lower() for v in values]
    unknown = [v for v in out if v is not None and v not in ALL_SCHEMES]
    if unknown:
        raise NbOptUsageError(
            f"unknown --{name} scheme {unknown[0]!r}; choose from {', '.join(ALL_SCHEMES[1:])}"
        )
    return out


def check_calibration(configs: list[Config], calib: Any) -> None:
    """Raise before any work if a configuration needs calibration data and none was given."""
    needs = sorted({c.scheme for c in configs if c.scheme in NEEDS_CALIBRATION})
    if needs and calib is None:
        raise NbOptUsageError(
            f"{', '.join(needs)} needs calibration data; pass representative samples, "
            "e.g. --calib x_train[:256] (calib=...)"
        )


def configurations(names: list[str], grid: dict[str, Any]) -> list[Config]:
    """Every configuration of ``grid`` for each model in ``names`` (without the baselines)."""
    unknown = set(grid) - set(AXES)
    if unknown:
        raise NbOptUsageError(
            f"unknown sweep axis {sorted(unknown)[0]!r}; choose from {', '.join(AXES)}"
        )
    axes = {name: axis(grid.get(name), name) for name in AXES}
    training = axes["prune"] or axes["cluster"]
    if training and axes["scheme"]:
        raise NbOptUsageError(
            "a sweep either fine-tunes (--prune/--cluster, with --then) or quantizes "
            "(--scheme), not both; use --then for the scheme after training"
        )
    if not training and not axes["scheme"]:
        raise NbOptUsageError("nothing to sweep: pass --prune, --cluster or --scheme values")
    out = []
    for name in names:
        if not training:
            schemes = dict.fromkeys(s for s in axes["scheme"] if s is not None)
            out += [Config(name, "ptq", scheme=s) for s in schemes]
            continue
        for s, k, then in itertools.product(
            axes["prune"] or [None], axes["cluster"] or [None], axes["then"] or [None]
        ):
            out.append(Config(name, "train", then or "float32", s, k, then))
    return out


def keyed(config: Config, model_hash: str, extra: dict[str, Any]) -> Config:
    """``config`` with its ``key``: the model's hash, the configuration and ``extra``."""
    text = json.dumps({"model": model_hash, **config.params(), **extra}, sort_keys=True)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Config(**{**config.params(), "key": key})


def model_hash(model: Any) -> str:
    """A hash of ``model``'s architecture and weights (stable across saves)."""
    digest = hashlib.sha256(model.to_json().encode())
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


def data_hash(data: Any) -> str:
    """A hash of arrays (or tuples of arrays); other data hashes by its type."""
    digest = hashlib.sha256()
    parts = data if isinstance(data, (tuple, list)) else [data]
    for part in parts:
        if hasattr(part, "shape") and hasattr(part, "dtype"):
            arr = np.ascontiguousarray(np.asarray(part))
            digest.update(f"{arr.shape}{arr.dtype}".encode())
            digest.update(arr.tobytes())
        else:
            digest.update(type(part).__name__.encode())
    return digest.hexdigest()[:16]


def model_bytes(model: Any) -> tuple[str, bytes]:
    """``model`` saved in memory: ``(flavor, bytes of a .keras file)``.

    tf_keras models do not pickle; a task gets these bytes and :func:`load` rebuilds it.
    """
    from ..engine.model.keras_models import require_model

    flavor = require_model(model)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as fh:
            return flavor, fh.read()


def load(flavor: str, content: bytes) -> Any:
    """The Keras model saved by :func:`model_bytes`."""
    if flavor == "tf_keras":
        import tf_keras as keras
    else:
        import keras  # type: ignore[no-redef]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as fh:
            fh.write(content)
        return keras.models.load_model(path)
