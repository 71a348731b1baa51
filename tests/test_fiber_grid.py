"""The working grid of fiber detection: in-plane bins, chunk-exact, and what it detects."""

from __future__ import annotations

import itertools

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import scipy.ndimage as ndi
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.core.blocks.placement import block_hint, spread_over_workers
from xarray_microct.kernels.fiber_grid import smooth_z_levels
from xarray_microct.metrics import object_metrics
from xarray_microct.ops.fibers import detect
from xarray_microct.ops.fibers.grid import (
    GRID_KEY,
    MAX_BLOCK_BYTES,
    SHARE_TOLERANCE,
    balanced_chunks,
    bin_yx,
    bin_yx_array,
    chunk_sizes_tried,
    working_factor,
    working_grid,
)
from xarray_microct.synthetic import fiber_bed


def _reference_bins(volume: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each bin, pixel by pixel in float64 (the last pixel repeated to fill)."""
    nz, ny, nx = volume.shape
    my, mx = -(-ny // factor), -(-nx // factor)
    out = np.zeros((nz, my, mx))
    for j in range(my):
        for i in range(mx):
            ys = np.minimum(np.arange(j * factor, (j + 1) * factor), ny - 1)
            xs = np.minimum(np.arange(i * factor, (i + 1) * factor), nx - 1)
            out[:, j, i] = volume[:, ys][:, :, xs].astype(np.float64).mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", [(2, 8, 8), (3, 9, 7), (1, 1, 1), (2, 5, 3)])
def test_bins_are_the_means_of_aligned_blocks(shape, factor):
    rng = np.random.default_rng(factor)
    volume = rng.integers(0, 65535, shape, dtype=np.uint16)
    binned = bin_yx(volume, factor)
    assert binned.dtype == np.float32
    # sums of up to 16 uint16 values are exact in float32: one rounding, the division
    np.testing.assert_allclose(binned, _reference_bins(volume, factor), rtol=1e-7)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 6), st.integers(1, 23), st.integers(1, 23)),
    chunks=st.tuples(st.integers(1, 6), st.integers(1, 11), st.integers(1, 11)),
    factor=st.integers(1, 4),
    min_chunk=st.integers(1, 9),
    dtype=st.sampled_from(["uint16", "float32", "float64", "int32"]),
)
def test_binning_does_not_depend_on_the_chunking(shape, chunks, factor, min_chunk, dtype):
    rng = np.random.default_rng(0)
    volume = (rng.random(shape) * 1000).astype(dtype)
    lazy = bin_yx_array(da.from_array(volume, chunks=chunks), factor, min_chunk)
    names = list(lazy.dask.layers)
    assert not [n for n in names if "rechunk" in n or "shuffle" in n]
    computed = lazy.compute()
    assert computed.shape == lazy.shape == bin_yx(volume, factor).shape
    if factor > 1:
        assert lazy.chunks[0] == da.from_array(volume, chunks=chunks).chunks[0]
        for axis_chunks, n in zip(lazy.chunks[1:], lazy.shape[1:], strict=True):
            assert axis_chunks[0] >= min(min_chunk, n)
    np.testing.assert_array_equal(computed, bin_yx(volume, factor))


def test_working_grid_has_the_bins_centres_and_keeps_z():
    vol = mct.from_array(
        np.arange(3 * 5 * 6, dtype="uint16").reshape(3, 5, 6),
        spacing=(2.0, 0.5, 0.25),
        origin=(1.0, 10.0, -1.0),
        units="um",
    )
    binned = working_grid(vol, 2)
    grid = mct.core.volume.grid_of(binned)
    assert grid.shape == (3, 3, 3)  # a partial last bin in y: 5 pixels → 3 bins
    assert grid.spacing == (2.0, 1.0, 0.5)
    np.testing.assert_allclose(binned.y, 10.25 + np.arange(3) * 1.0)
    np.testing.assert_allclose(binned.x, -0.875 + np.arange(3) * 0.5)
    np.testing.assert_array_equal(binned.z, vol.z)
    assert binned.x.attrs["units"] == vol.x.attrs["units"]
    np.testing.assert_array_equal(binned.values, bin_yx(vol.values, 2))
    assert working_grid(vol, 1) is vol


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_factors_are_refused(bad):
    with pytest.raises(ValueError, match="binning factor"):
        bin_yx(np.zeros((1, 4, 4)), bad)


def test_the_factor_keeps_five_or_so_voxels_of_radius():
    assert [working_factor(r) for r in (2.0, 8.9, 9.0, 14.9, 15.0, 20.0)] == [1, 1, 2, 2, 3, 3]
    for radius in np.linspace(9, 60, 50):
        assert 4.5 <= radius / working_factor(radius) < 7.5
    with pytest.raises(ValueError, match="positive"):
        working_factor(0.0)


def _large_fiber_bed():
    # 0.65 µm pixels: fibers of ~9.8 pixels of radius, detected on 2 × 2 bins
    return fiber_bed((36, 150, 150), spacing=0.65, seed=5, tilt=4.0, noise=0.1)


@pytest.fixture(scope="module")
def binned_reference():
    vol, truth = _large_fiber_bed()
    with dask.config.set(scheduler="synchronous"):
        table = vol.chunk({"z": 36, "y": 150, "x": 150}).microct.detect_fibers(radius="6.4 um")
    return table, truth, vol


def test_large_fibers_are_detected_on_bins_and_found(binned_reference):
    table, truth, vol = binned_reference
    grid = table.attrs[GRID_KEY]
    assert grid["factor"] == [1, 2, 2]
    np.testing.assert_allclose(grid["spacing"], [0.65, 1.3, 1.3])
    np.testing.assert_allclose(grid["origin"][1:], [0.325, 0.325])
    assert grid["shape"] == [36, 75, 75]
    scores = mct.metrics.object_metrics(table, truth.centres, like=vol, margin=6.4)
    assert scores["f1"] > 0.98
    assert set(np.round(table["z"] / 0.65)) == set(range(36))  # one row per slice


@pytest.mark.parametrize(
    ("chunks", "binned_chunk"), [((9, 13, 50), 1), ((17, 75, 31), 1), ((36, 21, 150), 256)]
)
def test_binned_detection_gives_the_same_table_for_odd_chunkings(
    binned_reference, chunks, binned_chunk, monkeypatch
):
    # binned_chunk=1: bins chunked as the input (7 × 25 bins for chunks of 13 × 50)
    monkeypatch.setattr(detect, "BINNED_CHUNK", binned_chunk)
    reference, _, vol = binned_reference
    with dask.config.set(scheduler="threads"):
        table = vol.chunk(dict(zip(("z", "y", "x"), chunks, strict=True))).microct.detect_fibers(
            radius="6.4 um"
        )
    pd.testing.assert_frame_equal(table, reference)


def _busiest_run(bins, sizes, z_chunks, slots, halo):
    """Brute force: every block's cost, the blocks dealt in contiguous runs of equal count."""
    costs = [
        dz * (by + 2 * halo) * (bx + 2 * halo)
        for dz in z_chunks
        for by in da.core.normalize_chunks(sizes[0], (bins[0],))[0]
        for bx in da.core.normalize_chunks(sizes[1], (bins[1],))[0]
    ]
    counts = [len(c) for c in np.array_split(np.arange(len(costs)), min(slots, len(costs)))]
    starts = np.cumsum([0, *counts])
    return max(sum(costs[a:b]) for a, b in itertools.pairwise(starts))


@settings(max_examples=60, deadline=None)
@given(
    bins=st.tuples(st.integers(1, 1500), st.integers(1, 1500)),
    units=st.tuples(st.integers(16, 600), st.integers(16, 600)),
    z_chunks=st.lists(st.integers(1, 200), min_size=1, max_size=8),
    min_chunk=st.integers(16, 400),
    slots=st.integers(1, 8),
    halo=st.integers(0, 60),
)
def test_balanced_chunks_are_whole_input_chunks_and_share_out_best(
    bins, units, z_chunks, min_chunk, slots, halo
):
    size_y, size_x = balanced_chunks(bins, units, z_chunks, min_chunk, slots, halo)
    for size, n, unit in ((size_y, bins[0], units[0]), (size_x, bins[1], units[1])):
        assert size % unit == 0  # whole input chunks: none read by two binned chunks
        assert size >= min(min_chunk, unit * -(-n // unit))  # never under the minimum
    # no size tried shares the work out better by more than the tolerance
    tried = [chunk_sizes_tried(n, unit, min_chunk) for n, unit in zip(bins, units, strict=True)]
    assert size_y in tried[0] and size_x in tried[1]
    chosen = _busiest_run(bins, (size_y, size_x), z_chunks, slots, halo)
    for other_y in tried[0]:
        for other_x in tried[1]:
            if max(z_chunks) * (other_y + 2 * halo) * (other_x + 2 * halo) * 4 > MAX_BLOCK_BYTES:
                continue  # too large a block to be tried
            other = _busiest_run(bins, (other_y, other_x), z_chunks, slots, halo)
            assert chosen <= (1 + SHARE_TOLERANCE) * other


def test_binned_blocks_share_out_evenly_over_two_workers():
    # 2560² pixels in chunks of 128², bins of 2: 5 × 5 blocks of 256 bins gave one of two
    # workers 13 blocks and the other 12; 4 × 4 blocks of 320 give each 8, with less halo
    sizes = balanced_chunks((1280, 1280), (64, 64), (128,), 256, slots=2, halo=30)
    assert sizes == (320, 320)
    even = _busiest_run((1280, 1280), sizes, (128,), 2, 30)
    assert even < 0.95 * _busiest_run((1280, 1280), (256, 256), (128,), 2, 30)


def test_the_model_deals_the_blocks_as_the_workers_get_them():
    # spread_over_workers hints 4 × 4 binned blocks of 320 to two workers: 8 each
    reads = da.from_zarr(zarr.zeros((128, 2560, 2560), chunks=(128, 128, 128), dtype="uint16"))
    binned = bin_yx_array(reads, 2, balanced_chunks((1280, 1280), (64, 64), (128,), 256, 2, 30))
    hinted = spread_over_workers(binned, {"tcp://a:1": 1, "tcp://b:1": 1})
    hint = block_hint(hinted)
    workers = [hint(key)[0] for key in itertools.chain.from_iterable(hinted.__dask_keys__()[0])]
    assert binned.numblocks == (1, 4, 4)
    assert sorted(workers.count(w) for w in set(workers)) == [8, 8]


@pytest.mark.parametrize("threads", [1, 3])
def test_binned_table_does_not_depend_on_the_threads_that_share_it(
    binned_reference, threads, monkeypatch
):
    # the working grid's chunks follow the threads that compute (1 thread: 40 × 40 bins
    # of 75 × 75; 3 threads: 30 × 40): the table does not
    monkeypatch.setattr(detect, "BINNED_CHUNK", 30)
    monkeypatch.setattr(detect, "_computing_threads", lambda workers: threads)
    reference, _, vol = binned_reference
    chunked = vol.chunk({"z": 36, "y": 20, "x": 20})
    assert detect._binned_chunks(chunked, 2, 30, threads) == {1: (40, 40), 3: (30, 40)}[threads]
    with dask.config.set(scheduler="threads"):
        table = chunked.microct.detect_fibers(radius="6.4 um")
    pd.testing.assert_frame_equal(table, reference)


def test_bins_keep_the_radius_and_the_f1_of_the_scan(monkeypatch):
    # the same bed detected on its 2 × 2 bins and on the scan itself (factor forced to 1)
    vol, truth = _large_fiber_bed()
    binned = vol.microct.detect_fibers(radius="6.4 um")
    monkeypatch.setattr(detect, "working_factor", lambda radius_px: 1)
    scan = vol.microct.detect_fibers(radius="6.4 um")
    assert scan.attrs[GRID_KEY]["factor"] == [1, 1, 1]
    f1 = {
        name: object_metrics(table, truth.centres, like=vol, margin=6.4)["f1"]
        for name, table in (("bins", binned), ("scan", scan))
    }
    assert f1["bins"] >= f1["scan"] - 0.005
    radius = {
        name: table["radius"][~table["touches_side"]].mean()
        for name, table in (("bins", binned), ("scan", scan))
    }
    true_mean = truth.centres["radius"].mean()
    assert abs(radius["bins"] / true_mean - 1) <= abs(radius["scan"] / true_mean - 1) + 0.01


def test_partial_last_bins_and_small_chunks_give_the_whole_volume_table():
    # 61 × 47 pixels: the last bin along y and x holds one pixel (and its copy)
    vol, _ = fiber_bed((24, 61, 47), spacing=0.65, seed=1)
    whole = vol.chunk(-1).microct.detect_fibers(radius="6.4 um")
    assert whole.attrs[GRID_KEY]["shape"] == [24, 31, 24]
    assert whole["fiber_id"].nunique() >= 5
    pieces = vol.chunk({"z": 5, "y": 7, "x": 5}).microct.detect_fibers(radius="6.4 um")
    pd.testing.assert_frame_equal(pieces, whole)


def test_a_volume_thinner_than_the_tubeness_scale_is_refused():
    vol, _ = fiber_bed((16, 3, 40), spacing=0.65, seed=1)
    with pytest.raises(ValueError, match="larger than the volume"):
        vol.microct.detect_fibers(radius="6.4 um")


@pytest.mark.slow
def test_binned_detection_gives_the_same_table_on_two_worker_processes(binned_reference):
    from xarray_microct.cluster import ClusterOptions, dask_client

    reference, _, vol = binned_reference
    options = ClusterOptions(workers=2, threads_per_worker=1, memory_limit="1GiB")
    with dask_client(options):
        table = vol.chunk({"z": 11, "y": 33, "x": 29}).microct.detect_fibers(radius="6.4 um")
    pd.testing.assert_frame_equal(table, reference)


def test_smoothing_along_z_and_rounding_is_scipys_gaussian_rounded():
    rng = np.random.default_rng(3)
    volume = (rng.random((23, 9, 11)) * 4000).astype(np.float32)
    sigma = 1.0
    reach = int(4 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-reach, reach + 1) / sigma) ** 2)
    levels = smooth_z_levels(volume, (taps / taps.sum()).astype(np.float32), np.uint16)
    reference = ndi.gaussian_filter1d(volume.astype(np.float64), sigma, axis=0, mode="nearest")
    difference = np.abs(levels.astype(np.int64) - np.rint(reference).astype(np.int64))
    assert difference.max() <= 1  # float32 sums: a value near a half may round the other way
    assert (difference > 0).mean() < 0.01
    assert levels.dtype == np.uint16


@pytest.mark.parametrize("chunks", [(4, 5, 11), (1, 9, 3), (23, 2, 2)])
def test_smoothed_levels_do_not_depend_on_the_chunking(chunks):
    rng = np.random.default_rng(4)
    vol = mct.from_array((rng.random((23, 9, 11)) * 4000).astype(np.float32), spacing=0.5)
    whole = detect._z_levels(vol, 1.3, np.dtype(np.uint16)).values
    pieces = detect._z_levels(vol.chunk(dict(zip("zyx", chunks, strict=True))), 1.3, np.uint16)
    np.testing.assert_array_equal(pieces.values, whole)


def _fibers_in_matrix_and_pores(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """24 slices of straight fibers (1.0) on a 6 × 12 grid, half in a matrix (0.55), half
    in pores (0.1); partial volume on a 4 × 4 subgrid, blur 1 pixel: (volume, centres)."""
    pitch = 2.6 * radius
    ny, nx = int(6 * pitch), int(12 * pitch)
    fine = 4
    yy, xx = (np.mgrid[: ny * fine, : nx * fine] + 0.5) / fine - 0.5
    grid = [(j, i) for j in range(6) for i in range(12)]
    centres = (np.array(grid, dtype=np.float64) + 0.5) * pitch
    inside = np.zeros(yy.shape, dtype=bool)
    for cy, cx in centres:
        inside |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    fraction = inside.reshape(ny, fine, nx, fine).mean(axis=(1, 3))
    background = np.where(np.arange(nx) < nx // 2, 0.55, 0.1)[None, :]
    plane = ndi.gaussian_filter(fraction + (1 - fraction) * background, 1.0)
    return np.stack([plane] * 24).astype(np.float32), centres


def test_bins_cut_fibers_in_a_matrix_at_their_own_mid_level():
    # fibers of 12 pixels (detected on bins) half in a matrix, half in pores: Otsu's
    # global threshold (0.65) lies below the mid-level of the fibers in the matrix
    # (0.78), whose radii came out +6.8 %; each voxel at the mid-level between the fibers
    # and its own surroundings gives them their radius. The pores' mid-level (0.55)
    # lies below Otsu's threshold, which the mask never goes under: their fibers come
    # out a little narrow (-3.2 %; without that rule, other_bed's radii at 2-12 voxels
    # went up by 2-5 points)
    radius = 12.0
    volume, centres = _fibers_in_matrix_and_pores(radius)
    vol = mct.from_array(volume, spacing=1.0, units="micrometer").chunk({"y": 96, "x": 128})
    table = detect.detect_fibers(vol, radius=radius)
    assert table.attrs[GRID_KEY]["factor"][1] > 1
    rows = [(z, y, x, radius) for z in range(volume.shape[0]) for y, x in centres]
    truth = pd.DataFrame(rows, columns=["z", "y", "x", "radius"])
    assert object_metrics(table, truth, like=vol)["f1"] == 1.0
    inner = table[~table["touches_side"]]
    matrix = inner["x"] < volume.shape[2] / 2
    assert matrix.sum() > 0 and (~matrix).sum() > 0
    assert abs(inner["radius"][matrix].mean() / radius - 1) < 0.02
    assert abs(inner["radius"][~matrix].mean() / radius - 1) < 0.04


def test_computing_threads_follow_the_scheduler():
    with dask.config.set(scheduler="synchronous"):
        assert detect._computing_threads({}) == 1
    with dask.config.set(scheduler="threads", num_workers=3):
        assert detect._computing_threads({}) == 3
    assert detect._computing_threads({"tcp://a:1": 2, "tcp://b:1": 1}) == 3
