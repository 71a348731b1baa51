"""HPC with MPI: dask-mpi turns the ranks of one `mpirun` into a Dask cluster.
===========================================================================

    pip install 'xarray-microct[mpi]'
    mpirun -n 8 python examples/mpi_run.py scan.zarr result.zarr

Rank 0 runs the scheduler, rank 1 runs this script past ``initialize()``, every other rank
is a worker; the cluster shuts down when the script ends. The same without a script:
``mpirun -n 8 microct run pipeline.yaml scan.zarr result.zarr --mpi``.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import time
from typing import Any

from dask.distributed import Client

try:
    from enhance import main  # the analysis: the same for every set-up
except ModuleNotFoundError:  # imported from the repository root: examples.<set-up>
    from examples.enhance import main

CLOSE_TIMEOUT = 30.0  # seconds the retired workers may take to leave the scheduler
CLOSE_GRACE = 2.0  # seconds they then have to stop heartbeating before it stops


def make_client() -> Client:
    """Start the Dask cluster over the MPI ranks; only rank 1 returns from initialize()."""
    from dask_mpi import initialize
    from mpi4py import MPI

    # scheduler and workers run in this program: keep their routine INFO lines quiet
    logging.getLogger("distributed").setLevel(logging.WARNING)
    initialize(nthreads=1, memory_limit="auto", dashboard_address=":0")
    client = Client()
    # every rank but the scheduler (0) and this one (1) is a worker; they join in turn
    with contextlib.suppress(TimeoutError):
        client.wait_for_workers(MPI.COMM_WORLD.Get_size() - 2, timeout=60)
    # Runs before dask-mpi's own exit handler (registered earlier), which stops the
    # scheduler: retiring the workers first lets each one leave cleanly, and closing this
    # client first keeps it from trying to reconnect to a stopped scheduler.
    atexit.register(_leave_cleanly, client)
    return client


def _stop_heartbeat(dask_worker: Any) -> None:
    """Run on each worker before it is retired: it stops telling the scheduler it lives."""
    dask_worker.periodic_callbacks["heartbeat"].stop()


def _leave_cleanly(client: Client) -> None:
    # a retired worker went on heartbeating while it closed; a heartbeat after the
    # scheduler stopped logged a traceback (seen under the CI's load, with a grace of 2 s):
    # the workers stop heartbeating first, then leave; wait until the scheduler holds no
    # worker, then give the closing ones a moment to stop
    with contextlib.suppress(Exception):  # a worker already gone has nothing to stop
        client.run(_stop_heartbeat)
    client.retire_workers(close_workers=True)
    deadline = time.monotonic() + CLOSE_TIMEOUT
    while client.scheduler_info(n_workers=-1)["workers"] and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(CLOSE_GRACE)
    client.close()


if __name__ == "__main__":
    main(make_client)
