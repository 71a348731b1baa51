"""Evaluation of detected fiber centres: the seed paper's pixel-wise scores and object matching.

Two views of the same question, "are the detected centres the true ones?":

* :func:`pixel_metrics` — the seed paper's comparison (§4.3): every detected and every
  true centre becomes a disk 10 pixels across, and the two disk masks are compared pixel by
  pixel (Dice, sensitivity, specificity, accuracy, AUC, precision, F-score). For a binary
  prediction the ROC curve has one operating point, so AUC = (sensitivity + specificity) / 2
  — which is how the paper's AUC = 0.8626 follows from its sensitivity 0.7962 and
  specificity 0.929; and its Dice equals its F-score (0.7424), as it must.
* :func:`object_metrics` — optimal one-to-one matching of centres within a distance
  (Hungarian assignment, :func:`scipy.optimize.linear_sum_assignment`), slice by slice:
  precision, recall, F1 and the mean centre error in physical units.

:func:`read_clicks` reads manual clicks as ImageJ's "Results" table saves them, to use as
ground truth.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from xarray_microct.core.volume import grid_of

PIXEL_SCORES = (
    "dice",
    "sensitivity",
    "specificity",
    "accuracy",
    "auc",
    "precision",
    "f_score",
)


def _ratio(num: float, den: float, zero_division: float) -> float:
    return float(num) / float(den) if den else float(zero_division)


def confusion_scores(
    predicted: np.ndarray, truth: np.ndarray, zero_division: float = 0.0
) -> dict[str, float]:
    """Pixel-wise scores of a binary prediction against a binary truth (the seed's §4.3).

    Parameters
    ----------
    predicted, truth : array of bool
        Masks of the same shape.
    zero_division : float
        Value of a score whose denominator is zero (e.g. precision with no predicted
        pixel), as scikit-learn's ``zero_division``.

    Returns
    -------
    dict
        ``tp, fp, fn, tn`` (pixel counts) and ``dice = 2TP/(2TP+FP+FN)``,
        ``sensitivity = TP/(TP+FN)``, ``specificity = TN/(TN+FP)``,
        ``accuracy = (TP+TN)/N``, ``auc = (sensitivity+specificity)/2``,
        ``precision = TP/(TP+FP)``, ``f_score = 2PR/(P+R)``.

    Examples
    --------
    >>> p = np.array([1, 1, 0, 0, 0], bool)
    >>> t = np.array([1, 0, 1, 0, 0], bool)
    >>> s = confusion_scores(p, t)
    >>> s["tp"], s["fp"], s["fn"], s["tn"], s["dice"], s["auc"]
    (1, 1, 1, 2, 0.5, 0.5833333333333333)
    """
    predicted = np.asarray(predicted, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if predicted.shape != truth.shape:
        raise ValueError(
            f"predicted and truth masks differ in shape: {predicted.shape} vs {truth.shape}"
        )
    tp = int(np.count_nonzero(predicted & truth))
    fp = int(np.count_nonzero(predicted & ~truth))
    fn = int(np.count_nonzero(~predicted & truth))
    tn = int(predicted.size - tp - fp - fn)
    sensitivity = _ratio(tp, tp + fn, zero_division)
    specificity = _ratio(tn, tn + fp, zero_division)
    precision = _ratio(tp, tp + fp, zero_division)
    f_score = _ratio(2 * precision * sensitivity, precision + sensitivity, zero_division)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "dice": _ratio(2 * tp, 2 * tp + fp + fn, zero_division),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "accuracy": _ratio(tp + tn, predicted.size, zero_division),
        "auc": (sensitivity + specificity) / 2,
        "precision": precision,
        "f_score": f_score,
    }


def disk_mask(
    centres: np.ndarray | Sequence[Sequence[float]],
    shape: Sequence[int],
    diameter: float = 10.0,
) -> np.ndarray:
    """A 2-D mask with a disk of ``diameter`` pixels at each ``(row, col)`` centre.

    A pixel belongs to a disk when its centre is closer than ``diameter / 2`` to the disk
    centre (the convention of ``skimage.draw.disk``); disks are clipped to the image.

    Examples
    --------
    >>> disk_mask([(2, 2)], (5, 5), diameter=3).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    """
    shape2 = tuple(int(n) for n in shape)
    if len(shape2) != 2:
        raise ValueError(f"disk_mask draws on a 2-D image; got shape {shape!r}")
    if not diameter > 0:
        raise ValueError(f"diameter must be positive, got {diameter}")
    points = np.asarray(centres, dtype=float).reshape(-1, 2)
    if not np.isfinite(points).all():
        raise ValueError("centres contain NaN or infinite coordinates")
    mask = np.zeros(shape2, dtype=bool)
    r = diameter / 2
    reach = int(np.ceil(r))
    for cy, cx in points:
        y0, y1 = max(int(np.floor(cy)) - reach, 0), min(int(np.ceil(cy)) + reach + 1, shape2[0])
        x0, x1 = max(int(np.floor(cx)) - reach, 0), min(int(np.ceil(cx)) + reach + 1, shape2[1])
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1] |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    return mask


def _yx_grid(like: Any) -> tuple[tuple[int, int], tuple[float, float], tuple[float, float]]:
    """(shape, spacing, origin) of the y/x axes of a volume, a slice, or a plain shape."""
    if isinstance(like, xr.DataArray):
        if {"y", "x"} <= set(like.dims) and "z" not in like.dims:
            like = like.expand_dims("z").assign_coords(z=[0.0])
            like.coords["z"].attrs.update(units=like.y.attrs.get("units"), spacing=1.0)
        grid = grid_of(like)
        return grid.shape[1:], grid.spacing[1:], grid.origin[1:]  # type: ignore[return-value]
    shape = tuple(int(n) for n in like)
    if len(shape) == 3:
        shape = shape[1:]
    if len(shape) != 2:
        raise ValueError(f"like must be a volume, a slice or a (y, x) shape; got {like!r}")
    return shape, (1.0, 1.0), (0.0, 0.0)  # type: ignore[return-value]


def _points(table: Any, name: str) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        missing = {"y", "x"} - set(table.columns)
        if missing:
            raise ValueError(
                f"{name} needs columns 'y' and 'x' (and optionally 'z'); it has "
                f"{list(table.columns)}. Rename them, e.g. table.rename(columns={{'Y': 'y'}})"
            )
        return table
    array = np.asarray(table, dtype=float)
    if array.size == 0:
        return pd.DataFrame({"y": [], "x": []})
    if array.ndim != 2 or array.shape[1] not in (2, 3):
        raise ValueError(
            f"{name} must be a DataFrame with columns y, x (z) or an (n, 2|3) array of "
            f"(y, x) or (z, y, x) rows; got shape {array.shape}"
        )
    columns = ["y", "x"] if array.shape[1] == 2 else ["z", "y", "x"]
    return pd.DataFrame(array, columns=columns)


def _select_slice(table: pd.DataFrame, z: float | None) -> pd.DataFrame:
    if z is None or "z" not in table.columns:
        return table
    values = table["z"].to_numpy(dtype=float)
    return table[np.isclose(values, z, rtol=0, atol=1e-6 * max(1.0, abs(z)))]


def pixel_metrics(
    detected: Any,
    truth: Any,
    like: Any,
    z: float | None = None,
    diameter: float = 10.0,
    zero_division: float = 0.0,
) -> dict[str, float]:
    """The seed paper's pixel-wise comparison of detected and true centres on one slice.

    Each centre becomes a disk ``diameter`` pixels across (10 in the paper, narrower than
    a fiber so that disks of neighbours do not overlap); the disk masks of the detected
    and of the true centres are compared pixel by pixel with :func:`confusion_scores`.

    Parameters
    ----------
    detected, truth : DataFrame or array
        Centres as tables with columns ``y, x`` (and ``z``) in the physical coordinates of
        ``like``, or arrays of ``(y, x)`` rows. With ``z`` given, only rows of that slice
        are used.
    like : xarray.DataArray or (ny, nx)
        The volume or slice the centres refer to (its coordinates convert physical
        positions to pixels); a plain shape means the centres are in pixels.
    z : float, optional
        Physical ``z`` of the slice to compare, when the tables hold several slices.
    diameter : float
        Disk diameter in pixels.
    zero_division : float
        Value of a score whose denominator is zero.

    Returns
    -------
    dict
        Pixel counts and the seven scores of :func:`confusion_scores`.

    Examples
    --------
    >>> pixel_metrics([(10, 10)], [(10, 10)], like=(32, 32))["dice"]
    1.0
    >>> round(pixel_metrics([(10, 10)], [(10, 30)], like=(32, 64))["dice"], 3)
    0.0
    """
    shape, spacing, origin = _yx_grid(like)
    masks = []
    for table, name in ((detected, "detected"), (truth, "truth")):
        points = _select_slice(_points(table, name), z)
        rows = (points["y"].to_numpy(float) - origin[0]) / spacing[0]
        cols = (points["x"].to_numpy(float) - origin[1]) / spacing[1]
        masks.append(disk_mask(np.column_stack([rows, cols]), shape, diameter))
    return confusion_scores(masks[0], masks[1], zero_division)


def _candidate_pairs(a: np.ndarray, b: np.ndarray, max_distance: float):
    """All pairs (i, j) with ``|a_i - b_j| <= max_distance``, as two index arrays."""
    if len(a) == 0 or len(b) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy()
    pairs = cKDTree(a).sparse_distance_matrix(cKDTree(b), max_distance, output_type="ndarray")
    return pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)


def _components(rows: np.ndarray, cols: np.ndarray, n_a: int, n_b: int) -> list[tuple]:
    """Groups of candidate pairs (linked through shared points) to be matched separately."""
    graph = coo_matrix(
        (np.ones(rows.size), (rows, cols + n_a)), shape=(n_a + n_b, n_a + n_b)
    )
    _, label = connected_components(graph, directed=False)
    group_of_pair = label[rows]
    order = np.argsort(group_of_pair, kind="stable")
    bounds = np.flatnonzero(np.diff(group_of_pair[order])) + 1
    return [
        (np.unique(rows[part]), np.unique(cols[part])) for part in np.split(order, bounds)
    ]


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


def match_centres(
    detected: Any,
    truth: Any,
    max_distance: float,
    by: str | None = "z",
) -> pd.DataFrame:
    """Match detected to true centres one-to-one, slice by slice.

    Parameters
    ----------
    detected, truth : DataFrame or array
        Centres with columns ``y, x`` (and ``z``), in the same units.
    max_distance : float
        Largest centre distance of a match, in those units.
    by : str or None
        Column whose equal values are matched separately (``"z"``: slice by slice); used
        only when both tables have it.

    Returns
    -------
    pandas.DataFrame
        One row per match: ``detected`` and ``truth`` (row positions in the inputs) and
        ``distance`` (in the (y, x) plane).

    Examples
    --------
    >>> d = pd.DataFrame({"z": [0, 0, 1], "y": [1.0, 9.0, 1.0], "x": [1.0, 9.0, 1.0]})
    >>> t = pd.DataFrame({"z": [0, 1], "y": [1.5, 1.0], "x": [1.0, 1.0]})
    >>> match_centres(d, t, max_distance=2)
       detected  truth  distance
    0         0      0       0.5
    1         2      1       0.0
    """
    det = _points(detected, "detected").reset_index(drop=True)
    tru = _points(truth, "truth").reset_index(drop=True)
    use_by = by is not None and by in det.columns and by in tru.columns
    if use_by:
        # slice positions computed in different ways differ in the last bits: round them
        det_groups = det.groupby(det[by].astype(float).round(6), sort=True).indices
        tru_groups = tru.groupby(tru[by].astype(float).round(6), sort=True).indices
    else:
        det_groups = {0: np.arange(len(det))}
        tru_groups = {0: np.arange(len(tru))}
    det_yx = det[["y", "x"]].to_numpy(float)
    tru_yx = tru[["y", "x"]].to_numpy(float)
    parts = []
    for key, di in det_groups.items():
        ti = tru_groups.get(key)
        if ti is None or len(di) == 0:
            continue
        ia, ib, dist = optimal_pairs(det_yx[di], tru_yx[ti], max_distance)
        parts.append(pd.DataFrame({"detected": di[ia], "truth": ti[ib], "distance": dist}))
    if not parts:
        return pd.DataFrame(
            {"detected": np.zeros(0, np.int64), "truth": np.zeros(0, np.int64),
             "distance": np.zeros(0)}
        )
    return pd.concat(parts, ignore_index=True).sort_values("detected", ignore_index=True)


def _inside(table: pd.DataFrame, bounds: tuple[tuple[float, float], ...] | None) -> np.ndarray:
    if bounds is None or len(table) == 0:
        return np.ones(len(table), dtype=bool)
    keep = np.ones(len(table), dtype=bool)
    for column, (low, high) in zip(("y", "x"), bounds, strict=True):
        values = table[column].to_numpy(float)
        keep &= (values >= low) & (values <= high)
    return keep


def object_metrics(
    detected: Any,
    truth: Any,
    max_distance: float | None = None,
    like: Any = None,
    margin: float | None = None,
    by: str | None = "z",
    zero_division: float = 0.0,
) -> dict[str, Any]:
    """Object-level scores: optimal one-to-one matching of centres within a distance.

    Parameters
    ----------
    detected, truth : DataFrame or array
        Centres (columns ``y, x``, optionally ``z`` and ``radius``), same units.
    max_distance : float, optional
        Largest distance of a match; by default half the median true radius (a detection
        that far off lies in the inner half of the fiber), or 5 units when the truth has
        no ``radius``.
    like : xarray.DataArray, optional
        The volume; with ``margin``, its extent defines the border band to ignore.
    margin : float, optional
        Ignore a band this wide along the y/x borders of ``like``: a true centre there is
        neither required nor counted, and an unmatched detection there is not a false
        positive (fibers cut by the border have biased centres in any method).
    by : str or None
        Match slice by slice on this column (``"z"``).
    zero_division : float
        Value of a score whose denominator is zero (e.g. precision without detections).

    Returns
    -------
    dict
        ``tp, fp, fn, precision, recall, f1``, ``mean_error`` and ``rms_error`` (centre
        distance of the matches, NaN without matches), ``max_distance`` and ``units``.

    Examples
    --------
    >>> t = pd.DataFrame({"y": [0.0, 10, 20], "x": [0.0, 0, 0], "radius": 4.0})
    >>> d = pd.DataFrame({"y": [0.5, 10, 40], "x": [0.0, 1, 0]})
    >>> s = object_metrics(d, t)
    >>> s["tp"], s["fp"], s["fn"], round(s["f1"], 3), s["mean_error"]
    (2, 1, 1, 0.667, 0.75)
    """
    det = _points(detected, "detected").reset_index(drop=True)
    tru = _points(truth, "truth").reset_index(drop=True)
    if max_distance is None:
        if "radius" in tru.columns and len(tru) and np.isfinite(tru["radius"]).any():
            max_distance = 0.5 * float(np.nanmedian(tru["radius"].to_numpy(float)))
        else:
            max_distance = 5.0
    units = None
    bounds = None
    if like is not None:
        shape, spacing, origin = _yx_grid(like)
        if isinstance(like, xr.DataArray):
            units = like.coords["y"].attrs.get("units")
        if margin is not None:
            bounds = tuple(
                (o - 0.5 * s + margin, o + (n - 0.5) * s - margin)
                for n, s, o in zip(shape, spacing, origin, strict=True)
            )
    elif margin is not None:
        raise ValueError("margin needs like= (the volume whose border it refers to)")
    units = units or det.attrs.get("units") or tru.attrs.get("units")
    pairs = match_centres(det, tru, max_distance, by=by)
    true_in = _inside(tru, bounds)
    det_in = _inside(det, bounds)
    matched_truth = np.zeros(len(tru), dtype=bool)
    matched_truth[pairs["truth"].to_numpy()] = True
    matched_det = np.zeros(len(det), dtype=bool)
    matched_det[pairs["detected"].to_numpy()] = True
    counted = true_in[pairs["truth"].to_numpy()]
    tp = int(counted.sum())
    fn = int((true_in & ~matched_truth).sum())
    fp = int((det_in & ~matched_det).sum())
    distances = pairs["distance"].to_numpy()[counted]
    precision = _ratio(tp, tp + fp, zero_division)
    recall = _ratio(tp, tp + fn, zero_division)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn, zero_division),
        "mean_error": float(distances.mean()) if distances.size else float("nan"),
        "rms_error": float(np.sqrt((distances**2).mean())) if distances.size else float("nan"),
        "max_distance": float(max_distance),
        "units": units,
    }


def read_clicks(
    path: str | os.PathLike[str],
    like: xr.DataArray | None = None,
    one_based_slices: bool = True,
) -> pd.DataFrame:
    """Read manual clicks saved by ImageJ/Fiji ("Results" table as CSV) as ground truth.

    ImageJ's multi-point tool followed by *Analyze ▸ Measure* and *File ▸ Save As* writes
    a CSV with ``X`` and ``Y`` columns (pixel positions, or calibrated units when the image
    was calibrated), often a leading unnamed row-number column, and a ``Slice`` column
    (1-based) for stacks. Column names are matched without regard to case.

    Parameters
    ----------
    path : path-like
        The CSV file (comma, tab or semicolon separated).
    like : xarray.DataArray, optional
        The volume the clicks were made on. When given, positions are taken as pixel
        indices and converted to the volume's physical coordinates (and the slice to its
        ``z``). Without it, the columns are returned as read (ImageJ units).
    one_based_slices : bool
        ImageJ numbers slices from 1; set False if the column is 0-based.

    Returns
    -------
    pandas.DataFrame
        Columns ``y, x`` and, when a slice column exists, ``z`` (a physical ``z`` with
        ``like``, else the 0-based slice index); ``attrs["units"]`` with ``like``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "Results.csv"
    >>> _ = p.write_text(" ,X,Y,Slice\\n1,10,20,1\\n2,30.5,40,1\\n")
    >>> read_clicks(p)
          y     x  z
    0  20.0  10.0  0
    1  40.0  30.5  0
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no click table at {path!r}")
    table = pd.read_csv(path, sep=None, engine="python")
    table.columns = [str(c).strip() for c in table.columns]
    lower = {c.lower(): c for c in table.columns}
    missing = [c for c in ("x", "y") if c not in lower]
    if missing:
        raise ValueError(
            f"{path}: a click table needs columns X and Y (ImageJ's Results table); it has "
            f"{list(table.columns)}. Measure the points with Analyze > Measure and save the "
            "Results window, or rename the columns"
        )
    out = pd.DataFrame(
        {
            "y": pd.to_numeric(table[lower["y"]], errors="coerce").astype(float),
            "x": pd.to_numeric(table[lower["x"]], errors="coerce").astype(float),
        }
    )
    if out.isna().any().any():
        bad = out.index[out.isna().any(axis=1)].tolist()[:5]
        raise ValueError(f"{path}: non-numeric X or Y in rows {bad}")
    slice_column = next((lower[c] for c in ("slice", "z", "frame") if c in lower), None)
    if slice_column is not None:
        index = pd.to_numeric(table[slice_column], errors="coerce")
        if index.isna().any():
            raise ValueError(f"{path}: non-numeric values in column {slice_column!r}")
        out["z"] = index.astype(np.int64) - (1 if one_based_slices else 0)
        if (out["z"] < 0).any():
            raise ValueError(
                f"{path}: slice numbers below {1 if one_based_slices else 0} in "
                f"{slice_column!r}; pass one_based_slices=False for 0-based slices"
            )
    if like is not None:
        grid = grid_of(like)
        for axis, column in ((1, "y"), (2, "x")):
            out[column] = grid.origin[axis] + out[column] * grid.spacing[axis]
        if "z" in out.columns:
            if (out["z"] >= grid.shape[0]).any():
                raise ValueError(
                    f"{path}: slice numbers beyond the volume's {grid.shape[0]} slices"
                )
            out["z"] = grid.origin[0] + out["z"] * grid.spacing[0]
        out.attrs["units"] = grid.units
    return out
