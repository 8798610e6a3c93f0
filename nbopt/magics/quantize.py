"""``%quantize`` and ``%%quantize``: post-training schemes, or quantization-aware training."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import magics_class

import nbopt.api as api

from .base import MagicsBase, optimizing_magic

#: Options of quantization-aware training only, and of post-training schemes only.
AWARE_ONLY = ("fit", "epochs", "preserve", "skip")
POST_TRAINING_ONLY = ("allow_flex", "per_tensor")


@magics_class
class QuantizeMagics(MagicsBase):
    """``%quantize``."""

    @optimizing_magic("quantize", "The Keras model (a variable or expression), or a .tflite path.")
    def quantize(self, line: str, cell: str | None = None) -> Any:
        """Quantize a Keras model and measure it against its float32 baseline.

        Post-training (line form)::

            %quantize model --scheme int8 --calib x_train[:256] --eval (x_test, y_test) --as m8
            %quantize model --scheme float16, dynamic, int8, int16x8 --calib x_train[:256]

        Option values are Python expressions as Python writes them (spaces, brackets,
        generator expressions); a value in quotes is the expression inside the quotes.

        Quantization-aware training: the line form fine-tunes with the model's own loss
        and optimizer (--fit, --epochs, --batch-size); in the cell form the body is your
        fine-tuning code, run with the ``--as`` name bound to the quantization-aware copy
        (afterwards it names the result)::

            %quantize model --aware --fit x_train, y_train --epochs 1 --eval x_test, y_test

            %%quantize model --aware --as qat_model --eval x_test, y_test
            qat_model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
            qat_model.fit(x_train, y_train, epochs=1)
        """
        args = self._parse("quantize", line)
        self._check(args)
        if cell is not None and not args.aware:
            raise UsageError("%%quantize is for quantization-aware training: add --aware")
        model = self._model(args.model, args.quoted)
        _check_aware(args)
        options = self._options("quantize", args)
        if args.aware:
            options.update(self._fine_tune(args, cell, "quantize"))
        options["progress"] = self._progress(args.model)
        return self._run(args, lambda: api.quantize(model, **options))


def _check_aware(args: Any) -> None:
    """Refuse the options that do not go with ``--aware`` (or only go with it)."""
    if not args.aware:
        for option in AWARE_ONLY:
            if getattr(args, option) is not None:
                raise UsageError(f"--{option} goes with --aware (quantization-aware training)")
        return
    for option in POST_TRAINING_ONLY:
        if getattr(args, option):
            raise UsageError(
                f"--{option.replace('_', '-')} applies to post-training schemes, not to --aware"
            )
    if args.float_layers is not None or args.max_drop is not None:
        raise UsageError("--float and --max-drop are post-training options; drop --aware")
