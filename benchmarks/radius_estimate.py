"""The fiber radius estimate: its error on phantoms, its cost on a stored scan.

Run ``python benchmarks/radius_estimate.py`` (``--quick`` for one condition per radius).

* The sweep: fiber beds (``xarray_microct.synthetic.fiber_bed``, radius 6.4 ± 0.9 µm,
  the voxel size chosen so that the radius is 2, 3, 5, 8, 12 or 20 voxels, 32 slices of
  20 radii across) with noise 0.05–0.25, tilts 0–15° and three backgrounds (the default
  matrix/pore patchwork, matrix only, pores only); per case the true mean radius (of the
  per-slice rows of the truth), :func:`estimate_fiber_radius`'s estimate and its error,
  and the seconds it took. ``--correlated S`` blurs the sweep's noise in-plane by ``S``
  pixels (its standard deviation kept), as reconstructed scans' noise is correlated
  between neighbouring pixels. ``--phantom other`` (or ``both``) runs the same radii and
  conditions on ``xarray_microct.synthetic.textured_fiber_bed`` (the phantom the library
  was not developed on: blur of 1 voxel, a background textured at the fibers' scale; the
  background column reads ``textured``).
* Shapes: the same bed chunked differently (the estimate must not change), cropped
  off-centre, and not square (y ≠ x).
* Volumes without fibers (noise, pores only, a constant): the estimate must raise
  ``NoFibersError``.
* ``--ends SHARE``: beds whose fibers end inside the volume
  (``xarray_microct.synthetic.broken_fiber_bed``: that share of the fibers ends or
  begins at a random slice; 64 slices of 48 radii across, noise 0.1 and 0.2), per
  radius and seed: the estimate's error against the mean radius of the sections.
* ``--store PATH``: the wall time of the estimate on a stored scan (``open_volume``;
  e.g. a ``benchmarks/whole_scan.py`` bed), each of ``--repeat`` runs (the first pays
  for the first read of the store), and with ``--profile`` the functions where the time
  went. ``--whole-scan-seed`` (the store is ``whole_scan.py``'s bed of that seed) prints
  its true mean radius, and times :func:`refine_disk_radii` on its middle slice at the
  true centres.

``--baseline SRC`` loads ``xarray_microct/ops/fiber_scale`` of another source tree
(e.g. a checkout of the previous version) beside this one and runs every case with both,
in the same run: a before/after on a machine whose load changes from minute to minute.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import pstats
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import scipy.ndimage as ndi

import xarray_microct as mct
from xarray_microct.ops import fiber_scale
from xarray_microct.synthetic import broken_fiber_bed, fiber_bed, textured_fiber_bed

RADIUS = 6.4  # µm
RADII_VOXELS = (2, 3, 5, 8, 12, 20)
CONDITIONS = ((0.05, 0.0), (0.15, 8.0), (0.25, 15.0))  # (noise, tilt in degrees)
BACKGROUNDS = {"patchwork": 0.6, "matrix": 1.0, "pores": 0.0}  # infiltration


def load_baseline(source: str) -> ModuleType:
    """The ``fiber_scale`` module (a package since 2026-12-03) of another source tree,
    loaded beside this one."""
    ops = Path(source) / "xarray_microct" / "ops"
    path = ops / "fiber_scale.py"
    if path.is_file():  # a tree from before the package: one module, under another name
        spec = importlib.util.spec_from_file_location("baseline_fiber_scale", path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"no fiber_scale module at {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    package = ops / "fiber_scale"
    if not (package / "__init__.py").is_file():
        raise SystemExit(f"no fiber_scale module or package in {ops}")
    # the package's parts import one another by their absolute names: the other tree's
    # are loaded under those names (so that they find one another), then this tree's are
    # put back; the other tree's functions keep their own parts
    name = "xarray_microct.ops.fiber_scale"
    ours = {key: m for key, m in sys.modules.items() if key.split(".")[:3] == name.split(".")}
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no fiber_scale package at {package}")
    module = importlib.util.module_from_spec(spec)
    for key in ours:
        del sys.modules[key]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        for key in [key for key in sys.modules if key.split(".")[:3] == name.split(".")]:
            del sys.modules[key]
        sys.modules.update(ours)
    return module


def timed(estimate: Callable, volume) -> tuple[float, float]:
    """(estimate, seconds); NaN for a volume where the estimate found no fibers."""
    start = time.perf_counter()
    try:
        value = estimate(volume)
    except ValueError:  # NoFibersError, of this module or of the baseline's
        value = np.nan
    return value, time.perf_counter() - start


def bed(
    radius_px: float,
    noise: float,
    tilt: float,
    infiltration: float,
    seed: int,
    correlated: float = 0.0,
    **kw,
):
    """The sweep's bed; with ``correlated`` > 0 its noise is blurred in-plane by that many
    pixels and scaled back to its standard deviation (reconstructed scans' noise is
    correlated between neighbouring pixels)."""
    size = max(64, 20 * radius_px)
    shape = kw.pop("shape", (32, size, size))

    def make(level: float):
        return fiber_bed(
            shape,
            spacing=RADIUS / radius_px,
            radius=RADIUS,
            radius_sd=0.9,
            noise=level,
            tilt=tilt,
            infiltration=infiltration,
            seed=seed,
            **kw,
        )

    volume, truth = make(noise)
    if correlated > 0 and noise > 0:
        clean = make(0.0)[0]
        white = volume.values.astype(np.float64) - clean.values.astype(np.float64)
        blurred = ndi.gaussian_filter(white, (0, correlated, correlated))
        blurred *= white.std() / blurred.std()
        limit = np.iinfo(clean.dtype).max if clean.dtype.kind in "ui" else np.inf
        data = np.clip(clean.values + blurred, 0, limit).astype(clean.dtype)
        volume = clean.copy(data=data)
    return volume, truth


def sweep(
    estimators: dict[str, Callable],
    conditions,
    backgrounds,
    seeds,
    radii=RADII_VOXELS,
    correlated: float = 0.0,
) -> pd.DataFrame:
    rows = []
    names = list(estimators)
    header = f"{'R_px':>4} {'noise':>5} {'tilt':>4} {'background':>10} {'seed':>4} {'true':>6}"
    for name in names:
        header += f" {name + ' est':>10} {'err%':>6} {'s':>5}"
    print(header, flush=True)
    for radius_px in radii:
        for noise, tilt in conditions:
            for background in backgrounds:
                for seed in seeds:
                    if background == "textured":
                        size = int(max(64, 20 * radius_px))
                        volume, centres = textured_fiber_bed(
                            (32, size, size), radius_px, noise, tilt, seed
                        )
                        spacing, true_px = 1.0, centres["radius"].mean()
                    else:
                        volume, truth = bed(
                            radius_px, noise, tilt, BACKGROUNDS[background], seed, correlated
                        )
                        spacing = RADIUS / radius_px
                        true_px = truth.centres["radius"].mean() / spacing
                    row = {
                        "R_px": radius_px,
                        "noise": noise,
                        "tilt": tilt,
                        "background": background,
                        "seed": seed,
                        "true_px": true_px,
                    }
                    line = (
                        f"{radius_px:>4} {noise:>5.2f} {tilt:>4.0f} {background:>10} "
                        f"{seed:>4} {true_px:>6.2f}"
                    )
                    for name in names:
                        value, seconds = timed(estimators[name], volume)
                        err = 100 * (value / spacing / true_px - 1)
                        row[f"{name}_px"] = value / spacing
                        row[f"{name}_err%"] = err
                        row[f"{name}_s"] = seconds
                        line += f" {value / spacing:>10.3f} {err:>+6.2f} {seconds:>5.2f}"
                    rows.append(row)
                    print(line, flush=True)
    frame = pd.DataFrame(rows)
    for name in names:
        err = frame[f"{name}_err%"]
        print(
            f"{name}: worst |error| {err.abs().max():.2f} %, mean error {err.mean():+.2f} %, "
            f"mean |error| {err.abs().mean():.2f} %, cases over 2 % {(err.abs() > 2).sum()} "
            f"of {len(err)}, no estimate (NoFibersError) {err.isna().sum()}, "
            f"slowest {frame[f'{name}_s'].max():.2f} s, median {frame[f'{name}_s'].median():.2f} s"
        )
    for name in names:
        by_radius = frame.groupby("R_px")[f"{name}_err%"].agg(
            mean="mean",
            min="min",
            max="max",
            mean_abs=lambda e: e.abs().mean(),
            over_2=lambda e: int((e.abs() > 2).sum()),
            none=lambda e: int(e.isna().sum()),
        )
        print(f"\n{name}: error % by radius\n{by_radius.round(2).to_string()}")
    return frame


def fiber_ends(estimators: dict[str, Callable], share: float, radii, seeds) -> None:
    """Beds whose fibers end inside: a ``share`` of them ends or begins at a random slice."""
    print(f"\nfibers ending inside ({share:.0%} of them; 64 slices, 48 radii across):")
    errors: dict[str, list[float]] = {name: [] for name in estimators}
    for radius_px in radii:
        for noise in (0.1, 0.2):
            for seed in seeds:
                size = 48 * radius_px
                volume, centres = broken_fiber_bed((64, size, size), radius_px, share, noise, seed)
                true = centres["radius"].mean()
                line = f"  R {radius_px} px, noise {noise:.2f}, seed {seed}, true {true:.3f}:"
                for name, estimate in estimators.items():
                    value, seconds = timed(estimate, volume)
                    errors[name].append(100 * (value / true - 1))
                    line += f" {name} {value:.3f} ({errors[name][-1]:+.2f} %, {seconds:.2f} s)"
                print(line, flush=True)
    for name, values in errors.items():
        worst = np.abs(values).max()
        print(f"  {name}: worst |error| {worst:.2f} %, mean error {np.mean(values):+.2f} %")


def shapes(estimators: dict[str, Callable]) -> None:
    """Chunked differently, cropped off-centre, not square: the estimate's error."""
    print("\nshapes (R = 5 voxels, noise 0.15, tilt 8°):")
    volume, truth = bed(5, 0.15, 8.0, 0.6, 3, shape=(24, 160, 160))
    spacing = RADIUS / 5
    true_mean = truth.centres["radius"].mean()
    wide, wide_truth = bed(5, 0.15, 8.0, 0.6, 4, shape=(24, 64, 288))
    cases = {
        "reference": (volume, true_mean),
        "chunked 7×45×61": (volume.chunk({"z": 7, "y": 45, "x": 61}), true_mean),
        "cropped z5: y13: x27:": (
            volume.isel(z=slice(5, None), y=slice(13, None), x=slice(27, None)),
            true_mean,
        ),
        "not square 64×288": (wide, wide_truth.centres["radius"].mean()),
    }
    for label, (vol, true) in cases.items():
        line = f"  {label:>22}:"
        for name, estimate in estimators.items():
            value, seconds = timed(estimate, vol)
            line += (
                f" {name} {value / spacing:.3f} px ({100 * (value / true - 1):+.2f} %, "
                f"{seconds:.2f} s)"
            )
        print(line, flush=True)


def without_fibers(estimators: dict[str, Callable]) -> None:
    """Volumes without fibers: each estimator should raise NoFibersError."""
    rng = np.random.default_rng(0)
    shape = (16, 128, 128)
    noise = rng.normal(20000, 3000, shape).clip(0, 65535).astype(np.uint16)
    # matrix and pores (the fiber bed's levels), blurred, noisy: no fibers
    field = ndi.gaussian_filter(rng.standard_normal(shape), (3, 6, 6))
    matrix = np.where(field > np.quantile(field, 0.4), 0.45, 0.1)
    image = ndi.gaussian_filter(matrix, 0.7) + rng.normal(0, 0.08, shape)
    pores = (8000 + 32000 * image).clip(0, 65535).astype(np.uint16)
    cases = {
        "noise": noise,
        "pores only": pores,
        "constant": np.full(shape, 30000, np.uint16),
    }
    print("\nvolumes without fibers (want NoFibersError):")
    for label, array in cases.items():
        vol = mct.from_array(array, spacing=1.3, units="micrometer")
        line = f"  {label:>10}:"
        for name, estimate in estimators.items():
            try:
                value = estimate(vol)
                line += f" {name} returned {value:.3f} (no error)"
            except ValueError as err:
                line += f" {name} {type(err).__name__}: {str(err)[:70]}"
        print(line, flush=True)


def on_store(
    estimators: dict[str, Callable],
    modules: dict[str, ModuleType],
    path: str,
    repeat: int,
    profile: bool,
    seed: int | None,
) -> None:
    volume = mct.open_volume(path)
    print(f"\n{path}: {dict(volume.sizes)}, chunks {volume.data.chunksize}")
    if seed is not None:  # a bed of benchmarks/whole_scan.py: its true fibers
        from whole_scan import fiber_axes, truth_centres

        middle = np.array([volume.shape[0] // 2])
        rows = truth_centres(fiber_axes(volume.shape, seed), volume.shape, middle)
        print(f"  true mean radius of the {len(rows)} fibers: {rows['radius'].mean():.4f}")
        # refine_disk_radii on the whole middle slice, at the true centres and radii
        spacing = float(volume.x[1] - volume.x[0])
        image = volume.isel(z=int(middle[0])).values.astype(np.float64)
        centres = rows[["y", "x"]].to_numpy() / spacing
        for name, module in modules.items():
            start = time.perf_counter()
            radii = module.refine_disk_radii(
                image, centres, rows["radius"].to_numpy() / spacing, (spacing, spacing)
            )
            seconds = time.perf_counter() - start
            whole = ((centres > 20) & (centres < np.array(image.shape) - 20)).all(axis=1)
            error = 100 * (radii[whole].mean() / rows["radius"].to_numpy()[whole].mean() - 1)
            print(
                f"  {name}: refine_disk_radii of {len(rows)} fibers on a "
                f"{image.shape[0]}×{image.shape[1]} slice in {seconds:.2f} s "
                f"(inner fibers' mean {error:+.2f} %)"
            )
    for _ in range(repeat):  # interleaved: both see the same load
        for name, estimate in estimators.items():
            value, seconds = timed(estimate, volume)
            print(f"  {name}: {value:.4f} {volume.x.attrs.get('units', '')} in {seconds:.2f} s")
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(estimators["this"], volume)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
        print(text.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one condition per radius")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument(
        "--radii", type=int, nargs="+", default=list(RADII_VOXELS), help="radii (voxels) to run"
    )
    parser.add_argument("--baseline", help="another source tree to compare with")
    parser.add_argument("--store", help="a stored scan to time the estimate on")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--whole-scan-seed", type=int, help="the --store is whole_scan.py's bed of this seed"
    )
    parser.add_argument(
        "--only", choices=["sweep", "shapes", "none", "store", "ends"], default=None
    )
    parser.add_argument(
        "--ends", type=float, default=0.0, help="also beds where this share of fibers ends inside"
    )
    parser.add_argument(
        "--correlated",
        type=float,
        default=0.0,
        help="the sweep's noise blurred in-plane by this many pixels (its std kept)",
    )
    parser.add_argument(
        "--phantom",
        choices=["fiber_bed", "other", "both"],
        default="fiber_bed",
        help="the sweep's fiber_bed (three backgrounds), textured_fiber_bed, or both",
    )
    args = parser.parse_args()
    modules = {"this": fiber_scale}
    if args.baseline:
        modules["baseline"] = load_baseline(args.baseline)
    estimators = {name: module.estimate_fiber_radius for name, module in modules.items()}
    warnings.simplefilter("ignore")
    if args.store and args.only in (None, "store"):
        on_store(estimators, modules, args.store, args.repeat, args.profile, args.whole_scan_seed)
    if args.only in (None, "shapes"):
        shapes(estimators)
    if args.only in (None, "none"):
        without_fibers(estimators)
    if args.ends > 0 and args.only in (None, "ends"):
        fiber_ends(estimators, args.ends, args.radii, args.seeds)
    if args.only in (None, "sweep"):
        conditions = CONDITIONS[1:2] if args.quick else CONDITIONS
        backgrounds = ["patchwork"] if args.quick else list(BACKGROUNDS)
        if args.phantom == "other":
            backgrounds = ["textured"]
        elif args.phantom == "both":
            backgrounds.append("textured")
        sweep(estimators, conditions, backgrounds, args.seeds, args.radii, args.correlated)


if __name__ == "__main__":
    main()
