"""The synthetic fiber bed: truth consistent with the rendered volume."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from xarray_microct.core.volume import grid_of
from xarray_microct.synthetic import fiber_bed
from xarray_microct.synthetic.fibers import _render_fibers


@pytest.fixture(scope="module")
def bed():
    return fiber_bed((20, 80, 80), seed=7, noise=0.0, rings=0.0)


def test_volume_model_and_determinism(bed):
    vol, truth = bed
    grid = grid_of(vol)
    np.testing.assert_allclose(grid.spacing, 1.3)
    assert grid.units == "micrometer"
    assert vol.dtype == np.uint16
    again, truth2 = fiber_bed((20, 80, 80), seed=7, noise=0.0, rings=0.0)
    np.testing.assert_array_equal(vol.values, again.values)
    assert truth.centres.equals(truth2.centres)
    other, _ = fiber_bed((20, 80, 80), seed=8, noise=0.0, rings=0.0)
    assert not np.array_equal(vol.values, other.values)


def test_fibers_do_not_overlap_and_many_touch(bed):
    _, truth = bed
    mid = truth.fibers
    pts = mid[["y0", "x0"]].to_numpy()
    r = mid["radius"].to_numpy()
    pairs = cKDTree(pts).query_pairs(2 * r.max(), output_type="ndarray")
    gap = np.linalg.norm(pts[pairs[:, 0]] - pts[pairs[:, 1]], axis=1) - r[pairs].sum(1)
    assert gap.min() > -1e-6  # no overlap at the middle slice
    touching = np.unique(pairs[gap < 0.05 * r.mean()])
    assert len(touching) > 0.3 * len(mid)


def test_radius_and_tilt_statistics():
    _, truth = fiber_bed((8, 200, 200), radius=6.4, radius_sd=0.9, tilt=2.0, seed=3)
    radii = truth.fibers["radius"]
    assert radii.mean() == pytest.approx(6.4, abs=0.3)
    assert radii.std() == pytest.approx(0.9, abs=0.25)
    # the bed's axis is 2° from z; fibers deviate from it by a small, capped amount
    assert truth.fibers["polar"].median() == pytest.approx(2.0, abs=0.3)
    directions = truth.fibers[["dz", "dy", "dx"]].to_numpy()
    mean_axis = directions.mean(0) / np.linalg.norm(directions.mean(0))
    deviation = np.degrees(np.arccos(np.clip(directions @ mean_axis, -1, 1)))
    assert 0 < np.median(deviation) < 2.0 and deviation.max() < 4.0


def test_tall_beds_keep_neighbours_apart():
    # over a tall volume, neighbours drift by at most 0.1 radius each way
    _, truth = fiber_bed((400, 60, 60), seed=3, tilt=5.0)
    f = truth.fibers
    pts = f[["y0", "x0"]].to_numpy()
    slope = f[["dy", "dx"]].to_numpy() / f[["dz"]].to_numpy()
    half = 400 * 1.3 / 2
    drift = np.linalg.norm(slope[:, None] - slope[None], axis=-1) * half
    assert drift.max() <= 0.1 * f.radius.max() * 1.001
    assert np.linalg.norm(pts[:, None] - pts[None], axis=-1)[np.triu_indices(len(f), 1)].min() > 0
    np.testing.assert_allclose(np.linalg.norm(truth.fibers[["dz", "dy", "dx"]], axis=1), 1)


def test_truth_centres_follow_the_axes_and_the_bright_voxels(bed):
    vol, truth = bed
    image = vol.values.astype(float)
    c = truth.centres
    # per-slice centre = axis point at that z
    f = truth.fibers.set_index("fiber_id").loc[c.fiber_id]
    t = (c.z.to_numpy() - f.z0.to_numpy()) / f.dz.to_numpy()
    np.testing.assert_allclose(c.y, f.y0.to_numpy() + t * f.dy.to_numpy())
    # centres sit on fiber voxels (bright), far above the background
    k = np.round(c.z / 1.3).astype(int)
    i = np.clip(np.round(c.y / 1.3).astype(int), 0, 79)
    j = np.clip(np.round(c.x / 1.3).astype(int), 0, 79)
    at_centres = image[k, i, j]
    assert np.percentile(at_centres, 5) > np.percentile(image, 40)


def test_rendered_occupancy_matches_truth_areas():
    shape, spacing = (4, 120, 120), (1.0, 0.5, 0.5)
    _, truth = fiber_bed(
        shape, spacing=spacing, tilt=0.0, noise=0, seed=1, radius=3.0, radius_sd=0.3
    )
    occupancy = _render_fibers(shape, spacing, truth.fibers)
    inside = truth.fibers[
        (truth.fibers.y0 > 5)
        & (truth.fibers.y0 < 55)
        & (truth.fibers.x0 > 5)
        & (truth.fibers.x0 < 55)
    ]
    # total fiber area of fibers well inside, against the partial-volume occupancy there
    area = np.pi * (inside.radius**2).sum()
    rendered = 0.0
    for row in inside.itertuples():
        yy, xx = np.mgrid[:120, :120] * 0.5
        near = (yy - row.y0) ** 2 + (xx - row.x0) ** 2 <= (row.radius + 0.6) ** 2
        rendered += (occupancy[0] * near).sum() * 0.25
    assert rendered == pytest.approx(area, rel=0.03)


def test_anisotropic_spacing_and_bad_input():
    vol, truth = fiber_bed((6, 40, 40), spacing=(3.0, 1.0, 1.0), seed=2)
    np.testing.assert_allclose(grid_of(vol).spacing, (3.0, 1.0, 1.0))
    assert set(np.round(truth.centres.z / 3.0, 6)) <= set(range(6))
    with pytest.raises(ValueError, match="shape"):
        fiber_bed((4, 4))
    with pytest.raises(ValueError, match="packing"):
        fiber_bed((4, 40, 40), packing=0.95)
    with pytest.raises(ValueError, match=r"1\.5 voxels"):
        fiber_bed((4, 40, 40), radius=1.0)
    with pytest.raises(ValueError, match="tilt"):
        fiber_bed((4, 40, 40), tilt=60)


def test_fibers_cut_by_the_sides_are_flagged(bed):
    vol, truth = bed
    top = (80 - 1) * 1.3
    fibers = truth.fibers.set_index("fiber_id")
    centres = truth.centres.join(fibers[["touches_side"]], on="fiber_id")
    r = fibers.radius[centres.fiber_id].to_numpy()
    y, x = centres.y.to_numpy(), centres.x.to_numpy()
    past = (y - r < 0) | (y + r > top) | (x - r < 0) | (x + r > top)
    flagged = centres.groupby("fiber_id")["touches_side"].first()
    by_centres = past.astype(bool)
    assert set(centres.fiber_id[by_centres]) <= set(flagged[flagged].index)
    inside = flagged[~flagged].index
    assert len(inside) > 5 and flagged.sum() > 5
    # the rendered cross-sections of the fibers inside never reach the side pixels
    occupancy = _render_fibers(vol.shape, (1.3,) * 3, truth.fibers[~truth.fibers.touches_side])
    sides = np.concatenate(
        [occupancy[:, 0], occupancy[:, -1], occupancy[:, :, 0], occupancy[:, :, -1]], axis=1
    )
    assert sides.max() < 0.5 + 1e-6
