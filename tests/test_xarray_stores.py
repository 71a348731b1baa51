"""Zarr stores written by xarray (or with dimension names only) that do not state their
voxel size in full: the size given to ``open_volume`` (and ``microct run --spacing
--units``) completes them, and a size that contradicts the store is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr
from faults import memory_folder

import xarray_microct as mct
from xarray_microct.io import MissingVoxelSizeError


def _scan() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 1000, (4, 6, 8)).astype(np.uint16)


def _xarray_store(path: Path, units: str | None) -> None:
    attrs = {} if units is None else {"units": units}
    coords = {d: (d, 0.65 * np.arange(n), attrs) for d, n in zip("zyx", (4, 6, 8), strict=True)}
    xr.DataArray(_scan(), dims=("z", "y", "x"), coords=coords, name="scan").to_dataset().to_zarr(
        path
    )


def test_coordinates_without_units_take_the_units_given(tmp_path: Path):
    store = tmp_path / "xr.zarr"
    _xarray_store(store, None)
    with pytest.raises(ValueError, match="units"):
        mct.open_volume(store)
    for given in ({"units": "micrometer"}, {"spacing": 0.65, "units": "micrometer"}):
        volume = mct.open_volume(store, **given)
        assert volume.microct.grid.spacing == pytest.approx((0.65,) * 3)
        assert volume.microct.grid.units == "micrometer"
        np.testing.assert_array_equal(volume.values, _scan())


def test_a_spacing_against_the_coordinates_is_refused(tmp_path: Path):
    store = tmp_path / "xr.zarr"
    _xarray_store(store, "micrometer")
    with pytest.raises(ValueError, match=r"states its voxel size in its coordinates"):
        mct.open_volume(store, spacing=1.3, units="micrometer")


def test_dimension_names_without_coordinates_take_the_spacing_given(tmp_path: Path):
    store = tmp_path / "named.zarr"
    group = zarr.open_group(str(store), mode="w", zarr_format=3)
    group.create_array("volume", data=_scan(), dimension_names=["z", "y", "x"])
    with pytest.raises(MissingVoxelSizeError, match="--spacing"):
        mct.open_volume(store)
    volume = mct.open_volume(store, spacing=(2.0, 0.5, 0.5), units="micrometer", origin=1.0)
    assert volume.microct.grid.spacing == (2.0, 0.5, 0.5)
    assert float(volume["z"][0]) == 1.0
    np.testing.assert_array_equal(volume.values, _scan())


def _store_with_origin(path: Path, origin: float) -> None:
    coords = {
        d: (d, origin + 0.65 * np.arange(n), {"units": "micrometer"})
        for d, n in zip("zyx", (4, 6, 8), strict=True)
    }
    scan = xr.DataArray(_scan(), dims=("z", "y", "x"), coords=coords, name="scan")
    scan.to_dataset().to_zarr(path)


def test_an_origin_against_the_stores_coordinates_is_refused(tmp_path: Path):
    # was: ignored, the volume opened at the store's origin
    store = tmp_path / "xr.zarr"
    _store_with_origin(store, 10.0)
    with pytest.raises(ValueError, match=r"states its origin in its coordinates \(\[10\.0, "):
        mct.open_volume(store, origin=3.0)
    with pytest.raises(ValueError, match=r"not the origin given \(\[10\.0, 10\.0, 0\.0\], "):
        mct.open_volume(store, origin=(10.0, 10.0, 0.0))
    for origin in (None, 10.0, (10.0, 10.0, 10.0)):
        volume = mct.open_volume(store, origin=origin)
        assert volume.microct.grid.origin == pytest.approx((10.0,) * 3)
        np.testing.assert_array_equal(volume.values, _scan())


def test_an_origin_against_an_ome_zarr_translation_is_refused(tmp_path: Path):
    # was: ignored
    store = tmp_path / "scan.ome.zarr"
    mct.from_array(_scan(), spacing=0.5, origin=(2.0, 1.0, 0.0)).microct.to_zarr(store)
    with pytest.raises(ValueError, match=r"states its origin in its coordinates \(\[2\.0, 1\.0"):
        mct.open_volume(store, origin=0.0)
    volume = mct.open_volume(store, origin=(2.0, 1.0, 0.0))
    assert volume.microct.grid.origin == (2.0, 1.0, 0.0)
    np.testing.assert_array_equal(volume.values, _scan())


@pytest.mark.parametrize("order", ["xyz", "yxz", "zxy"])
def test_a_store_with_its_axes_in_another_order_opens_as_z_y_x(tmp_path: Path, order: str):
    # was: "holds 0 volumes"
    store = tmp_path / "xr.zarr"
    _store_with_origin(tmp_path / "truth.zarr", 10.0)  # the truth, in z, y, x
    truth = xr.open_zarr(tmp_path / "truth.zarr")["scan"].load()
    truth.transpose(*order).to_dataset().to_zarr(store)
    volume = mct.open_volume(store)
    assert volume.dims == ("z", "y", "x")
    np.testing.assert_array_equal(volume.values, _scan())
    for dim in "zyx":
        np.testing.assert_array_equal(volume[dim].values, truth[dim].values)
    assert volume.microct.grid.spacing == pytest.approx((0.65,) * 3)


def test_a_store_at_a_url_takes_the_voxel_size_given(tmp_path: Path):
    # was: spacing, units and origin left out for stores at URLs (MissingVoxelSizeError,
    # "coordinate 'z' has no 'units'"), storage_options refused
    with memory_folder() as folder:
        bare = f"{folder}/bare.zarr"
        xr.DataArray(_scan(), dims=("z", "y", "x"), name="scan").to_dataset().to_zarr(bare)
        volume = mct.open_volume(
            bare, spacing=(2.0, 0.5, 0.5), units="micrometer", origin=1.0, storage_options={}
        )
        assert volume.microct.grid.spacing == (2.0, 0.5, 0.5)
        assert volume.microct.grid.origin == (1.0, 1.0, 1.0)
        np.testing.assert_array_equal(volume.values, _scan())
        unitless = f"{folder}/unitless.zarr"
        _xarray_store(unitless, None)
        volume = mct.open_volume(unitless, units="micrometer")
        assert volume.microct.grid.units == "micrometer"
        with pytest.raises(ValueError, match="states its voxel size in its coordinates"):
            mct.open_volume(unitless, spacing=1.3, units="micrometer")
        with pytest.raises(ValueError, match="states its origin in its coordinates"):
            mct.open_volume(unitless, units="micrometer", origin=5.0)
        flipped = f"{folder}/flipped.zarr"
        _store_with_origin(tmp_path / "truth.zarr", 0.0)
        xr.open_zarr(tmp_path / "truth.zarr").transpose("x", "y", "z").to_zarr(flipped)
        volume = mct.open_volume(flipped)
        assert volume.dims == ("z", "y", "x")
        np.testing.assert_array_equal(volume.values, _scan())


def test_a_vector_field_beside_the_scan_is_not_a_second_volume(tmp_path: Path):
    # a DVC displacement (z, y, x, component) beside the scan: "holds 2 volumes"; main
    # opened the scan only where it was stored as z, y, x ("holds 0 volumes" as x, y, z)
    _store_with_origin(tmp_path / "truth.zarr", 0.0)
    scan = xr.open_zarr(tmp_path / "truth.zarr")["scan"].load()
    field = xr.DataArray(np.ones((*scan.shape, 3)), dims=(*scan.dims, "component"))
    for order in ("zyx", "xyz"):
        store = tmp_path / f"dvc-{order}.zarr"
        xr.Dataset({"scan": scan.transpose(*order), "displacement": field}).to_zarr(store)
        volume = mct.open_volume(store)
        assert volume.name == "scan" and volume.dims == ("z", "y", "x")
        np.testing.assert_array_equal(volume.values, _scan())


def test_an_origin_refused_names_its_units_and_one_of_two_values_is_refused(
    tmp_path: Path,
):
    # the store states micrometres: the message said neither unit; origin=(2.0, 1.0) was a
    # NumPy broadcast error (main: ignored)
    store = tmp_path / "scan.ome.zarr"
    mct.from_array(
        _scan(), spacing=0.5, units="micrometer", origin=(2.0, 1.0, 0.0)
    ).microct.to_zarr(store)
    with pytest.raises(
        ValueError,
        match=r"\(\[2\.0, 1\.0, 0\.0\] micrometer, .*\(\[0\.0, 0\.0, 0\.0\], read in the store's "
        r"own units, micrometer\)",
    ):
        mct.open_volume(store, origin=0.0)
    _store_with_origin(tmp_path / "xr.zarr", 2.0)
    for path in (store, tmp_path / "xr.zarr"):
        with pytest.raises(
            ValueError, match=r"origin=\(2\.0, 1\.0\): give one coordinate .* not 2"
        ):
            mct.open_volume(path, origin=(2.0, 1.0))


@pytest.mark.parametrize("kind", ["ome-zarr", "xarray"])
def test_an_origin_given_with_units_is_read_in_them(tmp_path: Path, kind: str):
    # was: compared in the store's micrometres, while the coordinates came back in nm:
    # the origin in nm refused, the micrometre numbers accepted (and the volume at 2000 nm)
    store = tmp_path / f"{kind}.zarr"
    if kind == "ome-zarr":
        mct.from_array(
            _scan(), spacing=0.65, units="micrometer", origin=(2.0, 2.0, 2.0)
        ).microct.to_zarr(store)
    else:
        _store_with_origin(store, 2.0)
    for units, origin in (("nm", 2000.0), ("millimeter", (0.002, 0.002, 0.002))):
        volume = mct.open_volume(store, units=units, origin=origin)
        assert volume.microct.grid.origin == pytest.approx(np.ravel(origin) * np.ones(3))
        assert volume.microct.grid.units == {"nm": "nanometer"}.get(units, units)
        np.testing.assert_array_equal(volume.values, _scan())
    with pytest.raises(
        ValueError,
        match=r"\(\[2000\.0, 2000\.0, 2000\.0\] nanometer; \[2\.0, 2\.0, 2\.0\] micrometer as "
        r"stored, .*not the origin given \(\[2\.0, 2\.0, 2\.0\], read in units='nm'\)",
    ):
        mct.open_volume(store, units="nm", origin=2.0)
    assert mct.open_volume(store, origin=2.0).microct.grid.origin == (2.0,) * 3  # own units


def test_a_scan_stored_z_y_x_is_opened_beside_a_variable_in_another_order(tmp_path: Path):
    # main opened the scan; after the first review: "holds 2 volumes"
    _store_with_origin(tmp_path / "truth.zarr", 0.0)
    scan = xr.open_zarr(tmp_path / "truth.zarr")["scan"].load()
    others = {
        "mask xyz": scan.astype(bool).transpose("x", "y", "z"),
        "zyxc": xr.concat([scan, scan], dim="c").transpose("z", "y", "x", "c"),
    }
    for label, other in others.items():
        store = tmp_path / f"{label.replace(' ', '-')}.zarr"
        xr.Dataset({"scan": scan, "other": other}).to_zarr(store)
        volume = mct.open_volume(store)
        assert volume.name == "scan" and volume.dims == ("z", "y", "x")
        np.testing.assert_array_equal(volume.values, _scan())


def test_a_store_of_a_vector_field_alone_holds_no_volume(tmp_path: Path):
    # after the first review: passed on to a confusing grid error
    field = xr.DataArray(np.ones((2, 3, 4, 3)), dims=("z", "y", "x", "component"))
    xr.Dataset({"disp": field}).to_zarr(tmp_path / "dvc.zarr")
    with pytest.raises(ValueError, match=r"holds 0 volumes .* xarray.open_zarr and pick one"):
        mct.open_volume(tmp_path / "dvc.zarr", spacing=1, units="um")


def test_a_nested_origin_is_refused_by_its_shape(tmp_path: Path):
    _store_with_origin(tmp_path / "xr.zarr", 2.0)
    with pytest.raises(ValueError, match=r"not an array of shape \(1, 3\)"):
        mct.open_volume(tmp_path / "xr.zarr", origin=[[2.0, 1.0, 0.0]])


# --- plain Zarr arrays: their dimension names say which axis is which ------------------


def _plain_named(path: Path, data: np.ndarray, names: tuple[str, ...], zarr_format: int) -> None:
    """A plain Zarr array (no group) of ``names``, written with zarr alone."""
    if zarr_format == 3:
        array = zarr.create_array(
            str(path), shape=data.shape, dtype=data.dtype, dimension_names=names, zarr_format=3
        )
    else:  # xarray's v2 convention
        array = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, zarr_format=2)
        array.attrs["_ARRAY_DIMENSIONS"] = list(names)
    array[:] = data


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize(
    "names",
    [
        ("x", "y", "z"),
        ("z", "x", "y"),
        ("y", "x", "z"),
        ("x", "z", "y"),
        ("y", "z", "x"),
        ("x", "y", "z", "c"),
    ],
)
def test_a_plain_zarr_array_opens_z_y_x_as_its_dimension_names_say(
    tmp_path: Path, names: tuple[str, ...], zarr_format: int
):
    # was: the stored order relabelled z, y, x (x data called z, the spacing on the
    # wrong axes); only names z, y, x read right
    truth = np.random.default_rng(1).integers(0, 1000, (2, 4, 5, 6)).astype(np.uint16)
    truth = truth if "c" in names else truth[0]  # (c,) z, y, x
    full = ("c", "z", "y", "x") if "c" in names else ("z", "y", "x")
    stored = truth.transpose([full.index(name) for name in names])
    path = tmp_path / "named.zarr"
    _plain_named(path, stored, names, zarr_format)
    volume = mct.open_volume(path, spacing=(3.0, 2.0, 1.0), units="micrometer", chunks=(2, 3, 4))
    assert volume.dims == full and volume.shape == truth.shape
    np.testing.assert_array_equal(volume.values, truth)
    assert volume.microct.grid.spacing == (3.0, 2.0, 1.0)
    assert float(volume["x"][-1]) == 5.0 and float(volume["z"][-1]) == 9.0
    assert volume.chunks[-3:] == ((2, 2), (3, 2), (4, 2))  # z, y, x as given


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize("names", [("x", "y", "z"), ("z", "x", "y"), ("c", "y", "x", "z"), None])
def test_a_plain_zarr_arrays_spacing_attribute_follows_its_stored_axes(
    tmp_path: Path, names: tuple[str, ...] | None, zarr_format: int
):
    # was: the attribute read as (dz, dy, dx) whatever the order the array is stored in
    truth = np.random.default_rng(2).integers(0, 1000, (2, 4, 5, 6)).astype(np.uint16)
    truth = truth if names and "c" in names else truth[0]
    full = ("c", "z", "y", "x") if names and "c" in names else ("z", "y", "x")
    order = names or full
    stored = truth.transpose([full.index(name) for name in order])
    path = tmp_path / "named.zarr"
    if names is None:
        zarr.create_array(str(path), data=stored, zarr_format=zarr_format)
    else:
        _plain_named(path, stored, names, zarr_format)
    sizes = {"z": 2.6, "y": 0.65, "x": 0.5}
    array = zarr.open_array(str(path), mode="r+")
    array.attrs["spacing"] = [sizes[dim] for dim in order if dim in sizes]  # as stored
    array.attrs["units"] = "micrometer"
    volume = mct.open_volume(path)
    np.testing.assert_array_equal(volume.values, truth)
    assert volume.microct.grid.spacing == (2.6, 0.65, 0.5)
    assert float(volume["x"][1]) == 0.5 and float(volume["z"][1]) == 2.6
    # the same sizes given again pass; another is refused, naming the axis
    mct.open_volume(path, spacing=(2.6, 0.65, 0.5), units="micrometer")
    with pytest.raises(ValueError, match=r"along x \(0\.5 micrometer\)"):
        mct.open_volume(path, spacing=(2.6, 0.65, 0.65), units="micrometer")


@pytest.mark.parametrize(
    ("attrs", "match"),
    [
        ({"spacing": [2.0, 0.5], "units": "um"}, r"attribute 'spacing' holds 2 values"),
        ({"spacing": [2.0, 0.5, 0.5]}, r"'spacing' has no 'units' beside it"),
    ],
)
def test_a_plain_zarr_arrays_unclear_spacing_attribute_is_refused(
    tmp_path: Path, attrs: dict, match: str
):
    # was: a ValueError of from_array not naming the attribute; a KeyError 'units'
    path = tmp_path / "plain.zarr"
    array = zarr.create_array(str(path), data=_scan())
    array.attrs.update(attrs)
    with pytest.raises(ValueError, match=match):
        mct.open_volume(path)


@pytest.mark.parametrize(
    "names", [("a", "b", "c"), ("dim_0", "dim_1", "dim_2"), ("z", "y", "y"), ("z", "y", "w")]
)
def test_a_plain_zarr_array_of_other_dimension_names_is_refused(
    tmp_path: Path, names: tuple[str, ...]
):
    # was: taken as z, y, x without a word
    path = tmp_path / "named.zarr"
    _plain_named(path, _scan(), names, 3)
    with pytest.raises(ValueError, match=r"names its dimensions .*understood are t, c, z, y, x"):
        mct.open_volume(path, spacing=1.0, units="micrometer")


def test_microct_info_shows_a_named_plain_zarr_array_in_z_y_x(tmp_path: Path, capsys):
    from xarray_microct.cli import main

    path = tmp_path / "named.zarr"
    _plain_named(path, _scan().transpose(2, 1, 0), ("x", "y", "z"), 3)
    assert main(["info", str(path), "--spacing", "1", "--units", "micrometer"]) == 0
    assert "4 × 6 × 8" in capsys.readouterr().out  # z, y, x (stored: 8 × 6 × 4)


# --- a spacing given again: the same as the store's passes, another is refused ----------


def test_an_ome_zarr_takes_its_own_spacing_given_again(tmp_path: Path):
    # was: any spacing= refused, even the store's own (the doc says the same passes)
    store = tmp_path / "scan.ome.zarr"
    mct.from_array(_scan(), spacing=(2.6, 0.65, 0.65), units="micrometer").microct.to_zarr(store)
    for spacing, units in (((2.6, 0.65, 0.65), "micrometer"), ((2600, 650, 650), "nm")):
        volume = mct.open_volume(store, spacing=spacing, units=units)
        np.testing.assert_array_equal(volume.values, _scan())
        assert volume.microct.grid.spacing == spacing  # in the unit given, as it was given
        record = volume.attrs["microct_provenance"][-1]["params"]
        assert record["spacing"] == list(map(float, spacing))
    with pytest.raises(
        ValueError,
        match=r"along x \(0\.65 micrometer\), not the spacing given "
        r"\(0\.6 micrometer\)",
    ):
        mct.open_volume(store, spacing=(2.6, 0.65, 0.6), units="micrometer")


def test_an_xarray_store_compares_a_spacing_given_in_another_unit(tmp_path: Path):
    # was: compared without its unit (650 nm against 0.65 µm: refused)
    store = tmp_path / "xr.zarr"
    _xarray_store(store, "micrometer")
    volume = mct.open_volume(store, spacing=650.0, units="nm")
    assert volume.microct.grid.spacing == (650.0,) * 3  # in the unit given
    assert volume.microct.grid.units == "nanometer"
    stated = r"\(0\.65, 0\.65, 0\.65 micrometer = 650, 650, 650 nanometer\)"
    with pytest.raises(ValueError, match=stated + r", not the spacing given \(1300, "):
        mct.open_volume(store, spacing=1300.0, units="nm")


# --- units= re-expresses the voxel size a file states, one rule for every format --------


def _stating_inputs(folder: Path) -> dict[str, tuple[Path, dict]]:
    """The same scan (2.6 × 0.65 × 0.65 µm) in each format that states its voxel size."""
    import h5py
    import tifffile

    scan = mct.from_array(_scan(), spacing=(2.6, 0.65, 0.65), units="micrometer", name="scan")
    inputs: dict[str, tuple[Path, dict]] = {}
    scan.microct.to_zarr(folder / "scan.ome.zarr")
    inputs["ome-zarr"] = (folder / "scan.ome.zarr", {})
    scan.to_dataset().to_zarr(folder / "xr.zarr")
    inputs["xarray"] = (folder / "xr.zarr", {})
    with h5py.File(folder / "scan.h5", "w") as f:
        f["v"] = _scan()
        f["v"].attrs["spacing"] = [2.6, 0.65, 0.65]
        f["v"].attrs["units"] = "micrometer"
    inputs["hdf5"] = (folder / "scan.h5", {"dataset": "v"})
    tifffile.imwrite(
        folder / "scan.ome.tif",
        _scan(),
        metadata={
            "axes": "ZYX",
            "PhysicalSizeZ": 2.6,
            "PhysicalSizeY": 0.65,
            "PhysicalSizeX": 0.65,
        },
    )
    inputs["ome-tiff"] = (folder / "scan.ome.tif", {})
    plain = zarr.create_array(str(folder / "plain.zarr"), data=_scan())
    plain.attrs.update({"spacing": [2.6, 0.65, 0.65], "units": "micrometer"})
    inputs["plain zarr"] = (folder / "plain.zarr", {})
    return inputs


@pytest.mark.parametrize(
    "given", [{"units": "nm"}, {"spacing": (2600, 650, 650), "units": "nanometer"}]
)
def test_units_given_re_express_the_stated_voxel_size_in_every_format(tmp_path: Path, given: dict):
    # was: an OME-Zarr or an xarray store kept its micrometres (the request checked,
    # then ignored), where HDF5 and TIFF came back in nanometres
    for kind, (path, options) in _stating_inputs(tmp_path).items():
        volume = mct.open_volume(path, **options, **given)
        np.testing.assert_array_equal(volume.values, _scan())
        grid = volume.microct.grid
        assert (kind, grid.units) == (kind, "nanometer")
        assert (kind, grid.spacing) == (kind, (2600.0, 650.0, 650.0))
        assert (kind, volume["x"].values[:3].tolist()) == (kind, [0.0, 650.0, 1300.0])
        assert volume["x"].attrs["units"] == "nanometer"


def test_a_zarr_group_of_plain_arrays_lists_them_and_says_how_to_open_one(tmp_path: Path):
    # was: "is a Zarr group that holds neither an array nor an xarray dataset"
    store = tmp_path / "group.zarr"
    group = zarr.open_group(str(store), mode="w")
    group.create_array("scan", data=_scan())
    group.create_group("masks").create_array("pores", data=_scan() > 500)
    with pytest.raises(
        ValueError,
        match=r"group of 2 arrays \(masks/pores 4 × 6 × 8 bool, scan 4 × 6 × 8 uint16\).*"
        r"open_volume\('.*group\.zarr/masks/pores'",
    ):
        mct.open_volume(store, spacing=1.0, units="micrometer")
    # as the message says: one array opened by its path
    volume = mct.open_volume(store / "scan", spacing=1.0, units="micrometer")
    np.testing.assert_array_equal(volume.values, _scan())


def test_a_spacing_of_one_value_in_a_sequence_is_that_value_for_every_axis(tmp_path: Path):
    # was: "spacing needs 1 or 3 values (z, y, x), got 1" for spacing=(2.6,)
    path = tmp_path / "plain.zarr"
    zarr.create_array(str(path), data=_scan())
    volume = mct.open_volume(path, spacing=(2.6,), units="micrometer")
    assert volume.microct.grid.spacing == (2.6, 2.6, 2.6)
    with pytest.raises(ValueError, match=r"needs 1 or 3 values \(z, y, x\), got 2: \(2\.6, 1\.0\)"):
        mct.open_volume(path, spacing=(2.6, 1.0), units="micrometer")
