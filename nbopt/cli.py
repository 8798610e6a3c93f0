"""The ``nbopt`` command: compare schemes on a saved model, or run the demo."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import NbOptError, NbOptUsageError


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def _progress(event: Any) -> None:
    from .engine.events import Event

    assert isinstance(event, Event)
    if event.kind == "step":
        print(
            f"  {event.index + 1}/{event.total} {event.scheme}: {event.message}",
            file=sys.stderr,
            flush=True,
        )
    elif event.kind == "start":
        print(f"{event.message}: {event.total} variants", file=sys.stderr, flush=True)


def load_keras_model(path: str, unsafe: bool = False) -> Any:
    """A ``.keras``, ``.h5`` or SavedModel file as a Keras model.

    ``.keras`` files load with Keras' safe mode (no code from Lambda layers runs) unless
    ``unsafe``. Keras 3 files load with Keras 3, older ones with tf_keras.
    """
    p = Path(path)
    if not p.exists():
        raise NbOptUsageError(f"no such model file: {path}")
    if p.suffix == ".keras":
        loaders = ("keras", "tf_keras")  # Keras 3 wrote most .keras files
    elif p.suffix in (".h5", ".hdf5") or p.is_dir():
        loaders = ("tf_keras",)
    else:
        loaders = ()
    if not unsafe and loaders == ("tf_keras",) and _legacy_file_has_code(p):
        raise NbOptUsageError(
            f"{path} holds code (a Lambda layer) that would run on loading; "
            "pass --unsafe if you trust this file"
        )
    errors = []
    for loader in loaders:
        try:
            module = __import__(loader)
            return module.models.load_model(p, safe_mode=not unsafe, compile=False)
        except Exception as exc:  # try the other Keras
            text = str(exc)
            if not unsafe and ("safe_mode" in text or "safe mode" in text):
                raise NbOptUsageError(
                    f"{path} holds code (a Lambda layer) that Keras' safe mode will not run; "
                    "pass --unsafe if you trust this file"
                ) from None
            errors.append(f"{loader}: {text.splitlines()[0] if text else type(exc).__name__}")
    if errors:
        raise NbOptUsageError(f"cannot load {path}: " + "; ".join(errors))
    raise NbOptUsageError(
        f"{path}: unknown model format; nbopt reads .keras, .h5 and SavedModel folders"
    )


def _legacy_file_has_code(path: Path) -> bool:
    """True if an .h5 file or SavedModel folder stores a Lambda layer (marshalled code).

    Keras' safe mode guards .keras files only; for the legacy formats nbopt reads the
    stored model config itself before anything is deserialized.
    """
    if path.is_dir():
        meta = path / "keras_metadata.pb"
        data = meta.read_bytes() if meta.exists() else b""
        return b'"class_name": "Lambda"' in data
    import json

    import h5py

    with h5py.File(path, "r") as fh:
        config = fh.attrs.get("model_config")
    if config is None:
        return False
    if isinstance(config, bytes):
        config = config.decode()

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return node.get("class_name") == "Lambda" or any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    return walk(json.loads(config))


def load_arrays(spec: str, want_labels: bool) -> Any:
    """``data.npz`` (keys x and y, or the first one or two arrays) or ``data.npy``."""
    path, _, keys = spec.partition(":")
    if not os.path.exists(path):
        raise NbOptUsageError(f"no such data file: {path}")
    if path.endswith(".npy"):
        if want_labels:
            raise NbOptUsageError(f"{path}: evaluation needs x and y; use an .npz file")
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as data:
        names = (
            keys.split(",")
            if keys
            else (["x", "y"] if {"x", "y"} <= set(data.files) else list(data.files)[:2])
        )
        if want_labels:
            if len(names) < 2:
                raise NbOptUsageError(f"{path}: evaluation needs two arrays, x and y")
            return data[names[0]], data[names[1]]
        return data[names[0]]


def cmd_compare(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    from .api import quantize

    model = load_keras_model(args.model, unsafe=args.unsafe)
    calib = load_arrays(args.calib, want_labels=False) if args.calib else None
    evaluation = load_arrays(args.eval, want_labels=True) if args.eval else None
    comparison = quantize(
        model,
        args.scheme or None,
        calib,
        evaluation,
        io=args.io,
        threads=args.threads,
        name=Path(args.model).stem,
        save=args.out,
        force=args.force,
        progress=_progress,
    )
    if not hasattr(comparison, "rows"):
        comparison = comparison.comparison
    print(comparison)
    if args.csv:
        from .engine.files import write_atomic

        write_atomic(args.csv, comparison.df.to_csv(index=False).encode(), force=args.force)
        print(f"results written to {args.csv}")
    if args.out:
        for m in comparison.models.values():
            print(f"wrote {m.path}")
    return 1 if any(r["status"] == "failed" for r in comparison.rows) else 0


def cmd_demo(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    started = time.perf_counter()
    from .api import quantize
    from .demo import trained_digits_cnn

    print("Training a CNN on scikit-learn's digits (1,437 training images)...", flush=True)
    model, (x_train, y_train, x_test, y_test) = trained_digits_cnn(epochs=args.epochs)
    _, keras_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"Keras model: {model.count_params():,} parameters, test accuracy {keras_acc:.2%}")
    comparison = quantize(
        model,
        "float16,dynamic,int8,int16x8",
        x_train[:256],
        (x_test, y_test),
        progress=_progress,
        save=args.out,
        force=args.force,
    )
    print()
    print(comparison)
    if args.csv:
        from .engine.files import write_atomic

        write_atomic(args.csv, comparison.df.to_csv(index=False).encode(), force=args.force)
        print(f"results written to {args.csv}")
    print(
        f"\n{len(comparison.rows)} variants measured in {time.perf_counter() - started:.1f} s "
        f"on {os.cpu_count()} cores"
    )
    return 0 if all(r["status"] == "ok" for r in comparison.rows) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbopt", description="Measure optimized variants of Keras models."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compare", help="Compare post-training schemes on a saved model.")
    c.add_argument("model", help=".keras, .h5 or SavedModel folder")
    c.add_argument(
        "--scheme",
        default="",
        help="float16,dynamic,int8,int16x8 (default: all that the data allows)",
    )
    c.add_argument("--calib", help="representative samples: data.npz[:key] or data.npy")
    c.add_argument("--eval", help="labelled data: data.npz with arrays x and y (or data.npz:x,y)")
    c.add_argument("--io", default="float", choices=["float", "int8", "uint8"])
    c.add_argument("--threads", type=int, default=None)
    c.add_argument("--out", help="folder to write the .tflite files to")
    c.add_argument("--csv", help="file to write the results table to")
    c.add_argument("--force", action="store_true", help="replace existing files")
    c.add_argument(
        "--unsafe",
        action="store_true",
        help="allow code in .keras files (Lambda layers) to run: trusted files only",
    )
    c.set_defaults(func=cmd_compare)

    d = sub.add_parser("demo", help="Train a digits CNN and compare every post-training scheme.")
    d.add_argument("--epochs", type=int, default=12)
    d.add_argument("--out", help="folder to write the .tflite files to")
    d.add_argument("--csv", help="file to write the results table to")
    d.add_argument("--force", action="store_true", help="replace existing files")
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except NbOptError as exc:
        print(f"nbopt: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nbopt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
