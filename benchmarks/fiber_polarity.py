"""Bright or dark fibers: the polarity check of ``detect_fibers`` on phantoms of both.

Run ``python benchmarks/fiber_polarity.py`` (``--seeds 1 2 3``, ``--radii 2 3``). For
``fiber_bed`` and ``textured_fiber_bed`` (``benchmarks/fiber_scale.py``'s sweep: radii
2–20 voxels, noise 0.05 / 0.15 / 0.25 at tilts 0 / 8 / 15°, 12 slices), each bed and its
inverse (``vol.microct.invert()``: dark fibers), it prints
:func:`~xarray_microct.ops.fibers.polarity.sampled_polarity` (positive: bright fibers;
below ``DARK_FIBERS``: dark) and its CPU seconds, then the confusion table: bright beds
judged dark (false alarms) and dark beds judged dark (hits) per phantom and radius.
``--detect`` also runs ``detect_fibers`` on each dark bed (32 slices) and prints how many
fibers it returned and which warning it gave (``dark``: the polarity warning; ``none``:
the "no fibers" warning, which names ``invert()`` too; ``silent``: no warning).
``--others`` prints the measure on scans that are not fiber beds (noise, ``bead_pack``
and its inverse, ``fiber_bed`` with pores only or matrix only).
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np
from fiber_scale import RADII_VOXELS, sweep_case

from xarray_microct.core.volume import from_array
from xarray_microct.ops.fibers import detect_fibers
from xarray_microct.ops.fibers.polarity import DARK_FIBERS, sampled_polarity
from xarray_microct.synthetic import bead_pack, fiber_bed

CONDITIONS = ((0.05, 0.0), (0.15, 8.0), (0.25, 15.0))  # (noise, tilt in degrees)
PHANTOMS = ("fiber_bed", "other")


def timed_polarity(volume) -> tuple[float, float]:
    """(the measure, CPU seconds)."""
    start = time.process_time()
    value = sampled_polarity(volume)
    return value, time.process_time() - start


def detection_outcome(volume) -> tuple[int, str]:
    """(fibers in the table, the warning: dark / none / silent / other)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = detect_fibers(volume)
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    kind = "silent"
    if any("look darker" in text for text in said):
        kind = "dark"
    elif any("no fibers" in text for text in said):
        kind = "none"
    elif said:
        kind = "other"
    return int(table["fiber_id"].nunique()) if len(table) else 0, kind


def sweep(seeds, radii, detect: bool) -> None:
    counts = {}
    print(
        f"{'phantom':>9} {'R':>2} {'noise':>5} {'tilt':>4} {'seed':>4} {'bright':>7} "
        f"{'dark':>7} {'s':>5}" + ("  fibers warning" if detect else ""),
        flush=True,
    )
    for phantom, radius, (noise, tilt), seed in itertools.product(
        PHANTOMS, radii, CONDITIONS, seeds
    ):
        volume = sweep_case(phantom, radius, noise, tilt, seed, slices=12)[0]
        bright, seconds = timed_polarity(volume)
        dark, _ = timed_polarity(volume.microct.invert())
        line = (
            f"{phantom:>9} {radius:>2} {noise:>5} {tilt:>4.0f} {seed:>4} {bright:+7.3f} "
            f"{dark:+7.3f} {seconds:5.2f}"
        )
        if detect:
            inverse = sweep_case(phantom, radius, noise, tilt, seed)[0].microct.invert()
            fibers, kind = detection_outcome(inverse)
            line += f"  {fibers:>6} {kind}"
        print(line, flush=True)
        alarms, hits, total = counts.get((phantom, radius), (0, 0, 0))
        counts[(phantom, radius)] = (
            alarms + (bright < DARK_FIBERS),
            hits + (dark < DARK_FIBERS),
            total + 1,
        )
    print("\nphantom    R  false alarms (bright judged dark)  hits (dark judged dark)")
    for (phantom, radius), (alarms, hits, total) in counts.items():
        print(f"{phantom:>9} {radius:>2}  {alarms:>3} / {total:<3}  {hits:>3} / {total}")


def others() -> None:
    rng = np.random.default_rng(0)
    print(f"{'scan':>36} {'measure':>8}")
    noise = from_array(rng.normal(0, 1, (12, 128, 128)))
    print(f"{'white noise':>36} {sampled_polarity(noise):+8.3f}")
    for seed in (1, 2):
        pack, _ = bead_pack((24, 128, 128), radius=10.0, seed=seed)
        print(f"{f'bead_pack seed {seed} (dark beads)':>36} {sampled_polarity(pack):+8.3f}")
        inverse = sampled_polarity(pack.microct.invert())
        print(f"{f'bead_pack seed {seed} inverted':>36} {inverse:+8.3f}")
    for seed, infiltration in itertools.product((1, 2, 3), (0.0, 0.3, 1.0)):
        bed, _ = fiber_bed(
            (12, 128, 128), spacing=6.4 / 3, noise=0.15, infiltration=infiltration, seed=seed
        )
        name = f"fiber_bed 3 px, matrix {infiltration}, seed {seed}"
        print(f"{name:>36} {sampled_polarity(bed):+8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--radii", type=int, nargs="+", default=list(RADII_VOXELS))
    parser.add_argument("--detect", action="store_true", help="detect_fibers on the dark beds")
    parser.add_argument("--others", action="store_true", help="scans that are not fiber beds")
    args = parser.parse_args()
    if args.others:
        others()
    else:
        sweep(args.seeds, args.radii, args.detect)


if __name__ == "__main__":
    main()
