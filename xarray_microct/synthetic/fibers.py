"""A synthetic CMC fiber bed with known truth (the seed paper's fiber data, §2, Fig. 4–5).

The seed's scans show Hi-Nicalon SiC fibers (radius 6.4 ± 0.9 µm) packed in tows, nearly
parallel to the scan axis, in a partly infiltrated matrix with pores, imaged at 0.65 µm.
:func:`fiber_bed` draws such a bed: fibers placed on a jittered hexagonal lattice and
pushed apart until none overlap across the fibers (in the plane perpendicular to the bed's
axis: touching fibers touch in 3-D at any tilt, and a slice cuts them in ellipses that
touch), so many touch, each slightly tilted, rendered with
partial-volume edges, then a matrix that fills only part of the space between them,
pores, blur, noise and ring artefacts.

Its default voxel size (1.3 µm) is the paper's 0.65 µm scan seen at pyramid level 1,
which keeps demo volumes small while the fibers stay 10 voxels across.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.ndimage as ndi
import xarray as xr
from scipy.spatial import cKDTree

from xarray_microct.core.units import ngff_unit_name
from xarray_microct.core.volume import from_array

# Intensities of the phases before blur and noise (fiber = 1).
FIBER, MATRIX, PORE = 1.0, 0.45, 0.1


@dataclass(frozen=True)
class FiberBedTruth:
    """The true fibers of a :func:`fiber_bed`, in physical units.

    Attributes
    ----------
    fibers : pandas.DataFrame
        One row per fiber: ``fiber_id``, ``radius``, the axis point ``z0, y0, x0`` (the
        axis crosses the middle slice there), the unit direction ``dz, dy, dx``
        (``dz > 0``), ``polar`` (degrees from the z axis), ``azimuth`` (degrees,
        from +x towards +y) and ``touches_side`` (on some slice the fiber's
        cross-section reaches the centre of a pixel on the volume's side: the volume
        cuts it, as ``detect_fibers`` flags it).
    centres : pandas.DataFrame
        One row per fiber per slice where the axis lies inside the slice: ``fiber_id,
        z, y, x, radius`` — the same columns as ``detect_fibers``.
    units : str
        The length unit of every coordinate and radius.
    """

    fibers: pd.DataFrame
    centres: pd.DataFrame
    units: str


def _place_centres(
    lo: tuple[float, float],
    hi: tuple[float, float],
    radius: float,
    radius_sd: float,
    packing: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Disk centres (y, x) over the box ``lo``–``hi`` and radii at area fraction
    ~``packing``, no overlaps.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres, radii = _place_centres((0.0, 0.0), (100.0, 100.0), 5.0, 0.5, 0.5, rng)
    >>> gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) - radii[:, None] - radii
    >>> bool(gaps[np.triu_indices(len(radii), 1)].min() > 0)
    True
    """
    mean_area = np.pi * (radius**2 + radius_sd**2)
    # hexagonal lattice whose cell area makes the requested area fraction
    cell_area = mean_area / packing
    step = np.sqrt(2 * cell_area / np.sqrt(3))
    rows = np.arange(lo[0], hi[0], step * np.sqrt(3) / 2)
    points = []
    for i, y in enumerate(rows):
        xs = np.arange(lo[1] + (step / 2) * (i % 2), hi[1], step)
        points.append(np.column_stack([np.full(xs.size, y), xs]))
    centres = np.concatenate(points)
    n = len(centres)
    low = max(radius - 3 * radius_sd, 0.35 * radius)
    high = radius + 3 * radius_sd
    radii = np.clip(rng.normal(radius, radius_sd, n), low, high)
    gap = step - 2 * radius
    centres = centres + rng.uniform(-1, 1, centres.shape) * max(gap, 0.2 * radius)
    # push overlapping pairs apart until none overlap: fibers end up touching
    for _ in range(200):
        tree = cKDTree(centres)
        pairs = tree.query_pairs(2 * high, output_type="ndarray")
        if pairs.size == 0:
            break
        d = centres[pairs[:, 1]] - centres[pairs[:, 0]]
        dist = np.hypot(d[:, 0], d[:, 1])
        need = radii[pairs[:, 0]] + radii[pairs[:, 1]] + 1e-3 * radius
        over = dist < need
        if not over.any():
            break
        pairs, d, dist, need = pairs[over], d[over], dist[over], need[over]
        unit = d / np.maximum(dist, 1e-9)[:, None]
        push = 0.5 * (need - dist)[:, None] * unit
        move = np.zeros_like(centres)
        np.add.at(move, pairs[:, 0], -push)
        np.add.at(move, pairs[:, 1], push)
        centres = centres + move
    return centres, radii


def _place_across(
    extent: tuple[float, float],
    radius: float,
    radius_sd: float,
    packing: float,
    rng: np.random.Generator,
    azimuth: float,
    tilt: float,
    reach: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Centres (y, x) in the middle slice and radii of fibers that do not overlap across
    the fibers, for a bed tilted by ``tilt`` degrees towards ``azimuth`` (radians).

    A slice cuts a fiber tilted by θ in an ellipse, ``r / cos θ`` along the azimuth and
    ``r`` across; two parallel fibers whose centres lie ``d`` apart in the slice lie
    ``d`` apart across the fibers with the component of ``d`` along the azimuth shrunk
    by ``cos θ``. The disks are placed in those coordinates (the slice squeezed by
    ``cos θ`` along the azimuth about the extent's centre), so that touching disks are
    touching fibers, and stretched back by ``1 / cos θ``. The region placed covers the
    extent with a margin of two radii, widened by ``reach`` both ways along the azimuth
    (the axes' shift over half the height: fibers that enter the volume from the sides
    in the end slices). At ``tilt`` 0 it is the extent and its margin, unchanged.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> yx, radii = _place_across((100.0, 100.0), 5.0, 0.5, 0.5, rng, 0.3, 30.0, 10.0)
    >>> cos, along = np.cos(np.radians(30.0)), np.array([np.sin(0.3), np.cos(0.3)])
    >>> d = yx[:, None] - yx[None]
    >>> across = np.sqrt((d**2).sum(-1) - (1 - cos**2) * (d @ along) ** 2)
    >>> gaps = across - radii[:, None] - radii
    >>> bool(gaps[np.triu_indices(len(radii), 1)].min() > 0)
    True
    """
    ey, ex = extent
    margin = 2 * radius
    if tilt == 0:
        box = ((-margin, -margin), (ey + margin, ex + margin))
        return _place_centres(*box, radius, radius_sd, packing, rng)
    cos = np.cos(np.radians(tilt))
    along = np.array([np.sin(azimuth), np.cos(azimuth)])  # the azimuth in (y, x)
    squeeze = np.eye(2) - (1 - cos) * np.outer(along, along)
    centre = np.array([ey, ex]) / 2
    corners = np.array([[y, x] for y in (-margin, ey + margin) for x in (-margin, ex + margin)])
    region = np.concatenate([corners + reach * along, corners - reach * along])
    squeezed = (region - centre) @ squeeze.T + centre
    placed, radii = _place_centres(
        tuple(squeezed.min(axis=0)), tuple(squeezed.max(axis=0)), radius, radius_sd, packing, rng
    )
    stretch = np.eye(2) + (1 / cos - 1) * np.outer(along, along)  # the squeeze's inverse
    return (placed - centre) @ stretch.T + centre, radii


def _render_fibers(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    axes: pd.DataFrame,
) -> np.ndarray:
    """Fiber occupancy in [0, 1] with a one-voxel partial-volume edge."""
    nz, ny, nx = shape
    dz, dy, dx = spacing
    occupancy = np.zeros(shape, dtype=np.float32)
    z = np.arange(nz) * dz
    edge = min(dy, dx)
    for row in axes.itertuples():
        direction = np.array([row.dz, row.dy, row.dx])
        # centre of the axis in each slice
        t = (z - row.z0) / row.dz
        cy = row.y0 + t * row.dy
        cx = row.x0 + t * row.dx
        reach = row.radius / row.dz + edge  # the slanted section is an ellipse
        y_lo = max(int(np.floor((cy.min() - reach) / dy)), 0)
        y_hi = min(int(np.ceil((cy.max() + reach) / dy)) + 1, ny)
        x_lo = max(int(np.floor((cx.min() - reach) / dx)), 0)
        x_hi = min(int(np.ceil((cx.max() + reach) / dx)) + 1, nx)
        if y_lo >= y_hi or x_lo >= x_hi:
            continue
        gz, gy, gx = np.meshgrid(
            z, np.arange(y_lo, y_hi) * dy, np.arange(x_lo, x_hi) * dx, indexing="ij"
        )
        rel = np.stack([gz - row.z0, gy - row.y0, gx - row.x0], axis=-1)
        along = rel @ direction
        perp = rel - along[..., None] * direction
        distance = np.sqrt((perp**2).sum(-1))
        inside = np.clip((row.radius - distance) / edge + 0.5, 0, 1).astype(np.float32)
        box = occupancy[:, y_lo:y_hi, x_lo:x_hi]
        np.maximum(box, inside, out=box)
    return occupancy


def _directions(
    n: int,
    tilt: float,
    azimuth: float,
    misalignment: float,
    radius: float,
    height: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Unit fiber directions (dz, dy, dx): the bed's axis (``tilt`` degrees from z towards
    ``azimuth``, radians from +x towards +y) plus a small per-fiber deviation.

    The deviation is capped so that two neighbours drift apart (or together) by at most a
    tenth of a radius over half the height: fibers that touch (across the fibers, at the
    middle slice) then barely interpenetrate at the ends, as fibers in a tow, which run
    side by side.
    """
    polar = np.radians(tilt)
    axis = np.array(
        [np.cos(polar), np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth)]
    )
    helper = np.array([0.0, 1.0, 0.0]) if abs(axis[1]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    cap = 0.1 * radius / max(height / 2, 1e-9) / 2
    slope = rng.normal(0.0, np.tan(np.radians(misalignment)), (n, 2))
    norm = np.hypot(slope[:, 0], slope[:, 1])
    slope *= np.minimum(1.0, cap / np.maximum(norm, 1e-12))[:, None]
    direction = axis + slope[:, :1] * e1 + slope[:, 1:] * e2
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * np.sign(direction[:, :1])


def _smooth_field(shape: tuple[int, ...], sigma: Sequence[float], rng: np.random.Generator):
    field = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return (field - field.mean()) / max(float(field.std()), 1e-12)


def fiber_bed(
    shape: Sequence[int] = (64, 128, 128),
    spacing: float | Sequence[float] = 1.3,
    radius: float = 6.4,
    radius_sd: float = 0.9,
    packing: float = 0.55,
    tilt: float = 2.0,
    misalignment: float = 1.0,
    noise: float = 0.08,
    rings: float = 0.03,
    seed: int = 0,
    infiltration: float = 0.6,
    blur: float = 0.7,
    units: str = "micrometer",
    chunks: int | Sequence[int] | None = None,
) -> tuple[xr.DataArray, FiberBedTruth]:
    """A CMC-like fiber bed (uint16 volume) and its true fibers.

    Parameters
    ----------
    shape : (int, int, int)
        Voxels along ``z, y, x``; fibers run roughly along z.
    spacing : float or (float, float, float)
        Voxel size in ``units`` (one value or one per axis). The default 1.3 µm is the
        seed's 0.65 µm scan at pyramid level 1.
    radius, radius_sd : float
        Mean and standard deviation of the fiber radius in ``units`` (the seed's SiC
        fibers: 6.4 ± 0.9 µm); radii are clipped to ±3 standard deviations.
    packing : float
        Target area fraction of fibers in a cross-section (0.3–0.75), across the fibers
        and in a slice alike; fibers are jittered and pushed apart until none overlap
        across the fibers, so many touch (in 3-D: tilted fibers that touch do not
        interpenetrate).
    tilt : float
        Polar angle in degrees of the bed's axis from z (its azimuth is random). Earlier
        versions placed the fibers without overlap in the middle slice's plane, where
        touching fibers interpenetrated by up to ``2 radius (1 - cos tilt)``: beds at a
        tilt above 0 are redrawn (at 0 a seed gives the bed it gave).
    misalignment : float
        Standard deviation in degrees of each fiber's deviation from the bed's axis,
        capped so that neighbours drift by at most 0.1 radius relative to each other over
        half the height (fibers in a tow run side by side, they do not cross): a few
        degrees in a short volume, a fraction of a degree in a tall one.
    noise : float
        Standard deviation of the Gaussian noise, relative to the fiber intensity.
    rings : float
        Amplitude of ring artefacts (concentric rings about the volume's z axis),
        relative to the fiber intensity; 0 for none.
    seed : int
        Seed of the random generator; the same seed gives the same bed.
    infiltration : float
        Fraction of the space between fibers filled with matrix (the rest is pores).
    blur : float
        Standard deviation of the point-spread blur, in voxels.
    units : str
        Length unit of ``spacing``, ``radius`` and the coordinates.
    chunks : int or tuple, optional
        Dask chunks of the returned volume.

    Returns
    -------
    volume : xarray.DataArray
        uint16, fibers bright (~40000), matrix mid-grey, pores dark.
    truth : FiberBedTruth
        The fiber axes and the per-slice centres and radii, in ``units``.

    Examples
    --------
    >>> vol, truth = fiber_bed((16, 48, 48), seed=1)
    >>> vol.dtype, vol.shape
    (dtype('uint16'), (16, 48, 48))
    >>> list(truth.centres.columns)
    ['fiber_id', 'z', 'y', 'x', 'radius']
    >>> bool(truth.fibers.polar.max() < 10)
    True
    """
    shape3 = tuple(int(n) for n in shape)
    if len(shape3) != 3 or min(shape3) < 1:
        raise ValueError(f"shape needs 3 positive sizes (z, y, x), got {shape!r}")
    spacing3 = (
        (float(spacing),) * 3 if np.isscalar(spacing) else tuple(float(s) for s in spacing)  # type: ignore[union-attr]
    )
    if len(spacing3) != 3 or min(spacing3) <= 0:
        raise ValueError(f"spacing needs 1 or 3 positive values, got {spacing!r}")
    if not radius > 0 or radius_sd < 0:
        raise ValueError(f"need radius > 0 and radius_sd >= 0, got {radius}, {radius_sd}")
    if min(spacing3[1:]) * 1.5 > radius:
        raise ValueError(
            f"radius {radius} is under 1.5 voxels ({spacing3[1:]} {units}); use a smaller "
            "spacing or a larger radius"
        )
    if not 0.05 <= packing <= 0.8:
        raise ValueError(f"packing is an area fraction in [0.05, 0.8], got {packing}")
    if not 0 <= tilt < 45:
        raise ValueError(f"tilt is a scale in degrees in [0, 45), got {tilt}")
    if noise < 0 or rings < 0 or blur < 0 or not 0 <= infiltration <= 1:
        raise ValueError("noise, rings and blur must be >= 0 and infiltration in [0, 1]")
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape3
    dz, dy, dx = spacing3
    # the bed's azimuth, from a stream of its own: the placement needs it, and the main
    # stream keeps its order (a seed's bed at tilt 0 is the one it always was)
    azimuth = float(rng.spawn(1)[0].uniform(-np.pi, np.pi))
    reach = np.tan(np.radians(tilt)) * (nz - 1) / 2 * dz
    centres, radii = _place_across(
        (ny * dy, nx * dx), radius, radius_sd, packing, rng, azimuth, tilt, reach
    )
    n = len(centres)
    rng.uniform(-np.pi, np.pi)  # where the azimuth was drawn before: the stream's order kept
    direction = _directions(n, tilt, azimuth, misalignment, radius, nz * dz, rng)
    polar = np.arccos(direction[:, 0])
    azimuth = np.arctan2(direction[:, 1], direction[:, 2])
    z_mid = (nz - 1) / 2 * dz
    axes = pd.DataFrame(
        {
            "radius": radii,
            "z0": z_mid,
            "y0": centres[:, 0],
            "x0": centres[:, 1],
            "dz": direction[:, 0],
            "dy": direction[:, 1],
            "dx": direction[:, 2],
            "polar": np.degrees(polar),
            "azimuth": np.degrees(azimuth),
        }
    )
    # per-slice centres; keep fibers whose axis enters the volume in some slice
    z = np.arange(nz) * dz
    t = (z[None, :] - axes.z0.to_numpy()[:, None]) / axes.dz.to_numpy()[:, None]
    cy = axes.y0.to_numpy()[:, None] + t * axes.dy.to_numpy()[:, None]
    cx = axes.x0.to_numpy()[:, None] + t * axes.dx.to_numpy()[:, None]
    inside = (
        (cy >= -0.5 * dy) & (cy <= (ny - 0.5) * dy) & (cx >= -0.5 * dx) & (cx <= (nx - 0.5) * dx)
    )
    visible = (
        (cy + radii[:, None] >= -0.5 * dy)
        & (cy - radii[:, None] <= (ny - 0.5) * dy)
        & (cx + radii[:, None] >= -0.5 * dx)
        & (cx - radii[:, None] <= (nx - 0.5) * dx)
    ).any(axis=1)
    axes = axes[visible].reset_index(drop=True)
    inside, cy, cx = inside[visible], cy[visible], cx[visible]
    reach = axes.radius.to_numpy()[:, None]
    axes["touches_side"] = (
        (cy - reach < 0)
        | (cy + reach > (ny - 1) * dy)
        | (cx - reach < 0)
        | (cx + reach > (nx - 1) * dx)
    ).any(axis=1)
    axes.insert(0, "fiber_id", np.arange(1, len(axes) + 1))
    occupancy = _render_fibers(shape3, spacing3, axes)

    # matrix: a smooth random field decides where the matrix infiltrated
    grain = 3 * radius
    field = _smooth_field(shape3, (grain / dz, grain / dy, grain / dx), rng)
    cut = np.quantile(field, 1 - infiltration) if 0 < infiltration < 1 else None
    if infiltration >= 1:
        matrix = np.ones(shape3, np.float32)
    elif infiltration <= 0:
        matrix = np.zeros(shape3, np.float32)
    else:
        matrix = np.clip((field - cut) * 2 + 0.5, 0, 1).astype(np.float32)
    background = PORE + (MATRIX - PORE) * matrix
    image = occupancy * FIBER + (1 - occupancy) * background
    if blur > 0:
        image = ndi.gaussian_filter(image, blur)
    if rings > 0:
        yy, xx = np.mgrid[:ny, :nx]
        rho = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2)
        ring_radii = rng.uniform(0, rho.max(), max(3, int(rho.max() // 8)))
        amplitude = rng.choice([-1.0, 1.0], ring_radii.size) * rings
        pattern = np.zeros((ny, nx), np.float32)
        for r0, a in zip(ring_radii, amplitude, strict=True):
            pattern += a * np.exp(-0.5 * ((rho - r0) / 0.7) ** 2).astype(np.float32)
        image = image + pattern[None]
    if noise > 0:
        image = image + rng.normal(0.0, noise, shape3).astype(np.float32)
    counts = np.clip(8000 + 32000 * image, 0, 65535).astype(np.uint16)

    rows = np.nonzero(inside)
    z_index = rows[1]
    centres_df = pd.DataFrame(
        {
            "fiber_id": axes.fiber_id.to_numpy()[rows[0]],
            "z": z_index * dz,
            "y": cy[rows],
            "x": cx[rows],
            "radius": axes.radius.to_numpy()[rows[0]],
        }
    ).sort_values(["z", "fiber_id"], kind="stable", ignore_index=True)
    unit = ngff_unit_name(units)
    volume = from_array(
        counts,
        spacing=spacing3,
        units=unit,
        chunks=chunks,
        name="fiber_bed",
        attrs={"long_name": "synthetic CMC fiber bed (X-ray attenuation, a.u.)"},
    )
    return volume, FiberBedTruth(fibers=axes, centres=centres_df, units=unit)
