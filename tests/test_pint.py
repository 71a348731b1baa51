"""pint-xarray in and out: quantified volumes go through every verb; tables to quantities."""

import numpy as np
import pandas as pd
import pint
import pytest
import xarray as xr

import xarray_microct as mct
from xarray_microct.core.registry import REGISTRY
from xarray_microct.core.units import ureg
from xarray_microct.synthetic import fiber_bed


def _scan() -> xr.DataArray:
    rng = np.random.default_rng(3)
    z, y, x = np.mgrid[:12, :16, :16]
    blobs = ((z - 5) ** 2 + (y - 5) ** 2 + (x - 5) ** 2 < 12) | (
        (z - 7) ** 2 + (y - 11) ** 2 + (x - 10) ** 2 < 9
    )
    data = (100 * blobs + rng.normal(20, 5, blobs.shape)).astype("float32")
    return mct.from_array(
        data, spacing=(2.0, 1.0, 1.0), units="um", chunks=8, attrs={"units": "1/cm"}
    )


def _mask(v):
    return v.microct.threshold()


# one call per verb; each takes the quantified volume (or mask/labels made from it)
CALLS = {
    "blobness": lambda v: v.microct.blobness(sigma=1),
    "clear_padding": lambda v: _mask(v).microct.label().microct.clear_padding(v),
    "closing": lambda v: _mask(v).microct.closing(radius=1),
    "core_distance": lambda v: v.microct.core_distance(),
    "denoise": lambda v: v.microct.denoise(sigma=1),
    "detect_fibers": None,  # on a fiber bed, below
    "dilation": lambda v: _mask(v).microct.dilation(radius=1),
    "drop_outside_labels": lambda v: (
        _mask(v).microct.label().microct.drop_outside_labels(v, _mask(v), min_radius=1)
    ),
    "distance_transform": lambda v: _mask(v).microct.distance_transform(),
    "erosion": lambda v: _mask(v).microct.erosion(radius=1),
    "fill_holes": lambda v: _mask(v).microct.fill_holes(),
    "fill_outside": lambda v: v.microct.fill_outside(),
    "fill_padding": lambda v: v.microct.fill_padding(),
    "frangi": lambda v: v.microct.frangi(sigma=1),
    "gaussian": lambda v: v.microct.gaussian(sigma="1 um"),
    "hessian_eigenvalues": lambda v: v.microct.hessian_eigenvalues(sigma=1),
    "hysteresis": lambda v: v.microct.hysteresis(),
    "invert": lambda v: v.microct.invert(),
    "label": lambda v: _mask(v).microct.label(),
    "median": lambda v: v.microct.median(radius=1),
    "normalize": lambda v: v.microct.normalize(),
    "objectness": lambda v: v.microct.objectness(sigma=1),
    "opening": lambda v: _mask(v).microct.opening(radius=1),
    "plateness": lambda v: v.microct.plateness(sigma=1),
    "porosity": lambda v: _mask(v).microct.porosity(),
    "pyramid": lambda v: v.microct.pyramid(),
    "regionprops": lambda v: _mask(v).microct.label().microct.regionprops(intensity=v),
    "remove_rings": lambda v: v.microct.remove_rings(),
    "remove_small_objects": lambda v: _mask(v).microct.remove_small_objects(min_size=10),
    "segment": lambda v: v.microct.segment(),
    "smooth_labels": lambda v: _mask(v).microct.label().microct.smooth_labels(sigma=1, radius=3),
    "threshold": lambda v: v.microct.threshold(),
    "threshold_value": lambda v: v.microct.threshold_value(),
    "tubeness": lambda v: v.microct.tubeness(sigma=1),
    "unsharp_mask": lambda v: v.microct.unsharp_mask(sigma=1),
    "volume_fraction": lambda v: _mask(v).microct.volume_fraction(),
    "watershed": lambda v: _mask(v).microct.watershed(min_distance=2),
}


def _assert_same(quantified, plain):
    if isinstance(plain, pd.DataFrame):
        pd.testing.assert_frame_equal(quantified, plain)
    elif isinstance(plain, xr.DataTree):
        assert quantified.microct.levels == plain.microct.levels
        for level in range(len(plain.microct.levels)):
            _assert_same(quantified.microct.select_level(level), plain.microct.select_level(level))
    else:
        assert not mct.core.volume.is_quantified(quantified)
        xr.testing.assert_equal(quantified.compute(), plain.compute())
        if "units" in plain.attrs:  # the same unit, perhaps spelt differently by pint
            assert ureg.Unit(quantified.attrs["units"]) == ureg.Unit(plain.attrs["units"])
        for name, coord in plain.coords.items():
            assert quantified.coords[name].attrs == coord.attrs


def test_every_verb_is_covered():
    assert set(CALLS) == set(REGISTRY)


@pytest.mark.parametrize("verb", sorted(v for v in CALLS if CALLS[v] is not None))
def test_quantified_volume_gives_the_plain_result(verb):
    scan = _scan()
    quantified = scan.pint.quantify()
    assert isinstance(quantified.data, pint.Quantity)
    assert isinstance(quantified.z.data, pint.Quantity) and "units" not in quantified.z.attrs
    _assert_same(CALLS[verb](quantified), CALLS[verb](scan))


def test_quantified_fiber_bed_detects_the_same_fibers():
    vol, _ = fiber_bed((12, 40, 40), seed=2, tilt=0)
    plain = vol.microct.detect_fibers(radius="6.4 um")
    quantified = vol.pint.quantify().microct.detect_fibers(radius="6.4 um")
    assert len(plain) > 0
    pd.testing.assert_frame_equal(quantified, plain)


def test_grid_reads_units_from_pint_in_any_unit():
    scan = _scan().pint.quantify().pint.to(z=ureg.nm, y=ureg.nm, x=ureg.nm)
    grid = scan.microct.grid
    assert grid.units == "nanometer"
    assert grid.spacing == pytest.approx((2000.0, 1000.0, 1000.0))


def test_mixed_pint_units_are_refused_clearly():
    scan = _scan().pint.quantify().pint.to(z=ureg.nm)
    with pytest.raises(ValueError, match="different units"):
        scan.microct.gaussian(sigma=1)


def test_regionprops_table_to_quantities():
    labels = np.zeros((4, 6, 6), "uint8")
    labels[:2, :3, :3] = 1
    labels[2:, 3:, 3:] = 2
    vol = mct.from_array(labels, spacing=(2.0, 0.5, 0.5), units="um", chunks=3)
    table = vol.microct.regionprops()
    quantities = mct.table_quantities(table)
    assert "label" not in quantities and "voxels" not in quantities
    np.testing.assert_allclose(quantities["volume"].to("um**3").magnitude, [18 * 0.5, 18 * 0.5])
    assert quantities["centroid_z"].units == ureg.micrometer
    np.testing.assert_allclose(quantities["centroid_z"].to("nm").magnitude, [1000.0, 5000.0])


def test_fiber_tables_to_quantities():
    vol, _ = fiber_bed((12, 40, 40), seed=2, tilt=0)
    table = vol.microct.detect_fibers(radius="6.4 um")
    quantities = mct.table_quantities(table)
    assert list(quantities) == ["z", "y", "x", "radius"]
    np.testing.assert_allclose(
        quantities["radius"].to("mm").magnitude, table["radius"].to_numpy() / 1000
    )
    summary = mct.table_quantities(mct.fiber_summary(table).fibers)
    assert summary["polar"].units == ureg.degree
    assert summary["length"].units == ureg.micrometer
    assert "straightness" not in summary and "n_slices" not in summary


def test_table_without_units_gives_no_quantities():
    assert mct.table_quantities(pd.DataFrame({"a": [1.0]})) == {}
