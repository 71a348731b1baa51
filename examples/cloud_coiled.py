"""Cloud: a Coiled cluster of VMs; the data should live in object storage (s3://...).
==================================================================================

    pip install coiled && coiled login
    python examples/cloud_coiled.py s3://bucket/scan.zarr s3://bucket/result.zarr

(``open_volume`` and ``write_volume`` take local paths today; with an object store, mount it
or copy the store next to the workers.)
"""

from __future__ import annotations

from dask.distributed import Client

try:
    from enhance import main  # the analysis: the same for every set-up
except ModuleNotFoundError:  # imported from the repository root: examples.<set-up>
    from examples.enhance import main


def make_client() -> Client:
    """Twenty 16 GiB workers in the cloud region of the data."""
    import coiled

    cluster = coiled.Cluster(n_workers=20, worker_memory="16 GiB", region="us-west-2")
    client = cluster.get_client()
    print("dashboard:", client.dashboard_link)
    return client


if __name__ == "__main__":
    main(make_client)
