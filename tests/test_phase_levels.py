"""Otsu's threshold and the two phases' levels from a histogram (core.stats)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.filters as skf

from xarray_microct.core.stats import otsu_threshold, phase_levels, trim_histogram


def _histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(values.ravel(), minlength=256)
    return trim_histogram(counts, np.arange(256.0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_otsu_equals_skimage_on_the_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(60, 12, 3000), rng.normal(150, 25, 7000)])
    values = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    assert otsu_threshold(*_histogram(values)) == skf.threshold_otsu(values)


def test_levels_are_the_phases_not_pulled_by_partial_volume_voxels() -> None:
    # blurred balls (dark, 70) in a bright matrix (170) with noise: the voxels at the
    # surfaces lie between the levels and pull the mean of each side of the threshold
    rng = np.random.default_rng(3)
    z, y, x = np.indices((48, 48, 48))
    balls = (y % 24 - 12) ** 2 + (x % 24 - 12) ** 2 + (z % 24 - 12) ** 2 < 100
    scan = ndi.gaussian_filter(np.where(balls, 70.0, 170.0), 1.2) + rng.normal(0, 4, balls.shape)
    values = np.clip(np.rint(scan), 0, 255).astype(np.uint8)
    threshold, dark, bright = phase_levels(*_histogram(values))
    assert threshold == skf.threshold_otsu(values)
    assert abs(dark - 70) <= 5 and abs(bright - 170) <= 3
    # the means of each side (the levels before) are pulled towards the threshold
    assert values[values <= threshold].mean() - 70 > 10
    assert 170 - values[values > threshold].mean() > 5
    # clear voxels: beyond half way from the threshold to the level
    clear_dark = values <= (threshold + dark) / 2
    assert clear_dark.any() and not (clear_dark & ~balls).any()


def test_one_phase_and_empty_histograms() -> None:
    assert phase_levels(np.array([5]), np.array([3.0])) == (3.0, 3.0, 3.0)
    with pytest.raises(ValueError, match="no finite value"):
        trim_histogram(np.zeros(4, int), np.arange(4.0))
