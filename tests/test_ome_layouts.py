"""OME-Zarr layouts written by other tools: spatial axes in another order, singleton
time and channel axes (ome-zarr-py, bioformats2raw), and bioformats2raw's root of image
series. Each store is written here with zarr alone, as the other tool lays it out."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import zarr

import xarray_microct as mct
from xarray_microct.io.ome import open_pyramid


def _write_image(
    group: zarr.Group, data: np.ndarray, axes: str, scale: dict[str, float], chunks=None
) -> None:
    """One level ``0`` of ``data`` (its axes named by the letters of ``axes``), the
    spatial axes in micrometres, NGFF 0.4 metadata on ``group``."""
    group.create_array("0", data=data, chunks=chunks or data.shape)
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": [
                {"name": a, "type": "space", "unit": "micrometer"}
                if a in "zyx"
                else {"name": a, "type": "time" if a == "t" else "channel"}
                for a in axes
            ],
            "datasets": [
                {
                    "path": "0",
                    "coordinateTransformations": [
                        {"type": "scale", "scale": [scale.get(a, 1.0) for a in axes]}
                    ],
                }
            ],
        }
    ]


def _scan(seed: int = 0) -> np.ndarray:
    """A (z, y, x) = (6, 8, 10) volume of distinct values."""
    return np.random.default_rng(seed).permutation(480).reshape(6, 8, 10).astype(np.uint16)


@pytest.mark.parametrize("order", ["xyz", "yxz", "zxy"])
def test_spatial_axes_in_another_order_are_read_as_z_y_x(tmp_path: Path, order: str):
    scan = _scan()
    stored = np.transpose(scan, ["zyx".index(a) for a in order])
    store = tmp_path / "other.ome.zarr"
    _write_image(
        zarr.open_group(str(store), mode="w", zarr_format=2),
        stored,
        order,
        {"z": 2.0, "y": 1.0, "x": 0.5},
    )
    volume = mct.open_volume(store)
    assert volume.dims == ("z", "y", "x")
    np.testing.assert_array_equal(volume.values, scan)
    assert volume.microct.grid.spacing == (2.0, 1.0, 0.5)
    np.testing.assert_allclose(volume["x"].values, 0.5 * np.arange(10))
    # chunks are given in the volume's order whatever the store's
    chunked = mct.open_volume(store, chunks=(3, 4, 5))
    assert chunked.data.chunksize == (3, 4, 5)
    np.testing.assert_array_equal(chunked.values, scan)


def test_singleton_time_and_channel_axes_are_dropped(tmp_path: Path):
    scan = _scan(1)
    store = tmp_path / "tczyx.ome.zarr"
    _write_image(zarr.open_group(str(store), mode="w"), scan[None, None], "tczyx", {"z": 0.65})
    volume = mct.open_volume(store)
    assert volume.dims == ("z", "y", "x")
    np.testing.assert_array_equal(volume.values, scan)
    chunked = mct.open_volume(store, chunks=(3, 4, 5))  # the spatial axes' chunks only
    assert chunked.data.chunksize == (3, 4, 5)
    (level,) = open_pyramid(store)["scale0"].data_vars.values()
    assert level.dims == ("t", "c", "z", "y", "x")  # the pyramid as stored


def test_several_channels_are_kept(tmp_path: Path):
    scans = np.stack([_scan(1), _scan(2)])
    store = tmp_path / "czyx.ome.zarr"
    _write_image(zarr.open_group(str(store), mode="w"), scans, "czyx", {})
    volume = mct.open_volume(store)
    assert volume.dims == ("c", "z", "y", "x")
    np.testing.assert_array_equal(volume.isel(c=1).values, scans[1])


def _bioformats2raw(store: Path, series: int) -> None:
    root = zarr.open_group(str(store), mode="w")
    root.attrs["bioformats2raw.layout"] = 3
    for index in range(series):
        _write_image(root.create_group(str(index)), _scan(index)[None, None], "tczyx", {})
    root.create_group("OME").attrs["series"] = [str(i) for i in range(series)]


def test_a_bioformats2raw_root_opens_its_only_series(tmp_path: Path):
    store = tmp_path / "b2r.ome.zarr"
    _bioformats2raw(store, 1)
    np.testing.assert_array_equal(mct.open_volume(store).values, _scan(0))


def test_a_bioformats2raw_root_of_several_series_names_them(tmp_path: Path):
    store = tmp_path / "b2r.ome.zarr"
    _bioformats2raw(store, 2)
    with pytest.raises(ValueError, match=r"2 images .*series 0, 1.*b2r.ome.zarr/0"):
        mct.open_volume(store)
    np.testing.assert_array_equal(mct.open_volume(store / "1").values, _scan(1))


def test_info_shows_the_only_series_of_a_bioformats2raw_root(tmp_path: Path):
    from xarray_microct.cli import store_info

    store = tmp_path / "b2r.ome.zarr"
    _bioformats2raw(store, 1)
    info = store_info(store)
    assert info["kind"] == "ome-zarr" and info["path"].endswith("b2r.ome.zarr/0")
    assert info["levels"][0]["shape"] == [1, 1, 6, 8, 10]


@pytest.mark.parametrize("step", [0.0, -1.0])
def test_a_scale_that_is_not_positive_is_refused_naming_the_metadata(tmp_path: Path, step):
    # was: "coordinate 'y' must increase, got a step of 0.0", the store's scale unnamed
    store = tmp_path / "bad.ome.zarr"
    _write_image(
        zarr.open_group(str(store), mode="w", zarr_format=2),
        _scan(),
        "zyx",
        {"z": 2.0, "y": step, "x": 0.5},
    )
    scale = re.escape(str([2.0, step, 0.5]))
    match = rf"level 0 \('0'\) states a scale of {step:g} along y in its multiscales "
    with pytest.raises(ValueError, match=match + r"coordinateTransformations .*" + scale):
        mct.open_volume(store)
    with pytest.raises(ValueError, match=match):
        open_pyramid(store)
