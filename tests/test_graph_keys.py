"""Verbs build lazy graphs whose keys never collide between two volumes.

A verb that names its graph layer by a fixed string (instead of a token of its inputs)
makes two results collide when they are computed together — e.g. the levels of a pyramid
written in one pass — and silently returns one's values for the other.
"""

import dask
import numpy as np
import pytest

import xarray_microct as mct

CALLS = {
    "gaussian": lambda v: v.microct.gaussian(sigma=1),
    "median": lambda v: v.microct.median(radius=1),
    "tubeness": lambda v: v.microct.tubeness(sigma=1),
    "frangi": lambda v: v.microct.frangi(sigma=1, gamma=1.0),
    "objectness": lambda v: v.microct.objectness(sigma=1),
    "hessian_eigenvalues": lambda v: v.microct.hessian_eigenvalues(sigma=1),
    "threshold": lambda v: v.microct.threshold(),
    "segment": lambda v: v.microct.segment(),
    "label": lambda v: v.microct.threshold().microct.label(),
    "distance_transform": lambda v: v.microct.threshold().microct.distance_transform(),
    "watershed": lambda v: v.microct.threshold().microct.watershed(min_distance=2),
    "opening": lambda v: v.microct.threshold().microct.opening(radius=1),
    "fill_holes": lambda v: v.microct.threshold().microct.fill_holes(),
    "normalize": lambda v: v.microct.normalize(),
}


def _volumes():
    rng = np.random.default_rng(0)
    return [
        mct.from_array(rng.random((16, 18, 20)).astype("float32"), chunks=8),
        mct.from_array(rng.random((12, 14, 16)).astype("float32"), chunks=6),
    ]


@pytest.mark.parametrize("verb", sorted(CALLS))
def test_two_volumes_computed_together_equal_computed_apart(verb):
    first, second = (CALLS[verb](v) for v in _volumes())
    assert first.data.name != second.data.name
    together = dask.compute(first.data, second.data)
    apart = (first.data.compute(), second.data.compute())
    for a, b in zip(together, apart, strict=True):
        np.testing.assert_array_equal(a, b)


def test_pyramid_levels_through_tubeness_and_segment_compute_together():
    vol = mct.from_array(np.random.default_rng(1).random((32, 32, 32)), chunks=16)
    tree = vol.microct.pyramid().microct.tubeness(sigma="1 voxel").microct.segment()
    levels = [tree.microct.select_level(i).data for i in range(len(tree.microct.levels))]
    together = dask.compute(*levels)
    for level, value in zip(levels, together, strict=True):
        np.testing.assert_array_equal(value, level.compute())


@pytest.mark.parametrize("verb", sorted(CALLS))
def test_building_a_result_computes_nothing(verb):
    from xarray_microct.testing import raise_if_dask_computes

    volume = _volumes()[0]
    with raise_if_dask_computes():
        CALLS[verb](volume)
