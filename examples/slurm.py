"""HPC with SLURM: dask-jobqueue submits Dask workers as batch jobs.
=================================================================

    pip install dask-jobqueue
    python examples/slurm.py scan.zarr result.zarr     # on the login node

``make_cluster()`` describes one job: 16 cores, 64 GB, 4 worker processes of 4 threads,
1 hour; ``cluster.scale(jobs=4)`` asks SLURM for 4 such jobs. Check the generated job
script with ``print(make_cluster().job_script())`` before submitting.
"""

from __future__ import annotations

from dask.distributed import Client

try:
    from enhance import main  # the analysis: the same for every set-up
except ModuleNotFoundError:  # imported from the repository root: examples.<set-up>
    from examples.enhance import main


def make_cluster():  # returns a dask_jobqueue.SLURMCluster
    """One SLURM job = 16 cores, 64 GB, 4 Dask worker processes, 1 hour."""
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        queue="normal",
        account="my-project",
        cores=16,
        processes=4,
        memory="64GB",
        walltime="01:00:00",
        local_directory="$TMPDIR",
        job_extra_directives=["--exclusive"],
    )


def make_client() -> Client:
    """Submit 4 jobs (16 workers of 4 threads) and connect to their scheduler."""
    cluster = make_cluster()
    cluster.scale(jobs=4)
    client = Client(cluster)
    print("dashboard:", client.dashboard_link)
    return client


if __name__ == "__main__":
    main(make_client)
