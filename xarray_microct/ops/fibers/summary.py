"""Stage 3 of fiber detection: per-fiber measurements and the bed summary."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from xarray_microct.ops.fiber_scale import axis_slopes

TABLE_COLUMNS = ["fiber_id", "z", "y", "x", "radius"]


class FiberSummary(NamedTuple):
    """What :func:`fiber_summary` returns: per-fiber table and bed-level summary."""

    fibers: pd.DataFrame
    bed: dict[str, Any]


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < 3:
        return values
    return pd.Series(values).rolling(window, center=True, min_periods=1).mean().to_numpy()


def fiber_summary(
    table: pd.DataFrame, polar_bin: float = 1.0, smooth: float | None = None
) -> FiberSummary:
    """Per-fiber measurements and the bed summary from a :func:`detect_fibers` table.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows ``fiber_id, z, y, x, radius`` (one per fiber per slice), as
        ``detect_fibers`` returns (or a ground-truth table with the same columns).
    polar_bin : float
        Bin width in degrees of the polar-angle histogram.
    smooth : float, optional
        Length along z (table units) of the running mean applied to the centres before
        the path length is measured, so that sub-voxel jitter of the centres does not
        pass for waviness; default the fiber diameter (2 × the mean radius), below which
        a fiber cannot bend much. 0 for none.

    Returns
    -------
    FiberSummary
        ``fibers``: one row per fiber — ``fiber_id``, ``touches_side`` (from the
        table's column; False without it), ``n_slices``, ``n_detected`` (the slices on
        which a section was detected, from the table's ``detected``; ``n_slices``
        without it: the slices between are gaps the fiber's axis bridged, e.g. a
        break), ``z_start``, ``z_end``,
        ``y``, ``x`` (mean centre), ``radius`` (mean) and ``radius_sd``, ``polar`` (degrees
        from the z axis) and ``azimuth`` (degrees from +x towards +y) of the least-squares
        axis, ``length`` (of that axis between the first and last slice) and
        ``straightness`` (distance between the end centres over the length of the path
        through the centres, smoothed along z by ``smooth``; 1 for a straight fiber, NaN
        with one slice).
        ``bed``: ``count``, ``count_inside`` (fibers not cut by the volume's sides: the
        count that does not depend on the field of view), ``fiber_volume_fraction`` (sum
        of the cross-section areas × slice spacing over the volume; needs
        ``attrs['shape']`` and ``attrs['spacing']``, NaN otherwise), ``mean_radius`` (of
        the fibers not cut by the sides, whose sections are whole, when the table has
        ``touches_side``), ``polar_mean`` and ``polar_sd`` (weighted by
        fiber length), ``polar_histogram`` (a DataFrame of bin edges, fiber counts and
        total fiber length per bin), ``units``.

    Examples
    --------
    >>> t = pd.DataFrame({"fiber_id": [1, 1, 1], "z": [0.0, 1.0, 2.0],
    ...                   "y": [5.0, 5.0, 5.0], "x": [5.0, 6.0, 7.0], "radius": 2.0})
    >>> s = fiber_summary(t)
    >>> round(float(s.fibers.polar[0]), 1), round(float(s.fibers.azimuth[0]), 1), s.bed["count"]
    (45.0, 0.0, 1)
    """
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"fiber_summary needs columns {TABLE_COLUMNS}; missing {missing}. "
            "Pass the table of vol.microct.detect_fibers()"
        )
    units = table.attrs.get("units")
    if smooth is None:
        smooth = 2 * float(table["radius"].mean()) if len(table) else 0.0
    spacing = table.attrs.get("spacing")
    if spacing is not None:
        dz = float(spacing[0])
    else:
        steps_z = np.diff(np.unique(table["z"].to_numpy(float)))
        dz = float(steps_z.min()) if steps_z.size else 1.0
    window = round(smooth / dz) | 1 if smooth > 0 else 1
    cut_known = "touches_side" in table.columns
    detected_known = "detected" in table.columns
    rows = []
    ordered = table.sort_values(["fiber_id", "z"])
    # each fiber's axis, in the order of its sorted ids (that of the groups below)
    slopes_y, slopes_x, _ = axis_slopes(
        *(ordered[c].to_numpy() for c in ("fiber_id", "z", "y", "x"))
    )
    for (fid, group), by, bx in zip(
        ordered.groupby("fiber_id", sort=True), slopes_y, slopes_x, strict=True
    ):
        z = group["z"].to_numpy(float)
        y = group["y"].to_numpy(float)
        x = group["x"].to_numpy(float)
        span = float(np.ptp(z))
        norm = np.sqrt(1 + by * by + bx * bx)
        # smooth all three coordinates: means of collinear points stay collinear
        zs, ys, xs = (_running_mean(v, window) for v in (z, y, x))
        steps = np.sqrt(np.diff(zs) ** 2 + np.diff(ys) ** 2 + np.diff(xs) ** 2)
        path = steps.sum()
        chord = np.sqrt((zs[-1] - zs[0]) ** 2 + (ys[-1] - ys[0]) ** 2 + (xs[-1] - xs[0]) ** 2)
        radius = group["radius"].to_numpy(float)
        rows.append(
            {
                "fiber_id": fid,
                "touches_side": bool(group["touches_side"].any()) if cut_known else False,
                "n_slices": len(group),
                "n_detected": int(group["detected"].sum()) if detected_known else len(group),
                "z_start": z[0],
                "z_end": z[-1],
                "y": y.mean(),
                "x": x.mean(),
                "radius": radius.mean(),
                "radius_sd": radius.std(),
                "polar": np.degrees(np.arccos(1 / norm)),
                "azimuth": np.degrees(np.arctan2(by, bx)) if (by or bx) else 0.0,
                "length": span * norm,
                "straightness": chord / path if path > 0 else np.nan,
            }
        )
    columns = [
        "fiber_id",
        "touches_side",
        "n_slices",
        "n_detected",
        "z_start",
        "z_end",
        "y",
        "x",
        "radius",
        "radius_sd",
        "polar",
        "azimuth",
        "length",
        "straightness",
    ]
    fibers = pd.DataFrame(rows, columns=columns)
    fibers.attrs = dict(table.attrs)  # units, grid and the chain that made the table
    shape, spacing = table.attrs.get("shape"), table.attrs.get("spacing")
    if shape is not None and spacing is not None and len(table):
        extent = float(np.prod(np.asarray(shape, float) * np.asarray(spacing, float)))
        area = np.pi * table["radius"].to_numpy(float) ** 2
        fraction = float(area.sum() * spacing[0] / extent)
    else:
        fraction = 0.0 if shape is not None and len(table) == 0 else float("nan")
    polar = fibers["polar"].to_numpy(float)
    # orientation statistics weighted by length: short (often border) pieces, whose
    # fitted axes are the least certain, count for what they are
    weight = fibers["length"].to_numpy(float)
    weight = weight if weight.sum() > 0 else np.ones_like(polar)
    top = max(float(polar.max()) if polar.size else 0.0, polar_bin)
    edges = np.arange(0.0, top + polar_bin, polar_bin)
    counts, edges = np.histogram(polar, bins=edges)
    lengths, _ = np.histogram(polar, bins=edges, weights=fibers["length"].to_numpy(float))
    polar_mean = float(np.average(polar, weights=weight)) if polar.size else float("nan")
    polar_sd = (
        float(np.sqrt(np.average((polar - polar_mean) ** 2, weights=weight)))
        if polar.size
        else float("nan")
    )
    # a fiber cut by the volume's side shows part of its section: its radius is low
    whole = fibers[~fibers["touches_side"]]
    whole = whole if len(whole) else fibers  # every fiber cut: the cut sections it is
    bed = {
        "count": len(fibers),
        "count_inside": int((~fibers["touches_side"]).sum()),
        "fiber_volume_fraction": fraction,
        "mean_radius": float(whole["radius"].mean()) if len(whole) else float("nan"),
        "polar_mean": polar_mean,
        "polar_sd": polar_sd,
        "polar_histogram": pd.DataFrame(
            {"polar_low": edges[:-1], "polar_high": edges[1:], "count": counts, "length": lengths}
        ),
        "units": units,
    }
    return FiberSummary(fibers=fibers, bed=bed)
