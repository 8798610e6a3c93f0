"""Every tutorial runs top to bottom in a fresh kernel, and says what users rely on.

Each notebook is executed with nbclient in a kernel running this venv's Python (a per-cell
timeout), from a temporary folder; a probe cell appended to it prints the numbers the
assertions check. Run time and peak memory are printed and asserted: the PSS of the kernel and
of every process it starts (the converter worker), sampled every 0.2 s (tests/kernel_memory.py),
with each process's share at the peak. Binder allows a session 2 GB and guarantees less, and
the Jupyter server and the page cache share it: the target, asserted, is 1.2 GB a tutorial
(see :data:`MEMORY_LIMIT_MB`; tutorial 5 is the exception, and says why). Tutorial 5 runs the
two MobileNets here (``NBOPT_TUTORIAL_ARCHS``): with all four, converting ResNet101V2 peaks at
about 4 GB.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import nbformat
import pytest
from notebook_runner import PROBE_MARK, execute

from nbopt.engine.store.schema import metric_drop

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
CELL_TIMEOUT = 600
#: Peak PSS (MB of 2**20 bytes) a tutorial may reach: Binder's 1.2 GB target. The converter
#: workers are forked from a zygote that the kernel forks once TensorFlow is imported
#: (nbopt.engine.convert.zygote), so they share TensorFlow's memory with the kernel: after
#: ``%load_ext nbopt`` the kernel, the zygote and the idle worker take 623 MB (452 + 86 + 85)
#: in the development venv, against 798 MB with an exec'd worker (916 in a fresh venv, whose
#: TensorFlow libraries are wholly in the page cache, so each page fault maps more of them).
#: The fresh clone CI runs in measured tutorials 1-4, 6 and 7 at 998-1,131 MB (development
#: venv: 879-1,020).
MEMORY_LIMIT_MB = 1200
#: Tutorials that cannot reach :data:`MEMORY_LIMIT_MB` without giving up the converter's crash
#: isolation, with the bound they keep. Tutorial 5 peaks at 1,189 MB (development venv) to
#: 1,248 MB (CI) while the worker converts a MobileNet (224x224) to int8 with calibration:
#: kernel 618-680 MB (the Keras runtime, the model, its SavedModel export, the LiteRT
#: Quantizer and the measurements besides the idle kernel) and zygote and worker 569-592 MB
#: (171 idle, the rest the conversion's own memory and the shared pages it writes to).
#: Converting in the kernel would save the worker, and a converter crash would then take the
#: kernel down.
MEMORY_LIMITS_MB = {"05_real_architectures.ipynb": 1300}
CI_ARCHS = os.environ.get("NBOPT_TUTORIAL_ARCHS", "MobileNet,MobileNetV2")


def _builder():
    path = TUTORIALS / "build_notebooks.py"
    spec = importlib.util.spec_from_file_location("build_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _probe(expr: str) -> str:
    return f"import json as _json\nprint({PROBE_MARK!r} + _json.dumps({expr}, default=str))"


def _run(name: str, probe: str, env: dict[str, str] | None = None, tmp_path: Path | None = None):
    run = execute(
        TUTORIALS / name, cwd=tmp_path, timeout=CELL_TIMEOUT, probe=_probe(probe), env=env
    )
    print(
        f"\n{name}: {run.seconds:.0f} s, peak PSS {run.peak_mb:.0f} MB ({run.memory.breakdown()})"
    )
    limit = MEMORY_LIMITS_MB.get(name, MEMORY_LIMIT_MB)
    assert run.peak_mb <= limit, f"{name} peaked at {run.peak_mb:.0f} MB: {run.memory.breakdown()}"
    return run


def _rows(records: list[dict], key: str = "scheme") -> dict[str, dict]:
    return {r[key]: r for r in records}


def test_notebooks_are_generated_and_stripped():
    builder = _builder()
    committed = sorted(p.name for p in TUTORIALS.glob("*.ipynb"))
    assert committed == sorted(builder.NOTEBOOKS), "run python tutorials/build_notebooks.py"
    for name in committed:
        text = (TUTORIALS / name).read_text()
        assert text == builder.render(name), f"{name} differs from tutorials/build_notebooks.py"
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code)
        assert code[0].source == "%load_ext nbopt", f"{name}: load nbopt before TensorFlow"
        assert "you will learn" in nb.cells[0].source, f"{name} opens with what is learned"
        assert "What to try next" in nb.cells[-1].source, f"{name} ends with what to try next"


def test_quick_start(tmp_path):
    run = _run(
        "01_quick_start.ipynb",
        "{'rows': cmp.df.to_dict('records'), 'io_row': int8_only.row, "
        "'by_hand': correct / len(y_test), 'keras': keras_accuracy, "
        "'saved': sorted(p.name for p in Path('tutorial_models').iterdir())}",
        tmp_path=tmp_path,
    )
    p = run.probe
    rows = _rows(p["rows"])
    assert [r["status"] for r in rows.values()].count("ok") >= 4  # int16x8 may fail
    assert rows["int8"]["size_ratio"] >= 3.3
    assert rows["dynamic"]["size_ratio"] >= 3.3
    assert rows["float16"]["size_ratio"] >= 1.9
    assert rows["float32"]["accuracy"] == pytest.approx(p["keras"], abs=0.01)
    assert rows["int8"]["accuracy_delta"] >= -0.02
    assert p["io_row"]["io"] == "int8"
    # The integer-only model run by hand with the LiteRT interpreter agrees with nbopt.
    assert p["by_hand"] == pytest.approx(p["io_row"]["accuracy"], abs=0.003)
    assert p["saved"] == ["digits_int8.tflite", "digits_int8_io.tflite"]


def test_quantization_aware_training(tmp_path):
    run = _run(
        "02_quantization_aware_training.ipynb",
        "{'rows': ptq.df.to_dict('records'), 'qat': qat_model.row, "
        "'sensitive': __import__('nbopt').recommend(model, x_train[:256]).sensitive}",
        tmp_path=tmp_path,
    )
    rows = _rows(run.probe["rows"])
    qat = run.probe["qat"]
    assert "features" in run.probe["sensitive"]
    # Post-training int8 loses at least a point on the mixed-scale model; QAT wins it back.
    assert rows["int8"]["accuracy_delta"] <= -0.01
    assert qat["accuracy"] > rows["int8"]["accuracy"]
    assert qat["accuracy_delta"] >= -0.01
    assert qat["technique"] == "qat" and qat["size_ratio"] >= 3.3


def test_pruning_and_clustering(tmp_path):
    run = _run(
        "03_pruning_and_clustering.ipynb",
        "{'base': ptq_int8.comparison.df.to_dict('records'), 'pruned': pruned.row, "
        "'clustered': clustered.row, 'pruned_int8': pruned_int8.row, "
        "'pci8': pruned_clustered_int8.row, 'sweep': sweep}",
        tmp_path=tmp_path,
    )
    p = run.probe
    base = _rows(p["base"])
    float_gzip = base["float32"]["gzip_bytes"]
    assert p["pruned"]["sparsity"] >= 0.75
    assert p["pruned"]["size_bytes"] == pytest.approx(base["float32"]["size_bytes"], rel=0.05)
    assert p["pruned"]["gzip_bytes"] < 0.5 * float_gzip
    assert p["clustered"]["max_distinct_values"] <= 16
    assert p["clustered"]["gzip_bytes"] < 0.5 * float_gzip
    # Combined with int8, the download beats int8 alone.
    assert p["pruned_int8"]["gzip_bytes"] < base["int8"]["gzip_bytes"]
    assert p["pci8"]["gzip_bytes"] < base["int8"]["gzip_bytes"]
    assert [s["sparsity"] >= s["target"] - 0.05 for s in p["sweep"]] == [True] * 4
    for row in (p["pruned"], p["clustered"], p["pci8"]):
        assert row["accuracy_delta"] >= -0.05


def test_choosing_a_scheme(tmp_path):
    run = _run(
        "04_choosing_a_scheme.ipynb",
        "{'state': panel.state, 'df': panel.df.to_dict('records'), 'pareto': panel.pareto, "
        "'trail': rec.trail, 'edge': edge_model.row, 'file': from_file.df.to_dict('records'), "
        "'downloaded': downloaded.scheme}",
        tmp_path=tmp_path,
    )
    p = run.probe
    assert p["state"] == "done"
    variants = _rows(p["df"], "variant")
    assert {"float32", "float16", "dynamic", "int8", "qat", "prune", "cluster"} <= set(variants)
    assert all(r["status"] == "ok" for r in variants.values())
    assert p["pareto"] and set(p["pareto"]) <= set(variants)
    assert variants["int8"]["size_ratio"] >= 3.3
    assert variants["prune"]["sparsity"] >= 0.75
    assert p["trail"] and p["trail"][0]["scheme"] == "int8"
    assert p["edge"]["edgetpu_ready"] is True
    assert variants["float16"]["gpu_compatible"] is True
    assert not variants["dynamic"]["edgetpu_ready"]
    from_file = _rows(p["file"], "scheme")
    assert p["downloaded"] == "float32" and list(from_file) == [
        "float32",
        "float16",
        "dynamic",
        "int8",
        "int4",
    ]
    assert all(r["status"] == "ok" for r in from_file.values())
    assert from_file["float32"]["technique"] == "baseline" and from_file["int8"]["io"] == "int8"
    assert from_file["int4"]["size_ratio"] >= 7 and from_file["dynamic"]["size_ratio"] >= 3.3


def test_real_architectures(tmp_path):
    run = _run(
        "05_real_architectures.ipynb",
        "{'rows': results.to_dict('records'), 'archs': architectures}",
        env={"NBOPT_TUTORIAL_ARCHS": CI_ARCHS},
        tmp_path=tmp_path,
    )
    rows = run.probe["rows"]
    assert run.probe["archs"] == CI_ARCHS.split(",")
    for arch in run.probe["archs"]:
        mine = _rows([r for r in rows if r["model"] == arch])
        assert set(mine) == {"float32", "float16", "dynamic", "int8"}
        assert mine["float16"]["size_ratio"] == pytest.approx(2.0, abs=0.05)
        assert mine["int8"]["size_ratio"] >= 3.5
        assert all(r["latency_ms"] > 0 for r in mine.values())
    # Random weights: no accuracy is measured, so none may appear.
    assert all(r["accuracy"] is None or math.isnan(r["accuracy"]) for r in rows)


def test_debugging_int8(tmp_path):
    run = _run(
        "06_debugging_int8.ipynb",
        "{'plain': plain.comparison.df.to_dict('records'), 'debug': report.df.to_dict('records'), "
        "'suspects': report.suspects, 'fixed': fixed.row, 'trail': best.comparison.rows, "
        "'best': best.row, 'speech': speech.df.to_dict('records')}",
        tmp_path=tmp_path,
    )
    p = run.probe
    plain = _rows(p["plain"])
    assert plain["float32"]["accuracy"] >= 0.9 and plain["int8"]["accuracy"] <= 0.3
    assert [r["layer"] for r in p["debug"][:2]] == ["hidden", "mid"]
    assert p["suspects"] == ["hidden", "mid"]
    assert all(r["sensitivity"] < 0.01 for r in p["debug"][2:])
    assert p["fixed"]["float_layers"] == "hidden,mid" and p["fixed"]["float_ops"] == 2
    assert p["fixed"]["accuracy_delta"] >= -0.01
    assert p["best"]["chosen"] and p["best"]["float_layers"] == "hidden,mid"
    assert p["best"]["accuracy_delta"] >= -0.02
    assert [r.get("float_layers") for r in p["trail"][:4]] == [None, "", "hidden", "hidden,mid"]
    speech = _rows(p["speech"])  # an error rate: lower is better
    assert {r["metric"] for r in speech.values()} == {"error_rate"}
    assert not any(r["higher_is_better"] for r in speech.values())
    error = {k: r["accuracy"] for k, r in speech.items()}
    assert error["float32"] <= error["int16x8"] < error["int8"]
    assert error["int8"] - error["float32"] > 0.3  # int8 loses clearly
    assert error["int16x8"] - error["float32"] < (error["int8"] - error["float32"]) / 2


def test_optimizing_for_a_target(tmp_path):
    run = _run(
        "07_optimizing_for_a_target.ipynb",
        "{'rows': search.rows, 'index': search.index, 'best': best.row, 'line': search.line, "
        "'runs': search.runs, 'trail': search.trail, "
        "'mcu': mcu.rows, 'tiny': tiny.row, "
        "'saved': {p.name: p.stat().st_size for p in Path('tutorial_models').iterdir()}, "
        "'reloaded': nbopt.load('tutorial_models/digits_smallest.tflite')"
        ".evaluate(x_test, y_test)}",
        tmp_path=tmp_path,
    )
    p = run.probe
    rows, best = p["rows"], p["best"]
    assert p["runs"] <= 10  # --budget 10: candidates run, a fine-tune counting once
    made = [r for r in rows if r["status"] == "ok" or r.get("run_id")]
    assert len(made) > p["runs"]  # a fine-tune's variants: measured, or not when they cannot win
    for r in rows:
        if r["status"] == "skipped":
            done = "not measured: " if r.get("size_bytes") else "not run: "
            assert r["verdict"].startswith(done), r["candidate"]
    if p["runs"] == 10:
        assert any(r["verdict"] == "not run: budget spent (10 candidates)" for r in rows)
    else:
        assert p["trail"][-1] == "no remaining candidate can improve the pick"
    for r in rows:
        if r["status"] == "ok":
            over = metric_drop(r) > 0.01
            assert (r["verdict"] == "over budget") == over, r["candidate"]
    within = [r for r in rows if r["verdict"] in ("kept", "dominated")]
    chosen = rows[p["index"]]
    assert chosen["verdict"] == "kept"
    assert chosen["size_bytes"] == min(r["size_bytes"] for r in within)
    # Chosen on the 300 validation images, reported on the 360 test images.
    assert chosen["eval_samples"] == 300 and best["eval_samples"] == 360
    assert best["val_accuracy"] == chosen["accuracy"] and best["size_bytes"] == chosen["size_bytes"]
    assert best["accuracy"] >= 0.9 and best["accuracy_delta"] >= -0.03
    assert p["line"].startswith("%") and "--eval x_test,y_test" in p["line"]
    # The microcontroller: only what TFLite Micro runs, within 8 KB of RAM and 160 KB of flash.
    tiny = p["tiny"]
    assert tiny["mcu_ready"] is True and tiny["io"] == "int8"
    assert tiny["ram_bytes"] <= 8 * 1024 and tiny["size_bytes"] <= 160 * 1024
    for r in p["mcu"]:
        if r["status"] == "ok" and r["mcu_ready"] is not True:
            assert r["verdict"] == "excluded: does not run under TFLite Micro", r["candidate"]
        if r["status"] == "ok" and r["verdict"] in ("kept", "dominated"):
            assert r["ram_bytes"] <= 8 * 1024 and r["size_bytes"] <= 160 * 1024
    assert any("over --ram-kb 8" in r["verdict"] for r in p["mcu"])
    # The saved files are the picks; the reloaded one measures what the search reported.
    assert p["saved"] == {
        "digits_smallest.tflite": best["size_bytes"],
        "digits_mcu.tflite": tiny["size_bytes"],
    }
    assert p["reloaded"] == pytest.approx(best["accuracy"])
