"""A bed of two fiber sizes at the default detection: does each size read its own radius?

Run ``python benchmarks/fiber_two_sizes.py --seeds 1 2 3`` (``--radii 2 4`` for the other
pair of sizes). The phantom is built here with numpy and scipy only (not
``xarray_microct.synthetic``): straight cylinders of two radii (pixels), drawn half and
half, packed without overlap across the fibers (random sequential addition in the plane
normal to their common axis, tilted by ``--tilt`` degrees from z towards a random
azimuth; the smaller fit in more often: 76–83 % of the fibers by count at 3 + 5 and
2 + 4 pixels), each voxel's fiber coverage the share of its 4 × 4 in-plane subpixels within
a radius of an axis (anti-aliased ellipses), fibers at 1.0 on a background at 0.2,
blurred in-plane by ``--blur`` pixels, white noise ``--noise`` of the contrast.

``detect_fibers(volume)`` (the defaults: the radius estimated, the table calibrated on
the sample's sections) is matched slice by slice to the true sections (within half the
smaller radius, a border band of 2.5 larger radii left out); per case it prints the
calibration's shift (pixels), and the error of the mean table radius of each class and
of all sections, after the shift (``small%``, ``large%``, ``all%``) and before it
(``_pre``, the same rows less the shift). ``fit_small%`` / ``fit_large%``: the sample's
fitted sections (:func:`~xarray_microct.ops.fiber_scale.measure_fiber_bed`'s ``fitted``)
against their own true sections, matched on their image's middle slice.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
import scipy.ndimage as ndi
from _measure import matched_radii

from xarray_microct.core.matching import optimal_pairs
from xarray_microct.core.volume import from_array
from xarray_microct.ops.fiber_scale import measure_fiber_bed
from xarray_microct.ops.fibers import detect_fibers
from xarray_microct.ops.fibers.calibrate import CALIBRATION_KEY

SUB = 4  # subpixels a side of each pixel's coverage


def two_size_bed(
    seed: int,
    radii=(3.0, 5.0),
    shape=(32, 160, 160),
    tilt: float = 8.0,
    blur: float = 0.7,
    noise: float = 0.15,
    gap: float = 0.3,
) -> tuple:
    """(volume, truth): straight tilted cylinders of two radii, anti-aliased, blurred, noisy.

    ``truth`` has one row per fiber and slice (``fiber_id, z, y, x, radius``; the axis's
    crossing of the slice's middle, pixels) for axes within the slice.
    """
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    theta, azimuth = np.radians(tilt), rng.uniform(0, 2 * np.pi)
    cos_t = np.cos(theta)
    along = np.array([np.cos(azimuth), np.sin(azimuth)])  # in-plane direction of the lean
    # the plane normal to the axes: its coordinates (u along the lean, v across) are the
    # middle slice's (y, x) with u shrunk by cos θ; the fibers must not overlap there
    reach = np.tan(theta) * nz / 2 + max(radii) + 2
    lo, hi = -reach, max(ny, nx) + reach
    centres, rs = [], []
    for _ in range(30000):
        r = float(radii[rng.integers(2)])
        c = rng.uniform(lo, hi, 2)
        if centres:
            d = np.array(centres) - c
            u = (d @ along) * cos_t
            v = d @ np.array([-along[1], along[0]])
            if (np.hypot(u, v) - np.array(rs) - r).min() < gap:
                continue
        centres.append(c)
        rs.append(r)
    centres, rs = np.array(centres), np.array(rs)
    direction = np.array([np.cos(theta), *(np.sin(theta) * along)])  # (z, y, x)
    z0 = (nz - 1) / 2
    offsets = (np.arange(SUB) + 0.5) / SUB - 0.5
    cover = np.zeros(shape)
    zs = np.arange(nz, dtype=float)
    for (cy, cx), r in zip(centres, rs, strict=True):
        # the axis crosses slice k at (cy, cx) + tan θ (k − z0) along
        path = np.array([cy, cx]) + np.outer(np.tan(theta) * (zs - z0), along)
        span = r / cos_t + 2
        y0 = max(int(np.floor(path[:, 0].min() - span)), 0)
        y1 = min(int(np.ceil(path[:, 0].max() + span)) + 1, ny)
        x0 = max(int(np.floor(path[:, 1].min() - span)), 0)
        x1 = min(int(np.ceil(path[:, 1].max() + span)) + 1, nx)
        if y1 <= y0 or x1 <= x0:
            continue
        yy = (np.arange(y0, y1)[:, None] + offsets[None, :]).ravel()
        xx = (np.arange(x0, x1)[:, None] + offsets[None, :]).ravel()
        qz = zs[:, None, None] - z0
        qy = yy[None, :, None] - cy
        qx = xx[None, None, :] - cx
        t = qz * direction[0] + qy * direction[1] + qx * direction[2]
        d2 = (
            (qz - t * direction[0]) ** 2
            + (qy - t * direction[1]) ** 2
            + (qx - t * direction[2]) ** 2
        )
        inside = (d2 <= r * r).reshape(nz, y1 - y0, SUB, x1 - x0, SUB).mean(axis=(2, 4))
        box = np.s_[:, y0:y1, x0:x1]
        cover[box] = np.maximum(cover[box], inside)
    plane = ndi.gaussian_filter(0.2 + 0.8 * cover, (0, blur, blur))
    volume = plane + noise * 0.8 * rng.standard_normal(shape)
    rows = []
    for i, ((cy, cx), r) in enumerate(zip(centres, rs, strict=True)):
        for k in range(nz):
            y, x = np.array([cy, cx]) + np.tan(theta) * (k - z0) * along
            if 0 <= y < ny and 0 <= x < nx:
                rows.append((i + 1, k, y, x, r))
    truth = pd.DataFrame(rows, columns=["fiber_id", "z", "y", "x", "radius"])
    return from_array(volume.astype(np.float32), spacing=1.0), truth


def class_errors(measured: np.ndarray, true: np.ndarray, radii) -> list[float]:
    """Per cent error of the mean measured radius of each class, then of all."""
    out = [100 * (measured[true == r].mean() / r - 1) for r in radii]
    return [*out, 100 * (measured.mean() / true.mean() - 1)]


def fitted_errors(volume, truth: pd.DataFrame, radii) -> list[float]:
    """Per class error of the sample's fitted sections against their own true sections."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bed = measure_fiber_bed(volume)
    fitted = bed.fitted
    if fitted is None or not len(fitted.radius):
        return [np.nan] * len(radii)
    found, true = [], []
    for group, ks in enumerate(fitted.slices):
        k = round(float(np.mean(ks)))
        here = fitted.group == group
        at = truth[truth["z"] == k]
        ia, ib, _ = optimal_pairs(
            np.column_stack([fitted.y[here], fitted.x[here]]),
            at[["y", "x"]].to_numpy(),
            0.5 * min(radii),
        )
        found.append(fitted.radius[here][ia])
        true.append(at["radius"].to_numpy()[ib])
    found, true = np.concatenate(found), np.concatenate(true)
    return [100 * (found[true == r].mean() / r - 1) for r in radii]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--radii", type=float, nargs=2, default=[3.0, 5.0])
    parser.add_argument("--tilt", type=float, default=8.0)
    parser.add_argument("--blur", type=float, default=0.7)
    parser.add_argument("--noise", type=float, default=0.15)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--slices", type=int, default=32)
    args = parser.parse_args()
    radii = tuple(args.radii)
    print(
        f"{'radii':>7} {'seed':>4} {'n':>6} {'shift':>7} {'small%':>7} {'large%':>7} "
        f"{'all%':>7} {'s_pre%':>7} {'l_pre%':>7} {'a_pre%':>7} {'fit_s%':>7} {'fit_l%':>7} "
        f"{'cpu_s':>6}"
    )
    for seed in args.seeds:
        volume, truth = two_size_bed(
            seed, radii, (args.slices, args.size, args.size), args.tilt, args.blur, args.noise
        )
        start = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = detect_fibers(volume)
        cpu = time.process_time() - start
        shift = float(table.attrs[CALIBRATION_KEY].get("shift", 0.0))
        measured, true = matched_radii(
            table, truth, "radius", float(args.size), 2.5 * max(radii), 0.5 * min(radii)
        )
        after = class_errors(measured, true, radii)
        before = class_errors(measured - shift, true, radii)
        fit = fitted_errors(volume, truth, radii)
        print(
            f"{'+'.join(f'{r:g}' for r in radii):>7} {seed:>4} {len(true):>6} {shift:>+7.3f} "
            + " ".join(f"{v:>+7.2f}" for v in (*after, *before, *fit))
            + f" {cpu:>6.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
