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
