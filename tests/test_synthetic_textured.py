"""The textured fiber bed: the phantom the fiber methods were not developed on."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist

from xarray_microct.synthetic import textured_fiber_bed


def test_textured_fiber_bed_truth():
    vol, centres = textured_fiber_bed((6, 48, 48), 3.0, noise=0.0, tilt=0.0, seed=2)
    assert vol.shape == (6, 48, 48) and vol.dtype == np.float32
    # straight fibers along z: each fiber has one row per slice, at the same place
    per_fiber = centres.groupby("fiber_id")
    assert (per_fiber.size() == 6).all()
    assert (per_fiber[["y", "x"]].std() < 1e-9).all().all()
    first = centres[centres["z"] == 0]
    assert first["y"].between(-0.5, 47.5).all() and first["x"].between(-0.5, 47.5).all()
    # no overlap: gaps of at least 0.1 radius between the sections
    radius = first["radius"].to_numpy()
    gaps = pdist(first[["y", "x"]].to_numpy()) - pdist(radius[:, None], lambda a, b: a[0] + b[0])
    assert gaps.min() >= 0.1 * 3.0 - 1e-9
    assert abs(radius.mean() / 3.0 - 1) < 0.1
    # fibers 1.0 on a background of about 0.25-0.55, blurred by 1 voxel: a fiber's
    # centre is bright, the pixels far from every fiber are the texture's
    plane = vol.values[0]
    yy, xx = np.indices(plane.shape)
    inside = np.zeros(plane.shape, bool)
    outside = np.ones(plane.shape, bool)
    for y, x, r in first[["y", "x", "radius"]].to_numpy():
        distance = np.hypot(yy - y, xx - x)
        inside |= distance < r - 2
        outside &= distance > r + 3
    assert plane[inside].min() > 0.9
    assert 0.1 < plane[outside].mean() < 0.7 and plane[outside].std() > 0.03
