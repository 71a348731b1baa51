"""Blobs that persist along z are not fibers: their sections swell and shrink.

The inverted bead packs that pass the z-coherence gate (0.51-0.70) give chains whose
sections' radius varies along them as a sphere's does; a fiber's keeps its size, to a
quarter of a pixel and a few % (see ``detect._swelling_of``).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xarray_microct as mct
from xarray_microct.ops.fibers import detect_fibers
from xarray_microct.ops.fibers.assembly import SWELLING_COHERENCE, section_swelling
from xarray_microct.ops.fibers.detect import _across_fibers, _swelling_of, axis_first
from xarray_microct.ops.fibers.grid import GRID_KEY
from xarray_microct.synthetic import bead_pack, fiber_bed, textured_fiber_bed


def _sections(inside: np.ndarray, fiber_id: int) -> pd.DataFrame:
    """Rows of a fiber table for one rasterised object: the radius of the disk with each
    slice's area (the table's definition), every slice with a section detected."""
    area = inside.sum(axis=(1, 2)).astype(float)
    keep = area > 0
    return pd.DataFrame(
        {"fiber_id": fiber_id, "radius": np.sqrt(area[keep] / np.pi), "detected": True}
    )


@pytest.mark.parametrize("radius", [3.0, 5.0, 12.0])
def test_a_spheres_sections_swell_and_a_cylinders_do_not(radius):
    # the truth: sections of a rasterised sphere and of a cylinder of the same radius,
    # whose outline moves by the pixels' quantisation (its centre off the grid, drifting)
    n = int(2 * radius) + 7
    z, y, x = np.mgrid[:n, :n, :n].astype(float)
    c = n / 2 + 0.3
    sphere = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2 <= radius**2
    drift = 0.13 * z
    cylinder = (y - c - drift) ** 2 + (x - c + 0.7 * drift) ** 2 <= radius**2
    beads = pd.concat([_sections(sphere, 1), _sections(sphere[1:], 2)])
    rods = pd.concat([_sections(cylinder, 1), _sections(cylinder[2:], 2)])
    assert section_swelling(beads, 1.0) > 1.5
    assert section_swelling(rods, 1.0) < 0.7
    # in the table's units: the pixel's size scales both
    assert section_swelling(rods.assign(radius=rods.radius * 2.6), 2.6) == pytest.approx(
        section_swelling(rods, 1.0)
    )
    # fibers seen on fewer than 4 slices, and undetected rows, are not judged
    assert np.isnan(section_swelling(beads.head(3), 1.0))
    assert np.isnan(section_swelling(beads.assign(detected=False), 1.0))


def _inverted(radius: float, seed: int, slices: int | None, noise: float):
    pores = bead_pack(96, radius=radius, seed=seed, noise=noise)[0]
    return (pores if slices is None else pores[40 : 40 + slices]).microct.invert()


@pytest.mark.parametrize(
    ("radius", "seed", "slices", "noise"),
    # the last two: a seed and a noise level the rule was not set on
    [(12, 2, None, 0.1), (6, 2, 20, 0.1), (5, 5, 16, 0.1), (6, 3, 16, 0.3)],
)
def test_inverted_bead_packs_that_persist_along_z_give_no_fibers(radius, seed, slices, noise):
    # these passed the coherence gate (0.51-0.63) and came back as 21-78 "fibers"
    beads = _inverted(radius, seed, slices, noise)
    with pytest.warns(UserWarning, match="no fibers.*swell and shrink along z"):
        table = detect_fibers(beads)
    assert table.empty
    assert 0.5 <= table.attrs["z_coherence"] < SWELLING_COHERENCE
    assert table.attrs["section_swelling"] > 1.1
    assert table.attrs["source"] == "intensity"  # the plan's attrs are kept


def test_a_short_noisy_bed_of_small_fibers_keeps_its_fibers_under_the_check():
    # 2-pixel fibers at noise 0.25 on 20 slices persist less (coherence 0.71): the check
    # judges their sections, whose radius varies by pixels' quantisation, not as a bead's
    vol, truth = textured_fiber_bed((20, 64, 64), 2.0, 0.25, 8.0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no fibers" warning
        table = detect_fibers(vol)
    assert table.attrs["z_coherence"] < SWELLING_COHERENCE  # the check ran
    assert _swelling_of(table) < 0.8
    assert "section_swelling" not in table.attrs
    score = mct.metrics.object_metrics(table, truth, like=vol, margin=truth["radius"].mean())
    assert score["f1"] > 0.9


def test_the_swelling_warning_points_to_beads_not_to_invert():
    # the generic "no fibers" advice (detect dark fibers on invert()) reads oddly here
    with pytest.warns(UserWarning, match="swell and shrink") as caught:
        detect_fibers(_inverted(12, 2, None, 0.1))
    (message,) = [str(w.message) for w in caught if "no fibers" in str(w.message)]
    assert "beads or pores" in message
    assert "pipelines.beads" in message
    assert "invert()" not in message


def test_the_swelling_warning_names_a_cross_ply_and_its_crops_find_both_plies():
    # two plies side by side in y: fibers along z, then along x. The x ply's sections swell
    # and shrink along z, so the whole table is dropped as "beads or pores"; the warning
    # must name the cross-ply and its remedy, which works: each ply on its own crop
    plies = [
        fiber_bed((48, 32, 48), spacing=1.0, radius=4.0, radius_sd=0.4, seed=s, tilt=0, rings=0)
        for s in (1, 11)
    ]
    (along_z, truth_z), (along_x, truth_x) = plies
    scan = np.concatenate([along_z.values, along_x.values.transpose(2, 1, 0)], axis=1)
    vol = mct.from_array(scan, spacing=1.0, chunks=(24, 32, 48))
    with pytest.warns(UserWarning, match="swell and shrink") as caught:
        table = detect_fibers(vol)
    assert table.empty
    (message,) = [str(w.message) for w in caught if "no fibers" in str(w.message)]
    assert "cross-ply" in message
    assert "axis=" in message
    for crop, axis, truth in ((slice(0, 32), "z", truth_z), (slice(32, None), "x", truth_x)):
        ply = vol.isel(y=crop)
        found = detect_fibers(ply, axis=axis)
        seen = axis_first(ply, axis)
        centres = truth.centres.assign(y=truth.centres["y"] + crop.start)
        score = mct.metrics.object_metrics(found, centres, like=seen, margin=4.0)
        assert score["f1"] > 0.95, (axis, score)


def _quarter_cross_ply(seed: int) -> tuple[xr.DataArray, int]:
    """A user's scan (uint16, matrix 25 000, fibers 35 000, z spacing 1.5 × the pixel):
    fibers of radius 4 along z on 3/4 of it in y, along x on the first quarter (y < 24).
    Returns the scan and its number of fibers along z (all cross the whole height)."""
    rng = np.random.default_rng(seed)
    nz, ny, nx, dz, r = 40, 96, 96, 1.5, 4.0
    z = np.arange(nz)[:, None, None] * dz
    y, x = np.mgrid[:ny, :nx].astype(float)
    fiber = np.zeros((nz, ny, nx))
    centres = [(cy, cx) for cy in np.arange(29.0, ny, 10.0) for cx in np.arange(5.0, nx, 10.0)]
    for cy, cx in centres:
        cy, cx = cy + rng.uniform(-0.8, 0.8), cx + rng.uniform(-0.8, 0.8)
        disk = np.clip(r + 0.5 - np.hypot(y - cy, x - cx), 0, 1)
        fiber = np.maximum(fiber, disk[None])
    for cz in np.arange(4.0, nz * dz, 9.5):
        for cy in (5.0, 14.5):
            cz_, cy_ = cz + rng.uniform(-0.8, 0.8), cy + rng.uniform(-0.5, 0.5)
            fiber = np.maximum(fiber, np.clip(r + 0.5 - np.hypot(z - cz_, y - cy_), 0, 1))
    scan = 25000 + 10000 * fiber + rng.normal(0, 3000, fiber.shape)
    vol = mct.from_array(np.clip(scan, 0, 65535).astype("uint16"), spacing=(dz, 1.0, 1.0))
    return vol, len(centres)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_quarter_cross_ply_is_warned_about_and_named_where(seed):
    # a quarter of the scan across z: its chains persist enough for the table to be
    # kept (coherence over the swelling check's), with false short "fibers" from that
    # ply; the warning names the cross-ply, where it lies, and the remedy
    vol, along_z = _quarter_cross_ply(seed)
    with pytest.warns(UserWarning, match="cross-ply") as caught:
        table = detect_fibers(vol)
    (message,) = [str(w.message) for w in caught if "cross-ply" in str(w.message)]
    assert "axis=" in message
    low, high = (float(v) for v in re.search(r" y (\S+) to (\S+),", message).groups())
    assert -2 < low and high < 28  # the ply across: y under 24
    assert table["fiber_id"].nunique() > along_z  # the false fibers are still there
    # the ply along z alone, cropped as the warning says: no warning, every fiber
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ply = detect_fibers(vol.isel(y=slice(24, None)))
    assert ply["fiber_id"].nunique() == along_z


@pytest.mark.parametrize(
    ("axis", "said", "crop"),
    [
        ("x", "y 2 to 2, z 51 to 51", "y"),
        ("y", "z 2 to 2, x 51 to 51", "x"),
        ("z", "y 2 to 2, x 51 to 51", "y"),
    ],
)
def test_the_cross_ply_warning_names_where_in_the_scan_s_axes(axis, said, crop):
    # was: along y or x the table is in axis_first's view (its column of the axis
    # followed holds the scan's z), and the warning named that column's span as the
    # scan's own axis, and cropped along y also where the fibers run along y
    from xarray_microct.ops.fibers.detect import _cross_ply_message

    rows = pd.DataFrame(
        {"fiber_id": [1, 1, 2, 2], "y": [1.0, 3.0, 20.0, 20.0], "x": [50.0, 52.0, 8.0, 8.0]}
    )
    rows.attrs = {"units": "micrometer", "fiber_axis": axis}
    message = _cross_ply_message(rows, pd.Series([True, False], index=[1, 2]))
    assert f"lie at {said} micrometer" in message
    assert f"vol.sel({crop}=slice(a, b))" in message


def test_rows_run_on_to_the_faces_are_no_bridge_of_a_fiber_across():
    # a fiber whose sections swell and shrink (a stripe of a fiber across the slices)
    # looks like one across only where it was bridged between two detected sections:
    # the rows that run a fiber on to the volume's first or last slice are no bridge
    radius = [1.0, 1.0, 2.0, 6.0, 9.0, 6.0, 2.0, 1.0, 1.0]
    ends = pd.DataFrame(
        {
            "fiber_id": 1,
            "z": np.arange(9.0),
            "radius": radius,
            "detected": [False, False, True, True, True, True, True, False, False],
        }
    )
    ends.attrs[GRID_KEY] = {"spacing": [1.0, 1.0, 1.0]}
    middle = ends.assign(detected=[True, True, True, True, False, True, True, True, True])
    middle.attrs = ends.attrs
    assert not _across_fibers(ends).any()
    assert _across_fibers(middle).all()
