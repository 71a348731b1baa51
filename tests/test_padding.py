"""Out-of-field padding (a constant outside the reconstruction circle) is left out of
the global statistics: thresholds, the bead and fiber pipelines on circular-FOV scans.

The phantoms are built here (not with the library's synthetic module): balls and
cylinders drawn with numpy, blurred and noised, zero outside a circle in ``(y, x)``.
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import dark_balls
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.filters import threshold_otsu

import xarray_microct as mct
from xarray_microct.core.stats import global_histogram, padding_mask_array, padding_of
from xarray_microct.ops.segment import threshold_values


def _circle(shape: tuple[int, int, int], margin: float = 1.0) -> np.ndarray:
    _, ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    radius = min(ny, nx) / 2 - margin
    return (yy - (ny - 1) / 2) ** 2 + (xx - (nx - 1) / 2) ** 2 <= radius**2


def _two_phase(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """Blurred random blobs (bright 1600, dark 600) with noise: a scan of two phases."""
    rng = np.random.default_rng(seed)
    phases = ndi.gaussian_filter(rng.random(shape), 2.0) > 0.5
    scan = np.where(phases, 1600.0, 600.0) + rng.normal(0, 80, shape)
    return ndi.gaussian_filter(scan, 0.7).astype(np.float32)


def test_padding_found_exactly_for_any_chunking():
    scan = _two_phase((12, 40, 40), 0)
    fov = _circle(scan.shape)
    padded = np.where(fov, scan, 0).astype(np.float32)
    share = 1 - fov.mean()
    for chunks in (None, 7, 13):
        value, found = padding_of(da.from_array(padded, chunks=chunks or padded.shape)).compute()
        assert value == 0.0 and found == pytest.approx(share)
    # at the maximum too (an inverted scan), and in a 16-bit scan (exact histogram)
    assert padding_of(da.from_array(np.where(fov, scan, 4000.0))).compute()[0] == 4000.0
    as_u16 = np.where(fov, scan, 0).astype(np.uint16)
    assert padding_of(da.from_array(as_u16, chunks=7)).compute()[0] == 0.0


def test_padding_of_takes_numpy_arrays_and_dataarrays():
    scan = _two_phase((12, 40, 40), 1)
    fov = _circle(scan.shape)
    padded = np.where(fov, scan, 0).astype(np.float32)
    volume = mct.from_array(padded, spacing=1.3, units="um")
    for data in (padded, volume, volume.chunk(7)):
        value, share = padding_of(data).compute()
        assert value == 0.0 and share == pytest.approx(1 - fov.mean())


@pytest.mark.parametrize("dtype", ["float32", "uint16"])
def test_threshold_of_a_padded_scan_is_that_of_its_field(dtype):
    scan = _two_phase((12, 48, 48), 1)
    fov = _circle(scan.shape)
    padded = np.where(fov, scan, 0).astype(dtype)
    inside = padded[:, fov]
    expected = threshold_otsu(inside.astype(np.float64), nbins=256)
    for chunks in (None, 7, 13):
        found = float(threshold_values(da.from_array(padded, chunks=chunks or padded.shape))[0])
        # the bins span the padding too: within two of its (wider) bins of the reference
        assert abs(found - expected) < 2 * float(padded.max()) / 256, (found, expected)
    # the phases split as in the field alone (the old threshold fell between 0 and the
    # dark phase, taking the whole field as foreground)
    assert abs(found - 1100) < 150


def test_scan_with_a_noisy_dark_phase_is_unchanged():
    scan = _two_phase((12, 48, 48), 2)  # pores: a dark phase of varied values
    data = da.from_array(scan, chunks=13)
    assert np.isnan(padding_of(data).compute()[0])
    counts, _ = global_histogram(data)
    raw, _ = global_histogram(data, padding=False)
    assert np.array_equal(counts.compute(), raw.compute())
    assert float(threshold_values(data)[0]) == pytest.approx(threshold_otsu(scan, nbins=256))
    vol = mct.from_array(scan, chunks=13)
    assert np.array_equal(vol.microct.fill_padding().values, scan)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m,  # a boolean mask
        lambda m: m.astype(np.float32),  # a binary-like float volume
        lambda m: (m * np.arange(m.size).reshape(m.shape) % 7).astype(np.int32),  # labels
        lambda m: (m * np.arange(m.size).reshape(m.shape) % 7).astype(np.uint8),
    ],
)
def test_masks_and_labels_have_no_padding(make):
    rng = np.random.default_rng(3)
    mask = rng.random((10, 20, 20)) < 0.3
    volume = make(mask)
    assert np.isnan(padding_of(da.from_array(volume, chunks=7)).compute()[0])
    counts, _ = global_histogram(da.from_array(volume, chunks=7))
    raw, _ = global_histogram(da.from_array(volume, chunks=7), padding=False)
    assert np.array_equal(counts.compute(), raw.compute())


def _bead_phantom(seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, float]]]:
    """Dark balls (radius 5-7) on a bright matrix, zero outside a circular field."""
    rng = np.random.default_rng(seed)
    shape = (36, 72, 72)
    truth, balls = dark_balls(rng, shape, shape)
    scan = 1600.0 - 1000.0 * ndi.gaussian_filter((truth > 0).astype(np.float64), 0.7)
    scan += rng.normal(0, 80, shape)
    fov = _circle(shape)
    return np.where(fov, scan, 0).astype(np.float32), truth, balls


def test_beads_on_a_circular_field_of_view():
    scan, truth, balls = _bead_phantom(5)
    _, ny, nx = scan.shape
    field_radius = min(ny, nx) / 2 - 1
    centre = np.array([(ny - 1) / 2, (nx - 1) / 2])
    whole = [
        i + 1 for i, (c, r) in enumerate(balls) if np.hypot(*(c[1:] - centre)) + r <= field_radius
    ]
    assert len(whole) >= 10
    labels = mct.pipelines.beads(mct.from_array(scan)).values
    ious = []
    for t in whole:
        inside = truth == t
        hits = np.bincount(labels[inside], minlength=labels.max() + 1)
        hits[0] = 0
        best = int(np.argmax(hits))
        union = np.count_nonzero(inside | (labels == best))
        ious.append(hits[best] / union if best else 0.0)
    # the old threshold took the padding as the dark phase: a handful of labels, IoU ~0
    assert np.median(ious) > 0.85, np.median(ious)
    assert min(ious) > 0.5
    # nothing labelled outside the field
    assert not labels[:, ~_circle(scan.shape)].any()


def _fiber_phantom(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bright cylinders (radius 3) along z on a dark matrix, zero outside the field."""
    rng = np.random.default_rng(seed)
    shape = (16, 104, 104)
    centres: list[np.ndarray] = []
    for _ in range(20000):
        p = rng.uniform(4, 100, 2)
        if all(np.hypot(*(p - q)) > 7.5 for q in centres):
            centres.append(p)
    yy, xx = np.mgrid[: shape[1], : shape[2]]
    plane = np.zeros(shape[1:])
    for p in centres:
        plane = np.maximum(plane, np.clip(3.5 - np.hypot(yy - p[0], xx - p[1]), 0, 1))
    scan = 800.0 + 1000.0 * ndi.gaussian_filter(np.broadcast_to(plane, shape), (0, 0.8, 0.8))
    scan += rng.normal(0, 80, shape)
    fov = _circle(shape)
    return np.where(fov, scan, 0).astype(np.float32), np.array(centres)


@pytest.mark.parametrize("radius", [None, 3.0])
def test_fibers_on_a_circular_field_of_view(radius):
    scan, centres = _fiber_phantom(4)
    _, ny, nx = scan.shape
    field_radius = min(ny, nx) / 2 - 1
    distance = np.hypot(centres[:, 0] - (ny - 1) / 2, centres[:, 1] - (nx - 1) / 2)
    whole = centres[distance + 3 <= field_radius]
    table = mct.pipelines.fibers(mct.from_array(scan, chunks=(8, 52, 52)), radius=radius)
    found = table.groupby("fiber_id")[["y", "x"]].mean().to_numpy()
    assert len(found)  # the old estimate found none
    nearest = np.hypot(*(whole[:, None, :] - found[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    assert np.mean(nearest < 1.5) >= 0.95, np.mean(nearest < 1.5)
    found_distance = np.hypot(found[:, 0] - (ny - 1) / 2, found[:, 1] - (nx - 1) / 2)
    assert (found_distance < field_radius + 1).all()  # nothing in the padding


def test_one_nan_raises_with_the_estimated_radius_too():
    scan, _ = _fiber_phantom(4)
    scan = np.where(_circle(scan.shape), scan, scan.mean()).astype(np.float32)
    scan[8, 52, 52] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a "no fibers" warning
        with pytest.raises(ValueError, match="NaN"):
            mct.pipelines.fibers(mct.from_array(scan))


def test_field_of_view_smaller_than_the_inscribed_circle():
    scan = _two_phase((12, 48, 48), 2)
    fov = _circle(scan.shape, margin=0.1 * 24)  # radius 0.9 of the inscribed circle's
    padded = np.where(fov, scan, 0).astype(np.float32)
    for chunks in (None, 7, 13):
        value, share = padding_of(da.from_array(padded, chunks=chunks or padded.shape)).compute()
        assert value == 0.0 and share == pytest.approx(1 - fov.mean())


def _saturated_fibers() -> np.ndarray:
    """The fiber phantom without a field of view, as uint8 with the cores saturated."""
    scan, _ = _fiber_phantom(4)
    rng = np.random.default_rng(4)
    scan = np.where(scan == 0, 800.0 + rng.normal(0, 80, scan.shape), scan)  # no padding
    return np.clip((scan - 600) / (1500 - 600) * 255, 0, 255).astype(np.uint8)


def test_saturated_scan_without_padding_keeps_its_thresholds():
    # cores saturated at 255 (clipping, not padding): a few percent of the voxels at
    # the maximum, spread through the slice, centre included
    u8 = _saturated_fibers()
    assert (u8 == 255).mean() > 0.02
    expected = threshold_otsu(u8)
    for chunks in (None, 7, (8, 52, 52)):
        data = da.from_array(u8, chunks=chunks or u8.shape)
        assert np.isnan(padding_of(data).compute()[0])
        assert abs(float(threshold_values(data)[0]) - expected) <= 1


def test_clipped_at_zero_without_padding_keeps_its_thresholds():
    # air rescaled and clipped to 0: a third of the voxels exactly 0, no padding
    rng = np.random.default_rng(0)
    shape = (16, 64, 64)
    blob = ndi.gaussian_filter(rng.random(shape), 2.0)
    phases = np.digitize(blob, np.quantile(blob, [0.35, 0.65]))
    scan = np.choose(phases, [-20.0, 100.0, 180.0]) + rng.normal(0, 10, shape)
    u8 = np.clip(scan, 0, 255).astype(np.uint8)
    assert (u8 == 0).mean() > 0.3
    expected = threshold_otsu(u8)
    for chunks in (None, 13):
        data = da.from_array(u8, chunks=chunks or u8.shape)
        assert np.isnan(padding_of(data).compute()[0])
        assert abs(float(threshold_values(data)[0]) - expected) <= 1
    # the same scan as floats with the pores exactly 0.0
    exact = np.where(phases == 0, 0.0, scan).astype(np.float32)
    assert np.isnan(padding_of(da.from_array(exact, chunks=13)).compute()[0])
    # and its pores are no padding's (the corners hold 0 as often as the centre)
    for data in (u8, exact):
        assert not padding_mask_array(da.from_array(data, chunks=13)).compute().any()
    found = float(threshold_values(da.from_array(exact, chunks=13))[0])
    assert abs(found - threshold_otsu(exact.astype(np.float64), nbins=256)) < 2 * 200 / 256


@pytest.mark.parametrize("method", ["otsu", "li", "multiotsu"])
def test_threshold_records_the_padding_left_out(method):
    scan = _two_phase((12, 48, 48), 1)
    fov = _circle(scan.shape)
    vol = mct.from_array(np.where(fov, scan, 0).astype(np.float32), chunks=13)
    mask = vol.microct.threshold(method)
    record = mask.attrs["microct_provenance"][-1]
    assert "padding" in record["estimated"]  # the record says where to look
    mask = mask.compute()  # the mask, its threshold and the padding in one pass
    assert float(mask.padding_value) == 0.0
    assert float(mask.padding_share) == pytest.approx(1 - fov.mean())
    # none in a scan without padding, and nothing to leave out for a value
    plain = mct.from_array(scan, chunks=13).microct.threshold(method).compute()
    assert np.isnan(float(plain.padding_value)) and float(plain.padding_share) == 0.0
    assert "padding_value" not in vol.microct.threshold(1000.0).coords
    # a scan whose padding was filled keeps fill_padding's record of it
    filled = vol.microct.fill_padding().microct.threshold(method).compute()
    assert float(filled.padding_value) == 0.0


def test_threshold_padding_survives_a_store(tmp_path):
    scan = _two_phase((8, 40, 40), 3)
    padded = np.where(_circle(scan.shape), scan, 0).astype(np.float32)
    mct.from_array(padded, chunks=13).microct.threshold().to_zarr(tmp_path / "mask.zarr")
    back = mct.open_volume(tmp_path / "mask.zarr")
    assert float(back.padding_value) == 0.0 and float(back.padding_share) > 0.2


@pytest.mark.parametrize("chunks", [(8, 52, 52), (16, 104, 104)])
def test_fibers_with_padding_at_the_maximum_have_no_false_fibers_at_the_edge(chunks):
    scan, centres = _fiber_phantom(5)
    fov = _circle(scan.shape)
    bright = np.where(fov, scan, 65535.0).astype(np.uint16)  # padded with the maximum
    vol = mct.from_array(bright, chunks=chunks)
    table = vol.microct.detect_fibers(radius=3.0)
    found = table.groupby("fiber_id")[["y", "x"]].mean().to_numpy()
    nearest = np.hypot(*(found[:, None, :] - centres[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    assert (nearest < 3.0).all(), np.sort(nearest)[-5:]  # was 40-odd fibers on the edge
    record = table.attrs["microct_provenance"][-1]["estimated"]["padding"]
    assert record["value"] == 65535.0
    assert record["share_of_the_middle_slice"] == pytest.approx(1 - fov.mean())
    assert 700 < record["filled_with"] < 900  # the matrix level
    # a scan without padding (the middle of the field) is not read for it
    middle = scan[:, 30:74, 30:74].astype(np.uint16)
    plain = mct.from_array(middle, chunks=(8, 22, 22)).microct.detect_fibers(radius=3.0)
    assert plain.attrs["microct_provenance"][-1]["estimated"]["padding"].startswith("none")


def test_no_padding_found_round_trips_an_ome_zarr_as_strict_json(tmp_path):
    import json

    scan = _two_phase((8, 24, 24), 4)  # no padding: padding_value is NaN
    mask = mct.from_array(scan, chunks=12).microct.threshold()
    mask.microct.pyramid(levels=1).microct.to_zarr(tmp_path / "mask.ome.zarr")

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    store = tmp_path / "mask.ome.zarr"
    metadata = [*store.rglob("zarr.json"), *store.rglob(".zattrs")]
    assert metadata
    for attrs in metadata:
        json.loads(attrs.read_text(), parse_constant=refuse)  # was a bare NaN
    back = mct.open_volume(tmp_path / "mask.ome.zarr")
    assert np.isnan(float(back.padding_value)) and float(back.padding_share) == 0.0


def _clipped_in_a_field(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A uint16 scan of two phases, 0 outside a circle with a ragged rim, whose dark
    phase's noise clips to 0 inside it too (about 7 % of its voxels)."""
    rng = np.random.default_rng(seed)
    shape = (10, 36, 36)
    phases = ndi.gaussian_filter(rng.random(shape), 2.0) > 0.5
    scan = np.where(phases, 1600.0, 120.0) + rng.normal(0, 80, shape)
    fov = np.broadcast_to(_circle(shape, margin=2.0), shape).copy()
    rim = fov & ~ndi.binary_erosion(fov, np.ones((1, 3, 3), bool))
    fov &= ~(rim & (rng.random(shape) < 0.3))
    return np.where(fov, np.clip(scan, 0, None), 0).astype(np.uint16), fov


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 3),
    chunks=st.tuples(st.integers(3, 10), st.integers(5, 36), st.integers(5, 36)),
)
def test_padding_where_the_noise_clips_to_it_is_found_for_any_chunking(seed, chunks):
    # the histogram's rule refuses 0 (in the central disk too); the rings find it
    scan, fov = _clipped_in_a_field(seed)
    assert np.count_nonzero((scan == 0) & fov) > 0.02 * fov.sum()
    assert np.isnan(padding_of(da.from_array(scan)).compute()[0])
    whole = padding_mask_array(da.from_array(scan)).compute()
    assert whole[~fov].all()
    assert (scan[whole] == 0).all()
    np.testing.assert_array_equal(
        padding_mask_array(da.from_array(scan, chunks=chunks)).compute(), whole
    )


@pytest.mark.parametrize("chunks", [-1, (3, 20, 13)])
def test_a_float64_scan_padded_at_its_maximum_has_that_value_exactly(chunks):
    # was: the value read as low + (high - low), a float64 rounding off the maximum by
    # an ulp on a third of ranges (here -0.819... to 0.466...): nothing matched it, so
    # the padding's mask was empty and fill_padding filled nothing
    rng = np.random.default_rng(0)
    scan = rng.normal(-0.3, 0.1, (8, 40, 40))
    low, high = -0.8194299300338899, 0.4663991142737662
    assert low + (high - low) != high
    scan = np.clip(scan, low, None)
    scan[0, 20, 20] = low
    outside = np.broadcast_to(~_circle(scan.shape), scan.shape)
    scan[outside] = high
    data = da.from_array(scan, chunks=chunks)
    assert padding_of(data).compute()[0] == high
    np.testing.assert_array_equal(padding_mask_array(data).compute(), outside)
    filled = mct.from_array(scan, chunks=chunks).microct.fill_padding().values
    assert not (filled[outside] == high).any()
    assert filled[outside].max() < scan[~outside].max()
