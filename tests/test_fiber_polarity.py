"""Bright or dark fibers: the curvature of the bright phase's edges tells them apart.

Phantoms of known polarity: ``fiber_bed`` and ``textured_fiber_bed`` (bright fibers) and
their inverses (``vol.microct.invert()``: dark fibers), a bed of fibers with dark cores.
"""

from __future__ import annotations

import collections
import warnings

import dask
import numpy as np
import pytest
import scipy.ndimage as ndi
from test_fiber_cores import cored_bed

from xarray_microct import metrics
from xarray_microct.core.volume import PROVENANCE_KEY, from_array
from xarray_microct.ops.fibers import detect, detect_fibers
from xarray_microct.ops.fibers.polarity import (
    DARK_FIBERS,
    bright_phase_curvature,
    polarity_tile,
    sampled_polarity,
    tile_polarity,
)
from xarray_microct.pipelines import fibers
from xarray_microct.runner import read_table, run_pipeline
from xarray_microct.synthetic import fiber_bed, textured_fiber_bed


def test_measure_is_odd_and_does_not_depend_on_offset_or_unit():
    # an inverted scan (65535 - v, or -v) gives the measure's negative, exactly
    rng = np.random.default_rng(0)
    images = ndi.gaussian_filter(rng.normal(size=(2, 64, 64)), (0, 2, 2))
    measure = bright_phase_curvature(images)
    assert bright_phase_curvature(-images) == pytest.approx(-measure, abs=1e-12)
    assert bright_phase_curvature(65535.0 - 3.0 * images) == pytest.approx(-measure, rel=1e-6)


@pytest.mark.parametrize("phantom", ["fiber_bed", "textured"])
@pytest.mark.parametrize("radius_px", [2, 3, 5, 8, 12, 20])
def test_bright_bed_is_bright_and_its_inverse_dark(phantom, radius_px):
    side = max(64, 12 * radius_px)
    if phantom == "fiber_bed":
        vol, _ = fiber_bed(
            (8, side, side), spacing=6.4 / radius_px, noise=0.2, tilt=8.0, seed=radius_px + 3
        )
    else:
        vol, _ = textured_fiber_bed((8, side, side), radius_px, 0.2, 8.0, seed=radius_px + 3)
    assert sampled_polarity(vol) > -DARK_FIBERS
    assert sampled_polarity(vol.microct.invert()) < DARK_FIBERS


def test_fibers_with_dark_cores_are_bright():
    # a core of 0.35 radius darker than the matrix: its ring's edges curve both ways
    # (unfilled, the measure is about 0); the sample's cores are filled first
    volume, _ = cored_bed(6.0, 0.35, 0.3, nz=8, seed=6)
    assert sampled_polarity(from_array(volume)) > -DARK_FIBERS


def _detected(vol):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = detect_fibers(vol)
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return table, said


def test_dark_bed_warns_and_bright_bed_does_not():
    bright, _ = fiber_bed((24, 64, 64), seed=1, noise=0.1)
    table, said = _detected(bright)
    assert len(table) and not any("invert()" in text for text in said)
    record = table.attrs[PROVENANCE_KEY][-1]["estimated"]["fiber_polarity"]
    assert record["fibers"] == "bright"
    # dark fibers: a table of the bright gaps between them, and a warning that says so
    table, said = _detected(bright.microct.invert())
    assert len(table)
    assert any("look darker" in text and "vol.microct.invert()" in text for text in said)
    assert table.attrs[PROVENANCE_KEY][-1]["estimated"]["fiber_polarity"]["fibers"] == "dark"


def test_the_check_reads_no_chunk_of_its_own_and_measures_as_alone(monkeypatch):
    # a uint16 scan in 4 chunks, every read of a chunk counted: the check slices its
    # sample from the detection's own reads (one compute), not from a read of its own
    bed, _ = fiber_bed((24, 64, 64), seed=1, noise=0.1)
    reads: collections.Counter = collections.Counter()

    def counted(block, block_info=None):
        reads[tuple(block_info[0]["chunk-location"])] += 1
        return block

    assert bed.dtype == np.uint16
    scan = bed.chunk({"y": 32, "x": 32})
    scan = scan.copy(data=scan.data.map_blocks(counted, dtype=bed.dtype))
    with dask.config.set(scheduler="threads"):
        table = detect_fibers(scan)
        checked = dict(reads)
        reads.clear()
        monkeypatch.setattr(detect, "_polarity_task", lambda volume, axis: dask.delayed(None))
        unchecked = detect_fibers(scan)
    assert checked == dict(reads) and len(checked) == 4
    pd_equal = table.reset_index(drop=True).equals(unchecked.reset_index(drop=True))
    assert pd_equal and len(table) > 0
    record = table.attrs[PROVENANCE_KEY][-1]["estimated"]["fiber_polarity"]
    assert "fiber_polarity" not in unchecked.attrs[PROVENANCE_KEY][-1]["estimated"]
    # the value computed with the detection is the measure of the scan alone
    alone = sampled_polarity(scan)
    assert record == {"bright_phase_curvature": round(alone, 4), "fibers": "bright"}
    assert tile_polarity(polarity_tile(scan).values) == alone


def test_the_dark_fibers_warning_names_the_pipelines_invert_which_finds_them(tmp_path):
    # microct run fibers had no way to invert: a user of the command was told to call
    # vol.microct.invert() in Python. --param invert=true now does, and the warning says so
    bright, truth = fiber_bed((24, 64, 64), seed=2, noise=0.1)
    dark = bright.microct.invert()
    _, said = _detected(dark)
    assert any("look darker" in text and "--param invert=true" in text for text in said)
    dark.rename("scan").to_zarr(tmp_path / "dark.zarr")
    quiet = {"progress": False, "echo": lambda line: None}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "look darker" warning
        run_pipeline(
            "fibers", tmp_path / "dark.zarr", tmp_path / "out.zarr", params=["invert=true"], **quiet
        )
    table = read_table(tmp_path / "out.zarr")
    score = metrics.object_metrics(table, truth.centres, like=bright, margin=6.4)
    assert score["f1"] > 0.95
    assert [r["op"] for r in table.attrs[PROVENANCE_KEY]][-2:] == ["invert", "detect_fibers"]
    with pytest.raises(TypeError, match="invert is True or False"):
        fibers(dark, invert="yes")
