"""Each stage of the calibrated table radius at the default parameters, against the truth.

Run ``python benchmarks/table_radius_stages.py --radii 2 --seeds 1 2 3`` (``--noise`` and
``--tilts``: every pair, the issue's whole sweep by default). For each phantom
(``fiber_bed`` and ``textured_fiber_bed``, as ``benchmarks/fiber_scale.py`` builds them),
radius, noise, tilt and seed it runs :func:`measure_fiber_bed` and ``detect_fibers(volume)``
(the radius estimated, as a user runs it) and prints, in per cent of a true radius:

* ``fit``: the radius estimate's fitted (or, from 4 pixels, measured) whole sections
  against their own true radii (each section matched to the true sections on its
  image's slices; the tilt's ellipse removed with the true ``cos θ``);
* ``tf``: the tilt factor from the bed's measured slope against the true ``√cos θ``;
* ``pairs_fit`` / ``pairs_table``: the calibration's paired sections' means (the
  record's), over the bed's true mean radius, and ``sample``: the true mean of the
  fit's sections over it (the sample's own fibers);
* ``before`` / ``after``: the table's matched inner rows (as
  ``benchmarks/fiber_table_radius.py``'s ``rad%``) before and after the shift, and
  ``shift``; ``F1``: the object F1.

``after − before`` is the shift; ``before − (pairs_table − sample)`` is what the rows in
no pair add (the benchmark's measure is over all matched rows). The module docstring
of :mod:`xarray_microct.ops.fibers.calibrate` ("No dead zone") holds the measurements.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import pathlib
import warnings

import numpy as np
from scipy.spatial import cKDTree

from xarray_microct.core.volume import grid_of
from xarray_microct.metrics import object_metrics
from xarray_microct.ops.fiber_scale import measure_fiber_bed
from xarray_microct.ops.fibers import detect_fibers

_spec = importlib.util.spec_from_file_location(
    "fiber_scale_bench", pathlib.Path(__file__).with_name("fiber_scale.py")
)
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)


def section_truth(fitted, truth, grid) -> np.ndarray:
    """The true radius of each fitted section (the mean over its image's slices of the
    true section within half its radius; NaN where found on under half of them)."""
    dz, dy, dx = grid.spacing
    z0, y0, x0 = grid.origin
    tz = np.round((truth["z"].to_numpy() - z0) / dz).astype(int)
    tyx = np.column_stack([(truth["y"].to_numpy() - y0) / dy, (truth["x"].to_numpy() - x0) / dx])
    radius = truth["radius"].to_numpy()
    trees = {k: (cKDTree(tyx[tz == k]), np.flatnonzero(tz == k)) for k in np.unique(tz)}
    drift = np.asarray(fitted.drift)
    out = np.full(len(fitted.radius), np.nan)
    for i in range(len(fitted.radius)):
        slices = fitted.slices[fitted.group[i]]
        found = []
        for k in slices:
            tree, rows = trees[k]
            at = np.array([fitted.y[i], fitted.x[i]]) + drift * (k - fitted.z[i])
            distance, j = tree.query(at, distance_upper_bound=0.5 * fitted.radius[i])
            if np.isfinite(distance):
                found.append(radius[rows[j]])
        if len(found) >= 0.5 * len(slices):
            out[i] = np.mean(found)
    return out


def run_case(phantom: str, radius_px: int, noise: float, tilt: float, seed: int) -> dict:
    volume, truth, spacing, size = scale.sweep_case(phantom, radius_px, noise, tilt, seed)
    grid = grid_of(volume)
    true_r = truth["radius"].mean()
    bed = measure_fiber_bed(volume)
    fitted = bed.fitted
    cos_factor = np.sqrt(np.cos(np.radians(tilt)))
    own = section_truth(fitted, truth, grid)
    ok = np.isfinite(own)
    fit_phys = fitted.radius * grid.spacing[1]
    slope = float(np.hypot(*bed.slope))
    row = {
        "fit": 100 * (np.mean(fit_phys[ok] * cos_factor) / np.mean(own[ok]) - 1),
        "tf": 100 * ((1 + slope * slope) ** -0.25 / cos_factor - 1),
        "sample": 100 * (np.mean(own[ok]) / true_r - 1),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = detect_fibers(volume)
    record = table.attrs.get("radius_calibration", {})
    shift = record.get("shift", 0.0)
    row["pairs_fit"] = 100 * (record.get("fitted_mean", np.nan) / true_r - 1)
    row["pairs_table"] = 100 * (record.get("table_mean", np.nan) / true_r - 1)
    extent, margin, within = size * spacing, 2.5 * true_r, 0.5 * true_r
    after = scale.radius_ratios(table, truth, "radius", extent, margin, within)
    moved_back = table.assign(radius=table["radius"] - shift)
    before = scale.radius_ratios(moved_back, truth, "radius", extent, margin, within)
    row["before"] = 100 * (np.nanmean(before) - 1)
    row["shift"] = 100 * shift / true_r
    row["after"] = 100 * (np.nanmean(after) - 1)
    row["F1"] = object_metrics(table, truth, like=volume, margin=true_r)["f1"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radii", type=int, nargs="+", default=[2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--phantom", choices=("fiber_bed", "other", "both"), default="both")
    parser.add_argument("--noise", type=float, nargs="+", default=[0.05, 0.15, 0.25])
    parser.add_argument("--tilts", type=float, nargs="+", default=[0.0, 8.0, 15.0])
    args = parser.parse_args()
    phantoms = ("fiber_bed", "other") if args.phantom == "both" else (args.phantom,)
    columns = ("fit", "tf", "sample", "pairs_fit", "pairs_table", "before", "shift", "after")
    print(
        f"{'phantom':>9} {'R':>2} {'noise':>5} {'tilt':>4} {'seed':>4} "
        + " ".join(f"{c:>11}" for c in columns)
        + f" {'F1':>6}",
        flush=True,
    )
    for phantom, radius_px, noise, tilt, seed in itertools.product(
        phantoms, args.radii, args.noise, args.tilts, args.seeds
    ):
        row = run_case(phantom, radius_px, noise, tilt, seed)
        print(
            f"{phantom:>9} {radius_px:>2} {noise:>5.2f} {tilt:>4.0f} {seed:>4} "
            + " ".join(f"{row[c]:>+11.2f}" for c in columns)
            + f" {row['F1']:>6.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
