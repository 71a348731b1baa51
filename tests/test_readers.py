"""Lazy readers for what beamlines produce: HDF5/DXchange, raw binary, TIFF stacks."""

from __future__ import annotations

import pickle

import dask
import h5py
import numpy as np
import pytest
import tifffile

import xarray_microct as mct
from xarray_microct.cli import main
from xarray_microct.io import TiffLayoutError, tiff
from xarray_microct.io.hdf5 import HDF5Source
from xarray_microct.io.raw import RawSource
from xarray_microct.testing import raise_if_dask_computes


@pytest.fixture
def scan() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 60000, (20, 24, 28)).astype("uint16")


# --- HDF5 / DXchange ---------------------------------------------------------------------


def write_dxchange(path, data, pixel_size=0.65, chunks=None, z_size="same"):
    """A DXchange file of ``pixel_size`` (y, x) and ``z_size`` (z: the same by default,
    None: not written) in microns."""
    z_size = pixel_size if z_size == "same" else z_size
    with h5py.File(path, "w") as f:
        f.create_dataset("exchange/data", data=data, chunks=chunks)
        for axis, value in (("x", pixel_size), ("y", z_size)):
            if value is not None:
                size = f.create_dataset(
                    f"measurement/instrument/detector/actual_pixel_size_{axis}", data=value
                )
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


def _spy_on_reads(source: type, monkeypatch) -> list:
    """The keys every later read of a ``source`` reader asks for, in order."""
    reads = []
    original = source.__getitem__

    def spy(self, key):
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(source, "__getitem__", spy)
    return reads


def test_hdf5_reads_only_the_chunks_asked_for(tmp_path, scan, monkeypatch):
    path = tmp_path / "scan.h5"
    write_dxchange(path, scan)
    vol = mct.open_volume(path, chunks=10)
    reads = _spy_on_reads(HDF5Source, monkeypatch)
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


def test_dxchange_sample_plane_pixel_sizes_give_z_and_yx(tmp_path, scan):
    path = tmp_path / "recon.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("exchange/data", data=scan)
        detector = f.create_group("measurement/instrument/detector")
        detector.create_dataset("pixel_size_x", data=6.5).attrs["units"] = "um"  # camera
        detector.create_dataset("actual_pixel_size_x", data=650.0).attrs["units"] = "nm"
        detector.create_dataset("actual_pixel_size_y", data=0.7).attrs["units"] = "um"
    grid = mct.open_volume(path).microct.grid
    assert grid.units == "nanometer"
    assert grid.spacing == pytest.approx((700.0, 650.0, 650.0))


def test_dxchange_objective_resolution(tmp_path, scan):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("exchange/data", data=scan)
        resolution = f.create_dataset(
            "measurement/instrument/detection_system/objective/resolution", data=[1.3]
        )
        resolution.attrs["units"] = np.bytes_(b"microns")
    grid = mct.open_volume(path).microct.grid
    assert grid.spacing == pytest.approx((1.3, 1.3, 1.3)) and grid.units == "micrometer"


def test_dxchange_pixel_size_without_units_is_not_guessed(tmp_path, scan):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("exchange/data", data=scan)
        f.create_dataset("measurement/instrument/detector/actual_pixel_size_x", data=0.65)
    with pytest.raises(ValueError, match=r"actual_pixel_size_x has no 'units'.*spacing="):
        mct.open_volume(path)
    vol = mct.open_volume(path, spacing=0.65, units="um")
    assert vol.microct.grid.spacing == pytest.approx((0.65, 0.65, 0.65))


def test_units_alone_convert_the_stated_spacing(tmp_path, scan):
    path = tmp_path / "scan.h5"
    write_dxchange(path, scan)  # 0.65 microns
    grid = mct.open_volume(path, units="nm").microct.grid
    assert (grid.spacing, grid.units) == ((650.0, 650.0, 650.0), "nanometer")


@pytest.mark.parametrize("fmt", ["hdf5", "raw", "tiff"])
def test_spacing_without_units_says_units_are_missing(tmp_path, scan, fmt):
    if fmt == "hdf5":
        path, options = tmp_path / "scan.h5", {}
        write_dxchange(path, scan)
    elif fmt == "raw":
        path, options = tmp_path / "scan.raw", {"shape": scan.shape, "dtype": "uint16"}
        scan.tofile(path)
    else:
        path, options = tmp_path / "scan.tif", {}
        tifffile.imwrite(path, scan, photometric="minisblack")
    with pytest.raises(ValueError, match=r"spacing=0\.65 was given without units="):
        mct.open_volume(path, spacing=0.65, **options)


# --- raw -----------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["little", "big"])
def test_raw_reads_shape_dtype_byte_order_and_header(tmp_path, scan, order):
    path = tmp_path / "scan.raw"
    on_disk = scan.astype(("<" if order == "little" else ">") + "u2")
    with path.open("wb") as f:
        f.write(b"H" * 512)  # a header to skip
        f.write(on_disk.tobytes())
    vol = mct.open_volume(
        path,
        shape=scan.shape,
        dtype="uint16",
        byte_order=order,
        offset=512,
        spacing=(2.0, 1.0, 1.0),
        units="um",
        chunks=7,
    )
    assert vol.dtype == np.dtype("uint16")  # native order in memory
    np.testing.assert_array_equal(vol.values, scan)
    assert vol.microct.grid.spacing == (2.0, 1.0, 1.0)
    params = vol.attrs["microct_provenance"][-1]["params"]
    assert params["format"] == "raw" and params["byte_order"] == order


def test_raw_reads_per_chunk_and_pickles(tmp_path, scan, monkeypatch):
    path = tmp_path / "scan.bin"
    scan.astype("<u2").tofile(path)
    vol = mct.open_volume(path, shape=scan.shape, dtype="<u2", spacing=1.0, units="um", chunks=10)
    reads = _spy_on_reads(RawSource, monkeypatch)
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
    with pytest.raises(FileNotFoundError):
        mct.open_volume(tmp_path / "missing.h5")


def write_slices(folder, scan, **options):
    folder.mkdir()
    for z, plane in enumerate(scan):
        tifffile.imwrite(folder / f"slice_{z}.tif", plane, **options)


def test_ome_tiff_physical_sizes_and_units(tmp_path, scan):
    path = tmp_path / "scan.ome.tif"
    sizes = {
        "PhysicalSizeX": 650.0,
        "PhysicalSizeXUnit": "nm",
        "PhysicalSizeY": 650.0,
        "PhysicalSizeYUnit": "nm",
        "PhysicalSizeZ": 1.3,
        "PhysicalSizeZUnit": "µm",
    }
    tifffile.imwrite(path, scan, ome=True, metadata={"axes": "ZYX", **sizes})
    vol = mct.open_volume(path)
    assert vol.microct.grid.units == "nanometer"
    assert vol.microct.grid.spacing == pytest.approx((1300.0, 650.0, 650.0))
    np.testing.assert_array_equal(vol.values, scan)


def test_ome_tiff_slices_state_their_z_spacing(tmp_path, scan):
    folder = tmp_path / "slices"
    sizes = {"PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65, "PhysicalSizeZ": 2.0}  # µm
    write_slices(folder, scan, ome=True, metadata={"axes": "YX", **sizes})
    grid = mct.open_volume(folder).microct.grid
    assert (grid.spacing, grid.units) == ((2.0, 0.65, 0.65), "micrometer")


def test_imagej_stack_without_spacing_is_one_unit_deep(tmp_path, scan):
    # ImageJ writes spacing= only when the voxel depth is not 1, and reads its absence so
    path = tmp_path / "stack.tif"
    tifffile.imwrite(
        path, scan, imagej=True, resolution=(2.0, 2.0), metadata={"unit": "um", "axes": "ZYX"}
    )
    assert mct.open_volume(path).microct.grid.spacing == (1.0, 0.5, 0.5)


@pytest.mark.parametrize(
    "resolution",
    [
        (1 / 0.65, 1 / 0.65),  # tifffile: the float's rational
        ((1538461, 1000000), (1538461, 1000000)),  # ImageJ: int(1e6 / 0.65) over 1e6
    ],
)
def test_imagej_pixel_size_reads_as_the_decimal_written(tmp_path, scan, resolution):
    path = tmp_path / "stack.tif"
    metadata = {"unit": "um", "axes": "ZYX", "spacing": 2.6}
    tifffile.imwrite(path, scan, imagej=True, resolution=resolution, metadata=metadata)
    vol = mct.open_volume(path)
    # was 0.6499999999999999 (the mean step of the coordinates) or 0.6500000325
    assert vol.microct.grid.spacing == (2.6, 0.65, 0.65)
    assert vol.x.attrs["spacing"] == 0.65 and float(vol.x[3]) == pytest.approx(1.95)
    record = vol.microct.gaussian(sigma="1.3 um").attrs["microct_provenance"][-1]
    assert record["resolved"]["sigma"] == [0.5, 2.0, 2.0]


def test_calibrated_slices_without_z_spacing_are_refused(tmp_path, scan):
    folder = tmp_path / "slices"
    write_slices(folder, scan, imagej=True, resolution=(2.0, 2.0), metadata={"unit": "um"})
    # the message gives the spacing to pass, the stated y, x filled in (was: (dz, dy, dx))
    message = (
        r"state y, x spacing \(0\.5, 0\.5 micrometer\) but not z.*"
        r"spacing=\(dz, 0\.5, 0\.5\), units='micrometer'.*--spacing DZ 0\.5 0\.5"
    )
    with pytest.raises(ValueError, match=message):
        mct.open_volume(folder)
    grid = mct.open_volume(folder, spacing=(3.0, 0.5, 0.5), units="um").microct.grid
    assert grid.spacing == (3.0, 0.5, 0.5)


def test_uncalibrated_slice_folder_is_refused_without_spacing(tmp_path, scan):
    folder = tmp_path / "slices"
    write_slices(folder, scan)
    with pytest.raises(ValueError, match=r"does not state its voxel size.*spacing="):
        mct.open_volume(folder)


# --- TIFF: what is not one page per slice is read by its axes, or refused -------------


def coded(depth: int, plane=(8, 9)) -> np.ndarray:
    """A stack whose slice z holds z (and its own noise): any slice read from elsewhere,
    twice or out of order shows."""
    noise = np.random.default_rng(depth).integers(0, 50, (depth, *plane))
    return (np.arange(depth)[:, None, None] * 100 + noise).astype("uint16")


@pytest.mark.parametrize(
    "options", [{}, {"compression": "zlib"}, {"byteorder": ">"}], ids=["plain", "zlib", "big"]
)
@pytest.mark.parametrize("depths", [(4, 4, 4), (5, 5, 1)])
def test_folder_of_stacks_is_joined_along_z(tmp_path, monkeypatch, depths, options):
    # was: the first page of each file (3 slices: 0, 4, 8)
    truth = coded(sum(depths))
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate(np.cumsum((0, *depths[:-1]))):
        part = truth[start : start + depths[i]]
        tifffile.imwrite(folder / f"part_{i}.tif", part, photometric="minisblack", **options)
    vol = mct.open_volume(folder, spacing=1, units="um")
    np.testing.assert_array_equal(vol.values, truth)
    monkeypatch.setattr(tiff, "_SLAB", 3)  # tasks across the files' ends
    small = mct.open_volume(folder, spacing=1, units="um", chunks=(2, 8, 9))
    np.testing.assert_array_equal(small.values, truth)


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda p, v: tifffile.imwrite(p, v, metadata={"axes": "CZYX"}), id="ome-czyx"),
        pytest.param(
            lambda p, v: tifffile.imwrite(
                p,
                np.ascontiguousarray(v.swapaxes(0, 1)),
                imagej=True,
                metadata={"axes": "ZCYX"},
            ),
            id="imagej-zcyx",
        ),
        pytest.param(
            lambda p, v: tifffile.imwrite(p, v, imagej=True, metadata={"axes": "TZYX"}),
            id="imagej-tzyx",
        ),
    ],
)
def test_more_than_one_channel_or_time_point_is_refused(tmp_path, write):
    # was: the channels (or time points) read as more z-slices, interleaved for ZCYX
    path = tmp_path / "two.ome.tif"
    write(path, np.stack([coded(6), coded(6) + 1]))
    with pytest.raises(TiffLayoutError, match=r"two\.ome\.tif holds an image of axes .* = 2"):
        mct.open_volume(path, spacing=1, units="um")
    with pytest.raises(ValueError, match=r"tifffile\.imread\(path\)\[(0|:, 0)\]"):
        mct.open_volume(path, spacing=1, units="um")


def test_time_points_without_slices_are_refused_with_how_to_make_them_slices(tmp_path):
    # a stack saved in ImageJ as frames: was read as the volume, silently
    path = tmp_path / "frames.tif"
    tifffile.imwrite(path, coded(6), imagej=True, metadata={"axes": "TYX"})
    message = r"T \(time\) = 6: .* if its time points are the z-slices, save them as slices"
    with pytest.raises(TiffLayoutError, match=message):
        mct.open_volume(path, spacing=1, units="um")


def test_channel_and_time_axes_of_size_one_are_dropped(tmp_path):
    truth = coded(6)
    path = tmp_path / "hyper.tif"
    metadata = {"axes": "TZCYX", "spacing": 2.0, "unit": "um"}
    tifffile.imwrite(
        path, truth[None, :, None], imagej=True, resolution=(2.0, 2.0), metadata=metadata
    )
    vol = mct.open_volume(path)
    np.testing.assert_array_equal(vol.values, truth)
    assert vol.microct.grid.spacing == (2.0, 0.5, 0.5)


@pytest.mark.parametrize("other", ["mask", "thumbnail"])
def test_other_images_in_the_file_are_left_out_with_a_warning(tmp_path, other):
    # was: a mask read as more slices (24), a thumbnail: "incompatible keyframe" mid-run
    truth = coded(12)
    path = tmp_path / "scan.tif"
    tifffile.imwrite(path, truth, photometric="minisblack")
    extra = np.ones_like(truth) if other == "mask" else np.ones((3, 3), "uint16")
    tifffile.imwrite(path, extra, append=True, photometric="minisblack")
    with pytest.warns(UserWarning, match=r"scan\.tif holds other images .* left out.*image 1"):
        vol = mct.open_volume(path, spacing=1, units="um")
    np.testing.assert_array_equal(vol.values, truth)


def test_imagej_stack_with_one_page_header_reads_every_slice(tmp_path):
    # ImageJ writes stacks over 4 GB with one page header: was read as 1 slice
    truth = coded(7)
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, truth, imagej=True, truncate=True, metadata={"axes": "ZYX"})
    np.testing.assert_array_equal(mct.open_volume(path, spacing=1, units="um").values, truth)


def write_numbered(folder, stack, pattern="rec_{:04d}.tif"):
    folder.mkdir()
    for z, plane in enumerate(stack):
        tifffile.imwrite(folder / pattern.format(z), plane)


def test_stray_files_of_a_slice_folder_are_left_out_by_name(tmp_path):
    # was: a smaller preview failed mid-run naming no file; a same-size flat field was a
    # slice; a macOS "._" file: "not a TIFF file" naming no file
    truth = coded(10)
    folder = tmp_path / "slices"
    write_numbered(folder, truth)
    tifffile.imwrite(folder / "rec_preview.tif", np.zeros((4, 4), "uint16"))
    tifffile.imwrite(folder / "rec_flatfield.tif", np.full((8, 9), 999, "uint16"))
    (folder / "._rec_0001.tif").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    (folder / "log.txt").write_text("not a slice")
    with pytest.warns(UserWarning) as caught:
        vol = mct.open_volume(folder, spacing=1, units="um")
    message = "\n".join(str(w.message) for w in caught)
    assert "10 files named rec_*.tif" in message
    assert "rec_flatfield.tif, rec_preview.tif" in message and "._rec" not in message
    np.testing.assert_array_equal(vol.values, truth)


@pytest.mark.parametrize("odd", ["smaller", "float", "not-a-tiff", "no-pages", "two-channels"])
def test_a_slice_unlike_the_others_is_refused_by_name_before_any_read(tmp_path, monkeypatch, odd):
    # was: an error mid-run naming no file (or a traceback), after reading the slices
    folder = tmp_path / "slices"
    write_numbered(folder, coded(10))
    bad = folder / "rec_0007.tif"
    if odd == "smaller":
        tifffile.imwrite(bad, np.zeros((4, 4), "uint16"))
    elif odd == "float":
        tifffile.imwrite(bad, np.zeros((8, 9), "float32"))
    elif odd == "not-a-tiff":
        bad.write_bytes(b"GIF89a" + bytes(40))
    elif odd == "no-pages":
        bad.write_bytes(b"II*\x00\x00\x00\x00\x00")
    else:
        tifffile.imwrite(bad, np.zeros((2, 8, 9), "uint16"), metadata={"axes": "CYX"})
    reads = []
    monkeypatch.setattr(tiff, "_read_planes", lambda *args: reads.append(args))
    with raise_if_dask_computes(), pytest.raises(TiffLayoutError, match=r"rec_0007\.tif"):
        mct.open_volume(folder, spacing=1, units="um")
    assert reads == []


def test_tiff_without_pages_is_a_clear_error(tmp_path):
    # was: IndexError from tif.pages[0]
    path = tmp_path / "cut.tif"
    path.write_bytes(b"II*\x00\x00\x00\x00\x00")  # a header whose first page never came
    with pytest.raises(TiffLayoutError, match=r"cut\.tif holds no image"):
        mct.open_volume(path, spacing=1, units="um")


def test_folder_slices_and_stacks_mixed_or_ambiguous_names_are_refused(tmp_path):
    mixed = tmp_path / "mixed"
    write_numbered(mixed, coded(4))
    tifffile.imwrite(mixed / "rec_0000.tif", coded(3), photometric="minisblack")
    with pytest.raises(TiffLayoutError, match=r"mixes single slices \(rec_0001\.tif\)"):
        mct.open_volume(mixed, spacing=1, units="um")
    two = tmp_path / "two"
    write_numbered(two, coded(3), "a_{}.tif")
    for z in range(3):
        tifffile.imwrite(two / f"b_{z}.tif", coded(1)[0])
    with pytest.raises(TiffLayoutError, match=r"cannot tell which .* a_\*\.tif \(3 files\)"):
        mct.open_volume(two, spacing=1, units="um")


def test_folder_of_multi_file_ome_tiff_reads_each_file_once(tmp_path):
    # each file of a multi-file OME-TIFF describes the whole dataset: read as a series
    # spanning the files, a folder of N of them would be N × N slices; its first file
    # alone is the dataset (was: 1 slice, that file's own page)
    folder = tmp_path / "multifile"
    folder.mkdir()
    truth = coded(3)
    planes = "".join(
        f'<TiffData FirstZ="{z}" IFD="0" PlaneCount="1"><UUID FileName="s_{z}.ome.tif">'
        f"urn:uuid:{z:08d}</UUID></TiffData>"
        for z in range(3)
    )
    for z, plane in enumerate(truth):
        xml = (
            '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" '
            f'UUID="urn:uuid:{z:08d}"><Image ID="Image:0"><Pixels ID="Pixels:0" '
            'DimensionOrder="XYZCT" Type="uint16" SizeX="9" SizeY="8" SizeZ="3" SizeC="1" '
            'SizeT="1" PhysicalSizeX="0.5" PhysicalSizeY="0.5" PhysicalSizeZ="2">'
            f'<Channel ID="Channel:0:0" SamplesPerPixel="1"/>{planes}</Pixels></Image></OME>'
        )
        tifffile.imwrite(folder / f"s_{z}.ome.tif", plane, description=xml, metadata=None)
    for path in (folder, folder / "s_0.ome.tif"):  # the first file alone: the dataset
        vol = mct.open_volume(path)
        np.testing.assert_array_equal(vol.values, truth)
        assert vol.microct.grid.spacing == (2.0, 0.5, 0.5)
    # a file of the dataset missing: tifffile zero-fills its slices; refused instead
    (folder / "s_2.ome.tif").unlink()
    with pytest.raises(TiffLayoutError, match=r"1 of the 3 slices .* missing"):
        mct.open_volume(folder / "s_0.ome.tif")


# --- a voxel size stated in the file, given again -----------------------------------------


def write_h5_spacing(path, data, spacing, units="um"):
    with h5py.File(path, "w") as f:
        f["v"] = data
        f["v"].attrs["spacing"] = np.asarray(spacing)
        f["v"].attrs["units"] = units


@pytest.mark.parametrize("spacing", [[2.0, 0.5], [1, 2, 3, 4], [[2.0, 1.0, 1.0]]])
def test_an_hdf5_spacing_attribute_of_other_than_one_or_three_values_is_refused(
    tmp_path, scan, spacing
):
    # was: [2, 0.5] read as (2, 2, 2), [1, 2, 3, 4] as (1, 1, 1), [[2, 1, 1]] a TypeError
    path = tmp_path / "scan.h5"
    write_h5_spacing(path, scan, spacing)
    with pytest.raises(
        ValueError,
        match=r"attribute 'spacing' of 'v' holds .*not one \(all "
        r"axes\) or three \(dz, dy, dx\)",
    ):
        mct.open_volume(path, dataset="v")


@pytest.mark.parametrize("labels", ["xyz", "zxy"])
def test_an_hdf5_spacing_attribute_refused_names_the_stored_order(tmp_path, scan, labels):
    # was: "three (dz, dy, dx)" and "[dz, dy, dx]" whatever order the labels gave, while
    # the three values are read in the stored order
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f["v"] = scan.transpose(["zyx".index(axis) for axis in labels])
        for index, axis in enumerate(labels):
            f["v"].dims[index].label = axis
        f["v"].attrs["spacing"] = [2.6, 0.65]
        f["v"].attrs["units"] = "micrometer"
    named = ", ".join(f"d{axis}" for axis in labels)
    with pytest.raises(ValueError) as refused:
        mct.open_volume(path, dataset="v")
    message = str(refused.value)
    assert f"not one (all axes) or three ({named}, in the dataset's stored order" in message
    assert f".attrs['spacing'] = [{named}])" in message
    assert "dz, dy, dx" not in message


@pytest.mark.parametrize("labels", ["xyz", "zxy", "yzx"])
def test_an_hdf5_dataset_labelled_in_another_order_opens_z_y_x(tmp_path, scan, labels):
    # was: the stored order labelled z, y, x, the spacing attribute on the wrong axes
    path = tmp_path / "scan.h5"
    sizes = {"z": 2.6, "y": 0.65, "x": 0.5}
    with h5py.File(path, "w") as f:
        f["v"] = scan.transpose(["zyx".index(axis) for axis in labels])
        for index, axis in enumerate(labels):
            f["v"].dims[index].label = axis.upper() if index == 0 else axis
        f["v"].attrs["spacing"] = [sizes[axis] for axis in labels]  # as stored
        f["v"].attrs["units"] = "micrometer"
    volume = mct.open_volume(path, dataset="v", chunks=(8, 12, 14))
    np.testing.assert_array_equal(volume.values, scan)
    assert volume.microct.grid.spacing == (2.6, 0.65, 0.5)
    assert volume.chunks == ((8, 8, 4), (12, 12), (14, 14))  # given z, y, x


def test_an_hdf5_dataset_of_other_dimension_labels_is_refused(tmp_path, scan):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f["v"] = scan
        for index, label in enumerate(("angle", "row", "column")):
            f["v"].dims[index].label = label
    with pytest.raises(ValueError, match=r"labels its dimensions \('angle', 'row', 'column'\)"):
        mct.open_volume(path, dataset="v", spacing=1, units="micrometer")


def test_a_4d_hdf5_dataset_says_how_to_take_one_volume(tmp_path, scan):
    # was: "a volume is 3-D (z, y, x)", with channel= too, and no way out
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f["v"] = np.stack([scan, scan])
    for pick in ({}, {"channel": 1}):
        with pytest.raises(ValueError, match=r"a channel or time point cannot be picked .*from_"):
            mct.open_volume(path, dataset="v", spacing=1, units="micrometer", **pick)


def test_a_2d_hdf5_dataset_says_how_to_make_it_a_volume(tmp_path, scan, capsys):
    # was: "take one volume out with h5py (e.g. h5py.File(path)[dataset][0]...)", a row of
    # the image, and under microct "(on the command line: --spacing, --units, --channel,
    # --time)", options that cannot help
    path = tmp_path / "slice.h5"
    with h5py.File(path, "w") as f:
        f["exchange/data"] = scan[0]
    with pytest.raises(ValueError, match=r"is 2-D \(24 × 28\): one image.*\(1, 24, 28\)"):
        mct.open_volume(path, spacing=1, units="micrometer")
    assert main(["info", str(path), "--spacing", "1", "--units", "micrometer"]) == 2
    error = capsys.readouterr().err
    assert "[()][None]" in error and "on the command line" not in error


def test_a_dxchange_pixel_size_of_different_values_is_refused(tmp_path, scan):
    # was: the first of them taken (0.65), the other left out
    path = tmp_path / "scan.h5"
    write_dxchange(path, scan, pixel_size=[0.65, 0.7])
    with pytest.raises(ValueError, match=r"actual_pixel_size_x holds 2 different pixel sizes"):
        mct.open_volume(path)
    write_dxchange(path, scan, pixel_size=[0.65, 0.65])  # the same twice: that one
    assert mct.open_volume(path).microct.grid.spacing == pytest.approx((0.65,) * 3)


def test_a_dxchange_file_without_its_z_pixel_size_asks_for_z(tmp_path, scan):
    # was: z taken equal to x (0.65), though nothing states it
    path = tmp_path / "scan.h5"
    write_dxchange(path, scan, z_size=None)
    ask = r"along z .*spacing=\(dz, 0\.65, 0\.65\), units='micrometer'"
    with pytest.raises(mct.io.MissingVoxelSizeError, match=ask):
        mct.open_volume(path)
    volume = mct.open_volume(path, spacing=(2.0, 0.65, 0.65), units="um")
    assert volume.microct.grid.spacing == (2.0, 0.65, 0.65)
    np.testing.assert_array_equal(volume.values, scan)
    with pytest.raises(
        ValueError,
        match=r"along y, x \(0\.65, 0\.65 micrometer\), not the "
        r"spacing given \(2, 2 micrometer\)",
    ):
        mct.open_volume(path, spacing=2.0, units="um")


def _stated_inputs(tmp_path, scan):
    """Files that state their voxel size, each (path, options, stated (z, y, x), unit)."""
    imagej = tmp_path / "ij.tif"
    tifffile.imwrite(
        imagej,
        scan,
        imagej=True,
        resolution=(1 / 0.65, 1 / 0.65),
        metadata={"axes": "ZYX", "spacing": 2.6, "unit": "um"},
    )
    ome = tmp_path / "scan.ome.tif"
    sizes = {
        "PhysicalSizeX": 0.25,
        "PhysicalSizeXUnit": "nm",
        "PhysicalSizeY": 0.5,
        "PhysicalSizeYUnit": "nm",
        "PhysicalSizeZ": 2.6,
        "PhysicalSizeZUnit": "nm",
    }
    tifffile.imwrite(ome, scan, ome=True, metadata={"axes": "ZYX", **sizes})
    h5 = tmp_path / "attrs.h5"
    write_h5_spacing(h5, scan, [2.0, 1.0, 1.0])
    return [
        (imagej, {}, (2.6, 0.65, 0.65), "micrometer"),
        (ome, {}, (2.6, 0.5, 0.25), "nanometer"),
        (h5, {"dataset": "v"}, (2.0, 1.0, 1.0), "micrometer"),
    ]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["imagej", "ome-tiff", "hdf5-attrs"])
def test_a_spacing_against_the_files_is_refused_and_the_same_again_passes(tmp_path, scan, which):
    # was: spacing= silently replaced the voxel size the file states
    path, options, stated, unit = _stated_inputs(tmp_path, scan)[which]
    with pytest.raises(
        ValueError,
        match=rf"states its voxel size along z, y, x \("
        rf"{stated[0]:g}, .*, not the spacing given \(9, 9, 9",
    ):
        mct.open_volume(path, spacing=9.0, units=unit, **options)
    in_pm = tuple(v * (1e6 if unit == "micrometer" else 1e3) for v in stated)
    for spacing, units in ((stated, unit), (in_pm, "pm")):  # the same, in another unit too
        volume = mct.open_volume(path, spacing=spacing, units=units, **options)
        assert volume.microct.grid.spacing == pytest.approx(spacing)
        np.testing.assert_array_equal(volume.values, scan)
        params = volume.attrs["microct_provenance"][-1]["params"]
        assert params["spacing"] == pytest.approx(list(spacing))
        assert params["units"] == ("picometer" if units == "pm" else unit)


def test_an_imagej_stack_of_default_depth_takes_the_z_given_not_its_pixel_size(tmp_path, scan):
    # was: spacing=2.6 read as (2.6, 2.6, 2.6) over the 0.65 µm pixels the file states;
    # the depth ImageJ writes no spacing= for (1 unit) is its default, which z= replaces
    path = tmp_path / "ij.tif"
    tifffile.imwrite(
        path,
        scan,
        imagej=True,
        resolution=(1 / 0.65, 1 / 0.65),
        metadata={"axes": "ZYX", "unit": "um"},
    )
    assert mct.open_volume(path).microct.grid.spacing == (1.0, 0.65, 0.65)
    with pytest.raises(
        ValueError,
        match=r"along y, x \(0\.65, 0\.65 micrometer\).*given "
        r"\(2\.6, 2\.6 micrometer\).*spacing=\(2\.6, 0\.65, ",
    ):
        mct.open_volume(path, spacing=2.6, units="um")
    volume = mct.open_volume(path, spacing=(2.6, 0.65, 0.65), units="um")
    assert volume.microct.grid.spacing == (2.6, 0.65, 0.65)


def test_slices_that_state_different_pixel_sizes_are_refused(tmp_path, scan):
    # was: read without a word when spacing= was given (the first slice's size checked)
    folder = tmp_path / "slices"
    write_slices(
        folder, scan, imagej=True, resolution=(1 / 0.65, 1 / 0.65), metadata={"unit": "um"}
    )
    tifffile.imwrite(
        folder / "slice_7.tif",
        scan[7],
        imagej=True,
        resolution=(1 / 1.3, 1 / 1.3),
        metadata={"unit": "um"},
    )
    for options in ({}, {"spacing": (2.6, 0.65, 0.65), "units": "um"}):
        with pytest.raises(
            TiffLayoutError,
            match=r"slice_7\.tif states a voxel size of y 1\.3, "
            r"x 1\.3 micrometer, while slice_0\.tif",
        ):
            mct.open_volume(folder, **options)
    tifffile.imwrite(
        folder / "slice_7.tif",
        scan[7],
        imagej=True,  # 650 nm: the same
        resolution=(1 / 650, 1 / 650),
        metadata={"unit": "nm"},
    )
    volume = mct.open_volume(folder, spacing=(2.6, 0.65, 0.65), units="um")
    np.testing.assert_array_equal(volume.values, scan)


def test_a_page_of_another_shape_amid_a_stack_is_refused(tmp_path):
    # was: left out with a warning ("a mask, a thumbnail"), the slices after it shifted
    truth = coded(6)
    path = tmp_path / "scan.tif"
    with tifffile.TiffWriter(path) as tif:
        for z, plane in enumerate(truth):
            tif.write(plane[:4] if z == 3 else plane, contiguous=False, metadata=None)
    with pytest.raises(TiffLayoutError, match=r"page 3 of the file .* lies among the slices"):
        mct.open_volume(path, spacing=1, units="um")
    with tifffile.TiffWriter(path) as tif:  # the same page after the stack: left out
        for plane in (*truth, truth[3, :4]):
            tif.write(plane, contiguous=False, metadata=None)
    with pytest.warns(UserWarning, match=r"other images .* left out"):
        np.testing.assert_array_equal(mct.open_volume(path, spacing=1, units="um").values, truth)


def test_microct_info_of_slices_stating_y_x_says_which_spacing_to_give(tmp_path, scan):
    # was: "spacing=(dz, dy, dx)", the stated y, x left for the user to find
    from xarray_microct.cli import format_info, store_info

    folder = tmp_path / "slices"
    write_slices(folder, scan, imagej=True, resolution=(2.0, 2.0), metadata={"unit": "um"})
    info = store_info(folder)
    assert info["levels"][0]["shape"] == list(scan.shape)  # opened, its y, x kept
    assert "spacing=(dz, 0.5, 0.5), units='micrometer'" in info["voxel_size"]
    assert "--spacing DZ 0.5 0.5 --units micrometer" in info["voxel_size"]
    assert "--spacing DZ 0.5 0.5 --units micrometer" in format_info(info)  # as printed


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_a_thumbnail_before_the_stack_is_left_out_and_the_stack_read(tmp_path, compression):
    # was: the thumbnail read as a volume of one slice (8 × 10), the stack left out
    truth = coded(6, (32, 40))
    path = tmp_path / "scan.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.full((8, 10), 7, "uint16"), subfiletype=1, photometric="minisblack")
        tif.write(truth, photometric="minisblack", compression=compression)
    with pytest.warns(UserWarning, match=r"the one read \(image 1\).*image 0: YX 8 × 10 uint16 "):
        vol = mct.open_volume(path, spacing=1, units="um", chunks=(4, 8, 8))
    np.testing.assert_array_equal(vol.values, truth)
    # a folder of such files: each file's stack, joined along z
    folder = tmp_path / "parts"
    folder.mkdir()
    for part, slices in enumerate((truth[:3], truth[3:])):
        with tifffile.TiffWriter(folder / f"part_{part}.tif") as tif:
            tif.write(np.zeros((8, 10), "uint16"), subfiletype=1, photometric="minisblack")
            tif.write(slices, photometric="minisblack", compression=compression)
    with pytest.warns(UserWarning, match=r"2 of the files hold other images"):
        vol = mct.open_volume(folder, spacing=1, units="um")
    np.testing.assert_array_equal(vol.values, truth)


def test_an_unmarked_small_first_image_before_a_stack_is_refused(tmp_path):
    # was: the small first image read as a volume of one slice, the stack left out
    truth = coded(6, (32, 40))
    path = tmp_path / "scan.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.full((8, 10), 7, "uint16"), photometric="minisblack")
        tif.write(truth, photometric="minisblack")
    with pytest.raises(
        TiffLayoutError, match=r"not marked as a reduced-resolution image.*series=1"
    ):
        mct.open_volume(path, spacing=1, units="um")


def test_a_non_positive_stated_voxel_size_is_named_invalid(tmp_path, scan):
    # was "does not state its voxel size along x", as if the file were silent about it
    ome = tmp_path / "ome.tif"
    sizes = {"PhysicalSizeX": -0.65, "PhysicalSizeY": 0.65, "PhysicalSizeZ": 2.0}  # µm
    tifffile.imwrite(ome, scan, ome=True, metadata={"axes": "ZYX", **sizes})
    with pytest.raises(
        ValueError,
        match=r"does not state a valid voxel size along x.*"
        r"x -0\.65 is invalid \(a voxel size is a positive length\)",
    ):
        mct.open_volume(ome)
    imagej = tmp_path / "imagej.tif"
    metadata = {"unit": "um", "axes": "ZYX", "spacing": 0.0}
    tifffile.imwrite(imagej, scan, imagej=True, resolution=(2.0, 2.0), metadata=metadata)
    with pytest.raises(ValueError, match=r"along z.*z 0 is invalid.*spacing=\(dz, 0\.5, 0\.5\)"):
        mct.open_volume(imagej)
    grid = mct.open_volume(imagej, spacing=(3.0, 0.5, 0.5), units="um").microct.grid
    assert grid.spacing == (3.0, 0.5, 0.5)
