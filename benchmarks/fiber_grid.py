"""The working grid of fiber detection: binned in-plane or not, what it changes.

For fiber beds (``xarray_microct.synthetic.fiber_bed``, radius 6.4 ± 0.9 µm, the pixel
chosen so that the radius is 8, 9.8, 12 or 20 pixels; 32 slices of at least 20 radii
across) with noise 0.05–0.25 and tilts 0–15°, runs ``detect_fibers`` (radius given) on
the scan itself (factor 1) and on the working grid that
:func:`~xarray_microct.ops.fibers.grid.working_factor` picks (``--factors`` to try
others), and prints per case: the object F1 (per-slice matching within half a radius,
a border band of one radius ignored), the mean detected / true radius of the matched
centres away from the sides, the rows found and the seconds (one process; timings are
noisy on a shared machine, the first case includes compiling).

Usage::

    python benchmarks/fiber_grid.py                     # R = 8, 9.8, 12, 20 pixels
    python benchmarks/fiber_grid.py --radii 20 --factors 1 2 3 4
"""

from __future__ import annotations

import argparse
import time
import warnings
from unittest import mock

import numpy as np
from fiber_scale import RADIUS, radius_ratios, sweep_bed

from xarray_microct.metrics import object_metrics
from xarray_microct.ops.fibers import detect

CONDITIONS = ((0.05, 0.0), (0.15, 8.0), (0.25, 15.0))  # (noise, tilt in degrees)


def run_case(radius_px: float, noise: float, tilt: float, factor: int, seed: int) -> dict:
    volume, truth, spacing, size = sweep_bed(radius_px, noise, tilt, seed)
    volume = volume.chunk({"z": 32, "y": 256, "x": 256})
    with (
        mock.patch.object(detect, "working_factor", lambda radius: factor),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        table = detect.detect_fibers(volume, radius=RADIUS)
        seconds = time.perf_counter() - start
    scores = object_metrics(table, truth.centres, like=volume, margin=RADIUS)
    extent, margin, within = size * spacing, 2.5 * RADIUS, 0.5 * RADIUS
    ratio = radius_ratios(table, truth.centres, "radius", extent, margin, within)
    return {
        "f1": scores["f1"],
        "radius_error": 100 * (np.nanmean(ratio) - 1) if ratio.size else np.nan,
        "rows": len(table),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radii", type=float, nargs="+", default=(8.0, 9.8, 12.0, 20.0))
    parser.add_argument("--factors", type=int, nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"{'R_px':>5} {'noise':>5} {'tilt':>4} {'b':>2} {'F1':>7} {'radius%':>8} "
        f"{'rows':>6} {'s':>6}"
    )
    for radius_px in args.radii:
        factors = args.factors or sorted({1, detect.working_factor(radius_px)})
        for noise, tilt in CONDITIONS:
            for factor in factors:
                r = run_case(radius_px, noise, tilt, factor, args.seed)
                print(
                    f"{radius_px:>5.1f} {noise:>5.2f} {tilt:>4.0f} {factor:>2} {r['f1']:>7.4f} "
                    f"{r['radius_error']:>+8.2f} {r['rows']:>6} {r['seconds']:>6.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
