"""One channel and/or time point of a multi-channel or time-series input: ``open_volume``'s
``channel=``/``time=`` and ``--channel``/``--time`` of ``microct run`` and ``microct info``
(OME-TIFF, ImageJ hyperstacks, multi-file OME-TIFF, OME-Zarr, xarray stores).

Each picked volume is checked against the numpy slice of the array written."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import dask
import h5py
import numpy as np
import pytest
import tifffile
import xarray as xr
import yaml
import zarr
from helpers import StopAfterStores

import xarray_microct as mct
from xarray_microct.cli import main
from xarray_microct.io import PickRequiredError, TiffLayoutError
from xarray_microct.io import tiff as tiff_module
from xarray_microct.runner import open_result, run_pipeline, run_state

PICKS_TC = [(0, 0), (1, 2), (0, 1), (1, 0)]


def _values(shape: tuple[int, ...], seed: int = 3) -> np.ndarray:
    """Random uint16 whose every plane differs: a plane read from elsewhere shows."""
    return np.random.default_rng(seed).integers(0, 60000, shape).astype("uint16")


def _read(volume: xr.DataArray) -> np.ndarray:
    with dask.config.set(scheduler="synchronous"):
        return volume.values


def _open_record(volume: xr.DataArray) -> dict:
    (record,) = [r for r in volume.attrs["microct_provenance"] if r["op"] == "open_volume"]
    return record["params"]


# ------------------------------------------------------------------------------- TIFF


@pytest.mark.parametrize("compression", [None, "zlib"], ids=["contiguous", "zlib"])
def test_ome_tiff_czyx_channels(tmp_path, compression):
    truth = _values((3, 5, 8, 9))  # C, Z, Y, X
    path = tmp_path / "czyx.ome.tif"
    metadata = {"axes": "CZYX", "PhysicalSizeZ": 2.0, "PhysicalSizeY": 0.5, "PhysicalSizeX": 0.5}
    tifffile.imwrite(path, truth, metadata=metadata, compression=compression)
    for channel in (2, 0, 1):
        volume = mct.open_volume(path, channel=channel)
        assert volume.dims == ("z", "y", "x")
        np.testing.assert_array_equal(_read(volume), truth[channel])
        assert volume.microct.grid.spacing == (2.0, 0.5, 0.5)
        assert _open_record(volume)["channel"] == channel
        assert "time" not in _open_record(volume)  # recorded only when given
    # two channels of one file in one graph: tasks of their own, each its channel
    both = dask.compute(
        mct.open_volume(path, channel=0).data, mct.open_volume(path, channel=2).data
    )
    np.testing.assert_array_equal(both[0], truth[0])
    np.testing.assert_array_equal(both[1], truth[2])
    # an OME-TIFF names its time axis (of one time point): time=0 is that one
    np.testing.assert_array_equal(_read(mct.open_volume(path, channel=1, time=0)), truth[1])
    with pytest.raises(ValueError, match=r"has 1 time point: time=1 is out of range, give 0 "):
        mct.open_volume(path, channel=1, time=1)


@pytest.mark.parametrize("compression", [None, "zlib"], ids=["contiguous", "zlib"])
def test_ome_tiff_tczyx_time_and_channel(tmp_path, compression):
    truth = _values((2, 3, 5, 8, 9))  # T, C, Z, Y, X
    path = tmp_path / "tczyx.ome.tif"
    tifffile.imwrite(path, truth, metadata={"axes": "TCZYX"}, compression=compression)
    for time, channel in PICKS_TC:
        volume = mct.open_volume(path, channel=channel, time=time, spacing=1, units="um")
        np.testing.assert_array_equal(_read(volume), truth[time, channel])
        assert {k: _open_record(volume)[k] for k in ("channel", "time")} == {
            "channel": channel,
            "time": time,
        }
    # small tasks, across the picked pages
    volume = mct.open_volume(path, channel=2, time=1, spacing=1, units="um", chunks=(2, 8, 9))
    np.testing.assert_array_equal(_read(volume), truth[1, 2])


def test_imagej_hyperstack_tzcyx(tmp_path):
    truth = _values((2, 5, 3, 8, 9))  # T, Z, C, Y, X: ImageJ's order
    path = tmp_path / "hyper.tif"
    tifffile.imwrite(
        path,
        truth,
        imagej=True,
        resolution=(2.0, 2.0),
        metadata={"axes": "TZCYX", "spacing": 3.0, "unit": "um"},
    )
    for time, channel in PICKS_TC:
        volume = mct.open_volume(path, channel=channel, time=time)
        np.testing.assert_array_equal(_read(volume), truth[time, :, channel])
        assert volume.microct.grid.spacing == (3.0, 0.5, 0.5)


def test_unpicked_channels_are_refused_with_the_option_and_the_count(tmp_path):
    path = tmp_path / "hyper.tif"
    tifffile.imwrite(path, _values((2, 5, 3, 8, 9)), imagej=True, metadata={"axes": "TZCYX"})
    message = r"T \(time\) = 2, .*C \(channel\) = 3.*time=N \(0\.\.1\) and channel=N \(0\.\.2\)"
    with pytest.raises(TiffLayoutError, match=message + r".*--time N --channel N"):
        mct.open_volume(path, spacing=1, units="um")
    # one picked, the other still refused by name
    with pytest.raises(TiffLayoutError, match=r"pick one volume with time=N \(0\.\.1\) "):
        mct.open_volume(path, channel=1, spacing=1, units="um")


def _spy_reads(monkeypatch) -> tuple[list[int], list[tuple[int, int]], list[object]]:
    """The pages read by page (compressed), the bytes read, ``(offset, count)``
    (contiguous), and the file handle of each byte read (kept: no id reused)."""
    pages: list[int] = []
    offsets: list[tuple[int, int]] = []
    handles: list[object] = []
    page_asarray = tifffile.TiffPage.asarray
    read_bytes = tiff_module._read_bytes

    def asarray(self, *args, **kwargs):
        pages.append(self.index)
        return page_asarray(self, *args, **kwargs)

    def spied(file, offset, out):
        offsets.append((offset, out.size))
        handles.append(file)
        return read_bytes(file, offset, out)

    monkeypatch.setattr(tifffile.TiffPage, "asarray", asarray)
    monkeypatch.setattr(tiff_module, "_read_bytes", spied)
    return pages, offsets, handles


def _ome_tczyx(path: Path, truth: np.ndarray, compression: str | None) -> list[int]:
    """``truth`` (T, C, Z, Y, X) as an OME-TIFF; the pages of (t, c) = (1, 1)."""
    tifffile.imwrite(path, truth, metadata={"axes": "TCZYX"}, compression=compression)
    return [15 + 5 + z for z in range(5)]  # page of (t, c, z): 15 t + 5 c + z


def _imagej_tzcyx(path: Path, truth: np.ndarray, compression: str | None) -> list[int]:
    """``truth`` as an ImageJ hyperstack (T, Z, C order); the pages of (t, c) = (1, 1)."""
    hyper = np.ascontiguousarray(truth.transpose(0, 2, 1, 3, 4))
    tifffile.imwrite(path, hyper, imagej=True, metadata={"axes": "TZCYX"})
    return [15 + 3 * z + 1 for z in range(5)]  # page of (t, z, c): 15 t + 3 z + c


@pytest.mark.parametrize(
    ("write", "compression"),
    [(_ome_tczyx, None), (_ome_tczyx, "zlib"), (_imagej_tzcyx, None)],
    ids=["ome-contiguous", "ome-zlib", "imagej-strided"],
)
def test_only_the_picked_pages_are_read(tmp_path, monkeypatch, write, compression):
    truth = _values((2, 3, 5, 8, 9))  # T, C, Z, Y, X
    path = tmp_path / ("picked.ome.tif" if write is _ome_tczyx else "picked.tif")
    expected = write(path, truth, compression)
    volume = mct.open_volume(path, channel=1, time=1, spacing=1, units="um")
    pages, offsets, handles = _spy_reads(monkeypatch)
    np.testing.assert_array_equal(_read(volume), truth[1, 1])
    if compression is None:  # read by offset: those slices' bytes only
        with tifffile.TiffFile(path) as tif:
            start = tif.series[0].dataoffset
        plane = 8 * 9
        read = [
            page
            for offset, count in offsets
            for page in range(
                (offset - start) // (2 * plane), (offset - start) // (2 * plane) + count // plane
            )
        ]
        assert sorted(read) == expected
        assert pages == []
        assert len({id(h) for h in handles}) == 1  # one task (5 slices): one file handle
    else:
        assert sorted(pages) == expected


@pytest.mark.parametrize(
    ("axes", "shape", "picks"),
    [("ZYX", (16, 256, 256), {}), ("ZCYX", (16, 2, 256, 256), {"c": 1})],
    ids=["stack", "imagej-channel"],
)
def test_a_contiguous_read_holds_one_copy_of_the_slices(tmp_path, axes, shape, picks):
    """A task's slices read by offset land in the one array returned (no bytes object
    copied, no concatenation): peak traced memory at most 1.2 x the result."""
    truth = _values(shape)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, truth, imagej=True, metadata={"axes": axes})
    with tifffile.TiffFile(path) as tif:
        image = tiff_module._image(tif, path, picks)
    assert image.read[0] == "bytes"
    tracemalloc.start()
    try:
        data = tiff_module._read_planes(
            str(path), 0, image.depth, image.read, False, image.first, image.stride
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(data, truth[:, 1] if picks else truth)
    assert peak <= 1.2 * data.nbytes, (peak, data.nbytes)


def test_a_file_cut_short_after_opening_is_refused_at_read(tmp_path):
    """The slices' bytes are read into an array made beforehand: a file cut short after
    its headers were read (a copy still being written) is refused, never half-filled."""
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, _values((5, 8, 9)), metadata={"axes": "ZYX"})
    volume = mct.open_volume(path, spacing=1, units="um")
    with tifffile.TiffFile(path) as tif:
        start = tif.series[0].dataoffset  # the slices' bytes, the pages' headers after them
    with open(path, "r+b") as file:
        file.truncate(start + 2 * 8 * 9 * 2)  # 2 of the 5 slices left
    with pytest.raises(TiffLayoutError, match=r"stack\.tif: .* shorter than its header says"):
        _read(volume)


def _multi_file_ome_tiff(folder: Path, truth: np.ndarray) -> None:
    """One file per (c, z) plane of ``truth`` (C, Z, Y, X), each holding the whole OME-XML."""
    channels, depth, y, x = truth.shape

    def name(c: int, z: int) -> str:
        return f"s_c{c}_z{z}.ome.tif"

    planes = "".join(
        f'<TiffData FirstC="{c}" FirstZ="{z}" IFD="0" PlaneCount="1"><UUID '
        f'FileName="{name(c, z)}">urn:uuid:{c:04d}{z:04d}</UUID></TiffData>'
        for c in range(channels)
        for z in range(depth)
    )
    channel_xml = "".join(
        f'<Channel ID="Channel:0:{c}" SamplesPerPixel="1"/>' for c in range(channels)
    )
    for c in range(channels):
        for z in range(depth):
            xml = (
                '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" '
                f'UUID="urn:uuid:{c:04d}{z:04d}"><Image ID="Image:0"><Pixels ID="Pixels:0" '
                f'DimensionOrder="XYZCT" Type="uint16" SizeX="{x}" SizeY="{y}" '
                f'SizeZ="{depth}" SizeC="{channels}" SizeT="1" PhysicalSizeX="0.5" '
                f'PhysicalSizeY="0.5" PhysicalSizeZ="2">{channel_xml}{planes}</Pixels>'
                "</Image></OME>"
            )
            tifffile.imwrite(folder / name(c, z), truth[c, z], description=xml, metadata=None)


def test_multi_file_ome_tiff_channel(tmp_path):
    folder = tmp_path / "multifile"
    folder.mkdir()
    truth = _values((2, 3, 8, 9))
    _multi_file_ome_tiff(folder, truth)
    first = folder / "s_c0_z0.ome.tif"
    for channel in (1, 0):
        volume = mct.open_volume(first, channel=channel)
        np.testing.assert_array_equal(_read(volume), truth[channel])
        assert volume.microct.grid.spacing == (2.0, 0.5, 0.5)
    # a file of channel 0 missing: channel 1 still reads, channel 0 is refused
    (folder / "s_c0_z2.ome.tif").unlink()
    np.testing.assert_array_equal(_read(mct.open_volume(first, channel=1)), truth[1])
    with pytest.raises(TiffLayoutError, match=r"1 of the 3 slices .* missing"):
        mct.open_volume(first, channel=0)


def test_folder_of_multichannel_stacks_picks_in_each_file(tmp_path):
    truth = _values((2, 6, 8, 9))  # C, Z, Y, X, stored as two parts along z
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(2):
        part = np.ascontiguousarray(truth[:, 3 * i : 3 * i + 3])
        tifffile.imwrite(folder / f"part_{i}.ome.tif", part, metadata={"axes": "CZYX"})
    for channel in (0, 1):
        volume = mct.open_volume(folder, channel=channel, spacing=1, units="um")
        np.testing.assert_array_equal(_read(volume), truth[channel])


def test_imagej_hyperstack_with_one_page_header(tmp_path, capsys):
    """ImageJ's hyperstacks over 4 GB keep the first page's header only (tifffile's
    ``truncate=True``): every (t, c) is read from its bytes, none refused."""
    truth = _values((2, 4, 3, 8, 9))  # T, Z, C, Y, X
    path = tmp_path / "truncated.tif"
    tifffile.imwrite(path, truth, imagej=True, metadata={"axes": "TZCYX"}, truncate=True)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series[0].pages) == 1  # the layout this test is about
    for time in range(2):
        for channel in range(3):
            volume = mct.open_volume(path, channel=channel, time=time, spacing=1, units="um")
            np.testing.assert_array_equal(_read(volume), truth[time, :, channel])
    info = _info(capsys, str(path), "--channel", "2", "--time", "1")
    assert (info["channels"], info["time_points"], info["channel"], info["time"]) == (3, 2, 2, 1)
    assert info["levels"][0]["shape"] == [4, 8, 9]


TIFF_STORAGE = {
    "big-endian": {"byteorder": ">"},
    "tiled": {"tile": (16, 16)},
    "bigtiff": {"bigtiff": True},
    "big-endian-tiled-bigtiff": {"byteorder": ">", "tile": (16, 16), "bigtiff": True},
}


@pytest.mark.parametrize("storage", TIFF_STORAGE.values(), ids=TIFF_STORAGE.keys())
def test_picks_of_big_endian_tiled_and_bigtiff_files(tmp_path, storage):
    truth = _values((2, 3, 4, 20, 18))  # T, C, Z, Y, X; tiles of 16 cut the planes
    path = tmp_path / "stored.ome.tif"
    tifffile.imwrite(path, truth, metadata={"axes": "TCZYX"}, **storage)
    for time, channel in PICKS_TC:
        volume = mct.open_volume(path, channel=channel, time=time, spacing=1, units="um")
        values = _read(volume)
        np.testing.assert_array_equal(values, truth[time, channel])
        assert values.dtype == np.dtype("uint16")  # native order


def test_folder_files_with_other_channel_counts_are_refused(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    tifffile.imwrite(folder / "part_0.ome.tif", _values((2, 3, 8, 9)), metadata={"axes": "CZYX"})
    tifffile.imwrite(folder / "part_1.ome.tif", _values((3, 3, 8, 9)), metadata={"axes": "CZYX"})
    with pytest.raises(
        TiffLayoutError,
        match=r"part_1\.ome\.tif holds 3 channels and 1 time "
        r"point, while part_0\.ome\.tif holds 2 channels and 1 time point: .* move part_1",
    ):
        mct.open_volume(folder, channel=0, spacing=1, units="um")


@pytest.mark.parametrize("channels_first", [True, False], ids=["c2-then-plain", "plain-then-c2"])
def test_folder_mixing_a_file_without_channels_is_refused_naming_it(tmp_path, channels_first):
    """An ImageJ ZCYX file of 2 channels beside a plain ZYX one: refused for the counts,
    naming the odd file, with or without a pick (before: "pick channel=N" without, "has
    no channel axis: leave channel= out" with, each advice undoing the other)."""
    truth = _values((2, 3, 8, 9))  # C, Z, Y, X
    folder = tmp_path / "parts"
    folder.mkdir()
    hyper, plain = ("part_0.tif", "part_1.tif") if channels_first else ("part_1.tif", "part_0.tif")
    zcyx = np.ascontiguousarray(truth.transpose(1, 0, 2, 3))
    tifffile.imwrite(folder / hyper, zcyx, imagej=True, metadata={"axes": "ZCYX"})
    tifffile.imwrite(folder / plain, truth[0], photometric="minisblack", metadata=None)
    counts = ("1 channel", "2 channels") if channels_first else ("2 channels", "1 channel")
    message = (
        rf"part_1\.tif holds {counts[0]} and 1 time point, while part_0\.tif holds "
        rf"{counts[1]} and 1 time point: .* move part_1\.tif out of"
    )
    for picks in ({}, {"channel": 0}, {"channel": 1}):
        with pytest.raises(TiffLayoutError, match=message):
            mct.open_volume(folder, spacing=1, units="um", **picks)


def test_pick_required_error_is_exported_beside_tiff_layout_error(tmp_path):
    path = tmp_path / "two.ome.tif"
    tifffile.imwrite(path, _values((2, 3, 8, 9)), metadata={"axes": "CZYX"})
    with pytest.raises(PickRequiredError) as caught:
        mct.open_volume(path, spacing=1, units="um")
    assert caught.value.long == {"c": 2} and isinstance(caught.value, TiffLayoutError)
    assert not hasattr(mct.io, "open_input")  # open_volume is the one public entry


def test_tiff_errors_out_of_range_and_no_axis(tmp_path):
    ome = tmp_path / "czyx.ome.tif"
    tifffile.imwrite(ome, _values((3, 5, 8, 9)), metadata={"axes": "CZYX"})
    with pytest.raises(ValueError, match=r"has 3 channels: channel=3 is out of range, give 0\.\.2"):
        mct.open_volume(ome, channel=3, spacing=1, units="um")
    with pytest.raises(ValueError, match=r"channel=-1: give an index from 0 \(negative"):
        mct.open_volume(ome, channel=-1, spacing=1, units="um")
    plain = tmp_path / "stack.tif"  # names neither axis
    tifffile.imwrite(plain, _values((5, 8, 9)), photometric="minisblack")
    for keyword, noun in (("channel", "channel"), ("time", "time")):
        with pytest.raises(ValueError, match=rf"stack\.tif has no {noun} axis: leave {keyword}="):
            mct.open_volume(plain, spacing=1, units="um", **{keyword: 0})


# ----------------------------------------------------------------------------- OME-Zarr


def test_ome_zarr_tczyx_every_level(tmp_path):
    truth = _values((2, 3, 8, 8, 8)).astype("float32")  # t, c, z, y, x
    store = tmp_path / "tczyx.ome.zarr"
    volume = mct.from_array(truth, spacing=0.5, dims=("t", "c", "z", "y", "x"), chunks=4)
    volume.microct.pyramid(levels=2).microct.to_zarr(store)
    root = zarr.open_group(str(store), mode="r")
    attrs = root.attrs.asdict()
    datasets = attrs.get("ome", attrs)["multiscales"][0]["datasets"]
    for level, dataset in enumerate(datasets):
        stored = root[dataset["path"]][...]  # the level as zarr reads it, t, c, z, y, x
        for time, channel in PICKS_TC:
            picked = mct.open_volume(store, level=level, channel=channel, time=time)
            assert picked.dims == ("z", "y", "x")
            np.testing.assert_array_equal(_read(picked), stored[time, channel])
            assert picked.microct.grid.spacing == (0.5 * 2**level,) * 3
            assert _open_record(picked)["level"] == level
            assert _open_record(picked)["channel"] == channel
    np.testing.assert_array_equal(mct.open_volume(store, channel=2, time=1).values, truth[1, 2])
    # one axis picked: the other kept, as without a pick
    assert mct.open_volume(store, channel=0).dims == ("t", "z", "y", "x")
    with pytest.raises(ValueError, match=r"has 3 channels: channel=3 is out of range, give 0\.\.2"):
        mct.open_volume(store, channel=3)
    with pytest.raises(ValueError, match=r"has 2 time points: time=5 is out of range, give 0\.\.1"):
        mct.open_volume(store, time=5, level=1)


def test_ome_zarr_written_with_zarr_directly(tmp_path):
    truth = _values((2, 3, 4, 5, 6))
    store = tmp_path / "raw-ngff.ome.zarr"
    group = zarr.open_group(str(store), mode="w", zarr_format=2)
    group.create_array("0", data=truth, chunks=(1, 1, 4, 5, 6))
    axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}]
    axes += [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
    scale = [1.0, 1.0, 2.0, 0.5, 0.5]
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": axes,
            "datasets": [
                {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}
            ],
        }
    ]
    for time, channel in PICKS_TC:
        picked = mct.open_volume(store, channel=channel, time=time)
        np.testing.assert_array_equal(_read(picked), truth[time, channel])
        assert picked.microct.grid.spacing == (2.0, 0.5, 0.5)


def test_single_volume_ome_zarr_has_no_channel_axis(tmp_path):
    store = tmp_path / "zyx.ome.zarr"
    mct.from_array(_values((4, 5, 6)), spacing=0.5).microct.to_zarr(store)
    with pytest.raises(ValueError, match=r"zyx\.ome\.zarr has no channel axis: leave channel="):
        mct.open_volume(store, channel=0)


# ------------------------------------------------------------------- xarray stores, others


def test_xarray_store_with_c_and_t_dims(tmp_path):
    truth = _values((2, 3, 4, 5, 6))
    store = tmp_path / "tczyx.zarr"
    source = mct.from_array(
        truth, spacing=(2.0, 0.5, 0.5), units="um", dims=("t", "c", "z", "y", "x")
    )
    source.to_zarr(store)
    for time, channel in PICKS_TC:
        picked = mct.open_volume(store, channel=channel, time=time)
        assert picked.dims == ("z", "y", "x")
        np.testing.assert_array_equal(_read(picked), truth[time, channel])
        xr.testing.assert_identical(picked["x"], source["x"])  # coordinates and units kept
        assert picked.microct.grid.spacing == (2.0, 0.5, 0.5)
    czyx = tmp_path / "czyx.zarr"
    mct.from_array(truth[0], spacing=0.5).to_zarr(czyx)
    np.testing.assert_array_equal(_read(mct.open_volume(czyx, channel=2)), truth[0, 2])
    with pytest.raises(ValueError, match=r"czyx\.zarr has no time axis: leave time="):
        mct.open_volume(czyx, time=0)
    with pytest.raises(ValueError, match=r"has 3 channels: channel=7 is out of range, give 0\.\.2"):
        mct.open_volume(czyx, channel=7)


def test_formats_without_the_axes_refuse_a_pick(tmp_path):
    values = _values((4, 5, 6))
    h5 = tmp_path / "scan.h5"
    with h5py.File(h5, "w") as f:
        f["/exchange/data"] = values
    raw = tmp_path / "scan.raw"
    values.tofile(raw)
    zyx = tmp_path / "zyx.zarr"
    mct.from_array(values, spacing=0.5).to_zarr(zyx)
    calibration = {"spacing": 1, "units": "um"}
    raw_layout = {"shape": values.shape, "dtype": "uint16"}
    for path, options in ((h5, calibration), (raw, {**calibration, **raw_layout}), (zyx, {})):
        with pytest.raises(ValueError, match=rf"{path.name} has no channel axis"):
            mct.open_volume(path, channel=0, **options)
        assert "channel" not in _open_record(mct.open_volume(path, **options))


# ---------------------------------------------------------------------------------- CLI


def _info(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()
    assert main(["info", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_info_shows_channels_and_time_points(tmp_path, capsys):
    truth = _values((2, 3, 5, 8, 9))
    tif = tmp_path / "tczyx.ome.tif"
    tifffile.imwrite(tif, truth, metadata={"axes": "TCZYX"})
    info = _info(capsys, str(tif))  # was refused: more than one channel
    assert (info["channels"], info["time_points"]) == (3, 2)
    assert info["shown"] == {"channel": 0, "time": 0}
    assert info["levels"][0]["shape"] == [5, 8, 9]
    info = _info(capsys, str(tif), "--channel", "2", "--time", "1")
    assert (info["channel"], info["time"], "shown" in info) == (2, 1, False)
    assert main(["info", str(tif), "--channel", "1"]) == 0
    printed = capsys.readouterr().out
    assert "channels: 3 (channel 1 shown), time points: 2 (the first shown: pick one with " in (
        printed
    )
    store = tmp_path / "tczyx.ome.zarr"
    dims = ("t", "c", "z", "y", "x")
    mct.from_array(truth, spacing=0.5, dims=dims).microct.to_zarr(store)
    info = _info(capsys, str(store))
    assert (info["channels"], info["time_points"]) == (3, 2)
    assert info["levels"][0]["shape"] == [2, 3, 5, 8, 9]
    info = _info(capsys, str(store), "--channel", "1")
    assert info["levels"][0]["shape"] == [2, 5, 8, 9] and info["channel"] == 1
    assert main(["info", str(store), "--channel", "3"]) == 2
    assert "out of range, give 0..2" in capsys.readouterr().err
    single = tmp_path / "zyx.zarr"
    mct.from_array(truth[0, 0], spacing=0.5).to_zarr(single)
    info = _info(capsys, str(single))
    assert (info["channels"], info["time_points"]) == (1, 1)
    assert main(["info", str(single), "--time", "0"]) == 2
    assert "has no time axis: leave time= out (on the command line: --time)" in (
        capsys.readouterr().err
    )


@pytest.fixture
def smooth(tmp_path: Path) -> Path:
    path = tmp_path / "smooth.yaml"
    steps = [{"op": "gaussian", "params": {"sigma": "1 um"}}]
    path.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": steps}))
    return path


def _smoothed(values: np.ndarray) -> np.ndarray:
    volume = mct.from_array(values, spacing=1.0, units="micrometer")
    return volume.microct.gaussian(sigma="1 um").values


def test_run_channel_and_resume_with_another_refused(tmp_path, smooth, capsys):
    truth = _values((2, 8, 12, 12)).astype("float32")  # C, Z, Y, X
    tif = tmp_path / "czyx.ome.tif"
    tifffile.imwrite(tif, truth, metadata={"axes": "CZYX"})
    out = tmp_path / "out.zarr"
    base = ["run", str(smooth), str(tif), str(out), "--no-progress"]
    calibration = ["--spacing", "1", "--units", "micrometer", "--chunks", "4"]
    assert main([*base, *calibration]) == 2  # no pick: refused, naming the option
    assert "channel=N (0..1) (on the command line --channel N)" in capsys.readouterr().err
    assert not out.exists()
    # interrupted with channel 1; a resume with channel 0 is refused, with 1 finishes
    options = {"channel": 1, "spacing": 1.0, "units": "micrometer"}
    with StopAfterStores(3, RuntimeError), pytest.raises(RuntimeError):
        run_pipeline(
            smooth, tif, out, chunks=4, progress=False, echo=lambda line: None, calibration=options
        )
    assert run_state(out)["status"] == "failed"
    capsys.readouterr()
    assert main([*base, *calibration, "--resume", "--channel", "0"]) == 2
    assert "different input options" in capsys.readouterr().err
    assert main([*base, *calibration, "--resume", "--channel", "1"]) == 0
    assert run_state(out)["status"] == "complete"
    result = open_result(out)
    np.testing.assert_allclose(result.values, _smoothed(truth[1]), rtol=1e-5)
    (record,) = [r for r in result.attrs["microct_provenance"] if r["op"] == "open_volume"]
    assert record["params"]["channel"] == 1
    # complete: the same channel is done, another refused
    assert main([*base, *calibration, "--resume", "--channel", "1"]) == 0
    assert "already complete" in capsys.readouterr().out
    assert main([*base, *calibration, "--resume", "--channel", "0"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_info_json_sets_channel_and_time_only_when_picked(tmp_path, capsys):
    tif = tmp_path / "tczyx.ome.tif"
    tifffile.imwrite(tif, _values((2, 3, 5, 8, 9)), metadata={"axes": "TCZYX"})
    info = _info(capsys, str(tif))  # info picks the first volume itself: shown, not picked
    assert info["shown"] == {"channel": 0, "time": 0}
    assert "channel" not in info and "time" not in info
    info = _info(capsys, str(tif), "--channel", "1")
    assert (info["channel"], info["shown"], "time" in info) == (1, {"time": 0}, False)


def test_run_table_pipeline_with_a_channel_of_a_plain_zarr_array(tmp_path, capsys):
    labels = np.zeros((2, 8, 64, 64), "int32")  # c, z, y, x
    labels[0, 2:5, 10:20, 10:20] = 1
    labels[1, 1:6, 30:50, 30:40] = 2
    store = tmp_path / "plain.zarr"
    zarr.create_array(
        store, data=labels, chunks=(1, 8, 16, 16), dimension_names=("c", "z", "y", "x")
    )
    pipeline = tmp_path / "props.yaml"
    pipeline.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": [{"op": "regionprops"}]}))
    out = tmp_path / "props.zarr"
    command = ["run", str(pipeline), str(store), str(out), "--channel", "1", "--no-progress"]
    assert main([*command, "--spacing", "1", "--units", "um"]) == 0, capsys.readouterr().err
    table = open_result(out)
    z, y, x = np.nonzero(labels[1])
    assert table["label"].tolist() == [2]
    assert table["voxels"].tolist() == [len(z)]
    assert [table[f"bbox_min_{a}"][0] for a in "zyx"] == [z.min(), y.min(), x.min()]


def test_resume_with_a_pick_on_an_axis_of_length_one_is_the_same_run(tmp_path, smooth, capsys):
    truth = _values((1, 6, 8, 8)).astype("float32")  # one channel, named: C, Z, Y, X
    tif = tmp_path / "one.ome.tif"
    tifffile.imwrite(tif, truth, metadata={"axes": "CZYX"})
    out = tmp_path / "out.zarr"
    base = ["run", str(smooth), str(tif), str(out), "--no-progress", "--chunks", "4"]
    calibration = ["--spacing", "1", "--units", "micrometer"]
    assert main([*base, *calibration]) == 0
    capsys.readouterr()
    assert main([*base, *calibration, "--resume", "--channel", "0"]) == 0
    assert "already complete" in capsys.readouterr().out
    assert main([*base, *calibration, "--resume", "--channel", "0", "--time", "0"]) == 0
    assert "already complete" in capsys.readouterr().out  # OME-TIFF names T too, of 1
    np.testing.assert_allclose(open_result(out).values, _smoothed(truth[0]), rtol=1e-5)


def test_a_pick_on_an_xarray_store_s_axis_of_length_one_counts(tmp_path, smooth, capsys):
    """An xarray store keeps its ``c`` of length one unpicked (``c, z, y, x``), so
    ``--channel 0`` reads another array: a resume with it is refused for the input
    options, not the chunks; the same pick resumes."""
    truth = _values((1, 6, 8, 8)).astype("float32")  # c, z, y, x
    store = tmp_path / "c1.zarr"
    mct.from_array(truth, spacing=1.0, units="micrometer").to_zarr(store)
    assert mct.open_volume(store).dims == ("c", "z", "y", "x")
    assert mct.open_volume(store, channel=0).dims == ("z", "y", "x")
    out = tmp_path / "out.zarr"
    base = ["run", str(smooth), str(store), str(out), "--no-progress", "--chunks", "4"]
    assert main(base) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main([*base, "--resume", "--channel", "0"]) == 2
    err = capsys.readouterr().err
    assert "different input options (--spacing, --units, --level, --channel" in err
    picked = tmp_path / "picked.zarr"
    assert main([*base[:3], str(picked), *base[4:], "--channel", "0"]) == 0
    capsys.readouterr()
    assert main([*base[:3], str(picked), *base[4:], "--channel", "0", "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out
    np.testing.assert_allclose(open_result(picked).values, _smoothed(truth[0]), rtol=1e-5)


def test_axes_of_length_one_dropped_without_a_pick_by_format(tmp_path):
    """Where an open without a pick drops a ``c``/``t`` of length one (OME-Zarr, TIFF),
    a pick there is the same volume; an xarray store or plain Zarr array keeps it."""
    from xarray_microct.io import _open_input

    truth = _values((1, 1, 4, 5, 6))  # t, c, z, y, x
    ome = tmp_path / "tc1.ome.zarr"
    group = zarr.open_group(str(ome), mode="w", zarr_format=2)
    group.create_array("0", data=truth, chunks=(1, 1, 4, 5, 6))
    axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}]
    axes += [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
    transform = [{"type": "scale", "scale": [1.0, 1.0, 2.0, 0.5, 0.5]}]
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": axes,
            "datasets": [{"path": "0", "coordinateTransformations": transform}],
        }
    ]
    tif = tmp_path / "c1.ome.tif"
    tifffile.imwrite(tif, truth[0], metadata={"axes": "CZYX"})
    xarray_store = tmp_path / "c1.zarr"
    mct.from_array(truth[0], spacing=1.0, units="micrometer").to_zarr(xarray_store)
    plain = tmp_path / "plain.zarr"
    zarr.create_array(plain, data=truth[0], dimension_names=("c", "z", "y", "x"))
    calibration = {"spacing": 1.0, "units": "micrometer"}
    for path, options, dims, squeezed in [
        (ome, {}, ("z", "y", "x"), {"c", "t"}),
        (tif, calibration, ("z", "y", "x"), {"c", "t"}),
        (xarray_store, {}, ("c", "z", "y", "x"), set()),
        (plain, calibration, ("c", "z", "y", "x"), set()),
    ]:
        volume, sizes, dropped = _open_input(path, **options)
        assert (volume.dims, sizes, dropped) == (dims, {"c": 1, "t": 1}, squeezed), path.name
        picked, _, _ = _open_input(path, channel=0, **options)
        assert picked.dims == ("z", "y", "x")
        np.testing.assert_array_equal(_read(picked), truth[0, 0])


def test_timeout_is_not_taken_for_time(tmp_path):
    from xarray_microct.cli import build_parser

    args = build_parser().parse_args(
        ["run", "p.yaml", "in.tif", "out.zarr", "--timeout", "5s", "--time", "1"]
    )
    assert (args.timeout, args.time) == ("5s", 1)
    # --time is an option of its own now: "--time 10s" is no longer --timeout's abbreviation
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "p.yaml", "in.tif", "out.zarr", "--time", "10s"])
