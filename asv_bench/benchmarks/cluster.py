"""asv: ``microct run`` end to end (threaded scheduler) and the fiber pipeline's graph size."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import dask
import numpy as np
import yaml

import xarray_microct as mct
from xarray_microct.pipelines import fibers
from xarray_microct.runner import run_pipeline
from xarray_microct.synthetic import fiber_bed


class RunPipeline:
    """A pipeline file (median → tubeness → normalize) from Zarr to Zarr, resumable writer."""

    timeout = 300

    def setup(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="asv-run-"))
        bed, _ = fiber_bed((64, 128, 128), seed=2, chunks=64)
        bed.rename("scan").to_zarr(self.folder / "scan.zarr")
        steps = [
            {"op": "median", "params": {"radius": "1 voxel"}},
            {"op": "tubeness", "params": {"sigma": "3.8 um"}},
            {"op": "normalize", "params": {}},
        ]
        self.pipeline = self.folder / "pipeline.yaml"
        self.pipeline.write_text(yaml.safe_dump({"steps": steps}))

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self) -> None:
        run_pipeline(self.pipeline, self.folder / "scan.zarr", self.folder / "out.zarr",
                     overwrite=True, progress=False, echo=lambda line: None)

    def time_run_threads(self) -> None:
        self._run()

    def peakmem_run_threads(self) -> None:
        self._run()


class FiberGraph:
    """Tasks per input chunk of every graph the whole fiber pipeline runs."""

    def setup(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="asv-graph-"))
        bed, _ = fiber_bed((64, 96, 96), seed=2, chunks=32)
        bed.rename("scan").to_zarr(self.folder / "bed.zarr")
        self.volume = mct.open_volume(self.folder / "bed.zarr")

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def track_tasks_per_chunk(self) -> float:
        sizes: list[int] = []

        def capture(dsk, keys, **kwargs):
            graph = dsk.__dask_graph__() if hasattr(dsk, "__dask_graph__") else dsk
            sizes.append(len(dict(graph)))
            return dask.threaded.get(dsk, keys, **kwargs)

        with dask.config.set(scheduler=capture):
            fibers(self.volume)
        return sum(sizes) / int(np.prod(self.volume.data.numblocks))

    track_tasks_per_chunk.unit = "tasks/chunk"
