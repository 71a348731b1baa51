"""The run state a store of ``microct run`` shows while it is written, and after."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import zarr

import xarray_microct as mct
from xarray_microct.io import results
from xarray_microct.io.results import open_result, run_state, write_volume


class ChunkFailed(Exception):
    pass


def _volume():
    rng = np.random.default_rng(1)
    return mct.from_array(rng.random((8, 8, 8)), spacing=1.0, chunks=4, name="scan")


def _failing_on_first_block(volume):
    def fail(block, block_info=None):
        if block_info[0]["chunk-location"] == (0, 0, 0):
            raise ChunkFailed("disk full")
        return block

    return volume.copy(data=volume.data.map_blocks(fail, dtype=volume.dtype))


def test_a_resumed_run_says_it_is_running_until_it_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = _volume()
    out = tmp_path / "out.zarr"
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(volume), out, metadata={"step": "copy"})
    failed = run_state(out)
    assert failed["status"] == "failed" and "disk full" in failed["error"]

    seen = []
    compute = results.compute

    def watching(collections, client, progress):
        seen.append(run_state(out))  # what a `microct info` shows while the chunks compute
        return compute(collections, client, progress)

    monkeypatch.setattr(results, "compute", watching)
    write_volume(volume, out, metadata={"step": "copy"}, resume=True)
    (running,) = seen
    assert running["status"] == "incomplete"  # not the old "failed"
    assert "error" not in running and "stopped" not in running
    assert running["started"] == failed["started"] and running["resumed"] >= failed["stopped"]
    done = run_state(out)
    assert done["status"] == "complete" and done["resumed"] == running["resumed"]
    assert 1 <= done["chunks_written"] < 8  # the chunks stored before the failure are kept
    np.testing.assert_array_equal(open_result(out).values, volume.values)


def test_a_run_an_earlier_version_started_resumes_where_it_is(tmp_path: Path) -> None:
    """Earlier versions put the result's array in ``scale0`` (now ``0``): a resume
    finishes it there, keeping the chunks already stored."""
    volume = _volume()
    out = tmp_path / "out.zarr"
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(volume), out, metadata={"step": "copy"})
    (out / results.LEVEL).rename(out / results.EARLIER_LEVEL)
    zarr.consolidate_metadata(str(out))
    write_volume(volume, out, metadata={"step": "copy"}, resume=True)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [results.EARLIER_LEVEL]
    assert 1 <= run_state(out)["chunks_written"] < 8
    np.testing.assert_array_equal(open_result(out).values, volume.values)
