"""asv benchmarks: fiber detection, the fiber pipeline and its scores (128³ bed)."""

from __future__ import annotations

import xarray_microct as mct
from xarray_microct.metrics import object_metrics
from xarray_microct.pipelines import fibers
from xarray_microct.synthetic import fiber_bed
from xarray_microct.synthetic.fibers import _render_fibers


class FiberPipeline:
    """End-to-end fiber pipeline on a synthetic bed held in memory."""

    timeout = 300

    def setup(self) -> None:
        self.volume, self.truth = fiber_bed((128, 128, 128), seed=0, chunks=64)
        self.volume = self.volume.persist()
        self.table = fibers(self.volume)

    def time_pipeline(self) -> None:
        fibers(self.volume)

    def peakmem_pipeline(self) -> None:
        fibers(self.volume)

    def time_object_metrics(self) -> None:
        object_metrics(self.table, self.truth.centres, like=self.volume, margin=6.4)

    def time_fiber_summary(self) -> None:
        mct.fiber_summary(self.table)


class DetectOnMask:
    """Detection alone, on a boolean segmentation (distance-map seeds)."""

    timeout = 300

    def setup(self) -> None:
        volume, truth = fiber_bed((128, 128, 128), seed=0, noise=0)
        occupancy = _render_fibers(volume.shape, (1.3,) * 3, truth.fibers) >= 0.5
        self.mask = mct.from_array(occupancy, spacing=1.3, chunks=64).persist()

    def time_detect_fibers(self) -> None:
        self.mask.microct.detect_fibers()

    def peakmem_detect_fibers(self) -> None:
        self.mask.microct.detect_fibers()
