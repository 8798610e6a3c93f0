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


_ZYGOTE_CELLS = [
    "%load_ext nbopt",
    # After %load_ext: the kernel, the zygote and the idle worker forked from it.
    "import os, psutil\n"
    "from nbopt.engine.convert import worker, zygote\n"
    "worker.ready()\n"
    "def pss(pid):\n"
    "    return psutil.Process(pid).memory_full_info().pss / 2**20\n"
    "first = worker.pid()\n"
    "idle = {'kernel': pss(os.getpid()), 'zygote': pss(zygote.get().pid), 'worker': pss(first)}",
    "import nbopt\n"
    "from nbopt.demo import digits_cnn, digits_data\n"
    "x_train, y_train, x_test, y_test = digits_data()\n"
    "model = digits_cnn()\n"
    "before = nbopt.quantize(model, 'int8', calib=x_train[:64], eval=(x_test, y_test))",
    # A worker that crashes is reported, and the next one is forked by the same zygote.
    "from nbopt.errors import ConversionError\n"
    "try:\n"
    "    worker.call(os.abort)\n"
    "except ConversionError as exc:\n"
    "    crash = str(exc)\n"
    "after = nbopt.quantize(model, 'int8', calib=x_train[:64], eval=(x_test, y_test))\n"
    "second = worker.pid()",
]
_ZYGOTE_PROBE = (
    "import json\n"
    "print('NBOPT-PROBE:' + json.dumps({\n"
    "    'idle': idle, 'crash': crash, 'first': first, 'second': second,\n"
    "    'zygote': zygote.get().pid, 'kernel': os.getpid(),\n"
    "    'names': [psutil.Process(p).name() for p in (zygote.get().pid, second)],\n"
    "    'parent': psutil.Process(second).ppid(),\n"
    "    'rows': [(m.row['status'], m.row['size_bytes']) for m in (before, after)],\n"
    "}))"
)


def test_a_kernel_forks_its_converter_workers_from_a_zygote(tmp_path):
    """%load_ext forks a zygote from the kernel once TensorFlow is imported; it forks the
    converter workers, which share TensorFlow's memory with the kernel instead of importing
    their own copy. A crash is still reported with its signal, the next worker is forked
    again, and neither process outlives the kernel."""
    import nbformat
    import psutil
    from notebook_runner import execute

    path = tmp_path / "zygote.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in _ZYGOTE_CELLS]
    nbformat.write(nb, path)
    run = execute(path, cwd=tmp_path, timeout=600, probe=_ZYGOTE_PROBE, label="zygote")
    got = run.probe
    idle = got["idle"]
    print(f"after %load_ext: {idle} MB; peak {run.memory.breakdown()}")
    assert got["names"] == ["nbopt-zygote", "nbopt-convert"]
    assert got["parent"] == got["zygote"] and got["second"] != got["first"]
    assert "crashed its worker process (signal SIGABRT)" in got["crash"]
    (status, size), again = got["rows"]
    assert status == "ok" and 50_000 < size < 200_000 and again == [status, size]
    # An exec'd worker imports TensorFlow itself: 359-417 MB idle. Forked: 85 + 86.
    assert idle["zygote"] + idle["worker"] < 250
    # Shut down with its kernel: they exit once the kernel's ends of their pipes close.
    left = [psutil.Process(p) for p in (got["zygote"], got["second"]) if psutil.pid_exists(p)]
    _, alive = psutil.wait_procs(left, timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
