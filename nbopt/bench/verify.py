"""What checking a foreign .tflite costs: the verifier and the worker's probe, against a load."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def _median_ms(fn: Callable[[], Any], repeats: int = 15) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bench_verify() -> dict[str, float]:
    """MobileNetV2 (224x224, 14 MB): verify, load + allocate, and nbopt.load, in ms."""
    import tf_keras
    from ai_edge_litert.interpreter import Interpreter

    import nbopt
    from nbopt.engine.convert import worker
    from nbopt.engine.model.verify import verify

    model = tf_keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    content = nbopt.quantize(model, "float32").content
    worker.ready()

    def load_and_allocate() -> None:
        Interpreter(model_content=content).allocate_tensors()

    out = {
        "verify": _median_ms(lambda: verify(content)),
        "load": _median_ms(load_and_allocate),
        "nbopt.load": _median_ms(lambda: nbopt.load(content), repeats=5),
    }
    print(
        f"\n[verify] checking a foreign .tflite: MobileNetV2 224x224, {len(content) / 1e6:.1f} MB"
    )
    print(f"  plain load + allocate        {out['load']:7.2f} ms   1.00x")
    ratio = out["verify"] / out["load"]
    print(f"  flatbuffer verifier          {out['verify']:7.2f} ms   {ratio:.2f}x")
    print(
        f"  nbopt.load (verify + probe)  {out['nbopt.load']:7.2f} ms   "
        f"{out['nbopt.load'] / out['load']:.2f}x  (the probe loads, allocates and invokes once "
        "in the worker)"
    )
    return out
