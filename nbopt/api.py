"""The Python API: the same operations as the magics, callable from scripts and tests."""

from __future__ import annotations

from typing import Any

from .engine.compare import Comparison, run_post_training
from .engine.convert import SCHEMES, parse_schemes
from .engine.events import Listener
from .engine.measure import MeasureSettings
from .engine.tflite_model import TFLiteModel


def _settings(threads: int | None) -> MeasureSettings:
    from dataclasses import replace

    from .config import current

    s = current().measure_settings()
    return replace(s, threads=threads) if threads else s


def quantize(
    model: Any,
    scheme: str | list[str] | None = None,
    calib: Any = None,
    eval: Any = None,  # noqa: A002 - the documented name
    *,
    io: str = "float",
    threads: int | None = None,
    metric: Any = None,
    name: str | None = None,
    save: str | None = None,
    force: bool = False,
    progress: Listener | None = None,
) -> TFLiteModel | Comparison:
    """Post-training quantization of a Keras model, measured against its float32 baseline.

    Parameters
    ----------
    model : keras.Model
        A tf_keras (Keras 2) or Keras 3 model with defined inputs. It is only read.
    scheme : str or list of str, optional
        ``float16``, ``dynamic``, ``int8``, ``int16x8`` (comma-separated or a list). By
        default all four; those needing calibration are skipped when ``calib`` is missing.
    calib : array, (x, y), tf.data.Dataset or generator, optional
        Representative samples for ``int8`` and ``int16x8`` (100-500 is typical).
    eval : (x, y), tf.data.Dataset or generator, optional
        Labelled data; accuracy (classifiers) or mean squared error is measured on it.
    io : {"float", "int8", "uint8"}
        Input/output type of the int8 variant; integer types make an integer-only model.
    threads : int, optional
        Interpreter threads (default: ``NbOpt.threads``, one per core).
    metric : "accuracy", "mse" or callable(y_true, y_pred), optional
    name : str, optional
        The name shown in tables (default: the model's own name).
    save : str, optional
        A folder to write every variant's ``.tflite`` into.
    force : bool
        Replace existing files when saving.
    progress : callable(Event), optional
        Receives progress events while the comparison runs.

    Returns
    -------
    TFLiteModel
        when exactly one scheme was asked for (its ``comparison`` holds the baseline too);
    Comparison
        otherwise.
    """
    single = isinstance(scheme, str) and "," not in scheme
    schemes = parse_schemes(scheme) if scheme is not None else list(SCHEMES)
    comparison = run_post_training(
        model,
        schemes,
        calib=calib,
        eval=eval,
        io=io,
        metric=metric,
        name=name,
        settings=_settings(threads),
        listener=progress,
        skip_uncalibrated=scheme is None,
    )
    if save:
        comparison.save(save, force=force)
    if single:
        chosen = schemes[0]
        if chosen in comparison.models:
            return comparison.models[chosen]
        failed = next(r for r in comparison.rows if r["scheme"] == chosen)
        from .errors import ConversionError

        raise ConversionError(f"{chosen} failed for {comparison.name}: {failed['error']}")
    return comparison


def results() -> Any:
    """Every row measured in this kernel (or process), as a DataFrame."""
    from .engine import results as store

    return store.frame(store.rows())
