"""Workstation: a LocalCluster of worker processes, each with a memory limit.
==========================================================================

    python examples/local_cluster.py scan.zarr result.zarr

The dashboard link is printed; open it to watch the tasks and the memory of each worker.
"""

from __future__ import annotations

from dask.distributed import Client, LocalCluster

try:
    from enhance import main  # the analysis: the same for every set-up
except ModuleNotFoundError:  # imported from the repository root: examples.<set-up>
    from examples.enhance import main


def make_client() -> Client:
    """Four worker processes of one thread and 4 GiB each (spill to disk, never OOM)."""
    cluster = LocalCluster(n_workers=4, threads_per_worker=1, memory_limit="4GiB")
    client = Client(cluster)
    print("dashboard:", client.dashboard_link)
    return client


if __name__ == "__main__":
    main(make_client)
