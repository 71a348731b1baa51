"""Optimal one-to-one matching of two point sets within a distance.

Used to score detections against a truth (:mod:`xarray_microct.metrics`) and to link
fiber centres from slice to slice (:mod:`xarray_microct.ops.fibers`): a small module
with one job, below both.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = ["optimal_pairs"]


def _candidate_pairs(a: np.ndarray, b: np.ndarray, max_distance: float):
    """All pairs (i, j) with ``|a_i - b_j| <= max_distance``, as two index arrays."""
    if len(a) == 0 or len(b) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    pairs = cKDTree(a).sparse_distance_matrix(cKDTree(b), max_distance, output_type="ndarray")
    return pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)


def _components(rows: np.ndarray, cols: np.ndarray, n_a: int, n_b: int) -> list[tuple]:
    """Groups of candidate pairs (linked through shared points) to be matched separately."""
    graph = coo_matrix((np.ones(rows.size), (rows, cols + n_a)), shape=(n_a + n_b, n_a + n_b))
    _, label = connected_components(graph, directed=False)
    group_of_pair = label[rows]
    order = np.argsort(group_of_pair, kind="stable")
    bounds = np.flatnonzero(np.diff(group_of_pair[order])) + 1
    return [(np.unique(rows[part]), np.unique(cols[part])) for part in np.split(order, bounds)]


def optimal_pairs(
    a: np.ndarray, b: np.ndarray, max_distance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal one-to-one matching of two point sets, pairs no farther than ``max_distance``.

    Minimises the total distance over the largest set of pairs: candidate pairs are split
    into independent groups (points linked by distances within ``max_distance``), and
    each group is solved with :func:`scipy.optimize.linear_sum_assignment`, where a pair
    beyond ``max_distance`` costs more than leaving both points unmatched.

    Parameters
    ----------
    a, b : array of shape (n, d) and (m, d)
        Point coordinates (same units).
    max_distance : float
        Largest distance of a matched pair.

    Returns
    -------
    index_a, index_b, distance : arrays
        The matched pairs, sorted by ``index_a``.

    Examples
    --------
    >>> a = np.array([[0.0, 0.0], [10.0, 0.0]])
    >>> b = np.array([[0.5, 0.0], [10.0, 1.0], [50.0, 50.0]])
    >>> optimal_pairs(a, b, max_distance=2.0)
    (array([0, 1]), array([0, 1]), array([0.5, 1. ]))
    """
    if not max_distance > 0:
        raise ValueError(f"max_distance must be positive, got {max_distance}")
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a = a.reshape(len(a), -1) if a.size else np.zeros((len(a), 2))
    b = b.reshape(len(b), -1) if b.size else np.zeros((len(b), 2))
    rows, cols = _candidate_pairs(a, b, max_distance)
    # a pair whose two points have no other candidate is matched as it is (most pairs
    # when points are sparse relative to max_distance); the rest is solved by groups
    degree_a = np.bincount(rows, minlength=len(a))
    degree_b = np.bincount(cols, minlength=len(b))
    alone = (degree_a[rows] == 1) & (degree_b[cols] == 1)
    found_a, found_b = [rows[alone]], [cols[alone]]
    rest_rows, rest_cols = rows[~alone], cols[~alone]
    groups = _components(rest_rows, rest_cols, len(a), len(b)) if rest_rows.size else []
    for ia, ib in groups:
        cost = np.linalg.norm(a[ia][:, None, :] - b[ib][None, :, :], axis=-1)
        # an unmatchable pair costs more than any set of feasible pairs in the group
        big = max_distance * (len(ia) + len(ib) + 1)
        cost = np.where(cost <= max_distance, cost - big, 0.0)
        r, c = linear_sum_assignment(cost)
        keep = cost[r, c] < 0
        found_a.append(ia[r[keep]])
        found_b.append(ib[c[keep]])
    index_a = np.concatenate(found_a)
    index_b = np.concatenate(found_b)
    order = np.argsort(index_a, kind="stable")
    index_a, index_b = index_a[order], index_b[order]
    return index_a, index_b, np.linalg.norm(a[index_a] - b[index_b], axis=-1)
