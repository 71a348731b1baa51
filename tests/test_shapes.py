"""smooth_labels: each label blurred alone, cut at a ball's surface level; chunk-exact."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.ops.shapes import ball_surface_level, smooth_labels_array


def reference(labels: np.ndarray, sigma: tuple[float, ...], level: float) -> np.ndarray:
    """scipy on the whole array: each label's indicator blurred, the highest above level."""
    best = np.full(labels.shape, level)
    out = np.zeros_like(labels)
    for label in np.unique(labels[labels > 0]):
        blurred = ndi.gaussian_filter(
            (labels == label).astype(float), sigma, truncate=3.0, mode="nearest"
        )
        take = blurred > best
        best[take] = blurred[take]
        out[take] = label
    return out


def distance_from(shape: tuple[int, ...], centre: tuple[float, ...]) -> np.ndarray:
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, centre, strict=True)))


def rough_balls(seed: int) -> np.ndarray:
    """Two touching balls of radius 6 with one voxel in ten flipped near their surfaces."""
    shape = (30, 26, 40)
    first, second = distance_from(shape, (15, 13, 13)), distance_from(shape, (15.4, 12.6, 24.5))
    labels = np.where(first <= 6, 1, np.where(second <= 6, 2, 0)).astype(np.int32)
    rng = np.random.default_rng(seed)
    near = (np.abs(first - 6) < 1.5) | (np.abs(second - 6) < 1.5)
    flips = near & (rng.random(shape) < 0.1)
    nearest = np.where(first < second, 1, 2)
    return np.where(flips, np.where(labels > 0, 0, nearest), labels).astype(np.int32)


@pytest.mark.parametrize("sigma", [(1.5, 1.5, 1.5), (0.8, 1.2, 2.0)])
def test_equals_scipy_per_label_on_the_whole_array(sigma):
    labels = rough_balls(0)
    level = ball_surface_level(0.25)
    got = smooth_labels_array(da.from_array(labels), sigma, level).compute()
    np.testing.assert_array_equal(got, reference(labels, sigma, level))


@settings(max_examples=12, deadline=None)
@given(
    chunks=st.tuples(*(st.integers(3, 30) for _ in range(3))),
    sigma=st.tuples(*(st.floats(0.5, 2.5) for _ in range(3))),
    seed=st.integers(0, 3),
)
def test_the_same_for_any_chunking(chunks, sigma, seed):
    labels = rough_balls(seed)
    level = ball_surface_level(0.2)
    whole = smooth_labels_array(da.from_array(labels), sigma, level).compute()
    parts = smooth_labels_array(da.from_array(labels, chunks=chunks), sigma, level).compute()
    np.testing.assert_array_equal(parts, whole)


@pytest.mark.parametrize("radius", [5.0, 8.0, 12.0])
def test_a_ball_keeps_its_size_and_loses_its_roughness(radius):
    shape = (int(2 * radius) + 12,) * 3
    r = distance_from(shape, (shape[0] / 2 - 0.3,) * 3)
    ball = r <= radius
    flips = (np.random.default_rng(1).random(shape) < 0.15) & (np.abs(r - radius) < 1.5)
    rough = ball ^ flips
    vol = mct.from_array(rough.astype(np.int32), chunks=shape[0] // 2)
    smooth = vol.microct.smooth_labels(sigma=0.25 * radius, radius=radius).values
    assert abs(int(smooth.sum()) - int(ball.sum())) < 0.02 * ball.sum()
    assert (smooth != ball).sum() < 0.3 * (rough != ball).sum()
    # blurred at the half level instead, the ball would shrink by about sigma² / R
    plain = smooth_labels_array(da.from_array(rough.astype(np.int32)), (0.25 * radius,) * 3, 0.5)
    assert int(plain.sum().compute()) < 0.9 * ball.sum()


def test_the_neck_between_touching_labels_is_not_filled():
    # two balls meeting at a thin neck: blurring the mask of both would fill it
    shape = (24, 24, 44)
    first, second = distance_from(shape, (12, 12, 12)), distance_from(shape, (12, 12, 31))
    labels = np.where(first <= 8, 1, np.where(second <= 11, 2, 0)).astype(np.int32)
    smooth = smooth_labels_array(da.from_array(labels), (2.0,) * 3, ball_surface_level(0.2))
    smooth = smooth.compute()
    neck = (labels == 0) & (np.abs(first - 8) < 3) & (np.abs(second - 11) < 3)
    assert neck.sum() > 50
    assert not smooth[neck].any()
    blurred = ndi.gaussian_filter((labels > 0).astype(float), 2.0, truncate=3.0) > 0.4
    assert blurred[neck].sum() > 0.3 * neck.sum()


def test_ball_surface_level_is_the_blurred_ball_on_its_surface():
    r = distance_from((64, 64, 64), (32, 32, 32))
    blurred = ndi.gaussian_filter((r <= 20).astype(float), 4.0)
    on_surface = np.abs(r - 20) < 0.3
    assert blurred[on_surface].mean() == pytest.approx(ball_surface_level(0.2), abs=0.005)
    assert ball_surface_level(0.0) == 0.5
    assert ball_surface_level(10.0) < 0.1


def test_bad_input_is_refused():
    labels = da.from_array(np.ones((8, 8, 8), np.int32))
    with pytest.raises(ValueError, match="above 0"):
        smooth_labels_array(labels, (1.0, 0.0, 1.0), 0.4)
    with pytest.raises(ValueError, match=r"level must lie in \(0, 1\)"):
        smooth_labels_array(labels, (1.0,) * 3, 1.0)
    with pytest.raises(ValueError, match="ratio"):
        ball_surface_level(-1.0)
    with pytest.raises(TypeError, match="labels"):
        mct.from_array(np.ones((8, 8, 8), "float32")).microct.smooth_labels(sigma=1, radius=3)


def test_labels_numbered_far_apart_give_the_same_shapes():
    # a block's boxes are sized by its own range of labels, not the volume's highest
    labels = rough_balls(2)
    far = np.where(labels > 0, labels.astype(np.int64) * 10**9 + 7, 0)
    level = ball_surface_level(0.25)
    small = smooth_labels_array(da.from_array(labels, chunks=10), (1.5,) * 3, level).compute()
    large = smooth_labels_array(da.from_array(far, chunks=10), (1.5,) * 3, level).compute()
    np.testing.assert_array_equal(large, np.where(small > 0, small.astype(np.int64) * 10**9 + 7, 0))


@settings(max_examples=12, deadline=None)
@given(
    origin=st.tuples(st.integers(0, 12), st.integers(0, 10), st.integers(0, 20)),
    size=st.tuples(st.integers(1, 18), st.integers(1, 16), st.integers(1, 20)),
    seed=st.integers(0, 3),
)
def test_a_box_of_the_block_is_that_box_of_the_whole(origin, size, seed):
    """The kernel's ``origin``/``shape`` box: the labels of scipy's reference there."""
    from xarray_microct.kernels.smooth_labels import smooth_labels_block

    labels = rough_balls(seed)
    sigma, level = (1.5, 1.2, 1.0), ball_surface_level(0.25)
    box = tuple(slice(o, o + n) for o, n in zip(origin, size, strict=True))
    got = smooth_labels_block(labels, sigma, level, origin, size)
    np.testing.assert_array_equal(got, reference(labels, sigma, level)[box])


@pytest.mark.parametrize(
    ("origin", "size"),
    [((0, 0, -1), (1, 1, 3)), ((0, 0, 5), (1, 1, 3)), ((0, 0, 0), (2, 1, 7)), ((0, 0), (1, 7))],
)
def test_a_box_outside_the_block_is_refused(origin, size):
    """The compiled kernel checks no bounds: a box past the block is an error, not a read."""
    from xarray_microct.kernels.smooth_labels import smooth_labels_block

    block = np.ones((1, 1, 7), np.int32)
    with pytest.raises(ValueError, match="box"):
        smooth_labels_block(block, (0.5, 0.5, 1.0), 0.4, origin, size)
