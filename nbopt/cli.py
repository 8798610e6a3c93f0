"""The ``nbopt`` command: compare schemes on a saved model, or run the demo."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .display import comparison_text
from .engine.request.option import CLI, COMPARE
from .errors import NbOptError, NbOptUsageError
from .surface import add_options, given


def _quiet_tensorflow() -> None:
    """Select tf_keras and import TensorFlow with its native lines kept, not printed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from .engine import capture

    capture.import_tensorflow()


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
    if not unsafe and loaders == ("tf_keras",) and _has_code(p):
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


def _has_code(path: Path) -> bool:
    """:func:`_legacy_file_has_code`, with a damaged file said in one line."""
    try:
        return _legacy_file_has_code(path)
    except (OSError, ValueError) as exc:
        raise NbOptUsageError(f"cannot load {path}: {_first(exc)}") from None


def _first(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


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
    """``data.npz`` (keys x and y, or the first one or two arrays) or ``data.npy``; a file
    that is damaged or holds no such arrays is one line."""
    import zipfile
    import zlib

    try:
        return _load_arrays(spec, want_labels)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        if isinstance(exc, NbOptUsageError):
            raise
        path = spec.partition(":")[0]
        raise NbOptUsageError(f"{path} is not a readable .npz/.npy file: {_first(exc)}") from None


def _load_arrays(spec: str, want_labels: bool) -> Any:
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
            return np.asarray(data[names[0]]), np.asarray(data[names[1]])
        return np.asarray(data[names[0]])


def _writable(path: Path, option: str) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
        raise NbOptUsageError(f"{option} {path}: cannot write into {ancestor}")


def check_outputs(csv: str | None, out: str | None, files: list[str], force: bool) -> None:
    """Check every output path before any work: nothing measured is lost to a bad path.

    ``files`` are the ``.tflite`` names that ``--out`` will receive.
    """
    if csv:
        target = Path(csv).expanduser()
        if target.is_dir():
            raise NbOptUsageError(f"--csv {csv} is a folder; name a file, e.g. --csv results.csv")
        if target.exists() and not force:
            raise NbOptUsageError(
                f"--csv {csv} already exists; choose another file or pass --force to replace it"
            )
        _writable(target, "--csv")
    if out:
        folder = Path(out).expanduser()
        if folder.exists() and not folder.is_dir():
            raise NbOptUsageError(f"--out {out} is a file; name a folder for the .tflite files")
        taken = [name for name in files if (folder / name).exists()]
        if taken and not force:
            raise NbOptUsageError(
                f"--out {out} already holds {', '.join(taken)}; choose another folder or "
                "pass --force to replace them"
            )
        _writable(folder / "x.tflite", "--out")


def _planned(args: argparse.Namespace) -> list[str]:
    """The schemes ``compare`` will measure (float32 first), checked against its data."""
    from .engine.convert.converter import NEEDS_CALIBRATION, SCHEMES, parse_schemes

    schemes = parse_schemes(args.scheme) if args.scheme else list(SCHEMES)
    missing = [s for s in schemes if s in NEEDS_CALIBRATION] if not args.calib else []
    if missing and args.scheme:
        raise NbOptUsageError(
            f"{', '.join(missing)} needs calibration data: pass --calib calib.npz "
            "(an .npz file of representative samples, array x)"
        )
    schemes = [s for s in schemes if s not in missing]
    return ["float32", *[s for s in schemes if s != "float32"]]


class _Rows:
    """The rows measured since it was made (they are recorded in nbopt.results() as each is
    measured), so an interrupted run still has its results; prints progress."""

    def __init__(self) -> None:
        from .engine.store import results

        self.store = results
        self.before = len(results.rows())

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.store.rows()[self.before :]

    def __call__(self, event: Any) -> None:
        _progress(event)


def _write_csv(path: str, rows: list[dict[str, Any]], force: bool) -> bool:
    """Write the rows; if that fails after all, keep them in a spare file. True if written."""
    import tempfile

    from .engine.store.results import csv_text, frame, write_csv

    try:
        write_csv(rows, path, force=force)
        print(f"results written to {path}")
        return True
    except (OSError, NbOptError) as exc:
        fd, spare = tempfile.mkstemp(prefix="nbopt-results-", suffix=".csv")
        with os.fdopen(fd, "wb") as fh:
            fh.write(csv_text(frame(rows)).encode())
        print(f"nbopt: error: {exc}; the results are kept in {spare}", file=sys.stderr)
        return False


def cmd_compare(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    stem = Path(args.model).stem
    schemes = _planned(args)
    files = [f"{stem}_{s}.tflite" for s in schemes]
    check_outputs(args.csv, args.save, files, args.force)
    from .api import quantize

    if args.model.endswith(".tflite"):
        from .api import load

        model = load(args.model, name=stem)  # verified before anything reads it
    else:
        model = load_keras_model(args.model, unsafe=args.unsafe)
    options = _options(args)
    kept = _Rows()
    try:
        comparison = quantize(model, name=stem, progress=kept, **options)
    except KeyboardInterrupt:
        if args.csv and kept.rows:
            _write_csv(args.csv, kept.rows, args.force)
        where = f" (in {args.csv})" if args.csv and kept.rows else ""
        print(f"nbopt: interrupted; {len(kept.rows)} rows were measured{where}", file=sys.stderr)
        return 130
    print(comparison_text(comparison))
    code = 1 if any(r["status"] == "failed" for r in comparison.rows) else 0
    if args.csv and not _write_csv(args.csv, comparison.rows, args.force):
        code = 2
    if args.save:
        for m in comparison.models.values():
            print(f"wrote {m.save(args.save + os.sep, force=args.force)}")
    return code


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """``compare``'s options as API keywords: data files read, the files left to the CLI."""
    from .engine.convert.converter import parse_schemes

    options = given(args, COMPARE, CLI)
    for kept_here in ("save", "force"):
        options.pop(kept_here, None)
    if "scheme" in options:
        options["scheme"] = parse_schemes(options["scheme"])  # a list: always a comparison
    for name in ("calib", "eval"):
        if name in options:
            options[name] = load_arrays(options[name], want_labels=name == "eval")
    return options


def cmd_demo(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    started = time.perf_counter()
    schemes = ("float32", "float16", "dynamic", "int8", "int16x8")
    files = [f"digits_cnn_{s}.tflite" for s in schemes]
    check_outputs(args.csv, args.out, files, args.force)
    from .api import quantize
    from .demo import trained_digits_cnn

    print("Training a CNN on scikit-learn's digits (1,437 training images)...", flush=True)
    model, (x_train, y_train, x_test, y_test) = trained_digits_cnn(epochs=args.epochs)
    _, keras_acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"Keras model: {model.count_params():,} parameters, test accuracy {keras_acc:.2%}")
    comparison = quantize(
        model,
        list(schemes[1:]),
        x_train[:256],
        (x_test, y_test),
        progress=_progress,
    )
    print()
    print(comparison_text(comparison))
    code = 0 if all(r["status"] == "ok" for r in comparison.rows) else 1
    if args.csv and not _write_csv(args.csv, comparison.rows, args.force):
        code = 2
    if args.out:
        for m in comparison.models.values():
            print(f"wrote {m.save(args.out + os.sep, force=args.force)}")
    print(
        f"\n{len(comparison.rows)} variants measured in {time.perf_counter() - started:.1f} s "
        f"on {os.cpu_count()} cores"
    )
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbopt", description="Measure optimized variants of Keras models."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compare", help="Compare post-training schemes on a saved model.")
    c.add_argument("model", help=".keras, .h5, SavedModel folder or .tflite")
    add_options(c, COMPARE, CLI)
    c.add_argument("--csv", help="file to write the results table to")
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
