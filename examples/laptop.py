"""Laptop: no cluster at all; Dask's threaded scheduler uses every core of this machine.
=====================================================================================

    python examples/laptop.py scan.zarr result.zarr   # --overwrite replaces, --resume finishes
"""

from __future__ import annotations

try:
    from enhance import main  # the analysis: the same for every set-up
except ModuleNotFoundError:  # imported from the repository root: examples.<set-up>
    from examples.enhance import main


def make_client() -> None:
    """No client: Dask's default (threaded) scheduler runs the graph."""
    return None


if __name__ == "__main__":
    main(make_client)
