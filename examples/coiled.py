"""Cloud: a Coiled cluster of VMs; the data should live in object storage (s3://...).

    pip install coiled && coiled login
    python examples/coiled.py s3://bucket/scan.zarr s3://bucket/result.zarr

(``open_volume`` and ``write_volume`` take local paths today; with an object store, mount it
or copy the store next to the workers.)
"""

from __future__ import annotations

import sys

from dask.distributed import Client

import xarray_microct as mct
from xarray_microct.runner import write_volume


def make_client() -> Client:
    """Twenty 16 GiB workers in the cloud region of the data."""
    import coiled

    cluster = coiled.Cluster(n_workers=20, worker_memory="16 GiB", region="us-west-2")
    client = cluster.get_client()
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
