"""The whole fiber scan, end to end: a 2560 × 2560 × N bed from Zarr to the fiber table.

Builds a synthetic fiber bed of the seed's scan width (2560² pixels of 0.65 µm, SiC
fibers of radius 6.4 ± 0.9 µm, touching, tilted, a partly infiltrated matrix, blur,
noise, rings) chunk by chunk straight into an OME-Zarr store (never whole in memory:
each chunk is drawn from the global fiber axes, its blur halo drawn with it), then runs
``microct run fibers IN OUT`` as a subprocess, threaded and with ``--workers 2``, and
prints for each run: the wall time and Mvox/s, the peak RSS of the whole process tree
(psutil, polled every 0.1 s), the object F1 of the per-slice centres against the truth
(on sampled slices) and the mean radius error of the matched whole sections, the 3-D
fiber count against the truth (fibers cut by the volume's sides left out on both sides),
the chains joining two true fibers, and the projections to the seed's full scan
(14 Gvox) and to its 650-Mvox fiber job (linear in voxels).

``--baseline SRC`` runs the same commands with another source tree of the package first
on ``PYTHONPATH`` (e.g. a checkout of the previous version), on the same store in the
same run: a before/after on a machine whose load changes from minute to minute.

Usage::

    python benchmarks/whole_scan.py --quick            # 2560 × 2560 × 32, a few minutes
    python benchmarks/whole_scan.py --slices 128       # the Must-show memory case
    python benchmarks/whole_scan.py --size 1024 --slices 64 --baseline ../previous
    python benchmarks/whole_scan.py --size 1024 --slices 64 --radius "6.4 um"  # no estimate
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pandas as pd
import scipy.ndimage as ndi
from _measure import chain_identity, run_microct
from scipy.spatial import cKDTree
from scipy.special import ndtri

import xarray_microct as mct
from xarray_microct.metrics import object_metrics
from xarray_microct.runner import read_table
from xarray_microct.synthetic.fibers import (
    FIBER,
    MATRIX,
    PORE,
    _directions,
    _place_centres,
    _render_fibers,
)

FULL_SCAN = 2560 * 2560 * 2160  # the seed's fiber bed, voxels
PAPER_JOB = 650e6  # the seed's headline fiber job, voxels
SPACING = 0.65  # µm, the seed's scan
RADIUS, RADIUS_SD = 6.4, 0.9
BLUR, NOISE, RINGS, INFILTRATION = 0.7, 0.08, 0.03, 0.6
WAVES = 12  # plane waves of the matrix's random field


def fiber_axes(shape: tuple[int, int, int], seed: int) -> pd.DataFrame:
    """The true fibers of the bed: axis, radius and whether the volume's side cuts them."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    # the beds this benchmark has always drawn (placed in the middle slice's plane: at 2°
    # fibers touching there overlap by 0.0012 R at the ends), the azimuth drawn where
    # _directions drew it, so the stored scans and their figures stay comparable
    margin = 2 * RADIUS
    centres, radii = _place_centres(
        (-margin, -margin),
        (ny * SPACING + margin, nx * SPACING + margin),
        RADIUS,
        RADIUS_SD,
        0.55,
        rng,
    )
    azimuth = rng.uniform(-np.pi, np.pi)
    direction = _directions(len(centres), 2.0, azimuth, 1.0, RADIUS, nz * SPACING, rng)
    axes = pd.DataFrame(
        {
            "radius": radii,
            "z0": (nz - 1) / 2 * SPACING,
            "y0": centres[:, 0],
            "x0": centres[:, 1],
            "dz": direction[:, 0],
            "dy": direction[:, 1],
            "dx": direction[:, 2],
        }
    )
    # the axes are straight: their extremes along y and x are at the first and last slice
    ends = (np.array([0, nz - 1]) * SPACING - axes.z0.to_numpy()[:, None]) / axes.dz.to_numpy()[
        :, None
    ]
    cy = axes.y0.to_numpy()[:, None] + ends * axes.dy.to_numpy()[:, None]
    cx = axes.x0.to_numpy()[:, None] + ends * axes.dx.to_numpy()[:, None]
    r = radii[:, None]
    top_y, top_x = (ny - 1) * SPACING, (nx - 1) * SPACING
    visible = (
        (cy.max(1) + radii >= -SPACING / 2)
        & (cy.min(1) - radii <= top_y + SPACING / 2)
        & (cx.max(1) + radii >= -SPACING / 2)
        & (cx.min(1) - radii <= top_x + SPACING / 2)
    )
    touches = ((cy - r < 0) | (cy + r > top_y) | (cx - r < 0) | (cx + r > top_x)).any(1)
    axes["touches_side"] = touches
    axes = axes[visible].reset_index(drop=True)
    axes.insert(0, "fiber_id", np.arange(1, len(axes) + 1))
    return axes


def truth_centres(axes: pd.DataFrame, shape: tuple[int, int, int], slices: np.ndarray):
    """True centres (``fiber_id, z, y, x, radius``) on the given slices."""
    _, ny, nx = shape
    rows = []
    for k in slices:
        t = (k * SPACING - axes.z0) / axes.dz
        y, x = axes.y0 + t * axes.dy, axes.x0 + t * axes.dx
        inside = (
            (y >= -SPACING / 2)
            & (y <= (ny - 0.5) * SPACING)
            & (x >= -SPACING / 2)
            & (x <= (nx - 0.5) * SPACING)
        )
        rows.append(
            pd.DataFrame(
                {
                    "fiber_id": axes.fiber_id[inside],
                    "z": k * SPACING,
                    "y": y[inside],
                    "x": x[inside],
                    "radius": axes.radius[inside],
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _matrix_waves(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    k = rng.normal(size=(WAVES, 3))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    k *= rng.uniform(0.5, 1.5, (WAVES, 1)) / (3 * RADIUS)  # grain of ~3 radii
    return k, rng.uniform(0, 2 * np.pi, WAVES)


def bed_block(
    axes: pd.DataFrame,
    shape: tuple[int, int, int],
    seed: int,
    block_info: dict | None = None,
) -> np.ndarray:
    """One chunk of the bed (uint16), drawn from the global axes with its blur halo."""
    location = block_info[None]["array-location"]
    chunk_index = block_info[None]["chunk-location"]
    halo = int(np.ceil(4 * BLUR))
    start = [lo - halo for lo, _ in location]
    size = [hi - lo + 2 * halo for lo, hi in location]
    # the fibers that reach this block: axis positions at its first and last slice
    z_ends = np.array([start[0], start[0] + size[0]]) * SPACING - axes.z0.to_numpy()[:, None]
    t = z_ends / axes.dz.to_numpy()[:, None]
    cy = axes.y0.to_numpy()[:, None] + t * axes.dy.to_numpy()[:, None]
    cx = axes.x0.to_numpy()[:, None] + t * axes.dx.to_numpy()[:, None]
    reach = axes.radius.to_numpy() + 2 * SPACING
    near = (
        (cy.max(1) + reach >= start[1] * SPACING)
        & (cy.min(1) - reach <= (start[1] + size[1]) * SPACING)
        & (cx.max(1) + reach >= start[2] * SPACING)
        & (cx.min(1) - reach <= (start[2] + size[2]) * SPACING)
    )
    local = axes[near].copy()
    local["z0"] -= start[0] * SPACING
    local["y0"] -= start[1] * SPACING
    local["x0"] -= start[2] * SPACING
    occupancy = _render_fibers(tuple(size), (SPACING,) * 3, local)
    z, y, x = (
        ((s + np.arange(n)) * SPACING).astype(np.float32) for s, n in zip(start, size, strict=True)
    )
    k, phase = _matrix_waves(seed)
    field = np.zeros(size, np.float32)
    for kw, ph in zip(k.astype(np.float32), phase.astype(np.float32), strict=True):
        plane = kw[1] * y[:, None] + kw[2] * x[None, :] + ph
        field += np.cos(kw[0] * z[:, None, None] + plane[None])
    field /= np.sqrt(WAVES / 2)
    cut = ndtri(1 - INFILTRATION)
    matrix = np.clip((field - cut) * 2 + 0.5, 0, 1)
    image = occupancy * FIBER + (1 - occupancy) * (PORE + (MATRIX - PORE) * matrix)
    image = ndi.gaussian_filter(image, BLUR)[halo:-halo, halo:-halo, halo:-halo]
    _, ny, nx = shape
    yy, xx = y[halo:-halo, None], x[None, halo:-halo]
    rho = np.hypot(yy - (ny - 1) / 2 * SPACING, xx - (nx - 1) / 2 * SPACING) / SPACING
    rings = RINGS * np.sin(rho / 3.0) * np.exp(-(((rho % 97) / 40) ** 2))
    rng = np.random.default_rng([seed, *chunk_index])
    image = image + rings[None] + rng.normal(0, NOISE, image.shape).astype(np.float32)
    return np.clip(8000 + 32000 * image, 0, 65535).astype(np.uint16)


def build_store(store: Path, shape: tuple[int, int, int], chunks: tuple, seed: int):
    """Write the bed chunk by chunk into an OME-Zarr store; return the true axes.

    A store of this script left incomplete by an interrupted run is written again.
    """
    axes = fiber_axes(shape, seed)
    data = da.map_blocks(
        bed_block,
        axes,
        shape,
        seed,
        chunks=da.core.normalize_chunks(chunks, shape),
        dtype=np.uint16,
        meta=np.zeros((0, 0, 0), np.uint16),
    )
    volume = mct.from_array(data, spacing=SPACING, units="micrometer", name="scan")
    volume.microct.to_zarr(store, mode="w" if store.exists() else "w-")
    return axes


def is_complete(store: Path) -> bool:
    try:
        mct.open_volume(store)
    except (ValueError, FileNotFoundError, OSError):
        return False
    return True


def scores(table: pd.DataFrame, axes: pd.DataFrame, shape: tuple, sample: np.ndarray):
    """Object F1 on the sampled slices, the 3-D count; chains joining two true fibers and
    true fibers split over two chains, on every slice."""
    truth = truth_centres(axes, shape, sample)
    z_sample = sample * SPACING
    on_sample = table[np.isin(np.round(table["z"].to_numpy() / SPACING), sample)]
    like = mct.from_array(da.zeros(shape, np.uint8, chunks=(1, *shape[1:])), spacing=SPACING)
    f1 = object_metrics(on_sample, truth, like=like, margin=RADIUS)["f1"]
    # each detected centre on the sampled slices: the true radius within a radius
    true_radius = pd.Series(np.nan, index=on_sample.index)
    for z in z_sample:
        here_t = truth[np.isclose(truth.z, z)]
        here_d = on_sample[np.isclose(on_sample.z, z)]
        if len(here_t) == 0 or len(here_d) == 0:
            continue
        distance, index = cKDTree(here_t[["y", "x"]].to_numpy()).query(
            here_d[["y", "x"]].to_numpy()
        )
        near = distance < RADIUS
        true_radius[here_d.index[near]] = here_t.radius.to_numpy()[index[near]]
    if "touches_side" in table:
        count = int((~table.groupby("fiber_id")["touches_side"].first()).sum())
    else:  # a table from before the side flag: every chain counts
        count = int(table["fiber_id"].nunique())
    # radius error: detections matched to a true fiber, whole sections only (the side
    # cuts the others)
    whole = true_radius.notna()
    if "touches_side" in on_sample:
        whole &= ~on_sample["touches_side"].astype(bool)
    ratio = on_sample["radius"][whole] / true_radius[whole]
    return {
        "f1": f1,
        "radius_error": 100 * (ratio.mean() - 1) if len(ratio) else np.nan,
        "count": count,
        "true_count": int((~axes.touches_side).sum()),
        **chain_identity(
            table, truth_centres(axes, shape, np.arange(shape[0])), SPACING, RADIUS
        )._asdict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2560, help="slice edge in pixels")
    parser.add_argument("--slices", type=int, default=128, help="slices (N)")
    parser.add_argument("--chunks", type=int, nargs=3, default=(64, 512, 512))
    parser.add_argument("--quick", action="store_true", help="2560 × 2560 × 32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folder", default=None, help="keep the store here (reused)")
    parser.add_argument("--baseline", default=None, help="another source tree to compare")
    parser.add_argument("--skip-workers", action="store_true", help="threaded run only")
    parser.add_argument(
        "--radius", default=None, help="give the fiber radius (e.g. '6.4 um'): no estimate"
    )
    args = parser.parse_args()
    shape = (32 if args.quick else args.slices, args.size, args.size)
    voxels = int(np.prod(shape))
    folder = Path(args.folder or tempfile.mkdtemp(prefix="whole-scan-"))
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / f"bed-{shape[0]}x{shape[1]}x{shape[2]}-{args.seed}.ome.zarr"
    print(
        f"whole fiber scan: {shape[0]} × {shape[1]} × {shape[2]} = {voxels / 1e6:.0f} Mvox "
        f"uint16, chunks {tuple(args.chunks)}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f} (a shared machine: timings are noisy)"
    )
    start = time.perf_counter()
    with dask.config.set(scheduler="threads"):
        if is_complete(store):
            axes = fiber_axes(shape, args.seed)
            print(f"  reusing {store}")
        else:
            axes = build_store(store, shape, tuple(args.chunks), args.seed)
            print(
                f"  built the bed chunk by chunk into Zarr in {time.perf_counter() - start:.0f} s"
            )
    sample = np.unique(np.linspace(0, shape[0] - 1, 5).round().astype(int))
    runs = (
        [("threads", [])]
        if args.skip_workers
        else [("threads", []), ("--workers 2", ["--workers", "2", "--threads-per-worker", "1"])]
    )
    if args.radius:
        runs = [(name, [*extra, "--param", f"radius={args.radius}"]) for name, extra in runs]
    sources = [("this tree", None)]
    if args.baseline:
        sources.insert(0, ("baseline", Path(args.baseline).resolve()))
    print(
        f"  {'code':<10}{'scheduler':<14}{'wall s':>8}{'Mvox/s':>8}{'peak RSS':>10}"
        f"{'B/vox':>7}{'F1':>7}{'rad%':>7}{'count':>7}{'true':>6}{'joined':>7}{'split':>6}"
        f"{'14 Gvox':>9}{'650 Mvox':>9}"
    )
    for label, source in sources:
        for name, extra in runs:
            out = (
                folder / f"fibers-{label.replace(' ', '-')}-{name.strip('-').replace(' ', '')}.zarr"
            )
            seconds, _, peak = run_microct(source, "fibers", store, out, extra)
            s = scores(read_table(out), axes, shape, sample)
            print(
                f"  {label:<10}{name:<14}{seconds:>8.1f}{voxels / seconds / 1e6:>8.1f}"
                f"{peak / 2**30:>8.2f}Gi{peak / voxels:>7.1f}{s['f1']:>7.3f}"
                f"{s['radius_error']:>+7.2f}"
                f"{s['count']:>7}{s['true_count']:>6}{s['joined']:>7}{s['split']:>6}"
                f"{seconds * FULL_SCAN / voxels / 60:>7.1f}mn"
                f"{seconds * PAPER_JOB / voxels:>8.0f}s",
                flush=True,
            )
    print(
        "  F1: per-slice centres on sampled slices (border band of one radius ignored); "
        "rad%: mean detected / true radius - 1 of the matched whole sections there; "
        "count: 3-D fibers not cut by the sides (detected) vs true; joined: chains "
        "matched to two true fibers, split: true fibers matched by two chains (each "
        "section to the true centre within a radius, on every slice); projections "
        "linear in voxels."
    )


if __name__ == "__main__":
    main()
