"""benchmarks/_measure.py's chain_identity against a brute-force count on a known bed,
clustered_mean and clustered_f1 against the cluster means and a bootstrap over clusters,
and scored_rows against object_metrics's counts and a slice-by-slice split."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _measure import chain_identity, clustered_f1, clustered_mean, scored_rows

from xarray_microct.core.volume import from_array
from xarray_microct.metrics import object_metrics


def straight_fibers(n: int, slices: int, spacing: float, rng) -> pd.DataFrame:
    """True centres of ``n`` straight fibers on a grid 10 apart, on every slice."""
    y0, x0 = np.divmod(np.arange(n), 4)
    tilt = rng.uniform(-0.05, 0.05, (n, 2))
    rows = [
        pd.DataFrame(
            {
                "fiber_id": np.arange(1, n + 1),
                "z": k * spacing,
                "y": 10.0 * y0 + tilt[:, 0] * k,
                "x": 10.0 * x0 + tilt[:, 1] * k,
            }
        )
        for k in range(slices)
    ]
    return pd.concat(rows, ignore_index=True)


def brute_force(table, truth, within):
    """Every section against every true centre of its slice: (joined, split)."""
    pairs = set()
    for _, row in table.iterrows():
        here = truth[np.isclose(truth.z, row.z)]
        if here.empty:
            continue
        d = np.hypot(here.y - row.y, here.x - row.x).to_numpy()
        if d.min() < within:
            pairs.add((row.fiber_id, here.fiber_id.to_numpy()[d.argmin()]))
    chains = pd.Series([c for c, _ in pairs]).value_counts()
    fibers = pd.Series([f for _, f in pairs]).value_counts()
    return int((chains > 1).sum()), int((fibers > 1).sum())


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), joins=st.integers(0, 3), splits=st.integers(0, 3))
def test_chain_identity_counts_joins_and_splits_like_brute_force(seed, joins, splits):
    rng = np.random.default_rng(seed)
    spacing = 0.65
    truth = straight_fibers(12, 20, spacing, rng)
    table = truth.copy()
    table[["y", "x"]] += rng.normal(0, 0.3, (len(table), 2))  # detection noise
    slice_index = np.round(table.z / spacing).astype(int)
    ids = table.fiber_id.to_numpy().copy()
    # chain 1 + 2j carries fiber 2 + 2j from a slice on: a join, and that fiber split
    for j in range(joins):
        k = rng.integers(1, 19)
        ids[(table.fiber_id == 2 + 2 * j).to_numpy() & (slice_index >= k).to_numpy()] = 1 + 2 * j
    for s in range(splits):  # fiber 12 - s gets a new chain from a slice on
        k = rng.integers(1, 19)
        ids[(table.fiber_id == 12 - s).to_numpy() & (slice_index >= k).to_numpy()] = 100 + s
    table["fiber_id"] = ids
    stray = pd.DataFrame({"fiber_id": [999], "z": [3 * spacing], "y": [5.0], "x": [5.0]})
    table = pd.concat([table, stray], ignore_index=True)  # matched to no fiber
    got = chain_identity(table, truth, spacing=spacing, within=2.0)
    assert (got.joined, got.split) == brute_force(table, truth, 2.0) == (joins, joins + splits)
    assert got.sections == len(table) and got.matched == len(table) - 1


def test_chain_identity_sees_a_join_between_sampled_slices():
    spacing = 1.0
    truth = straight_fibers(4, 10, spacing, np.random.default_rng(0))
    table = truth.copy()
    jump = (table.fiber_id == 2) & table.z.between(4, 6)  # chain 1 takes fiber 2 there
    table.loc[jump, "fiber_id"] = 1
    every = chain_identity(table, truth, spacing, within=2.0)
    sampled = chain_identity(table, truth[truth.z.isin([0.0, 9.0])], spacing, within=2.0)
    assert every.joined == 1 and every.split == 1
    assert sampled.joined == 0 and sampled.sections == 8


def test_chain_identity_ignores_slices_without_truth():
    truth = pd.DataFrame({"fiber_id": [1], "z": [0.0], "y": [0.0], "x": [0.0]})
    table = pd.DataFrame({"fiber_id": [1, 2], "z": [0.0, 5.0], "y": [0.0, 0.0], "x": [0.0, 0.0]})
    assert tuple(chain_identity(table, truth, 1.0, 1.0)) == (0, 0, 1, 1)


def test_chain_identity_of_nothing_is_zero():
    truth = pd.DataFrame({"fiber_id": [1, 2], "z": [0.0, 0.0], "y": [0.0, 9.0], "x": [0.0, 0.0]})
    empty = truth.iloc[:0]
    off = truth.assign(z=[5.0, 5.0])  # a table on slices the truth does not have
    for table, true in ((empty, truth), (off, truth), (truth, empty)):
        assert chain_identity(table, true, spacing=1.0, within=1.0) == (0, 0, 0, 0)


def test_the_whole_scan_benchmark_draws_its_bed():
    # benchmarks/whole_scan.py builds its beds from the phantom's placement helpers: a
    # change of their signatures broke it once with no test to say so
    from whole_scan import fiber_axes

    axes = fiber_axes((8, 64, 80), seed=3)
    assert len(axes) > 10 and axes["radius"].gt(0).all()
    assert np.allclose(np.linalg.norm(axes[["dz", "dy", "dx"]].to_numpy(), axis=1), 1.0)
    assert axes.equals(fiber_axes((8, 64, 80), seed=3))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), clusters=st.integers(2, 30), rows=st.integers(1, 8))
def test_clustered_mean_of_equal_clusters_is_the_se_of_their_means(seed, clusters, rows):
    rng = np.random.default_rng(seed)
    keys = np.repeat(rng.permutation(1000)[:clusters], rows)
    values = rng.normal(0, 1, clusters)[np.repeat(np.arange(clusters), rows)]
    values = values + rng.normal(0, 0.5, values.size)
    means = pd.Series(values).groupby(keys).mean()
    m = clustered_mean(values, keys)
    assert m.clusters == clusters
    np.testing.assert_allclose(m.mean, values.mean())
    np.testing.assert_allclose(m.sd, means.std(ddof=1))
    np.testing.assert_allclose(m.se, means.std(ddof=1) / np.sqrt(clusters))


def test_clustered_mean_of_unequal_clusters_matches_a_bootstrap_over_clusters():
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 30, 60)  # fibers crossing few or many slices
    keys = np.repeat(np.arange(60), sizes)
    values = (rng.normal(0, 1, 60) + 0.05 * sizes)[keys] + rng.normal(0, 0.3, keys.size)
    groups = [values[keys == k] for k in range(60)]
    draws = rng.integers(0, 60, (4000, 60))
    boot = [np.concatenate([groups[k] for k in draw]).mean() for draw in draws]
    m = clustered_mean(values, keys)
    # the bootstrap has no G / (G - 1) factor; 4000 draws know the SD within about 2 %
    np.testing.assert_allclose(m.se * np.sqrt(59 / 60), np.std(boot), rtol=0.06)
    assert m.se > values.std(ddof=1) / np.sqrt(values.size) * 2  # rows are not the units
    assert np.isnan(clustered_mean(values[:3], np.zeros(3)).se)


def test_clustered_f1_matches_a_bootstrap_over_fibers():
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 30, 80)  # sections of each fiber (true ones and false chains)
    keys = np.repeat(np.arange(80), sizes)
    false_chain = np.repeat(rng.random(80) < 0.2, sizes)  # a chain of false positives
    lost = np.repeat(rng.random(80) < 0.1, sizes) | (rng.random(keys.size) < 0.05)
    rows = pd.DataFrame(
        {
            "fiber": keys,
            "tp": (~false_chain & ~lost).astype(int),
            "fp": false_chain.astype(int),
            "fn": (~false_chain & lost).astype(int),
        }
    )
    m = clustered_f1(rows)
    tp, fp, fn = rows.tp.sum(), rows.fp.sum(), rows.fn.sum()
    np.testing.assert_allclose(m.f1, 2 * tp / (2 * tp + fp + fn))
    # resample whole fibers: each fiber's 2 tp and 2 tp + fp + fn, summed per draw
    sums = rows.assign(a=2 * rows.tp, b=2 * rows.tp + rows.fp + rows.fn).groupby("fiber")
    a, b = sums.a.sum().to_numpy(), sums.b.sum().to_numpy()
    draws = rng.integers(0, 80, (4000, 80))
    boot = a[draws].sum(axis=1) / b[draws].sum(axis=1)
    # linearised against the bootstrap's spread (no G / (G - 1) factor), within its noise
    np.testing.assert_allclose(m.se * np.sqrt(79 / 80), np.std(boot), rtol=0.1)
    assert m.clusters == 80
    assert np.isnan(clustered_f1(rows[keys == 0]).se)


def test_scored_rows_count_as_object_metrics_and_split_by_slice():
    rng = np.random.default_rng(3)
    volume = from_array(np.zeros((6, 60, 60), np.float32), spacing=0.5)
    truth = straight_fibers(16, 6, 0.5, rng).assign(radius=1.5)
    truth[["y", "x"]] += 6.0  # 16 fibers on a 4 x 4 grid inside the 30-unit field
    table = truth.drop(columns="radius").sample(frac=0.8, random_state=1)  # misses
    table[["y", "x"]] += rng.normal(0, 0.2, (len(table), 2))
    stray = pd.DataFrame({"fiber_id": [50, 50], "z": [0.0, 2.5], "y": [20.0] * 2, "x": [3.0] * 2})
    table = pd.concat([table, stray], ignore_index=True)
    rows = scored_rows(table, truth, volume, margin=2.0)  # checks its counts itself
    whole = object_metrics(table, truth, like=volume, margin=2.0)
    assert rows.fp.sum() == whole["fp"] == 2 and set(rows.fiber[rows.fp == 1]) == {-51}
    np.testing.assert_allclose(clustered_f1(rows).f1, whole["f1"])
    for k in range(6):  # each slice's rows score as object_metrics on that slice alone
        z = 0.5 * k
        part = object_metrics(
            table[np.isclose(table.z, z)], truth[np.isclose(truth.z, z)], like=volume, margin=2.0
        )
        here = rows[rows.slice == k]
        assert (here.tp.sum(), here.fp.sum(), here.fn.sum()) == (
            part["tp"],
            part["fp"],
            part["fn"],
        )
