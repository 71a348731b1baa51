"""Fiber scale from the data: radius estimate, detection at that radius, radius bias.

Run ``python benchmarks/fiber_scale.py`` (``--quick`` for one case per radius). For fiber
beds (``xarray_microct.synthetic.fiber_bed``, radius 6.4 ± 0.9 µm, the voxel size chosen
so that the radius is 2, 3, 5, 8, 12 or 20 voxels; 32 slices of at least 20 radii
across) with noise 0.05–0.25 and tilts 0–15°, it prints per case:

* the true mean radius and :func:`estimate_fiber_radius`'s estimate (voxels, error %);
* the object F1 of ``detect_fibers(radius=<estimate>)`` (per-slice matching within half
  a radius, a border band of one radius ignored);
* the mean radius of the matched detections (farther than 2.5 radii from the sides,
  whose neighbours are all in the table) over their true radii, as detected (the
  mask's equivalent disk) and refined (:func:`refine_table_radii`: sub-pixel area from
  the intensities, then the tilt's elongation removed);
* the bed's mean radius over the true mean (of the fibers crossing the slices): over all
  rows as detected (what ``fiber_summary`` reports today, low because fibers cut by the
  sides show part of their section), and over the refined whole sections
  (:func:`whole_sections`).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from xarray_microct.metrics import object_metrics, optimal_pairs
from xarray_microct.ops.fiber_scale import (
    estimate_fiber_radius,
    refine_table_radii,
    whole_sections,
)
from xarray_microct.ops.fibers import detect_fibers
from xarray_microct.synthetic import fiber_bed

RADIUS = 6.4  # µm
RADII_VOXELS = (2, 3, 5, 8, 12, 20)
CONDITIONS = ((0.05, 0.0), (0.15, 8.0), (0.25, 15.0))  # (noise, tilt in degrees)


def radius_ratios(
    table: pd.DataFrame, truth: pd.DataFrame, column: str, extent: float, margin: float
) -> np.ndarray:
    """Detected / true radius of the detections matched to true centres, slice by slice."""
    ratios = []
    for z, true in truth.groupby("z"):
        found = table[np.isclose(table["z"], z)]
        if found.empty:
            continue
        ia, ib, _ = optimal_pairs(
            found[["y", "x"]].to_numpy(), true[["y", "x"]].to_numpy(), 0.5 * RADIUS
        )
        matched = true.iloc[ib]
        inner = (
            matched["y"].between(margin, extent - margin)
            & matched["x"].between(margin, extent - margin)
        ).to_numpy()
        ratio = found[column].to_numpy()[ia] / matched["radius"].to_numpy()
        ratios.append(ratio[inner])
    return np.concatenate(ratios) if ratios else np.zeros(0)


def run_case(radius_px: int, noise: float, tilt: float, seed: int) -> dict:
    spacing = RADIUS / radius_px
    size = max(64, 20 * radius_px)
    volume, truth = fiber_bed(
        (32, size, size),
        spacing=spacing,
        radius=RADIUS,
        radius_sd=0.9,
        noise=noise,
        tilt=tilt,
        seed=seed,
    )
    true_px = truth.centres["radius"].mean() / spacing
    start = time.perf_counter()
    estimate = estimate_fiber_radius(volume)
    seconds = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = detect_fibers(volume, radius=estimate)
    scores = object_metrics(table, truth.centres, like=volume, margin=RADIUS)
    row = {
        "R_px": radius_px,
        "noise": noise,
        "tilt": tilt,
        "true_px": true_px,
        "est_px": estimate / spacing,
        "est_err%": 100 * (estimate / spacing / true_px - 1),
        "est_s": seconds,
        "f1": scores["f1"],
        "det_err%": np.nan,
        "refined_err%": np.nan,
        "bed_err%": np.nan,
        "bed_whole_err%": np.nan,
    }
    if len(table):
        table["refined"] = refine_table_radii(volume, table)
        extent = size * spacing
        for column, key in (("radius", "det_err%"), ("refined", "refined_err%")):
            ratio = radius_ratios(table, truth.centres, column, extent, 2.5 * RADIUS)
            row[key] = 100 * (np.nanmean(ratio) - 1) if ratio.size else np.nan
        # bed-level mean radius (what fiber_summary reports) against the true mean radius
        # of the fibers whose axes cross the slices: all rows as detected, and the refined
        # radii of the whole cross-sections only
        true_mean = truth.centres["radius"].mean()
        row["bed_err%"] = 100 * (table["radius"].mean() / true_mean - 1)
        whole = whole_sections(table)
        row["bed_whole_err%"] = 100 * (table["refined"][whole].mean() / true_mean - 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one condition per radius")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    conditions = CONDITIONS[1:2] if args.quick else CONDITIONS
    rows = []
    header = (
        f"{'R_px':>4} {'noise':>5} {'tilt':>4} {'true':>6} {'est':>6} {'err%':>6} "
        f"{'s':>5} {'F1':>6} {'det%':>6} {'refined%':>8} {'bed%':>6} {'bed_whole%':>10}"
    )
    print(header, flush=True)
    for radius_px in RADII_VOXELS:
        for noise, tilt in conditions:
            r = run_case(radius_px, noise, tilt, args.seed)
            rows.append(r)
            print(
                f"{r['R_px']:>4} {r['noise']:>5.2f} {r['tilt']:>4.0f} {r['true_px']:>6.2f} "
                f"{r['est_px']:>6.2f} {r['est_err%']:>+6.1f} {r['est_s']:>5.1f} "
                f"{r['f1']:>6.3f} {r['det_err%']:>+6.1f} {r['refined_err%']:>+8.1f} "
                f"{r['bed_err%']:>+6.1f} {r['bed_whole_err%']:>+10.1f}",
                flush=True,
            )
    frame = pd.DataFrame(rows)
    print(
        f"\nworst |estimate error| {frame['est_err%'].abs().max():.1f} %, "
        f"least F1 {frame['f1'].min():.3f}, worst |radius error| detected "
        f"{frame['det_err%'].abs().max():.1f} %, "
        f"refined {frame['refined_err%'].abs().max():.1f} %"
    )


if __name__ == "__main__":
    main()
