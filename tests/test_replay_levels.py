"""Replaying a chain that went on with one level of a pyramid.

- A replay error raised in Python says the Python fix (``volume.chunk(N)``, ``chunks=``),
  the ``microct`` command the option (``--chunks N``).
- A level taken in memory (``tree.microct.<verb>(..., level=k)``) is recorded as a level
  read back from a store is, so ``mct.replay`` gives that level of the other scan's
  pyramid and ``microct export-pipeline`` writes a file that replays it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
import yaml

import xarray_microct as mct
from xarray_microct.cli import main
from xarray_microct.core.tree import level_images
from xarray_microct.ops.pyramid import downsample
from xarray_microct.runner import open_result, run_pipeline


def _scan(seed: int, chunks: int = 16) -> xr.DataArray:
    data = np.random.default_rng(seed).random((16, 64, 64), dtype="float32")
    return mct.from_array(data, spacing=(2.0, 0.5, 0.5), chunks=chunks, name="scan")


def test_a_replay_in_python_says_the_python_fix_and_the_command_the_option(tmp_path, capsys):
    # was: "... To replay it: run on the input with --chunks 32 (chunks=32 to open_volume
    # in Python) ..." to a Python user too
    _scan(0).microct.pyramid().microct.to_zarr(tmp_path / "scan.ome.zarr")  # planned by 16
    result = mct.open_volume(tmp_path / "scan.ome.zarr", level=1).microct.gaussian(sigma=1)
    other = _scan(1, chunks=128)
    with pytest.raises(ValueError, match=r"volume\.chunk\((\d+)\)") as caught:
        mct.replay(result, other)
    said = str(caught.value)
    assert "--chunks" not in said and "levels=2 in the params of the pyramid step" in said
    size = int(re.search(r"volume\.chunk\((\d+)\)", said).group(1))
    # as it says: the chain on level 1 of the other scan's pyramid
    again = mct.replay(result, other.chunk(size))
    direct = other.chunk(16).microct.pyramid().microct.gaussian(sigma=1, level=1)
    np.testing.assert_allclose(again.values, direct.values, rtol=1e-6)

    result.to_zarr(tmp_path / "result.zarr")
    steps = tmp_path / "steps.yaml"
    assert main(["export-pipeline", str(tmp_path / "result.zarr"), str(steps)]) == 0
    stored = tmp_path / "other.zarr"
    other.microct.to_zarr(stored, chunks=128)
    capsys.readouterr()
    run = ["run", str(steps), str(stored), str(tmp_path / "out.zarr"), "--no-progress"]
    assert main(run) == 2
    err = capsys.readouterr().err
    assert f"run on the input with --chunks {size}," in err
    assert "volume.chunk" not in err and "run_pipeline(" not in err


def test_a_level_planned_with_other_factors_names_them_in_python_words():
    # level 1 of a scan of 1 x 0.5 x 0.5 um voxels halves y and x; of an isotropic scan, z too
    fine = mct.from_array(np.zeros((16, 32, 32), "float32"), spacing=(1.0, 0.5, 0.5), chunks=8)
    result = fine.microct.pyramid(levels=2).microct.gaussian(sigma=1, level=1)
    other = mct.from_array(np.zeros((16, 32, 32), "float32"), spacing=1.0, chunks=8)
    with pytest.raises(ValueError, match=r"downsampled by \[2, 2, 2\]") as caught:
        mct.replay(result, other)
    said = str(caught.value)
    assert "set factor=[1, 2, 2] and levels=2 in the params of the pyramid step" in said
    assert "'factor:" not in said  # the pipeline file's words are the command's


def test_chunks_of_zero_named_as_the_caller_gave_them(tmp_path, capsys):
    _scan(0).microct.to_zarr(tmp_path / "scan.zarr")
    steps = [{"op": "gaussian", "params": {"sigma": 1}}]
    with pytest.raises(ValueError, match=r"^chunks must be a positive number of voxels, got 0"):
        run_pipeline(steps, tmp_path / "scan.zarr", tmp_path / "out.zarr", chunks=0)
    (tmp_path / "steps.yaml").write_text(yaml.safe_dump({"steps": steps}))
    args = ["run", str(tmp_path / "steps.yaml"), str(tmp_path / "scan.zarr")]
    assert main([*args, str(tmp_path / "out.zarr"), "--chunks", "0"]) == 2
    assert "error: --chunks must be a positive number of voxels" in capsys.readouterr().err
    assert not (tmp_path / "out.zarr").exists()


def _replayed_by_file(tmp_path, result, other: xr.DataArray) -> xr.DataArray:
    """``result`` exported (``microct export-pipeline``) and run on ``other`` stored."""
    result.to_zarr(tmp_path / "result.zarr")
    steps = tmp_path / "steps.yaml"
    assert main(["export-pipeline", str(tmp_path / "result.zarr"), str(steps)]) == 0
    other.microct.to_zarr(tmp_path / "other.zarr", chunks=16)
    out = tmp_path / "again.zarr"
    assert main(["run", str(steps), str(tmp_path / "other.zarr"), str(out), "--no-progress"]) == 0
    return open_result(out)


@pytest.mark.parametrize("how", ["level=", "select_level", "after a mapped verb"])
def test_a_level_taken_in_memory_replays_as_that_level(tmp_path, how):
    # was: mct.replay gave a whole pyramid (a DataTree) and export-pipeline refused
    # ("which level is not recorded")
    def chain(scan: xr.DataArray) -> xr.DataArray:
        tree = scan.microct.pyramid(levels=3)
        if how == "level=":
            return tree.microct.tubeness(sigma="1 um", level=1)
        if how == "select_level":
            return tree.microct.select_level(2).microct.gaussian(sigma="2 um")
        return tree.microct.gaussian(sigma="1 um").microct.tubeness(sigma="1 um", level=1)

    result, other = chain(_scan(0)), _scan(1)
    pyramid = next(r for r in result.attrs["microct_provenance"] if r["op"] == "pyramid")
    level = 2 if how == "select_level" else 1
    assert (pyramid["level"], pyramid["level_factor"]) == (level, [1, 2**level, 2**level])
    direct = chain(other)
    again = mct.replay(result, other)
    assert isinstance(again, xr.DataArray) and again.shape == direct.shape
    np.testing.assert_array_equal(again.values, direct.values)
    assert again.microct.grid == direct.microct.grid
    by_file = _replayed_by_file(tmp_path, result, other)
    np.testing.assert_allclose(by_file.values, direct.values, rtol=1e-6)


def test_a_table_of_a_pyramid_s_finest_level_replays_on_the_volume():
    # a table verb on a tree reads level 0 (by default): recorded, so the pyramid step
    # is left out of the replay (it ran as a pyramid, then on its finest level)
    def chain(scan: xr.DataArray):
        return scan.microct.pyramid().microct.threshold(0.5).microct.label().microct.regionprops()

    result, other = chain(_scan(0)), _scan(1)
    again = mct.replay(result, other)
    assert [r["op"] for r in again.attrs["microct_provenance"]] == [
        "threshold",
        "label",
        "regionprops",
    ]
    direct = chain(other)
    assert len(direct) > 10
    np.testing.assert_array_equal(again.to_numpy(), direct.to_numpy())


def test_a_level_of_a_tree_that_is_not_its_pyramid_is_not_taken_for_that_level():
    # was: a tree of the levels reversed had its second node (level 0) marked level 1,
    # downsampled by [0, 0, 0]: the node count alone matched the pyramid's record
    levels = _scan(0).microct.pyramid(levels=2)
    reversed_ = xr.DataTree.from_dict(
        {"coarse": levels["scale1"].to_dataset(), "fine": levels["scale0"].to_dataset()}
    )
    for level in (0, 1):
        taken = reversed_.microct.select_level(level)
        assert "level" not in taken.attrs["microct_provenance"][-1]
    taken = levels.microct.select_level(1)  # the pyramid itself: its level recorded
    assert taken.attrs["microct_provenance"][-1]["level"] == 1


def test_a_pyramid_of_a_level_stored_alone_is_refused_not_recorded_as_of_the_scan():
    # was: level 1 alone in a tree was taken for level 0 by its place in that tree; the
    # new pyramid's record replaced the old one, so replay made the pyramid of the whole
    # other scan (16 x 64 x 64) where this one starts from its level 1 (16 x 32 x 32)
    levels = _scan(0).microct.pyramid(levels=3)
    alone = xr.DataTree.from_dict({"scale0": levels["scale1"].to_dataset()})
    with pytest.raises(ValueError, match="its level is not recorded"):
        alone.microct.pyramid(levels=2)
    # its level taken as the pyramid's: recorded, and replayed from that level
    again = levels.microct.pyramid(levels=2, level=1)
    replayed = mct.replay(again, _scan(1))
    assert replayed["scale0"]["scan"].shape == again["scale0"]["scan"].shape == (16, 32, 32)


def test_a_level_is_marked_only_where_the_tree_steps_down_as_its_record_s_factor_does():
    # was: any whole-number steps passed. A tree of level 2 of a factor-2 pyramid after
    # its level 0 (then a coarser level) had that node marked level 1 of the factor-2
    # pyramid, level_factor [4, 4, 4]; a node after a partial step (1, 2, 2) pushed level
    # 1 to index 2: replay would take the wrong level of the other scan's pyramid
    data = np.random.default_rng(0).random((32, 32, 32), dtype="float32")
    vol = mct.from_array(data, chunks=16, name="scan")
    by2 = level_images(vol.microct.pyramid(levels=3, factor=2))
    by4 = level_images(vol.microct.pyramid(levels=3, factor=4))
    partial = downsample(by2[0], (1, 2, 2), "gaussian", (16, 16, 16))
    for nodes, index in (([by2[0], by2[2], by4[2]], 1), ([by2[0], partial, by2[1]], 2)):
        tree = xr.DataTree.from_dict({f"s{i}": v.to_dataset() for i, v in enumerate(nodes)})
        assert "level" not in tree.microct.select_level(index).attrs["microct_provenance"][-1]
    # a pyramid of per-axis factors steps as its record says: its levels marked
    tree = vol.microct.pyramid(levels=3, factor=(1, 2, 2))
    record = tree.microct.select_level(2).attrs["microct_provenance"][-1]
    assert (record["level"], record["level_factor"]) == (2, [1, 4, 4])
