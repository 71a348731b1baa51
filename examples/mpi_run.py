"""HPC with MPI: dask-mpi turns the ranks of one `mpirun` into a Dask cluster.

    pip install 'xarray-microct[mpi]'
    mpirun -n 8 python examples/mpi_run.py scan.zarr result.zarr

Rank 0 runs the scheduler, rank 1 runs this script past ``initialize()``, every other rank
is a worker; the cluster shuts down when the script ends. The same without a script:
``mpirun -n 8 microct run pipeline.yaml scan.zarr result.zarr --mpi``.
"""

from __future__ import annotations

import sys

from dask.distributed import Client

import xarray_microct as mct
from xarray_microct.runner import write_volume


def make_client() -> Client:
    """Start the Dask cluster over the MPI ranks; only rank 1 returns from initialize()."""
    from dask_mpi import initialize

    initialize(nthreads=1, memory_limit="auto")
    return Client()


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
