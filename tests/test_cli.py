"""The ``nbopt`` command on saved models, and the import cost of the package."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd

from nbopt.cli import main


def test_import_nbopt_does_not_import_tensorflow():
    code = "import sys, nbopt; nbopt.__version__; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_compare_a_saved_h5_model(trained_cnn, digits, tmp_path, capsys):
    x_train, _, x_test, y_test = digits
    model_path = tmp_path / "digits.h5"
    trained_cnn.save(model_path)
    np.savez(tmp_path / "calib.npz", x=x_train[:64])
    np.savez(tmp_path / "test.npz", x=x_test, y=y_test)
    code = main(
        [
            "compare",
            str(model_path),
            "--scheme",
            "dynamic,int8",
            "--calib",
            str(tmp_path / "calib.npz"),
            "--eval",
            str(tmp_path / "test.npz"),
            "--out",
            str(tmp_path / "out"),
            "--csv",
            str(tmp_path / "r.csv"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "int8" in printed and "dynamic" in printed
    df = pd.read_csv(tmp_path / "r.csv")
    assert list(df["scheme"]) == ["float32", "dynamic", "int8"]
    assert (df["status"] == "ok").all() and (df["size_ratio"].iloc[1:] > 3.3).all()
    assert sorted(os.listdir(tmp_path / "out")) == [
        "digits_dynamic.tflite",
        "digits_float32.tflite",
        "digits_int8.tflite",
    ]
    assert df["accuracy"].iloc[0] > 0.9


def test_compare_a_keras3_file_in_safe_mode(digits, tmp_path, capsys):
    import keras

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    path = tmp_path / "small.keras"
    model.save(path)
    assert main(["compare", str(path), "--scheme", "float16"]) == 0
    assert "float16" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "missing.keras")]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"nbopt: error: no such model file: {tmp_path}/missing.keras"
    )


def _saved(trained_cnn, digits, tmp_path):
    """The digits CNN as an .h5 file and its data as .npz files."""
    x_train, _, x_test, y_test = digits
    trained_cnn.save(tmp_path / "digits.h5")
    np.savez(tmp_path / "calib.npz", x=x_train[:64])
    np.savez(tmp_path / "test.npz", x=x_test, y=y_test)
    return str(tmp_path / "digits.h5")


def test_output_paths_are_checked_before_any_work(trained_cnn, digits, tmp_path, capsys):
    model = _saved(trained_cnn, digits, tmp_path)
    csv = tmp_path / "out.csv"
    csv.write_text("the user's own table\n")
    out = tmp_path / "tflite"
    out.mkdir()
    (out / "digits_dynamic.tflite").write_bytes(b"kept")
    capsys.readouterr()
    cases = [
        (
            ["--csv", str(csv)],
            f"--csv {csv} already exists; choose another file or pass --force to replace it",
        ),
        (
            ["--out", str(out)],
            f"--out {out} already holds digits_dynamic.tflite; choose another folder or "
            "pass --force to replace them",
        ),
        (
            ["--csv", str(tmp_path)],
            f"--csv {tmp_path} is a folder; name a file, e.g. --csv results.csv",
        ),
        (
            ["--scheme", "dynamic,int8"],
            "int8 needs calibration data: pass --calib calib.npz (an .npz file of "
            "representative samples, array x)",
        ),
    ]
    for extra, message in cases:
        assert main(["compare", model, "--scheme", "dynamic", *extra]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"nbopt: error: {message}\n"  # one line, no progress: no work
        assert captured.out == ""
    assert csv.read_text() == "the user's own table\n"
    assert (out / "digits_dynamic.tflite").read_bytes() == b"kept"

    assert main(["compare", model, "--scheme", "dynamic", "--csv", str(csv), "--force"]) == 0
    assert list(pd.read_csv(csv)["scheme"]) == ["float32", "dynamic"]


def test_an_interrupted_compare_keeps_its_rows_in_the_csv(
    trained_cnn, digits, tmp_path, capsys, monkeypatch
):
    import signal

    from nbopt.engine.store import results

    model = _saved(trained_cnn, digits, tmp_path)
    record = results.record
    seen = []

    def record_then_interrupt(row, content=None):
        record(row, content)
        seen.append(row)
        if len(seen) == 2:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C
            for _ in range(10**8):
                pass

    monkeypatch.setattr(results, "record", record_then_interrupt)
    csv = tmp_path / "r.csv"
    code = main(
        [
            "compare",
            model,
            "--scheme",
            "float16,dynamic,int8",
            "--calib",
            str(tmp_path / "calib.npz"),
            "--csv",
            str(csv),
        ]
    )
    assert code == 130
    assert (
        capsys.readouterr().err.splitlines()[-1]
        == f"nbopt: interrupted; 2 rows were measured (in {csv})"
    )
    df = pd.read_csv(csv)
    assert list(df["scheme"]) == ["float32", "float16"] and (df["size_bytes"] > 0).all()


def test_results_are_kept_when_the_csv_cannot_be_written_after_all(
    trained_cnn, digits, tmp_path, capsys, monkeypatch
):
    """Someone writes the CSV's path while the comparison runs: the rows go to a spare file."""
    from nbopt.engine.store import results

    model = _saved(trained_cnn, digits, tmp_path)
    csv = tmp_path / "r.csv"
    record = results.record

    def record_and_race(row, content=None):
        record(row, content)
        csv.write_text("written meanwhile\n")

    monkeypatch.setattr(results, "record", record_and_race)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert main(["compare", model, "--scheme", "dynamic", "--csv", str(csv)]) == 2
    line = capsys.readouterr().err.splitlines()[-1]
    assert (
        line.startswith(f"nbopt: error: {csv} already exists") and "the results are kept in" in line
    )
    spare = line.rsplit(" ", 1)[-1]
    assert list(pd.read_csv(spare)["scheme"]) == ["float32", "dynamic"]
    assert csv.read_text() == "written meanwhile\n"
