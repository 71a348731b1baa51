"""``microct demo``: the seed paper's fiber analysis end to end, on a bed with known truth.

Synthetic fiber bed → OME-Zarr pyramid on disk → re-opened lazily → fiber pipeline
(tubeness → segment → detect) → fiber table, per-fiber summary, and the scores against
the truth: the paper's pixel-wise metrics on the middle slice and object-level matching on
every slice. Writes the store, two CSV tables, a PNG of a slice with detected and true
centres and a self-contained HTML report (slices, centres, scores, provenance), and prints
the metrics.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xarray_microct.io.ome import open_pyramid
from xarray_microct.io.safety import check_replaceable
from xarray_microct.metrics import PIXEL_SCORES, object_metrics, pixel_metrics
from xarray_microct.ops.fibers import fiber_summary
from xarray_microct.pipelines.fibers import fibers
from xarray_microct.report import save_report
from xarray_microct.synthetic.fibers import fiber_bed

STORE = "fiber_bed.ome.zarr"
REPORT = "report.html"
# the PNG figures save_report writes beside the report (``report-<figure>.png``)
REPORT_FIGURES = tuple(
    f"{Path(REPORT).stem}-{figure}.png"
    for figure in (
        "slice",
        "orthoslices",
        "centres",
        "fiber-radius",
        "fiber-orientation",
        "fiber-axes",
    )
)
OUTPUTS = (STORE, "fibers.csv", "fiber_summary.csv", "fibers.png", REPORT, *REPORT_FIGURES)
# what the demo wrote into its folder, with each file's digest: --overwrite replaces a
# file only when it is still the one the demo wrote
MANIFEST = ".microct-demo.json"
# the seed paper's scores of its automated detection against manual clicks (§4.3)
PAPER = {
    "dice": 0.7424,
    "sensitivity": 0.7962,
    "specificity": 0.929,
    "accuracy": 0.9065,
    "auc": 0.8626,
    "precision": 0.6955,
    "f_score": 0.7424,
}


def save_figure(
    image: np.ndarray,
    extent: tuple[float, float, float, float],
    detected: pd.DataFrame,
    truth: pd.DataFrame,
    path: Path,
    title: str,
    units: str = "micrometer",
) -> Path:
    """Save a PNG of one slice with true (circles) and detected (crosses) centres.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "f.png"
    >>> t = pd.DataFrame({"y": [2.0], "x": [3.0]})
    >>> save_figure(np.zeros((8, 8)), (0, 8, 8, 0), t, t, p, "demo").exists()
    True
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 7), dpi=110)
    low, high = np.percentile(image, [0.5, 99.5])
    ax.imshow(image, cmap="gray", vmin=low, vmax=high, extent=extent, interpolation="nearest")
    ax.scatter(truth["x"], truth["y"], s=60, facecolors="none", edgecolors="lime",
               linewidths=1.2, label="true centre")
    ax.scatter(detected["x"], detected["y"], s=30, c="red", marker="+", linewidths=1.2,
               label="detected centre")
    ax.set_xlabel(f"x ({units})")
    ax.set_ylabel(f"y ({units})")
    ax.set_title(title)
    ax.legend(loc="upper right", framealpha=0.8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _format_scores(pixel: dict[str, float], objects: dict[str, Any]) -> str:
    lines = [f"{'pixel-wise (middle slice, disks 10 px across)':<46}{'this run':>8}"
             f"{'seed paper':>12}"]
    for name in PIXEL_SCORES:
        lines.append(f"  {name:<46}{pixel[name]:>8.4f}{PAPER[name]:>12.4f}")
    units = objects["units"] or ""
    lines += [
        f"object-level (all slices, matched within {objects['max_distance']:.2f} {units})",
        f"  {'matched / false / missed centres':<46}"
        f"{objects['tp']} / {objects['fp']} / {objects['fn']}",
        f"  {'precision':<46}{objects['precision']:>8.4f}",
        f"  {'recall':<46}{objects['recall']:>8.4f}",
        f"  {'F1':<46}{objects['f1']:>8.4f}",
        f"  {'mean centre error (' + units + ')':<46}{objects['mean_error']:>8.3f}",
    ]
    return "\n".join(lines)


def scores_table(pixel: dict[str, float], objects: dict[str, Any]) -> pd.DataFrame:
    """The demo's scores beside the seed paper's, as the report's metrics table.

    Examples
    --------
    >>> pixel = dict.fromkeys(PIXEL_SCORES, 0.5)
    >>> objects = {"tp": 9, "fp": 1, "fn": 0, "precision": 0.9, "recall": 1.0, "f1": 0.95,
    ...            "mean_error": 0.4, "units": "micrometer"}
    >>> scores_table(pixel, objects).loc["pixel dice"].tolist()
    [0.5, 0.7424]
    """
    rows = {f"pixel {name}": (pixel[name], PAPER[name]) for name in PIXEL_SCORES}
    units = objects.get("units") or ""
    for name in ("tp", "fp", "fn", "precision", "recall", "f1"):
        rows[f"object {name}"] = (objects[name], np.nan)
    rows[f"object mean centre error ({units})"] = (objects["mean_error"], np.nan)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["this run", "seed paper"])
    table.index.name = "score"
    return table


def _digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hexadecimal."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _written(output: Path) -> dict[str, str]:
    """The digests of the files the demo wrote into ``output``, by name."""
    manifest = output / MANIFEST
    return json.loads(manifest.read_text()) if manifest.is_file() else {}


def _record_written(output: Path, *names: str) -> None:
    """Add the digests of the files ``names`` in ``output`` to the demo's manifest."""
    written = _written(output) | {name: _digest(output / name) for name in names}
    (output / MANIFEST).write_text(json.dumps(written, indent=1))


def check_demo_files(output: Path) -> None:
    """Refuse to replace a file of the demo's outputs that the demo did not write.

    The demo records the digest of every file it writes in ``output/.microct-demo.json``;
    a file of the same name that is not listed there, or that changed since, is someone
    else's (the store is checked by :func:`~xarray_microct.io.safety.check_replaceable`).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "fibers.csv").write_text("my own table")
    >>> check_demo_files(folder)
    Traceback (most recent call last):
    ...
    FileExistsError: ...fibers.csv was not written by microct demo ...
    """
    written = _written(output)
    for name in OUTPUTS[1:]:
        path = output / name
        if path.exists() and (not path.is_file() or written.get(name) != _digest(path)):
            raise FileExistsError(
                f"{path} was not written by microct demo (or was changed since); it is "
                "left as it is: move it away or give the demo another folder"
            )


def run_demo(output: Path, size: int = 128, overwrite: bool = False) -> dict[str, Any]:
    """Run the fiber analysis on a synthetic bed of ``size`` voxels per side and report it.

    Parameters
    ----------
    output : path
        Folder for the OME-Zarr store, the tables, the figure and the report (with its
        PNG figures beside it).
    size : int
        Edge of the synthetic volume in voxels (1.3 µm each; at least 32).
    overwrite : bool
        Replace the results of an earlier run.

    Returns
    -------
    dict
        ``table`` (fiber table), ``summary`` (:class:`FiberSummary`), ``pixel`` and
        ``objects`` (scores), ``paths`` (files written), ``seconds`` per stage.
    """
    if size < 32:
        raise ValueError(f"--size must be at least 32 voxels, got {size}")
    output = Path(output)
    existing = [output / name for name in OUTPUTS if (output / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{existing[0]} exists; pass --overwrite to replace the earlier results"
        )
    check_replaceable(output / STORE)  # only a store this project wrote, before any work
    check_demo_files(output)  # and only files the demo wrote, unchanged
    output.mkdir(parents=True, exist_ok=True)
    try:
        seconds: dict[str, float] = {}

        start = time.perf_counter()
        volume, truth = fiber_bed((size, size, size), seed=0, chunks=64)
        seconds["synthetic bed"] = time.perf_counter() - start

        start = time.perf_counter()
        store = output / STORE
        volume.microct.pyramid().microct.to_zarr(store, version="0.4", mode="w")
        scan = open_pyramid(store)
        seconds["OME-Zarr pyramid"] = time.perf_counter() - start

        start = time.perf_counter()
        table = fibers(scan)
        seconds["pipeline (tubeness → segment → detect)"] = time.perf_counter() - start

        start = time.perf_counter()
        level0 = scan[next(iter(scan.children))]
        image = next(iter(level0.to_dataset().data_vars.values()))
        summary = fiber_summary(table)
        radius = float(truth.fibers["radius"].mean())
        objects = object_metrics(table, truth.centres, like=image, margin=radius)
        k = image.sizes["z"] // 2
        z_mid = float(image.z[k])
        pixel = pixel_metrics(table, truth.centres, like=image, z=z_mid)
        table.to_csv(output / "fibers.csv", index=False)
        summary.fibers.to_csv(output / "fiber_summary.csv", index=False)
        ys, xs = image.y.values, image.x.values
        dy, dx = ys[1] - ys[0], xs[1] - xs[0]
        extent = (xs[0] - dx / 2, xs[-1] + dx / 2, ys[-1] + dy / 2, ys[0] - dy / 2)
        on_slice = table[np.isclose(table.z, z_mid)]
        true_slice = truth.centres[np.isclose(truth.centres.z, z_mid)]
        save_figure(
            np.asarray(image[k].values, dtype=np.float32), extent, on_slice, true_slice,
            output / "fibers.png",
            f"slice z = {z_mid:.1f} µm: {len(on_slice)} detected, {len(true_slice)} true "
            f"(object F1 {objects['f1']:.3f})",
            units=truth.units,
        )
        seconds["scores, tables, figure"] = time.perf_counter() - start

        start = time.perf_counter()
        save_report(
            output / REPORT, scan, metrics=scores_table(pixel, objects), result=table,
            centres={"detected": table, "true": truth.centres},
            title=f"microct demo: fiber bed {size}³ voxels",
            notes="A synthetic CMC fiber bed with known truth, analysed by the fiber pipeline "
            "(tubeness → segment → detect). Pixel-wise scores follow the seed paper (disks 10 "
            "pixels across on the middle slice); object-level scores match every slice.",
        )
        seconds["HTML report"] = time.perf_counter() - start
    finally:  # every output present now is the demo's (checked above): recorded, even
        # after a failure part way, so the next --overwrite may replace it
        _record_written(output, *(name for name in OUTPUTS[1:] if (output / name).is_file()))

    bed = summary.bed
    print(f"fiber bed {size}³ voxels ({volume.size / 1e6:.1f} Mvox), store {store}")
    print(
        f"fibers: {bed['count']} detected ({len(truth.fibers)} true), mean radius "
        f"{bed['mean_radius']:.2f} µm (true {radius:.2f}), fiber volume fraction "
        f"{bed['fiber_volume_fraction']:.3f}, polar angle {bed['polar_mean']:.2f} ± "
        f"{bed['polar_sd']:.2f}° (true {truth.fibers.polar.mean():.2f} ± "
        f"{truth.fibers.polar.std(ddof=0):.2f}°)"
    )
    print(_format_scores(pixel, objects))
    for stage, s in seconds.items():
        print(f"  {stage:<46}{s:>7.1f} s")
    paths = {name: output / name for name in OUTPUTS}
    print("wrote", ", ".join(str(p) for p in paths.values()))
    return {
        "table": table,
        "summary": summary,
        "pixel": pixel,
        "objects": objects,
        "paths": paths,
        "seconds": seconds,
    }
