"""The bench's optimize-against-by-hand section: fair timing, its figures."""

from __future__ import annotations


def test_each_path_converts_afresh(trained_cnn, digits):
    """Each path runs on a new, empty store: the same conversion made by the first is made
    again by the second (not served from the first's store or the in-memory cache), and the
    store in force before is back afterwards."""
    import nbopt
    from nbopt.bench.optimizing import on_new_store
    from nbopt.config import current

    x_train, before = digits[0], current().store

    def int8() -> bool:
        return bool(nbopt.quantize(trained_cnn, "int8", x_train[:32]).comparison.df["cached"].any())

    made = nbopt.quantize(trained_cnn, "int8", x_train[:32])  # kept in the test's own store
    assert made.row["status"] == "ok"
    _, first = on_new_store(int8)
    seconds, second = on_new_store(int8)
    assert (first, second) == (False, False)
    assert seconds > 0
    assert current().store == before
    assert int8() is True  # the test's own store kept it


def test_longest_epochs_reads_the_rows():
    """The hand path trains as long as optimize's longest fine-tune; 1 (the first rung)
    when nothing trained."""
    from nbopt.bench.optimizing import longest_epochs

    rows = [
        {"status": "ok", "epochs": None},
        {"status": "ok", "epochs": 3},
        {"status": "ok", "epochs": 7},
        {"status": "failed", "epochs": 15, "run_id": "a"},
    ]
    assert longest_epochs(rows) == 7
    # A variant not measured (it could not beat the best) was trained all the same.
    assert longest_epochs([*rows, {"status": "skipped", "epochs": 9, "run_id": "b"}]) == 9
    assert longest_epochs([*rows, {"status": "skipped", "epochs": 9}]) == 7  # never ran
    assert longest_epochs([{"status": "ok"}]) == 1


def test_steps_group_post_training_and_each_fine_tune():
    from nbopt.bench.optimizing import _steps

    steps = [("float16", 1.0), ("int8", 2.5), ("prune 0.8", 3.0), ("qat", 2.0), ("prune 0.8", 4.5)]
    assert _steps(steps) == "post-training 3.5 s, prune 0.8 3.0+4.5 s, qat 2.0 s"
