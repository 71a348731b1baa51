"""How the radius estimate under 4 pixels depends on the rounds of its fit of blurred disks.

Run ``python benchmarks/fit_rounds.py --radii 2 3 --seeds 1 2 --rounds 10 20 40 100``.

:func:`~xarray_microct.ops.fiber_scale.estimate_fiber_radius` measures fibers under 4
pixels of radius with :func:`~xarray_microct.ops.fiber_scale.fit_blurred_disks`, run
``SAMPLE_FIT_ROUNDS`` rounds. This benchmark runs the estimate once per case, keeps the
images, seeds and noise correlation its fit was given, and fits them again for each
count of ``--rounds``; the estimate at that count is the robust mean of the whole
sections' radii times the estimate's own factor (pixel size and tilt correction, the
estimate over the robust mean at ``SAMPLE_FIT_ROUNDS``), so the rest of the estimate is
the same for every count. A fit that converges gives the same error from some count on;
one tuned by its cap does not.

Cases, per radius and seed (as the other benchmarks build them):

* ``bed``: ``benchmarks/radius_estimate.py``'s sweep (three conditions of noise and tilt,
  three backgrounds);
* ``tex``: ``xarray_microct.synthetic.textured_fiber_bed`` (blur 1 pixel, textured
  background; ``benchmarks/fiber_scale.py``'s ``other_bed``), the three conditions;
* ``ends``: ``broken_fiber_bed`` with 20 % of the fibers ending inside (noise 0.1, 0.2;
  ``radius_estimate.py --ends 0.2``);
* ``corr``: the sweep's bed on a matrix with noise correlated over 1 pixel
  (``radius_estimate.py --correlated 1``).

``--blur`` sets ``fiber_bed``'s blur (pixels) in the ``bed`` and ``corr`` cases;
``--radii`` takes fractional radii (1.8, 2.5, 3.5).

Per case the error (%) at each count, then per count: mean, mean absolute error, worst,
cases outside ±2 % and the fits' CPU seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import time
import warnings

import numpy as np

from xarray_microct.ops.fiber_scale import disks, sample
from xarray_microct.synthetic import broken_fiber_bed, textured_fiber_bed

_spec = importlib.util.spec_from_file_location(
    "radius_estimate_bench", pathlib.Path(__file__).with_name("radius_estimate.py")
)
sweep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep)

KINDS = ("bed", "tex", "ends", "corr")


def captured(volume, spacing: float) -> tuple[float, list[tuple]]:
    """(the estimate in pixels, the arguments of each fit it ran); no fits where the
    estimate fell back on the intensity measure (the fit could not run)."""
    calls: list[tuple] = []
    fit = sample.fit_blurred_disks  # looked up there by the sample's fit (_fitted_radius)

    def spy(image, centres, radii, rounds=disks.FIT_ROUNDS, noise_correlation=None):
        calls.append((np.array(image), np.array(centres), np.array(radii), noise_correlation))
        return fit(image, centres, radii, rounds, noise_correlation)

    sample.fit_blurred_disks = spy
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimate = sample.estimate_fiber_radius(volume) / spacing
    finally:
        sample.fit_blurred_disks = fit
    if any("could not run" in str(w.message) for w in caught):
        return estimate, []
    return estimate, calls


def fitted_mean(calls: list[tuple], rounds: int) -> float:
    """The robust mean radius (pixels) of the whole sections, each fit run ``rounds``."""
    radii = []
    for image, start, seeded, correlation in calls:
        whole = sample._whole_in_image(start, image.shape, float(seeded[0]))
        fit = disks.fit_blurred_disks(image, start, seeded, rounds, correlation)
        radii.append(fit.radii[whole])
    pooled = np.concatenate(radii)
    return sample._robust_mean(pooled, np.ones(pooled.size))


def cases(radii, seeds, kinds, blur=None):
    """(name, volume, true radius in pixels, pixel size) of each case; ``blur`` (pixels)
    replaces ``fiber_bed``'s 0.7 in the ``bed`` and ``corr`` cases."""
    extra = {} if blur is None else {"blur": blur}
    for seed in seeds:
        for radius in radii:
            if "bed" in kinds:
                for noise, tilt in sweep.CONDITIONS:
                    for background, infiltration in sweep.BACKGROUNDS.items():
                        volume, truth = sweep.bed(radius, noise, tilt, infiltration, seed, **extra)
                        spacing = sweep.RADIUS / radius
                        true = truth.centres["radius"].mean() / spacing
                        name = f"bed {radius} {noise:.2f} {tilt:>2.0f} {background}"
                        yield f"{name} s{seed}", volume, true, spacing
            if "tex" in kinds:
                for noise, tilt in sweep.CONDITIONS:
                    size = int(max(64, 20 * radius))
                    shape = (32, size, size)
                    volume, centres = textured_fiber_bed(shape, radius, noise, tilt, seed)
                    name = f"tex {radius} {noise:.2f} {tilt:>2.0f}"
                    yield f"{name} s{seed}", volume, centres["radius"].mean(), 1.0
            if "ends" in kinds:
                for noise in (0.1, 0.2):
                    size = int(48 * radius)
                    volume, centres = broken_fiber_bed((64, size, size), radius, 0.2, noise, seed)
                    name = f"ends {radius} {noise:.2f}"
                    yield f"{name} s{seed}", volume, centres["radius"].mean(), 1.0
            if "corr" in kinds:
                for noise, tilt in sweep.CONDITIONS:
                    volume, truth = sweep.bed(radius, noise, tilt, 1.0, seed, 1.0, **extra)
                    spacing = sweep.RADIUS / radius
                    true = truth.centres["radius"].mean() / spacing
                    name = f"corr {radius} {noise:.2f} {tilt:>2.0f} matrix"
                    yield f"{name} s{seed}", volume, true, spacing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--radii", type=float, nargs="+", default=[2, 3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--rounds", type=int, nargs="+", default=[10, 20, 40, 100])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--blur", type=float, help="fiber_bed's blur (pixels; default 0.7)")
    args = parser.parse_args()
    radii = [int(r) if float(r).is_integer() else r for r in args.radii]
    errors: dict[int, list[float]] = {r: [] for r in args.rounds}
    seconds = dict.fromkeys(args.rounds, 0.0)
    print(f"{'case':<34}" + "".join(f"{r:>8}" for r in args.rounds), flush=True)
    for name, volume, true, spacing in cases(radii, args.seeds, args.kinds, args.blur):
        try:
            estimate, calls = captured(volume, spacing)
        except ValueError as error:  # NoFibersError: no bed the estimate can measure
            print(f"{name:<34} (no estimate: {str(error)[:60]})", flush=True)
            continue
        if not calls:
            print(f"{name:<34} (no fit ran, or the estimate fell back)", flush=True)
            continue
        factor = estimate / fitted_mean(calls, sample.SAMPLE_FIT_ROUNDS)
        line = f"{name:<34}"
        for rounds in args.rounds:
            start = time.process_time()
            value = factor * fitted_mean(calls, rounds)
            seconds[rounds] += time.process_time() - start
            errors[rounds].append(100 * (value / true - 1))
            line += f"{errors[rounds][-1]:>+8.2f}"
        print(line, flush=True)
    for rounds, values in errors.items():
        err = np.array(values)
        if not err.size:
            continue
        worst = err[np.argmax(np.abs(err))]
        print(
            f"{rounds:>4} rounds: mean {err.mean():+.2f} %, mean absolute error "
            f"{np.abs(err).mean():.2f} %, worst {worst:+.2f} %, outside ±2 % "
            f"{int(np.sum(np.abs(err) > 2))} of {err.size}, fits {seconds[rounds]:.1f} CPU s"
        )


if __name__ == "__main__":
    main()
