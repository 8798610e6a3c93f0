"""A small, real example: a CNN trained on scikit-learn's bundled digits (no download)."""

from __future__ import annotations

from typing import Any

import numpy as np


def digits_data(test_size: float = 0.2, seed: int = 0) -> tuple[np.ndarray, ...]:
    """``x_train, y_train, x_test, y_test``: 8x8x1 images scaled to [0, 1], integer labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., np.newaxis]
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y
    )
    return x_train, y_train, x_test, y_test


def digits_cnn(keras: Any = None, seed: int = 0) -> Any:
    """An untrained CNN for 8x8x1 digits (about 150k parameters), built with ``keras``.

    ``keras`` defaults to tf_keras (Keras 2); pass the ``keras`` module for Keras 3.
    """
    if keras is None:
        import tf_keras as keras
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="digits")
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(inputs)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="digits_cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def trained_digits_cnn(epochs: int = 12, keras: Any = None) -> tuple[Any, tuple[np.ndarray, ...]]:
    """A digits CNN trained for ``epochs`` and the data split it was trained on."""
    data = digits_data()
    x_train, y_train, _, _ = data
    model = digits_cnn(keras)
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    return model, data
