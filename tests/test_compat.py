"""What each variant can run on: op breakdown, GPU delegate, Edge TPU readiness."""

from __future__ import annotations

import pytest

import nbopt
from nbopt.display import inspection_html
from nbopt.engine.analyse.compat import compatibility, edgetpu_readiness, gpu_report, op_report
from nbopt.errors import NbOptTypeError, NbOptUsageError

DIGITS_OPS = {"CONV_2D": 2, "RESHAPE": 1, "FULLY_CONNECTED": 2, "SOFTMAX": 1}


@pytest.fixture(scope="module")
def variants(trained_cnn, digits):
    x_train, _, x_test, y_test = digits
    cmp = nbopt.quantize(
        trained_cnn, "float16,dynamic,int8", calib=x_train[:128], eval=(x_test, y_test)
    )
    int8_io = nbopt.quantize(trained_cnn, "int8", calib=x_train[:128], io="int8")
    return cmp, int8_io


def test_every_row_has_the_compat_columns(variants):
    cmp, _ = variants
    df = cmp.df.set_index("scheme")
    assert {"gpu_compatible", "edgetpu_ready", "compat_notes"} <= set(df.columns)
    assert df["gpu_compatible"].tolist() == [True, True, True, True]
    # Only an integer-only model is ready for the Edge TPU; the notes say why not.
    assert not df["edgetpu_ready"].any()
    assert "--io int8" in df.loc["int8", "compat_notes"]
    assert "ops stay float (CONV_2D x2, FULLY_CONNECTED x2" in df.loc["dynamic", "compat_notes"]


def test_int8_with_integer_io_is_edgetpu_ready(variants):
    _, int8_io = variants
    assert int8_io.row["edgetpu_ready"] is True and int8_io.row["compat_notes"] == ""
    report = op_report(int8_io.content)
    assert dict(report.ops) == DIGITS_OPS
    assert report.inputs == ["INT8"] and report.outputs == ["INT8"]
    assert not report.float_ops


def test_op_breakdown_shows_what_stays_float(variants):
    cmp, _ = variants
    fp16 = op_report(cmp["float16"].content)
    # the four float16 kernels are widened at load (the LiteRT Quantizer keeps biases float32)
    assert fp16.ops["DEQUANTIZE"] == 4
    assert dict(fp16.float_ops) == DIGITS_OPS
    int8 = op_report(cmp["int8"].content)
    assert int8.ops["QUANTIZE"] == 1 and int8.ops["DEQUANTIZE"] == 1
    assert not int8.float_ops and int8.inputs == ["FLOAT32"]
    assert int8.tensor_types["INT8"] >= 10


def test_analyzer_report_is_captured_not_printed(variants, capfd):
    cmp, _ = variants
    text = gpu_report(cmp["int8"].content)
    out, _ = capfd.readouterr()
    assert "TFLite ModelAnalyzer" in text and "compatible with GPU delegate" in text
    assert "ModelAnalyzer" not in out


def test_custom_ops_are_not_gpu_or_edgetpu_compatible():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 2, 2], tf.float32)])
    def inverse(x):
        return tf.linalg.inv(x + 3.0)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([inverse.get_concrete_function()])
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    content = conv.convert()
    compat = compatibility(content)
    assert compat["gpu_compatible"] is False and compat["edgetpu_ready"] is False
    assert "CUSTOM:FlexMatrixInverse" in compat["compat_notes"]
    ready, reasons = edgetpu_readiness(op_report(content))
    assert not ready and any(
        "Edge TPU does not run: CUSTOM:FlexMatrixInverse" in r for r in reasons
    )


def test_inspect_a_variant_and_escape_its_name(variants):
    _, int8_io = variants
    report = nbopt.inspect(int8_io, name="<b>net</b>")
    assert report.ops.set_index("op")["count"].to_dict() == DIGITS_OPS
    assert report.compat["edgetpu_ready"] is True
    page = inspection_html(report)
    assert "&lt;b&gt;net&lt;/b&gt;" in page and "<b>net</b>" not in page
    assert "FULLY_CONNECTED" in repr(report) and "Edge TPU: ready" in repr(report)


def test_inspect_a_keras_model_and_a_file(trained_cnn, variants, tmp_path):
    report = nbopt.inspect(trained_cnn)
    assert report.scheme == "float32" and dict(report.report.float_ops) == DIGITS_OPS
    cmp, _ = variants
    path = cmp["dynamic"].save(tmp_path / "d.tflite")
    assert nbopt.inspect(str(path)).size == cmp["dynamic"].size
    with pytest.raises(NbOptUsageError, match="no .tflite"):
        nbopt.inspect(str(tmp_path / "missing.tflite"))
    with pytest.raises(NbOptTypeError, match="cannot inspect a int"):
        nbopt.inspect(3)
