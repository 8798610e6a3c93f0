"""The Dask client a sweep runs on: a LocalCluster started on first use, or a scheduler's.

With no address, one :class:`distributed.LocalCluster` of process workers (one per core,
one thread each) is started on first use and reused by every later sweep of the process.
An address (``--scheduler``, ``NbOpt.scheduler``) connects to a running scheduler; a
``client=`` is used as it is. Every worker sizes TensorFlow's thread pools to its own
thread count and gets ready for its first task as it joins (:class:`TFThreads`).
"""

from __future__ import annotations

import atexit
import logging
import os
import tempfile
import threading
from typing import Any

from .worker_plugin import plugin_base

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_local: Any = None

#: Lease settings of the host locks: a killed worker's lease is freed within seconds.
LOCK_CONFIG = {
    "distributed.scheduler.locks.lease-timeout": "6s",
    "distributed.scheduler.locks.lease-validation-interval": "1s",
    # A task whose worker dies once is retried; twice and it becomes a failed row.
    "distributed.scheduler.allowed-failures": 1,
}


class TFThreads(plugin_base()):  # type: ignore[misc]
    """Worker plugin: TensorFlow's intra/inter-op pools sized to the worker's threads, and
    the worker made ready for its first task (:func:`get_ready`)."""

    name = "nbopt-tf-threads"

    def setup(self, worker: Any) -> None:
        quiet_output()
        n = str(max(1, int(worker.state.nthreads)))
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ["TF_NUM_INTRAOP_THREADS"] = n
        os.environ["TF_NUM_INTEROP_THREADS"] = n
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(n))
            tf.config.threading.set_inter_op_parallelism_threads(int(n))
        except RuntimeError:  # TensorFlow already started in this worker: keep its pools
            pass
        get_ready()


def get_ready() -> None:
    """What every task needs and only the first would pay for: the converter worker
    process, started and done importing TensorFlow (it does so while this process imports
    tf_keras and tfmot). About 5 s that a sweep's first tasks no longer wait for."""
    from ..engine.convert import worker

    worker.WARM_AFTER_RECYCLE = False  # see there: the host lock must see every start
    worker.warm()
    import tf_keras  # noqa: F401

    from ..engine.model.keras_models import import_tfmot

    import_tfmot()

    worker.ready()


#: Where the LocalCluster's workers write their own output (TensorFlow's start-up lines).
WORKER_LOG = os.path.join(tempfile.gettempdir(), "nbopt-dask-workers.log")


def quiet_output() -> None:
    """In a worker of nbopt's LocalCluster, send file descriptors 1 and 2 to
    :data:`WORKER_LOG`: they are the kernel's, and TensorFlow's C++ start-up lines (and the
    converter's) would land in whichever cell runs. Workers of other clusters keep theirs."""
    path = os.environ.get("NBOPT_WORKER_LOG")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for target in (1, 2):
        os.dup2(fd, target)
    os.close(fd)


def local_client(n_workers: int | None = None) -> Any:
    """The process's LocalCluster client (started on first use: one worker per core)."""
    global _local
    with _lock:
        if _local is not None and _local.status == "running":
            _resize(_local, n_workers)
            return _local
        import dask
        from distributed import Client, LocalCluster

        n = n_workers or os.cpu_count() or 1
        env = {
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
            "TF_USE_LEGACY_KERAS": os.environ.get("TF_USE_LEGACY_KERAS", "1"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "NBOPT_WORKER_LOG": WORKER_LOG,
        }
        with dask.config.set(LOCK_CONFIG):
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                # A free port on loopback only, like the scheduler (":0" is every interface).
                dashboard_address="127.0.0.1:0",
                env=env,
                # Dask's own log lines would land in the notebook's cells; every failure of
                # a configuration is a row with its reason instead.
                silence_logs=logging.CRITICAL,
            )
        _local = Client(cluster)
        prepare(_local)
        return _local


def _resize(client: Any, n_workers: int | None) -> None:
    """Give the LocalCluster ``n_workers`` workers (if asked for another number)."""
    if not n_workers or len(client.nthreads()) == n_workers:
        return
    client.cluster.scale(n_workers)
    client.wait_for_workers(n_workers, timeout=120)
    while len(client.nthreads()) > n_workers:  # scaling down retires workers
        import time

        time.sleep(0.1)


def connect(address: str) -> Any:
    """A client of the scheduler at ``address`` (one per address, reused)."""
    with _lock:
        client = _clients.get(address)
        if client is not None and client.status == "running":
            return client
        from distributed import Client

        client = Client(address, timeout="20s")
        prepare(client)
        _clients[address] = client
        return client


def get(client: Any = None, scheduler: str | None = None) -> Any:
    """The client to use: ``client``, else one of ``scheduler``, else the LocalCluster's."""
    if client is not None:
        prepare(client)
        return client
    if scheduler:
        return connect(scheduler)
    return local_client()


def prepare(client: Any) -> None:
    """Register nbopt's worker plugins on ``client``'s workers (once): TensorFlow's thread
    pools (:class:`TFThreads`) and the restart of a worker grown too big
    (:class:`~nbopt.sweeps.recycle.Recycle`)."""
    if getattr(client, "_nbopt_prepared", False):
        return
    from .recycle import Recycle

    client.register_plugin(TFThreads(), name=TFThreads.name)
    client.register_plugin(Recycle(), name=Recycle.name)
    client._nbopt_prepared = True


def host_slots(client: Any) -> dict[str, int]:
    """Worker threads per host name: the leases of each host's lock."""
    import socket

    hosts = client.run(socket.gethostname)
    threads = client.nthreads()
    out: dict[str, int] = {}
    for address, host in hosts.items():
        out[host] = out.get(host, 0) + int(threads.get(address, 1))
    return out


def dashboard(client: Any) -> str | None:
    """The dashboard's link, e.g. ``http://127.0.0.1:PORT/status``, if the scheduler has one.

    JupyterLab's Dask sidebar (dask-labextension) takes this link and lists the dashboard's
    plots as panes.
    """
    try:
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - a scheduler started without a dashboard
        return None


def shutdown() -> None:
    """Close the LocalCluster and every client made here."""
    global _local
    with _lock:
        for client in [_local, *_clients.values()]:
            if client is None:
                continue
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None and client is _local:
                cluster.close()
        _local = None
        _clients.clear()


atexit.register(shutdown)
