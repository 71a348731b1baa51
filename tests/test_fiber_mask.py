"""The fiber mask at each fiber's own mid-level (ops/fibers/mask.py)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xarray_microct.core.stats import global_histogram
from xarray_microct.kernels.opening import above_mid_level, opened_slices
from xarray_microct.ops.fibers.mask import (
    _median_of_three,
    _opening,
    background_width,
    fiber_level,
    local_mid_mask,
    median_above,
    mid_levels,
)
from xarray_microct.ops.segment import threshold_values


def _two_phase_bed(seed: int = 0) -> np.ndarray:
    """uint16 slices of blurred disks (radius 3) on a matrix (left) and pores (right)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:60, :90]
    fibers = np.zeros((60, 90), bool)
    for cy, cx in rng.uniform(4, [56, 86], size=(40, 2)):
        fibers |= np.hypot(yy - cy, xx - cx) <= 3
    plane = np.where(fibers, 1.0, np.where(xx < 45, 0.45, 0.1))
    planes = [ndi.gaussian_filter(plane, 0.8) + rng.normal(0, 0.05, plane.shape) for _ in range(5)]
    return np.clip(8000 + 32000 * np.stack(planes), 0, 65535).astype(np.uint16)


def test_median_above_is_the_median_of_the_values_above_the_cut():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 200, size=1001).astype(np.uint8)
    counts, edges = (a.compute() for a in global_histogram(da.from_array(values)))
    for cut in (20.5, 100.5, 150.5):
        above = np.sort(values[values > cut])
        lower_median = above[(len(above) - 1) // 2]
        assert median_above(counts, edges, np.array([cut]), exact=True)[0] == lower_median
    floats = rng.normal(size=20001)
    counts, edges = (a.compute() for a in global_histogram(da.from_array(floats), bins=4096))
    found = median_above(counts, edges, np.array([0.5]), exact=False)[0]
    assert found == pytest.approx(np.median(floats[floats > 0.5]), abs=2e-3)
    assert np.isnan(median_above(counts, edges, np.array([99.0]), exact=False)[0])


@pytest.mark.parametrize("radius", [3.0, 5.0])  # opened as it is, or on a 3 × 3 median
def test_local_mid_mask_equals_its_whole_array_reference_whatever_the_chunks(radius):
    data = _two_phase_bed()
    width = background_width(radius)
    cut = float(threshold_values(da.from_array(data), "otsu")[0].compute())
    level = cut
    for _ in range(2):  # the median above halfway from the cut to the median above it
        above = np.sort(data[data > 0.5 * (cut + level)])
        level = float(above[(len(above) - 1) // 2])
    opened = data
    if radius > 4:  # medians of three along y, then along x
        for axis in (1, 2):
            opened = ndi.median_filter(opened, size=3, axes=(axis,), mode="nearest")
    floor = ndi.grey_opening(opened, size=(1, width, width), mode="nearest")
    reference = data > np.maximum(cut, 0.5 * (level + floor))
    for chunks in ((5, 60, 90), (2, 17, 23), (1, 30, 45)):
        vol = xr.DataArray(da.from_array(data, chunks=chunks), dims=("z", "y", "x"))
        for eager in (True, False):
            mask = local_mid_mask(vol, width, eager=eager).values
            np.testing.assert_array_equal(mask, reference)


def test_local_mid_mask_cuts_fibers_in_matrix_and_pores_at_their_own_mid_level():
    # disks of radius 4 (area 49 + partial pixels) blurred by 1 pixel, in a matrix or in
    # pores: Otsu's one threshold widens those in the matrix and narrows those in the
    # pores; the mid-level between each and its surroundings keeps both near their area
    yy, xx = np.mgrid[:240, :480] / 6
    disks = np.hypot(yy % 10 - 5, xx % 10 - 5) <= 4
    fine = np.where(disks, 1.0, np.where(xx < 40, 0.45, 0.1))
    plane = ndi.gaussian_filter(fine.reshape(40, 6, 80, 6).mean(axis=(1, 3)), 1.0)
    true = disks.reshape(40, 6, 80, 6).mean(axis=(1, 3))
    vol = xr.DataArray(da.from_array(np.stack([plane] * 2), chunks=(1, 20, 40)))
    mask = local_mid_mask(vol, background_width(4.0), eager=True).values[0]
    otsu = plane > float(threshold_values(da.from_array(plane), "otsu")[0].compute())
    for half in (np.s_[:, :40], np.s_[:, 40:]):
        local_error = abs(mask[half].sum() / true[half].sum() - 1)
        otsu_error = abs(otsu[half].sum() / true[half].sum() - 1)
        assert local_error <= otsu_error
    assert abs(mask[:, :40].sum() / true[:, :40].sum() - 1) < abs(
        otsu[:, :40].sum() / true[:, :40].sum() - 1
    )


def test_background_width_bad_input():
    with pytest.raises(ValueError, match="positive"):
        background_width(0.0)


@pytest.mark.parametrize("radius", [2, 3, 5])
def test_fiber_level_is_nearer_the_fibers_plateau_than_the_median_above_otsu(radius):
    # disks (6x finer grid) blurred by 0.8 pixel on a background of 0.3, noise 0.03:
    # the smaller the disks, the more of their pixels are edge, below the plateau
    yy, xx = np.mgrid[:600, :600] / 6
    step = 3 * radius
    disks = np.hypot(yy % step - step / 2, xx % step - step / 2) <= radius
    clean = ndi.gaussian_filter(
        np.where(disks, 1.0, 0.3).reshape(100, 6, 100, 6).mean(axis=(1, 3)), 0.8
    )
    plane = clean + np.random.default_rng(radius).normal(0, 0.03, clean.shape)
    data = da.from_array(plane)
    cut = threshold_values(data, "otsu")[:1].compute()
    counts, edges = (a.compute() for a in global_histogram(data, bins=1024))
    plain = median_above(counts, edges, cut, exact=False)[0]
    level = fiber_level(counts, edges, cut, exact=False)[0]
    peak = clean.max()  # the centre of a disk
    assert plain + 0.01 < level <= peak + 0.03  # nearer the plateau, never beyond it
    again = median_above(counts, edges, 0.5 * (cut + plain), exact=False)[0]
    assert again == level


def _scipy_floor(block: np.ndarray, width: int, median: bool) -> np.ndarray:
    """The opening as SciPy gives it (of the medians of three along y, then x)."""
    if median:
        for axis in (1, 2):
            block = ndi.median_filter(block, size=3, axes=(axis,), mode="nearest")
    return ndi.grey_opening(block, size=(1, width, width), mode="nearest")


_DTYPES = st.sampled_from([np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32)])


@st.composite
def _blocks(draw):
    dtype = draw(_DTYPES)
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    if dtype.kind == "f":  # the extremes of the type and infinities too, never NaN
        info = np.finfo(dtype)
        values = st.floats(-np.inf, np.inf, allow_nan=False, width=32) | st.sampled_from(
            [float(info.min), float(info.max), 0.0, -0.0]
        )
    else:
        info = np.iinfo(dtype)
        values = st.integers(int(info.min), int(info.max))
    # few distinct levels too, so that ties and plateaus are common
    elements = values | st.sampled_from([0, 1, 2]).map(float if dtype.kind == "f" else int)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@given(block=_blocks(), half=st.integers(0, 12), median=st.booleans())
def test_opened_slices_equals_scipy_grey_opening_bit_for_bit(block, half, median):
    width = 2 * half + 1  # wider than the block too: the edges repeated
    expected = _scipy_floor(block, width, median)
    found = opened_slices(block, width, median=median)
    assert found.dtype == block.dtype
    np.testing.assert_array_equal(found, expected, strict=True)


@pytest.mark.parametrize("width", [7, 13, 14])  # odd (numba), odd with the median, even
@pytest.mark.parametrize("dtype", ["float32", ">f4"])  # native, big-endian (SciPy's)
def test_opening_is_scipy_s_with_nan_or_even_widths(width, dtype):
    rng = np.random.default_rng(width)
    block = rng.normal(size=(2, 30, 41)).astype(dtype)
    expected = _scipy_floor(block, width, width >= 13)
    if width == 13:  # NaN: NumPy's medians of three (NaN wins), SciPy's opening
        block[1, 5, 7] = np.nan
        medians = _median_of_three(_median_of_three(block, axis=1), axis=2)
        expected = ndi.grey_opening(medians, size=(1, width, width), mode="nearest")
    np.testing.assert_array_equal(_opening(block, width), expected)


def test_opened_slices_bad_input():
    with pytest.raises(ValueError, match="odd"):
        opened_slices(np.zeros((1, 4, 4), np.uint8), 4)
    with pytest.raises(ValueError, match="3-D"):
        opened_slices(np.zeros((4, 4), np.uint8), 3)


_LEVELS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.5, 127.5, 1e4])


@given(
    data=_blocks(),
    floor_seed=st.integers(0, 2**16),
    cut=_LEVELS,
    level=_LEVELS,
    scalar=st.sampled_from([float, np.float64, np.float32]),
)
def test_above_mid_level_is_numpy_s_comparison_bit_for_bit(data, floor_seed, cut, level, scalar):
    # Python floats (eager) and NumPy scalars (lazy) promote differently (NEP 50)
    floor = np.random.default_rng(floor_seed).permutation(data.reshape(-1)).reshape(data.shape)
    with np.errstate(all="ignore"):
        cut, level = scalar(cut), scalar(level)
        expected = data > np.maximum(cut, 0.5 * (level + floor))
        found = above_mid_level(data, floor, cut, level)
    np.testing.assert_array_equal(found, expected, strict=True)


def _fiber_plane(rng: np.random.Generator, n: int, radius: float, level: float):
    """A slice of straight fibers (``level``, ``radius`` pixels on a jittered grid) in a
    matrix of 0.35, blurred by a pixel; and its pixels' y and x."""
    pitch = 2 * radius + 4
    yy, xx = np.mgrid[:n, :n].astype(np.float64)
    plane = np.full((n, n), 0.35)
    for cy in np.arange(pitch / 2, n, pitch):
        for cx in np.arange(pitch / 2, n, pitch):
            dy, dx = rng.uniform(-1.5, 1.5, 2)
            inside = np.clip(radius - np.hypot(yy - cy - dy, xx - cx - dx) + 0.5, 0, 1)
            plane = plane * (1 - inside) + level * inside
    return ndi.gaussian_filter(plane, 1.0), yy, xx


def _cupped_bed(cupping: float, radius: float = 6.0, seed: int = 3) -> np.ndarray:
    """float32 slices of straight fibers (``radius`` pixels, on a jittered grid, blurred
    by a pixel) in a matrix, brighter towards the field's edge by ``cupping`` × R² (R:
    the distance from the centre over the half-width) as beam hardening makes a scan."""
    rng = np.random.default_rng(seed)
    n = 192
    plane, yy, xx = _fiber_plane(rng, n, radius, 0.75)
    plane += cupping * (np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2) / (n / 2)) ** 2
    return np.stack([plane + rng.normal(0, 0.03, plane.shape) for _ in range(12)]).astype(
        np.float32
    )


def test_detected_radii_do_not_follow_a_cupped_scan_s_brightness():
    # the surroundings' level follows the cupping, the fibers' level and Otsu's floor
    # did not: the threshold sat high at the dark centre (sections narrow) and low at
    # the bright edge (wide), -9.6 against +5.1 % on the same kind of bed
    import xarray_microct as mct

    volume = mct.from_array(_cupped_bed(0.15), spacing=(1.0, 1.0, 1.0), units="um")
    table = volume.microct.detect_fibers(radius="6 um")
    inner = table[~table["touches_side"].astype(bool)]
    reach = np.hypot(inner["y"] - 95.5, inner["x"] - 95.5) / 96
    centre = inner["radius"][reach < 0.35].mean() / 6.0 - 1
    edge = inner["radius"][(reach > 0.75) & (reach < 1.0)].mean() / 6.0 - 1
    assert abs(edge - centre) < 0.03, (centre, edge)


def test_local_mid_mask_follows_a_cupping_the_same_whatever_the_chunks():
    # the mask's area on a cupped bed over that on the same bed flat, by distance from
    # the centre: the same near the centre and near the edge (Otsu's floor and the
    # fibers' level from the whole volume made it 12 % smaller at the centre than at
    # the edge); and the same booleans for any chunking, lazily or not
    width = background_width(6.0)
    flat = xr.DataArray(da.from_array(_cupped_bed(0.0), chunks=(12, 96, 96)))
    flat_mask = local_mid_mask(flat, width, eager=True).values
    cupped = _cupped_bed(0.15)
    reach = np.hypot(*(np.mgrid[:192, :192] - 95.5)) / 96
    masks = [
        local_mid_mask(
            xr.DataArray(da.from_array(cupped, chunks=chunks)), width, eager=eager
        ).values
        for chunks in ((12, 192, 192), (5, 70, 50), (3, 64, 100))
        for eager in (True, False)
    ]
    for mask in masks[1:]:
        np.testing.assert_array_equal(mask, masks[0])
    ratios = [
        masks[0][:, ring].sum() / flat_mask[:, ring].sum()
        for ring in (reach < 0.35, (reach > 0.75) & (reach < 1.0))
    ]
    assert abs(ratios[1] - ratios[0]) < 0.03, ratios


def _scaled_bed(scaled: float, n: int = 256, radius: float = 6.0, seed: int = 3):
    """float32 slices of fibers (0.6 on a matrix of 0.35, ``radius`` pixels on a jittered
    grid, blurred by a pixel) scaled by 1 − ``scaled`` (1 − R²) (R: the distance from
    the centre over the half-width, at most 1.2), and R."""
    rng = np.random.default_rng(seed)
    plane, yy, xx = _fiber_plane(rng, n, radius, 0.6)
    reach = np.minimum(np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2) / (n / 2), 1.2)
    plane *= 1 - scaled * (1 - reach**2)
    slices = np.stack([plane + rng.normal(0, 0.025, plane.shape) for _ in range(12)])
    return slices.astype(np.float32), reach


@pytest.mark.xfail(
    strict=True,
    reason="known limit: a tile whose fibers lie under halfway from their surroundings to "
    "the volume's fibers' level is read as holding no fibers and left unshifted (a second "
    "histogram per tile fixed it: see the module docstring of ops.fibers.mask)",
)
def test_local_mid_mask_keeps_the_fibers_of_a_tile_at_half_the_contrast():
    # the scan scaled by 1 - 0.5 (1 - R²): the centre's fibers lie under halfway from
    # their surroundings to the volume's fibers' level, so their tile read as holding no
    # fibers and stayed unshifted (the mask kept 21 % of the flat bed's area there)
    width = background_width(6.0)
    flat, reach = _scaled_bed(0.0)
    flat_mask = local_mid_mask(xr.DataArray(da.from_array(flat)), width, eager=True).values
    scaled, _ = _scaled_bed(0.5)
    mask = local_mid_mask(xr.DataArray(da.from_array(scaled)), width, eager=True).values
    for ring in (reach < 0.25, (reach > 0.4) & (reach < 0.6), (reach > 0.75) & (reach < 1.0)):
        assert 0.8 < mask[:, ring].sum() / flat_mask[:, ring].sum() < 1.2


@pytest.mark.parametrize(("cupping", "measured"), [(0.0, False), (0.15, True)])
def test_tiles_measured_only_where_the_screen_sees_uneven_brightness(
    monkeypatch, cupping, measured
):
    # the tiles' levels need an opening of their own (a second pass over the volume):
    # the screen read in the levels' pass spares it where the brightness is even, and
    # the mask there is the plain one, to the bit
    import xarray_microct.ops.fibers.mask as mask_module

    opened = []
    real_opening = mask_module._opening

    def counted(block, width):
        if block.size:  # not dask's trial on an empty block
            opened.append(block.shape)
        return real_opening(block, width)

    monkeypatch.setattr(mask_module, "_opening", counted)
    volume = xr.DataArray(da.from_array(_cupped_bed(cupping), chunks=(6, 96, 96)))
    width = background_width(6.0)
    mask = local_mid_mask(volume, width, eager=True)
    assert bool(opened) is measured  # only the tiles' opening runs before the mask's
    if not measured:
        cut, level = mid_levels(volume.data, eager=True)
        floor = _opening(volume.values, width)  # each slice's, whole
        expected = volume.values > np.maximum(cut, 0.5 * (level + floor))
        np.testing.assert_array_equal(mask.values, expected)
