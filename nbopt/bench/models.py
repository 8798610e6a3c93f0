"""The models and data the benchmarks measure: MobileNetV2 on random images, a digits MLP."""

from __future__ import annotations

from typing import Any

import numpy as np

SCHEMES = ("float32", "float16", "dynamic", "int8")


def mobilenet_v2() -> Any:
    import tf_keras

    return tf_keras.applications.MobileNetV2(
        weights=None, input_shape=(96, 96, 3), alpha=0.5, classes=10
    )


MOBILENET = "MobileNetV2 96x96 alpha 0.5"


def mobilenet_data() -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """MobileNetV2 (random weights), 32 calibration and 300 labelled random images."""
    rng = np.random.default_rng(0)
    calib = rng.random((32, 96, 96, 3), dtype=np.float32)
    x = rng.random((300, 96, 96, 3), dtype=np.float32)
    return mobilenet_v2(), calib, x, rng.integers(0, 10, 300)


EFFICIENTNET = "EfficientNetB0 224x224"


def efficientnet_data() -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """EfficientNetB0 (random weights, 10 classes), 32 calibration and 100 random images."""
    import tf_keras

    rng = np.random.default_rng(0)
    model = tf_keras.applications.EfficientNetB0(
        weights=None, input_shape=(224, 224, 3), classes=10
    )
    calib = rng.random((32, 224, 224, 3), dtype=np.float32) * 255
    x = rng.random((100, 224, 224, 3), dtype=np.float32) * 255
    return model, calib, x, rng.integers(0, 10, 100)


def digits_mlp() -> Any:
    """A small dense classifier on the flattened digits: interpreter overhead dominates."""
    import tf_keras as keras

    from nbopt.demo import digits_data

    x_train, y_train, _, _ = digits_data()
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=5, verbose=0)
    return model


SMALL_MOBILENET = "MobileNetV2 32x32 alpha 0.35 on digits"


def digits_rgb32(x: np.ndarray) -> np.ndarray:
    """Digits (8x8x1, 0..1) upscaled to 32x32x3: every pixel a 4x4 block, in three channels."""
    big = np.kron(x[..., 0], np.ones((4, 4), "float32"))
    return np.repeat(big[..., None], 3, axis=-1).astype("float32")


def small_mobilenet() -> Any:
    """MobileNetV2 (alpha 0.35, 32x32x3, 10 classes, random start), compiled. Its
    BatchNormalization layers average with momentum 0.9 (not 0.999), so a short training
    leaves their statistics close to the activations."""
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    model = tf_keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(32, 32, 3), weights=None, classes=10
    )
    for layer in model.layers:
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.momentum = 0.9
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
