"""The bead pipeline tells from the data whether the phase it keeps is the beads.

The packs are written here with NumPy and SciPy alone (not the project's
``bead_pack``): equal balls placed at random in a box a radius larger than the scan on
every side, so that the scan's faces cut them as they cut a sub-volume of a real scan,
then pushed apart until pairs overlap by about a tenth of the diameter or less.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.ndimage as ndi
from helpers import matched_iou
from scipy.spatial import cKDTree

import xarray_microct as mct
from xarray_microct.cli import main
from xarray_microct.pipelines import beads

SIDE = 64
PACKS = {  # name: (radius, share of the box the balls are drawn to fill, seed)
    "dense": (7, 0.6, 1),  # solid fraction 0.55 in the scan
    "sparse": (6, 0.2, 2),  # 0.19
}


def ball_centres(radius: float, fraction: float, seed: int) -> np.ndarray:
    """Centres of equal balls drawn in ``[-radius, SIDE + radius]³``, pushed apart."""
    rng = np.random.default_rng(seed)
    low, high = -radius, SIDE + radius
    count = round(fraction * (high - low) ** 3 / (4 / 3 * np.pi * radius**3))
    centres = rng.uniform(low, high, (count, 3))
    closest = 1.8 * radius  # overlaps of up to a tenth of the diameter
    for _ in range(1000):
        pairs = cKDTree(centres).query_pairs(closest, output_type="ndarray")
        if len(pairs) == 0:
            break
        step = centres[pairs[:, 1]] - centres[pairs[:, 0]]
        length = np.linalg.norm(step, axis=1, keepdims=True)
        push = 0.55 * (closest - length) * step / np.maximum(length, 1e-9)
        np.add.at(centres, pairs[:, 0], -push)
        np.add.at(centres, pairs[:, 1], push)
        np.clip(centres, low, high, out=centres)
    return centres


def pack(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The beads' occupancy of each voxel (partial at the surfaces) and the true labels
    (each voxel of a ball to the nearest centre, numbered 1..n over the scan)."""
    radius, fraction, seed = PACKS[name]
    centres = ball_centres(radius, fraction, seed)
    voxels = np.indices((SIDE,) * 3).reshape(3, -1).T
    distance, nearest = cKDTree(centres).query(voxels)
    occupancy = np.clip(radius + 0.5 - distance, 0, 1).reshape((SIDE,) * 3)
    truth = np.where(distance <= radius, nearest + 1, 0)
    truth = np.unique(truth, return_inverse=True)[1].reshape((SIDE,) * 3)
    return occupancy, truth


def image(occupancy: np.ndarray, bright: bool, dtype: str, seed: int = 0) -> np.ndarray:
    """A scan of the pack: beads bright or dark, blurred, ring artefacts (an offset by
    distance to an off-centre axis, constant along z) and noise of 0.15 of the contrast,
    at a level and in a dtype unlike the project's phantom."""
    rng = np.random.default_rng(seed)
    values = ndi.gaussian_filter(occupancy if bright else 1 - occupancy, 1.0)
    y, x = np.indices(occupancy.shape[1:])
    ring = np.hypot(y - SIDE / 2 + 3, x - SIDE / 2 - 2).astype(int)
    values = values + 0.1 * rng.uniform(-1, 1, ring.max() + 1)[ring]
    values = values + rng.normal(0, 0.15, values.shape)
    if dtype == "uint16":
        return np.clip(21000 + 9000 * values, 0, 65535).astype(np.uint16)
    if dtype == "uint8":
        return np.clip(60 + 120 * values, 0, 255).astype(np.uint8)
    return (-3.5 + 0.02 * values).astype(np.float32)  # a small contrast below zero


@pytest.fixture(scope="module", params=sorted(PACKS))
def phantom(request: pytest.FixtureRequest) -> tuple[str, np.ndarray, np.ndarray]:
    return request.param, *pack(request.param)


def test_ball_cover_tells_the_beads_from_the_space_between_them(phantom) -> None:
    # the inscribed balls at the markers cover the beads, not the pores between them
    from xarray_microct.pipelines.beads import ball_cover

    name, occupancy, _ = phantom
    radius = PACKS[name][0]
    beads_mask = occupancy >= 0.5
    assert 0.15 < beads_mask.mean() < 0.6
    covers = [
        ball_cover(ndi.distance_transform_edt(m), (1, 1, 1), radius)
        for m in (beads_mask, ~beads_mask)
    ]
    assert covers[0] >= 0.9 and covers[1] <= 0.5


@pytest.mark.parametrize("dtype", ["uint16", "float32", "uint8"])
def test_beads_of_the_other_phase_than_invert_says_name_the_switch(phantom, dtype) -> None:
    # beads cut by the faces: the pores that the wrong invert= keeps touch the faces,
    # their holes (the beads) are not all filled and the radius estimate does not fail;
    # main labelled the pores (on a 128³ pack of bright beads, median IoU 0.005)
    _, occupancy, _ = phantom
    bright = mct.from_array(image(occupancy, True, dtype), spacing=0.65, chunks=32)
    with pytest.raises(ValueError, match=r"for bright beads pass invert=False"):
        beads(bright)
    dark = mct.from_array(image(occupancy, False, dtype), spacing=0.65, chunks=(64, 32, 48))
    with pytest.raises(ValueError, match=r"for dark beads pass invert=True"):
        beads(dark, invert=False)


def test_beads_of_the_phase_invert_says_are_labelled(phantom) -> None:
    # the check does not fire on the beads: both polarities, right invert=, are labelled
    # (and the wrong one is refused, which main did not do)
    name, occupancy, truth = phantom
    for bright in (False, True):
        scan = mct.from_array(image(occupancy, bright, "uint16", seed=1), chunks=32)
        labels = beads(scan, invert=not bright).values
        iou = matched_iou(labels, truth)
        inside = np.bincount(truth.ravel())[1:] >= 0.5 * 4 / 3 * np.pi * PACKS[name][0] ** 3
        assert np.median(iou[inside]) >= 0.85
        assert np.mean(iou[inside] >= 0.5) >= 0.95  # (caps of a few voxels are not)
        assert int(labels.max()) <= int(truth.max())
        with pytest.raises(ValueError, match=f"pass invert={not bright}"):
            beads(scan, invert=bright)


@pytest.mark.parametrize("given", [[], ["--param", "bead_radius=4.5 um"]])
def test_the_command_line_names_the_switch_and_writes_nothing(tmp_path, capsys, given) -> None:
    # with the radius estimated, and with it given (main checked only the former)
    occupancy, _ = pack("dense")
    store = tmp_path / "scan.zarr"
    scan = mct.from_array(image(occupancy, True, "uint16"), spacing=0.65, chunks=32)
    scan.rename("scan").to_zarr(store)
    out = tmp_path / "labels.zarr"
    assert main(["run", "beads", str(store), str(out), "--no-progress", *given]) == 2
    err = capsys.readouterr().err
    assert err.startswith("microct: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "for bright beads pass invert=False" in err
    assert not out.exists()


@pytest.mark.parametrize("given", ["bead_radius", "min_distance"])
def test_a_given_radius_or_peak_distance_does_not_skip_the_check(phantom, given) -> None:
    # main checked the phase kept only where the radius was estimated: with bead_radius=
    # or min_distance= given it labelled the pores between the beads
    name, occupancy, _ = phantom
    radius = PACKS[name][0] * 0.65  # in micrometres
    option = {given: radius if given == "bead_radius" else f"{radius} um"}
    bright = mct.from_array(image(occupancy, True, "uint16"), spacing=0.65, chunks=32)
    with pytest.raises(ValueError, match=r"for bright beads pass invert=False"):
        beads(bright, **option)
    dark = mct.from_array(image(occupancy, False, "float32"), spacing=0.65, chunks=32)
    with pytest.raises(ValueError, match=r"for dark beads pass invert=True"):
        beads(dark, invert=False, denoise_sigma="1 voxel", **option)


def test_a_pyramid_level_of_the_other_phase_is_refused_with_a_radius_given() -> None:
    occupancy, _ = pack("dense")
    bright = mct.from_array(image(occupancy, True, "uint16"), spacing=0.65, chunks=32)
    tree = bright.microct.pyramid(levels=2)
    with pytest.raises(ValueError, match=r"for bright beads pass invert=False"):
        beads(tree, bead_radius=PACKS["dense"][0] * 0.65, level=0)


@pytest.mark.parametrize("error", [0.7, 1.3])
def test_a_radius_given_30_percent_off_labels_the_right_phase_as_without_the_check(
    phantom, error, monkeypatch
) -> None:
    # the check's scale is the radius measured on the central box, not the one given:
    # a wrong guess neither refuses the beads nor lets the pores through, and the labels
    # are those of the pipeline without the check
    import xarray_microct.pipelines.beads as pipeline

    name, occupancy, truth = phantom
    radius = PACKS[name][0] * error
    for bright in (False, True):
        scan = mct.from_array(image(occupancy, bright, "uint16", seed=1), chunks=32)
        labels = beads(scan, bead_radius=radius, invert=not bright).values
        iou = matched_iou(labels, truth)
        inside = np.bincount(truth.ravel())[1:] >= 0.5 * 4 / 3 * np.pi * PACKS[name][0] ** 3
        assert np.median(iou[inside]) >= 0.8
        with pytest.raises(ValueError, match=f"pass invert={not bright}"):
            beads(scan, bead_radius=radius, invert=bright)
        with monkeypatch.context() as patch:
            patch.setattr(pipeline, "_check_polarity", lambda *args: None)
            unchecked = beads(scan, bead_radius=radius, invert=not bright).values
        np.testing.assert_array_equal(labels, unchecked)


def random_solid(correlation: float, solid: float, seed: int) -> np.ndarray:
    """A connected solid that is not granular: white noise smoothed over ``correlation``
    voxels (periodic), thresholded to the ``solid`` fraction (a model of a sandstone's
    or a foam's pore space)."""
    noise = np.random.default_rng(seed).standard_normal((SIDE,) * 3)
    field = ndi.gaussian_filter(noise, correlation, mode="wrap")
    return field > np.quantile(field, 1 - solid)


@pytest.mark.parametrize(("correlation", "solid"), [(2.5, 0.6), (3.5, 0.4)])
def test_a_solid_that_is_not_granular_is_labelled_with_a_warning(correlation, solid) -> None:
    # main cut such a solid into pieces at its distance maxima without a word (a 160³
    # field: 527 "beads"); the check reads the central box only, the labels stay lazy
    occupancy = random_solid(correlation, solid, seed=3).astype(float)
    scan = mct.from_array(image(occupancy, True, "uint16"), chunks=32)
    with pytest.warns(UserWarning, match=r"bright phase, taken as the beads, does not look"):
        labels = beads(scan, invert=False)
    assert labels.chunks is not None


def test_bead_packs_give_no_warning_that_they_are_not_grains(phantom) -> None:
    _, occupancy, _ = phantom
    for bright in (False, True):
        scan = mct.from_array(image(occupancy, bright, "uint16", seed=2), chunks=32)
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*does not look like grains")
            beads(scan, invert=not bright)
