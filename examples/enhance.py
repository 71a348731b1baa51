"""The analysis that every client example runs: enhance a stored scan, write it to Zarr.
=====================================================================================

``laptop.py``, ``local_cluster.py``, ``mpi_run.py``, ``slurm.py`` and ``cloud_coiled.py``
all run this same code; each one only says how to get its Dask client (``make_client()``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import xarray_microct as mct
from xarray_microct.core.errors import command_line_message
from xarray_microct.runner import write_volume


def analyse(
    input_path: str, output_path: str, *, overwrite: bool = False, resume: bool = False
) -> None:
    """Enhance a stored scan and write the result to Zarr, on whatever client is active."""
    volume = mct.open_volume(input_path)
    result = (
        volume.microct.median(radius="1 voxel")
        .microct.gaussian(sigma="0.65 um")
        .microct.unsharp_mask(sigma="2 um", amount=0.5)
        .microct.normalize()
    )
    write_volume(result, output_path, overwrite=overwrite, resume=resume, progress=True)


def main(make_client: Callable[[], Any], argv: Sequence[str] | None = None) -> None:
    """``python examples/<set-up>.py INPUT.zarr OUTPUT.zarr [--overwrite | --resume]``."""
    parser = argparse.ArgumentParser(description="Enhance a stored scan on this set-up.")
    parser.add_argument("input", help="the scan: an OME-Zarr or Zarr store")
    parser.add_argument("output", help="the result store (OME-Zarr)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--overwrite", action="store_true", help="replace an existing result")
    again.add_argument("--resume", action="store_true", help="finish an interrupted write")
    args = parser.parse_args(argv)
    client = make_client()
    print("client:", client)
    try:
        analyse(args.input, args.output, overwrite=args.overwrite, resume=args.resume)
    except (FileExistsError, FileNotFoundError, ValueError) as err:  # a refusal, bad input
        # one line, as `microct run`, naming this command's options (--overwrite, --resume)
        # where the error names the keywords of a Python call (overwrite=True, resume=True)
        parser.exit(2, f"{parser.prog}: error: {command_line_message(err)}\n")
