"""The per-tile centre stage of fiber detection alone, against the scipy/skimage path.

Run ``python benchmarks/fiber_slices.py STORE`` on a fiber-bed OME-Zarr store (e.g. one
that ``benchmarks/whole_scan.py`` builds). It reads ``--slices`` slices from the middle
of the scan, computes the default chain's fiber mask and centre score (tubeness at
σ = 0.6 R) at full resolution and on a 2 × 2 binned grid (the mean of 2 × 2 pixels,
R / 2), cuts the slices into the tiles that ``tile_tasks`` makes (owned part of
``MIN_TILE`` pixels a side plus a halo of ``HALO_RADII`` radii), and times, on the same
tiles, one after the other in the same run:

* ``tile_centres`` (compiled seeds and seeded watershed with region sums);
* the reference: ``scipy.ndimage.maximum_filter`` for the seeds (of the rectangle
  inscribed in the footprint, then the whole footprint on the candidates), ``ndi.label``,
  ``skimage.segmentation.watershed(-score, markers, mask=mask)`` and ``np.bincount``
  sums (what the stage ran before the compiled kernels; here with the centroid
  weighted by the squared score, as the kernels now give it),

and checks that both give the same rows. Prints Mvox/s of owned pixels (tile area
without the halo) per CPU-second (process time, one thread: steadier than wall time
on a loaded machine) and the speed-up.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import scipy.ndimage as ndi
from skimage.segmentation import watershed

import xarray_microct as mct
from xarray_microct.core.volume import grid_of
from xarray_microct.ops.fiber_scale import estimate_fiber_radius
from xarray_microct.ops.fibers.detect import HALO_RADII, fiber_chain
from xarray_microct.ops.fibers.slices import MIN_TILE, _ellipse, _tile_edges, tile_centres


def reference_local_maxima(image, footprint, where):
    """``image == maximum_filter(image, footprint, mode="nearest")`` on ``where``: the
    maximum filter of the rectangle inscribed in the footprint (separable, fast) picks
    candidates, which are checked against the whole footprint."""
    hy, hx = footprint.shape[0] // 2, footprint.shape[1] // 2
    oy, ox = np.nonzero(footprint)
    oy, ox = oy - hy, ox - hx
    inner = max(
        (
            (a, b)
            for a in range(hy + 1)
            for b in range(hx + 1)
            if footprint[hy - a : hy + a + 1, hx - b : hx + b + 1].all()
        ),
        key=lambda ab: (2 * ab[0] + 1) * (2 * ab[1] + 1),
    )
    size = (2 * inner[0] + 1, 2 * inner[1] + 1)
    candidate = where & (image == ndi.maximum_filter(image, size=size, mode="nearest"))
    cy, cx = np.nonzero(candidate)
    padded = np.pad(image, ((hy, hy), (hx, hx)), mode="edge")
    around = padded[cy[:, None] + hy + oy[None, :], cx[:, None] + hx + ox[None, :]]
    peak = np.zeros(image.shape, bool)
    peak[cy, cx] = image[cy, cx] >= around.max(axis=1, initial=-np.inf)
    return peak


def reference_slice_centres(mask, score, seed_distance, min_radius, origin, slice_shape):
    """Rows ``(y, x, radius)`` of one slice by scipy and skimage (radius in pixels)."""
    peaks = reference_local_maxima(score, _ellipse(seed_distance), mask & (score > 0))
    markers, n = ndi.label(peaks, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros((0, 3))
    regions = watershed(-score, markers, mask=mask).ravel()
    area = np.bincount(regions, minlength=n + 1)[1:].astype(np.float64)
    yy, xx = np.indices(mask.shape)
    yy, xx = yy + origin[0], xx + origin[1]
    w = np.maximum(score.astype(np.float64), 0) ** 2
    weight = np.bincount(regions, weights=w.ravel(), minlength=n + 1)[1:]
    sums = [
        np.bincount(regions, weights=v.ravel(), minlength=n + 1)[1:]
        for v in (yy, xx, w * yy, w * xx)
    ]
    # the plain centroid for regions within two seed distances of the slice's side
    near = np.zeros(n, bool)
    for k, box in enumerate(ndi.find_objects(regions.reshape(mask.shape), n)):
        if box is not None:
            (y0, y1), (x0, x1) = (
                (b.start + o, b.stop - 1 + o) for b, o in zip(box, origin, strict=True)
            )
            near[k] = (
                min(y0, slice_shape[0] - 1 - y1) < 2 * seed_distance[0]
                or min(x0, slice_shape[1] - 1 - x1) < 2 * seed_distance[1]
            )
    found = area > 0
    weighted = (weight > 0) & ~near
    cy = np.where(weighted, sums[2], sums[0]) / np.where(weighted, weight, area)
    cx = np.where(weighted, sums[3], sums[1]) / np.where(weighted, weight, area)
    area, cy, cx = area[found], cy[found], cx[found]
    radius = np.sqrt(area / np.pi)
    keep = radius >= min_radius
    return np.column_stack([cy[keep], cx[keep], radius[keep]])


def reference_tile_centres(mask, score, origin, owned, seed_distance, min_radius, slice_shape):
    y0, y1, x0, x1 = owned
    rows = []
    for k, (plane, centre) in enumerate(zip(mask, score, strict=True)):
        found = reference_slice_centres(
            plane, centre, seed_distance, min_radius, origin, slice_shape
        )
        mine = (found[:, 0] >= y0) & (found[:, 0] < y1) & (found[:, 1] >= x0) & (found[:, 1] < x1)
        rows.append(np.column_stack([np.full(mine.sum(), k, float), found[mine]]))
    return np.concatenate(rows)


def tiles(shape: tuple[int, int], halo: int, chunk: int = 128):
    """``(window, origin, owned)`` of each tile of a slice (as ``tile_tasks`` cuts them
    from chunks of ``chunk`` pixels a side)."""
    ny, nx = shape
    y_edges = _tile_edges([chunk] * -(-ny // chunk), MIN_TILE)
    x_edges = _tile_edges([chunk] * -(-nx // chunk), MIN_TILE)
    for y0, y1 in itertools.pairwise(y_edges):
        for x0, x1 in itertools.pairwise(x_edges):
            y1, x1 = min(y1, ny), min(x1, nx)
            ya, yb, xa, xb = (
                max(y0 - halo, 0),
                min(y1 + halo, ny),
                max(x0 - halo, 0),
                min(x1 + halo, nx),
            )
            yield (slice(ya, yb), slice(xa, xb)), (ya, xa), (y0, y1, x0, x1)


def measure(mask: np.ndarray, score: np.ndarray, radius_px: float, label: str) -> None:
    seed = (0.75 * radius_px,) * 2
    min_r = radius_px / 2
    shape = mask.shape[1:]
    halo = int(np.ceil(HALO_RADII * radius_px))
    cut = list(tiles(mask.shape[1:], halo))
    owned_px = sum((o[1] - o[0]) * (o[3] - o[2]) for _, _, o in cut) * mask.shape[0]
    tile_centres(
        mask[:, :64, :64], score[:, :64, :64], 0, (0, 0), (0, 64, 0, 64), (1, 1), seed, min_r
    )
    results, seconds = {}, {}
    for name, run in (
        (
            "compiled",
            lambda m, s, o, w: tile_centres(m, s, 0, o, w, (1.0, 1.0), seed, min_r, shape),
        ),
        (
            "scipy+skimage",
            lambda m, s, o, w: reference_tile_centres(m, s, o, w, seed, min_r, shape),
        ),
    ):
        start = time.process_time()
        results[name] = [
            run(mask[:, w[0], w[1]], score[:, w[0], w[1]], o, own) for w, o, own in cut
        ]
        seconds[name] = time.process_time() - start
    same = all(
        np.array_equal(a, b)
        for a, b in zip(results["compiled"], results["scipy+skimage"], strict=True)
    )
    rows = sum(len(r) for r in results["compiled"])
    fast, slow = seconds["compiled"], seconds["scipy+skimage"]
    print(
        f"{label}: R = {radius_px:.2f} px, {len(cut)} tiles × {mask.shape[0]} slices, halo {halo}, "
        f"{rows} rows (identical: {same}); compiled {owned_px / fast / 1e6:.1f} Mvox/CPU-s "
        f"({1e9 * fast / owned_px:.1f} ns/px), reference {owned_px / slow / 1e6:.1f} Mvox/s; "
        f"speed-up {slow / fast:.1f}×",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="an OME-Zarr fiber bed")
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--radius", type=float, help="fiber radius in voxels (default: estimated)")
    args = parser.parse_args()
    volume = mct.open_volume(args.store)
    spacing = float(grid_of(volume).spacing[1])
    nz = volume.sizes["z"]
    z0 = max(nz // 2 - args.slices // 2, 0)
    volume = volume.isel(z=slice(z0, z0 + args.slices)).compute()
    radius_px = args.radius
    if radius_px is None:
        radius_px = estimate_fiber_radius(volume) / spacing
    for binning in (1, 2):
        vol = volume
        if binning > 1:
            coarse = volume.coarsen(y=binning, x=binning, boundary="trim")
            vol = coarse.mean(keep_attrs=True).astype(np.float32)
        r = radius_px / binning
        r_phys = radius_px * spacing
        smooth = min(spacing * binning, r_phys / 4)
        mask, score = fiber_chain(vol, "intensity", sigma=0.6 * r_phys, smooth=smooth, eager=True)
        measure(
            np.ascontiguousarray(mask.values),
            np.ascontiguousarray(score.values, dtype=np.float32),
            r,
            f"binned {binning}×{binning}",
        )


if __name__ == "__main__":
    main()
