"""Bead pipeline accuracy with default parameters over a sweep of bead packs.

For each case (bead radius, seed, noise, ring level, bead overlap, voxel spacing) this
builds :func:`xarray_microct.synthetic.bead_pack`, runs
:func:`xarray_microct.pipelines.beads` with its defaults (no ``bead_radius``: the
pipeline estimates it) and prints the beads found against the true count, the median
and minimum matched IoU (each true bead against the label overlapping it most), and
the estimated radius against the true one. The last line sums up: cases with an exact
count and with a median IoU of at least 0.9.

Run: python benchmarks/beads_accuracy.py [--quick] [--radius-given]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np


def matched_iou(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each true bead, the IoU with the predicted label overlapping it most."""
    n_true, n_found = int(truth.max()), int(labels.max())
    pairs = truth.ravel().astype(np.int64) * (n_found + 1) + labels.ravel()
    inter = np.bincount(pairs, minlength=(n_true + 1) * (n_found + 1))
    inter = inter.reshape(n_true + 1, n_found + 1)
    inter[:, 0] = 0
    best = inter[1:].argmax(axis=1)
    true_size = np.bincount(truth.ravel(), minlength=n_true + 1)[1:]
    found_size = np.bincount(labels.ravel(), minlength=n_found + 1)
    overlap = inter[np.arange(1, n_true + 1), best]
    union = true_size + found_size[best] - overlap
    return np.where(best > 0, overlap / np.maximum(union, 1), 0.0)


def cases(quick: bool) -> list[dict]:
    """The sweep: radius 6–15 voxels, noise, rings, overlap (necks), anisotropic spacing."""
    if quick:
        return [
            {
                "radius": 6,
                "seed": 1,
                "noise": 0.2,
                "rings": 0.3,
                "overlap": 0.1,
                "spacing": (1.0, 1.0, 1.0),
            },
            {
                "radius": 10,
                "seed": 2,
                "noise": 0.3,
                "rings": 0.3,
                "overlap": 0.06,
                "spacing": (1.5, 1.0, 1.0),
            },
        ]
    out = []
    for radius, seed in itertools.product((6, 8, 10, 12, 15), (0, 1)):
        for noise, rings, overlap in ((0.1, 0.15, 0.06), (0.25, 0.3, 0.1), (0.35, 0.5, 0.15)):
            out.append(
                {
                    "radius": radius,
                    "seed": seed,
                    "noise": noise,
                    "rings": rings,
                    "overlap": overlap,
                    "spacing": (1.0, 1.0, 1.0),
                }
            )
    for radius, seed in itertools.product((8, 12), (3, 4)):
        out.append(
            {
                "radius": radius,
                "seed": seed,
                "noise": 0.25,
                "rings": 0.3,
                "overlap": 0.1,
                "spacing": (1.6, 1.0, 1.0),
            }
        )
    return out


def run_case(case: dict, radius_given: bool = False) -> dict:
    from xarray_microct.pipelines import beads
    from xarray_microct.synthetic import bead_pack

    r = case["radius"]
    spacing = case["spacing"]
    shape = tuple(round(7 * r / s) for s in spacing)  # radius in physical units
    start = time.perf_counter()
    scan, truth = bead_pack(
        shape,
        radius=r,
        spacing=spacing,
        noise=case["noise"],
        rings=case["rings"],
        overlap=case["overlap"],
        seed=case["seed"],
        chunks=tuple(max(16, n // 2) for n in shape),
    )
    labels = beads(scan, bead_radius=r if radius_given else None)
    found = labels.values
    iou = matched_iou(found, truth.values)
    return {
        **case,
        "shape": shape,
        "n_true": int(truth.attrs["n_beads"]),
        "n_found": int(len(np.unique(found)) - 1),
        "iou_median": float(np.median(iou)),
        "iou_min": float(iou.min()),
        "radius_est": labels.attrs.get("bead_radius"),
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small cases")
    parser.add_argument(
        "--radius-given",
        action="store_true",
        help="pass the true bead_radius instead of estimating it",
    )
    args = parser.parse_args()
    print(
        f"{'radius':>6} {'seed':>4} {'noise':>5} {'rings':>5} {'overlap':>7} "
        f"{'spacing':>13} {'beads':>9} {'IoU med':>7} {'IoU min':>7} {'r est':>6} {'s':>5}"
    )
    rows = []
    for case in cases(args.quick):
        row = run_case(case, args.radius_given)
        rows.append(row)
        est = row["radius_est"]
        print(
            f"{row['radius']:>6} {row['seed']:>4} {row['noise']:>5} {row['rings']:>5} "
            f"{row['overlap']:>7} {row['spacing']!s:>13} "
            f"{row['n_found']:>4}/{row['n_true']:<4} {row['iou_median']:7.3f} "
            f"{row['iou_min']:7.3f} {'-' if est is None else f'{est:.2f}':>6} "
            f"{row['seconds']:5.1f}",
            flush=True,
        )
    exact = sum(r["n_found"] == r["n_true"] for r in rows)
    good = sum(r["iou_median"] >= 0.9 for r in rows)
    print(f"exact count: {exact}/{len(rows)}; median IoU >= 0.9: {good}/{len(rows)}")


if __name__ == "__main__":
    main()
