"""Write the tutorial notebooks from the cell sources below (outputs stripped).

``python tutorials/build_notebooks.py`` rewrites every ``tutorials/NN_*.ipynb``; the tests check
that the committed notebooks match this file and carry no outputs. Edit here, not in Jupyter
(or edit in Jupyter and copy the cells back here).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).parent

#: Markdown cells start with this marker; every other cell is code.
MD = "md:"

NOTEBOOKS: dict[str, list[str]] = {}

NOTEBOOKS["01_quick_start.ipynb"] = [
    """md:# 1. Quick start: post-training quantization of a digits CNN

A trained Keras model stores every weight as a 32-bit float. **Quantization** stores them (and
sometimes the activations too) with fewer bits, so the model file is smaller and, on many
processors, faster. Post-training quantization needs no retraining: you convert the finished
model, at most showing the converter a few hundred example inputs.

**In this tutorial you will learn**

- how to load nbopt and train a small convolutional network on scikit-learn's digits;
- what the four post-training schemes of TensorFlow Lite (float16, dynamic range, int8 and
  int16x8) do, and how to measure all of them with one `%quantize` line;
- how to read the results table (size, latency, accuracy) and chart it;
- how to save a quantized `.tflite` file and run it with the LiteRT interpreter, including an
  integer-only model whose inputs you quantize yourself.

Everything runs on this machine's CPU in a minute or two; nothing is downloaded.""",
    """md:## Load nbopt first

`%load_ext nbopt` registers the magics. Load it **before** importing TensorFlow: it then selects
Keras 2 (`tf_keras`), which the Model Optimization Toolkit needs for the training-based
techniques of the later tutorials.""",
    "%load_ext nbopt",
    """md:## The data and the model

scikit-learn ships 1,797 handwritten digits as 8x8 grey images, so no download is needed.
`nbopt.demo.digits_data()` scales them to [0, 1] and splits them into 1,437 training and 360
test images; `digits_cnn()` builds a small CNN (two convolutions and two dense layers, about
150,000 weights).""",
    """import numpy as np
from nbopt.demo import digits_cnn, digits_data

x_train, y_train, x_test, y_test = digits_data()
print("train:", x_train.shape, "test:", x_test.shape, "pixel range:", x_train.min(), x_train.max())

model = digits_cnn()
model.fit(x_train, y_train, epochs=12, batch_size=32, verbose=0)
keras_loss, keras_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"{model.count_params():,} parameters; Keras test accuracy {keras_accuracy:.2%}")""",
    """md:## The four post-training schemes

| scheme | what is stored with fewer bits | needs | expect |
|---|---|---|---|
| `float16` | weights as 16-bit floats | nothing | about 2x smaller; same speed on a CPU |
| `dynamic` | weights as 8-bit integers; activations stay float | nothing | about 4x smaller |
| `int8` | weights **and** activations as 8-bit integers | ~100-500 example inputs | about 4x smaller; integer kernels |
| `int16x8` | weights 8-bit, activations 16-bit | example inputs | 4x smaller; slow reference kernels |

`int8` and `int16x8` must know the range of every activation to map it onto integers: they
run the **calibration** samples you pass with `--calib` (unlabelled inputs, 256 here) through
the model and record the ranges. `--eval` is labelled test data for accuracy.

One line converts the model with every scheme, measures each file's size, its latency (the
median of many single-image invocations on this CPU) and its accuracy, and always includes
the float32 model as the baseline every ratio is computed against. `--as cmp` keeps the
result in a variable.""",
    "%quantize model --scheme float16,dynamic,int8,int16x8 --calib x_train[:256] "
    "--eval x_test,y_test --as cmp",
    """md:## Reading the table

`cmp.df` is an ordinary pandas DataFrame; here are the columns that matter most:

- `size_bytes` and `size_ratio`: the `.tflite` file's size, and how many times smaller than
  float32 it is. int8 and dynamic get close to 4x; not quite, because the file also holds the
  graph, and the biases stay 32-bit.
- `gzip_bytes`: the compressed size, which is what a download costs (tutorial 3 shrinks it).
- `latency_ms` and `speedup`: a model this small runs in microseconds, so the differences
  are small and partly noise; the ratios matter more on larger models (tutorial 5).
- `accuracy` and `accuracy_delta`: top-1 accuracy on the 360 test digits, and the change
  from float32 (one digit is 0.28 points).""",
    """columns = ["scheme", "status", "size_bytes", "size_ratio", "gzip_bytes", "latency_ms",
           "speedup", "accuracy", "accuracy_delta"]
cmp.df[columns]""",
    """md:## The chart

Two questions usually decide: *how much smaller?* and *how much accuracy did it cost?*
Plotting size against accuracy puts the best trade-offs in the top-left corner.""",
    """import matplotlib.pyplot as plt

df = cmp.df[cmp.df.status == "ok"]
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
left.bar(df.scheme, df.size_bytes / 1024, color="tab:blue")
left.set_ylabel("size (KB)")
left.set_title(".tflite size by scheme")
for x, (kb, ratio) in enumerate(zip(df.size_bytes / 1024, df.size_ratio)):
    left.annotate(f"{ratio:.1f}x smaller", (x, kb), ha="center", va="bottom", fontsize=8)
right.scatter(df.size_bytes / 1024, df.accuracy * 100, s=60)
for _, row in df.iterrows():
    right.annotate(row.scheme, (row.size_bytes / 1024, row.accuracy * 100),
                   textcoords="offset points", xytext=(5, 5))
right.set_xlabel("size (KB)")
right.set_ylabel("test accuracy (%)")
right.set_title("size against accuracy (top left is best)")
fig.tight_layout()
plt.show()""",
    """md:## Save a variant and run it

Every variant is a real TensorFlow Lite flatbuffer: `cmp["int8"]` is a `TFLiteModel` with
`.save()`, `.predict()`, `.evaluate()` and `.benchmark()`. Saved, it runs anywhere LiteRT runs
(Android, iOS, microcontrollers, Linux boards) without TensorFlow. Here we load the saved file
with the plain LiteRT interpreter, the way an app would.""",
    """from pathlib import Path

from ai_edge_litert.interpreter import Interpreter

path = cmp["int8"].save("tutorial_models/digits_int8.tflite", force=True)
print(path, f"{Path(path).stat().st_size:,} bytes")

interpreter = Interpreter(model_path=str(path))
interpreter.allocate_tensors()
inp = interpreter.get_input_details()[0]
out = interpreter.get_output_details()[0]
print("input:", inp["shape"], inp["dtype"].__name__, "output:", out["dtype"].__name__)

interpreter.set_tensor(inp["index"], x_test[:1])
interpreter.invoke()
probabilities = interpreter.get_tensor(out["index"])[0]
print("predicted", probabilities.argmax(), "true", y_test[0])""",
    """md:This `int8` model still takes and returns float32: the converter adds a quantize step
at the input and a dequantize step at the output. Accelerators such as the Edge TPU need an
**integer-only** model, with int8 inputs and outputs too (`--io int8`). Then *you* quantize
each input with the scale and zero point stored in the model:
`q = round(x / scale) + zero_point`.""",
    """%quantize model --scheme int8 --io int8 --calib x_train[:256] --eval x_test,y_test --as int8_only

path = int8_only.save("tutorial_models/digits_int8_io.tflite", force=True)
interpreter = Interpreter(model_path=str(path))
interpreter.allocate_tensors()
inp = interpreter.get_input_details()[0]
out = interpreter.get_output_details()[0]
scale, zero_point = inp["quantization"]
print("input dtype:", inp["dtype"].__name__, f"scale={scale:.5f} zero_point={zero_point}")

correct = 0
for image, label in zip(x_test, y_test):
    q = np.clip(np.round(image / scale) + zero_point, -128, 127).astype(np.int8)
    interpreter.set_tensor(inp["index"], q[np.newaxis])
    interpreter.invoke()
    correct += int(interpreter.get_tensor(out["index"])[0].argmax() == label)
print(f"integer-only accuracy, run by hand: {correct / len(y_test):.2%} "
      f"(nbopt measured {int8_only.row['accuracy']:.2%})")""",
    """md:## Everything measured in this kernel

`%nbopt results` gathers every row measured so far (both comparisons above) into one
DataFrame; `--save` keeps it as CSV, for a report or to compare with another machine.""",
    """results = %nbopt results
results[["scheme", "io", "size_ratio", "latency_ms", "accuracy"]]""",
    """md:## What to try next

- `%quantize?` lists every option; `%config NbOpt` lists the measurement settings (for
  example `%config NbOpt.latency_runs = 200` for steadier latencies).
- Pass `--calib x_train[:16]` and then `--calib x_train`: how much calibration data does int8
  need before its accuracy stops changing?
- Quantize your own model: any Keras model with fixed input shapes works.
- Next tutorial: **2. quantization-aware training**, for when int8 costs too much accuracy.""",
]

_SETUP = """import numpy as np
from nbopt.demo import digits_cnn, digits_data

x_train, y_train, x_test, y_test = digits_data()
model = digits_cnn()
model.fit(x_train, y_train, epochs=12, batch_size=32, verbose=0)
print(f"Keras test accuracy {model.evaluate(x_test, y_test, verbose=0)[1]:.2%}")"""

NOTEBOOKS["03_pruning_and_clustering.ipynb"] = [
    """md:# 3. Pruning and clustering for smaller downloads

Quantization (tutorial 1) stores each weight in fewer bits. Pruning and clustering instead
make the weights **repetitive**, so that a compressor such as gzip (which app stores, web
servers and firmware updates already use) shrinks the file far more than it shrinks a
normal model.

- **Pruning** sets the smallest weights to exactly zero (80% of them, say) while fine-tuning,
  so the rest of the network learns to do without them.
- **Weight clustering** lets each layer keep only a few distinct values (16, say): every
  weight is replaced by the nearest of 16 shared centroids, again while fine-tuning.

Both need labelled training data and a short fine-tune, and neither makes the `.tflite`
itself smaller: the zeros and the repeated values are still stored as full numbers. They
shrink the **compressed** size, which is what users download.

**In this tutorial you will learn**

- how to prune and cluster a model with `%prune` and `%cluster`, and check they worked;
- to compare `size_bytes` (the file) with `gzip_bytes` (the download);
- how sparsity trades against accuracy;
- how to combine pruning and clustering with int8 quantization for the smallest download.""",
    "%load_ext nbopt",
    """md:## A trained model to start from

The same digits CNN as in tutorial 1, trained for 12 epochs.""",
    _SETUP,
    """md:## The baseline: what gzip does to an ordinary model

Trained weights look like random numbers to a compressor, so gzip barely shrinks a float32
model; the `gzip_bytes` column shows it. int8 (4x smaller) is our reference point.""",
    "%quantize model --scheme int8 --calib x_train[:256] --eval x_test,y_test --as ptq_int8\n"
    "ptq_int8.comparison.df[['scheme', 'size_bytes', 'gzip_bytes', 'gzip_ratio', 'accuracy']]",
    """md:## Pruning

`--sparsity 0.8` asks for 80% zeros in every prunable layer. The fine-tune (`--fit`, two
epochs) raises the sparsity step by step (a polynomial schedule) while training, then the
pruning wrappers are stripped and the model is converted. The row's `sparsity` column is the
share of zeros **actually found** in the exported kernels, so you can check the target was
reached.""",
    "%prune model --sparsity 0.8 --fit x_train,y_train --epochs 2 --eval x_test,y_test --as pruned\n"
    "pruned.comparison.df[['technique', 'scheme', 'sparsity', 'size_bytes', 'gzip_bytes',\n"
    "                      'gzip_ratio', 'accuracy', 'accuracy_delta']]",
    """md:The `.tflite` is the same size as float32, but it now compresses several times: zeros
are cheap to compress. How far can you go? More sparsity means a smaller download and, at
some point, lost accuracy. A sweep with the Python API (the same operation as the magic):""",
    """import nbopt

sweep = []
for sparsity in (0.5, 0.8, 0.9, 0.95):
    if sparsity == 0.8:
        row = pruned.row  # measured above
    else:
        row = nbopt.prune(model, sparsity, fit=(x_train, y_train), epochs=2,
                          eval=(x_test, y_test), name=f"pruned {sparsity:.0%}").row
    sweep.append({"target": sparsity, "sparsity": row["sparsity"],
                  "gzip_kb": row["gzip_bytes"] / 1024, "accuracy": row["accuracy"]})
    print(f"target {sparsity:.0%}: {row['sparsity']:.1%} zeros, gzip "
          f"{row['gzip_bytes'] / 1024:.1f} KB, accuracy {row['accuracy']:.2%}")""",
    """md:## Clustering

`--clusters 16` leaves at most 16 distinct values in each weight tensor (centroids start
with k-means++ and are fine-tuned for one epoch). The row's `max_distinct_values` checks it.""",
    "%cluster model --clusters 16 --fit x_train,y_train --epochs 1 --eval x_test,y_test "
    "--as clustered\n"
    "clustered.comparison.df[['technique', 'scheme', 'max_distinct_values', 'size_bytes',\n"
    "                         'gzip_bytes', 'gzip_ratio', 'accuracy', 'accuracy_delta']]",
    """md:## Combining them with int8

The techniques stack. `--then int8` quantizes the pruned or clustered model after its
fine-tune, so its weights are both 8-bit **and** repetitive. Passing the pruned result to
`%cluster` with `--preserve sparsity` clusters the non-zero weights while keeping the zeros
(sparsity-preserving clustering), for the smallest download of all.""",
    "%prune model --sparsity 0.8 --fit x_train,y_train --epochs 2 --eval x_test,y_test "
    "--then int8 --calib x_train[:256] --as pruned_int8",
    "%cluster pruned --clusters 16 --preserve sparsity --fit x_train,y_train --epochs 1 "
    "--eval x_test,y_test --then int8 --calib x_train[:256] --as pruned_clustered_int8",
    """md:## Side by side

Every row measured in this kernel (the sweep's too), smallest download first. `gzip_ratio`
is float32's gzip size divided by this variant's: how many times less there is to download
than for the float32 model.""",
    """results = %nbopt results
table = results[results.status == "ok"][
    ["model", "technique", "scheme", "size_bytes", "gzip_bytes", "gzip_ratio", "accuracy"]
]
# One float32 baseline row is enough (every call above measured the same one).
table = table[(table.technique != "baseline") | (table.model == "model")]
table = table.drop_duplicates(["model", "technique", "scheme"]).sort_values("gzip_bytes")
table""",
    """import matplotlib.pyplot as plt

labels = [f"{m}\\n{t}/{s}" for m, t, s in zip(table.model, table.technique, table.scheme)]
fig, ax = plt.subplots(figsize=(11, 4))
positions = np.arange(len(table))
ax.bar(positions - 0.2, table.size_bytes / 1024, 0.4, label=".tflite file")
ax.bar(positions + 0.2, table.gzip_bytes / 1024, 0.4, label="gzip (download)")
ax.set_xticks(positions, labels, fontsize=7)
ax.set_ylabel("KB")
ax.set_title("File size and download size")
ax.legend()
fig.tight_layout()
plt.show()""",
    """md:## What to read from it

- Pruning and clustering on their own keep the float32 file size but cut the download by
  several times; combined with int8 they beat int8 alone on download size.
- The accuracy column tells you whether the fine-tune was long enough: with real data and
  larger models, use more epochs than the two used here to keep the tutorial fast.
- At run time a pruned model is *not* faster on standard TFLite CPU kernels: the zeros are
  still multiplied. (XNNPack can exploit some sparse patterns; `--structure 2:4` makes
  hardware-friendly structured sparsity.)

## What to try next

- Change `--sparsity` and `--clusters` and watch `gzip_bytes` and `accuracy`.
- `%prune model --sparsity 0.5 --structure 2:4 ...` for structured (2 out of 4) sparsity.
- `%quantize pruned --aware --preserve sparsity --fit x_train,y_train --eval x_test,y_test`:
  quantization-aware training that keeps the zeros (tutorial 2 introduces QAT).
- Next tutorial: **4. choosing a scheme**.""",
]

NOTEBOOKS["02_quantization_aware_training.ipynb"] = [
    """md:# 2. Quantization-aware training: winning back int8's accuracy

Post-training int8 (tutorial 1) maps every activation onto 256 integer steps spread over the
range it saw during calibration. That works when values are spread evenly; it fails when one
tensor mixes a few **very large** values with many small ones that carry the information: the
small values then fall into one or two steps and the model loses accuracy.

**Quantization-aware training (QAT)** fine-tunes the model with the int8 rounding simulated
("fake quantization") in the forward pass, so the weights learn to work *with* the rounding.
It costs a short training run on labelled data and gives an ordinary int8 model: the same size
and speed as post-training int8.

**In this tutorial you will learn**

- to recognise a model whose accuracy post-training int8 hurts, and why;
- what nbopt's recommendation says about it;
- how to run QAT with `%%quantize --aware`, where the cell body is *your* fine-tuning code;
- how QAT compares with the other way out, int16x8.""",
    "%load_ext nbopt",
    """md:## A model that mixes scales

Real models meet this when features on very different scales meet in one tensor: raw
sensor readings next to normalised ones, a concatenation of branches, attention outliers in
transformers. We build a small case on purpose: a CNN on the digits whose image features
(values around 0-5) are concatenated with one extra feature, the image's mean ink scaled to
raw units (values up to several hundred). In float32 this is harmless.""",
    """import numpy as np
import tf_keras as keras
from nbopt.demo import digits_data

x_train, y_train, x_test, y_test = digits_data()
layers = keras.layers


def mixed_scale_cnn(ink_scale=1000.0):
    \"\"\"The digits CNN, plus the mean ink in raw units concatenated to its features.\"\"\"
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="digits")
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(inputs)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    image_features = layers.Flatten()(x)
    ink = layers.GlobalAveragePooling2D(name="ink")(inputs)
    raw_ink = layers.Dense(1, use_bias=False, trainable=False, name="raw_ink",
                           kernel_initializer=keras.initializers.Constant(ink_scale))(ink)
    features = layers.Concatenate(name="features")([image_features, raw_ink])
    x = layers.Dense(128, activation="relu")(features)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="mixed_scale_cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


model = mixed_scale_cnn()
model.fit(x_train, y_train, epochs=12, batch_size=32, verbose=0)
print(f"Keras test accuracy {model.evaluate(x_test, y_test, verbose=0)[1]:.2%}")""",
    """md:Look at the tensor that feeds the classifier: almost all of its values are image
features, yet its range is set by the one raw feature.""",
    """probe = keras.Model(model.input, model.get_layer("features").output)
features = probe.predict(x_train[:256], verbose=0)
image_part, ink_part = features[:, :-1], features[:, -1]
step = (features.max() - features.min()) / 255
print(f"image features: 99th percentile {np.percentile(image_part, 99):.2f}, "
      f"max {image_part.max():.2f}")
print(f"raw ink feature: {ink_part.min():.0f} to {ink_part.max():.0f}")
print(f"one int8 step over the whole range: {step:.2f}; "
      f"{np.mean(np.round(image_part / step) <= 1):.0%} of the image features round to "
      "the lowest two of int8's 256 steps")""",
    """md:## Post-training quantization loses accuracy

Measure it: dynamic range quantizes only the weights; int8 quantizes the activations too
(here is where the mixed tensor bites); int16x8 keeps 16-bit activations.""",
    "%quantize model --scheme dynamic,int8,int16x8 --calib x_train[:256] --eval x_test,y_test "
    "--as ptq\n"
    "ptq.df[['scheme', 'size_bytes', 'size_ratio', 'latency_ms', 'accuracy', 'accuracy_delta']]",
    """md:nbopt's recommendation inspects the activations on the calibration data and spots the
outlier tensor (by name) before anything is converted:""",
    "%nbopt recommend model --calib x_train[:256]",
    """md:int16x8 is one way out, but it runs on TFLite's slow reference kernels (compare its
`latency_ms` above) and few accelerators support it. If you need int8 (for speed, or for an
Edge TPU), train for it.

## Quantization-aware training

In the cell form of `%%quantize --aware`, the cell body is your own fine-tuning code. nbopt
binds the name given with `--as` to a copy of the model wrapped with fake quantization
(tfmot's `quantize_model`); you compile and fit it as you would any Keras model. A low
learning rate and one epoch are usually enough: the model is already trained, it only has to
adapt to the rounding. Afterwards nbopt converts it to int8, measures it against the same
float32 baseline, and `qat_model` names the result.""",
    """%%quantize model --aware --as qat_model --eval x_test,y_test
qat_model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
qat_model.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)""",
    """md:## Side by side""",
    """import pandas as pd

ptq_rows = ptq.df.set_index("scheme")
table = pd.DataFrame({
    "post-training int8": ptq_rows.loc["int8"],
    "int16x8": ptq_rows.loc["int16x8"],
    "QAT int8": pd.Series(qat_model.row),
    "float32": ptq_rows.loc["float32"],
}).T[["size_bytes", "latency_ms", "accuracy", "accuracy_delta"]]
table""",
    """md:## What the numbers say

- Post-training int8 lost accuracy because one tensor mixed scales; the model is the same
  size after QAT, and QAT brings int8 back close to float32 (the test set has 360 digits, so
  one digit is 0.28 points: differences of a point or less are within noise).
- int16x8 also keeps the accuracy, at the cost of speed on this CPU.
- QAT needs labelled training data and a training run; post-training quantization needs
  neither. The documented order is: try post-training first, use QAT when it misses.

The line form does the same with the model's own loss and optimizer:
`%quantize model --aware --fit x_train,y_train --epochs 1 --eval x_test,y_test`.

## What to try next

- Set `ink_scale=10.0` in `mixed_scale_cnn`: with no outlier, post-training int8 keeps the
  accuracy and QAT has nothing to win back.
- `%quantize pruned --aware --preserve sparsity ...` keeps a pruned model's zeros (PQAT):
  see tutorial 3 for pruning.
- Next tutorial: **3. pruning and clustering for smaller downloads**.""",
]

NOTEBOOKS["04_choosing_a_scheme.ipynb"] = [
    """md:# 4. Choosing a scheme: the decision tree, the panel, the hardware

Tutorials 1-3 measured every technique. In practice you want to know which one to try
**first**, given the data you have and the hardware the model will run on, and then to
check that choice on your own numbers.

**In this tutorial you will learn**

- TensorFlow Lite's decision tree, and how `%nbopt recommend` walks it for your model;
- how `--verify` measures the pick and moves down the tree while accuracy misses a budget;
- how the interactive panel compares several techniques at once, live, and which variants are
  Pareto-optimal (nothing else is both smaller and more accurate);
- which variants can run on a mobile GPU or an Edge TPU, and why the others cannot.""",
    "%load_ext nbopt",
    _SETUP,
    """md:## The decision tree

```
Do you have representative input samples (a few hundred, unlabelled)?
├── no  → dynamic range quantization (float16 if the model runs on a GPU)
└── yes → full integer int8
          ├── an activation has outliers int8 resolves poorly → int16x8
          ├── integer-only accelerator (Edge TPU, Hexagon DSP) → int8 with int8 inputs/outputs
          └── accuracy drop too large, and you have labelled training data
                → quantization-aware training
```

`%nbopt recommend` applies it to *your* model: what you pass (`--calib`, `--fit`) is the data
you have, `--target` is the hardware. It also looks at the activations on the samples (that
is how tutorial 2's outlier was found). Each answer lists its reasons and the path to follow
if the pick loses too much accuracy.""",
    "%nbopt recommend model",
    "%nbopt recommend model --calib x_train[:256]",
    "%nbopt recommend model --calib x_train[:256] --target gpu",
    "%nbopt recommend model --calib x_train[:256] --fit x_train,y_train --target edgetpu",
    """md:## Checking the pick on your numbers

A recommendation is a starting point. `--verify` measures it on labelled data and, while its
accuracy drop exceeds `--max-drop` (0.01 = one point), moves down the path. `.trail` records
what was measured.""",
    """rec = %nbopt recommend model --calib x_train[:256] --eval x_test,y_test --target edgetpu --verify --max-drop 0.01
print("chosen:", rec.choice.label)
rec.trail""",
    """md:## The panel

`%nbopt panel` shows the recommendation, a checkbox for every technique (disabled, with a
tooltip saying what to pass, when its data is missing), sliders for pruning sparsity and
cluster count, a live table and a chart of size against accuracy. **Run** measures the
selection in a background thread, so the notebook stays usable; **Export** writes a chosen
variant's `.tflite` and the table as CSV.

In JupyterLab you would tick boxes and press Run. The cell after it drives the same panel in
code (`panel.schemes`, `panel.run()`, `panel.wait()`), which is also how this notebook runs in
CI, where nobody clicks.""",
    """panel = %nbopt panel model --calib x_train[:256] --eval x_test,y_test --fit x_train,y_train
panel""",
    """panel.schemes = ["float16", "dynamic", "int8", "qat", "prune", "cluster"]
panel.sparsity.value = 0.8
panel.run()
finished = panel.wait(600)
print("finished:", finished, "-", panel.state)
panel.df[["variant", "size_bytes", "gzip_bytes", "latency_ms", "accuracy", "accuracy_delta"]]""",
    """md:The chart's dashed line joins the **Pareto-optimal** variants: for each of them, no other
variant is both smaller and more accurate. Everything off the line is beaten by something on
it; among the ones on it, the choice is a trade-off only you can make.""",
    """print("Pareto-optimal:", panel.pareto)
panel.export("int8", "tutorial_models", force=True)""",
    """md:## Hardware compatibility

A smaller model is only useful if the target can run it:

- **mobile GPU delegate**: computes in float16/float32. It accepts quantized models by
  dequantizing their weights (the file is smaller, the arithmetic is not integer); nbopt asks
  TFLite's analyzer whether every op is supported (`gpu_compatible`).
- **Edge TPU / Hexagon DSP**: integer only. Every op must be int8, inputs and outputs too,
  and every op must be one the accelerator supports (`edgetpu_ready`). This is nbopt's check
  against Coral's published op list; the Edge TPU compiler makes the final decision.

`compat_notes` says why a variant is not compatible.""",
    """panel.df[["variant", "gpu_compatible", "edgetpu_ready", "compat_notes"]]""",
    """md:Only an int8 model with integer inputs and outputs is Edge TPU ready. `%nbopt inspect`
shows why, op by op: which ops run in integer, and which stay float.""",
    """%quantize model --scheme int8 --io int8 --calib x_train[:256] --eval x_test,y_test --as edge_model
%nbopt inspect edge_model""",
    "%nbopt inspect panel.models['dynamic']",
    """md:## Starting from a .tflite file

Often what you have is a `.tflite`, not the Keras model: a model zoo download, a colleague's
export, an earlier run. `%nbopt load` reads one as a `TFLiteModel`; before anything opens it,
nbopt checks it against the TFLite schema and runs it once in its crash-isolated worker
process, so a damaged file is one line of error, never a dead kernel. Its `scheme` is read
from its tensors.

Here the float32 baseline of the Edge TPU comparison above stands in for such a file.""",
    """edge_model.comparison["float32"].save("tutorial_models/digits_float32.tflite", force=True)
%nbopt load tutorial_models/digits_float32.tflite --as downloaded
print(downloaded.scheme, f"{downloaded.size:,} bytes")""",
    """md:`%quantize` takes the file in place of a model: the file itself is the baseline, and every
scheme that can be made from a float32 flatbuffer is made by the LiteRT Quantizer (float16,
dynamic, int8 and int16x8 calibrated on `--calib`, int4, blockwise and weight-only). What
needs the Keras model (quantization-aware training, pruning, clustering, int8 with float
inputs) cannot come from a file; an already-quantized file is measured as it is.""",
    """from_file = %quantize tutorial_models/digits_float32.tflite --scheme float16,dynamic,int8,int4 --calib x_train[:256] --eval x_test,y_test
from_file.df[["scheme", "technique", "io", "size_bytes", "size_ratio", "accuracy_delta", "ram_bytes"]]""",
    """md:## What to try next

- Tick other boxes in the panel and press Run (in JupyterLab); change the target dropdown and
  watch the recommendation change.
- `%nbopt recommend` on your own model, with and without `--calib`, to see which branch of
  the tree you are on.
- `%nbopt results --save results.csv` keeps every measurement of this kernel.
- Next tutorial: **5. real architectures**: MobileNet, Inception and ResNet at full size.""",
]

NOTEBOOKS["05_real_architectures.ipynb"] = [
    """md:# 5. Real architectures: MobileNet, Inception and ResNet at 224x224

The digits CNN of tutorials 1-4 is tiny; real image models have millions of weights, and that
is where quantization pays: megabytes saved, and latencies long enough for speed-ups to show.
Here we build four well-known ImageNet architectures from `tf_keras.applications` at their
usual 224x224 input, convert each with nbopt and measure on **this machine**:

| architecture | parameters | designed for |
|---|---|---|
| MobileNet v1 | 4.3 M | phones: depthwise-separable convolutions |
| MobileNet v2 | 3.5 M | phones: inverted residual blocks |
| InceptionV3 | 23.9 M | servers: multi-branch blocks |
| ResNet101V2 | 44.7 M | servers: 101 layers with residual connections |

**In this tutorial you will learn**

- how file size and latency change with float16, dynamic range and int8 on real architectures;
- what 4-bit weights (int4) buy against int8 and float16 on a microcontroller-sized
  MobileNetV2, and how much RAM (the tensor arena) each variant needs at run time;
- how long conversion itself takes, and how much memory it needs;
- why we **cannot** report accuracy here, and what you would need to.

### About accuracy: not measured here, on purpose

These models are built with `weights=None`: random weights, because pretrained ImageNet
weights are a download, and this notebook must run where nothing can be downloaded (CI, and
Binder without network access to the weights). A model with random weights has no meaningful
accuracy, and ImageNet itself is not available either, so **this notebook reports no accuracy
numbers at all**. Sizes and latencies do not depend on the weights' values (the same ops run
on the same shapes), so they are real. int8 needs calibration samples to set its ranges; we
use random images, which is fine for size and speed and would be wrong for accuracy. With
pretrained weights (`weights="imagenet"`) and a few hundred real validation images you would
pass `--calib` and `--eval` exactly as in tutorial 1.""",
    "%load_ext nbopt",
    """md:## Settings for big models

Each latency measurement here takes 10 timed single-image runs (the default, at least 50 runs,
would take minutes on the biggest models).

**Memory.** Converting InceptionV3 and ResNet101V2 needs far more memory than the MobileNets:
on our 2-core machine the kernel and nbopt's converter process together peaked at about
4 GB on ResNet101V2, against under 2 GB for the two MobileNets. So the cell below runs all
four architectures where at least 6 GB are available, and only the two MobileNets where less
is (a Binder session usually gets 1-2 GB), and says which. `NBOPT_TUTORIAL_ARCHS` (e.g.
`MobileNet,InceptionV3`) overrides the choice; CI sets it to the two MobileNets to keep every
tutorial under 2 GB.""",
    """%config NbOpt.latency_runs = 10
%config NbOpt.latency_warmup_runs = 1
%config NbOpt.latency_min_seconds = 0

import gc
import os
import time

import numpy as np
import psutil
import tf_keras

import nbopt

ALL = ["MobileNet", "MobileNetV2", "InceptionV3", "ResNet101V2"]
SMALL = ["MobileNet", "MobileNetV2"]


def memory_limit_gb():
    \"\"\"The memory this kernel may use: the machine's, or a container's limit if lower.\"\"\"
    limits = [psutil.virtual_memory().total]
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            value = open(path).read().strip()
        except OSError:
            continue
        if value.isdigit():
            limits.append(int(value))
    if os.environ.get("MEM_LIMIT", "").isdigit():  # set by Binder
        limits.append(int(os.environ["MEM_LIMIT"]))
    return min(limits) / 2**30


limit = memory_limit_gb()
if os.environ.get("NBOPT_TUTORIAL_ARCHS"):
    chosen = os.environ["NBOPT_TUTORIAL_ARCHS"]
    print("NBOPT_TUTORIAL_ARCHS selects the architectures")
elif limit >= 6:
    chosen = ",".join(ALL)
else:
    chosen = ",".join(SMALL)
    print(f"only {limit:.1f} GB of memory: measuring the MobileNets; InceptionV3 and "
          "ResNet101V2 need about 4 GB (set NBOPT_TUTORIAL_ARCHS to try anyway)")
architectures = [a.strip() for a in chosen.split(",") if a.strip()]
unknown = sorted(set(architectures) - set(ALL))
assert not unknown, f"unknown architectures {unknown}; choose from {ALL}"
print("measuring:", ", ".join(architectures), f"on {os.cpu_count()} cores")""",
    """md:## Build, convert, measure, free

For each architecture: build it, quantize it with three schemes (plus the float32 baseline
nbopt always adds), record how long that took, then delete the model and clear Keras'
session so the next one starts with the memory released. Random calibration images: see
the note on accuracy above.""",
    """def resident_mb():
    \"\"\"Resident memory of this kernel, in MB.\"\"\"
    return psutil.Process().memory_info().rss / 2**20


calibration = np.random.default_rng(0).random((8, 224, 224, 3), dtype=np.float32)
frames, timings = [], []
for name in architectures:
    start = time.perf_counter()
    model = getattr(tf_keras.applications, name)(weights=None, input_shape=(224, 224, 3))
    params = model.count_params()
    cmp = nbopt.quantize(model, "float16,dynamic,int8", calib=calibration, name=name)
    seconds = time.perf_counter() - start
    frames.append(cmp.df.assign(parameters=params))
    timings.append({"model": name, "parameters": params, "build_and_measure_s": seconds,
                    "kernel_rss_mb": resident_mb()})
    print(f"{name}: {params:,} parameters, {seconds:.0f} s, kernel {resident_mb():.0f} MB")
    del model, cmp
    gc.collect()
    tf_keras.backend.clear_session()""",
    """md:## The table

Sizes in MB, latency in milliseconds per 224x224 image (median of the timed runs, using all
of this machine's cores), and `convert_seconds`: how long making each variant took.""",
    """import pandas as pd

results = pd.concat(frames, ignore_index=True)
results = results[results.status == "ok"]
table = results.assign(size_mb=results.size_bytes / 2**20)[
    ["model", "scheme", "parameters", "size_mb", "size_ratio", "latency_ms", "speedup",
     "convert_seconds"]
]
table.round(2)""",
    "pd.DataFrame(timings).round(1)",
    """md:## The plot""",
    """import matplotlib.pyplot as plt

schemes = ["float32", "float16", "dynamic", "int8"]
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
width = 0.8 / len(schemes)
positions = np.arange(len(architectures))
for i, scheme in enumerate(schemes):
    rows = table[table.scheme == scheme].set_index("model").reindex(architectures)
    left.bar(positions + i * width, rows.size_mb, width, label=scheme)
    right.bar(positions + i * width, rows.latency_ms, width, label=scheme)
for ax, label in ((left, "size (MB)"), (right, "latency per image (ms)")):
    ax.set_xticks(positions + width * (len(schemes) - 1) / 2, architectures)
    ax.set_ylabel(label)
    ax.legend()
left.set_title("File size")
right.set_title(f"Latency on this machine ({os.cpu_count()} cores)")
fig.tight_layout()
plt.show()""",
    """md:## What the numbers say

- **Size** follows the parameter count: float16 halves it and dynamic range and int8 quarter
  it, on every architecture. That is independent of the machine.
- **Latency** depends on the machine and its kernels: read it off your table, and expect
  noise (10 runs). Quantized is not automatically faster: on an x86 CPU, XNNPack's float32
  kernels are very well optimised, and int8 can come out slower than float32 (check your
  table); int8 pays off on ARM CPUs with int8 dot-product instructions and on integer-only
  accelerators. Dynamic range quantizes activations on the fly at every layer: on large
  convolutions (Inception, ResNet) its integer products can win clearly, on the MobileNets'
  small depthwise layers the overhead can make it slower than float32. float16 weights are expanded to float32 when the model loads, so on a
  CPU float16 saves size rather than time; on a phone's GPU it is the fast one.
- **Conversion** is the slow part for big models: int8's calibration pass runs the model on
  every calibration sample, and float32 conversion traces the whole graph.
- **Accuracy**: not measured, see the note at the top. Do not read the absence of an accuracy
  drop into these numbers.""",
    """md:## Below int8, and the memory at run time: MobileNetV2 for a microcontroller

MobileNetV2 with width multiplier α = 0.35 at 96x96 input is the size people deploy on
microcontrollers (person detection, for instance). There, two numbers decide: **flash**, where
the weights live (`weights_bytes`), and **RAM**, where the activations live while the model
runs (`ram_bytes`, the *tensor arena*). nbopt measures the arena with TensorFlow Lite for
Microcontrollers' own interpreter when it can run the variant (`ram_method` = `tflm`), and
otherwise places the tensors itself the way TFLite Micro's planner does (`greedy`).

We compare float16, integer-only int8 (int8 inputs and outputs, as a microcontroller wants)
and `int4`: 4-bit weights, an eighth of float32's, with float activations.

Random weights again, with one more step: each BatchNormalization layer takes its statistics
from the calibration images (one forward pass in training mode with momentum 0), as training
would have set them. Without it, activations fade out through 50 random layers, int8 gets
scales so small that TFLite Micro refuses them, and the table would describe a broken model.""",
    """micro = tf_keras.applications.MobileNetV2(alpha=0.35, input_shape=(96, 96, 3), weights=None)
calibration96 = np.random.default_rng(1).random((16, 96, 96, 3), dtype=np.float32)
for layer in micro.layers:
    if isinstance(layer, tf_keras.layers.BatchNormalization):
        layer.momentum = 0.0  # the next pass sets the moving statistics to this batch's
micro(calibration96, training=True)

small = nbopt.quantize(micro, "float16,int8,int4", calib=calibration96, io="int8",
                       name="MobileNetV2 0.35 96x96")
df = small.df
df.assign(size_kb=df.size_bytes / 1024, weights_kb=df.weights_bytes / 1024,
          ram_kb=df.ram_bytes / 1024)[
    ["scheme", "size_kb", "size_ratio", "weights_kb", "ram_kb", "ram_method", "latency_ms",
     "mcu_ready"]
].round(2)""",
    """md:`compat_notes` says why a variant does not run under TFLite Micro, and which ops a
scheme left in float (the notes about the GPU and the Edge TPU are left out here):""",
    """for row in small.rows:
    notes = [n for n in row["compat_notes"].split("; ") if n.startswith("MCU") or " leaves " in n]
    print(f"{row['scheme']:8}", "; ".join(notes) or "runs under TFLite Micro as it is")""",
    """md:### What the numbers say

- **Flash.** int4 makes the smallest file, but not 8x smaller: the depthwise convolutions keep
  float32 weights (the quantizer has no 4-bit depthwise kernel; the notes name them), so it
  lands near 6.4x, against about 3.5x for int8 and 2x for float16.
- **RAM.** int8's activations are one byte instead of four: its arena is a quarter of
  float32's (about 135 KB against 540 KB). int4 keeps float32 activations, so it needs as
  much RAM as float32; float16 needs more, because its weights are expanded to float32 in
  memory when the model loads. Smaller weights do not mean less memory at run time.
- **Where it runs.** int4 is a *hybrid* model (float activations, integer weights), run by
  LiteRT's CPU kernels, which quantize activations on the fly: on this x86 machine that is
  far slower than float32 (see `latency_ms`). TFLite Micro has no hybrid kernels and no float16
  weights: for a microcontroller, int8 is the one that runs (`mcu_ready`).

`nbopt.recommend` knows this: for `target="mcu"` it picks integer-only int8 and checks the
measured variant against the device's RAM and flash (in KB; RAM is TFLite Micro's whole
arena, bookkeeping included):""",
    """advice = nbopt.recommend(micro, calibration96, target="mcu", ram_kb=256, flash_kb=2048)
print(advice)""",
    """md:## What to try next

- With network access and pretrained weights, `weights="imagenet"`, real calibration images
  and `--eval` data give the accuracy column; compare int8's drop on MobileNet v2 (known to be
  sensitive) with ResNet's, and int4's with int8's.
- Try `threads=1` in `nbopt.quantize` for single-core latency, closer to a small device.
- `%nbopt recommend` on MobileNet v2 with real images as `--calib`, and `--target mcu` with
  your board's RAM and flash.""",
]


NOTEBOOKS["06_debugging_int8.ipynb"] = [
    """md:# 6. Why did int8 lose accuracy? Per-layer debugging and selective quantization

Sometimes post-training int8 does not lose a point or two: it collapses. The usual cause is
one tensor whose range is set by a few huge values (an outlier channel), so that int8's 256
steps are far too coarse for every other value in it. The fix is often to keep just the
layers around that tensor in float, and quantize everything else.

**In this tutorial you will learn**

- how `%nbopt debug` finds the layers int8 hurts, by quantizing each layer alone and
  measuring the accuracy it costs;
- what the debugger's statistics (`rmse_over_scale`, `sqnr_db`, `range`, `scale`) say, and why
  the measured sensitivity is the column to sort by;
- how `--float hidden,mid` keeps named layers float (with quantize/dequantize around them);
- how `--max-drop` finds the fewest float layers that keep accuracy within a budget.""",
    "%load_ext nbopt",
    """md:## A model that int8 breaks

An MLP on the digits (8x8 images as 64 pixels), trained as usual. Then we plant an outlier:
one unit of the layer `hidden` is scaled up 1000 times, and the next layer's weights for that
unit down 1000 times. In float32 the model computes exactly the same function; in int8, the
tensor between `hidden` and `mid` gets one scale for a range 1000 times too wide. Real models
meet the same thing through outlier channels (transformers' attention outliers, BatchNorm
folded into a convolution, features in raw units).""",
    """import numpy as np
import tf_keras as keras
from nbopt.demo import digits_data

x_train, y_train, x_test, y_test = digits_data()
x_train, x_test = x_train.reshape(-1, 64), x_test.reshape(-1, 64)

keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((64,), name="pixels"),
    keras.layers.Dense(32, activation="relu", name="first"),
    keras.layers.Dense(32, activation="relu", name="hidden"),
    keras.layers.Dense(32, activation="relu", name="mid"),
    keras.layers.Dense(32, activation="relu", name="fourth"),
    keras.layers.Dense(10, activation="softmax", name="out"),
], name="planted")
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=30, batch_size=32, verbose=0)

kernel, bias = model.get_layer("hidden").get_weights()
kernel[:, 0] *= 1000
bias[0] *= 1000
model.get_layer("hidden").set_weights([kernel, bias])
kernel, bias = model.get_layer("mid").get_weights()
kernel[0, :] /= 1000
model.get_layer("mid").set_weights([kernel, bias])
print(f"Keras test accuracy {model.evaluate(x_test, y_test, verbose=0)[1]:.2%}")""",
    """%quantize model --scheme int8 --calib x_train[:256] --eval x_test,y_test --as plain""",
    """md:int8 is half the size, and useless. Which layer is to blame?

## `%nbopt debug`: each layer quantized alone

`%nbopt debug` calibrates once, then makes one variant per Keras layer in which **only that
layer** is int8 (everything else float, as Qualcomm AIMET's per-layer analysis does) and
measures the accuracy it costs: `sensitivity`. It also reads that layer's quantized output
beside the float one, the statistics TensorFlow's `QuantizationDebugger` reports:
`rmse_over_scale` (the error in quantization steps; 0.289 is rounding alone), `sqnr_db`,
`range` (what the 256 steps cover), `scale`, `zero_point`, `max_abs_error`.""",
    """report = %nbopt debug model --calib x_train[:256] --eval x_test,y_test
report""",
    """md:`hidden` and `mid` each cost almost all the accuracy; the other layers cost nothing.
Both are to blame because the broken tensor lies *between* them: quantizing `hidden` alone
quantizes its output with a scale of about 20 (`range` above 5000, set by the planted unit),
so the other 31 units round to zero; quantizing `mid` alone quantizes its input the same way.

Notice that `hidden`'s `rmse_over_scale` looks healthy (about 0.3): its error is small *in
steps*; it is the steps that are too coarse. This is why the table sorts by the measured
sensitivity, not by the statistics. Without `--eval`, `sensitivity` is the output's error
against float32 on the calibration data instead (the report says which).

`report.df` is a DataFrame; `report.suspects` lists the layers over the threshold.""",
    """print(report.suspects)
report.df[["layer", "ops", "sensitivity", "range", "scale", "rmse_over_scale"]]""",
    """md:## `--float`: keep the suspects in float

`--float hidden,mid` keeps those layers' ops float: the converter's float model is
quantized by the LiteRT Quantizer with a recipe that leaves exactly those ops alone, and
puts DEQUANTIZE before them and QUANTIZE after them. Everything else stays int8.""",
    """%quantize model --scheme int8 --float hidden,mid --calib x_train[:256] --eval x_test,y_test --as fixed""",
    """md:`%nbopt inspect` shows, op by op, what runs in float: two FULLY_CONNECTED ops, between a
DEQUANTIZE and a QUANTIZE; the row records `float_layers` and `float_ops`.""",
    """%nbopt inspect fixed""",
    """md:A layer name that does not exist is one clear error with the close matches, never
silently ignored:""",
    """try:
    %quantize model --float hiden --calib x_train[:256]
except Exception as err:
    print(type(err).__name__, err)""",
    """md:## `--max-drop`: let nbopt find the fewest float layers

`--max-drop 0.02` measures plain int8; while the accuracy drop exceeds 2 points, it keeps
the next most sensitive layer float, then checks whether each layer added early is still
needed. Every tried variant is a row (the trail); the chosen one has `chosen=True`, and
`--as` binds it.""",
    """%quantize model --scheme int8 --max-drop 0.02 --calib x_train[:256] --eval x_test,y_test --as best""",
    """best.comparison.df[["float_layers", "float_ops", "size_bytes", "accuracy",
                      "accuracy_delta", "chosen"]]""",
    """md:## int16x8: 16-bit activations for a sequence model, scored by its error rate

Speech models meet the same problem without anyone planting it: loud frames and quiet ones
share one activation range. TensorFlow Lite's answer, in its own table of speech results
(WER, CER), is **int16x8**: int8 weights, 16-bit activations, 256 times finer steps.

Here each digit is read as a sequence of 8 frames of 8 features, as a spectrogram is, by a
small 1-D convolutional model; its `loud` layer gets the same 1000x channel. And it is scored
the way such models are, by an **error rate** written as a plain function: lower is better,
and nbopt sees that from its name (`error_rate`), so `accuracy_delta` is how much the error
*rose*, and the chart's axis says "lower is better". (A function can also say it with
`error_rate.higher_is_better = False`.)""",
    """seq_train, seq_test = x_train.reshape(-1, 8, 8), x_test.reshape(-1, 8, 8)
keras.utils.set_random_seed(0)
frames = keras.Sequential([
    keras.Input((8, 8), name="frames"),
    keras.layers.Conv1D(32, 3, padding="same", activation="relu", name="conv1"),
    keras.layers.Conv1D(32, 3, padding="same", activation="relu", name="loud"),
    keras.layers.Conv1D(32, 3, padding="same", activation="relu", name="conv3"),
    keras.layers.GlobalAveragePooling1D(name="pool"),
    keras.layers.Dense(10, activation="softmax", name="out"),
], name="frames_cnn")
frames.compile("adam", "sparse_categorical_crossentropy")
frames.fit(seq_train, y_train, epochs=20, batch_size=32, verbose=0)
kernel, bias = frames.get_layer("loud").get_weights()
kernel[..., 0] *= 1000
bias[0] *= 1000
frames.get_layer("loud").set_weights([kernel, bias])
kernel, bias = frames.get_layer("conv3").get_weights()
kernel[:, 0, :] /= 1000
frames.get_layer("conv3").set_weights([kernel, bias])


def error_rate(y_true, y_pred):
    \"\"\"Share of sequences labelled wrongly (a word error rate, for one-word utterances).\"\"\"
    return float(np.mean(np.argmax(y_pred, axis=-1) != y_true))""",
    """speech = %quantize frames --scheme int8,int16x8 --calib seq_train[:256] --eval seq_test,y_test --metric error_rate
speech""",
    """md:int8 gets almost every sequence wrong; int16x8 is within a couple of points of float32, at
nearly int8's size. The price is speed: int16x8 runs on TFLite's reference kernels (see the
latency column). On a phone's CPU that is often acceptable for a model this small; where it
is not, keep the loud layers float (`--float`) as above.

## What the numbers say

- Plain int8 collapsed because one tensor's range was set by one unit; the per-layer analysis
  names the two layers on either side of that tensor first, and nothing else.
- Keeping those two layers float restores float32's accuracy, while three of the five layers
  stay int8; the file sits between int8's and float32's sizes.
- The analysis costs one calibration and, per layer, one quantization (milliseconds) and one
  evaluation: it grows linearly with the number of layers.

## What to try next

- `nbopt.debug(model, x_train[:256])` without labels: the ranking by output error.
- Plant the outlier in `fourth` instead, and watch the culprit move.
- `%nbopt debug` on tutorial 2's mixed-scale CNN: which layers does its raw feature hurt?
- `--metric` takes your task's measure everywhere (`%prune`, `%cluster`, `%nbopt debug`,
  the panel): a name such as `top5`, `mae`, `auc`, `f1`, a Keras metric, or a function.""",
]


NOTEBOOKS["07_optimizing_for_a_target.ipynb"] = [
    """md:# 7. Optimizing for a target: tell nbopt the goal, let it search

The earlier tutorials each try one technique: post-training schemes, quantization-aware
training, pruning, clustering, int8 with some layers float. In practice the question is
usually simpler: *what is the smallest model that loses at most one point of accuracy, and
runs on my device?* `%nbopt optimize` answers it. It tries the techniques (the cheap
post-training ones first, then the ones that fine-tune, and their combinations: pruning
then int8, pruned weights stored sparse, pruning or clustering followed by quantization-aware
training), measures each candidate like the earlier magics do, and picks the best one that
keeps within your accuracy budget. It is a search, not a grid: a training candidate that
cannot beat the best so far is not run, and only the promising ones train longer.

**In this tutorial you will learn**

- how to ask for a goal (`--goal size`) within an accuracy budget (`--max-drop 0.01`), with
  a budget of candidates (`--budget`) that makes the search repeatable;
- how to read the table of candidates: `status` (did it run) and `verdict` (why it won or
  lost), and the Pareto front of size against accuracy;
- why the candidates are compared on a **validation** split and the pick is reported on
  **eval**, and how to hold out that split yourself;
- how a target (`--target mcu --ram-kb 8 --flash-kb 160`) excludes what the device cannot
  run;
- how to save the chosen `.tflite`.

Everything runs on this machine's CPU in about a minute; nothing is downloaded.""",
    "%load_ext nbopt",
    """md:## Three splits of the data, and the model

The search compares candidates on data the model has **not** been trained on, and reports
the pick's accuracy on yet other data, so that the number you read is not the one the pick
was chosen by. scikit-learn's digits give 1,437 training and 360 test images
(`nbopt.demo.digits_data()`); we keep the last 300 training images aside as the
**validation** split and train the digits CNN of tutorial 1 on the other 1,137.""",
    """from nbopt.demo import digits_cnn, digits_data

x_train, y_train, x_test, y_test = digits_data()
x_fit, y_fit = x_train[:-300], y_train[:-300]  # trains the model (and the fine-tunes)
x_val, y_val = x_train[-300:], y_train[-300:]  # chooses among the candidates
print("fit:", len(x_fit), "val:", len(x_val), "test:", len(x_test))

model = digits_cnn()
model.fit(x_fit, y_fit, epochs=12, batch_size=32, verbose=0)
print(f"Keras: validation accuracy {model.evaluate(x_val, y_val, verbose=0)[1]:.2%}, "
      f"test accuracy {model.evaluate(x_test, y_test, verbose=0)[1]:.2%}")""",
    """md:## One line: the smallest model within one point

- `--goal size`: smallest `.tflite` file (`gzip` would rank by the compressed download,
  `ram` by the memory the model needs to run, `latency` by speed on this CPU).
- `--max-drop 0.01`: the accuracy may fall by at most 0.01 (one point) against float32,
  measured on the validation split. It is in the metric's own units; for an error or a
  mean squared error it is how much the error may *rise*.
- `--calib`: unlabelled samples for the schemes that calibrate (int8, int16x8).
- `--fit`: labelled training data, which the candidates that fine-tune (quantization-aware
  training, pruning, clustering) train on: a short fine-tune each, then the ones that could
  still become the pick train on from their saved weights (successive halving).
- `--val`: the validation split. Without it, the search holds out a seeded 20% of `--fit`;
  that is only honest when the model never trained on those samples, which is why we held
  out our own.
- `--eval`: the test data the pick is reported on.
- `--budget 10`: run at most 10 candidates (a fine-tune counts once, with every variant it
  converts: pruned, then int8, each also stored sparse). A budget in candidates makes the
  same call make the same choices every time; a time (`--budget 5m`, the default is 10
  minutes) may stop earlier on a slower machine. Every candidate is kept in the results
  store as it finishes: run the same line again (after an interrupt, or with a larger
  budget) and it measures nothing twice.
- `--as best`: bind the chosen model to `best`.

While it runs, the live table shows each candidate as it is measured, with the best so far.
At the end the output is the pick (with its reason and the line that makes it again), the
search's decisions, the table of every candidate, and the front chart.""",
    "search = %nbopt optimize model --goal size --max-drop 0.01 --calib x_fit[:256] "
    "--fit x_fit,y_fit --val x_val,y_val --eval x_test,y_test --budget 10 --as best\n"
    "search",
    """md:## Reading the verdicts

Every candidate is a row. `status` keeps its meaning from the other magics: `ok` (measured),
`failed`, `skipped` (not measured). The `verdict` column says what became of it:

- **kept**: within the accuracy budget, and on the **front**: no other candidate within the
  budget is both at least as small and at least as accurate.
- **dominated**: within the budget, but another candidate is smaller without losing more
  accuracy.
- **over budget**: it lost more than `--max-drop` on the validation split.
- **excluded: why**: the target cannot run it (below), or it failed.
- **not run: why**: it was not needed (int8 with some layers float only runs when plain int8
  misses the budget), it **cannot beat** the best so far (quantization-aware training and
  clustering leave the `.tflite` int8-sized, so they cannot be smaller than a smaller
  candidate already within the budget; the verdict gives the bound), it needs data that was
  not passed, or the budget was spent.
- **not measured: why**: a variant of a fine-tune that was converted, but whose file is
  already larger than the best candidate within the budget so far: it cannot become the
  pick, so its accuracy, latency and memory are not measured (its sizes are). A variant
  stored sparse is not even converted when its least possible size is larger (`not run`).

A training candidate's variants are rows of their own (`prune 0.8+int8 sparse` is pruned to
80% zeros, converted to int8 and stored sparse); one that trained on in a later rung has its
epochs in its name (`prune 0.8+int8, 3 epochs`), and the search's decisions, printed under
the pick (`search.trail`), say which trained on and why the others stopped.

In the table, `accuracy` and `Δ` (`Δ val` when the search prints as text) are measured on the
validation split: the change against float32 there is what a candidate is judged by (300
images, so one image is 0.0033). The pick is the kept candidate with the smallest goal.
`search.df` has
every results column for each candidate, as a DataFrame:""",
    """search.df[["candidate", "status", "size_bytes", "gzip_bytes", "accuracy", "accuracy_delta",
           "verdict"]]""",
    """md:## The front

The chart under the table (drawn by nbopt's JupyterLab renderer, or as an inline SVG
elsewhere) plots each measured candidate's size against its accuracy on the validation
split. Everything below the dashed max-drop line (float32's accuracy less `--max-drop`) lost
too much; among the rest,
the kept candidates, joined by the line, are the trade-offs worth considering, and the pick
(ringed) is the smallest of them. Candidates too close to tell apart share one marker that
names them all when you hover it. `search.front` is the kept rows as a DataFrame:""",
    """search.front[["candidate", "size_bytes", "accuracy_delta"]]""",
    """md:## Chosen on validation, reported on eval

`search.reason` says in one sentence why the pick won; `best` is an ordinary `TFLiteModel`.
Its row holds its accuracy on `--eval` (`accuracy`, `accuracy_delta` against float32 on the
same test images) and, as `val_accuracy`, the figure it was chosen by. Choosing the best of
many candidates on the same data you report on flatters the winner a little; reporting on
data the choice never saw does not. `search.line` is the one magic line that makes the pick
again, on its own.""",
    """print(search.reason)
print()
print(f"validation ({len(y_val)} images): {best.row['val_accuracy']:.2%}, "
      f"change {best.row['val_accuracy_delta']:+.4f}  <- what it was chosen by")
print(f"eval ({best.row['eval_samples']} images):       {best.row['accuracy']:.2%}, "
      f"change {best.row['accuracy_delta']:+.4f}  <- what to report")
print()
print(search.line)""",
    """md:## For a microcontroller: `--target mcu`

A target changes what counts. `--target mcu` keeps only models that TensorFlow Lite for
Microcontrollers runs as they are (`mcu_ready`: TFLite Micro itself allocates each one, or
nbopt's op rules decide where its package is missing), and gives the int8 candidates int8
inputs and outputs, as microcontroller code expects. `--ram-kb` / `--flash-kb` add the
device's memory: the tensor arena the model needs at run time (`ram_bytes`) and the file
itself, which sits in flash (`size_bytes`). Everything else is still measured, and its
verdict says why it does not count. (`--target edgetpu`
works the same way, for Coral's Edge TPU: only fully integer models with integer I/O, and
it does not even measure the others.)

Here without `--fit`: only the post-training candidates, which takes seconds; the ones that
fine-tune say `not run`.""",
    "mcu = %nbopt optimize model --goal size --max-drop 0.01 --calib x_fit[:256] "
    "--val x_val,y_val --eval x_test,y_test --target mcu --ram-kb 8 --flash-kb 160 "
    "--budget 8 --as tiny\n"
    'mcu.df[["candidate", "status", "io", "size_bytes", "ram_bytes", "mcu_ready", "verdict"]]',
    """print(mcu.reason)
print(mcu.line)""",
    """md:## Save the chosen model

`best` and `tiny` are real TensorFlow Lite flatbuffers: `.save()` writes them (never over an
existing file unless `force=True`). Loading the saved file back with `nbopt.load` and
measuring it on the test images gives the accuracy the search reported.""",
    """from pathlib import Path

import nbopt

for chosen, name in ((best, "digits_smallest.tflite"), (tiny, "digits_mcu.tflite")):
    path = chosen.save(Path("tutorial_models") / name, force=True)
    saved = nbopt.load(path)
    print(f"{path}: {path.stat().st_size:,} bytes ({chosen.row['scheme']}, io "
          f"{chosen.row['io']}); test accuracy {saved.evaluate(x_test, y_test):.2%}")""",
    """md:## What to try next

- `%nbopt optimize?` lists every option. The Python API takes the same ones:
  `nbopt.optimize(model, goal="size", max_drop=0.01, calib=..., fit=..., val=...,
  eval=..., budget=10)`.
- `--goal gzip`: the smallest download. Pruning and clustering make weights that compress
  well (tutorial 3); which candidate wins now?
- `--target edgetpu`, or `--target mcu` with `--fit`: the training candidates, in their
  integer-only form.
- `--max-drop 0.02`, or `--max-drop 0.0`: how does the pick move with the budget?
- `--budget 3m`: a time budget, for your own, larger model.
- `%nbopt results` holds every candidate's row, as after any other magic.""",
]


def notebook(cells: list[str]) -> nbformat.NotebookNode:
    """A notebook of ``cells`` (markdown where marked), with a Python 3 kernel and no outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    for source in cells:
        if source.startswith(MD):
            nb.cells.append(nbformat.v4.new_markdown_cell(source[len(MD) :]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids: rebuilding changes nothing
    return nb


def render(name: str) -> str:
    """The .ipynb text of tutorial ``name``, as committed."""
    return nbformat.writes(notebook(NOTEBOOKS[name])) + "\n"


def main() -> int:
    for name in NOTEBOOKS:
        (HERE / name).write_text(render(name))
        print("wrote", HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
