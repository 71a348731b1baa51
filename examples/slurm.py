"""HPC with SLURM: dask-jobqueue submits Dask workers as batch jobs.

    pip install dask-jobqueue
    python examples/slurm.py scan.zarr result.zarr     # on the login node

``make_cluster()`` describes one job: 16 cores, 64 GB, 4 worker processes of 4 threads,
1 hour; ``cluster.scale(jobs=4)`` asks SLURM for 4 such jobs. Check the generated job
script with ``print(make_cluster().job_script())`` before submitting.
"""

from __future__ import annotations

import sys

from dask.distributed import Client

import xarray_microct as mct
from xarray_microct.runner import write_volume


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


# --- analysis: identical in every example; only make_client() above differs ---
def analyse(input_path: str, output_path: str) -> None:
    """Enhance a stored scan and write the result to Zarr, on whatever client is active."""
    volume = mct.open_volume(input_path)
    result = (
        volume.microct.median(radius="1 voxel")
        .microct.gaussian(sigma="0.65 um")
        .microct.unsharp_mask(sigma="2 um", amount=0.5)
        .microct.normalize()
    )
    write_volume(result, output_path, progress=True)
# --- end of analysis ---


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: python {sys.argv[0]} INPUT.zarr OUTPUT.zarr")
    client = make_client()
    print("client:", client)
    analyse(sys.argv[1], sys.argv[2])
