"""The serial tail of the fiber pipeline: :func:`assemble_fibers` alone, on the rows of a bed.

The fiber pipeline ends in the assembly of the table from the linked slabs (stitching,
merging pieces, the side flag, joining fragments, numbering, the tilt correction; in
the graph, one task for the fibers, then their parts settled in parallel:
``benchmarks/link_stage.py`` times those steps apart). This benchmark runs the pipeline
once on a bed, keeps what the assembly receives (the slabs' rows and chains, the border pairs; in
``--folder``, reused), then times the assembly alone on it: in a subprocess per source
tree (this one, and ``--baseline SRC`` when given), each finding the slabs' piece pairs
with its own :func:`piece_pairs` first (as its slab tasks do, in parallel; reported as
their serial sum), and checks that every tree gives the same table, to the bit.

Usage::

    python benchmarks/assembly.py --folder /tmp/asm                  # fiber_bed 64 × 512²
    python benchmarks/assembly.py --folder /tmp/asm --store BED.ome.zarr --baseline ../main
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def capture(store: str | None, target: Path) -> None:
    """Run the fiber pipeline, keeping what :func:`assemble_fibers` receives and the table."""
    import xarray_microct as mct
    from xarray_microct.ops.fibers import detect
    from xarray_microct.pipelines import fibers
    from xarray_microct.synthetic import fiber_bed

    # the graph's first assembly task receives assemble_fibers's arguments, and its parts
    original = detect.link_fibers

    def keep(*args):
        target.write_bytes(pickle.dumps(args[:-1], protocol=5))
        return original(*args)

    detect.link_fibers = keep
    try:
        volume = mct.open_volume(store) if store else fiber_bed((64, 512, 512), seed=0)[0]
        fibers(volume)
    finally:
        detect.link_fibers = original


def time_assembly(slabs: Path, out: Path, repeat: int) -> None:
    """In a subprocess: the assembly of the kept slabs with this ``PYTHONPATH``'s code."""
    from xarray_microct.ops.fibers import assemble_fibers
    from xarray_microct.ops.fibers.linking import piece_pairs

    args = list(pickle.loads(slabs.read_bytes()))
    start = time.perf_counter()
    args[-1] = [piece_pairs(rows) for rows in args[0]]
    pairs_s = time.perf_counter() - start
    assemble_fibers(*args)  # compiles the tree's kernels into its cache
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        table, _ = assemble_fibers(*args)
        seconds.append(time.perf_counter() - start)
    table.to_pickle(out)
    print(pairs_s, sum(map(len, args[-1])), min(seconds), float(np.median(seconds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="where the kept slabs go (reused)")
    parser.add_argument("--store", help="an OME-Zarr bed (default: fiber_bed 64 × 512²)")
    parser.add_argument("--baseline", help="another source tree of the package to compare")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tree")
    parser.add_argument("--time", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time:
        time_assembly(Path(args.time[0]), Path(args.time[1]), args.repeat)
        return
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(args.store).name if args.store else "fiber_bed-64x512x512"
    slabs = folder / f"{name}.slabs.pkl"
    if not slabs.exists():
        capture(args.store, slabs)
    here = Path(__file__).resolve().parent.parent
    trees = [("this tree", here)]
    if args.baseline:
        trees.insert(0, ("baseline", Path(args.baseline).resolve()))
    print(f"assembly of {name}: {os.cpu_count()} CPUs (a shared machine: timings are noisy)")
    print(f"  {'code':10} {'pairs':>9} {'pairs s':>8} {'min s':>7} {'median s':>9}  table")
    reference = None
    for label, tree in trees:
        out = folder / f"{name}.{label.replace(' ', '-')}.table.pkl"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        command = [sys.executable, __file__, "--folder", args.folder, "--repeat"]
        command += [str(args.repeat), "--time", str(slabs), str(out)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        pairs_s, pairs, best, median = result.stdout.split()[-4:]
        table = pd.read_pickle(out)
        if reference is None:
            reference, same = table, "reference"
        else:
            equal = list(table.columns) == list(reference.columns) and all(
                np.array_equal(table[c].to_numpy(), reference[c].to_numpy()) for c in table
            )
            same = "the same, to the bit" if equal else "DIFFERENT"
        print(
            f"  {label:10} {int(pairs):>9} {float(pairs_s):>8.2f} {float(best):>7.3f} "
            f"{float(median):>9.3f}  {len(table)} rows, {same}"
        )
    print(
        "  pairs: piece pairs that reach the assembly; pairs s: piece_pairs of all slabs, "
        "serial (the slab tasks find them in parallel)"
    )


if __name__ == "__main__":
    main()
