"""Fibers that are only a shoulder of a neighbour's response, found by peeling the fit's model.

A prototype outside the package (``ops/fibers/along.py``'s lab book holds what it measured).
Run ``python benchmarks/fiber_peel.py other:2:0.25:0:2 other:2:0.25:15:1`` (cases
``PHANTOM:RADIUS:NOISE:TILT:SEED`` of ``benchmarks/fiber_scale.py``'s sweep, PHANTOM
``other`` or ``fiber_bed``; ``broken:NOISE:SEED`` for
:func:`~xarray_microct.synthetic.broken_fiber_bed` at 2 pixels, 32 × 96², 40 % ending).
After ``detect_fibers`` with the defaults:

1. the scan smoothed along the bed as the detection smooths it (its recorded drift and
   smoothing, :func:`~xarray_microct.ops.fibers.along.smooth_along`);
2. each slice of it fitted as the table's sections, blurred disks over a local background
   (:func:`~xarray_microct.ops.fiber_scale.disks.fit_blurred_disks`, 10 rounds), and the
   model subtracted;
3. the residual filtered by a Gaussian of one pixel and turned into z-scores by its own
   robust spread (median and MAD over the volume less a band of one radius);
4. the z-scores' local maxima over 3 on each slice, outside every fitted disk, linked from
   slice to slice along the drift (within one radius, up to 3 slices apart);
5. a chain kept when it spans 3 slices or more and its mean z-score times
   ``sqrt(max(span / ell, 1))`` exceeds the one-sided normal quantile of ``0.01 / tests``:
   ``ell`` the residual's correlation length along z (1 + twice the sum of its
   autocorrelation until it falls under 0.05), ``tests`` the independent samples of the
   volume (its area over that of the filter, 4π pixels, times the slices over ``ell``);
   a significance level, not a threshold fitted to the phantoms; with
   ``--negative-null`` also over the largest statistic of the chains of the negated
   z-scores (the model's misfit, of both signs, as the null);
6. on each slice of a kept chain, the new disk (at the chain's line, 0.8 radius) fitted
   jointly with the disks within 4 radii on a window of 12 radii; a row kept unless the
   new disk comes closer to another than 0.75 of their radii's sum; the rows put on a
   line fitted through them (straight fibers) and given a new ``fiber_id``.

It prints the object F1 before and after, the rows added and the CPU seconds of steps 1–6.
"""

from __future__ import annotations

import argparse
import time
import warnings

import dask.array as da
import numpy as np
import pandas as pd
import scipy.ndimage as ndi
from fiber_scale import sweep_case
from scipy.spatial import cKDTree
from scipy.stats import norm

from xarray_microct.metrics import object_metrics
from xarray_microct.ops.fiber_scale import estimate_fiber_radius
from xarray_microct.ops.fiber_scale.disks import fit_blurred_disks, fitted_image
from xarray_microct.ops.fibers import detect_fibers
from xarray_microct.ops.fibers.along import smooth_along
from xarray_microct.synthetic import broken_fiber_bed

FILTER = 1.0  # the residual's matched filter, a Gaussian (pixels)
ALPHA = 0.01  # chance of one false chain in a volume of noise
ROUNDS = 10  # fit rounds per slice


def _direction(table: pd.DataFrame) -> tuple[np.ndarray, float]:
    """The detection's recorded drift per slice (pixels) and smoothing (radii); straight
    along z over half a radius where it recorded none (the straight path's smoothing)."""
    runs = [r for r in table.attrs["microct_provenance"] if r.get("op") == "detect_fibers"]
    record = runs[-1].get("estimated", {}).get("fiber_direction")
    if not isinstance(record, dict) or "smoothing_radii" not in record:
        return np.zeros(2), 0.5
    return np.array(record.get("drift_px", [0.0, 0.0]), float), float(record["smoothing_radii"])


def _z_scores(volume, table: pd.DataFrame, radius: float) -> tuple:
    """The residual's z-scores, each slice's fit (rows, fit), the correlation length along
    z and the smoothed scan."""
    drift, smoothing = _direction(table)
    data = da.from_array(volume.values.astype(np.float32), chunks=-1)
    smooth = smooth_along(data, smoothing * radius, drift).compute()
    z_row = np.rint(table["z"].to_numpy(float)).astype(int)
    centres = table[["y", "x"]].to_numpy(float)
    radii = table["radius"].to_numpy(float)
    filtered = np.zeros(smooth.shape)
    fits = []
    for z in range(smooth.shape[0]):
        rows = np.flatnonzero(z_row == z)
        fit = fit_blurred_disks(smooth[z], centres[rows], radii[rows], rounds=ROUNDS)
        residual = smooth[z] - fitted_image(smooth[z].shape, fit)
        filtered[z] = ndi.gaussian_filter(residual, FILTER)
        fits.append((rows, fit))
    band = int(np.ceil(radius))
    core = filtered[:, band:-band, band:-band]
    middle = np.median(core)
    spread = 1.4826 * np.median(np.abs(core - middle))
    centred = core - middle
    rho = [1.0]
    for lag in range(1, smooth.shape[0] // 2):
        a, b = centred[lag:], centred[:-lag]
        r = float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))
        if r <= 0.05:
            break
        rho.append(r)
    return (filtered - middle) / spread, fits, 1.0 + 2.0 * sum(rho[1:]), smooth


def _candidates(scores: np.ndarray, fits: list, band: int) -> np.ndarray:
    """``(z, y, x, score)`` of each slice's maxima over 3 outside every fitted disk."""
    peaks = (scores == ndi.maximum_filter(scores, size=(1, 3, 3))) & (scores > 3.0)
    peaks[:, :band] = peaks[:, -band:] = False
    peaks[:, :, :band] = peaks[:, :, -band:] = False
    found = []
    for z, (_, fit) in enumerate(fits):
        at = np.argwhere(peaks[z])
        if len(at) and len(fit.radii):
            distance, nearest = cKDTree(fit.centres).query(at.astype(float))
            at = at[distance > fit.radii[nearest]]
        found.extend((z, y, x, scores[z, y, x]) for y, x in at)
    return np.array(found, float).reshape(-1, 4)


def _chains(found: np.ndarray, drift: np.ndarray, link: float) -> tuple[np.ndarray, int]:
    """Each candidate's chain: linked to the nearest open chain's last candidate 1–3
    slices before it, moved by the drift, within ``link``."""
    chain = -np.ones(len(found), int)
    last: dict[int, tuple[float, float, float]] = {}
    count = 0
    for i in np.argsort(found[:, 0], kind="stable"):
        z, y, x, _ = found[i]
        best, best_distance = -1, link
        for k, (lz, ly, lx) in last.items():
            if 1 <= z - lz <= 3:
                d = np.hypot(y - ly - drift[0] * (z - lz), x - lx - drift[1] * (z - lz))
                if d <= best_distance:
                    best, best_distance = k, d
        if best < 0:
            best, count = count, count + 1
        chain[i] = best
        last[best] = (z, y, x)
    return chain, count


def _statistics(found: np.ndarray, chain: np.ndarray, count: int, ell: float) -> np.ndarray:
    """Each chain's span (slices) and statistic: its mean z-score times
    ``sqrt(max(span / ell, 1))``."""
    out = np.zeros((count, 2))
    for k in range(count):
        members = found[chain == k]
        span = members[:, 0].max() - members[:, 0].min() + 1
        out[k] = span, members[:, 3].mean() * np.sqrt(max(span / ell, 1.0))
    return out


def _line(z: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """A straight line through ``values`` over ``z``, read at ``at``."""
    design = np.column_stack([np.ones(len(z)), z])
    coef = np.linalg.lstsq(design, values, rcond=None)[0]
    return coef[0] + coef[1] * at


def peel(
    volume, table: pd.DataFrame, radius: float, negative_null: bool = False
) -> tuple[pd.DataFrame, dict]:
    """The table (pixel units, z as slice numbers) with the rows of the fibers found;
    ``negative_null``: a chain must also beat every chain of the negated residual."""
    drift, _ = _direction(table)
    scores, fits, ell, smooth = _z_scores(volume, table, radius)
    nz, ny, nx = scores.shape
    band = int(np.ceil(radius))
    tests = (ny - 2 * band) * (nx - 2 * band) / (4 * np.pi * FILTER**2) * max(nz / ell, 1.0)
    bound = float(norm.isf(ALPHA / tests))
    found = _candidates(scores, fits, band)
    chain, count = _chains(found, drift, radius)
    stats = _statistics(found, chain, count, ell)
    if negative_null:  # the model's misfit, which has both signs, as the null
        dark = _candidates(-scores, fits, band)
        dark_stats = _statistics(dark, *_chains(dark, drift, radius), ell)
        dark_stats = dark_stats[dark_stats[:, 0] >= 3]
        bound = max(bound, float(dark_stats[:, 1].max(initial=-np.inf)))
    rows, kept = [], 0
    next_id = int(table["fiber_id"].max()) + 1
    for k in range(count):
        members = found[chain == k]
        if stats[k, 0] < 3 or stats[k, 1] <= bound:
            continue
        points = []
        for z in range(int(members[:, 0].min()), int(members[:, 0].max()) + 1):
            _, fit = fits[z]
            new = [_line(members[:, 0], members[:, c], np.array([z]))[0] for c in (1, 2)]
            centres = np.vstack([fit.centres, [new]])
            radii = np.r_[fit.radii, 0.8 * radius]
            near = np.flatnonzero(np.hypot(*(centres - new).T) < 4 * radius)
            y0, x0 = int(max(new[0] - 6 * radius, 0)), int(max(new[1] - 6 * radius, 0))
            y1 = int(min(new[0] + 6 * radius + 1, ny))
            x1 = int(min(new[1] + 6 * radius + 1, nx))
            try:
                joint = fit_blurred_disks(
                    smooth[z, y0:y1, x0:x1], centres[near] - [y0, x0], radii[near], rounds=ROUNDS
                )
            except ValueError:
                continue
            others = joint.centres[:-1]
            apart = np.hypot(*(others - joint.centres[-1]).T)
            if len(others) and np.any(apart < 0.75 * (joint.radii[:-1] + joint.radii[-1])):
                continue
            points.append((z, *(joint.centres[-1] + [y0, x0]), joint.radii[-1]))
        if len(points) < 3:
            continue
        points = np.array(points)
        kept += 1
        line_y = _line(points[:, 0], points[:, 1], points[:, 0])
        line_x = _line(points[:, 0], points[:, 2], points[:, 0])
        rows += [
            {"fiber_id": next_id + k, "z": z, "y": y, "x": x, "radius": r}
            for (z, _, _, r), y, x in zip(points, line_y, line_x, strict=True)
        ]
    out = pd.concat([table, pd.DataFrame(rows)], ignore_index=True) if rows else table
    return out, {"ell": ell, "tests": tests, "bound": bound, "chains": kept, "rows": len(rows)}


def _case(spec: str) -> tuple:
    """(volume, truth, table, pixel size, radius in pixels, scoring keywords) of a case."""
    kind, *rest = spec.split(":")
    if kind == "broken":
        noise, seed = float(rest[0]), int(rest[1])
        volume, truth = broken_fiber_bed((32, 96, 96), 2.0, ends=0.4, noise=noise, seed=seed)
        spacing, margin = 1.0, 2.0
    else:
        radius_px, noise, tilt, seed = int(rest[0]), float(rest[1]), float(rest[2]), int(rest[3])
        volume, truth, spacing, _ = sweep_case(kind, radius_px, noise, tilt, seed)
        margin = float(radius_px) if kind == "other" else 6.4
    estimate = estimate_fiber_radius(volume)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = detect_fibers(volume, radius=estimate)
    return volume, truth, table, spacing, estimate / spacing, {"like": volume, "margin": margin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "cases", nargs="+", help="PHANTOM:RADIUS:NOISE:TILT:SEED or broken:NOISE:SEED"
    )
    parser.add_argument(
        "--negative-null", action="store_true", help="chains must beat the negated residual's"
    )
    args = parser.parse_args()
    for spec in args.cases:
        volume, truth, table, spacing, radius, scoring = _case(spec)
        dz = float(volume["z"][1] - volume["z"][0])
        pixels = table.copy()
        pixels["z"] = pixels["z"] / dz
        pixels[["y", "x", "radius"]] = pixels[["y", "x", "radius"]] / spacing
        start = time.process_time()
        peeled, info = peel(volume, pixels, radius, args.negative_null)
        cpu = time.process_time() - start
        peeled["z"] = peeled["z"] * dz
        peeled[["y", "x", "radius"]] = peeled[["y", "x", "radius"]] * spacing
        before = object_metrics(table, truth, **scoring)
        after = object_metrics(peeled, truth, **scoring)
        print(
            f"{spec}: F1 {before['f1']:.4f} -> {after['f1']:.4f} (tp {before['tp']} -> "
            f"{after['tp']}, fp {before['fp']} -> {after['fp']}), chains {info['chains']}, "
            f"rows {info['rows']}, bound z {info['bound']:.2f}, ell {info['ell']:.1f}, "
            f"CPU {cpu:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
