"""Evaluation of detected fiber centres: the seed paper's pixel-wise scores and object matching.

Two views of the same question, "are the detected centres the true ones?":

* :func:`pixel_metrics` — the seed paper's comparison (§4.3): every detected and every
  true centre becomes a disk 10 pixels across, and the two disk masks are compared pixel by
  pixel (Dice, sensitivity, specificity, accuracy, AUC, precision, F-score). For a binary
  prediction the ROC curve has one operating point, so AUC = (sensitivity + specificity) / 2
  — which is how the paper's AUC = 0.8626 follows from its sensitivity 0.7962 and
  specificity 0.929; and its Dice equals its F-score (0.7424), as it must.
* :func:`object_metrics` — optimal one-to-one matching of centres within a distance
  (Hungarian assignment, :func:`xarray_microct.core.matching.optimal_pairs`), slice by
  slice (``by="z"``) or in all three axes (``by=None``): precision, recall, F1 and the
  mean centre error in physical units.

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

from xarray_microct.core.labels import is_label_volume
from xarray_microct.core.matching import optimal_pairs
from xarray_microct.core.validation import check_binary_values
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


# Decimals kept of a squared pixel distance when deciding disk membership: far below any
# real distance difference, far above float round-off.
DISK_DECIMALS = 6


def _ratio(num: float, den: float, zero_division: float) -> float:
    return float(num) / float(den) if den else float(zero_division)


def confusion_scores(
    predicted: np.ndarray, truth: np.ndarray, zero_division: float = 0.0
) -> dict[str, float]:
    """Pixel-wise scores of a binary prediction against a binary truth (the seed's §4.3).

    Parameters
    ----------
    predicted, truth : array of bool
        Masks of the same shape (booleans, or the integers 0 and 1: any other integer
        value, a scan's, is refused).
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
    masks = []
    for mask, name in ((predicted, "predicted"), (truth, "truth")):
        values = np.asarray(mask)  # computed once
        if not (isinstance(mask, xr.DataArray) and is_label_volume(mask)):
            check_binary_values(values, f"confusion_scores: {name}")
        masks.append(values.astype(bool, copy=False))
    predicted, truth = masks
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
    Squared distances (in pixels²) are compared after rounding to
    :data:`DISK_DECIMALS` decimals, so round-off in a centre converted from physical
    coordinates (``31 * 0.65 / 0.65 = 31.000000000000004``) does not change the disk.

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
    radius_squared = round(r * r, DISK_DECIMALS)
    reach = int(np.ceil(r))
    for cy, cx in points:
        y0, y1 = max(int(np.floor(cy)) - reach, 0), min(int(np.ceil(cy)) + reach + 1, shape2[0])
        x0, x1 = max(int(np.floor(cx)) - reach, 0), min(int(np.ceil(cx)) + reach + 1, shape2[1])
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        squared = np.round((yy - cy) ** 2 + (xx - cx) ** 2, DISK_DECIMALS)
        mask[y0:y1, x0:x1] |= squared < radius_squared
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


def _select_slice(table: pd.DataFrame, z: float | None, name: str) -> pd.DataFrame:
    if "z" not in table.columns:
        return table
    if z is None:
        slices = np.unique(table["z"].to_numpy(dtype=float).round(6))
        if len(slices) > 1:
            raise ValueError(
                f"{name} holds centres of {len(slices)} slices (z from {slices[0]} to "
                f"{slices[-1]}); the pixel comparison is on one slice: pass z=<its z>"
            )
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
        Physical ``z`` of the slice to compare; needed when a table holds several
        slices (their disks would otherwise be drawn on one image).
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
        points = _select_slice(_points(table, name), z, name)
        rows = (points["y"].to_numpy(float) - origin[0]) / spacing[0]
        cols = (points["x"].to_numpy(float) - origin[1]) / spacing[1]
        masks.append(disk_mask(np.column_stack([rows, cols]), shape, diameter))
    return confusion_scores(masks[0], masks[1], zero_division)


SPATIAL_AXES = ("z", "y", "x")


def _matching_axes(det: pd.DataFrame, tru: pd.DataFrame, by: str | None) -> tuple[list[str], bool]:
    """The coordinate columns to measure distances in, and whether to group by ``by``.

    Every spatial axis the tables give is used: an axis present in one non-empty table
    and missing from the other is refused, never silently dropped.
    """
    both_given = len(det) > 0 and len(tru) > 0
    for column in dict.fromkeys([*SPATIAL_AXES, *([by] if by else [])]):
        has = (column in det.columns, column in tru.columns)
        if both_given and has[0] != has[1]:
            which, other = ("detected", "truth") if has[0] else ("truth", "detected")
            raise ValueError(
                f"{which} has a column {column!r} but {other} has not: matching would "
                f"drop that axis. Give {other} a {column!r} column, or drop it from {which}"
            )
    use_by = by is not None and by in det.columns and by in tru.columns
    axes = [
        a for a in SPATIAL_AXES
        if a in det.columns and a in tru.columns and not (use_by and a == by)
    ]
    return axes, use_by


def match_centres(
    detected: Any,
    truth: Any,
    max_distance: float,
    by: str | None = "z",
) -> pd.DataFrame:
    """Match detected to true centres one-to-one, in every axis given or slice by slice.

    Parameters
    ----------
    detected, truth : DataFrame or array
        Centres with columns ``y, x`` (and ``z``), in the same units. A spatial column
        (or ``by``) present in one table and not in the other is refused.
    max_distance : float
        Largest centre distance of a match, in those units.
    by : str or None
        ``"z"`` (default), per-slice mode: rows with equal values of this column are
        matched separately, by their distance in the other axes (``y, x``) — for centres
        of fibers cut by each slice. ``None``: match in every axis the tables have
        (``z, y, x`` distance when they have ``z``) — for 3-D objects such as beads.

    Returns
    -------
    pandas.DataFrame
        One row per match: ``detected`` and ``truth`` (row positions in the inputs) and
        ``distance`` (in the axes matched on).

    Examples
    --------
    >>> d = pd.DataFrame({"z": [0, 0, 1], "y": [1.0, 9.0, 1.0], "x": [1.0, 9.0, 1.0]})
    >>> t = pd.DataFrame({"z": [0, 1], "y": [1.5, 1.0], "x": [1.0, 1.0]})
    >>> match_centres(d, t, max_distance=2)
       detected  truth  distance
    0         0      0       0.5
    1         2      1       0.0
    >>> len(match_centres(d.assign(z=d.z + 50), t, max_distance=2, by=None))  # 3-D
    0
    """
    if not max_distance > 0:
        raise ValueError(f"max_distance must be positive, got {max_distance}")
    det = _points(detected, "detected").reset_index(drop=True)
    tru = _points(truth, "truth").reset_index(drop=True)
    axes, use_by = _matching_axes(det, tru, by)
    if use_by:
        # slice positions computed in different ways differ in the last bits: round them
        det_groups = det.groupby(det[by].astype(float).round(6), sort=True).indices
        tru_groups = tru.groupby(tru[by].astype(float).round(6), sort=True).indices
    else:
        det_groups = {0: np.arange(len(det))}
        tru_groups = {0: np.arange(len(tru))}
    det_points = det[axes].to_numpy(float)
    tru_points = tru[axes].to_numpy(float)
    parts = []
    for key, di in det_groups.items():
        ti = tru_groups.get(key)
        if ti is None or len(di) == 0:
            continue
        ia, ib, dist = optimal_pairs(det_points[di], tru_points[ti], max_distance)
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
        ``"z"`` (default): per-slice mode, centres are matched within each slice, by
        their ``y, x`` distance (fiber centres cut by each slice). ``None``: match in
        every axis the tables have, ``z, y, x`` for 3-D centres (beads, pores). See
        :func:`match_centres`; an axis present in one table only is refused.
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
    if margin is not None and not margin >= 0:
        raise ValueError(f"margin must be a non-negative length, got {margin!r}")
    if bounds is not None and any(low >= high for low, high in bounds):
        raise ValueError(
            f"margin={margin} leaves nothing of the y/x extent of like= to score; "
            "give a margin below half the image's width"
        )
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
