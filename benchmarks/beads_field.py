"""Bead pipeline on packs in a circular field of view: beads cut by the field's edge.

:func:`field_pack` (numpy/scipy only, written independently of the library's phantoms)
draws balls of radii uniform in 5-14 voxels (random sequential addition, overlapping by
at most a twentieth of the smaller radius) whose centres lie within the field's circle
or beyond it by up to 0.8 of their radius (a cap of 3 % of the ball at least inside),
bright (1.0) in a dark liquid (0.25), blurred by a voxel, with Gaussian noise of
``noise`` times the contrast; outside the circle (radius ``size / 2 - 2``) the scan is
0, and ``ragged`` of the circle's rim voxels are taken out of the field. ``uint16``: the
scan scaled by 1000 about an offset that puts the liquid 1.5 of its noise above 0, so
that about 7 % of the liquid's voxels clip to 0 inside the field, the padding's value.

Per case: beads matched at IoU 0.5 (each true bead against the label overlapping it
most, the truth clipped to the field) by class of the share of the ball inside the
field (whole, 30-100 %, 15-30 %, 5-15 %, under 5 %), labels on no bead (under half of
the label on one true bead), padding voxels labelled.

Run: python benchmarks/beads_field.py [--seeds 7 8 9 10] [--dtype uint16] [--noise 0.1 0.3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.ndimage as ndi

CLASSES = ((1.0, 1.01, "whole"), (0.3, 1.0, "30-100"), (0.15, 0.3, "15-30"),
           (0.05, 0.15, "5-15"), (0.0, 0.05, "<5"))  # fmt: skip


def field_pack(
    seed: int,
    noise: float,
    dtype: str = "float32",
    shape: tuple[int, int, int] = (64, 128, 128),
    ragged: float = 0.3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(scan, true labels clipped to the field, field, inside share of each bead)."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    cy, cx, edge = (ny - 1) / 2, (nx - 1) / 2, min(ny, nx) / 2 - 2
    centres: list[np.ndarray] = []
    sizes: list[float] = []
    for _ in range(4000):
        r = rng.uniform(5.0, 14.0)
        c = np.array([rng.uniform(r, nz - 1 - r), rng.uniform(0, ny - 1), rng.uniform(0, nx - 1)])
        if np.hypot(c[1] - cy, c[2] - cx) > edge + 0.8 * r:
            continue
        if all(
            np.linalg.norm(c - o) >= r + q - 0.05 * min(r, q)
            for o, q in zip(centres, sizes, strict=True)
        ):
            centres.append(c)
            sizes.append(r)
    z, y, x = np.indices(shape, dtype=np.float32)
    disk = np.hypot(y - cy, x - cx) <= edge
    truth = np.zeros(shape, np.int32)
    shares = []
    for index, (c, r) in enumerate(zip(centres, sizes, strict=True), start=1):
        ball = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r
        truth[ball & (truth == 0)] = index
        shares.append(np.count_nonzero(ball & disk) / max(np.count_nonzero(ball), 1))
    field = disk.copy()
    if ragged:
        rim = field & ~ndi.binary_erosion(field, np.ones((1, 3, 3), bool))
        field &= ~(rim & (rng.random(shape) < ragged))
    sigma = 0.75 * noise
    scan = ndi.gaussian_filter(np.where(truth > 0, 1.0, 0.25), 1.0)
    scan += rng.normal(0.0, sigma, shape)
    if dtype == "uint16":
        offset = 0.25 - 1.5 * sigma  # the liquid 1.5 noise above 0: its tail clips
        scan = np.clip(np.rint((scan - offset) * 1000.0), 0, 65535).astype(np.uint16)
    else:
        scan = scan.astype(np.float32)
    scan[~field] = 0
    truth[~field] = 0
    present = np.unique(truth)[1:]
    remap = np.zeros(len(centres) + 1, np.int32)
    remap[present] = np.arange(1, len(present) + 1)
    return scan, remap[truth], field, np.array(shares)[present - 1]


def score(labels: np.ndarray, truth: np.ndarray, field: np.ndarray, shares: np.ndarray) -> dict:
    """Matched beads by class, labels on no bead, padding voxels labelled."""
    n, m = int(truth.max()), int(labels.max())
    pairs = np.bincount(
        truth.ravel().astype(np.int64) * (m + 1) + labels.ravel(), minlength=(n + 1) * (m + 1)
    ).reshape(n + 1, m + 1)
    t_size, l_size = pairs.sum(1), pairs.sum(0)
    inner = pairs[1:, 1:]
    best = inner.argmax(1)
    overlap = inner[np.arange(n), best]
    iou = overlap / (t_size[1:] + l_size[1:][best] - overlap)
    out = {}
    for low, high, name in CLASSES:
        pick = (shares >= low) & (shares < high)
        out[name] = (int(np.count_nonzero(iou[pick] >= 0.5)), int(np.count_nonzero(pick)))
    present = l_size[1:] > 0
    on_bead = inner.max(0) >= 0.5 * l_size[1:]
    out["no_bead"] = int(np.count_nonzero(present & ~on_bead))
    out["padding"] = int(np.count_nonzero(labels[~field]))
    return out


def main() -> None:
    import xarray_microct as mct
    from xarray_microct.pipelines import beads

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9, 10])
    parser.add_argument("--noise", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--dtype", nargs="+", default=["float32", "uint16"])
    parser.add_argument("--chunks", type=int, default=64)
    args = parser.parse_args()
    totals: dict = {}
    for dtype in args.dtype:
        for noise in args.noise:
            for seed in args.seeds:
                scan, truth, field, shares = field_pack(seed, noise, dtype)
                start = time.process_time()
                labels = beads(mct.from_array(scan, chunks=args.chunks), invert=False).values
                cpu = time.process_time() - start
                result = score(labels, truth, field, shares)
                row = " ".join(
                    f"{k} {v[0]}/{v[1]}" if isinstance(v, tuple) else f"{k} {v}"
                    for k, v in result.items()
                )
                print(f"{dtype:7s} noise {noise:.1f} seed {seed:2d}: {row}  ({cpu:.0f} CPU s)")
                for k, v in result.items():
                    if isinstance(v, tuple):
                        a, b = totals.get(k, (0, 0))
                        totals[k] = (a + v[0], b + v[1])
                    else:
                        totals[k] = totals.get(k, 0) + v
    print(
        "total: "
        + " ".join(
            f"{k} {v[0]}/{v[1]}" if isinstance(v, tuple) else f"{k} {v}" for k, v in totals.items()
        )
    )


if __name__ == "__main__":
    main()
