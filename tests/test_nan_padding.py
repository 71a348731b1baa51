"""NaN outside the field of view (what many reconstructions write) is padding: filled as
a constant padding is, by ``fill_padding``, the fibers and the beads pipelines, and
``microct run``; the same result for any chunking. Phantoms written here (numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import xarray_microct as mct
from xarray_microct.cli import main
from xarray_microct.pipelines import beads, fibers
from xarray_microct.runner import open_result, read_table


def _field(shape: tuple[int, int, int]) -> np.ndarray:
    """The reconstruction circle of a slice (inscribed, one pixel in)."""
    _, ny, nx = shape
    y, x = np.ogrid[:ny, :nx]
    radius = min(ny, nx) / 2 - 1
    return (y - (ny - 1) / 2) ** 2 + (x - (nx - 1) / 2) ** 2 <= radius**2


def _fiber_phantom(
    shape: tuple[int, int, int] = (24, 80, 80), radius: float = 3.5, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Straight bright fibers along z on a dark matrix, with noise; their centres."""
    rng = np.random.default_rng(seed)
    _, ny, nx = shape
    centres: list[np.ndarray] = []
    for _ in range(4000):
        centre = rng.uniform(radius + 2, [ny - radius - 2, nx - radius - 2])
        if all(np.hypot(*(centre - c)) > 2 * radius + 1 for c in centres):
            centres.append(centre)
    y, x = np.mgrid[:ny, :nx]
    section = np.zeros((ny, nx))
    for cy, cx in centres:
        section = np.maximum(section, np.clip(radius + 0.5 - np.hypot(y - cy, x - cx), 0, 1))
    scan = 0.3 + 0.4 * np.broadcast_to(section, shape) + rng.normal(0, 0.04, shape)
    return scan.astype("float32"), np.array(centres)


def _bead_phantom(
    shape: tuple[int, int, int] = (40, 72, 72), radius: float = 6.0, seed: int = 2
) -> np.ndarray:
    """Dark balls on a bright background, with noise."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    inside = np.zeros(shape, bool)
    centres: list[np.ndarray] = []
    for _ in range(3000):
        centre = rng.uniform(radius, np.array(shape) - radius)
        if all(np.linalg.norm(centre - c) > 2 * radius + 1 for c in centres):
            centres.append(centre)
            inside |= (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= (
                radius**2
            )
    return (np.where(inside, 0.3, 0.7) + rng.normal(0, 0.05, shape)).astype("float32")


def _padded(scan: np.ndarray, value: float) -> np.ndarray:
    return np.where(_field(scan.shape), scan, np.float32(value))


# ---------------------------------------------------------------------------- fill_padding


@pytest.mark.parametrize("chunks", [16, (7, 30, 23)])
def test_fill_padding_fills_nan_padding_with_the_dark_level(chunks):
    scan, _ = _fiber_phantom()
    with_nan = _padded(scan, np.nan)
    out = mct.from_array(with_nan, chunks=chunks).microct.fill_padding().compute()
    assert not np.isnan(out.values).any()
    field = _field(scan.shape)
    np.testing.assert_array_equal(out.values[:, field], scan[:, field])  # untouched
    # the matrix level: the median of the matrix's clear voxels, within its noise
    filled = np.unique(out.values[:, ~field])
    assert filled.size == 1 and abs(float(filled[0]) - 0.3) < 0.02
    assert float(out.padding_nan_share) == pytest.approx(np.isnan(with_nan).mean())
    assert np.isnan(float(out.padding_value))  # no constant padding


def test_fill_padding_gives_the_same_result_for_any_chunking():
    scan, _ = _fiber_phantom()
    with_nan = _padded(scan, np.nan)
    results = [
        mct.from_array(with_nan, chunks=chunks).microct.fill_padding("bright").values
        for chunks in (80, 16, (5, 33, 17))
    ]
    assert not np.isnan(results[0]).any()
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def test_nan_that_is_not_padding_is_left_for_the_filters_to_refuse():
    scan, _ = _fiber_phantom()
    spread = scan.copy()
    spread[:, 30:50, 30:50] = np.nan  # in the middle of the slices: not padding
    out = mct.from_array(spread, chunks=16).microct.fill_padding().compute()
    assert np.isnan(out.values).sum() == np.isnan(spread).sum()
    assert float(out.padding_nan_share) == 0.0


def test_infinite_values_are_refused_by_the_radius_estimate_with_the_fix():
    # was: NumPy's "autodetected range of [81.7, inf] is not finite", from skimage's
    # histogram deep in the estimate
    scan, _ = _fiber_phantom()
    scan = scan.astype("float32")
    scan[scan.shape[0] // 2, scan.shape[1] // 2, scan.shape[2] // 2] = np.inf
    with pytest.raises(ValueError, match=r"contains infinite values .*np\.isfinite"):
        mct.from_array(scan, chunks=16).microct.detect_fibers()


# ---------------------------------------------------------------------------- pipelines


def _scores(table: pd.DataFrame, centres: np.ndarray, shape: tuple[int, ...]) -> float:
    """F1 of the detected centres in the inner field (fibers the circle cuts left out)."""
    nz, ny, nx = shape
    inner = min(ny, nx) / 2 - 1 - 6
    middle = np.array([(ny - 1) / 2, (nx - 1) / 2])
    kept = centres[np.hypot(*(centres - middle).T) < inner]
    truth = pd.DataFrame(
        [(z, y, x, 3.5) for z in range(nz) for y, x in kept], columns=["z", "y", "x", "radius"]
    )
    found = table[np.hypot(table.y - middle[0], table.x - middle[1]) < inner]
    return mct.metrics.object_metrics(found, truth)["f1"]


@pytest.mark.parametrize("radius", [None, "3.5 um"])
def test_fibers_pipeline_accepts_nan_padding(radius):
    scan, centres = _fiber_phantom()
    with_nan = _padded(scan, np.nan)
    tables = [
        fibers(mct.from_array(with_nan, spacing=1.0, chunks=chunks), radius=radius)
        for chunks in (16, (11, 40, 29))
    ]
    columns = ["fiber_id", "z", "y", "x", "radius"]
    pd.testing.assert_frame_equal(tables[0][columns], tables[1][columns])
    # as good as with the constant padding the pipeline already filled (measured F1:
    # 0.987 with the radius estimated, 0.995 given, both paddings; 0.986 without padding)
    zero = fibers(mct.from_array(_padded(scan, 0.0), spacing=1.0, chunks=16), radius=radius)
    f1 = _scores(tables[0], centres, scan.shape)
    assert f1 == _scores(zero, centres, scan.shape) and f1 > 0.98
    assert len(tables[0]) == len(zero)
    estimated = tables[0].attrs["microct_provenance"][-1]["estimated"]
    record = estimated["nan_padding"]
    assert record["value"] == "NaN"
    assert record["share_of_the_middle_slice"] == pytest.approx((~_field(scan.shape)).mean())
    assert abs(record["filled_with"] - 0.3) < 0.02


@pytest.mark.slow
def test_beads_pipeline_reads_nan_padding_as_a_constant_padding():
    scan = _bead_phantom()
    labels = {
        value: beads(mct.from_array(_padded(scan, value), spacing=1.0, chunks=24)).values
        for value in (0.0, np.nan)
    }
    assert labels[0.0].max() > 10
    np.testing.assert_array_equal(labels[np.nan], labels[0.0])


# ---------------------------------------------------------------------------- microct run


def test_microct_run_fibers_and_a_fill_padding_step_on_nan_padding(tmp_path: Path, capsys):
    scan, centres = _fiber_phantom()
    store = tmp_path / "scan.zarr"
    mct.from_array(_padded(scan, np.nan), spacing=1.0, chunks=16).to_zarr(store)
    out = tmp_path / "fibers.zarr"
    assert main(["run", "fibers", str(store), str(out), "--no-progress"]) == 0
    assert _scores(read_table(out), centres, scan.shape) > 0.98
    steps = [{"op": "fill_padding", "params": {}}, {"op": "gaussian", "params": {"sigma": 1}}]
    pipeline = tmp_path / "smooth.yaml"
    pipeline.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": steps}))
    smooth = tmp_path / "smooth.zarr"
    assert main(["run", str(pipeline), str(store), str(smooth), "--no-progress"]) == 0
    assert not np.isnan(open_result(smooth).values).any()
