"""Lazy readers for what beamlines produce: HDF5/DXchange, raw binary, TIFF stacks."""

from __future__ import annotations

import pickle

import dask
import h5py
import numpy as np
import pytest
import tifffile

import xarray_microct as mct
from xarray_microct.io.hdf5 import HDF5Source
from xarray_microct.io.raw import RawSource


@pytest.fixture
def scan() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 60000, (20, 24, 28)).astype("uint16")


# --- HDF5 / DXchange ---------------------------------------------------------------------


def write_dxchange(path, data, pixel_size=0.65, chunks=None):
    with h5py.File(path, "w") as f:
        f.create_dataset("exchange/data", data=data, chunks=chunks)
        if pixel_size is not None:
            size = f.create_dataset("measurement/instrument/detector/actual_pixel_size_x",
                                    data=pixel_size)
            size.attrs["units"] = b"microns"


@pytest.mark.parametrize("h5_chunks", [None, (5, 8, 8)])
def test_dxchange_reads_lazily_with_voxel_size(tmp_path, scan, h5_chunks):
    path = tmp_path / "scan.h5"
    write_dxchange(path, scan, chunks=h5_chunks)
    vol = mct.open_volume(path, chunks=(8, 10, 12))
    assert vol.microct.grid.spacing == pytest.approx((0.65, 0.65, 0.65))
    assert vol.microct.grid.units == "micrometer"
    assert vol.chunks == ((8, 8, 4), (10, 10, 4), (12, 12, 4))
    np.testing.assert_array_equal(vol.values, scan)
    record = vol.attrs["microct_provenance"][-1]
    assert record["op"] == "open_volume" and record["params"]["format"] == "hdf5"


def test_hdf5_reads_only_the_chunks_asked_for(tmp_path, scan, monkeypatch):
    path = tmp_path / "scan.h5"
    write_dxchange(path, scan)
    vol = mct.open_volume(path, chunks=10)
    reads = []
    original = HDF5Source.__getitem__

    def spy(self, key):
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(HDF5Source, "__getitem__", spy)
    corner = vol[:5, :5, :5].values
    np.testing.assert_array_equal(corner, scan[:5, :5, :5])
    assert len(reads) == 1
    assert all(s.stop - s.start <= 10 for s in reads[0])


def test_hdf5_graph_pickles_without_an_open_file(tmp_path, scan):
    path = tmp_path / "scan.h5"
    write_dxchange(path, scan)
    vol = mct.open_volume(path)
    graph = dict(vol.data.__dask_graph__())
    assert not any(isinstance(v, (h5py.File, h5py.Dataset)) for v in graph.values())
    copy = pickle.loads(pickle.dumps(vol.data))  # what a distributed worker receives
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(copy.compute(), scan)


def test_hdf5_other_dataset_and_errors(tmp_path, scan):
    path = tmp_path / "recon.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("recon/volume", data=scan)
        f["recon/volume"].attrs["spacing"] = [2.0, 1.0, 1.0]
        f["recon/volume"].attrs["units"] = "um"
        f.create_dataset("flat", data=np.zeros((3, 4)))
    vol = mct.open_volume(path, dataset="/recon/volume")
    assert vol.microct.grid.spacing == (2.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"no dataset '/exchange/data'.*recon/volume"):
        mct.open_volume(path)
    with pytest.raises(ValueError, match="2-D"):
        mct.open_volume(path, dataset="/flat")
    with pytest.raises(ValueError, match="level"):
        mct.open_volume(path, dataset="/recon/volume", level=1)
    plain = tmp_path / "plain.h5"
    write_dxchange(plain, scan, pixel_size=None)
    with pytest.raises(ValueError, match="voxel size"):
        mct.open_volume(plain)
    assert mct.open_volume(plain, spacing=3.0, units="nm").microct.grid.units == "nanometer"


# --- raw -----------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["little", "big"])
def test_raw_reads_shape_dtype_byte_order_and_header(tmp_path, scan, order):
    path = tmp_path / "scan.raw"
    on_disk = scan.astype(("<" if order == "little" else ">") + "u2")
    with path.open("wb") as f:
        f.write(b"H" * 512)  # a header to skip
        f.write(on_disk.tobytes())
    vol = mct.open_volume(path, shape=scan.shape, dtype="uint16", byte_order=order,
                          offset=512, spacing=(2.0, 1.0, 1.0), units="um", chunks=7)
    assert vol.dtype == np.dtype("uint16")  # native order in memory
    np.testing.assert_array_equal(vol.values, scan)
    assert vol.microct.grid.spacing == (2.0, 1.0, 1.0)
    params = vol.attrs["microct_provenance"][-1]["params"]
    assert params["format"] == "raw" and params["byte_order"] == order


def test_raw_reads_per_chunk_and_pickles(tmp_path, scan, monkeypatch):
    path = tmp_path / "scan.bin"
    scan.astype("<u2").tofile(path)
    vol = mct.open_volume(path, shape=scan.shape, dtype="<u2", spacing=1.0, units="um",
                          chunks=10)
    reads = []
    original = RawSource.__getitem__

    def spy(self, key):
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(RawSource, "__getitem__", spy)
    np.testing.assert_array_equal(vol[12:14, 0:3, 25:].values, scan[12:14, 0:3, 25:])
    assert len(reads) == 1
    copy = pickle.loads(pickle.dumps(vol.data))
    np.testing.assert_array_equal(copy.compute(), scan)


def test_raw_errors_are_clear(tmp_path, scan):
    path = tmp_path / "scan.raw"
    scan.tofile(path)
    with pytest.raises(ValueError, match="give shape="):
        mct.open_volume(path, spacing=1.0, units="um")
    with pytest.raises(ValueError, match="bytes but shape"):
        mct.open_volume(path, shape=(20, 24, 29), dtype="uint16", spacing=1.0, units="um")
    with pytest.raises(ValueError, match="big-endian but byte_order='little'"):
        mct.open_volume(path, shape=scan.shape, dtype=">u2", byte_order="little")
    with pytest.raises(ValueError, match="voxel size"):
        mct.open_volume(path, shape=scan.shape, dtype="uint16")
    with pytest.raises(TypeError, match="dtype"):
        mct.open_volume(path, shape=scan.shape, dtype="not-a-type")


# --- TIFF ----------------------------------------------------------------------------


def test_tiff_folder_and_multipage_file(tmp_path, scan):
    folder = tmp_path / "slices"
    folder.mkdir()
    for z, plane in enumerate(scan):
        tifffile.imwrite(folder / f"slice_{z}.tif", plane)
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, scan, photometric="minisblack")
    for path in (folder, stack):
        vol = mct.open_volume(path, spacing=0.65, units="um")
        np.testing.assert_array_equal(vol.values, scan)  # natural order: 2 before 10
        assert vol.dtype == scan.dtype


def test_unknown_format_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="cannot tell the format"):
        mct.open_volume(path)
