"""Bead pipeline on packs cut by the volume's faces: every bead that meets the volume counts.

A real scan cuts the beads at its faces, and a bead cut to a cap is still a bead for
whoever counts them. :func:`cut_pack` (numpy/scipy only, written independently of the
library's phantoms) places beads in a box larger than the volume by a bead diameter on
every side (radii uniform in ``radius * (1 ± spread)``, touching with necks of up to a
tenth of the smaller radius), draws the scan on that box (dark beads on a bright
background, Gaussian blur, Gaussian noise, 8-bit) and crops it: the blur and the beads
are cut by the faces as a scanner's field of view cuts them. The truth labels every bead
with at least one voxel inside, and its inside share (voxels inside / voxels of the
whole bead).

:func:`xarray_microct.pipelines.beads` runs with its defaults (the radius estimated).
Per case it prints the true count (all; whole beads; cut ones), the labels found, the
true beads that own no label (a label is owned by the true bead it overlaps most), by
their inside share, the extra labels (a second label of one bead, or a label on no
bead), and the median IoU (each true bead against the label overlapping it most) of
the whole and of the cut beads with at least half their volume inside. The last lines
sum the lost beads up by inside share over all cases.

``--true-mask`` runs the watershed alone (``object_radius`` the true nominal radius) on
the true mask instead: what the marker rule does without the segmentation's errors.
``--chunks N`` sets the chunk size (default: half the volume), ``--size N`` the volume's
voxels per axis (default: 7 radii, where most beads are cut).

Run: python benchmarks/beads_faces.py [--quick] [--true-mask] [--chunks 24] [--size 128]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import scipy.ndimage as ndi

SHARE_BINS = (0.05, 0.15, 0.3, 0.5, 1.0)  # upper edges of the inside-share bins of lost beads


def cut_pack(
    radius: float, noise: float, seed: int, spread: float = 0.1, size: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bead pack cut by the faces of the volume: (scan, true labels, inside shares).

    The volume has ``size`` voxels per axis (default ``7 * radius``); the beads fill a
    box that reaches ``2 * radius * (1 + spread) + 2`` voxels beyond it on every side.
    Centres are drawn one by one there and kept when the new bead overlaps no other by
    more than a tenth of the smaller radius; overlapping beads share their lens by the
    power distance. The scan: beads 70, background 170, Gaussian blur of 1 voxel and
    noise of ``noise`` times the contrast on the large box, then cropped. The labels are
    ``1..N`` over the beads with a voxel inside (in the order drawn); ``shares[i - 1]``
    is bead ``i``'s voxels inside over its voxels in the large box (1.0: whole).
    """
    rng = np.random.default_rng(seed)
    n = round(7 * radius) if size is None else int(size)
    largest = radius * (1 + spread)
    pad = int(np.ceil(2 * largest)) + 2
    big = n + 2 * pad
    centres: list[np.ndarray] = []
    radii: list[float] = []
    for _ in range(6000):
        r = radius * (1 + spread * rng.uniform(-1, 1))
        c = rng.uniform(pad - largest, pad + n + largest, 3)
        if all(
            np.linalg.norm(c - o) >= r + ro - 0.1 * min(r, ro)
            for o, ro in zip(centres, radii, strict=True)
        ):
            centres.append(c)
            radii.append(r)
    labels = np.zeros((big,) * 3, np.int32)
    best = np.full((big,) * 3, np.inf, np.float32)
    for index, (c, r) in enumerate(zip(centres, radii, strict=True), start=1):
        low = np.maximum(np.floor(c - r).astype(int), 0)
        high = np.minimum(np.ceil(c + r).astype(int) + 1, big)
        box = tuple(slice(lo, hi) for lo, hi in zip(low, high, strict=True))
        z, y, x = np.ogrid[box]
        power = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 - r * r
        take = (power <= 0) & (power < best[box])
        best[box][take] = power[take]
        labels[box][take] = index
    image = ndi.gaussian_filter(np.where(labels > 0, 70.0, 170.0), 1.0)
    image += rng.normal(0.0, 100 * noise, image.shape)
    inner = (slice(pad, pad + n),) * 3
    scan = np.clip(np.rint(image[inner]), 0, 255).astype(np.uint8)
    whole = np.bincount(labels.ravel(), minlength=len(centres) + 1)
    cropped = labels[inner]
    inside = np.bincount(cropped.ravel(), minlength=len(centres) + 1)
    kept = np.flatnonzero(inside[1:]) + 1
    renumber = np.zeros(len(centres) + 1, np.int32)
    renumber[kept] = np.arange(1, len(kept) + 1)
    return scan, renumber[cropped], inside[kept] / whole[kept]


def score(found: np.ndarray, truth: np.ndarray, shares: np.ndarray) -> dict:
    """Lost beads (owning no label), extra labels and IoUs of labels against the truth."""
    _, found = np.unique(found, return_inverse=True)  # labels 0..M, 0 stays background
    found = found.reshape(truth.shape)
    n_true, n_found = int(truth.max()), int(found.max())
    pairs = truth.ravel().astype(np.int64) * (n_found + 1) + found.ravel()
    inter = np.bincount(pairs, minlength=(n_true + 1) * (n_found + 1))
    inter = inter.reshape(n_true + 1, n_found + 1)
    owner = inter[1:, 1:].argmax(axis=0) + 1  # the true bead each label overlaps most
    owner[inter[1:, 1:].max(axis=0) == 0] = 0
    owned = np.bincount(owner, minlength=n_true + 1)
    lost = np.flatnonzero(owned[1:] == 0)
    extra = int(owned[0] + np.maximum(owned[1:] - 1, 0).sum())
    inter[:, 0] = 0
    best = inter[1:].argmax(axis=1)
    true_size = np.bincount(truth.ravel(), minlength=n_true + 1)[1:]
    found_size = np.bincount(found.ravel(), minlength=n_found + 1)
    overlap = inter[np.arange(1, n_true + 1), best]
    iou = np.where(best > 0, overlap / np.maximum(true_size + found_size[best] - overlap, 1), 0)
    whole = shares >= 1.0
    half = (shares >= 0.5) & ~whole
    return {
        "n_true": n_true,
        "n_whole": int(whole.sum()),
        "n_cut": int((~whole).sum()),
        "n_found": n_found,
        "lost": shares[lost],
        "cut": shares[~whole],
        "extra": extra,
        "iou_whole": float(np.median(iou[whole])) if whole.any() else float("nan"),
        "iou_cut": float(np.median(iou[half])) if half.any() else float("nan"),
    }


def run_case(
    radius: float, noise: float, seed: int, true_mask: bool, chunks: int | None, size: int | None
) -> dict:
    import xarray_microct as mct
    from xarray_microct.pipelines import beads

    scan, truth, shares = cut_pack(radius, noise, seed, size=size)
    size = chunks or max(16, scan.shape[0] // 2)
    start = time.perf_counter()
    if true_mask:
        mask = mct.from_array(truth > 0, chunks=size)
        labels = mask.microct.watershed(object_radius=float(radius))
    else:
        labels = beads(mct.from_array(scan, chunks=size))
    found = labels.values
    return {
        "radius": radius,
        "noise": noise,
        "seed": seed,
        **score(found, truth, shares),
        "radius_est": labels.attrs.get("bead_radius"),
        "seconds": time.perf_counter() - start,
    }


def share_bins(lost: np.ndarray) -> list[int]:
    edges = (0.0, *SHARE_BINS)
    return [int(((lost > lo) & (lost <= hi)).sum()) for lo, hi in itertools.pairwise(edges)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small cases")
    parser.add_argument("--true-mask", action="store_true", help="watershed on the true mask")
    parser.add_argument("--chunks", type=int, default=None, help="chunk size (voxels)")
    parser.add_argument("--size", type=int, default=None, help="volume side (voxels)")
    args = parser.parse_args()
    if args.quick:
        todo = [(6, 0.1, 0), (10, 0.3, 1)]
    else:
        todo = list(itertools.product((6, 10), (0.1, 0.3), (0, 1, 2)))
    print(
        f"{'radius':>6} {'noise':>5} {'seed':>4} {'true':>4} {'whole':>5} {'cut':>4} "
        f"{'found':>5} {'lost':>4} {'extra':>5} {'IoU whole':>9} {'IoU cut':>7} "
        f"{'r est':>6} {'s':>5}  inside shares of the lost beads"
    )
    rows = []
    for radius, noise, seed in todo:
        row = run_case(radius, noise, seed, args.true_mask, args.chunks, args.size)
        rows.append(row)
        est = row["radius_est"]
        print(
            f"{radius:>6} {noise:>5} {seed:>4} {row['n_true']:>4} {row['n_whole']:>5} "
            f"{row['n_cut']:>4} {row['n_found']:>5} {len(row['lost']):>4} {row['extra']:>5} "
            f"{row['iou_whole']:9.3f} {row['iou_cut']:7.3f} "
            f"{'-' if est is None else f'{est:.2f}':>6} {row['seconds']:5.1f}  "
            + " ".join(f"{s:.3f}" for s in sorted(row["lost"])),
            flush=True,
        )
    lost = np.concatenate([r["lost"] for r in rows])
    cut = np.concatenate([r["cut"] for r in rows])
    edges = (0.0, *SHARE_BINS)
    bins = ", ".join(
        f"({lo:g}, {hi:g}]: {n}/{m}"
        for (lo, hi), n, m in zip(
            itertools.pairwise(edges), share_bins(lost), share_bins(cut), strict=True
        )
    )
    print(f"lost / cut beads by inside share: {bins}")
    exact = sum(r["n_found"] == r["n_true"] for r in rows)
    extra = sum(r["extra"] for r in rows)
    print(f"exact count: {exact}/{len(rows)}; extra labels: {extra}; lost: {len(lost)}")


if __name__ == "__main__":
    main()
