"""Damaged .tflite files never kill the process: each is a clean error or a working model.

A few hundred seeded cases per model here; ``make fuzz`` runs thousands
(``NBOPT_FUZZ_CASES``). Every case goes through ``nbopt.load`` in this process (the
verifier, then the worker's probe); a model that loads is then run here, in this process's
own interpreter, and inspected, so a file that passed the checks but crashes the
interpreter would end the test run.
"""

import os
from importlib import resources

import numpy as np
import pytest
from fuzzing import cases

import nbopt
from nbopt.errors import InvalidModelError

CASES = int(os.environ.get("NBOPT_FUZZ_CASES", "150"))


@pytest.fixture(scope="module")
def models(trained_cnn):
    """One model nbopt makes (the digits CNN) and one a package ships (tflite-micro's sine)."""
    digits = nbopt.quantize(trained_cnn, "float32").content
    sine = (resources.files("tflite_micro") / "python/tflite_micro/sine_float.tflite").read_bytes()
    return {"digits": digits, "sine": sine}


def _load(content: bytes) -> None:
    model = nbopt.load(content)
    zeros = [np.zeros((1, *s.shape[1:]), s.dtype) for s in model.input_specs()]
    model.predict(zeros if len(zeros) > 1 else zeros[0])  # this process's interpreter
    nbopt.inspect(model)


def _magic(ip, path):
    """``%nbopt inspect 'path'``: its errors are IPython's UsageError, one line."""
    from IPython.core.error import UsageError

    try:
        ip.run_line_magic("nbopt", f"inspect '{path}'")
    except UsageError as exc:
        assert type(exc) is UsageError
        raise InvalidModelError(str(exc)) from None


def _try(content: bytes, i: int, ip, folder) -> str:
    """Case ``i`` through nbopt.load (then run here), nbopt.inspect or %nbopt inspect."""
    label = "the flatbuffer"
    try:
        if i % 3 == 0:
            _load(content)
        elif i % 3 == 1:
            nbopt.inspect(content)
        else:
            path = folder / f"case{i}.tflite"
            path.write_bytes(content)
            label = path.name
            _magic(ip, path)
    except InvalidModelError as exc:
        assert str(exc).startswith(f"{label} is not a valid TFLite model: "), str(exc)
        assert "\n" not in str(exc)
        return "clean error"
    return "ok"


@pytest.mark.parametrize("name", ["digits", "sine"])
def test_damaged_models_end_in_a_clean_error_or_a_working_model(models, name, ip, tmp_path):
    damaged = cases(models[name], CASES, seed=len(name))
    outcomes = [_try(case, i, ip, tmp_path) for i, case in enumerate(damaged)]
    counts = {k: outcomes.count(k) for k in ("clean error", "ok")}
    print(f"\nfuzz {name}: {CASES} cases, {counts['clean error']} clean errors, {counts['ok']} ok")
    assert sum(counts.values()) == CASES
    assert counts["clean error"] >= CASES // 4  # the mutator does damage most of them


def test_a_damaged_file_is_one_line_in_the_magic_and_the_namespace_survives(ip, models, tmp_path):
    from IPython.core.error import UsageError

    good, bad = tmp_path / "good.tflite", tmp_path / "bad.tflite"
    good.write_bytes(models["sine"])
    bad.write_bytes(models["sine"][:1000])
    ip.user_ns["keep"] = 42
    for line in (f"inspect '{bad}'", f"load '{bad}' --as m"):
        with pytest.raises(UsageError) as caught:
            ip.run_line_magic("nbopt", line)
        assert type(caught.value) is UsageError
        assert str(caught.value) == (
            "bad.tflite is not a valid TFLite model: buffer 0 lies outside the file "
            f"(byte {str(caught.value).split('byte ')[1]}"
        )
    assert "m" not in ip.user_ns and ip.user_ns["keep"] == 42
    loaded = ip.run_line_magic("nbopt", f"load '{good}' --as m")
    assert (
        ip.user_ns["m"] is loaded
        and loaded.scheme == "float32"
        and loaded.size == good.stat().st_size
    )
