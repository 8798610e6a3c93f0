"""One comparison as a sequence of stages: check and prepare -> make variants -> measure -> record.

- :mod:`.checks`: the request's mistakes raised before any work, and its data prepared;
- :mod:`.variants`: which converter makes each scheme, and each conversion's cache key;
- :mod:`.run`: :class:`Run`, a comparison under way: converts (or reuses), measures,
  records and announces each row;
- :mod:`.comparison`: :class:`Comparison`, the result;
- :mod:`.post_training`: the post-training comparison (float32 baseline and each scheme).

The training-time techniques (:mod:`nbopt.engine.training`) run their variants through the
same :class:`Run`.
"""
