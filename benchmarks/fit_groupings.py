"""The sample's fit of blurred disks image by image, for several groupings of its runs.

Run ``python benchmarks/fit_groupings.py --phantom other --radius 2 --noise 0.15
--tilt 0 --seeds 1 2 3``. For each seed it builds the case as
``benchmarks/fiber_scale.py`` does, runs :func:`measure_fiber_bed` to find the
estimate's own runs, bed drift, groups and seed radius (the rounds' radius the fit
starts from), and then fits, in order (no thread pool, so the lines follow the images),
the aligned means (:func:`_aligned_means`) of the groupings: main's (``main``), each run
alone (``each``), runs in pairs (``pairs``) and all runs together (``all``). Per image it
prints the robust mean radius of its whole sections over the bed's true mean radius
(per cent), the fitted blur and fiber level, and per grouping the pooled estimate
(:func:`_robust_mean` of all its images' sections, as ``_fitted_radius``). The
measurements are in :mod:`xarray_microct.ops.fiber_scale.disks`' lab book (issue 13).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import warnings

import numpy as np

# the sample's part: where measure_fiber_bed looks up the helpers patched below
import xarray_microct.ops.fiber_scale.sample as fs

_spec = importlib.util.spec_from_file_location(
    "fiber_scale_bench", pathlib.Path(__file__).with_name("fiber_scale.py")
)
scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale)


def recorded_sample(volume) -> dict:
    """What :func:`measure_fiber_bed` used for its fit: runs, drift, groups, seed."""
    seen: dict = {}
    run_groups, aligned_means, fitted_radius = (
        fs._run_groups,
        fs._aligned_means,
        fs._fitted_radius,
    )

    def groups(runs, own):
        seen.update(runs=runs, own=own)
        seen["groups"] = run_groups(runs, own)
        return seen["groups"]

    def means(stack, runs, drift, grouped):
        seen.update(stack=stack, drift=drift)
        return aligned_means(stack, runs, drift, grouped)

    def radius(native, pixel, measured, *args, **kwargs):
        seen.update(measured=measured, pixel=pixel)
        return fitted_radius(native, pixel, measured, *args, **kwargs)

    fs._run_groups, fs._aligned_means, fs._fitted_radius = groups, means, radius
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seen["bed"] = fs.measure_fiber_bed(volume)
    finally:
        fs._run_groups, fs._aligned_means, fs._fitted_radius = (
            run_groups,
            aligned_means,
            fitted_radius,
        )
    return seen


def fit_grouping(seen: dict, grouping: list[list[int]], true_px: float) -> tuple[float, list]:
    """(pooled estimate in per cent, per image (per cent, blur, level, sections))."""
    images, _, _ = fs._aligned_means(seen["stack"], seen["runs"], seen["drift"], grouping)
    px = seen["measured"] / seen["pixel"]
    noise = fs._slice_noise(seen["stack"])
    pooled, rows = [], []
    for image in images:
        start = fs._disk_seeds(image, px)
        whole = fs._whole_in_image(start, image.shape, px)
        fit = fs.fit_blurred_disks(
            image, start, np.full(len(start), px), fs.SAMPLE_FIT_ROUNDS, noise
        )
        radii = fit.radii[whole]
        pooled.append(radii)
        mean = fs._robust_mean(radii, np.ones(radii.size))
        rows.append((100 * (mean / true_px - 1), fit.blur, fit.fiber_level, radii.size))
    radii = np.concatenate(pooled)
    return 100 * (fs._robust_mean(radii, np.ones(radii.size)) / true_px - 1), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantom", choices=("fiber_bed", "other"), default="other")
    parser.add_argument("--radius", type=int, default=2)
    parser.add_argument("--noise", type=float, default=0.15)
    parser.add_argument("--tilt", type=float, default=0.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    for seed in args.seeds:
        volume, centres, spacing, _ = scale.sweep_case(
            args.phantom, args.radius, args.noise, args.tilt, seed
        )
        true_px = centres["radius"].mean() / spacing
        seen = recorded_sample(volume)
        n = len(seen["runs"])
        print(
            f"seed {seed}: groups {seen['groups']} (own drift {seen['own']:.4f} px/slice), "
            f"seed radius {seen['measured'] / seen['pixel']:.3f} px, "
            f"true {true_px:.3f} px",
            flush=True,
        )
        groupings = {
            "main": seen["groups"],
            "each": [[i] for i in range(n)],
            "pairs": [list(range(i, min(i + 2, n))) for i in range(0, n, 2)],
            "all": [list(range(n))],
        }
        for name, grouping in groupings.items():
            pooled, rows = fit_grouping(seen, grouping, true_px)
            images = " | ".join(
                f"{g}: {e:+.2f}% blur {b:.3f} level {f:.3f} n {k}"
                for g, (e, b, f, k) in zip(grouping, rows, strict=False)
            )
            print(f"  {name:>5} {pooled:+6.2f}%  {images}", flush=True)


if __name__ == "__main__":
    main()
