"""3-D fiber identity on tall beds: the fiber count against the truth, chain by chain.

The per-slice stage of :func:`detect_fibers <xarray_microct.ops.fibers.detect_fibers>`
runs once per case and its rows are cached (``--folder``); the linking (slabs, stitching,
joining, the side flag) then runs from the cache, so a change to the linking is measured
in seconds. For each case it prints the 3-D count of fibers not cut by the volume's
sides (detected, and true), and where the difference comes from, every detected row
being given the true fiber whose centre is nearest on its slice (within a radius):

* ``split``: extra chains of one true fiber (a fiber broken in pieces);
* ``joined``: chains that follow two true fibers (each for 5 slices or more);
* ``noise``: chains that follow no true fiber;
* ``side+`` / ``side-``: chains counted inside whose fiber the volume's side cuts, and
  chains flagged as cut whose fiber is inside;
* ``lost``: true fibers inside that no chain follows.

Cases: synthetic tall beds (:func:`~xarray_microct.synthetic.fiber_bed`, radius 3–5
voxels) and, with ``--store``, a bed written by ``benchmarks/whole_scan.py`` (its truth
recomputed from its seed). ``--slabs`` links with other slab sizes too and checks that
the table is the same up to the fiber ids.

Usage::

    python benchmarks/fiber_linking.py --folder /tmp/fl
    python benchmarks/fiber_linking.py --folder /tmp/fl --store BED.ome.zarr --slabs 40 96
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

import dask
import numpy as np
import pandas as pd
from dask.delayed import delayed
from scipy.spatial import cKDTree

import xarray_microct as mct
from xarray_microct.ops.fibers import detect
from xarray_microct.synthetic import fiber_bed

# (name, shape, radius in voxels, tilt in degrees, seed); voxels of 1.3 µm
SYNTHETIC = (
    ("R3 512x96²", (512, 96, 96), 3.0, 2.0, 1),
    ("R4 512x128²", (512, 128, 128), 4.0, 2.0, 2),
    ("R5 384x128² tilt 8", (384, 128, 128), 5.0, 8.0, 3),
    ("R5 256x160²", (256, 160, 160), 5.0, 2.0, 4),
)
# the bed where the issue measured 2081 chains for 1932 true fibers: fiber_bed's defaults
ISSUE_BED = ("fiber_bed() 512³", (512, 512, 512), 6.4 / 1.3, 2.0, 0)
SPACING = 1.3
FOLLOWED = 5  # slices a chain must follow a true fiber to count as following it


def capture_linking(volume, **detect_kwargs) -> dict:
    """Per-slice rows and linking parameters of ``detect_fibers`` on ``volume``."""
    captured = {}
    original = detect._linking_graph

    def keep(tiles, nz, slab, link, assemble, **kwargs):
        captured.update(tiles=tiles, nz=nz, slab=slab, link=link, assemble=assemble)
        return original(tiles, nz, slab, link, assemble, **kwargs)

    detect._linking_graph = keep
    try:
        plan = detect.plan_detection(volume, eager=True, **detect_kwargs)
    finally:
        detect._linking_graph = original
    del plan
    with dask.config.set(scheduler="threads"):
        parts = dask.compute(*[rows for _, _, rows in captured["tiles"]])
    rows = np.concatenate([np.zeros((0, 4)), *parts])
    return {
        "rows": rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))],
        "nz": captured["nz"],
        "slab": captured["slab"],
        "link": captured["link"],
        "assemble": captured["assemble"],
    }


def link_cached(case: dict, slab: int | None = None) -> pd.DataFrame:
    """The fiber table from the cached rows, through the pipeline's own linking graph."""
    tiles = [(0, case["nz"], delayed(case["rows"]))]
    graph = detect._linking_graph(
        tiles, case["nz"], slab or case["slab"], case["link"], case["assemble"]
    )
    table, _ = graph.compute(scheduler="sync")
    return table


def true_fiber_of_rows(table: pd.DataFrame, centres: pd.DataFrame, radius: float) -> np.ndarray:
    """The true fiber nearest each detected centre on its slice (0: none within radius)."""
    true = np.zeros(len(table), np.int64)
    z_table = np.round(table["z"].to_numpy() / SPACING).astype(np.int64)
    z_true = np.round(centres["z"].to_numpy() / SPACING).astype(np.int64)
    by_slice = pd.Series(np.arange(len(centres))).groupby(z_true)
    groups = {z: idx.to_numpy() for z, idx in by_slice}
    for z, index in pd.Series(np.arange(len(table))).groupby(z_table):
        here = groups.get(z)
        if here is None:
            continue
        tree = cKDTree(centres[["y", "x"]].to_numpy()[here])
        distance, nearest = tree.query(table[["y", "x"]].to_numpy()[index.to_numpy()])
        near = distance < radius
        true[index.to_numpy()[near]] = centres["fiber_id"].to_numpy()[here[nearest[near]]]
    return true


def score(table: pd.DataFrame, fibers: pd.DataFrame, centres: pd.DataFrame, radius: float):
    """The count against the truth and where the difference comes from."""
    true = true_fiber_of_rows(table, centres, radius)
    frame = pd.DataFrame({"chain": table["fiber_id"].to_numpy(), "true": true})
    counts = frame[frame.true > 0].groupby(["chain", "true"]).size()
    followed = counts[counts >= FOLLOWED].reset_index()
    per_chain = followed.groupby("chain")["true"].nunique()
    major = counts.reset_index().sort_values(0, ascending=False).drop_duplicates("chain")
    major = major.set_index("chain")["true"]
    chains = table.groupby("fiber_id")["touches_side"].first()
    major = major.reindex(chains.index, fill_value=0)
    true_side = fibers.set_index("fiber_id")["touches_side"]
    inside_true = set(fibers.fiber_id[~fibers.touches_side])
    inside = chains[~chains]
    of_inside = major[inside.index]
    per_true = of_inside[of_inside > 0].value_counts()
    side_of_inside = true_side.reindex(of_inside[of_inside > 0]).fillna(False).astype(bool)
    side_of_cut = true_side.reindex(major[chains[chains].index]).fillna(True).astype(bool)
    return {
        "count": len(inside),
        "true": len(inside_true),
        "split": int((per_true[per_true.index.isin(inside_true)] - 1).sum()),
        "joined": int((per_chain > 1).sum()),
        "noise": int((of_inside == 0).sum()),
        "side+": int(side_of_inside.sum()),
        "side-": int((~side_of_cut).sum()),
        "lost": len(inside_true - set(major[~chains].tolist())),
    }


def same_up_to_ids(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """The two tables hold the same rows and the same fibers, whatever the ids."""

    def canonical(table):
        first = table.groupby("fiber_id")[["z", "y", "x"]].transform("first")
        key = pd.concat([first, table.drop(columns="fiber_id")], axis=1).to_numpy()
        return key[np.lexsort(key.T[::-1])]

    return len(a) == len(b) and np.array_equal(canonical(a), canonical(b))


def synthetic_case(folder: Path, name: str, shape, radius_px, tilt, seed) -> tuple:
    path = folder / f"case-{'-'.join(map(str, shape))}-{radius_px}-{tilt}-{seed}.pkl"
    radius = radius_px * SPACING
    if not path.exists():
        vol, truth = fiber_bed(
            shape, radius=radius, radius_sd=0.9 / 6.4 * radius, tilt=tilt, seed=seed
        )
        case = capture_linking(vol.chunk({"z": 64}), radius=(radius_px,) * 3)
        path.write_bytes(pickle.dumps((case, truth.fibers, truth.centres, radius)))
    return pickle.loads(path.read_bytes())


def store_case(folder: Path, store: Path, seed: int) -> tuple:
    sys.path.insert(0, str(Path(__file__).parent))
    from whole_scan import RADIUS, fiber_axes, truth_centres

    volume = mct.open_volume(store)
    shape = tuple(volume.shape)
    path = folder / f"case-{store.name}.pkl"
    if path.exists():
        case = pickle.loads(path.read_bytes())
    else:  # the pipeline's parameters: the radius estimated from the scan
        case = capture_linking(volume, radius=None, source="intensity")
        path.write_bytes(pickle.dumps(case))
    axes = fiber_axes(shape, seed)
    return case, axes, truth_centres(axes, shape, np.arange(shape[0])), RADIUS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="cache of the per-slice rows")
    parser.add_argument("--store", default=None, help="a bed of benchmarks/whole_scan.py")
    parser.add_argument("--seed", type=int, default=0, help="the store's seed")
    parser.add_argument("--only-store", action="store_true")
    parser.add_argument("--issue-bed", action="store_true", help="also fiber_bed() at 512³")
    parser.add_argument("--slabs", type=int, nargs="*", default=[], help="other slab sizes")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases = [] if args.only_store else [(c[0], c[1:]) for c in SYNTHETIC]
    if args.issue_bed:
        cases.append((ISSUE_BED[0], ISSUE_BED[1:]))
    if args.store:
        cases.append((Path(args.store).name, None))
    header = ("count", "true", "split", "joined", "noise", "side+", "side-", "lost")
    print(f"{'case':<34}" + "".join(f"{h:>7}" for h in header) + f"{'link s':>8}  slabs")
    for name, params in cases:
        if params is None:
            case, fibers, centres, radius = store_case(folder, Path(args.store), args.seed)
        else:
            case, fibers, centres, radius = synthetic_case(folder, name, *params)
        start = time.perf_counter()
        table = link_cached(case)
        seconds = time.perf_counter() - start
        s = score(table, fibers, centres, radius)
        same = [str(same_up_to_ids(table, link_cached(case, slab))) for slab in args.slabs]
        print(
            f"{name:<34}"
            + "".join(f"{s[h]:>7}" for h in header)
            + f"{seconds:>8.1f}  {' '.join(same)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
