"""Laptop: no cluster at all; Dask's threaded scheduler uses every core of this machine.

    python examples/laptop.py scan.zarr result.zarr
"""

from __future__ import annotations

import sys

import xarray_microct as mct
from xarray_microct.runner import write_volume


def make_client() -> None:
    """No client: Dask's default (threaded) scheduler runs the graph."""
    return None


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
