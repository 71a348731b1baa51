"""End to end: the seed paper's two pipelines on synthetic data, and the viewing layer.

Sizes are small enough for ``asv run --quick`` on a laptop; each pipeline is timed from
the lazy chain to its final numbers, so graph building, scheduling and the kernels all
count. Peak memory (``peakmem_*``) is the process's maximum RSS during the call.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import ClassVar

import dask

import xarray_microct  # noqa: F401  (registers the .microct verbs)
from xarray_microct import metrics, plot
from xarray_microct.report import save_report
from xarray_microct.synthetic import bead_pack, fiber_bed


class FiberPipeline:
    """fiber_bed → detect_fibers (tubeness, Otsu, per-slice centres, z-linking) → metrics."""

    params: ClassVar[list[int]] = [32, 128]
    param_names: ClassVar[list[str]] = ["edge"]
    timeout = 300

    def setup(self, edge: int) -> None:
        dask.config.set(scheduler="threads")
        scan, self.truth = fiber_bed((edge, edge, edge), seed=0, chunks=64)
        self.scan = scan.persist()

    def _run(self) -> dict:
        table = self.scan.microct.detect_fibers(radius="6.4 um")
        return metrics.object_metrics(table, self.truth.centres)

    def time_detect_and_score(self, edge: int) -> None:
        self._run()

    def peakmem_detect_and_score(self, edge: int) -> None:
        self._run()

    def track_f_score(self, edge: int) -> float:
        return float(self._run()["f_score"])


class BeadPipeline:
    """bead_pack → the bead pipeline (filter, threshold, fill, distance, watershed, label)."""

    params: ClassVar[list[int]] = [48, 96]
    param_names: ClassVar[list[str]] = ["edge"]
    timeout = 300

    def setup(self, edge: int) -> None:
        dask.config.set(scheduler="threads")
        beads, self.truth = bead_pack((edge, edge, edge), seed=0, chunks=48)
        self.beads = beads.persist()

    def time_segment_beads(self, edge: int) -> None:
        self.beads.microct.segment_beads().max().compute()

    def peakmem_segment_beads(self, edge: int) -> None:
        self.beads.microct.segment_beads().max().compute()


class Viewing:
    """Rendering one slice of a lazy volume, and writing an HTML report."""

    timeout = 300

    def setup(self) -> None:
        scan, _ = fiber_bed((64, 256, 256), seed=0, chunks=64)
        self.scan = scan.persist()
        self.clim = plot.intensity_range(self.scan)
        self.folder = Path(tempfile.mkdtemp())

    def time_preview_one_slice(self) -> None:
        plot.preview(self.scan, clim=self.clim)[float(self.scan.z[10])]

    def time_intensity_range(self) -> None:
        plot.intensity_range(self.scan)

    def time_save_report(self) -> None:
        save_report(self.folder / "report.html", self.scan, slices=3)
