"""The base class of nbopt's Dask worker plugins (:mod:`.cluster`'s and :mod:`.recycle`'s).

Dask's :class:`distributed.WorkerPlugin`, imported only when a plugin class is defined.
"""

from __future__ import annotations


def plugin_base() -> type:
    from distributed import WorkerPlugin

    return WorkerPlugin
