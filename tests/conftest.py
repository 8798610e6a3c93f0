"""Shared fixtures: real TensorFlow, a small CNN trained once on scikit-learn's digits."""

from __future__ import annotations

import os

# As %load_ext nbopt does: tf.keras is tf_keras (Keras 2); Keras 3 stays importable as keras.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    """``x_train, y_train, x_test, y_test`` from scikit-learn's bundled digits."""
    from nbopt.demo import digits_data

    return digits_data()


@pytest.fixture(scope="session")
def trained_cnn(digits):
    """A tf_keras digits CNN trained for a few epochs (about 95% test accuracy)."""
    from nbopt.demo import digits_cnn

    x_train, y_train, _, _ = digits
    model = digits_cnn()
    model.fit(x_train, y_train, epochs=6, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="session")
def keras_accuracy(trained_cnn, digits):
    _, _, x_test, y_test = digits
    pred = trained_cnn.predict(x_test, verbose=0)
    return float(np.mean(np.argmax(pred, axis=1) == y_test))


@pytest.fixture(autouse=True, scope="module")
def module_store(tmp_path_factory):
    """The default results store of each test module ($NBOPT_STORE): module-scoped fixtures
    measure before a test's own configuration is set, and must not write to .nbopt/ here."""
    saved = os.environ.get("NBOPT_STORE")
    os.environ["NBOPT_STORE"] = str(tmp_path_factory.mktemp("module-store") / "results.db")
    yield
    if saved is None:
        os.environ.pop("NBOPT_STORE", None)
    else:
        os.environ["NBOPT_STORE"] = saved


@pytest.fixture(autouse=True)
def fast_measurement(tmp_path_factory):
    """Short latency runs (the tests check correctness, not speed), and a results store of
    the test's own: never .nbopt/ in the repository, no conversion cached by another test."""
    from nbopt.config import NbOpt, set_current

    store = str(tmp_path_factory.mktemp("store") / "results.db")
    set_current(NbOpt(latency_warmup_runs=1, latency_runs=5, latency_min_seconds=0.0, store=store))
    yield
    set_current(None)


def pytest_terminal_summary(terminalreporter):
    """Each tutorial's run time and peak memory (summed PSS, and its parts at the peak)."""
    import sys

    runner = sys.modules.get("notebook_runner")
    if runner is None or not runner.RUNS:
        return
    terminalreporter.section("tutorials: run time and peak memory (PSS)")
    for label, seconds, peak in runner.RUNS:
        terminalreporter.write_line(
            f"{label:45} {seconds:6.0f} s {peak.total_mb:7.0f} MB  {peak.breakdown()}"
        )
    total = sum(seconds for _, seconds, _ in runner.RUNS)
    terminalreporter.write_line(f"{'total':45} {total:6.0f} s")


@pytest.fixture
def weights_unchanged():
    """Call with a model before and after: asserts the weights and layers did not change."""

    class Checker:
        def snapshot(self, model):
            self.model = model
            self.weights = [np.array(w) for w in model.get_weights()]
            self.layers = [layer.name for layer in model.layers]

        def check(self):
            after = self.model.get_weights()
            assert [layer.name for layer in self.model.layers] == self.layers
            assert len(after) == len(self.weights)
            for a, b in zip(after, self.weights):
                np.testing.assert_array_equal(a, b)

    return Checker()


@pytest.fixture(scope="module")
def ip():
    """A real IPython shell with ``%load_ext nbopt`` run in it."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbopt")
    yield shell
    shell.run_line_magic("unload_ext", "nbopt")


@pytest.fixture
def ns(ip, trained_cnn, digits, tmp_path_factory):
    """The shell's namespace holding ``model`` and the digits split; short latency runs;
    the test's own results store."""
    from nbopt.config import NbOpt, set_current

    x_train, y_train, x_test, y_test = digits
    ip.user_ns.update(
        model=trained_cnn, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
    )
    # The kernel's own configuration object, as %load_ext made it.
    set_current(next(c for c in ip.configurables if isinstance(c, NbOpt)))
    ip.run_line_magic("config", "NbOpt.latency_warmup_runs = 1")
    ip.run_line_magic("config", "NbOpt.latency_runs = 5")
    ip.run_line_magic("config", "NbOpt.latency_min_seconds = 0.0")
    store = tmp_path_factory.mktemp("store") / "results.db"
    ip.run_line_magic("config", f"NbOpt.store = {str(store)!r}")
    return ip.user_ns
