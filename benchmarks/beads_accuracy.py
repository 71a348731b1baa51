"""Bead pipeline accuracy with default parameters over a sweep of bead packs.

For each case (bead radius, seed, noise, ring level, bead overlap, voxel spacing) this
builds :func:`xarray_microct.synthetic.bead_pack`, runs
:func:`xarray_microct.pipelines.beads` with its defaults (no ``bead_radius``: the
pipeline estimates it) and prints the beads found against the true count, the median
and minimum matched IoU (each true bead against the label overlapping it most), the
estimated radius against the true one, the denoising sigma the pipeline chose from the
scan's noise, the sigma of the per-bead smoothing that follows it, and the IoU of the
mask (all labels) with the union of the true beads: an upper bound of the beads' IoU,
which says whether the mask or the splitting between touching beads limits them. The
last line sums up: cases with an exact count and with a median IoU of at least 0.9.

``--polydisperse`` uses another generator instead (:func:`polydisperse_pack`, written
here independently of the library's phantom): beads of radii spread ±20 % around the
nominal one (``--spread 0.6``: ±60 %, 4–16 voxels about 10), a wider blur, Gaussian
noise and no rings, placed by a different rule.
``--ellipsoids`` checks what the per-bead smoothing (which keeps balls of the bead
radius as they are) does to grains that are not round: ellipsoids of axis ratio 1.3 and
1.6 (:func:`ellipsoid_pack`), each pack run with the defaults and with
``bead_smoothing=None`` (rows marked ``off``).

Run: python benchmarks/beads_accuracy.py [--quick] [--radius-given] [--polydisperse [--spread S]]
     python benchmarks/beads_accuracy.py --ellipsoids
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


def mask_iou(labels: np.ndarray, truth: np.ndarray) -> float:
    """IoU of the labelled voxels with the union of the true beads."""
    found, true = labels > 0, truth > 0
    return float(np.count_nonzero(found & true) / max(np.count_nonzero(found | true), 1))


def polydisperse_pack(
    radius: float, noise: float, seed: int, spread: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Beads of radii uniform in ``radius * (1 ± spread)``, touching at most slightly.

    Centres are drawn one by one and kept when the new bead overlaps no other by more
    than a tenth of the smaller radius; every bead lies inside the volume. The scan:
    dark beads (70) on a bright background (170), Gaussian blur of 1 voxel, Gaussian
    noise of ``noise`` times the contrast, 8-bit. Returns (scan, true labels).
    """
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    n = round(7 * radius)
    centres: list[np.ndarray] = []
    radii: list[float] = []
    for _ in range(4000):
        r = radius * (1 + spread * rng.uniform(-1, 1))
        c = rng.uniform(r + 1, n - r - 2, 3)
        if all(
            np.linalg.norm(c - o) >= r + ro - 0.1 * min(r, ro)
            for o, ro in zip(centres, radii, strict=True)
        ):
            centres.append(c)
            radii.append(r)
    grid = np.indices((n, n, n), dtype=np.float32)
    labels = np.zeros((n, n, n), np.int32)
    best = np.full((n, n, n), np.inf, np.float32)
    for index, (c, r) in enumerate(zip(centres, radii, strict=True), start=1):
        power = sum((g - ci) ** 2 for g, ci in zip(grid, c, strict=True)) - r * r
        take = (power <= 0) & (power < best)  # overlaps: the nearer bead in the power sense
        best[take] = power[take]
        labels[take] = index
    image = ndi.gaussian_filter(np.where(labels > 0, 70.0, 170.0), 1.0)
    image += rng.normal(0.0, 100 * noise, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), labels


def ellipsoid_pack(
    radius: float, aspect: float, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ellipsoids of the volume of a ball of ``radius``, not touching, randomly turned.

    Each is prolate or oblate (axis ratio ``aspect`` or ``1 / aspect``) with equal
    chance; centres are drawn one by one and kept when the new grain's bounding ball
    meets no other's. The scan as :func:`polydisperse_pack` makes it, with a blur of 0.8
    voxel. Returns (scan, true labels).
    """
    import scipy.ndimage as ndi

    rng = np.random.default_rng(seed)
    n = round(7 * radius)
    grid = np.indices((n, n, n), dtype=np.float32).reshape(3, -1).T
    labels = np.zeros(n**3, np.int32)
    centres: list[np.ndarray] = []
    reach: list[float] = []
    for _ in range(3000):
        ratio = aspect if rng.random() < 0.5 else 1 / aspect
        axes = radius / ratio ** (1 / 3) * np.array([1.0, 1.0, ratio])
        c = rng.uniform(axes.max() + 1, n - axes.max() - 2, 3)
        if any(np.linalg.norm(c - o) < axes.max() + r for o, r in zip(centres, reach, strict=True)):
            continue
        turn = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        centres.append(c)
        reach.append(float(axes.max()))
        labels[((((grid - c) @ turn) / axes) ** 2).sum(axis=1) <= 1] = len(centres)
    labels = labels.reshape(n, n, n)
    image = ndi.gaussian_filter(np.where(labels > 0, 70.0, 170.0), 0.8)
    image += rng.normal(0.0, 100 * noise, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), labels


def run_array(
    scan: np.ndarray, truth: np.ndarray, case: dict, bead_smoothing: object = "auto"
) -> dict:
    """The pipeline with its defaults (but ``bead_smoothing``) on a scan held in memory."""
    import xarray_microct as mct
    from xarray_microct.pipelines import beads

    start = time.perf_counter()
    chunks = max(16, scan.shape[0] // 2)
    labels = beads(mct.from_array(scan, chunks=chunks), bead_smoothing=bead_smoothing)
    found = labels.values
    iou = matched_iou(found, truth)
    return {
        "rings": 0.0,
        "spacing": (1.0, 1.0, 1.0),
        **case,
        "shape": scan.shape,
        "n_true": int(truth.max()),
        "n_found": int(len(np.unique(found)) - 1),
        "iou_median": float(np.median(iou)),
        "iou_min": float(iou.min()),
        "iou_mask": mask_iou(found, truth),
        "radius_est": labels.attrs.get("bead_radius"),
        "sigma": labels.attrs.get("denoise_sigma"),
        "smoothing": labels.attrs.get("bead_smoothing"),
        "seconds": time.perf_counter() - start,
    }


def run_polydisperse(radius: float, noise: float, seed: int, spread: float = 0.2) -> dict:
    scan, truth = polydisperse_pack(radius, noise, seed, spread)
    case = {"radius": radius, "seed": seed, "noise": noise, "overlap": f"±{spread:.0%}"}
    return run_array(scan, truth, case)


def run_ellipsoids(radius: float, aspect: float, noise: float, seed: int) -> list[dict]:
    scan, truth = ellipsoid_pack(radius, aspect, noise, seed)
    case = {"radius": radius, "seed": seed, "noise": noise, "overlap": f"e{aspect}"}
    off = {**case, "overlap": f"e{aspect} off"}
    return [run_array(scan, truth, case), run_array(scan, truth, off, bead_smoothing=None)]


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
        "iou_mask": mask_iou(found, truth.values),
        "radius_est": labels.attrs.get("bead_radius"),
        "sigma": labels.attrs.get("denoise_sigma"),
        "smoothing": labels.attrs.get("bead_smoothing"),
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
    parser.add_argument(
        "--polydisperse", action="store_true", help="the other generator (radii ±20 %%)"
    )
    parser.add_argument(
        "--spread",
        type=float,
        default=0.2,
        help="with --polydisperse: the radii's spread about the nominal one (0.6: ±60 %%)",
    )
    parser.add_argument(
        "--ellipsoids", action="store_true", help="grains that are not round, smoothed or not"
    )
    args = parser.parse_args()
    print(
        f"{'radius':>6} {'seed':>4} {'noise':>5} {'rings':>5} {'overlap':>7} "
        f"{'spacing':>13} {'beads':>9} {'IoU med':>7} {'IoU min':>7} {'mask':>5} "
        f"{'r est':>6} {'sigma':>5} {'bead s':>6} {'s':>5}"
    )
    rows = []
    if args.polydisperse:
        todo = [(r, noise, seed) for r in (6, 10, 15) for noise in (0.1, 0.3) for seed in (0, 1)]
        runs = [lambda r=r, n=n, s=s: [run_polydisperse(r, n, s, args.spread)] for r, n, s in todo]
    elif args.ellipsoids:
        todo = [(r, a, noise) for r in (6, 10) for a in (1.3, 1.6) for noise in (0.1, 0.3)]
        runs = [lambda r=r, a=a, n=n: run_ellipsoids(r, a, n, 0) for r, a, n in todo]
    else:
        runs = [lambda c=c: [run_case(c, args.radius_given)] for c in cases(args.quick)]
    for run in runs:
        for row in run():
            rows.append(row)
            est = row["radius_est"]
            sigma = str(row["sigma"] or "-").split()[0]
            smoothing = "-" if row["smoothing"] is None else f"{row['smoothing']:.2f}"
            print(
                f"{row['radius']:>6} {row['seed']:>4} {row['noise']:>5} {row['rings']:>5} "
                f"{row['overlap']:>7} {row['spacing']!s:>13} "
                f"{row['n_found']:>4}/{row['n_true']:<4} {row['iou_median']:7.3f} "
                f"{row['iou_min']:7.3f} {row['iou_mask']:5.3f} "
                f"{'-' if est is None else f'{est:.2f}':>6} {sigma:>5} {smoothing:>6} "
                f"{row['seconds']:5.1f}",
                flush=True,
            )
    exact = sum(r["n_found"] == r["n_true"] for r in rows)
    good = sum(r["iou_median"] >= 0.9 for r in rows)
    print(f"exact count: {exact}/{len(rows)}; median IoU >= 0.9: {good}/{len(rows)}")


if __name__ == "__main__":
    main()
