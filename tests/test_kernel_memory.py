"""What nbopt leaves in memory: tfmot's import, and a fine-tune whose result was dropped
(the tutorials' peaks: tests/test_tutorials.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import nbopt

ROOT = Path(__file__).resolve().parent.parent


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
