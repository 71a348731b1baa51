"""HPC with MPI: dask-mpi turns the ranks of one `mpirun` into a Dask cluster.

    pip install 'xarray-microct[mpi]'
    mpirun -n 8 python examples/mpi_run.py scan.zarr result.zarr

Rank 0 runs the scheduler, rank 1 runs this script past ``initialize()``, every other rank
is a worker; the cluster shuts down when the script ends. The same without a script:
``mpirun -n 8 microct run pipeline.yaml scan.zarr result.zarr --mpi``.
"""

from __future__ import annotations

from dask.distributed import Client
from enhance import main  # the analysis: the same for every set-up


def make_client() -> Client:
    """Start the Dask cluster over the MPI ranks; only rank 1 returns from initialize()."""
    from dask_mpi import initialize

    initialize(nthreads=1, memory_limit="auto")
    return Client()


if __name__ == "__main__":
    main(make_client)
