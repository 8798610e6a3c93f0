"""Benchmarks: ``python -m nbopt.bench``.

Every figure is printed as a ratio against a baseline measured in the same run, with the
absolute seconds beside it, so numbers from a noisy machine still compare.

1. A full post-training comparison (float32, float16, dynamic, int8) against the loop the
   TFLite tutorials teach, on MobileNetV2 (96x96, alpha 0.5, 10 classes) and the digits CNN.
2. nbopt's latency against a bare ``invoke()`` loop on the same interpreter and input.
3. Batched accuracy evaluation against a per-sample loop on 2,000 samples.
4. Re-running an unchanged comparison (its conversions reused from the results store and
   measured again) against its first run.
5. A sweep: 12 training configurations of the digits CNN on a LocalCluster of 2 workers
   against the same 12 one after another in this process (same rows), and the converter
   worker's memory over 200 conversions, recycled and not.
6. ``nbopt.optimize`` against doing it by hand (the post-training comparison, QAT, pruning
   at 0.5 and 0.8 then int8, trained as long as optimize's longest fine-tune), on the digits
   CNN and a MobileNetV2 (32x32, alpha 0.35) trained on the digits: each path's total time,
   its pick, and whether optimize's pick is at least as small within the same metric budget
   in less time (``--only optimize``).
"""
