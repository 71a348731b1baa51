"""The seed paper's figures, redrawn on synthetic data with known truth.
=====================================================================

* Fig. 3 — bead segmentation, step by step: raw, filtering, rough segmentation,
  post-processing, 3-D watershed, connected components (``bead-pipeline.png``);
* Fig. 4 — fiber pipeline: raw volume (orthogonal slices), Hessian tubeness, rough fiber
  segmentation (``fiber-pipeline.png``);
* Fig. 5 — true and detected fiber centres over a raw slice, with the paper's pixel-wise
  metrics (``fiber-detection.png``, ``fiber-metrics.csv``);
* Fig. 6 — the fiber pipeline timed on two Dask schedulers, the code unchanged
  (``timings.png``, ``timings.csv``).

    python examples/paper_figures.py --output paper-figures
    python examples/paper_figures.py --small --output /tmp/figures     # what CI runs
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import dask
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

import xarray_microct  # noqa: F401  (registers the .microct verbs)
from xarray_microct import metrics
from xarray_microct.pipelines.fibers import fibers as fiber_pipeline
from xarray_microct.synthetic import bead_pack, fiber_bed


def show(ax: Any, plane: xr.DataArray, title: str, labels: bool = False) -> None:
    """Draw a z slice in physical units (labels with a categorical colormap)."""
    units = plane["x"].attrs.get("units", "")
    ys, xs = plane["y"].values, plane["x"].values
    extent = (xs[0], xs[-1], ys[-1], ys[0])
    values = np.asarray(plane.values)
    if labels:
        shown = np.ma.masked_equal(values.astype(np.int64), 0) % 20
        ax.imshow(shown, cmap="tab20", extent=extent, interpolation="nearest", vmin=0, vmax=19)
    else:
        ax.imshow(values, cmap="gray", extent=extent, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(f"x ({units})", fontsize=8)
    ax.set_ylabel(f"y ({units})", fontsize=8)
    ax.tick_params(labelsize=7)


def middle(volume: xr.DataArray) -> xr.DataArray:
    return volume.isel(z=volume.sizes["z"] // 2)


def figure_3(out: Path, edge: int, radius: float) -> Path:
    """Bead pipeline steps (paper Fig. 3) on a synthetic bead pack."""
    beads, _ = bead_pack(edge, radius=radius, seed=0, chunks=64)
    filtered = beads.microct.median(radius="1 voxel")
    rough = filtered.microct.invert().microct.threshold(method="otsu")  # beads are dark
    post = rough.microct.opening(radius=f"{radius / 4} um").microct.fill_holes()
    separated = post.microct.watershed(min_distance=f"{0.75 * radius} um")
    components = post.microct.label()
    steps = [
        ("(a) raw data", beads, False),
        ("(b) filtering (median)", filtered, False),
        ("(c) rough segmentation (Otsu)", rough, False),
        ("(d) post-processing (opening, fill holes)", post, False),
        ("(e) 3-D watershed", separated, True),
        ("(f) connected components without watershed", components, True),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(12, 8))
    for ax, (title, volume, is_labels) in zip(axes.flat, steps, strict=True):
        show(ax, middle(volume).compute(), title, labels=is_labels)
    fig.suptitle("Fig. 3: bead segmentation pipeline (synthetic bead pack)")
    fig.tight_layout()
    path = out / "bead-pipeline.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def figure_4_and_5(out: Path, shape: tuple[int, int, int]) -> dict[str, float]:
    """Fiber pipeline (Fig. 4) and detected vs true centres with metrics (Fig. 5)."""
    scan, truth = fiber_bed(shape, seed=0, chunks=64)
    tube = scan.microct.tubeness(sigma="3.2 um")
    mask = scan.microct.gaussian(sigma="1.3 um").microct.threshold(method="otsu")
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.5))
    show(axes[0], middle(scan).compute(), "(a) raw data")
    show(axes[1], middle(tube).compute(), "(b) Hessian tubeness")
    show(axes[2], middle(mask).compute(), "(c) rough fiber segmentation")
    fig.suptitle("Fig. 4: fiber segmentation pipeline (synthetic CMC fiber bed)")
    fig.tight_layout()
    fig.savefig(out / "fiber-pipeline.png", dpi=100)
    plt.close(fig)

    table = fiber_pipeline(scan)
    z_mid = float(scan.z[scan.sizes["z"] // 2])
    pixel = metrics.pixel_metrics(table, truth.centres, like=scan, z=z_mid, diameter=10)
    fig, axes = plt.subplots(1, 2, figsize=(12, 6))
    plane = middle(scan).compute()
    for ax, (name, centres, colour) in zip(
        axes, (("true centres", truth.centres, "lime"), ("automated detection", table, "red")),
        strict=True,
    ):
        show(ax, plane, name)
        on_slice = centres[np.isclose(centres["z"], z_mid)]
        ax.scatter(on_slice["x"], on_slice["y"], s=25, c=colour, marker="+")
    fig.suptitle(f"Fig. 5: fiber detection on slice z = {z_mid:.1f} µm "
                 f"(Dice {pixel['dice']:.3f}, precision {pixel['precision']:.3f})")
    fig.tight_layout()
    fig.savefig(out / "fiber-detection.png", dpi=100)
    plt.close(fig)
    scores = {k: pixel[k] for k in metrics.PIXEL_SCORES}
    pd.Series(scores, name="this run").to_csv(out / "fiber-metrics.csv")
    return scores


def figure_6(out: Path, shape: tuple[int, int, int], workers: int) -> pd.DataFrame:
    """The fiber pipeline on the threaded scheduler and on a LocalCluster (paper Fig. 6)."""
    from dask.distributed import Client, LocalCluster

    scan, _ = fiber_bed(shape, seed=0, chunks=64)
    rows = []
    with dask.config.set(scheduler="threads"):
        start = time.perf_counter()
        count = fiber_pipeline(scan).fiber_id.nunique()
        rows.append(("threads (laptop)", time.perf_counter() - start, count))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        start = time.perf_counter()
        count = fiber_pipeline(scan).fiber_id.nunique()
        rows.append((f"LocalCluster ({workers} workers)", time.perf_counter() - start, count))
    timings = pd.DataFrame(rows, columns=["client", "seconds", "fibers"])
    timings.to_csv(out / "timings.csv", index=False)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(timings["client"], timings["seconds"], color="steelblue")
    ax.set_xlabel("seconds (lower is better)")
    ax.set_title(f"Fig. 6: fiber pipeline on {scan.size / 1e6:.1f} Mvox")
    fig.tight_layout()
    fig.savefig(out / "timings.png", dpi=100)
    plt.close(fig)
    return timings


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Draw every figure; return the metrics and timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("paper-figures"))
    parser.add_argument("--small", action="store_true", help="small volumes (for CI)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    fiber_shape = (12, 64, 64) if args.small else (64, 256, 256)
    figure_3(args.output, 40 if args.small else 160, 5.0 if args.small else 10.0)
    scores = figure_4_and_5(args.output, fiber_shape)
    timings = figure_6(args.output, fiber_shape, args.workers)
    print(pd.Series(scores).to_string(float_format=lambda v: f"{v:.4f}"))
    print(timings.to_string(index=False))
    print(f"figures in {args.output}")
    return {"scores": scores, "timings": timings}


if __name__ == "__main__":
    main()
