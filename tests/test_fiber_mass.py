"""Section radii from the excess of intensity (ops/fibers/mass.py): analytic truth and
chunk exactness."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.ndimage as ndi

from xarray_microct.cluster import ClusterOptions, dask_client
from xarray_microct.metrics import optimal_pairs
from xarray_microct.ops.fiber_scale import FiberBedScale, measure_fiber_bed
from xarray_microct.ops.fibers import detect_fibers, fiber_chain
from xarray_microct.ops.fibers.detect import HALO_RADII
from xarray_microct.ops.fibers.mass import MassModel, bed_mass_model, mass_radii, mass_reach
from xarray_microct.ops.fibers.slices import slice_centres, tile_tasks
from xarray_microct.synthetic import fiber_bed, textured_fiber_bed

FINE = 8  # sub-pixels a side rendering the disks' pixel coverage


def _packed_disks(rng: np.random.Generator, shape=(72, 72), radius=2.2, gap=0.6):
    """Disks of radii radius ± 10 % on a hexagonal grid (jittered), their pixel coverage
    on a FINE-times finer grid: (coverage, centres, coverage radii)."""
    pitch = 2 * radius * 1.1 + gap
    centres = [
        (y, x + (pitch / 2 if k % 2 else 0.0))
        for k, y in enumerate(np.arange(12.0, shape[0] - 12, pitch * np.sqrt(3) / 2))
        for x in np.arange(12.0, shape[1] - 12, pitch)
    ]
    centres = np.array(centres) + rng.uniform(-0.1, 0.1, (len(centres), 2))
    radii = radius * rng.uniform(0.9, 1.1, len(centres))
    fy, fx = (np.mgrid[: shape[0] * FINE, : shape[1] * FINE] + 0.5) / FINE - 0.5
    coverage = np.zeros((shape[0] * FINE, shape[1] * FINE))
    for (y, x), r in zip(centres, radii, strict=True):
        coverage[np.hypot(fy - y, fx - x) <= r] = 1.0
    coverage = coverage.reshape(shape[0], FINE, shape[1], FINE).mean(axis=(1, 3))
    # each disk's own area, as rendered: the radius the measure should give
    areas = []
    for (y, x), r in zip(centres, radii, strict=True):
        inside = np.hypot(fy - y, fx - x) <= r
        areas.append(inside.sum() / FINE**2)
    return coverage, centres, np.sqrt(np.array(areas) / np.pi)


@pytest.mark.parametrize(("blur", "background"), [(1.0, "flat"), (0.7, "ramp")])
def test_mass_radii_recover_packed_blurred_disks(blur, background):
    rng = np.random.default_rng(3)
    coverage, centres, truth = _packed_disks(rng)
    xx = np.mgrid[: coverage.shape[0], : coverage.shape[1]][1]
    level = 0.3 if background == "flat" else 0.2 + 0.2 * xx / coverage.shape[1]
    image = ndi.gaussian_filter(level + (1.0 - level) * coverage, blur)
    inner = (centres.min(axis=1) > 16) & (centres.max(axis=1) < coverage.shape[0] - 16)
    assert inner.sum() > 50
    spread = np.std(truth[inner]) / np.mean(truth[inner])
    for bias in (1.05, 0.95):  # the mask's radii 5 % off, either way: only their departures count
        model = MassModel(1.0, blur, float(np.mean(truth)))
        found = mass_radii(image, centres, truth * bias, model)[inner]
        error = found / truth[inner] - 1
        assert abs(error.mean()) < 0.01 and error.std() < 0.5 * spread, (bias, error)
        # each section's own size is followed (the slope of found on true radius)
        assert 0.85 < np.polyfit(truth[inner], found, 1)[0] < 1.15
    # with the mask's radii all equal, the sections' own sizes are mostly lost: the
    # background's disks then hold no departure from the model's radius
    flat = mass_radii(image, centres, np.full(len(truth), 2.0), model)[inner]
    assert np.polyfit(truth[inner], flat, 1)[0] < 0.6


def test_mass_radii_of_an_absent_fiber_are_small_and_input_is_checked():
    image = np.full((20, 20), 0.3)  # no fiber where one is claimed: little excess
    found = mass_radii(image, np.array([[10.0, 10.0]]), np.array([2.0]), MassModel(1.0, 1.0, 2.0))
    # the claimed disk lowers the background about it (one pass, no rounds to undo
    # that): about 0.7 of the claimed radius, against 1 for a fiber there
    assert found[0] < 0.75 * 2.0
    with pytest.raises(ValueError, match="centres but"):
        mass_radii(image, np.zeros((2, 2)), np.ones(3), MassModel(1.0, 1.0, 2.0))
    with pytest.raises(ValueError, match="2-D slice"):
        mass_radii(image[None], np.zeros((1, 2)), np.ones(1), MassModel(1.0, 1.0, 2.0))


def test_mass_reach_grows_with_the_radius_and_blur():
    small = mass_reach(MassModel(1.0, 0.7, 2.0))
    assert mass_reach(MassModel(1.0, 0.7, 3.0)) > small
    assert mass_reach(MassModel(1.0, 1.2, 2.0)) > small


def _small_bed():
    # 6.4 µm fibers at 3.2 µm pixels: 2 pixels of radius
    return fiber_bed((10, 96, 96), spacing=3.2, radius=6.4, radius_sd=0.9, noise=0.1, seed=4)[0]


@pytest.mark.parametrize(("chunks", "tile"), [((4, 23, 31), 16), ((10, 40, 17), 40)])
def test_tiles_give_the_mass_radii_of_whole_slices_to_the_bit(chunks, tile):
    vol = _small_bed()
    model = bed_mass_model(measure_fiber_bed(vol, 6.4), (3.2, 3.2, 3.2))
    assert model is not None and 0.5 < model.blur < 1.2
    mask, score = fiber_chain(vol, "intensity", sigma=0.6 * 6.4, smooth=3.2, eager=True)
    mask, score = mask.values, score.values.astype(np.float32)
    scan = np.asarray(vol.values)
    seed, min_r = (1.5, 1.5), 3.2
    reference = []
    for z in range(len(mask)):
        found = slice_centres(
            mask[z], (3.2, 3.2), seed, min_r, score=score[z], intensity=scan[z], mass=model
        )
        reference.append(np.column_stack([np.full(len(found), z, float), found]))
    reference = np.concatenate(reference)
    reference = reference[np.lexsort((reference[:, 2], reference[:, 1], reference[:, 0]))]
    assert len(reference) > 300
    plain = np.concatenate(
        [slice_centres(mask[z], (3.2, 3.2), seed, min_r, score=score[z]) for z in range(len(mask))]
    )
    assert not np.allclose(np.sort(plain[:, 2]), np.sort(reference[:, 3]))  # the radii moved
    tasks = tile_tasks(
        da.from_array(mask, chunks=chunks),
        da.from_array(score, chunks=chunks),
        (3.2, 3.2, 3.2),
        seed,
        min_r,
        halo=int(np.ceil(HALO_RADII * 2.0)) + mass_reach(model),
        tile=tile,
        intensity=da.from_array(scan, chunks=chunks),
        mass=model,
    )
    assert len(tasks) > len(range(0, 10, chunks[0]))  # several tiles per slice
    tiled = np.concatenate(dask.compute(*[rows for _, _, rows in tasks]))
    tiled = tiled[np.lexsort((tiled[:, 2], tiled[:, 1], tiled[:, 0]))]
    np.testing.assert_array_equal(tiled, reference)


def test_detect_fibers_at_two_pixels_is_independent_of_the_chunking():
    vol = _small_bed()
    reference = detect_fibers(vol.chunk(-1), radius=6.4)
    table = detect_fibers(vol.chunk({"z": 3, "y": 37, "x": 50}), radius=6.4)
    assert len(reference) > 300
    pd.testing.assert_frame_equal(table, reference)


def test_table_radii_of_two_pixel_fibers_on_a_textured_bed_within_2_percent():
    # a phantom the library was not developed on (blur 1, a background textured at the
    # fibers' scale): the mask's regions gave +3.2 % here (+2.0 to +6.5 % over its
    # benchmark cases), the excess of intensity -0.8 %
    vol, truth = textured_fiber_bed((32, 64, 64), 2.0, noise=0.05, tilt=0.0, seed=1)
    table = detect_fibers(vol, radius=float(truth["radius"].mean()))
    ratios = []
    for z, true in truth.groupby("z"):
        found = table[np.isclose(table["z"], z)]
        ia, ib, _ = optimal_pairs(found[["y", "x"]].to_numpy(), true[["y", "x"]].to_numpy(), 1.0)
        inner = true.iloc[ib][["y", "x"]].apply(lambda c: c.between(5, 59)).all(axis=1)
        ratios.append((found["radius"].to_numpy()[ia] / true["radius"].to_numpy()[ib])[inner])
    ratios = np.concatenate(ratios)
    assert len(ratios) > 1000
    assert ratios.mean() == pytest.approx(1.0, abs=0.02)


@pytest.mark.slow
def test_detect_fibers_at_two_pixels_is_the_same_on_two_worker_processes():
    vol = _small_bed()
    reference = detect_fibers(vol.chunk(-1), radius=6.4)
    with dask_client(ClusterOptions(workers=2, threads_per_worker=1, memory_limit="1GiB")):
        table = detect_fibers(vol.chunk({"z": 4, "y": 48, "x": 96}), radius=6.4)
    pd.testing.assert_frame_equal(table, reference)


def test_mass_model_from_the_bed_only_where_its_fit_ran_and_pixels_are_square():
    fitted = FiberBedScale(6.4, (0.0, 0.0), 0.1, 100, fiber_level=1.2, blur=0.9)
    # the model's radius: the fit's of the sections, the fibers' one untilted
    assert bed_mass_model(fitted, (3.2, 3.2, 3.2)) == MassModel(1.2, 0.9, 2.0)
    tilted = bed_mass_model(fitted._replace(slope=(0.6, 0.8)), (3.2, 3.2, 3.2))
    assert tilted.radius_px == pytest.approx(2.0 * 2**0.25)  # an ellipse of 1/cos 45°
    assert bed_mass_model(fitted, (3.2, 3.2, 2.0)) is None  # not square in-plane
    assert bed_mass_model(fitted._replace(fiber_level=None), (3.2, 3.2, 3.2)) is None
    assert bed_mass_model(None, (3.2, 3.2, 3.2)) is None
    # the bed's measure of fibers of 2 pixels carries its fit's level and blur (the
    # phantom's: 40 000 and 0.7 pixel); of 5 pixels, no fit and none
    bed = measure_fiber_bed(_small_bed(), 6.4)
    assert bed.fiber_level == pytest.approx(40_000, rel=0.05) and 0.5 < bed.blur < 1.0
    large = fiber_bed((10, 96, 96), spacing=1.0, radius=5.0, noise=0.1, seed=4)[0]
    assert measure_fiber_bed(large, 5.0).fiber_level is None
