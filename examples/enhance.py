"""The analysis that every client example runs: enhance a stored scan, write it to Zarr.

``laptop.py``, ``local_cluster.py``, ``mpi_run.py``, ``slurm.py`` and ``coiled.py`` all run
this same code; each one only says how to get its Dask client (``make_client()``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import xarray_microct as mct
from xarray_microct.runner import write_volume


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


def main(make_client: Callable[[], Any], argv: Sequence[str] | None = None) -> None:
    """``python examples/<set-up>.py INPUT.zarr OUTPUT.zarr`` on that set-up's client."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        raise SystemExit(f"usage: python {sys.argv[0]} INPUT.zarr OUTPUT.zarr")
    client = make_client()
    print("client:", client)
    analyse(*args)
