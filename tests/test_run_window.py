"""The display window of ``microct run`` results, read back from the written store."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
import zarr

import xarray_microct as mct
from xarray_microct.io import results
from xarray_microct.io.results import spread_blocks, write_volume


class ChunkFailed(Exception):
    pass


def _window(store: Path) -> dict | None:
    attrs = zarr.open_group(str(store), mode="r").attrs["ome"]
    channels = attrs.get("omero", {}).get("channels")
    return channels[0]["window"] if channels else None


def _reference(values: np.ndarray) -> list[float]:
    return [float(np.percentile(values, q)) for q in (0, 0.1, 99.9, 100)]


def _scan(dtype: str) -> xr.DataArray:
    rng = np.random.default_rng(3)
    values = (rng.gamma(2.0, 300.0, size=(12, 20, 20))).astype(dtype)
    return mct.from_array(values, spacing=0.5, chunks=(4, 10, 10), name="scan")


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_an_intensity_result_gets_the_window_of_its_values(tmp_path: Path, dtype: str) -> None:
    scan = _scan(dtype)
    write_volume(scan, tmp_path / "out.zarr")
    window = _window(tmp_path / "out.zarr")
    expected = _reference(scan.values)
    # exact for 16-bit; within one of the histogram's bins (of the range) for floats
    tolerance = 0 if dtype == "uint16" else np.ptp(scan.values) / 1000
    got = [window[k] for k in ("min", "start", "end", "max")]
    np.testing.assert_allclose(got, expected, atol=tolerance, rtol=1e-6)


def test_a_resumed_result_gets_the_window_of_every_block(tmp_path: Path) -> None:
    scan = _scan("uint16")
    peak = scan.copy(data=scan.data.copy())
    peak.data[0, 0, 0] = 60000  # in the block stored before the failure only
    out = tmp_path / "out.zarr"

    def fail(block, block_info=None):
        if block_info[0]["chunk-location"] == (2, 1, 1):
            raise ChunkFailed("disk full")
        return block

    failing = peak.copy(data=peak.data.map_blocks(fail, dtype=peak.dtype))
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(failing, out, metadata={"step": "copy"})
    write_volume(peak, out, metadata={"step": "copy"}, resume=True)
    assert results.run_state(out)["chunks_written"] < 12
    assert _window(out)["max"] == 60000


def test_labels_and_masks_get_no_window(tmp_path: Path) -> None:
    scan = _scan("float32")
    write_volume(scan > 600, tmp_path / "mask.zarr")
    labels = (scan > 600).microct.label()
    write_volume(labels, tmp_path / "labels.zarr")
    assert _window(tmp_path / "mask.zarr") is None
    assert _window(tmp_path / "labels.zarr") is None


def test_a_large_result_is_sampled_by_blocks_spread_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scan = _scan("uint16")  # 3 x 2 x 2 blocks of 800 bytes
    monkeypatch.setattr(results, "WINDOW_SAMPLE_BYTES", 3 * 800)
    sample = spread_blocks(scan.data, results.WINDOW_SAMPLE_BYTES)
    assert sample.numblocks == (1, 1, 1)
    np.testing.assert_array_equal(sample.compute(), scan.values[4:8, :10, :10])
    write_volume(scan, tmp_path / "out.zarr")
    window = _window(tmp_path / "out.zarr")
    expected = _reference(scan.values[4:8, :10, :10])
    assert [window[k] for k in ("min", "start", "end", "max")] == expected


def test_spread_blocks_keeps_every_block_within_the_budget() -> None:
    data = mct.from_array(np.zeros((8, 8, 8), "uint8"), spacing=1.0, chunks=2).data
    assert spread_blocks(data, data.nbytes).numblocks == (4, 4, 4)
    assert spread_blocks(data, 1).numblocks == (1, 1, 1)
