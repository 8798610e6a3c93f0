"""Model families people bring, built in code and trained briefly on data that needs no download.

Each family is a :class:`Family`: a builder (tf_keras by default, or the ``keras`` module for
Keras 3) and the data it learns from, in the forms nbopt's API takes (``calib``, ``fit``,
``eval``). The compatibility matrix (``tests/test_matrix.py``) runs every technique on each.

:func:`trained_once` and :func:`post_training` keep what they made for the pytest session, so
that a family trained (and quantized) by one test file is not trained again by another.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The post-training schemes a comparison of :func:`post_training` holds.
PTQ = ("float16", "dynamic", "int8", "int16x8")


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
class DatasetData(Data):
    """Data as ``tf.data`` pipelines: nbopt is handed the pipelines, never the arrays (which
    train the model only)."""

    train_set: Any = None
    test_set: Any = None

    @property
    def fit(self) -> Any:
        return self.train_set

    @property
    def eval(self) -> Any:
        return self.test_set

    @property
    def calib(self) -> Any:
        return self.train_set.take(2)

    @property
    def arrays(self) -> tuple[Any, Any]:
        return self.x_train, self.y_train


@dataclass
class Family:
    """A model family: what it is, how it is built, what it learns from."""

    name: str
    build: Callable[[Any], Any]
    data: Callable[[], Data]
    loss: Any = "sparse_categorical_crossentropy"
    epochs: int = 4
    #: The Keras flavors it is built with: tf_keras, and keras3 (``import keras``).
    flavors: tuple[str, ...] = ("tf_keras",)
    #: A callable ``(data, keras_module) -> None`` run after building, before training
    #: (an adapted Normalization layer learns its statistics here).
    adapt: Callable[[Any, Any], None] | None = None
    #: Set each BatchNormalization's statistics from the training data after training (a few
    #: steps leave a deep network's moving averages far from its activations).
    refresh_bn: bool = False


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


def digits_rgb32_255() -> Data:
    """Digits upscaled to 32x32x3 in 0..255, as the applications' own preprocessing expects
    (their Rescaling and Normalization layers are part of the model)."""
    x_train, y_train, x_test, y_test = _digits()

    def up(x: np.ndarray) -> np.ndarray:
        big = np.kron(x[..., 0], np.ones((4, 4), "float32")) * 255.0
        return np.repeat(big[..., None], 3, axis=-1).astype("float32")

    return Data(up(x_train[:512]), y_train[:512], up(x_test[:200]), y_test[:200])


def digits_uint8() -> Data:
    """Digits as 8-bit images (0..255), as a camera gives them."""
    x_train, y_train, x_test, y_test = _digits()
    return Data(
        np.round(x_train * 255).astype("uint8"),
        y_train,
        np.round(x_test * 255).astype("uint8"),
        y_test,
    )


def tones() -> Data:
    """One second of 'audio' at 1 kHz per sample: a noisy tone at one of 8 pitches (the label),
    framed as 50 frames of 20 samples, as a Conv1D keyword spotter reads its input."""
    rng = np.random.default_rng(0)
    n = 1000
    y = rng.integers(0, 8, n)
    t = np.arange(1000) / 1000.0
    freq = 40.0 + 30.0 * y[:, None]
    phase = rng.random((n, 1)) * 2 * np.pi
    wave = np.sin(2 * np.pi * freq * t + phase) * rng.uniform(0.2, 1.0, (n, 1))
    wave += 0.3 * rng.standard_normal((n, 1000))
    x = wave.reshape(n, 50, 20).astype("float32")
    return Data(x[:800], y[:800].astype("int64"), x[800:], y[800:].astype("int64"))


def digits_datasets() -> Data:
    """Digits as batched ``tf.data`` pipelines of ``(x, y)`` tuples (calibration and evaluation
    read from the same kind of pipeline a training loop does)."""
    import tensorflow as tf

    x_train, y_train, x_test, y_test = _digits()

    def pipeline(x: np.ndarray, y: np.ndarray) -> Any:
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(32).prefetch(2)

    return DatasetData(
        x_train, y_train, x_test, y_test, pipeline(x_train, y_train), pipeline(x_test, y_test)
    )


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
    x = layers.LSTM(64)(inputs)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="lstm")


def gru(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8), name="rows")
    x = layers.GRU(64)(inputs)
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


def efficientnet_b0(keras: Any) -> Any:
    return keras.applications.EfficientNetB0(
        input_shape=(32, 32, 3), weights=None, classes=10, drop_connect_rate=0.0
    )


def mobilenet_v3_small(keras: Any) -> Any:
    return keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3), weights=None, classes=10, dropout_rate=0.0
    )


def densenet121(keras: Any) -> Any:
    return keras.applications.DenseNet121(input_shape=(32, 32, 3), weights=None, classes=10)


def transformer(keras: Any) -> Any:
    """One encoder block: token embeddings, self-attention, LayerNorm, a feed-forward MLP."""
    layers = keras.layers
    inputs = keras.Input((20,), dtype="int32", name="tokens")
    x = layers.Embedding(1000, 32, name="embed")(inputs)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=16, name="attention")(x, x)
    x = layers.LayerNormalization(name="norm1")(layers.Add()([x, attended]))
    mlp = layers.Dense(32)(layers.Dense(64, activation="relu")(x))
    x = layers.LayerNormalization(name="norm2")(layers.Add()([x, mlp]))
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, layers.Dense(2, activation="softmax")(x), name="transformer")


def conv1d_audio(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((50, 20), name="frames")
    x = layers.Conv1D(32, 5, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(32, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, layers.Dense(8, activation="softmax")(x), name="conv1d_audio")


def bidirectional(cell: str) -> Callable[[Any], Any]:
    def build(keras: Any) -> Any:
        layers = keras.layers
        inputs = keras.Input((8, 8), name="rows")
        x = layers.Bidirectional(getattr(layers, cell)(32), name="bi")(inputs)
        return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name=f"bi{cell}")

    return build


def uint8_rescaling(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), dtype="uint8", name="image")
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="uint8_rescaling")


def normalized(keras: Any) -> Any:
    """The digits unscaled (0..16), standardised by an adapted Normalization layer."""
    layers = keras.layers
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Normalization(name="norm")(inputs)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x), name="normalized")


def adapt_norm(model: Any, data: Data) -> None:
    model.get_layer("norm").adapt(data.x_train)


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
        Family(
            "EfficientNetB0 32x32", efficientnet_b0, digits_rgb32_255, epochs=6, refresh_bn=True
        ),
        Family(
            "MobileNetV3Small 32x32",
            mobilenet_v3_small,
            digits_rgb32_255,
            epochs=6,
            refresh_bn=True,
        ),
        Family("DenseNet121 32x32", densenet121, digits_rgb32_255, epochs=3, refresh_bn=True),
        Family("transformer block", transformer, token_sequences, epochs=6),
        Family("Conv1D audio", conv1d_audio, tones, epochs=6),
        Family("Bidirectional LSTM", bidirectional("LSTM"), digits_sequences, epochs=6),
        Family("Bidirectional GRU", bidirectional("GRU"), digits_sequences, epochs=6),
        Family("uint8 input + Rescaling", uint8_rescaling, digits_uint8),
        Family(
            "adapted Normalization",
            normalized,
            digits_raw,
            flavors=("keras3",),
            adapt=adapt_norm,
        ),
        Family("tf.data pipelines", plain_cnn, digits_datasets),
    ]
}

#: Families also built with Keras 3 (``import keras``), rebuilt as tf_keras where tfmot needs it.
KERAS3 = ("plain CNN", "Conv+BN+Dropout", "LSTM", "two inputs")
for _name in KERAS3:
    FAMILIES[_name].flavors = ("tf_keras", "keras3")


def trained(family: Family, keras_module: Any) -> tuple[Any, Data]:
    """The family's model built with ``keras_module``, trained on its data; and the data."""
    keras_module.utils.set_random_seed(0)
    data = family.data()
    model = family.build(keras_module)
    if family.adapt is not None:
        family.adapt(model, data)
    model.compile(optimizer="adam", loss=family.loss)
    model.fit(data.x_train, data.y_train, epochs=family.epochs, batch_size=32, verbose=0)
    if family.refresh_bn:
        refresh_batchnorm(model, data.x_train[:256], keras_module)
    return model, data


def keras_of(flavor: str) -> Any:
    """The Keras module of a flavor: ``keras`` (Keras 3) for keras3, else tf_keras."""
    if flavor == "keras3":
        import keras
    else:
        import tf_keras as keras
    return keras


@functools.cache
def trained_once(family: str, flavor: str) -> tuple[Any, Data]:
    """:func:`trained` by the family's name and Keras flavor, once per pytest session."""
    return trained(FAMILIES[family], keras_of(flavor))


@functools.cache
def post_training(family: str, flavor: str) -> Any:
    """The comparison of every :data:`PTQ` scheme on :func:`trained_once`'s model, once per
    pytest session."""
    import nbopt

    model, data = trained_once(family, flavor)
    return nbopt.quantize(model, ",".join(PTQ), data.calib, data.eval, name=family)


def refresh_batchnorm(model: Any, x: Any, keras_module: Any) -> None:
    """Each BatchNormalization's moving statistics set to those of ``x`` (one forward pass in
    training mode with momentum 0), as a long training would have left them."""
    norms = [
        layer
        for layer in model._flatten_layers()
        if isinstance(layer, keras_module.layers.BatchNormalization)
    ]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum
