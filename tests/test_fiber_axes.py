"""Fibers settled on their axes: every slice of a fiber's span, centres on its line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xarray_microct as mct
from xarray_microct.kernels.chains import chain_axes, group_order
from xarray_microct.ops.fibers import detect_fibers
from xarray_microct.ops.fibers.linking import settle_on_axes
from xarray_microct.synthetic import fiber_bed


def _noisy_fibers(seed: int, nz: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of 12 straight tilted fibers (radius 2): centre noise 0.15, 10 % of the
    slices missed, one centre in 15 thrown 2–3 units off (a neighbour's piece).

    Returns the rows ``(z, y, x, radius)``, their fiber ids and each fiber's line
    ``(y0, x0, slope_y, slope_x)``.
    """
    rng = np.random.default_rng(seed)
    lines = np.column_stack(
        [
            np.repeat(np.arange(3) * 8.0 + 10, 4),
            np.tile(np.arange(4) * 8.0 + 10, 3),
            rng.normal(0.2, 0.02, 12),
            rng.normal(-0.1, 0.02, 12),
        ]
    )
    rows, ids = [], []
    z = np.arange(nz, dtype=float)
    for k, (y0, x0, sy, sx) in enumerate(lines):
        y = y0 + sy * z + rng.normal(0, 0.15, nz)
        x = x0 + sx * z + rng.normal(0, 0.15, nz)
        stray = rng.random(nz) < 1 / 15
        angle = rng.uniform(0, 2 * np.pi, nz)
        reach = rng.uniform(2, 3, nz)
        y = np.where(stray, y + reach * np.cos(angle), y)
        x = np.where(stray, x + reach * np.sin(angle), x)
        seen = rng.random(nz) > 0.1
        seen[[0, -1]] = True  # the fiber's span: all the slices
        rows.append(np.column_stack([z, y, x, np.full(nz, 2.0)])[seen])
        ids.append(np.full(seen.sum(), k + 1))
    rows, ids = np.concatenate(rows), np.concatenate(ids)
    order = np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))
    return rows[order], ids[order], lines


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_settled_fibers_have_a_row_on_every_slice_on_their_true_axis(seed):
    rows, ids, lines = _noisy_fibers(seed)
    settled, fiber = settle_on_axes(rows, ids, half=4, tolerance=1.0)
    # one row per fiber and slice of its span, nothing else
    assert np.bincount(fiber).tolist() == [0] + [60] * 12
    assert len(np.unique(np.column_stack([fiber, settled[:, 0]]), axis=0)) == len(settled)
    y0, x0, sy, sx = lines[fiber - 1].T
    error = np.hypot(
        settled[:, 1] - y0 - sy * settled[:, 0], settled[:, 2] - x0 - sx * settled[:, 0]
    )
    raw = np.hypot(rows[:, 1] - lines[ids - 1, 0] - lines[ids - 1, 2] * rows[:, 0],
                   rows[:, 2] - lines[ids - 1, 1] - lines[ids - 1, 3] * rows[:, 0])  # fmt: skip
    assert raw.max() > 2  # the strays
    # the line fits average the centre noise (0.15 × √2 per centre) and leave the strays
    assert error.max() < 0.45
    assert np.sqrt(np.mean(error**2)) < 0.6 * np.sqrt(np.mean(raw[raw < 1] ** 2))
    # sorted by slice then y, as the table's numbering needs
    assert (np.diff(settled[:, 0]) >= 0).all()
    same = np.diff(settled[:, 0]) == 0
    assert (np.diff(settled[:, 1])[same] >= 0).all()


def test_settling_depends_on_the_rows_not_their_order():
    rows, ids, _ = _noisy_fibers(3)
    settled, fiber = settle_on_axes(rows, ids, half=4, tolerance=1.0)
    shuffle = np.random.default_rng(0).permutation(len(rows))
    again, fiber_again = settle_on_axes(rows[shuffle], ids[shuffle], half=4, tolerance=1.0)
    np.testing.assert_array_equal(again, settled)
    np.testing.assert_array_equal(fiber_again, fiber)
    empty, none = settle_on_axes(np.zeros((0, 4)), np.zeros(0, np.int64), 4, 1.0)
    assert empty.shape == (0, 4) and none.size == 0


def test_chain_axes_fill_a_gap_between_the_fits_around_it():
    # a straight chain y = 2 + 0.5 z, missing slices 4..7; radii 1 then 3
    z = np.array([0, 1, 2, 3, 8, 9, 10, 11], float)
    rows = np.column_stack([z, 2 + 0.5 * z, np.full(8, 7.0), np.where(z < 5, 1.0, 3.0)])
    order, bounds = group_order(np.zeros(8, np.int64), 1)
    axes, starts, kept = chain_axes(rows, order, bounds, half=2, tolerance=0.5)
    assert starts.tolist() == [0, 12] and kept.all()
    np.testing.assert_allclose(axes[:, 0], np.arange(12))
    np.testing.assert_allclose(axes[:, 1], 2 + 0.5 * np.arange(12), atol=1e-9)
    np.testing.assert_allclose(axes[:, 2], 7.0)
    # radii of the gap: between the window means on either side
    assert (np.diff(axes[3:9, 3]) >= 0).all() and axes[5, 3] == pytest.approx(2.0, abs=0.5)


@pytest.fixture(scope="module")
def small_fibers():
    """A bed of 2-pixel fibers in noise 0.2 (fiber level 1), tilted 10°, and its table."""
    volume, truth = fiber_bed(
        (24, 64, 64), spacing=3.2, radius=6.4, radius_sd=0.9, noise=0.2, tilt=10, seed=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = detect_fibers(volume.chunk((8, 32, 32)), radius="6.4 um")
    return volume, truth, table


def test_small_noisy_fibers_are_found_on_every_slice_of_their_span(small_fibers):
    volume, truth, table = small_fibers
    # without settling on the axes: F1 0.963, centres 0.31 pixel off, 82 missed slices
    scores = mct.metrics.object_metrics(table, truth.centres, like=volume, margin=6.4)
    assert scores["f1"] >= 0.975
    assert scores["mean_error"] < 0.27 * 3.2
    span = table.groupby("fiber_id")["z"].agg(["min", "max", "size"])
    np.testing.assert_allclose((span["max"] - span["min"]) / 3.2 + 1, span["size"])


def test_small_fibers_table_does_not_depend_on_the_chunks(small_fibers):
    volume, _, table = small_fibers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = detect_fibers(volume.chunk((24, 64, 20)), radius="6.4 um")
    np.testing.assert_array_equal(other.to_numpy(), table.to_numpy())


def test_fibers_of_one_or_two_rows_keep_their_rows():
    rows = np.array([[3, 10.0, 10.0, 2.0], [0, 30.0, 5.0, 2.5], [2, 30.4, 5.0, 1.5]])
    settled, fiber = settle_on_axes(rows, np.array([7, 9, 9]), half=4, tolerance=1.0)
    assert fiber.tolist() == [9, 9, 9, 7]  # by slice: 0, 1 (filled), 2, 3
    np.testing.assert_allclose(settled[:, 0], [0, 1, 2, 3])
    np.testing.assert_allclose(settled[[0, 2, 3], 1:], rows[[1, 2, 0], 1:])
    np.testing.assert_allclose(settled[1, 1:], [30.2, 5.0, 2.0])  # halfway, mean radius


def test_chain_axes_keep_their_window_at_a_chains_ends():
    # straight chains with centre noise 1 and no strays: at a chain's first and last
    # slices the axis is the line through a whole window (2 half + 1 slices, shifted
    # inwards), not through the half window left there. A least-squares line through n
    # equally spaced rows has, at its window's end, a variance of (4n − 2) / (n² + n):
    # 0.378 at n = 9, 0.6 at n = 5 (half = 4). The truth is the line itself.
    rng = np.random.default_rng(7)
    half, nz, chains = 4, 30, 400
    z = np.tile(np.arange(nz, dtype=float), chains)
    slope = np.repeat(rng.normal(0, 0.3, chains), nz)
    truth = 5.0 + slope * z
    rows = np.column_stack(
        [z, truth + rng.normal(0, 1, z.size), rng.normal(0, 1, z.size), np.full(z.size, 2.0)]
    )
    order, bounds = group_order(np.repeat(np.arange(chains), nz), chains)
    axes, _, kept = chain_axes(rows, order, bounds, half=half, tolerance=100.0)
    assert kept.all()
    error = (axes[:, 1] - truth[order]).reshape(chains, nz)
    ends = np.concatenate([error[:, 0], error[:, -1]])
    middle = error[:, half:-half].ravel()
    whole_window = np.sqrt((4 * 9 - 2) / (9 * 9 + 9))  # 0.61; the half window's: 0.77
    assert np.sqrt(np.mean(ends**2)) < 1.1 * whole_window
    assert np.sqrt(np.mean(middle**2)) < 1.1 / np.sqrt(2 * half + 1)
