"""End to end: the demo (scan → OME-Zarr → fiber pipeline → scores → report), the bead
pipeline of the seed paper, and the viewing layer.

Sizes are small enough for ``asv run --quick`` on a laptop; each case is timed from the
lazy chain to its final numbers or files, so graph building, scheduling, I/O and the kernels
all count. ``peakmem_*`` is the process's maximum RSS during the call. The pipelines on
their own are in ``fibers.py`` and ``beads.py``.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import ClassVar

import xarray_microct  # noqa: F401  (registers the .microct verbs)
from xarray_microct import metrics, plot, slices
from xarray_microct.demo import run_demo
from xarray_microct.pipelines import beads
from xarray_microct.report import save_report
from xarray_microct.synthetic import bead_pack, fiber_bed


class Demo:
    """``microct demo``: synthetic bed → OME-Zarr pyramid → fibers → scores → HTML report."""

    params: ClassVar[list[int]] = [64]
    param_names: ClassVar[list[str]] = ["edge"]
    timeout = 600

    def setup(self, edge: int) -> None:
        self.folder = Path(tempfile.mkdtemp())

    def _run(self, edge: int) -> dict:
        with contextlib.redirect_stdout(io.StringIO()):
            return run_demo(self.folder, size=edge, overwrite=True)

    def time_demo(self, edge: int) -> None:
        self._run(edge)

    def peakmem_demo(self, edge: int) -> None:
        self._run(edge)

    def track_object_f1(self, edge: int) -> float:
        return float(self._run(edge)["objects"]["f1"])


class BeadAnalysis:
    """The whole bead analysis of ``examples/beads.py``: ``pipelines.beads`` → regionprops →
    bead centres matched to the truth (the pipeline alone is timed in ``beads.py``)."""

    params: ClassVar[list[int]] = [64, 128]
    param_names: ClassVar[list[str]] = ["edge"]
    timeout = 600
    radius = 8.0

    def setup(self, edge: int) -> None:
        scan, self.truth = bead_pack(edge, radius=self.radius, seed=0, chunks=64)
        self.scan = scan.persist()

    def _run(self) -> dict:
        props = beads(self.scan, bead_radius=self.radius).microct.regionprops()
        truth = self.truth.microct.regionprops()
        names = {"centroid_z": "z", "centroid_y": "y", "centroid_x": "x"}
        return metrics.object_metrics(props.rename(columns=names), truth.rename(columns=names),
                                      max_distance=self.radius / 2, by=None)

    def time_analysis(self, edge: int) -> None:
        self._run()

    def peakmem_analysis(self, edge: int) -> None:
        self._run()

    def track_bead_f1(self, edge: int) -> float:
        return float(self._run()["f1"])


class Viewing:
    """One slice of a lazy volume rendered, the global intensity range, an HTML report."""

    timeout = 300

    def setup(self) -> None:
        scan, _ = fiber_bed((64, 256, 256), seed=0, chunks=64)
        self.scan = scan.persist()
        self.clim = slices.intensity_range(self.scan)
        self.folder = Path(tempfile.mkdtemp())
        plot.preview(self.scan, clim=self.clim)[float(self.scan.z[0])]  # load Bokeh once

    def time_preview_one_slice(self) -> None:
        plot.preview(self.scan, clim=self.clim)[float(self.scan.z[10])]

    def time_intensity_range(self) -> None:
        slices.intensity_range(self.scan)

    def time_save_report(self) -> None:
        save_report(self.folder / "report.html", self.scan, slices=3)
