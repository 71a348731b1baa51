"""The compiled per-slice kernels against scipy and scikit-image on whole arrays."""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.segmentation import watershed

from xarray_microct.kernels.fiber_slices import flood_regions, plane_peaks
from xarray_microct.ops.fibers.detect import fiber_chain
from xarray_microct.ops.fibers.slices import _ellipse, _offsets, slice_centres
from xarray_microct.synthetic import fiber_bed


def _plane(seed: int, shape: tuple[int, int], levels: int):
    """A score with many ties (whole numbers below ``levels``), a mask, and seeds whose
    scores are distinct halves (skimage releases seeds tied on score in heap order)."""
    rng = np.random.default_rng(seed)
    score = rng.integers(0, levels, shape).astype(np.float32)
    mask = rng.random(shape) < 0.8
    seeds = np.zeros(shape, np.int32)
    n = max(1, int(rng.integers(1, 8)))
    where = rng.choice(shape[0] * shape[1], size=min(2 * n, shape[0] * shape[1]), replace=False)
    seeds.flat[where] = rng.integers(1, n + 1, where.size)
    seeds[~mask] = 0
    marked = np.flatnonzero(seeds)
    score.flat[marked] = rng.permutation(marked.size) + 0.5
    return score, mask, seeds, n


@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    levels=st.sampled_from([2, 5, 1000]),
)
def test_flood_equals_skimage_watershed_with_ties(seed, shape, levels):
    score, mask, seeds, n = _plane(seed, shape, levels)
    expected = watershed(-score, seeds, mask=mask)
    labels = seeds.copy()
    sums, box = flood_regions(score, mask, labels, n, 3, -2)
    np.testing.assert_array_equal(labels, expected)
    flat = expected.ravel()
    yy, xx = np.indices(shape)
    yy, xx = yy + 3, xx - 2
    w = np.maximum(score.astype(np.float64), 0) ** 2
    for column, weights in enumerate((None, yy, xx, w, w * yy, w * xx)):
        expected_sums = np.bincount(
            flat, weights=None if weights is None else weights.ravel(), minlength=n + 1
        )[1:]
        np.testing.assert_array_equal(sums[:, column], expected_sums)
    for label in range(1, n + 1):
        y, x = yy[expected == label], xx[expected == label]
        if y.size:
            assert tuple(box[label - 1]) == (y.min(), y.max(), x.min(), x.max())


@given(
    seed=st.integers(0, 2**32 - 1),
    radius=st.tuples(st.floats(1.0, 6.0), st.floats(1.0, 6.0)),
    plateaus=st.booleans(),
)
def test_peaks_equal_maximum_filter_then_label(seed, radius, plateaus):
    rng = np.random.default_rng(seed)
    image = ndi.gaussian_filter(rng.random((50, 43)).astype(np.float32), 1.5)
    if plateaus:
        image = np.round(image * 30) / 30
    where = rng.random(image.shape) > 0.3
    footprint = _ellipse(radius)
    peaks = (image == ndi.maximum_filter(image, footprint=footprint, mode="nearest")) & where
    expected, n_expected = ndi.label(peaks, structure=np.ones((3, 3), bool))
    labels = np.zeros(image.shape, np.int32)
    n = plane_peaks(image, where, *_offsets(footprint), labels)
    assert n == n_expected
    np.testing.assert_array_equal(labels, expected)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    extent=st.tuples(st.integers(1, 11), st.integers(1, 11)),
    levels=st.sampled_from([1, 2, 3, 1000]),
)
def test_peaks_on_slices_smaller_than_the_footprint_and_plateaus(seed, shape, extent, levels):
    # the interior (flat offsets) and the sides (clipped) meet: slices under the
    # footprint's size, even extents, ties across both
    rng = np.random.default_rng(seed)
    image = rng.integers(0, levels, shape).astype(np.float32)
    footprint = rng.random(extent) > 0.4
    footprint[extent[0] // 2, extent[1] // 2] = True
    where = rng.random(shape) > 0.2
    peaks = (image == ndi.maximum_filter(image, footprint=footprint, mode="nearest")) & where
    expected, n_expected = ndi.label(peaks, structure=np.ones((3, 3), bool))
    labels = np.zeros(shape, np.int32)
    n = plane_peaks(image, where, *_offsets(footprint), labels)
    assert n == n_expected
    np.testing.assert_array_equal(labels, expected)


def _reference_slice_centres(mask, score, seed_distance, min_radius, spacing):
    """The stage by scipy and scikit-image: maxima, labels, watershed, weighted bincounts."""
    footprint = _ellipse(seed_distance)
    peaks = (score == ndi.maximum_filter(score, footprint=footprint, mode="nearest")) & (
        mask & (score > 0)
    )
    markers, n = ndi.label(peaks, structure=np.ones((3, 3), bool))
    regions = watershed(-score, markers, mask=mask).ravel()
    area = np.bincount(regions, minlength=n + 1)[1:].astype(np.float64)
    yy, xx = np.indices(mask.shape)
    yy, xx = yy + 0, xx + 0
    w = np.maximum(score.astype(np.float64), 0) ** 2
    weight = np.bincount(regions, weights=w.ravel(), minlength=n + 1)[1:]
    sums = [
        np.bincount(regions, weights=v.ravel(), minlength=n + 1)[1:]
        for v in (yy, xx, w * yy, w * xx)
    ]
    # the plain centroid for regions within two seed distances of the slice's side
    near = np.zeros(n, bool)
    for k, box in enumerate(ndi.find_objects(regions.reshape(mask.shape), n)):
        if box is not None:
            (y0, y1), (x0, x1) = ((b.start, b.stop - 1) for b in box)
            near[k] = (
                min(y0, mask.shape[0] - 1 - y1) < 2 * seed_distance[0]
                or min(x0, mask.shape[1] - 1 - x1) < 2 * seed_distance[1]
            )
    found = area > 0
    weighted = (weight > 0) & ~near
    cy = np.where(weighted, sums[2], sums[0]) / np.where(weighted, weight, area)
    cx = np.where(weighted, sums[3], sums[1]) / np.where(weighted, weight, area)
    area, cy, cx = area[found], cy[found], cx[found]
    radius = np.sqrt(area * spacing[0] * spacing[1] / np.pi)
    keep = radius >= min_radius
    return np.column_stack([cy[keep], cx[keep], radius[keep]])


def test_slice_centres_equal_the_scipy_skimage_stage_on_a_fiber_bed():
    vol, _ = fiber_bed((4, 80, 80), seed=3, tilt=5.0, noise=0.15)
    mask, score = fiber_chain(vol, "intensity", sigma=0.6 * 6.4, smooth=1.3, eager=True)
    seed = (0.75 * 6.4 / 1.3,) * 2
    for plane, centre in zip(mask.values, score.values.astype(np.float32), strict=True):
        expected = _reference_slice_centres(plane, centre, seed, 3.2, (1.3, 1.3))
        assert len(expected) > 20
        found = slice_centres(plane, (1.3, 1.3), seed, 3.2, score=centre)
        np.testing.assert_array_equal(found, expected)


def test_weighted_centres_are_nearer_the_true_axes_than_plain_centroids():
    # noisy fibers of 2.5 pixels of radius: the squared tubeness weights the axis, the
    # plain centroid follows the noise on the mask's edge
    spacing = 6.4 / 2.5
    vol, truth = fiber_bed((3, 80, 80), spacing=spacing, noise=0.2, tilt=0, seed=2)
    mask, score = fiber_chain(vol, "intensity", sigma=0.6 * 6.4, smooth=1.6, eager=True)
    errors = {"weighted": [], "plain": []}
    for k in range(3):
        plane, centre = mask.values[k], score.values[k].astype(np.float32)
        labels = np.zeros(plane.shape, np.int32)
        n = plane_peaks(centre, plane & (centre > 0), *_offsets(_ellipse((1.875, 1.875))), labels)
        sums, _ = flood_regions(centre, plane, labels, n, 0, 0)
        true = truth.centres[np.isclose(truth.centres["z"], vol["z"].values[k])]
        axes = true[["y", "x"]].to_numpy() / spacing
        inner = (axes.min(axis=1) > 8) & (axes.max(axis=1) < 71)
        for name, found in (
            ("weighted", sums[:, 4:6] / sums[:, 3:4]),
            ("plain", sums[:, 1:3] / sums[:, 0:1]),
        ):
            distance = np.hypot(*(axes[inner, None, :] - found[None, :, :]).transpose(2, 0, 1))
            errors[name].append(distance.min(axis=1))
    weighted, plain = (np.concatenate(errors[name]) for name in ("weighted", "plain"))
    assert weighted.size > 250
    assert weighted.mean() < 0.9 * plain.mean()
    assert np.quantile(weighted, 0.9) < 0.8
