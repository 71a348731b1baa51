"""Fibers under uneven brightness: the fiber table's F1 and radius with default parameters.

Run ``python benchmarks/fiber_uneven.py`` (``--radii 2.5 6 --seeds 1 2 --phantom both``).
Each case is a phantom of ``benchmarks/fiber_scale.py`` (``fiber_bed``, or ``other``:
``textured_fiber_bed``), 16 slices of 256² pixels, with the fibers' radius given in
pixels, under one of the trends a scan shows:

* ``flat``: as drawn;
* ``add c``: brighter towards the field's edge by c × R² × the span from the 5th to the
  99th percentile (R: the distance from the centre over the half-width, at most 1.2),
  as beam hardening makes a scan (cupping);
* ``mul c``: scaled by 1 − c (1 − R²), the centre darker, the contrast too;
* ``ramp c``: scaled by 1 − c/2 + c · x / width, a gradient across the field.

``detect_fibers(volume)`` runs with its defaults (the radius estimated) and prints per
case the object F1 (per-slice matching within half a radius, a border band of one
radius ignored) and the mean radius error of the matched sections farther than 2.5
radii from the sides (``rad%``), overall and for the sections with R < 0.4, 0.4–0.8 and
over 0.8 (centre → edge). The flat case of each phantom and seed is the reference: a
trend's error is what it adds.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import pathlib
import warnings

import numpy as np
import pandas as pd
from _measure import matched_radii

from xarray_microct.metrics import object_metrics
from xarray_microct.ops.fibers import detect_fibers

_spec = importlib.util.spec_from_file_location(
    "fiber_scale_bench", pathlib.Path(__file__).with_name("fiber_scale.py")
)
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)

TRENDS = ("flat", "add 0.15", "add 0.3", "mul 0.3", "mul 0.5", "ramp 0.3")
BANDS = (0.0, 0.4, 0.8, 2.0)  # R: centre, middle, edge


def reach(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(R, x / width) of a slice's pixels: R the distance from the centre over the
    half-width, at most 1.2."""
    ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx].astype(np.float64)
    r = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2) / (min(ny, nx) / 2)
    return np.minimum(r, 1.2), xx / (nx - 1)


def with_trend(values: np.ndarray, trend: str) -> np.ndarray:
    """``values`` (z, y, x) under ``trend`` (see the module docstring), as float32.

    Examples
    --------
    >>> v = np.ones((1, 5, 5), np.float32)
    >>> float(with_trend(v, "mul 0.5")[0, 2, 2]), float(with_trend(v, "flat")[0, 0, 0])
    (0.5, 1.0)
    """
    kind, _, amount = trend.partition(" ")
    out = values.astype(np.float32)
    if kind == "flat":
        return out
    c = float(amount)
    r, x = reach(values.shape[1:])
    if kind == "add":
        low, high = np.percentile(values, [5, 99])
        return out + np.float32(c * (high - low)) * (r**2).astype(np.float32)
    if kind == "mul":
        return out * (1 - c * (1 - r**2)).astype(np.float32)
    if kind == "ramp":
        return out * (1 - c / 2 + c * x).astype(np.float32)
    raise ValueError(f"unknown trend {trend!r}; use one of {TRENDS}")


def run_case(phantom: str, radius_px: float, trend: str, seed: int, noise: float) -> dict:
    volume, centres, spacing, size = scale.sweep_case(
        phantom, radius_px, noise, 0.0, seed, slices=16, side=256
    )
    volume = volume.copy(data=with_trend(volume.values, trend))
    true_r = centres["radius"].mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = detect_fibers(volume)
    row = {"phantom": phantom, "R": radius_px, "trend": trend, "seed": seed}
    row["F1"] = object_metrics(table, centres, like=volume, margin=true_r)["f1"]
    extent = size * spacing
    found, truth = matched_radii(table, centres, "radius", extent, 2.5 * true_r, 0.5 * true_r)
    row["rad%"] = 100 * (np.mean(found / truth) - 1) if found.size else np.nan
    # by band: the detections matched with the band's true sections alone (sections of
    # other fibers lie over a radius away, beyond the matching's half radius)
    for lo, hi in itertools.pairwise(BANDS):
        band = centres[_in_band(centres, size, spacing, lo, hi)]
        found, truth = matched_radii(table, band, "radius", extent, 2.5 * true_r, 0.5 * true_r)
        row[f"R<{hi:g}" if lo == 0 else f"R{lo:g}-{hi:g}"] = (
            100 * (np.mean(found / truth) - 1) if found.size else np.nan
        )
    return row


def _in_band(centres: pd.DataFrame, size: int, spacing: float, lo: float, hi: float) -> np.ndarray:
    """Which true sections lie at R in [lo, hi) (R of the pixel grid of ``size``)."""
    middle = (size - 1) / 2 * spacing
    r = np.hypot(centres["y"] - middle, centres["x"] - middle) / (size / 2 * spacing)
    return ((r >= lo) & (r < hi)).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radii", type=float, nargs="+", default=[2.5, 6.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--phantom", choices=("fiber_bed", "other", "both"), default="both")
    parser.add_argument("--trends", nargs="+", default=list(TRENDS))
    parser.add_argument("--noise", type=float, default=0.05)
    args = parser.parse_args()
    phantoms = ("fiber_bed", "other") if args.phantom == "both" else (args.phantom,)
    rows = []
    for phantom in phantoms:
        for radius_px in args.radii:
            for seed in args.seeds:
                for trend in args.trends:
                    rows.append(run_case(phantom, radius_px, trend, seed, args.noise))
                    print(
                        pd.DataFrame(rows[-1:]).to_string(
                            header=len(rows) == 1, index=False, float_format="%.3f"
                        )
                    )
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
