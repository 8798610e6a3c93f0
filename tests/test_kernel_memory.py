"""What nbopt leaves in memory: the converter worker between calls, tfmot's import, and a
fine-tune whose result was dropped (the tutorials' peaks: tests/test_tutorials.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import nbopt

ROOT = Path(__file__).resolve().parent.parent


def test_the_worker_collects_and_trims_between_calls(trained_cnn):
    from nbopt.engine.convert import worker
    from nbopt.engine.convert.converter import convert, export_saved_model

    worker.shutdown()
    with export_saved_model(trained_cnn) as exported:
        assert convert(exported.path, "float32")[4:8] == b"TFL3"
    # glibc's malloc held to two arenas in the worker (unless the user chose otherwise).
    assert worker.call(os.getenv, "MALLOC_ARENA_MAX") == os.environ.get("MALLOC_ARENA_MAX", "2")
    # TensorFlow's objects were frozen after the first call: a collection after each call
    # looks at that call's objects only.
    assert worker.call(gc.get_freeze_count) > 100_000


def test_the_worker_imports_tensorflow_without_keras_or_pandas(trained_cnn, digits):
    from nbopt.engine.convert import worker
    from nbopt.engine.convert.converter import convert, export_saved_model

    with export_saved_model(trained_cnn) as exported:
        assert convert(exported.path, "int8", calib=[digits[0][:64]])[4:8] == b"TFL3"
    proc = Path(f"/proc/{worker.pid()}")
    maps = (proc / "maps").read_text()
    assert "tensorflow/python/" in maps and "pandas/_libs" not in maps
    status = (proc / "status").read_text().splitlines()
    anon_mb = int(next(ln for ln in status if ln.startswith("RssAnon")).split()[1]) / 1024
    print(f"worker anonymous memory after an int8 conversion: {anon_mb:.0f} MB")
    assert anon_mb < 215  # TensorFlow 2.21 alone: 181 MB; with tf_keras and pandas: 226 MB


def test_tfmot_is_imported_without_keras_3_which_stays_importable():
    code = (
        "import sys, tensorflow\n"
        "from nbopt.engine.model.keras_models import import_tfmot\n"
        "tfmot = import_tfmot()\n"
        "print('keras' in sys.modules, tfmot.sparsity.keras.prune_low_magnitude.__name__)\n"
        "import keras\n"
        "print(keras.__version__.split('.')[0])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_USE_LEGACY_KERAS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.splitlines() == ["False prune_low_magnitude", "3"]


def test_a_dropped_fine_tune_leaves_no_model_or_graph_behind(trained_cnn, digits):
    from tensorflow.python.framework import ops

    registry = ops._gradient_registry._registry
    x_train, y_train, x_test, y_test = digits
    before = set(registry)
    pruned = nbopt.prune(trained_cnn, 0.5, fit=(x_train, y_train), epochs=1, eval=(x_test, y_test))
    assert pruned.row["sparsity"] >= 0.45
    comparison = weakref.ref(pruned.comparison)
    del pruned
    gc.collect()
    assert comparison() is None  # the run, its rows' models and the fine-tuned copy are freed
    # TensorFlow registers the train function's custom gradients for good, and with them
    # its whole graph; nbopt's own fit drops the ones it made.
    assert [k for k in registry if k not in before] == []
