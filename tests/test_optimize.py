"""``nbopt.optimize`` and ``%nbopt optimize``: the search's candidates, verdicts and pick.

Real TensorFlow and tfmot on the digits CNN; budgets in candidates keep it short.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbopt
from nbopt.engine.store.schema import metric_drop
from nbopt.errors import NbOptUsageError

PTQ = ["float16", "dynamic", "int8", "int16x8", "int4", "int4-block32", "weight-int8"]
#: The training candidates, in the order of their first rung.
TRAINING = ["qat", "prune 0.5", "prune 0.8", "cluster 16", "cluster 8"]
TRAINING += ["pqat 0.5", "pqat 0.8", "cqat 16", "cqat 8"]
#: The rows of each training candidate's variants.
VARIANTS = {
    "prune": ["", " sparse", "+int8", "+int8 sparse"],
    "cluster": ["", "+int8"],
    "qat": [""], "pqat": [""], "cqat": [""],
}  # fmt: skip


def _training_rows(result, label):
    """The rows of training candidate ``label`` (its first rung), and how it ended."""
    rows = [r for r in result.rows if r["candidate"].split("+")[0].split(" sparse")[0] == label]
    return [r for r in rows if "," not in r["candidate"]]


@pytest.fixture(scope="module")
def searched(trained_cnn, digits):
    """A search of 9 candidates (the PTQ schemes, then training) on the digits CNN."""
    x_train, y_train, x_test, y_test = digits
    events = []
    result = nbopt.optimize(
        trained_cnn,
        "size",
        0.01,
        fit=(x_train, y_train),
        eval=(x_test, y_test),
        budget=9,
        progress=events.append,
    )
    return result, events


def _split(digits):
    """A validation split of the training data, and calibration samples."""
    x_train, y_train, _, _ = digits
    return (x_train[-300:], y_train[-300:]), x_train[:200]


def test_pick_is_the_smallest_within_max_drop_on_val_and_reported_on_eval(searched, digits):
    result, _ = searched
    _, _, x_test, y_test = digits
    df = result.df
    labels = list(df["candidate"])
    assert labels[:8] == [*PTQ, "int8 float layers"]
    for label in TRAINING:  # one skipped row, or a row per variant of its fine-tune
        rows = _training_rows(result, label)
        kind = label.split()[0]
        if rows[0]["status"] == "skipped" and not rows[0].get("run_id"):  # did not run
            assert [r["candidate"] for r in rows] == [label]
        else:
            assert [r["candidate"] for r in rows] == [label + v for v in VARIANTS[kind]]
    within = [r for r in result.rows if r["status"] == "ok" and metric_drop(r) <= 0.01]
    assert within, "no candidate within max_drop"
    smallest = min(r["size_bytes"] for r in within)
    chosen = result.rows[result.index]
    assert chosen["size_bytes"] == smallest
    assert metric_drop(chosen) <= 0.01
    pick = result.pick
    assert isinstance(pick, nbopt.TFLiteModel)
    assert pick.size == smallest
    # Reported on eval, not on the validation split it was chosen by.
    assert pick.row["eval_samples"] == len(y_test)
    assert pick.row["accuracy"] == pytest.approx(pick.evaluate(x_test, y_test))
    assert pick.row["val_accuracy"] == chosen["accuracy"]
    assert chosen["eval_samples"] == len(digits[1]) // 5  # the seeded 20% of fit
    assert chosen["candidate"] in result.reason and "max_drop 0.01" in result.reason
    assert result.line.startswith("%") and "--eval x_test,y_test" in result.line


def test_variants_that_cannot_beat_the_best_so_far_are_not_measured(searched):
    """A fine-tune's variant whose file is larger than the best within max_drop before its
    phase is not measured (its size is known); a stored-sparse one whose least possible
    size is larger is not converted. Either is skipped with the reason."""
    result, _ = searched
    shape = (
        r"(not measured|not run): cannot beat (.+) \(([\d,]+) bytes\): "
        r"its size is (at least about )?([\d,]+) bytes"
    )
    pick = result.rows[result.index]
    unmeasured = [r for r in result.rows if r["status"] == "skipped" and r.get("run_id")]
    assert unmeasured  # on the digits CNN, int4's 83 KB beats every pruned variant
    for r in unmeasured:
        done, label, best, at_least, size = re.fullmatch(shape, r["verdict"]).groups()
        best, size = int(best.replace(",", "")), int(size.replace(",", ""))
        assert size > best >= pick["size_bytes"]
        assert any(o["candidate"] == label and o["size_bytes"] == best for o in result.rows)
        assert r.get("accuracy") is None and r.get("latency_ms") is None
        if done == "not measured":
            assert r["size_bytes"] == size and not at_least
        else:
            assert r["stored_sparse"] and at_least and r.get("size_bytes") is None


def test_verdicts_follow_drop_front_and_budget(searched):
    result, events = searched
    rows = result.rows
    assert result.runs == 9  # the budget: nine candidates run (a fine-tune counts once)
    ran = [r for r in rows if r["status"] in ("ok", "failed")]
    assert all(r["status"] == "ok" for r in ran)
    for r in ran:
        if metric_drop(r) > 0.01:
            assert r["verdict"] == "over budget"
        else:
            assert r["verdict"] in ("kept", "dominated")
    within = [r for r in ran if r["verdict"] in ("kept", "dominated")]
    for r in within:
        beaten = any(
            o["size_bytes"] <= r["size_bytes"]
            and metric_drop(o) <= metric_drop(r)
            and (o["size_bytes"] < r["size_bytes"] or metric_drop(o) < metric_drop(r))
            for o in within
        )
        assert (r["verdict"] == "dominated") == beaten, r["candidate"]
    float_search = next(r for r in rows if r["candidate"] == "int8 float layers")
    int8 = next(r for r in rows if r["candidate"] == "int8")
    if metric_drop(int8) <= 0.01:
        assert float_search["verdict"] == "not run: plain int8 is within max_drop"
    else:
        assert float_search["status"] == "ok"
    skipped = [
        r for r in rows
        if r["status"] == "skipped" and r["candidate"] in TRAINING and not r.get("run_id")
    ]  # fmt: skip
    reasons = (
        r"not run: (cannot beat |budget spent \(9 candidates\)$|(prune|cluster) \S+ did not run$)"
    )
    assert skipped and all(re.match(reasons, r["verdict"]) for r in skipped), skipped
    assert list(result.front["verdict"].unique()) == ["kept"]
    assert len(result.front) == sum(r["verdict"] == "kept" for r in rows)
    # Progress: a start, a step for the post-training schemes (one comparison, one float32
    # baseline) and one per fine-tune, a row for each row a run made, then done.
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    unmeasured = [r for r in rows if r["status"] == "skipped" and r.get("run_id")]
    assert kinds.count("step") == 1 + (9 - 7)
    assert kinds.count("row") == len(ran) + len(unmeasured)
    steps = [e.scheme for e in events if e.kind == "step"]
    assert steps[0] == ", ".join(PTQ)
    assert "best so far" in next(e.message for e in events if e.kind == "step")


def test_a_candidate_that_cannot_win_is_not_run_and_says_why(searched):
    """A training candidate whose every variant is, at best, no smaller than the best row
    within max_drop so far (QAT and clustering leave the file int8-sized) is not run."""
    result, _ = searched
    best_before = {}
    for i, r in enumerate(result.rows):
        if r["verdict"].startswith("not run: cannot beat "):
            name, value = re.match(
                r"not run: cannot beat (.+) \(([\d,]+) bytes\)", r["verdict"]
            ).groups()
            floor = re.search(r"at least about ([\d,]+) bytes$", r["verdict"]).group(1)
            assert int(floor.replace(",", "")) >= int(value.replace(",", ""))
            best = next(o for o in result.rows[:i] if o["candidate"] == name)
            assert best["size_bytes"] == int(value.replace(",", "")) and metric_drop(best) <= 0.01
            best_before[r["candidate"]] = name
    int8 = next(r for r in result.rows if r["candidate"] == "int8")
    smallest = min(
        r["size_bytes"] for r in result.rows[:7] if r["status"] == "ok" and metric_drop(r) <= 0.01
    )
    if smallest < 0.95 * int8["size_bytes"]:  # QAT makes an int8-sized file: it cannot win
        assert "qat" in best_before


def test_edgetpu_excludes_models_without_integer_io(trained_cnn, digits):
    _, _, x_test, y_test = digits
    val, calib = _split(digits)
    result = nbopt.optimize(
        trained_cnn, "size", 0.05, calib=calib, eval=(x_test, y_test), val=val,
        target="edgetpu", budget=1,
    )  # fmt: skip
    by = {r["candidate"]: r for r in result.rows}
    excluded = [c for c, r in by.items() if r["verdict"].startswith("excluded")]
    assert excluded == [*[s for s in PTQ if s != "int8"], "int8 float layers"]
    assert by["int8"]["io"] == "int8" and by["int8"]["edgetpu_ready"] is True
    assert [r["status"] for r in result.rows].count("ok") == 1
    assert all(by[c]["verdict"] == "not run: it fine-tunes; pass --fit" for c in TRAINING)
    assert by["int8"]["verdict"] == "kept"
    assert result.pick.row["io"] == "int8"
    assert result.line == (
        "%quantize digits_cnn --scheme int8 --calib x_calib --io int8 --eval x_test,y_test"
    )


def test_mcu_excludes_what_tflite_micro_cannot_run_or_what_needs_more_ram(trained_cnn, digits):
    _, _, x_test, y_test = digits
    val, calib = _split(digits)
    result = nbopt.optimize(
        trained_cnn, "size", 0.05, calib=calib, eval=(x_test, y_test), val=val,
        target="mcu", ram_kb=3, budget=4,
    )  # fmt: skip
    ok = [r for r in result.rows if r["status"] == "ok"]
    assert [r["candidate"] for r in ok] == ["float16", "dynamic", "int8", "int16x8"]
    micro = "excluded: does not run under TFLite Micro"
    for r in ok:
        if r["mcu_ready"] is not True:
            assert r["verdict"] == micro
        elif r["ram_bytes"] > 3 * 1024:
            assert (
                r["verdict"]
                == f"excluded: needs {r['ram_bytes'] / 1024:,.1f} KB RAM, over --ram-kb 3"
            )
        else:
            assert r["verdict"] in ("kept", "dominated", "over budget")
    verdicts = [r["verdict"] for r in ok]
    assert verdicts.count(micro) >= 1 and any("over --ram-kb 3" in v for v in verdicts)
    by = {r["candidate"]: r for r in ok}
    assert by["int8"]["io"] == "int8" and by["int8"]["verdict"] == "kept"
    assert result.pick.size == by["int8"]["size_bytes"]


def test_a_time_budget_stops_the_search(trained_cnn, digits):
    """A time budget is checked before each run starts (the post-training schemes are one
    run: one comparison): spent by then, no fine-tune starts."""
    x_train, y_train, x_test, y_test = digits
    val, calib = _split(digits)
    result = nbopt.optimize(
        trained_cnn, calib=calib, fit=(x_train[:-300], y_train[:-300]), eval=(x_test, y_test),
        val=val, budget="0.05s",
    )  # fmt: skip
    assert [r["candidate"] for r in result.rows if r["status"] == "ok"] == PTQ
    lines = [r for r in result.rows if r["candidate"] in TRAINING]
    assert len(lines) == len(TRAINING) and all(r["status"] == "skipped" for r in lines)
    spent = [r for r in lines if re.match(r"not run: budget spent \(\d+ s\)$", r["verdict"])]
    assert spent and result.runs == 7


def _error_rate(y_true, y_pred):
    return float(np.mean(np.argmax(y_pred, axis=1) != y_true))


_error_rate.higher_is_better = False


@pytest.fixture(scope="module")
def regression(digits):
    """A small regression (the digit's value from its pixels): mean squared error."""
    import tf_keras

    x_train, y_train, _, _ = digits
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential(
        [
            tf_keras.layers.Flatten(input_shape=x_train.shape[1:]),
            tf_keras.layers.Dense(32, activation="relu"),
            tf_keras.layers.Dense(1),
        ]
    )
    model.compile("adam", "mse")
    model.fit(x_train, y_train.astype("float32"), epochs=5, verbose=0)
    return model


def test_lower_is_better_metric_respected_in_max_drop(regression, digits):
    """Mean squared error may rise by max_drop at most: a fall is no drop at all."""
    _, _, x_test, y_test = digits
    (x_val, y_val), calib = _split(digits)
    val, test = (x_val, y_val.astype("float32")), (x_test, y_test.astype("float32"))
    result = nbopt.optimize(regression, "size", 0.0, calib=calib, eval=test, val=val, budget=5)
    ok = [r for r in result.rows if r["status"] == "ok"]
    assert len(ok) == 5
    assert {r["metric"] for r in ok} == {"mse"}
    # Some errors fell: read as accuracy (higher is better) they would be over budget.
    assert any(r["accuracy_delta"] < 0 for r in ok)
    for r in ok:
        assert r["higher_is_better"] is False
        assert (r["verdict"] == "over budget") == (r["accuracy_delta"] > 0), r["candidate"]
    chosen = result.rows[result.index]
    assert chosen["accuracy_delta"] <= 0
    assert result.pick.row["accuracy"] == pytest.approx(
        float(np.mean((result.pick.predict(x_test)[:, 0] - y_test) ** 2)), rel=1e-5
    )


def test_a_callable_lower_is_better_metric_is_read_as_such(trained_cnn, digits):
    _, _, x_test, y_test = digits
    val, calib = _split(digits)
    result = nbopt.optimize(
        trained_cnn, "size", 0.0, calib=calib, eval=(x_test, y_test), val=val,
        metric=_error_rate, budget=1,
    )  # fmt: skip
    row = result.rows[0]
    assert row["higher_is_better"] is False
    assert (row["verdict"] == "over budget") == (row["accuracy_delta"] > 0)


def test_a_candidate_budget_makes_the_same_choices_twice(trained_cnn, digits):
    _, _, x_test, y_test = digits
    val, calib = _split(digits)
    runs = [
        nbopt.optimize(
            trained_cnn, "gzip", 0.02, calib=calib, eval=(x_test, y_test), val=val, budget="3"
        )
        for _ in range(2)
    ]
    first, second = ([(r["candidate"], r["status"], r["verdict"]) for r in x.rows] for x in runs)
    assert first == second
    assert [c for c, status, _ in first if status == "ok"] == ["float16", "dynamic", "int8"]
    assert runs[0].line == runs[1].line


def test_one_line_mistakes(trained_cnn, digits):
    _, _, x_test, y_test = digits
    with pytest.raises(NbOptUsageError, match=r"^budget must be a number of candidates"):
        nbopt.optimize(trained_cnn, eval=(x_test, y_test), val=(x_test, y_test), budget="soon")
    with pytest.raises(NbOptUsageError, match=r"^optimize reports the pick on --eval"):
        nbopt.optimize(trained_cnn, val=(x_test, y_test))


def test_latency_for_a_gpu_is_refused_in_one_line(ip, ns):
    line = "optimize model --goal latency --target gpu --fit x_train,y_train --eval x_test,y_test"
    with pytest.raises(UsageError) as err:
        ip.run_line_magic("nbopt", line)
    assert str(err.value) == (
        "--goal latency is measured on this machine's CPU; it cannot rank models for gpu: "
        "use --goal size, gzip or ram"
    )


def test_magic_binds_the_pick_with_as(ip, ns):
    ns.pop("best", None)
    result = ip.run_line_magic(
        "nbopt",
        "optimize model --goal size --max-drop 0.02 --fit x_train,y_train "
        "--eval x_test,y_test --budget 3 --as best",
    )
    assert [r["status"] for r in result.rows].count("ok") == 3
    assert ns["best"] is result.pick
    # Every measured candidate is a row of the results store, with its float32 baseline.
    stored = nbopt.results(all=True)
    for r in (r for r in result.rows if r["status"] == "ok"):
        run = stored[stored["run_id"] == r["run_id"]]
        assert {"float32", r["scheme"]} <= set(run["scheme"])  # one comparison, one baseline
        assert list(run["scheme"]).count("float32") == 1
        assert int(run[run["scheme"] == r["scheme"]]["size_bytes"].iloc[0]) == r["size_bytes"]
    assert isinstance(ns["best"], nbopt.TFLiteModel)
    scheme = result.pick.row["scheme"]
    calib = " --calib x_train" if scheme in ("int8", "int16x8") else ""
    assert result.line == f"%quantize model --scheme {scheme}{calib} --eval x_test,y_test"


def test_a_later_rung_continues_from_the_saved_weights(trained_cnn, digits):
    """A rung after the first starts from the wrapped copy's saved weights: with no more
    training, pruning 0.8 from them gives the pruned model back (80% zeros), where
    starting from the model's own weights gives an unpruned one."""
    from nbopt.api.context import with_settings
    from nbopt.api.techniques import _train
    from nbopt.engine.request import Request

    x_train, y_train, x_test, y_test = digits
    request = with_settings(
        Request.build(
            "prune", sparsity=0.8, fit=(x_train, y_train), eval=(x_test[:90], y_test[:90])
        )
    ).with_options(keep_weights=True)
    first = _train(trained_cnn, request)
    assert first.row["sparsity"] >= 0.79
    untrained = request.with_options(fine_tune=lambda wrapped: None)
    again = _train(trained_cnn, untrained.with_options(start_from=first.trained_weights))
    for a, b in zip(first.keras_model.get_weights(), again.keras_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert again.row["sparsity"] == first.row["sparsity"]
    assert _train(trained_cnn, untrained).row["sparsity"] < 0.05
    # A rung read back from the store: its Keras model rebuilt from the kept weights alone.
    from nbopt.engine.training.pipeline import rebuild

    rebuilt = rebuild(trained_cnn, request.with_options(start_from=first.trained_weights))
    for a, b in zip(first.keras_model.get_weights(), rebuilt.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(NbOptUsageError) as err:
        _train(trained_cnn, untrained.with_options(start_from=first.trained_weights[:-1]))
    assert str(err.value) == (
        "cannot continue fine-tuning 'digits_cnn': the saved weights are of another wrapping "
        "of the model"
    )


@pytest.fixture(scope="module")
def halved(trained_cnn, digits):
    """A search by gzip within half a point: pruning at 0.8 is small but over the budget
    after one epoch, so successive halving trains the promising candidates on."""
    x_train, y_train, x_test, y_test = digits
    return nbopt.optimize(
        trained_cnn, "gzip", 0.005, fit=(x_train, y_train), eval=(x_test, y_test), budget=30
    )


def test_successive_halving_trains_the_promising_half_on(halved):
    result = halved
    from nbopt.engine.analyse.search import drop_of

    first = {label: _training_rows(result, label) for label in TRAINING}
    trained = {k: v for k, v in first.items() if v[0]["status"] != "skipped"}
    before = [r for r in result.rows if "," not in r["candidate"]]
    best = min(r["gzip_bytes"] for r in before if r["status"] == "ok" and drop_of(r) <= 0.005)
    promising = sorted(
        (min(drop_of(r) for r in rows if drop_of(r) > 0.005 and r["gzip_bytes"] < best), label)
        for label, rows in trained.items()
        if any(drop_of(r) > 0.005 and r["gzip_bytes"] < best for r in rows)
    )
    assert promising, "nothing to train on: the fixture no longer exercises halving"
    went_on = [label for _, label in promising[: (len(promising) + 1) // 2]]
    assert [s for s in result.trail if "trains 2 more epochs" in s] == [
        f"{label} trains 2 more epochs from its saved weights" for label in went_on
    ]
    for label in went_on:  # its second rung: every variant again, 3 epochs in all
        again = [r for r in result.rows if r["candidate"].endswith(", 3 epochs")]
        mine = [r for r in again if r["candidate"].startswith(label)]
        assert len(mine) == len(first[label]) and {r["epochs"] for r in mine} == {3}
    for label in set(trained) - set(went_on):
        assert any(s.startswith(f"{label} stops after 1 epoch: ") for s in result.trail)


def test_a_tflite_searches_the_post_training_candidates_only(trained_cnn, digits, tmp_path):
    _, _, x_test, y_test = digits
    val, calib = _split(digits)
    base = nbopt.quantize(trained_cnn, scheme="float16").comparison["float32"]
    path = tmp_path / "digits_float32.tflite"
    path.write_bytes(base.content)
    result = nbopt.optimize(
        str(path), "size", 0.01, calib=calib, val=val, eval=(x_test, y_test), budget=20
    )
    by = {r["candidate"]: r for r in result.rows}
    assert [c for c, r in by.items() if r["status"] == "ok"] == PTQ
    assert by["int8 float layers"]["verdict"] == (
        "not run: a .tflite has no Keras layers to keep float"
    )
    for label in TRAINING:
        assert by[label]["verdict"] == (
            "not run: a .tflite cannot be fine-tuned (only post-training candidates)"
        )
    assert result.pick.size == min(
        r["size_bytes"] for r in result.rows if r["verdict"] in ("kept", "dominated")
    )


def test_a_rerun_measures_nothing_twice_and_an_interrupt_keeps_what_finished(trained_cnn, digits):
    """Every candidate run is stored as it finishes: an interrupted search keeps them, the
    same call again reads them back (the budget is not part of its identity), and a
    third call measures nothing at all."""
    from nbopt.engine.store import results

    x_train, y_train, x_test, y_test = digits
    args = {
        "calib": x_train[:200], "fit": (x_train[:-300], y_train[:-300]),
        "val": (x_train[-300:], y_train[-300:]), "eval": (x_test, y_test), "budget": 10,
    }  # fmt: skip
    seen = []

    def interrupt_at_the_third_row(event):
        seen.append(event.kind)
        if seen.count("row") == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nbopt.optimize(trained_cnn, "size", 0.01, progress=interrupt_at_the_third_row, **args)
    store = results.store()
    first = nbopt.optimize(trained_cnn, "size", 0.01, **args)
    assert first.restored == 3 and 3 < first.runs <= 10  # float16, dynamic, int8 had landed
    assert [r["candidate"] for r in first.rows[:4]] == PTQ[:4]
    measured = store.count()
    again = nbopt.optimize(trained_cnn, "size", 0.01, **args)
    assert store.count() == measured  # nothing measured twice, not even a baseline
    assert again.restored == again.runs == first.runs
    keep = ("candidate", "status", "size_bytes", "accuracy", "verdict")
    assert [tuple(r.get(k) for k in keep) for r in again.rows] == [
        tuple(r.get(k) for k in keep) for r in first.rows
    ]
    assert again.pick.size == first.pick.size and again.line == first.line
    assert again.pick.row["accuracy"] == first.pick.row["accuracy"]
    assert again.pick.row["accuracy_delta"] is not None  # against the stored float32 baseline
    longer = nbopt.optimize(trained_cnn, "size", 0.01, **{**args, "budget": "10m"})
    assert longer.restored >= first.runs  # a larger budget: the same search, gone on


def test_on_dask_the_same_search_makes_the_same_choices(searched, trained_cnn, digits):
    """--workers 2: the same candidates, run as Dask tasks on a LocalCluster, with every
    row recorded in the kernel's store and its latency timed in the kernel, alone."""
    from nbopt.engine.store import results

    x_train, y_train, x_test, y_test = digits
    here, _ = searched
    there = nbopt.optimize(
        trained_cnn, "size", 0.01, fit=(x_train, y_train), eval=(x_test, y_test), budget=9,
        workers=2,
    )  # fmt: skip
    assert there.runs == here.runs == 9 and there.restored == 0
    assert [(r["candidate"], r["status"]) for r in there.rows] == [
        (r["candidate"], r["status"]) for r in here.rows
    ]
    sizes = lambda result: [r.get("size_bytes") for r in result.rows[:7]]  # noqa: E731
    assert sizes(there) == sizes(here)  # post-training flatbuffers are deterministic
    ok = [r for r in there.rows if r["status"] == "ok"]
    assert all(r["latency_ms"] > 0 for r in ok)
    stored = {r.get("config_key") for r in results.store().rows()}
    assert {r["config_key"] for r in ok} <= stored  # each kept under its search key
    assert there.pick.row["eval_samples"] == len(y_test)
