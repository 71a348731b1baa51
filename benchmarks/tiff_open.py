"""Opening a folder of TIFF slices: the header check against the read of the pixels.

``open_volume`` on a folder checks every file's header (its first image's shape and
dtype) before any pixel is read, so a file that does not fit is refused by name before
any work. This times that check on folders of N slices written by tifffile as a plain
TIFF, an ImageJ TIFF (with calibration) and an OME-TIFF (with its XML) per slice, and,
for scale, the read of every pixel afterwards (``.values``, Dask's threaded scheduler).
Each case runs in a fresh process, after the open and read of a folder of 2 slices
(imports, first calls); the folders are written to a temporary folder first
(the page cache then holds them: the figures are for warm files, a cold network disk
costs one file open per slice more).

Run: ``python benchmarks/tiff_open.py [--slices 1000] [--side 256] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from _measure import Measure, in_fresh_process

WRITERS: dict[str, dict[str, Any]] = {
    "plain": {},
    "imagej": {"imagej": True, "resolution": (2.0, 2.0), "metadata": {"unit": "um"}},
    "ome": {
        "metadata": {"axes": "YX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5, "PhysicalSizeZ": 0.5}
    },
}


def write_folder(folder: Path, kind: str, slices: int, side: int) -> None:
    folder.mkdir()
    rng = np.random.default_rng(0)
    plane = rng.integers(0, 60000, (side, side), dtype=np.uint16)
    for z in range(slices):
        tifffile.imwrite(folder / f"rec_{z:05d}.tif", plane + z, **WRITERS[kind])


def _worker(folder: str, warm: str, queue: Any) -> None:
    import xarray_microct as mct

    mct.open_volume(warm, spacing=0.5, units="micrometer").compute()  # imports, first calls
    with Measure(interval=0.005) as opened:
        volume = mct.open_volume(folder, spacing=0.5, units="micrometer")
    with Measure(interval=0.005) as read:
        volume.values  # noqa: B018 (the read is what is timed)
    queue.put(
        {
            "open_s": opened.seconds,
            "open_cpu_s": opened.cpu_seconds,
            "read_s": read.seconds,
            "slices": volume.sizes["z"],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=1000)
    parser.add_argument("--side", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tiff-open-bench-"))
    try:
        print(f"{args.slices} slices of {args.side}², uint16; best of {args.repeat}")
        print(f"{'kind':8} {'open s':>8} {'ms/slice':>9} {'open CPU s':>11} {'read s':>8}")
        for kind in WRITERS:
            folder = root / kind
            write_folder(folder, kind, args.slices, args.side)
            write_folder(root / f"{kind}-warm", kind, 2, args.side)
            runs = [
                in_fresh_process(_worker, str(folder), str(root / f"{kind}-warm"), timeout=600)
                for _ in range(args.repeat)
            ]
            best = min(runs, key=lambda run: run["open_s"])
            assert best["slices"] == args.slices
            print(
                f"{kind:8} {best['open_s']:8.3f} {1e3 * best['open_s'] / args.slices:9.3f} "
                f"{best['open_cpu_s']:11.3f} {min(r['read_s'] for r in runs):8.3f}"
            )
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
