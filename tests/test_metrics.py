"""The task's metric: by name, as a Keras metric or any callable, in every surface, and
whichever way is better (an error rate falls as the model gets better)."""

import numpy as np
import pytest

import nbopt
from nbopt.engine.data.metrics import as_metric
from nbopt.errors import NbOptUsageError
from nbopt.widgets.results import pareto_variants


def error_rate(y_true, y_pred):
    """Share of wrong answers: lower is better (its name says so)."""
    return float(np.mean(np.argmax(y_pred, axis=-1) != y_true.reshape(-1)))


def test_named_keras_and_callable_metrics_know_their_direction():
    import tf_keras

    cases = {
        "accuracy": True,
        "top5": True,
        "mse": False,
        "mae": False,
        "auc": True,
        "f1": True,
        error_rate: False,
        tf_keras.metrics.MeanAbsoluteError(): False,
        tf_keras.metrics.AUC: True,
    }
    assert {str(getattr(k, "__name__", k)): as_metric(k).higher_is_better for k in cases} == {
        str(getattr(k, "__name__", k)): v for k, v in cases.items()
    }

    def score(y_true, y_pred):
        return 0.0

    score.higher_is_better = False
    assert as_metric(score).higher_is_better is False and as_metric(score).name == "score"
    y, p = np.array([0, 1, 1, 0]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    assert as_metric("auc").fn(y, p) == 1.0 and as_metric("f1").fn(y, p) == pytest.approx(2 / 3)
    assert as_metric(tf_keras.metrics.MeanAbsoluteError()).fn(np.ones(3), np.zeros(3)) == 1.0
    with pytest.raises(NbOptUsageError, match="^unknown metric 'wer'; use accuracy, topK"):
        as_metric("wer")


def test_a_lower_is_better_callable_from_the_namespace_scores_every_row(ns, ip):
    ns["error_rate"] = error_rate
    cmp = ip.run_line_magic(
        "quantize",
        "model --scheme dynamic,int8 --calib x_train[:128] --eval x_test,y_test "
        "--metric error_rate",
    )
    df = cmp.df.set_index("scheme")
    assert (df["metric"] == "error_rate").all() and not df["higher_is_better"].any()
    wrong = 1 - nbopt.load(cmp["float32"].content).evaluate(ns["x_test"], ns["y_test"])
    assert df.loc["float32", "accuracy"] == pytest.approx(wrong)
    delta = df.loc["int8", "accuracy"] - df.loc["float32", "accuracy"]
    assert df.loc["int8", "accuracy_delta"] == pytest.approx(delta)


def test_named_metrics_need_no_variable(ns, ip):
    top5 = ip.run_line_magic(
        "quantize", "model --scheme float16 --eval x_test,y_test --metric top5"
    )
    assert top5.row["metric"] == "top5" and top5.row["accuracy"] >= 0.97


def test_max_drop_and_the_front_follow_the_metric_direction(ns, ip):
    ns["error_rate"] = error_rate
    chosen = ip.run_line_magic(
        "quantize",
        "model --scheme int8 --max-drop 0.01 --calib x_train[:128] --eval x_test,y_test "
        "--metric error_rate",
    )
    assert chosen.row["metric"] == "error_rate"
    assert chosen.row["accuracy_delta"] <= 0.01  # the error rate rose by at most a point
    rows = [
        {
            "status": "ok",
            "scheme": "float32",
            "technique": "baseline",
            "size_bytes": 400,
            "accuracy": 0.05,
            "metric": "wer",
            "higher_is_better": False,
        },
        {
            "status": "ok",
            "scheme": "int8",
            "technique": "ptq",
            "size_bytes": 100,
            "accuracy": 0.30,
            "metric": "wer",
            "higher_is_better": False,
        },
        {
            "status": "ok",
            "scheme": "float16",
            "technique": "ptq",
            "size_bytes": 200,
            "accuracy": 0.40,
            "metric": "wer",
            "higher_is_better": False,
        },
    ]
    assert pareto_variants(rows) == ["float32", "int8"]  # float16: larger and worse than int8


def test_recommend_verify_judges_the_drop_in_the_metric_direction(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    rec = nbopt.recommend(
        trained_cnn,
        x_train[:128],
        eval=(x_test, y_test),
        verify=True,
        metric=error_rate,
        max_drop=0.02,
    )
    step = rec.trail[0]
    assert step["scheme"] == "int8"
    assert step["within_budget"] is (step["accuracy_delta"] <= 0.02)
    assert rec.model.row["metric"] == "error_rate"
