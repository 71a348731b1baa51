"""regionprops and volume fractions vs skimage.measure on the whole array."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.measure as skme
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import xarray_microct as mct


def compare(table, labels, intensity, spacing, origin=(0.0, 0.0, 0.0)):
    reference = skme.regionprops(labels, intensity_image=intensity, spacing=spacing)
    assert list(table["label"]) == [r.label for r in reference]
    for r, (_, row) in zip(reference, table.iterrows(), strict=True):
        assert row.voxels == r.num_pixels
        assert row.volume == pytest.approx(r.area)
        centroid = [row.centroid_z, row.centroid_y, row.centroid_x]
        np.testing.assert_allclose(np.subtract(centroid, origin), r.centroid, atol=1e-9)
        assert row.equivalent_diameter == pytest.approx(r.equivalent_diameter_area)
        assert [row[f"bbox-{i}"] for i in range(6)] == list(r.bbox)
        assert row.axis_major_length == pytest.approx(r.axis_major_length, rel=1e-6, abs=1e-6)
        assert row.axis_minor_length == pytest.approx(r.axis_minor_length, rel=1e-6, abs=1e-6)
        if intensity is not None:
            assert row.mean_intensity == pytest.approx(r.intensity_mean)


@given(
    shape=st.tuples(*[st.integers(2, 18)] * 3),
    seed=st.integers(0, 2**32 - 1),
    spacing=st.tuples(*[st.sampled_from([0.5, 1.0, 2.5])] * 3),
    data=st.data(),
)
def test_regionprops_equals_skimage(shape, seed, spacing, data):
    rng = np.random.default_rng(seed)
    labels, _ = ndi.label(ndi.gaussian_filter(rng.random(shape), 1.0) > 0.5)
    intensity = rng.random(shape)
    chunks = tuple(data.draw(st.integers(-(-n // 4), n)) for n in shape)
    vol = mct.from_array(labels, spacing=spacing, units="um", chunks=chunks)
    table = vol.microct.regionprops(intensity=mct.from_array(intensity, spacing=spacing))
    compare(table, labels, intensity, spacing)


def test_object_across_chunks_is_one_row_with_physical_units():
    labels = np.zeros((12, 12, 12), "int32")
    labels[1:11, 2:4, 3:9] = 5  # crosses 3x1x2 chunks of 4
    labels[0, 0, 0] = 2
    vol = mct.from_array(labels, spacing=(3.0, 1.0, 0.5), units="um", origin=(10, 0, 0), chunks=4)
    table = vol.microct.regionprops()
    assert list(table.label) == [2, 5]
    row = table.set_index("label").loc[5]
    assert row.voxels == 120 and row.volume == pytest.approx(120 * 1.5)
    assert row.centroid_z == pytest.approx(10 + 5.5 * 3.0)
    assert row.bbox_min_z == pytest.approx(13.0) and row.bbox_max_z == pytest.approx(40.0)
    assert table.attrs["units"]["volume"] == "micrometer**3"
    assert table.attrs["microct_provenance"][-1]["op"] == "regionprops"
    # the major axis of a slab elongated along z is along z
    assert abs(row.orientation_z) == pytest.approx(1.0)
    compare(table, labels, None, (3.0, 1.0, 0.5), origin=(10.0, 0.0, 0.0))


def test_label_then_regionprops_chain():
    rng = np.random.default_rng(2)
    mask = ndi.gaussian_filter(rng.random((16, 16, 16)), 1.5) > 0.52
    vol = mct.from_array(mask, spacing=0.7, chunks=5)
    table = vol.microct.label().microct.regionprops(properties=["volume"])
    labels, n = ndi.label(mask)
    assert len(table) == n
    assert sorted(table.voxels) == sorted(np.bincount(labels.ravel())[1:])
    assert list(table.columns) == ["label", "voxels", "volume"]


def test_empty_labels():
    table = mct.from_array(np.zeros((4, 4, 4), "uint16"), chunks=2).microct.regionprops()
    assert len(table) == 0 and "volume" in table.columns


def test_regionprops_on_datatree_takes_finest_level():
    labels = np.zeros((8, 8, 8), "int32")
    labels[2:6, 2:6, 2:6] = 1
    level0 = mct.from_array(labels, chunks=4)
    level1 = mct.from_array(labels[::2, ::2, ::2], spacing=2.0, chunks=4)
    tree = xr.DataTree.from_dict(
        {"/0": level0.to_dataset(name="labels"), "/1": level1.to_dataset(name="labels")}
    )
    assert tree.microct.regionprops().voxels.tolist() == [64]
    assert tree.microct.regionprops(level=1).volume.tolist() == [64.0]


@given(
    shape=st.tuples(*[st.integers(1, 12)] * 3),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_volume_fraction_and_porosity(shape, seed, data):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < 0.3
    region = rng.random(shape) < 0.8
    chunks = tuple(data.draw(st.integers(-(-n // 4), n)) for n in shape)
    vol = mct.from_array(mask, chunks=chunks)
    assert float(vol.microct.volume_fraction()) == pytest.approx(mask.mean())
    assert float(vol.microct.porosity()) == pytest.approx(1 - mask.mean())
    if region.any():
        inside = mct.from_array(region, chunks=3)
        expected = 1 - mask[region].mean()
        assert float(vol.microct.porosity(region=inside)) == pytest.approx(expected)


def test_bad_input():
    floats = mct.from_array(np.random.default_rng(0).random((4, 4, 4)))
    with pytest.raises(TypeError, match="integer labels"):
        floats.microct.regionprops()
    labels = mct.from_array(np.ones((4, 4, 4), "int32"))
    with pytest.raises(ValueError, match="unknown properties"):
        labels.microct.regionprops(properties=["perimeter"])
    with pytest.raises(ValueError, match="needs intensity"):
        labels.microct.regionprops(properties=["mean_intensity"])
    with pytest.raises(ValueError, match="differ"):
        labels.microct.regionprops(intensity=mct.from_array(np.ones((4, 4, 5))))
    with pytest.raises(TypeError, match="threshold it first"):
        floats.microct.porosity()


def test_negative_labels_are_refused():
    # A negative label used to be measured as an object; labels are 0, 1, 2, ...
    data = np.zeros((6, 6, 6), "int16")
    data[1:3, 1:3, 1:3] = 1
    data[4:6, 4:6, 4:6] = -3
    with pytest.raises(ValueError, match=r"non-negative labels.*found label -3"):
        mct.from_array(data, chunks=3).microct.regionprops()
    data[data < 0] = 0
    table = mct.from_array(data, chunks=3).microct.regionprops(properties=["volume"])
    assert table["label"].tolist() == [1] and table["voxels"].tolist() == [8]


def test_an_intensity_or_region_on_another_grid_is_refused():
    # was: only the sizes were compared, so the intensity of another crop of the scan (same
    # size, other origin) or of another spacing was averaged as if it lay on the labels
    scan = np.random.default_rng(1).random((12, 8, 8)).astype("float32")
    intensity = mct.from_array(scan, spacing=(2.0, 1.0, 1.0), chunks=4)
    labels = (intensity > 0.5).microct.label()[2:8]
    with pytest.raises(ValueError, match=r"the intensity lies on another grid .* along 'z'"):
        labels.microct.regionprops(intensity=intensity[:6])
    with pytest.raises(ValueError, match=r"the region lies on another grid"):
        (labels > 0).microct.volume_fraction(region=(intensity > 0.2)[:6])
    coarse = mct.from_array(scan[2:8], spacing=(4.0, 1.0, 1.0), chunks=4)
    with pytest.raises(ValueError, match=r"another grid .* along 'z'"):
        labels.microct.regionprops(intensity=coarse)
    in_nm = mct.from_array(scan[2:8], spacing=(2000, 1000, 1000), origin=(4000, 0, 0), units="nm")
    table = labels.microct.regionprops(intensity=in_nm)  # the same grid, in nm
    compare(table, labels.values, scan[2:8], (2.0, 1.0, 1.0), origin=(4.0, 0.0, 0.0))


def test_mean_intensity_carries_the_intensity_unit():
    # was: attrs["units"] had no mean_intensity, so table_quantities and written tables
    # dropped the intensity's unit (1/cm); a unit pint cannot read (HU) is left out
    data = np.zeros((4, 6, 6), "int32")
    data[1:3, 1:4, 1:4] = 1
    labels = mct.from_array(data, spacing=0.5)
    for unit, expected in (("1/cm", "1/cm"), ("HU", None)):
        intensity = mct.from_array(np.full((4, 6, 6), 2.5), spacing=0.5, attrs={"units": unit})
        table = labels.microct.regionprops(intensity=intensity)
        assert table.attrs["units"].get("mean_intensity") == expected
        quantities = mct.table_quantities(table)
        if expected:
            assert quantities["mean_intensity"].to("1/m").magnitude.tolist() == [250.0]
        else:
            assert "mean_intensity" not in quantities
