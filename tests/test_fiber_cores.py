"""Fibers with a dark core (SCS-6-like): found in the sample, filled per slice, detected.

The phantoms are written here with NumPy/SciPy (not ``xarray_microct.synthetic``): a
bed of straight fibers whose sections are a bright ring about a core as dark as the
matrix or darker, blurred, with noise; the truth is every fiber's centre on every slice.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from xarray_microct.core.volume import from_array
from xarray_microct.metrics import object_metrics
from xarray_microct.ops.fiber_cores import (
    CORE_DEPTH,
    EXTENT,
    _core_codes,
    core_holes,
    filled_cores_array,
    sampled_cores,
)
from xarray_microct.ops.fiber_scale import measure_fiber_bed
from xarray_microct.ops.fibers import detect_fibers
from xarray_microct.ops.fibers.detect import fiber_chain
from xarray_microct.ops.fibers.mask import background_width
from xarray_microct.synthetic import textured_fiber_bed


def cored_bed(radius, core, core_level, nz=24, size=96, tilt=0.0, noise=0.05, seed=0):
    """(volume, truth): fibers of ``radius`` pixels, level 1, on a matrix of 0.4; each
    with a core of ``core`` radii at ``core_level``; blur 0.8, Gaussian noise."""
    rng = np.random.default_rng(seed)
    shift = np.tan(np.radians(tilt))
    centres = []
    for _ in range(20000):
        y, x = rng.uniform(-radius, size - 1 + radius, 2)
        if all((y - cy) ** 2 + (x - cx) ** 2 >= (2 * radius + 0.8) ** 2 for cy, cx in centres):
            centres.append((y, x))
        if len(centres) * np.pi * radius**2 > 0.5 * size * size:
            break
    fine = 3  # pixels rendered 3 × 3 and averaged
    grid = (np.arange(size * fine) + 0.5) / fine - 0.5
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    volume = np.empty((nz, size, size), np.float32)
    rows = []
    for z in range(nz):
        image = np.full(yy.shape, 0.4)
        for k, (y, x) in enumerate(centres):
            cx = x + shift * (z - nz / 2)
            rho = np.hypot(yy - y, (xx - cx) * np.cos(np.radians(tilt))) / radius
            image[rho <= 1] = 1.0
            image[rho < core] = core_level
            if 0 <= y < size and 0 <= cx < size:
                rows.append((float(z), y, cx, radius, k + 1))
        volume[z] = image.reshape(size, fine, size, fine).mean(axis=(1, 3))
    volume = ndi.gaussian_filter(volume, (0, 0.8, 0.8))
    volume += rng.normal(0, noise, volume.shape).astype(np.float32)
    truth = pd.DataFrame(rows, columns=["z", "y", "x", "radius", "truth_id"])
    return volume, truth


def _scores(table, truth, vol, radius):
    scores = object_metrics(table, truth, like=vol, margin=radius)
    inner = table[
        (table.y > 2 * radius)
        & (table.y < vol.sizes["y"] - 2 * radius)
        & (table.x > 2 * radius)
        & (table.x < vol.sizes["x"] - 2 * radius)
    ]
    return scores["f1"], float(inner.radius.mean() / radius - 1)


@pytest.mark.parametrize(
    ("radius", "core", "core_level", "tilt", "size"),
    [
        (6.0, 0.3, 0.4, 0.0, 96),  # SCS-6-like: a core of 0.3 radius as dark as the matrix
        (4.0, 0.3, 0.1, 10.0, 96),  # a core darker than the matrix, tilted
        (10.0, 0.2, 0.4, 0.0, 144),  # a small core, detected on bins
    ],
)
def test_cored_fibers_detected_with_defaults(radius, core, core_level, tilt, size):
    # on main: no fibers (the estimate's sections split on the rings) or F1 about 0.6
    volume, truth = cored_bed(radius, core, core_level, size=size, tilt=tilt, seed=int(radius))
    vol = from_array(volume, spacing=1.0, units="micrometer", chunks=(24, 48, 48))
    table = detect_fibers(vol)
    f1, radius_error = _scores(table, truth, vol, radius)
    assert f1 >= 0.97
    assert abs(radius_error) < 0.04
    assert "fiber_cores" in str(table.attrs.get("microct_provenance"))


def test_cored_large_fibers_with_radius_given():
    # fibers of 9 pixels and more with the radius given are detected on bins and the bed
    # is not measured: one run of the sample is still looked at for cores (before: not
    # filled, F1 about 0.2)
    volume, truth = cored_bed(12.0, 0.3, 0.4, size=144, seed=12)
    vol = from_array(volume, spacing=1.0, units="micrometer", chunks=(24, 48, 48))
    table = detect_fibers(vol, radius=12.0)
    f1, radius_error = _scores(table, truth, vol, 12.0)
    assert f1 >= 0.97
    assert abs(radius_error) < 0.04
    assert "one run of the bed's sample" in str(table.attrs.get("microct_provenance"))


def test_plain_fibers_not_taken_for_cored():
    volume, _ = cored_bed(6.0, 0.3, 1.0, seed=3)  # the core at the fiber's level: plain
    vol = from_array(volume, spacing=1.0, units="micrometer")
    assert measure_fiber_bed(vol).cores is None
    cored, _ = cored_bed(6.0, 0.3, 0.4, seed=3)
    found = measure_fiber_bed(from_array(cored, spacing=1.0, units="micrometer")).cores
    assert found is not None and found.cored
    assert 0.2 < found.core_ratio < 0.45


def test_small_fibers_whose_few_large_sections_hold_holes_not_taken_for_cored():
    # 2-pixel fibers on a textured background in heavy noise: of the coarse tile's ~200
    # sections (median radius 1.6 pixels) only 8 are round and 2 pixels or more, and 4 of
    # those hold a hole (clusters, noise): the share 0.5 made the bed cored, and the
    # detection's filled holes merged fibers (object F1 0.975 at the true radius, 0.960
    # with the defaults)
    vol, _ = textured_fiber_bed((32, 128, 128), 2, 0.25, 0.0, 1)
    assert measure_fiber_bed(vol).cores is None


def test_ring_core_found_and_fiber_clusters_not_taken_for_cored():
    # a ring's core is a core; three touching fibers (the matrix enclosed between them) do
    # not make the sample cored: their section is not round
    yy, xx = np.mgrid[:80, :80]
    ring = np.hypot(yy - 40, xx - 40) <= 10
    ring &= np.hypot(yy - 40, xx - 40) > 3
    assert core_holes(ring, 10.0).sum() == (np.hypot(yy - 40, xx - 40) <= 3).sum()
    centres = [(30.0, 30.0), (30.0, 50.0), (30.0 + 20 * np.sin(np.pi / 3), 40.0)]
    mask = np.zeros((80, 80), bool)
    for y, x in centres:
        mask |= np.hypot(yy - y, xx - x) <= 10.05
    assert (ndi.binary_fill_holes(mask) & ~mask).sum() > 10  # the enclosed matrix
    assert sampled_cores(np.stack([np.where(mask, 1.0, 0.2)] * 8)).sections == 0


@pytest.mark.parametrize("chunks", [(12, 96, 96), (5, 40, 33), (7, 17, 61), (1, 96, 19)])
def test_filled_cores_do_not_depend_on_chunks(chunks):
    volume, _ = cored_bed(6.0, 0.35, 0.3, nz=12, noise=0.15, seed=5)
    mask = volume > 0.7
    codes = _core_codes(mask, 6.0, edges=True)  # the sides: mask beyond them
    assert (codes == 1).sum() > 100  # cores found, and some noise holes left
    filled_mask, (filled,) = filled_cores_array(
        da.from_array(mask, chunks=chunks), [da.from_array(volume, chunks=chunks)], 6.0, 0.9
    )
    np.testing.assert_array_equal(filled_mask.compute(), mask | (codes == 1))
    expected = np.where(codes > 0, np.maximum(volume, np.float32(0.9)), volume)
    np.testing.assert_array_equal(filled.compute(), expected)


@pytest.mark.parametrize("rows", [(60, 60), (30, 30, 30, 30), (61, 59)])
def test_core_beside_a_small_hole_cut_by_a_block(rows):
    # a thin core (16 pixels) whose depth test reads a neighbouring small hole (18 pixels)
    # that lies up to 2 x EXTENT radii beyond the test's window: a block cutting that
    # neighbour at its edge must still see it whole (with a halo of (2 x EXTENT +
    # CORE_DEPTH) radii the core's last pixel differed between chunkings)
    radius, edge, column = 12.0, 60, 40
    reach = int(np.ceil((2 * EXTENT + CORE_DEPTH) * radius)) + 3
    mask = np.ones((1, 120, 120), bool)
    mask[0, edge - reach - 5 : edge - reach + 13, column] = False  # the neighbour hole
    mask[0, edge - 15 : edge + 1, column] = False  # the core, reaching row 60
    mask[0, edge - 8 :, column + 6 :] = False  # the matrix
    codes = _core_codes(mask, radius, edges=True)
    assert codes[0, edge, column] == 1
    filled_mask, _ = filled_cores_array(
        da.from_array(mask, chunks=(1, rows, (41, 79))), [], radius, 1.0
    )
    np.testing.assert_array_equal(filled_mask.compute(), mask | (codes == 1))


def test_filled_intensities_chunked_unlike_the_mask():
    # the intensities' blocks need not be the mask's (fiber_chain's smoothed scan and its
    # mask): the codes follow each intensity's chunks (an IndexError before)
    volume, _ = cored_bed(6.0, 0.35, 0.3, nz=12, noise=0.15, seed=5)
    mask = volume > 0.7
    codes = _core_codes(mask, 6.0, edges=True)
    _, (filled,) = filled_cores_array(
        da.from_array(mask, chunks=(12, 96, 96)),
        [da.from_array(volume, chunks=(6, 48, 40))],
        6.0,
        0.9,
    )
    expected = np.where(codes > 0, np.maximum(volume, np.float32(0.9)), volume)
    np.testing.assert_array_equal(filled.compute(), expected)


def test_fiber_chain_fills_cores_on_any_chunking():
    # fiber_chain(cores=) on a scan chunked in z: the smoothed scan's blocks are not the
    # mask's (an IndexError before); the mask and the score are the one-chunk scan's
    volume, _ = cored_bed(4.0, 0.3, 0.2, nz=16, noise=0.15, seed=4)
    results = []
    for chunks in ((16, 96, 96), (8, 48, 48)):
        vol = from_array(volume, spacing=1.0, units="micrometer", chunks=chunks)
        mask, score = fiber_chain(
            vol, "intensity", sigma=2.4, smooth=(4, 0, 0), background=background_width(4),
            cores=4.0, eager=True,
        )  # fmt: skip
        results.append((mask.values, score.values))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)


def test_cored_detection_does_not_depend_on_chunks():
    volume, _ = cored_bed(6.0, 0.3, 0.4, nz=16, size=80, seed=11)
    tables = [
        detect_fibers(from_array(volume, spacing=1.0, units="micrometer", chunks=chunks))
        for chunks in ((16, 80, 80), (5, 27, 41))
    ]
    assert "fiber_cores" in str(tables[0].attrs.get("microct_provenance"))
    pd.testing.assert_frame_equal(tables[0], tables[1])
