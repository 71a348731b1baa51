"""The README's example at a small size: enhance a scan lazily, write it, replay the chain.
========================================================================================

Run: python examples/quickstart.py [OUTPUT_FOLDER]
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

import xarray_microct as mct


def main(output: Path) -> None:
    rng = np.random.default_rng(0)
    scan = rng.integers(0, 60000, (64, 64, 64), dtype="uint16")
    vol = mct.from_array(scan, spacing=(1.3, 0.65, 0.65), units="micrometer", chunks=32)
    clean = vol.microct.median(radius="1 voxel").microct.gaussian(sigma="1.3 um")
    sharp = clean.microct.unsharp_mask(sigma="2 um", amount=0.5).microct.normalize()
    sharp.to_zarr(output / "sharp.zarr", mode="w")

    other = mct.from_array(rng.integers(0, 60000, (48, 64, 64), dtype="uint16"),
                           spacing=(1.3, 0.65, 0.65), chunks=32)
    again = mct.replay(mct.open_volume(output / "sharp.zarr"), other)
    print("chain:", " → ".join(r["op"] for r in again.attrs["microct_provenance"]))
    print("replayed result:", again.shape, float(again.mean()))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
