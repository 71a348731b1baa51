"""The link stage of the fiber pipeline alone, task by task: what runs after the last tile.

The fiber pipeline's link stage waits for the per-slice centres of every tile of its
slices, then runs with little parallelism: one ``link_slab`` task and one
``piece_pairs`` task per slab of 64 slices, a ``stitch_slabs`` task per border, then
the assembly (:mod:`~xarray_microct.ops.fibers.assembly`): the fibers (one task:
``link_fibers``), their parts settled (a task each: ``settle_fibers``, ``--groups`` of
them) and the table (``fiber_table``, in the client); a tree without that module runs
the assembly as one task (``assemble_fibers``, reported as ``fibers``). On a bed of one
z-chunk, that is the tail of the run. This benchmark runs the
pipeline once on a stored bed and keeps what the link stage receives (the tiles' rows;
in ``--folder``, reused), then times each of its tasks on those rows, in a subprocess per
source tree (this one, and ``--baseline SRC``), in turns, and checks that every tree
gives the same chains and the same table, to the bit.

Times are CPU seconds of the process (``time.process_time``: what the load of a shared
machine changes least), the least of ``--repeat`` runs after an untimed one (which loads
the tree's compiled kernels). ``tail`` is the critical path on ``--groups`` workers: the
slowest slab's linking and piece pairs, the stitching, the fibers, the slowest part's
settling, the table.

Usage::

    python benchmarks/link_stage.py --folder /tmp/ls --store BED.ome.zarr --baseline ../main
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


def capture(store: str, target: Path) -> None:
    """Run the fiber pipeline on ``store``, keeping the link stage's input: the tile rows."""
    import dask

    import xarray_microct as mct
    from xarray_microct.ops.fibers import detect
    from xarray_microct.pipelines import fibers

    kept = {}
    original = detect._linking_graph

    def keep(tiles, *args, **kwargs):
        kept["tiles"], kept["args"] = tiles, args
        return original(tiles, *args, **kwargs)

    detect._linking_graph = keep
    try:
        volume = mct.open_volume(store)
        fibers(volume)
        rows = dask.compute(*[t[2] for t in kept["tiles"]])
    finally:
        detect._linking_graph = original
    target.write_bytes(pickle.dumps({"parts": list(rows), "args": kept["args"]}, protocol=5))


def _assembly(slabs, pairs, near, assemble, timed, groups):
    """The table from the slabs: in a tree with the split assembly, its three steps (the
    fibers; each part settled, as the graph's tasks; the table), else the one task."""
    try:
        from xarray_microct.ops.fibers import assembly
    except ImportError:  # an older tree: one assembly task
        from xarray_microct.ops.fibers import detect

        return timed("fibers", detect.assemble_fibers, *slabs, pairs, *assemble, near)[0]
    parts, _ = timed("fibers", assembly.link_fibers, *slabs, pairs, *assemble, near, groups)
    settled = [
        timed("settle", assembly.settle_fibers, rows, fiber, *assemble[:4], crossing)
        for rows, fiber, crossing in parts
    ]
    return timed("finish", assembly.fiber_table, settled)


def time_stage(kept: Path, out: Path, repeat: int, groups: int) -> None:
    """In a subprocess: each task of the link stage with this ``PYTHONPATH``'s code."""
    from xarray_microct.ops.fibers import linking

    data = pickle.loads(kept.read_bytes())
    parts = data["parts"]
    nz, slab, link, assemble = data["args"]
    starts = list(range(0, nz, slab))
    best: dict[str, list[float]] = {}
    stages = ("slab", "near", "stitch", "fibers", "settle", "finish")
    for run in range(repeat + 1):
        seconds: dict[str, list[float]] = {stage: [] for stage in stages}

        def timed(stage, function, *args):
            start = time.process_time()
            result = function(*args)
            seconds[stage].append(time.process_time() - start)  # noqa: B023
            return result

        slabs, ends, near = [], [], []
        for z0 in starts:
            z1 = min(z0 + slab, nz)
            rows, chains = timed(
                "slab",
                linking.link_slab,
                parts,
                z0,
                z1,
                link["spacing"],
                link["origin"],
                link["link_distance"],
            )
            slabs.append((rows, chains))
            ends.append(linking.chain_ends(rows, chains))
            near.append(timed("near", linking.piece_pairs, rows))
        pairs = [
            timed(
                "stitch",
                linking.stitch_slabs,
                ends[k],
                ends[k + 1],
                starts[k + 1],
                link["link_distance"],
            )
            for k in range(len(starts) - 1)
        ]
        rows_and_chains = ([r for r, _ in slabs], [c for _, c in slabs])
        table = _assembly(rows_and_chains, pairs, near, assemble, timed, groups)
        if run == 0:  # untimed: the kernels loaded
            continue
        for stage, values in seconds.items():
            best[stage] = (
                values
                if stage not in best
                else [min(a, b) for a, b in zip(best[stage], values, strict=True)]
            )
    table.to_pickle(out)
    out.with_suffix(".chains.pkl").write_bytes(pickle.dumps([c for _, c in slabs]))
    tail = max(a + b for a, b in zip(best["slab"], best["near"], strict=True)) + sum(best["stitch"])
    # the parts settle at once on as many workers (the graph hints them in turns)
    tail += best["fibers"][0] + max(best["settle"], default=0.0) + sum(best["finish"])
    print(
        sum(best["slab"]),
        max(best["slab"]),
        sum(best["near"]),
        sum(best["stitch"]),
        best["fibers"][0],
        sum(best["settle"]),
        max(best["settle"], default=0.0),
        sum(best["finish"]),
        tail,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="where the kept rows go (reused)")
    parser.add_argument("--store", required=True, help="an OME-Zarr fiber bed")
    parser.add_argument("--baseline", help="another source tree of the package to compare")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per tree")
    parser.add_argument("--rounds", type=int, default=2, help="turns of the trees")
    parser.add_argument("--groups", type=int, default=2, help="parts settled apart (workers)")
    parser.add_argument("--time", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time:
        time_stage(Path(args.time[0]), Path(args.time[1]), args.repeat, args.groups)
        return
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(args.store).name
    kept = folder / f"{name}.tiles.pkl"
    if not kept.exists():
        capture(args.store, kept)
    here = Path(__file__).resolve().parent.parent
    trees = [("this tree", here)]
    if args.baseline:
        trees.insert(0, ("baseline", Path(args.baseline).resolve()))
    print(f"link stage of {name}: {os.cpu_count()} CPUs, CPU seconds (a shared machine)")
    header = ("slab", "max slab", "near", "stitch", "fibers", "settle", "max set", "finish")
    header += ("tail",)
    print(f"  {'code':10} " + " ".join(f"{h:>8}" for h in header) + "  table")
    reference = None
    for _ in range(args.rounds):
        for label, tree in trees:
            out = folder / f"{name}.{label.replace(' ', '-')}.table.pkl"
            env = {**os.environ, "PYTHONPATH": str(tree)}
            command = [sys.executable, __file__, "--folder", args.folder, "--store", args.store]
            command += ["--repeat", str(args.repeat), "--groups", str(args.groups)]
            command += ["--time", str(kept), str(out)]
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            figures = [float(v) for v in result.stdout.split()[-len(header) :]]
            table = pd.read_pickle(out)
            chains = pickle.loads(out.with_suffix(".chains.pkl").read_bytes())
            if reference is None:
                reference, same = (table, chains), "reference"
            else:
                equal = (
                    list(table.columns) == list(reference[0].columns)
                    and all(
                        np.array_equal(table[c].to_numpy(), reference[0][c].to_numpy())
                        for c in table
                    )
                    and all(np.array_equal(a, b) for a, b in zip(chains, reference[1], strict=True))
                )
                same = "same chains and table, to the bit" if equal else "DIFFERENT"
            print(
                f"  {label:10} "
                + " ".join(f"{v:>8.3f}" for v in figures)
                + f"  {len(table)} rows, {same}",
                flush=True,
            )


if __name__ == "__main__":
    main()
