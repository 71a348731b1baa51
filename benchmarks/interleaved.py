"""``microct run`` threaded and with ``--workers 2``, source trees in turns, N rounds.

On a shared machine whose load changes from second to second, one run of each set-up
says little. This runs every (source tree, scheduler) pair once per round, in the same
order each round, for ``--rounds`` rounds, on a stored scan (``microct run PIPELINE STORE
OUT`` in a subprocess, ``--pipeline fibers`` by default or ``beads``, as a user runs it:
see ``_measure.run_microct``), and prints each run's wall time, CPU seconds of the whole
process tree (the command and its worker processes) and peak RSS, then per pair the
medians and, per tree, the speed of ``--workers 2`` relative to threads within each
round (the median of those ratios: two runs next to each other share the machine's
load). Every run must give the same number of table rows (fibers) or the same labels
voxel for voxel up to their numbering (beads).

The first run of a source tree compiles its numba kernels into its cache: one untimed
threaded run per tree comes first.

Usage::

    python benchmarks/interleaved.py STORE --baseline ../previous --rounds 3
    python benchmarks/interleaved.py STORE --rounds 5 --workers-only
    python benchmarks/interleaved.py BEAD_STORE --pipeline beads --baseline ../previous
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np
from _measure import run_microct

from xarray_microct.runner import open_result, read_table

SCHEDULERS = {"threads": [], "--workers 2": ["--workers", "2", "--threads-per-worker", "1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path, help="a stored scan (OME-Zarr)")
    parser.add_argument("--baseline", type=Path, default=None, help="another source tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers-only", action="store_true", help="no threaded runs")
    parser.add_argument("--pipeline", choices=("fibers", "beads"), default="fibers")
    args = parser.parse_args()
    trees: dict[str, Path | None] = {"this tree": Path(__file__).resolve().parents[1]}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), **trees}
    schedulers = {
        name: extra
        for name, extra in SCHEDULERS.items()
        if not (args.workers_only and name == "threads")
    }
    folder = Path(tempfile.mkdtemp(prefix="interleaved-"))
    for source in trees.values():  # compile each tree's kernels, untimed
        run_microct(source, args.pipeline, args.store, folder / "warm.zarr")
    runs: dict[tuple[str, str], list] = {}
    results: set[str] = set()
    print(f"{'round':>5} {'code':10} {'scheduler':12} {'wall s':>7} {'CPU s':>7} {'peak RSS':>9}")
    for round_ in range(1, args.rounds + 1):
        for label, source in trees.items():
            for name, extra in schedulers.items():
                out = folder / f"{label.replace(' ', '-')}-{len(runs)}.zarr"
                run = run_microct(source, args.pipeline, args.store, out, extra)
                results.add(_result(args.pipeline, out))
                runs.setdefault((label, name), []).append(run)
                print(
                    f"{round_:5d} {label:10} {name:12} {run.seconds:7.2f} "
                    f"{run.cpu_seconds:7.2f} {run.peak_rss / 2**30:8.2f}Gi",
                    flush=True,
                )
    print("medians:")
    for (label, name), measured in runs.items():
        wall = statistics.median(r.seconds for r in measured)
        cpu = statistics.median(r.cpu_seconds for r in measured)
        rss = max(r.peak_rss for r in measured) / 2**30
        print(f"      {label:10} {name:12} {wall:7.2f} {cpu:7.2f} {rss:8.2f}Gi (max)")
    if len(schedulers) == 2:
        for label in trees:
            ratios = [
                t.seconds / w.seconds
                for t, w in zip(runs[(label, "threads")], runs[(label, "--workers 2")], strict=True)
            ]
            print(
                f"{label}: --workers 2 at {statistics.median(ratios):.2f}x the threaded speed "
                f"(median of the rounds; each {', '.join(f'{r:.2f}' for r in ratios)})"
            )
    shutil.rmtree(folder, ignore_errors=True)  # the runs' outputs, written by this script
    if len(results) != 1:
        raise SystemExit(f"the runs' results differ: {sorted(results)}")
    print(f"the same result in every run: {results.pop()}")


def _result(pipeline: str, out: Path) -> str:
    """What a run gave: the fiber table's rows, or a digest of the labels' partition.

    Labels are compared up to their numbering (which depends on the chunks a run
    computes in): each label is renumbered by the first voxel it holds, in C order.
    """
    if pipeline == "fibers":
        return f"{len(read_table(out))} table rows"
    labels = open_result(out).values.ravel()
    values, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(values), np.int64)
    rank[np.argsort(first)] = np.arange(len(values))
    partition = rank[inverse].astype(np.int64)
    digest = hashlib.sha256(partition.tobytes()).hexdigest()[:16]
    return f"partition {digest} ({len(values) - (0 in values)} labels)"


if __name__ == "__main__":
    main()
