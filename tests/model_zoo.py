"""Model families people bring, built in code and trained briefly on data that needs no download.

Each family is a :class:`Family`: a builder (tf_keras by default, or the ``keras`` module for
Keras 3) and the data it learns from, in the forms nbopt's API takes (``calib``, ``fit``,
``eval``). The compatibility matrix (``tests/test_matrix.py``) runs every technique on each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Data:
    """Training and evaluation data, as nbopt's API takes them."""

    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any

    @property
    def fit(self) -> tuple[Any, Any]:
        return self.x_train, self.y_train

    @property
    def eval(self) -> tuple[Any, Any]:
        return self.x_test, self.y_test

    @property
    def calib(self) -> Any:
        if isinstance(self.x_train, list):
            return [x[:64] for x in self.x_train]
        return self.x_train[:64]


@dataclass
class Family:
    """A model family: what it is, how it is built, what it learns from."""

    name: str
    build: Callable[[Any], Any]
    data: Callable[[], Data]
    loss: Any = "sparse_categorical_crossentropy"
    epochs: int = 4


def _digits() -> tuple[np.ndarray, ...]:
    from nbopt.demo import digits_data

    return digits_data()


def digits_images() -> Data:
    return Data(*_digits())


def digits_raw() -> Data:
    """Digits as scikit-learn ships them (0..16): the model rescales them itself."""
    x_train, y_train, x_test, y_test = _digits()
    return Data(x_train * 16.0, y_train, x_test * 16.0, y_test)


def digits_rgb96() -> Data:
    """Digits upscaled to 96x96x3 (every pixel a 12x12 block), 256 training samples."""
    x_train, y_train, x_test, y_test = _digits()

    def up(x: np.ndarray) -> np.ndarray:
        big = np.kron(x[..., 0], np.ones((12, 12), "float32"))
        return np.repeat(big[..., None], 3, axis=-1).astype("float32")

    return Data(up(x_train[:256]), y_train[:256], up(x_test[:128]), y_test[:128])


def digits_sequences() -> Data:
    """Each digit read row by row: a sequence of 8 steps of 8 features."""
    x_train, y_train, x_test, y_test = _digits()
    return Data(x_train[..., 0], y_train, x_test[..., 0], y_test)


def token_sequences() -> Data:
    """Integer token sequences; the label says whether token 7 occurs in them."""
    rng = np.random.default_rng(0)
    x = rng.integers(1, 1000, size=(1200, 20)).astype("int32")
    x[x == 7] = 8
    y = (rng.random(1200) < 0.5).astype("int64")
    pos = rng.integers(0, 20, size=1200)
    x[np.arange(1200)[y == 1], pos[y == 1]] = 7
    return Data(x[:1000], y[:1000], x[1000:], y[1000:])


def digits_two_inputs() -> Data:
    """The image and, as a second input, its row sums (8 features)."""
    x_train, y_train, x_test, y_test = _digits()
    return Data(
        [x_train, x_train.sum(axis=2)[..., 0]],
        y_train,
        [x_test, x_test.sum(axis=2)[..., 0]],
        y_test,
    )


def digits_two_outputs() -> Data:
    """Two labels per image: the digit, and whether it is even."""
    x_train, y_train, x_test, y_test = _digits()
    return Data(x_train, [y_train, y_train % 2], x_test, [y_test, y_test % 2])


def diabetes() -> Data:
    """scikit-learn's bundled diabetes regression, targets standardised."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    x = x.astype("float32") * 10
    y = ((y - y.mean()) / y.std()).astype("float32")
    return Data(x[:350], y[:350], x[350:], y[350:])


def plain_cnn(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="plain_cnn")


def conv_bn(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(32, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="conv_bn")


def mobilenet_v2(keras: Any) -> Any:
    return keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10
    )


def residual(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    y = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(16, 3, padding="same")(y)
    x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="residual")


def text_classifier(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((20,), dtype="int32", name="tokens")
    x = layers.Embedding(1000, 32)(inputs)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(2, activation="softmax")(x), name="text")


def lstm(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8), name="rows")
    x = layers.LSTM(32)(inputs)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="lstm")


def gru(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8), name="rows")
    x = layers.GRU(32)(inputs)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="gru")


def two_inputs(keras: Any) -> Any:
    layers = keras.layers
    image = keras.Input((8, 8, 1), name="image")
    sums = keras.Input((8,), name="row_sums")
    x = layers.Conv2D(16, 3, activation="relu")(image)
    x = layers.Flatten()(x)
    x = layers.Concatenate()([x, layers.Dense(8, activation="relu")(sums)])
    x = layers.Dense(32, activation="relu")(x)
    return keras.Model([image, sums], layers.Dense(10, activation="softmax")(x), name="two_in")


def two_outputs(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(16, 3, activation="relu")(inputs)
    x = layers.Flatten()(x)
    x = layers.Dense(32, activation="relu")(x)
    digit = layers.Dense(10, activation="softmax", name="digit")(x)
    even = layers.Dense(2, activation="softmax", name="even")(x)
    return keras.Model(inputs, [digit, even], name="two_out")


def regression(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((10,), name="features")
    x = layers.Dense(128, activation="relu")(inputs)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(1)(x), name="regression")


def rescaling(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Rescaling(1 / 16.0)(inputs)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="rescaling")


FAMILIES = {
    f.name: f
    for f in [
        Family("plain CNN", plain_cnn, digits_images),
        Family("Conv+BN+Dropout", conv_bn, digits_images, epochs=6),
        Family("MobileNetV2 a0.35 96x96", mobilenet_v2, digits_rgb96, epochs=3),
        Family("residual block", residual, digits_images, epochs=6),
        Family("Embedding text", text_classifier, token_sequences, epochs=6),
        Family("LSTM", lstm, digits_sequences, epochs=6),
        Family("GRU", gru, digits_sequences, epochs=6),
        Family("two inputs", two_inputs, digits_two_inputs),
        Family(
            "two outputs",
            two_outputs,
            digits_two_outputs,
            loss=["sparse_categorical_crossentropy"] * 2,
        ),
        Family("regression", regression, diabetes, loss="mse", epochs=20),
        Family("Rescaling", rescaling, digits_raw),
    ]
}

#: Families also built with Keras 3 (``import keras``), rebuilt as tf_keras where tfmot needs it.
KERAS3 = ("plain CNN", "Conv+BN+Dropout", "LSTM", "two inputs")


def trained(family: Family, keras_module: Any) -> tuple[Any, Data]:
    """The family's model built with ``keras_module``, trained on its data; and the data."""
    keras_module.utils.set_random_seed(0)
    data = family.data()
    model = family.build(keras_module)
    model.compile(optimizer="adam", loss=family.loss)
    model.fit(*data.fit, epochs=family.epochs, batch_size=32, verbose=0)
    return model, data
