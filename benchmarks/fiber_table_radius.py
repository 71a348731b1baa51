"""The fiber table's per-slice radius and F1, at the true radius and at the estimate.

Run ``python benchmarks/fiber_table_radius.py --radii 2 3 --seeds 1 2 3`` (``--estimate``
also detects at :func:`estimate_fiber_radius`'s estimate, given as the radius;
``--default`` also detects with the default parameters, ``radius=None``, where the
detection estimates the radius itself: from 9 pixels up only that detection is
calibrated, its scan sampled by the estimate). For each phantom
(``fiber_bed`` and ``textured_fiber_bed``, as ``benchmarks/fiber_scale.py`` builds them),
radius, condition (noise, tilt: the three of ``fiber_scale.py``, or with ``--grid`` every
pair of ``--noise`` and ``--tilts``, the issue's whole sweep) and seed it runs
``detect_fibers(volume, radius=...)`` with the true mean radius given (and, with
``--estimate``, the estimate) and prints:

* ``F1``: the object F1 (per-slice matching within half a radius, a border band of one
  radius ignored);
* ``rad%``: the mean of the matched inner detections' table radius over their true
  radius, minus one (as ``benchmarks/fiber_scale.py``'s ``det%``);
* ``sec%``: the same over the radius of the disk with the true section's area (a fiber
  tilted by θ cuts a slice in an ellipse of area πr²/cos θ: +1.8 % at 15°), i.e. the
  error of the section measure itself.

To compare two trees on the same cases, run it twice with ``PYTHONPATH`` set to each.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import pathlib
import time
import warnings

import numpy as np

from xarray_microct.metrics import object_metrics
from xarray_microct.ops.fiber_scale import estimate_fiber_radius
from xarray_microct.ops.fiber_scale.sample import NoFibersError
from xarray_microct.ops.fibers import detect_fibers

_spec = importlib.util.spec_from_file_location(
    "fiber_scale_bench", pathlib.Path(__file__).with_name("fiber_scale.py")
)
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)


def middle_f1(table, centres, volume, margin: float, ends: int) -> float:
    """The object F1 on the slices of ``volume`` but ``ends`` at either end (the
    smoothing along z is one-sided there)."""
    z = volume["z"].values[ends : volume.sizes["z"] - ends]
    half = 0.5 * float(np.diff(volume["z"].values[:2])[0]) if len(z) > 1 else 0.5

    def inner(frame):
        return frame[(frame["z"] > z[0] - half) & (frame["z"] < z[-1] + half)]

    like = volume.isel(z=slice(ends, volume.sizes["z"] - ends))
    return object_metrics(inner(table), inner(centres), like=like, margin=margin)["f1"]


def measure(
    volume, centres, radius, spacing, size, tilt, ends: int = 0
) -> tuple[float, float, float, float]:
    """(F1, table radius error %, section radius error %, F1 without ``ends`` slices at
    either end — NaN for none) of a detection at ``radius`` (None: estimated by the
    detection)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = detect_fibers(volume, radius=radius)
    true_r = centres["radius"].mean()
    f1 = object_metrics(table, centres, like=volume, margin=true_r)["f1"]
    middle = middle_f1(table, centres, volume, true_r, ends) if ends else np.nan
    if not len(table):
        return f1, np.nan, np.nan, middle
    ratio = scale.radius_ratios(
        table, centres, "radius", size * spacing, 2.5 * true_r, 0.5 * true_r
    )
    error = 100 * (np.nanmean(ratio) - 1) if ratio.size else np.nan
    section = 100 * ((1 + error / 100) * np.sqrt(np.cos(np.radians(tilt))) - 1)
    return f1, error, section, middle


def run_case(
    phantom: str,
    radius_px: int,
    noise: float,
    tilt: float,
    seed: int,
    estimate: bool,
    default: bool = False,
    slices: int = 32,
    side: int | None = None,
    ends: int = 0,
):
    volume, centres, spacing, size = scale.sweep_case(
        phantom, radius_px, noise, tilt, seed, slices, side
    )
    true_r = centres["radius"].mean()
    row = {"phantom": phantom, "R": radius_px, "noise": noise, "tilt": tilt, "seed": seed}
    start = time.process_time()
    row["f1_t"], row["rad_t"], row["sec_t"], _ = measure(
        volume, centres, true_r, spacing, size, tilt
    )
    row["cpu_t"] = time.process_time() - start
    if estimate:
        try:
            guess = estimate_fiber_radius(volume)
        except NoFibersError as error:  # printed as nan, the reason after the row
            row["error"] = str(error)
            row["est%"] = row["f1_e"] = row["rad_e"] = row["sec_e"] = np.nan
        else:
            row["est%"] = 100 * (guess / true_r - 1)
            row["f1_e"], row["rad_e"], row["sec_e"], _ = measure(
                volume, centres, guess, spacing, size, tilt
            )
    if default:
        row["f1_d"], row["rad_d"], row["sec_d"], row["f1m_d"] = measure(
            volume, centres, None, spacing, size, tilt, ends
        )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radii", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--phantom", choices=("fiber_bed", "other", "both"), default="both")
    parser.add_argument("--estimate", action="store_true", help="also at the estimate")
    parser.add_argument(
        "--default", action="store_true", help="also with radius=None (estimated inside)"
    )
    parser.add_argument(
        "--grid",
        action="store_true",
        help="every pair of --noise and --tilts, not the three conditions of fiber_scale.py",
    )
    parser.add_argument("--noise", type=float, nargs="+", default=[0.05, 0.15, 0.25])
    parser.add_argument("--tilts", type=float, nargs="+", default=[0.0, 8.0, 15.0])
    parser.add_argument(
        "--slices", type=int, default=32, help="the phantoms' height (the sweep's: 32)"
    )
    parser.add_argument(
        "--side",
        type=int,
        default=None,
        help="the phantoms' side in pixels (the sweep's: 20 radii, at least 64)",
    )
    parser.add_argument(
        "--ends",
        type=int,
        default=0,
        help="with --default, also the F1 without this many slices at either end",
    )
    args = parser.parse_args()
    conditions = list(itertools.product(args.noise, args.tilts)) if args.grid else scale.CONDITIONS
    phantoms = ("fiber_bed", "other") if args.phantom == "both" else (args.phantom,)
    head = (
        f"{'phantom':>9} {'R':>2} {'noise':>5} {'tilt':>4} {'seed':>4} "
        f"{'F1@t':>6} {'rad%@t':>7} {'sec%@t':>7} {'cpu':>5}"
    )
    if args.estimate:
        head += f" {'est%':>6} {'F1@e':>6} {'rad%@e':>7} {'sec%@e':>7}"
    if args.default:
        head += f" {'F1@d':>6} {'rad%@d':>7}" + (f" {'F1mid@d':>7}" if args.ends else "")
    print(head, flush=True)
    for phantom, radius_px, (noise, tilt), seed in itertools.product(
        phantoms, args.radii, conditions, args.seeds
    ):
        r = run_case(
            phantom,
            radius_px,
            noise,
            tilt,
            seed,
            args.estimate,
            args.default,
            args.slices,
            args.side,
            args.ends,
        )
        line = (
            f"{phantom:>9} {radius_px:>2} {noise:>5.2f} {tilt:>4.0f} {seed:>4} "
            f"{r['f1_t']:>6.3f} {r['rad_t']:>+7.2f} {r['sec_t']:>+7.2f} {r['cpu_t']:>5.1f}"
        )
        if args.estimate:
            line += f" {r['est%']:>+6.1f} {r['f1_e']:>6.3f} {r['rad_e']:>+7.2f} {r['sec_e']:>+7.2f}"
        if args.default:
            line += f" {r['f1_d']:>6.3f} {r['rad_d']:>+7.2f}"
            line += f" {r['f1m_d']:>7.3f}" if args.ends else ""
        print(line, flush=True)
        if "error" in r:
            print(f"    estimate: {r['error']}", flush=True)


if __name__ == "__main__":
    main()
