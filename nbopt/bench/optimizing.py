"""``nbopt.optimize`` against doing it by hand (issue 25, item 7).

The hand path is what the guide's decision tree has a user run, one nbopt call at a time:
the post-training comparison (float16, dynamic, int8), then quantization-aware training
(int8), then pruning at 0.5 and 0.8, each followed by int8; every fine-tune with the same
data and as many epochs as the longest fine-tune optimize gave a candidate in the same
run. Its pick follows optimize's own rule (:func:`nbopt.engine.analyse.search.judge`: the
smallest goal within ``max_drop``, judged on the same validation split) and both picks
are reported on the same test split. Each path runs on a results store of its own, new
and empty, with the in-memory conversion cache emptied, so neither reuses the other's
conversions.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .models import SMALL_MOBILENET, digits_rgb32, small_mobilenet

#: The goal and metric budget both paths are judged by.
GOAL, MAX_DROP = "size", 0.01


@dataclass
class Case:
    """A model and its data: it trained on ``train``; candidates are compared on ``val``
    (held out of its training) and the picks are reported on ``test``."""

    label: str
    model: Any
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]

    @property
    def calib(self) -> np.ndarray:
        return self.train[0][:64]


def _splits(up: Callable[[np.ndarray], np.ndarray] = lambda x: x) -> tuple[tuple, ...]:
    """The digits as (train, val, test): a seeded fifth of the training part is held out."""
    from nbopt.demo import digits_data

    x_train, y_train, x_test, y_test = digits_data()
    order = np.random.default_rng(0).permutation(len(x_train))
    held, rest = order[: len(order) // 5], order[len(order) // 5 :]
    x_train, x_test = up(x_train), up(x_test)
    train = (x_train[rest], y_train[rest])
    return train, (x_train[held], y_train[held]), (x_test, y_test)


def digits_case(epochs: int = 5) -> Case:
    """The digits CNN trained ``epochs`` on the training part of the digits."""
    from nbopt.demo import digits_cnn

    train, val, test = _splits()
    model = digits_cnn()
    model.fit(*train, epochs=epochs, batch_size=32, verbose=0)
    return Case("digits CNN", model, train, val, test)


def mobilenet_case(epochs: int = 20, settle: int = 4) -> Case:
    """MobileNetV2 (alpha 0.35, 32x32) trained on the digits upscaled to 32x32 RGB: ``epochs``
    at Adam's default rate, then ``settle`` at a tenth of it (about 91% on validation and
    test, steady from epoch to epoch). Its fine-tunes start again at the default rate."""
    train, val, test = _splits(digits_rgb32)
    model = small_mobilenet()
    model.fit(*train, epochs=epochs, batch_size=32, verbose=0)
    rate = float(model.optimizer.learning_rate.numpy())
    model.optimizer.learning_rate.assign(rate / 10)
    model.fit(*train, epochs=settle, batch_size=32, verbose=0)
    model.optimizer.learning_rate.assign(rate)
    return Case(SMALL_MOBILENET, model, train, val, test)


def on_new_store(run: Callable[[], Any]) -> tuple[float, Any]:
    """``run()``'s wall time and result, on a new, empty results store (and an empty
    in-memory conversion cache): nothing converted before is reused. The settings in force
    stay; the store in force before is back afterwards."""
    from nbopt.config import current
    from nbopt.engine.store import cache

    config = current()
    before = config.store
    with tempfile.TemporaryDirectory() as folder:
        config.store = f"{folder}/results.db"
        cache.forget_memory()
        try:
            t0 = time.perf_counter()
            out = run()
            return time.perf_counter() - t0, out
        finally:
            config.store = before
            cache.forget_memory()


class Clock:
    """A progress listener that times each step of a search: ``steps`` holds ``(label,
    seconds)`` from each step's start to the next one's (or the end)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []
        self._open: tuple[str, float] | None = None

    def __call__(self, event: Any) -> None:
        if event.kind in ("step", "done") and self._open is not None:
            label, t0 = self._open
            self.steps.append((label, time.perf_counter() - t0))
            self._open = None
        if event.kind == "step":
            self._open = (event.scheme, time.perf_counter())


def run_optimize(case: Case, clock: Clock) -> Any:
    import nbopt

    return nbopt.optimize(
        case.model,
        progress=clock,
        goal=GOAL,
        max_drop=MAX_DROP,
        calib=case.calib,
        fit=case.train,
        val=case.val,
        eval=case.test,
    )


def longest_epochs(rows: list[dict[str, Any]]) -> int:
    """The most epochs any candidate of a search trained (its rows' ``epochs``; a failed
    fine-tune's do not count), at least the first rung's."""
    from nbopt.engine.analyse import search

    def trained(r: dict[str, Any]) -> bool:  # measured, or trained but not measured
        return r.get("status") == "ok" or (r.get("status") == "skipped" and bool(r.get("run_id")))

    epochs = [r.get("epochs") or 0 for r in rows if trained(r)]
    return max([search.EPOCHS, *epochs])


def _variants(made: Any, label: str) -> list[tuple[dict[str, Any], Any]]:
    """Every measured variant of a call (its comparison's rows but the baseline), labelled
    ``label`` (``+int8`` after a training's then), with its model."""
    comparison = getattr(made, "comparison", made)
    by_row = {id(m.row): m for m in comparison.models.values()}
    out = []
    for row in comparison.rows:
        if row.get("technique") == "baseline":
            continue
        name = row.get("scheme") if label == "ptq" else label
        if row.get("then"):
            name += f"+{row['then']}"
        out.append(({**row, "candidate": name, "verdict": None}, by_row.get(id(row))))
    return out


def run_by_hand(case: Case, epochs: int, clock: Clock) -> tuple[list[dict[str, Any]], list[Any]]:
    """The hand path's calls, one after another (each timed on ``clock``); every variant's
    row and model."""
    import tf_keras

    import nbopt

    data, pairs = {"eval": case.val}, []

    def step(label: str, call: Callable[[], Any]) -> None:
        t0 = time.perf_counter()
        pairs.extend(_variants(call(), label))
        clock.steps.append((label, time.perf_counter() - t0))

    step("ptq", lambda: nbopt.quantize(case.model, "float16,dynamic,int8", case.calib, **data))
    fit = {"fit": case.train, "epochs": epochs, **data}
    tf_keras.utils.set_random_seed(0)
    step("qat", lambda: nbopt.quantize(case.model, aware=True, **fit))
    for sparsity in (0.5, 0.8):
        tf_keras.utils.set_random_seed(0)
        prune = {"sparsity": sparsity, "then": "int8", "calib": case.calib, **fit}
        step(f"prune {sparsity:g}", lambda: nbopt.prune(case.model, **prune))  # noqa: B023
    return [row for row, _ in pairs], [model for _, model in pairs]


def hand_pick(case: Case, rows: list[dict[str, Any]], models: list[Any]) -> Any:
    """The hand path's pick by optimize's rule, its figures on the test split (or None)."""
    from nbopt.api.optimized import eval_figures
    from nbopt.engine.analyse import search

    index = search.judge(rows, GOAL, MAX_DROP)
    if index is None:
        return None
    pick = eval_figures(models[index], case.test, None)
    pick.row["candidate"] = rows[index]["candidate"]
    return pick


def warm_up(case: Case) -> None:
    """A throwaway fine-tune (pruning then int8, stored sparse) on 32 samples, on a store of
    its own: what a process pays once (tfmot's and the converter's first use) is paid before
    either path is timed, not by whichever runs first."""
    import nbopt

    few = (case.train[0][:32], case.train[1][:32])
    on_new_store(
        lambda: nbopt.prune(
            case.model,
            0.5,
            fit=few,
            eval=few,
            epochs=1,
            then="int8",
            sparse=True,
            calib=case.calib,
        )  # fmt: skip
    )


def bench_optimize(case: Case) -> dict[str, float]:
    """optimize, then the hand path with its longest fine-tune's epochs; both printed."""
    import tensorflow_model_optimization  # noqa: F401  (imported once, before either path)

    import nbopt

    nbopt.quantize(case.model, "float32")  # the converter worker is up, as after a first cell
    warm_up(case)
    clocks = {"optimize": Clock(), "hand": Clock()}
    t_opt, found = on_new_store(lambda: run_optimize(case, clocks["optimize"]))
    epochs = longest_epochs(found.rows)
    t_hand, (rows, models) = on_new_store(lambda: run_by_hand(case, epochs, clocks["hand"]))
    by_hand = hand_pick(case, rows, models)
    print(
        f"\n[{case.label}] nbopt.optimize against by hand, --goal {GOAL} --max-drop {MAX_DROP:g}: "
        f"chosen on {len(case.val[1])} validation samples, reported on {len(case.test[1])} test"
    )
    print(
        f"  by hand: float16, dynamic, int8; QAT; prune 0.5, 0.8 then int8 ({_epochs(epochs)} "
        f"each, {len(rows)} variants)  {t_hand:7.1f} s   1.00x"
    )
    print(f"    {_steps(clocks['hand'].steps)}")
    print(
        f"  nbopt.optimize ({found.runs} candidates run, {len(found.rows)} rows, longest "
        f"fine-tune {_epochs(epochs)})  {t_opt:7.1f} s   {t_opt / t_hand:.2f}x"
    )
    print(f"    {_steps(clocks['optimize'].steps)}")
    print(f"  pick by hand:   {_shown(by_hand)}")
    if found.pick is not None:
        found.pick.row["candidate"] = found.rows[found.index]["candidate"]
    print(f"  pick optimize:  {_shown(found.pick)}")
    size = {k: _goal(p) for k, p in (("hand", by_hand), ("optimize", found.pick))}
    as_good = size["optimize"] <= size["hand"]
    ratio = size["optimize"] / size["hand"] if size["hand"] < float("inf") else float("nan")
    print(
        f"  optimize's pick at least as good on {GOAL} within max_drop: {_yes(as_good)} "
        f"({ratio:.2f}x the hand pick's); in less total time: {_yes(t_opt < t_hand)} "
        f"({t_opt / t_hand:.2f}x)"
    )
    return {"optimize_s": t_opt, "hand_s": t_hand, "goal_ratio": ratio, "epochs": epochs}


def _steps(steps: list[tuple[str, float]]) -> str:
    """``post-training 18.2 s, prune 0.5 35.1 s, prune 0.8 38.5+35.3+38.5 s``: the
    post-training candidates together, each fine-tune's runs (rungs) in turn."""
    from nbopt.engine.analyse import search

    trains = {c.label for c in search.lines("cpu")}
    ptq = [s for label, s in steps if label not in trains]
    parts = [f"post-training {sum(ptq):.1f} s"] if ptq else []
    runs: dict[str, list[float]] = {}
    for label, seconds in steps:
        if label in trains:
            runs.setdefault(label, []).append(seconds)
    parts += [f"{label} {'+'.join(f'{s:.1f}' for s in ss)} s" for label, ss in runs.items()]
    return ", ".join(parts)


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _goal(pick: Any) -> float:
    from nbopt.engine.analyse import search

    return float("inf") if pick is None else search.goal_value(pick.row, GOAL)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _shown(pick: Any) -> str:
    """``prune 0.8+int8  34,567 bytes  accuracy -0.0028 on test (-0.0035 on val)``."""
    if pick is None:
        return f"none within max_drop {MAX_DROP:g}"
    row = pick.row
    return (
        f"{row['candidate']:28s} {row['size_bytes']:>10,} bytes   accuracy "
        f"{row['accuracy_delta']:+.4f} on test ({row['val_accuracy_delta']:+.4f} on val)"
    )


def _search_on(case: Case, workers: int, budget: Any) -> tuple[float, Any]:
    """The case's search on ``workers`` LocalCluster workers, on a new store: its time."""
    import nbopt

    def run() -> Any:
        return nbopt.optimize(
            case.model, GOAL, MAX_DROP, calib=case.calib, fit=case.train, val=case.val,
            eval=case.test, budget=budget, workers=workers,
        )  # fmt: skip

    return on_new_store(run)


def bench_optimize_workers(case: Case) -> float:
    """Item 6: the same search (a budget in candidates: the same choices) on two
    LocalCluster workers against one; each cluster warmed by a one-candidate search first,
    so neither pays its workers' start or TensorFlow's import. Returns the ratio."""
    times, found = {}, {}
    for workers in (1, 2):
        _search_on(case, workers, 1)
        times[workers], found[workers] = _search_on(case, workers, 100)
    same = [r["candidate"] for r in found[1].rows] == [r["candidate"] for r in found[2].rows]
    ratio = times[2] / times[1]
    print(
        f"\n[{case.label}] nbopt.optimize on Dask, the same search ({found[1].runs} candidates "
        f"run, {len(found[1].rows)} rows; the same candidates: {_yes(same)})"
    )
    print(f"  one worker   {times[1]:7.1f} s   1.00x")
    print(
        f"  two workers  {times[2]:7.1f} s   {ratio:.2f}x  (at most 0.65x: {_yes(ratio <= 0.65)})"
    )
    return ratio


def bench_workers(skip_mobilenet: bool = False) -> None:
    """Item 6's section: the MobileNetV2's search (the digits CNN's with --skip-mobilenet)."""
    t0 = time.perf_counter()
    bench_optimize_workers(digits_case() if skip_mobilenet else mobilenet_case())
    print(f"  (this section took {time.perf_counter() - t0:.0f} s, training the model included)")


def bench_optimizing(skip_mobilenet: bool = False) -> None:
    """The section: the digits CNN and, unless skipped, the small MobileNetV2."""
    t0 = time.perf_counter()
    bench_optimize(digits_case())
    if not skip_mobilenet:
        bench_optimize(mobilenet_case())
    print(f"  (this section took {time.perf_counter() - t0:.0f} s, training the models included)")
