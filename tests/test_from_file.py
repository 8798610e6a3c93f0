"""A .tflite from anywhere: loaded, measured as it is, compared with what it can be made into."""

from importlib import resources

import pytest

import nbopt
from nbopt.errors import NbOptTypeError

COLUMNS = ["size_bytes", "gzip_bytes", "ram_bytes", "latency_ms", "accuracy", "gpu_compatible"]


@pytest.fixture(scope="module")
def files(trained_cnn, digits, tmp_path_factory):
    x_train = digits[0]
    folder = tmp_path_factory.mktemp("files")
    made = nbopt.quantize(trained_cnn, "float16,int8", x_train[:128])
    for scheme, model in made.models.items():
        model.save(folder / f"digits_{scheme}.tflite")
    sine = resources.files("tflite_micro") / "python/tflite_micro/sine_float.tflite"
    (folder / "sine.tflite").write_bytes(sine.read_bytes())
    return folder


def test_a_float32_file_compares_with_every_scheme_the_quantizer_makes(files, digits):
    x_train, _, x_test, y_test = digits
    cmp = nbopt.quantize(
        str(files / "digits_float32.tflite"),
        "float16,dynamic,int8,int16x8,int4",
        x_train[:128],
        (x_test, y_test),
    )
    df = cmp.df.set_index("scheme")
    assert list(df.index) == ["float32", "float16", "dynamic", "int8", "int16x8", "int4"]
    assert (df["status"] == "ok").all() and (df["model"] == "digits_float32").all()
    assert df.loc["float32", "technique"] == "baseline"
    assert df.loc["float32", "converter"] == "file"
    assert df[COLUMNS].notna().all().all() and df["mcu_ready"].notna().all()
    assert df.loc["float16", "size_ratio"] >= 1.9 and df.loc["dynamic", "size_ratio"] >= 3.5
    assert df.loc["int4", "size_ratio"] >= 7
    assert df.loc["int8", "io"] == "int8" and "int8 inputs and outputs" in df.loc["int8", "note"]
    assert (df["accuracy_delta"].abs() <= 0.03).all()


def test_an_already_quantized_file_is_measured_as_it_is(files, digits):
    x_test, y_test = digits[2], digits[3]
    cmp = nbopt.quantize(files / "digits_int8.tflite", "float16,dynamic", eval=(x_test, y_test))
    rows = cmp.df.set_index("scheme")
    assert rows.loc["int8", "technique"] == "baseline" and rows.loc["int8", "status"] == "ok"
    assert rows.loc["int8", "accuracy"] >= 0.85
    assert rows.loc["float16", "status"] == "failed"
    assert rows.loc["float16", "error"] == (
        "float16 is made from a float32 model; this file is already int8 (its row measures "
        "it as it is)"
    )


def test_load_reads_the_scheme_from_the_tensors(files):
    found = {p.stem: nbopt.load(p).scheme for p in sorted(files.glob("*.tflite"))}
    assert found == {
        "digits_float16": "float16",
        "digits_float32": "float32",
        "digits_int8": "int8",
        "sine": "float32",
    }
    sine = nbopt.load((files / "sine.tflite").read_bytes(), name="sine")
    assert sine.name == "sine" and sine.technique == "file"
    assert float(sine.predict([[1.5]])[0][0]) == pytest.approx(0.997, abs=0.1)  # sin(1.5)


def test_what_needs_the_keras_model_says_so(files, digits):
    with pytest.raises(NbOptTypeError) as caught:
        nbopt.prune(files / "digits_float32.tflite", 0.5, fit=digits[:2])
    assert str(caught.value) == (
        "'digits_float32' is a .tflite model (float32) without a Keras model behind it; "
        "pruning needs the Keras model it came from (a .tflite compares with %quantize / "
        "nbopt.quantize)"
    )


def test_the_magic_compares_a_file_named_on_its_line(ip, files, digits, monkeypatch):
    monkeypatch.chdir(files)
    ip.user_ns.update(x_test=digits[2], y_test=digits[3])
    out = ip.run_line_magic("quantize", "sine.tflite --scheme float16,dynamic,int4")
    assert [r["status"] for r in out.rows] == ["ok"] * 4
    assert out.name == "sine"
