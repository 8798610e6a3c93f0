"""``%prune`` and ``%cluster`` (and their cell forms, where the body is the fine-tuning)."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import magics_class

import nbopt.api as api

from .base import MagicsBase, optimizing_magic

CHAINED = "The Keras model (or a pruned/clustered result to chain), or a .tflite path."


@magics_class
class TrainingMagics(MagicsBase):
    """``%prune`` and ``%cluster``."""

    def _technique(self, name: str, line: str, cell: str | None, call: Any) -> Any:
        """Parse a training technique's magic and call ``call(model, **options)``."""
        args = self._parse(name, line)
        self._check(args)
        model = self._model(args.model, args.quoted)
        options = self._options(name, args)
        options.update(self._fine_tune(args, cell, name))
        options["progress"] = self._progress(args.model)
        return self._run(args, lambda: call(model, **options))

    @optimizing_magic("prune", CHAINED)
    def prune(self, line: str, cell: str | None = None) -> Any:
        """Magnitude pruning with tfmot, fine-tuned, stripped, exported and measured.

        ::

            %prune model --sparsity 0.8 --fit x_train, y_train --epochs 2 --eval x_test, y_test

            %%prune model --sparsity 0.8 --as pruned --eval x_test, y_test
            pruned.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
            pruned.fit(x_train, y_train, epochs=2)   # nbopt adds the pruning callback

        The row's ``sparsity`` is the share of zeros in the exported kernels; compare
        ``gzip_bytes``: pruning shrinks the compressed file, not the .tflite itself.
        """
        return self._technique("prune", line, cell, api.prune)

    @optimizing_magic("cluster", CHAINED)
    def cluster(self, line: str, cell: str | None = None) -> Any:
        """Weight clustering with tfmot, fine-tuned, stripped, exported and measured.

        ::

            %cluster model --clusters 16 --fit x_train, y_train --epochs 1 --eval x_test, y_test
            %cluster pruned --clusters 16 --preserve sparsity --fit x_train, y_train \\
                --then int8 --calib x_train[:256]

        The row's ``max_distinct_values`` counts the distinct values in the exported kernels.
        """
        return self._technique("cluster", line, cell, api.cluster)
