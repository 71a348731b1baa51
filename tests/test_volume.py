"""The volume model: construction, validation, readers."""

import dask.array as da
import numpy as np
import pytest
import tifffile
import xarray as xr

import xarray_microct as mct


def test_from_array_builds_physical_coordinates():
    vol = mct.from_array(
        np.zeros((3, 4, 5), "uint16"), spacing=(2.6, 0.65, 0.65), origin=(10, 0, 1), units="um"
    )
    assert vol.dims == ("z", "y", "x")
    assert isinstance(vol.data, da.Array)
    np.testing.assert_allclose(vol.z, [10, 12.6, 15.2])
    np.testing.assert_allclose(vol.x, 1 + 0.65 * np.arange(5))
    assert all(vol[d].attrs["units"] == "micrometer" for d in "zyx")
    grid = mct.grid_of(vol)
    assert grid.spacing == pytest.approx((2.6, 0.65, 0.65))
    assert grid.origin == pytest.approx((10, 0, 1))
    assert vol.attrs["microct_provenance"] == []


def test_leading_channel_and_time_dims():
    vol = mct.from_array(np.zeros((2, 3, 4, 5, 6)))
    assert vol.dims == ("t", "c", "z", "y", "x")
    assert mct.from_array(np.zeros((3, 4, 5, 6))).dims == ("c", "z", "y", "x")


def test_dask_input_keeps_its_chunks_and_numpy_gets_defaults():
    x = da.zeros((300, 40, 50), chunks=(100, 20, 25))
    assert mct.from_array(x).chunks == x.chunks
    assert mct.from_array(np.zeros((300, 40, 50))).data.chunksize == (128, 40, 50)


def test_single_slice_keeps_its_spacing_through_selection():
    vol = mct.from_array(np.zeros((5, 4, 4)), spacing=(3.0, 1.0, 1.0))
    one = vol.isel(z=[2])
    assert mct.grid_of(one).spacing == (3.0, 1.0, 1.0)


def test_pint_quantify_works_on_volumes():
    vol = mct.from_array(np.ones((2, 3, 4)), spacing=0.5, attrs={"units": "1/cm"})
    quantified = vol.pint.quantify()
    assert str(quantified.pint.units) == "1 / centimeter"
    assert str(quantified.x.pint.units) == "micrometer" or "micrometer" in str(
        quantified.indexes["x"]
    )


@pytest.mark.parametrize(
    ("array", "kwargs", "error", "match"),
    [
        (np.zeros((4, 4)), {}, ValueError, "3-D"),
        (np.array([[["a"]]]), {}, TypeError, "numeric"),
        (np.zeros((2, 2, 2), complex), {}, TypeError, "numeric"),
        (np.zeros((2, 2, 2)), {"units": "furlongs"}, ValueError, "NGFF"),
        (np.zeros((2, 2, 2)), {"units": "second"}, ValueError, "not a length"),
        (np.zeros((2, 2, 2)), {"spacing": 0}, ValueError, "positive"),
        (np.zeros((2, 2, 2)), {"spacing": (1, 2)}, ValueError, "1 or 3"),
        (np.zeros((2, 2, 2)), {"dims": ("x", "y", "z")}, ValueError, "dims"),
        (np.zeros((2, 2, 2, 2, 2, 2)), {}, ValueError, "at most 5"),
        (np.zeros((0, 16, 16)), {}, ValueError, "empty: it has no voxels along 'z'"),
        (np.zeros((0, 2, 4, 4)), {}, ValueError, "empty: it has no voxels along 'c'"),
    ],
)
def test_from_array_rejects_bad_input(array, kwargs, error, match):
    with pytest.raises(error, match=match):
        mct.from_array(array, **kwargs)


def test_an_empty_selection_is_refused_as_empty():
    # was: "coordinate 'z' must increase, got a step of nan", after NumPy's warnings
    vol = mct.from_array(np.zeros((4, 4, 4)), spacing=0.5)
    empty = vol.sel(z=slice(10.0, 20.0))
    with pytest.raises(ValueError, match=r"empty: it has no voxels along 'z'.*vol.sel"):
        empty.microct.gaussian(sigma=1)


def _coords(n=4, step=1.0, units="micrometer"):
    return {d: (d, np.arange(n) * step, {"units": units}) for d in "zyx"}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: xr.DataArray(np.zeros((4, 4, 4)), dims=("z", "y", "x")), "no coordinate"),
        (
            lambda: xr.DataArray(
                np.zeros((4, 4, 4)),
                dims=("z", "y", "x"),
                coords={d: np.arange(4.0) for d in "zyx"},
            ),
            "no 'units'",
        ),
        (
            lambda: xr.DataArray(
                np.zeros((4, 4, 4)),
                dims=("z", "y", "x"),
                coords={**_coords(), "x": ("x", [0, 1, 3, 4], {"units": "um"})},
            ),
            "not uniformly spaced",
        ),
        (
            lambda: xr.DataArray(
                np.zeros((4, 4, 4)),
                dims=("z", "y", "x"),
                coords={**_coords(), "x": ("x", [3, 2, 1, 0], {"units": "um"})},
            ),
            "must increase",
        ),
        (
            lambda: xr.DataArray(
                np.zeros((4, 4, 4)),
                dims=("z", "y", "x"),
                coords={**_coords(), "x": ("x", np.arange(4.0), {"units": "mm"})},
            ),
            "different units",
        ),
        (lambda: xr.DataArray(np.zeros((4, 4, 4)), dims=("a", "y", "x")), "dims"),
    ],
)
def test_validator_names_the_problem(make, match):
    with pytest.raises(ValueError, match=match):
        mct.grid_of(make())


def test_verbs_validate_their_input():
    bad = xr.DataArray(np.zeros((4, 4)), dims=("y", "x"))
    with pytest.raises(ValueError, match="dims"):
        bad.microct.gaussian(sigma=1)


def test_plain_zarr_array_needs_and_uses_a_voxel_size(tmp_path):
    import zarr

    store = tmp_path / "plain.zarr"
    data = np.arange(6 * 7 * 8, dtype="uint16").reshape(6, 7, 8)
    array = zarr.create_array(store, shape=data.shape, dtype=data.dtype, chunks=(3, 7, 4))
    array[...] = data
    with pytest.raises(ValueError, match="voxel size"):
        mct.open_volume(store)
    vol = mct.open_volume(store, spacing=0.5, units="um")
    assert vol.chunks == ((3, 3), (7,), (4, 4))
    np.testing.assert_array_equal(vol.values, data)
    assert vol.attrs["microct_provenance"][-1]["op"] == "open_volume"


def test_xarray_zarr_round_trip_keeps_coords_units_and_provenance(tmp_path):
    vol = mct.from_array(np.random.default_rng(0).random((8, 9, 10)), spacing=(2, 1, 1))
    result = vol.microct.gaussian(sigma="2 um").microct.normalize(method="minmax")
    result.to_zarr(tmp_path / "r.zarr")
    back = mct.open_volume(tmp_path / "r.zarr")
    assert mct.grid_of(back) == mct.grid_of(result)
    assert back.attrs["microct_provenance"][:-1] == result.attrs["microct_provenance"]
    assert back.attrs["history"].startswith(result.attrs["history"] + "\n")
    np.testing.assert_allclose(back.values, result.values)


def test_tiff_multipage_file_and_folder_read_lazily(tmp_path):
    data = np.random.default_rng(1).integers(0, 255, (70, 12, 9), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "stack.tif", data, photometric="minisblack")
    folder = tmp_path / "slices"
    folder.mkdir()
    for i, plane in enumerate(data):
        tifffile.imwrite(folder / f"slice_{i}.tif", plane)  # natural order: 2 < 10
    for path in (tmp_path / "stack.tif", folder):
        vol = mct.open_volume(path, spacing=(1.3, 0.65, 0.65), units="um")
        assert isinstance(vol.data, da.Array)
        assert vol.shape == data.shape
        np.testing.assert_array_equal(vol.isel(z=slice(60, 70)).values, data[60:70])
        np.testing.assert_array_equal(vol.values, data)


def test_imagej_tiff_calibration_is_read(tmp_path):
    data = np.zeros((4, 5, 6), np.uint16)
    tifffile.imwrite(
        tmp_path / "cal.tif",
        data,
        imagej=True,
        resolution=(1 / 0.65, 1 / 0.65),
        metadata={"spacing": 1.3, "unit": "micron", "axes": "ZYX"},
    )
    grid = mct.grid_of(mct.open_volume(tmp_path / "cal.tif"))
    assert grid.spacing == pytest.approx((1.3, 0.65, 0.65))
    assert grid.units == "micrometer"


def test_unknown_format_and_missing_path(tmp_path):
    (tmp_path / "scan.xyz").write_text("nothing")
    with pytest.raises(ValueError, match="cannot tell the format"):
        mct.open_volume(tmp_path / "scan.xyz")
    with pytest.raises(FileNotFoundError):
        mct.open_volume(tmp_path / "absent.zarr")


def test_same_grid_in_the_same_unit_needs_no_pint(monkeypatch):
    """A volume on the grid of another in the same unit (however it is spelled) is
    checked without pint (its registry takes 0.45 CPU s to build, which a run need not
    pay: the bead pipeline checks its scan so); another unit is converted by pint."""
    from xarray_microct.core import volume as volume_module
    from xarray_microct.core.volume import check_same_grid

    vol = mct.from_array(np.zeros((4, 4, 4)), spacing=0.5, units="micrometer")
    spelled = [mct.from_array(np.ones((4, 4, 4)), spacing=0.5, units=u) for u in ("um", "µm")]

    def no_pint(unit):
        raise AssertionError(f"pint asked for {unit!r}")

    with monkeypatch.context() as patched:
        patched.setattr(volume_module, "parse_unit", no_pint)
        for other in [vol, *spelled]:
            check_same_grid(vol, other, "the scan")
        with pytest.raises(ValueError, match="another grid"):
            check_same_grid(vol, spelled[0].assign_coords(x=spelled[0].x + 0.5), "the scan")
    in_nm = mct.from_array(np.ones((4, 4, 4)), spacing=500.0, units="nm")
    check_same_grid(vol, in_nm, "the scan")
    with pytest.raises(ValueError, match="another grid"):
        check_same_grid(vol, mct.from_array(np.ones((4, 4, 4)), spacing=50.0, units="nm"), "it")
