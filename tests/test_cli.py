"""The microct command."""

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
import zarr

import xarray_microct as mct
from xarray_microct.cli import main, store_info
from xarray_microct.io.ngff_labels import write_labels
from xarray_microct.runner import open_result, run_state, write_table, write_volume


def test_info_describes_a_store(tmp_path, capsys):
    vol = mct.from_array(np.zeros((4, 6, 8), "uint16"), spacing=(1.3, 0.65, 0.65))
    vol.microct.gaussian(sigma=1).to_zarr(tmp_path / "v.zarr")
    assert main(["info", str(tmp_path / "v.zarr")]) == 0
    out = capsys.readouterr().out
    assert "4 × 6 × 8" in out
    assert "1.3, 0.65, 0.65 micrometer" in out
    assert "extent (z, y, x): 5.2, 3.9, 5.2 micrometer" in out
    # the chain that made the data, not this opening: one line per step
    first = "  1. gaussian: sigma='1 micrometer', truncate=4, mode='nearest', nan_policy='raise'"
    assert first in out.splitlines()
    assert "open_volume" not in out


def _info_json(capsys, path):
    assert main(["info", "--json", str(path)]) == 0
    return json.loads(capsys.readouterr().out)


def test_info_units_give_every_level_of_an_ome_zarr_in_that_unit(tmp_path):
    # was: --units nm accepted and every level still shown in micrometres
    store = tmp_path / "scan.ome.zarr"
    scan = mct.from_array(np.zeros((8, 64, 64), "f4"), spacing=(2.6, 0.65, 0.65), chunks=32)
    scan.microct.pyramid().microct.to_zarr(store)
    levels = store_info(store, calibration={"units": "nm"})["levels"]
    assert [(level["units"], level["spacing"]) for level in levels] == [
        ("nanometer", [2600.0, 650.0, 650.0]),
        ("nanometer", [2600.0, 1300.0, 1300.0]),
    ]


def test_info_units_give_the_labels_of_an_ome_zarr_in_that_unit(tmp_path):
    # was: the image's levels in nanometres, its labels' still in micrometres
    store = tmp_path / "scan.ome.zarr"
    scan = mct.from_array(
        np.zeros((8, 32, 32), "f4"), spacing=(2.6, 0.65, 0.65), origin=(1.3, 0.0, 0.0)
    )
    scan.microct.to_zarr(store)
    pyramid = (scan > 0).rename("mask").microct.pyramid(levels=2)
    write_labels(pyramid, store, "mask")
    stored = [level.microct.grid for level in map(pyramid.microct.select_level, (0, 1))]
    for units, factor in (("nm", 1000.0), ("mm", 0.001), (None, 1.0)):
        info = store_info(store, calibration={"units": units} if units else {})
        (labels,) = info["labels"]
        expected = "micrometer" if units is None else {"nm": "nanometer"}.get(units, "millimeter")
        assert [level["units"] for level in labels["levels"]] == [expected] * 2
        assert [level["units"] for level in info["levels"]] == [expected]
        for level, grid in zip(labels["levels"], stored, strict=True):
            assert level["spacing"] == pytest.approx([s * factor for s in grid.spacing])
            assert level["origin"] == pytest.approx([o * factor for o in grid.origin])
        assert info["levels"][0]["spacing"] == labels["levels"][0]["spacing"]


def test_info_lists_pyramid_levels_labels_and_provenance(tmp_path, capsys):
    rng = np.random.default_rng(1)
    scan = mct.from_array(
        rng.random((16, 32, 32), dtype="float32"),
        spacing=(1.0, 0.5, 0.5),
        chunks=(16, 16, 16),
        name="scan",
    )
    store = tmp_path / "scan.ome.zarr"
    scan.microct.median(radius="1 voxel").microct.pyramid(levels=3).microct.to_zarr(store)
    write_labels((scan > 0.5).rename("bright"), store, "bright")

    assert main(["info", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0]
        == "scan.ome.zarr: OME-Zarr image 'scan' (NGFF 0.4), 3 levels, downsampled by gaussian"
    )
    # z is already twice as coarse: the first level halves y and x only
    # the store's chunks: the default 128 voxels, capped by the shape
    assert re.split(r"\s{2,}", lines[2].strip()) == [
        "scale0",
        "16 × 32 × 32",
        "16 × 32 × 32",
        "float32",
        "1, 0.5, 0.5 micrometer",
    ]
    assert lines[3].split()[:6] == ["scale1", "16", "×", "16", "×", "16"]
    assert lines[3].endswith("1, 1, 1 micrometer")
    assert lines[4].endswith("2, 2, 2 micrometer")
    assert "labels 'bright': bool, 1 level" in lines
    assert lines[-3:] == [
        "provenance (oldest first):",
        "  1. median: radius='1 voxel', mode='nearest', nan_policy='raise'",
        "  2. pyramid: levels=3, factor=2, nan_policy='propagate', estimated levels=3",
    ]
    assert len(lines) < 25  # one screen

    info = _info_json(capsys, store)
    assert info["kind"] == "ome-zarr" and info["ngff"] == "0.4"
    assert [lv["shape"] for lv in info["levels"]] == [[16, 32, 32], [16, 16, 16], [8, 8, 8]]
    assert [lv["spacing"] for lv in info["levels"]] == [[1, 0.5, 0.5], [1, 1, 1], [2, 2, 2]]
    assert {lv["units"] for lv in info["levels"]} == {"micrometer"}
    assert {lv["dtype"] for lv in info["levels"]} == {"float32"}
    assert [label["name"] for label in info["labels"]] == ["bright"]
    assert [step["op"] for step in info["provenance"]] == ["median", "pyramid"]
    stored = zarr.open_group(str(store), mode="r").attrs["omero"]["channels"][0]["window"]
    assert info["window"] == stored
    assert f"display window: {stored['start']:g} to {stored['end']:g}" in "\n".join(lines)


def _two_blobs(tmp_path):
    mask = np.zeros((8, 16, 16), bool)
    mask[1:3, 2:5, 2:6] = True  # 2 × 3 × 4 voxels
    mask[5:8, 9:14, 9:11] = True  # 3 × 5 × 2 voxels
    scan = mct.from_array(mask, spacing=(2.0, 1.0, 1.0), chunks=8, name="mask")
    scan.to_zarr(tmp_path / "mask.zarr")
    steps = tmp_path / "measure.yaml"
    steps.write_text(
        "steps:\n  - op: label\n    params: {}\n"
        "  - op: regionprops\n    params: {properties: [volume]}\n"
    )
    return steps


def test_info_shows_the_table_microct_run_wrote(tmp_path, capsys):
    steps = _two_blobs(tmp_path)
    table_store = tmp_path / "objects.zarr"
    assert (
        main(["run", str(steps), str(tmp_path / "mask.zarr"), str(table_store), "--no-progress"])
        == 0
    )
    capsys.readouterr()
    assert main(["info", str(table_store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "objects.zarr: table, 2 rows × 3 columns"
    assert [line.split() for line in lines[1:5]] == [
        ["column", "dtype", "unit"],
        ["label", "int64"],
        ["voxels", "int64"],
        ["volume", "float64", "micrometer**3"],
    ]
    # 24 and 30 voxels of 2 µm³
    assert [line.split() for line in lines[5:8]] == [
        ["first", "2", "rows:"],
        ["label", "voxels", "volume"],
        ["1", "24", "48.0"],
    ]
    state = run_state(table_store)
    assert (
        f"run: complete, fingerprint {state['fingerprint'][:12]}, pipeline label → regionprops"
        in lines
    )
    assert "  3. regionprops: properties=['volume']" in lines

    info = _info_json(capsys, table_store)
    assert info["kind"] == "table" and info["rows"] == 2
    assert [c["name"] for c in info["columns"]] == ["label", "voxels", "volume"]
    assert [row["volume"] for row in info["head"]] == [48.0, 60.0]
    assert info["run"]["status"] == "complete"
    assert info["run"]["fingerprint"] == state["fingerprint"]
    assert [step["op"] for step in info["provenance"]] == ["open_volume", "label", "regionprops"]


def test_info_reads_the_units_of_a_fiber_table(tmp_path, capsys):
    table = pd.DataFrame(
        {"fiber_id": [1, 2], "z": [1.0, 2.0], "radius": [6.1, 6.6], "polar": [3.0, 4.5]}
    )
    table.attrs.update(units="micrometer", source="intensity", z_coherence=0.97)
    write_table(table, tmp_path / "fibers.zarr")
    info = _info_json(capsys, tmp_path / "fibers.zarr")
    assert {c["name"]: c["unit"] for c in info["columns"]} == {
        "fiber_id": None,
        "z": "micrometer",
        "radius": "micrometer",
        "polar": "degree",
    }
    assert info["head"][1] == {"fiber_id": 2, "z": 2.0, "radius": 6.6, "polar": 4.5}
    assert info["attrs"] == {"source": "intensity", "z_coherence": 0.97}
    assert main(["info", "--rows", "1", str(tmp_path / "fibers.zarr")]) == 0
    out = capsys.readouterr().out
    assert "first 1 rows:" in out and "6.6" not in out
    assert "  z_coherence: 0.97" in out.splitlines()


def test_info_shows_an_interrupted_run(tmp_path, capsys):
    def fail_on_last_block(block, block_info=None):
        if block_info[0]["chunk-location"] == (1, 1, 1):
            raise RuntimeError("disk gone")
        return block

    vol = mct.from_array(np.ones((16, 16, 16), "float32"), spacing=0.5, chunks=8, name="scan")
    broken = vol.copy(data=vol.data.map_blocks(fail_on_last_block, dtype="float32"))
    with pytest.raises(RuntimeError):
        write_volume(broken, tmp_path / "out.zarr")
    assert main(["info", str(tmp_path / "out.zarr")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("out.zarr: unfinished run")
    stored = int(re.search(r"(\d+) of 8", out).group(1))  # chunks stored
    assert stored < 8
    assert "run: failed" in out and "disk gone" in out
    # written by write_volume: finished by it (was: the same `microct run` command)
    assert "unfinished: finish it with write_volume(..., resume=True)" in out
    facts = _info_json(capsys, tmp_path / "out.zarr")["run"]
    assert facts["status"] == "failed" and facts["writer"] == "write_volume"


def test_info_reports_errors_without_a_traceback(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.zarr")]) == 2
    assert "microct: error: nothing at" in capsys.readouterr().err


def test_demo_runs_and_refuses_to_overwrite(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    assert main(["demo", "--output", str(out_dir), "--size", "32"]) == 0
    assert "wrote" in capsys.readouterr().out
    scan = mct.open_volume(out_dir / "fiber_bed.ome.zarr")
    assert scan.shape == (32, 32, 32)
    report = (out_dir / "report.html").read_text()
    assert "detect_fibers" in report and "seed paper" in report  # provenance, scores
    assert (out_dir / "report-slice.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["demo", "--output", str(out_dir), "--size", "32"]) == 2
    assert "exists" in capsys.readouterr().err


def test_console_entry_point_runs_as_a_program():
    completed = subprocess.run(
        [sys.executable, "-m", "xarray_microct.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "info" in completed.stdout and "demo" in completed.stdout


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"microct {mct.__version__}"


def test_python_m_package_is_the_microct_command(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "xarray_microct", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() == f"microct {mct.__version__}"
    missing = subprocess.run(
        [sys.executable, "-m", "xarray_microct", "info", str(tmp_path / "missing.zarr")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "microct: error: nothing at" in missing.stderr


def test_exporting_a_pyramid_of_results_says_what_it_is_and_writes_nothing(tmp_path, capsys):
    """A chain run on every level of a pyramid, written whole, is not one volume's
    pipeline: the error says so and how to replay it (it suggested writing the pyramid,
    which the user had done)."""
    rng = np.random.default_rng(0)
    scan = mct.from_array(
        rng.random((32, 32, 32), dtype="float32"), spacing=0.5, chunks=16, name="scan"
    )
    results = scan.microct.pyramid(levels=2).microct.gaussian(sigma="1 um")
    results.microct.to_zarr(tmp_path / "results.ome.zarr")
    assert (
        main(["export-pipeline", str(tmp_path / "results.ome.zarr"), str(tmp_path / "s.yaml")]) == 2
    )
    err = capsys.readouterr().err
    assert "is a pyramid of results" in err and "mct.replay(mct.open_pyramid(" in err
    assert not (tmp_path / "s.yaml").exists()
    again = mct.replay(mct.open_pyramid(tmp_path / "results.ome.zarr"), scan)
    np.testing.assert_array_equal(again["scale1"]["scan"].values, results["scale1"]["scan"].values)


def test_pipeline_exported_from_a_pyramid_level_replays_on_the_original_store(tmp_path, capsys):
    rng = np.random.default_rng(0)
    scan = mct.from_array(
        rng.random((32, 32, 32), dtype="float32"), spacing=0.5, chunks=16, name="scan"
    )
    scan.microct.pyramid(levels=3).microct.to_zarr(tmp_path / "scan.ome.zarr")
    level1 = mct.open_volume(tmp_path / "scan.ome.zarr", level=1)
    expected = level1.microct.gaussian(sigma="1 um")
    expected.to_zarr(tmp_path / "result.zarr")

    exported = tmp_path / "steps.yaml"
    assert main(["export-pipeline", str(tmp_path / "result.zarr"), str(exported)]) == 0
    steps = yaml.safe_load(exported.read_text())["steps"]
    assert [(s["op"], s.get("level")) for s in steps] == [("pyramid", 1), ("gaussian", None)]
    assert steps[0]["level_factor"] == [2, 2, 2]

    again = tmp_path / "again.zarr"
    assert (
        main(["run", str(exported), str(tmp_path / "scan.ome.zarr"), str(again), "--no-progress"])
        == 0
    )
    replayed = open_result(again)
    assert replayed.shape == (16, 16, 16)
    assert replayed.microct.grid.spacing == (1.0, 1.0, 1.0)
    np.testing.assert_allclose(replayed.values, expected.values, rtol=1e-6)
    # the replay records its level too: exporting it again gives the same steps
    assert main(["export-pipeline", str(again), str(tmp_path / "twice.yaml")]) == 0
    assert yaml.safe_load((tmp_path / "twice.yaml").read_text())["steps"] == steps
    capsys.readouterr()

    # a level planned differently on the replay's input is refused, not used silently
    steps[0]["level_factor"] = [1, 2, 2]
    (tmp_path / "other.yaml").write_text(yaml.safe_dump({"steps": steps}))
    other = [
        "run",
        str(tmp_path / "other.yaml"),
        str(tmp_path / "scan.ome.zarr"),
        str(tmp_path / "other.zarr"),
    ]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert (
        "downsampled by [2, 2, 2] (z, y, x), but the pipeline was made on a level "
        "downsampled by [1, 2, 2]" in err
    )
    assert "set 'factor: [1, 2, 2]' and 'levels: 2' on the pyramid step" in err
    assert not (tmp_path / "other.zarr").exists()
    # as the message says: the level planned as the file was made
    steps[0]["params"].update(factor=[1, 2, 2], levels=2)
    (tmp_path / "other.yaml").write_text(yaml.safe_dump({"steps": steps}))
    assert main([*other, "--no-progress"]) == 0
    assert open_result(tmp_path / "other.zarr").shape == (32, 16, 16)


def test_a_level_the_replays_chunking_does_not_make_says_which_chunks_give_it(tmp_path, capsys):
    # was: "level 1 out of range: the tree has 1 levels", with no word of --chunks
    rng = np.random.default_rng(0)
    scan = mct.from_array(
        rng.random((16, 64, 64), dtype="float32"), spacing=(2.0, 0.5, 0.5), chunks=16
    )
    scan.microct.pyramid().microct.to_zarr(tmp_path / "scan.ome.zarr")  # planned by 16
    level1 = mct.open_volume(tmp_path / "scan.ome.zarr", level=1)
    expected = level1.microct.gaussian(sigma="1 um")
    expected.to_zarr(tmp_path / "result.zarr")
    steps = tmp_path / "steps.yaml"
    assert main(["export-pipeline", str(tmp_path / "result.zarr"), str(steps)]) == 0
    capsys.readouterr()

    replay = ["run", str(steps), str(tmp_path / "scan.ome.zarr"), "--no-progress"]
    assert main([*replay, str(tmp_path / "coarse.zarr"), "--chunks", "128"]) == 2
    err = capsys.readouterr().err
    assert "makes 1 level of this input at this run's chunks (16 × 64 × 64 voxels)" in err
    said = re.search(r"run on the input with --chunks (\d+),", err)
    assert said is not None and "set 'levels: 2' on the pyramid step" in err, err
    assert "volume.chunk" not in err and "in Python" not in err  # the command's fix only
    assert not (tmp_path / "coarse.zarr").exists()
    # as the message says: the same result
    assert main([*replay, str(tmp_path / "again.zarr"), "--chunks", said.group(1)]) == 0
    np.testing.assert_allclose(
        open_result(tmp_path / "again.zarr").values, expected.values, rtol=1e-6
    )


@pytest.mark.parametrize("how", ["a tree of the level", "read back"])
def test_export_refuses_a_pyramid_step_whose_level_is_unknown(tmp_path, capsys, how):
    # a level computed in memory (level=, select_level) is recorded: tests/test_replay_levels.py
    scan = mct.from_array(np.zeros((16, 16, 16)), spacing=0.5, chunks=8, name="scan")
    tree = scan.microct.pyramid(levels=2)
    level1 = tree["scale1"]["scan"]  # level 1 stored alone: its store says "level 0"
    write_volume(level1, tmp_path / "level1.zarr")
    if how == "a tree of the level":
        alone = mct.open_pyramid(tmp_path / "level1.zarr")  # one level; the pyramid made 2
        alone.microct.gaussian(sigma=1, level=0).to_zarr(tmp_path / "result.zarr")
    else:
        level1 = mct.open_volume(tmp_path / "level1.zarr")
        level1.microct.gaussian(sigma=1).to_zarr(tmp_path / "result.zarr")
    assert (
        main(["export-pipeline", str(tmp_path / "result.zarr"), str(tmp_path / "steps.yaml")]) == 2
    )
    assert "which level is not recorded" in capsys.readouterr().err
    assert not (tmp_path / "steps.yaml").exists()


def test_spacing_and_units_on_the_command_line_calibrate_a_plain_tiff(tmp_path, capsys):
    import tifffile

    data = (np.random.default_rng(0).random((8, 16, 16)) * 1000).astype("uint16")
    tifffile.imwrite(tmp_path / "scan.tif", data)
    pipeline = tmp_path / "smooth.yaml"
    pipeline.write_text("steps:\n  - op: gaussian\n    params: {sigma: 1 um}\n")
    assert main(["info", str(tmp_path / "scan.tif")]) == 0  # says what it can
    assert "--spacing DZ DY DX --units" in capsys.readouterr().out
    calibrated = ["--spacing", "2", "0.5", "0.5", "--units", "micrometer"]
    assert main(["info", str(tmp_path / "scan.tif"), "--json", *calibrated]) == 0
    assert json.loads(capsys.readouterr().out)["levels"][0]["spacing"] == [2.0, 0.5, 0.5]
    out = tmp_path / "smooth.zarr"
    args = ["run", str(pipeline), str(tmp_path / "scan.tif"), str(out), "--no-progress"]
    assert main([*args, *calibrated]) == 0
    result = open_result(out)
    assert float(result.z[1] - result.z[0]) == 2.0 and result.x.attrs["units"] == "micrometer"
    assert main([*args, "--spacing", "1", "2", "--units", "micrometer"]) == 2


def test_info_of_a_tiff_without_voxel_size_says_what_it_can(tmp_path, capsys):
    import tifffile

    tifffile.imwrite(tmp_path / "scan.tif", np.zeros((6, 10, 12), "uint16"))
    assert main(["info", str(tmp_path / "scan.tif")]) == 0
    out = capsys.readouterr().out
    assert "6 × 10 × 12" in out and "uint16" in out  # shape, chunks, dtype
    assert "voxel size: not recorded" in out
    assert "--spacing DZ DY DX --units micrometer" in out  # how to give it
    info = store_info(tmp_path / "scan.tif")
    assert info["levels"][0]["spacing"] is None and "voxel size" in info["voxel_size"]
    assert main(["info", str(tmp_path / "scan.tif"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["levels"][0]["shape"] == [6, 10, 12]


@pytest.mark.parametrize("levels", [1, None])
def test_pipeline_exported_from_a_one_level_pyramid_replays(tmp_path, capsys, levels):
    rng = np.random.default_rng(1)
    data = rng.random((16, 16, 16), dtype="float32")
    scan = mct.from_array(data, spacing=0.5, chunks=16, name="scan")
    tree = scan.microct.pyramid(levels=levels)  # None: planned, one chunk: one level
    assert len(tree.children) == 1
    record = tree["scale0"]["scan"].attrs["microct_provenance"][-1]
    assert record["estimated"] == {"levels": 1}  # what the verb made is recorded
    tree.microct.to_zarr(tmp_path / "one.ome.zarr")
    expected = mct.open_volume(tmp_path / "one.ome.zarr").microct.gaussian(sigma="1 um")
    expected.to_zarr(tmp_path / "result.zarr")
    exported = tmp_path / "steps.yaml"
    # was: "which level is not recorded"
    assert main(["export-pipeline", str(tmp_path / "result.zarr"), str(exported)]) == 0
    steps = yaml.safe_load(exported.read_text())["steps"]
    assert [s["op"] for s in steps] == ["gaussian"]  # level 0: the volume itself
    again = tmp_path / "again.zarr"
    run = ["run", str(exported), str(tmp_path / "one.ome.zarr"), str(again), "--no-progress"]
    assert main(run) == 0
    np.testing.assert_allclose(open_result(again).values, expected.values, rtol=1e-6)
    capsys.readouterr()


def test_run_reads_tiff_parts_by_name_and_refuses_channels_in_one_line(tmp_path, capsys):
    import tifffile

    # was: 3 slices (each file's first page), the flat field a 4th; channels read as
    # more slices; a file without pages a traceback (rc 1)
    truth = np.arange(12)[:, None, None] * 50 + np.random.default_rng(2).random((12, 16, 16))
    truth = truth.astype("uint16")
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(3):
        part = truth[4 * i : 4 * i + 4]
        tifffile.imwrite(folder / f"part_{i}.tif", part, photometric="minisblack")
    tifffile.imwrite(folder / "part_flatfield.tif", np.full((16, 16), 999, "uint16"))
    pipeline = tmp_path / "smooth.yaml"
    pipeline.write_text("steps:\n  - op: gaussian\n    params: {sigma: 1 um}\n")
    calibration = ["--spacing", "1", "--units", "micrometer", "--no-progress"]
    out = tmp_path / "smooth.zarr"
    with pytest.warns(UserWarning, match=r"left out: part_flatfield\.tif"):
        assert main(["run", str(pipeline), str(folder), str(out), *calibration]) == 0
    expected = mct.from_array(truth, spacing=1.0, units="micrometer").microct.gaussian(sigma=1)
    np.testing.assert_allclose(open_result(out).values, expected.values, rtol=1e-6)

    channels = tmp_path / "channels.ome.tif"
    tifffile.imwrite(channels, np.stack([truth, truth]), metadata={"axes": "CZYX"})
    (tmp_path / "cut.tif").write_bytes(b"II*\x00\x00\x00\x00\x00")  # no pages
    for source, says in ((channels, "C (channel) = 2"), (tmp_path / "cut.tif", "holds no image")):
        capsys.readouterr()
        refused = tmp_path / f"{source.stem}.zarr"
        assert main(["run", str(pipeline), str(source), str(refused), *calibration]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("microct: error: ") and says in error
        assert "\n" not in error and not refused.exists()


def test_warnings_are_one_line_of_microct(tmp_path):
    # was: "/…/xarray_microct/io/tiff.py:412: UserWarning: …" and the source line under it,
    # which reads as a crash to whoever runs the command
    import tifffile

    folder = tmp_path / "slices"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"rec_{i:04d}.tif", np.zeros((8, 8), "uint16"))
    tifffile.imwrite(folder / "rec_flatfield.tif", np.zeros((8, 8), "uint16"))
    command = [sys.executable, "-m", "xarray_microct", "info", str(folder), "--spacing", "1"]
    result = subprocess.run(
        [*command, "--units", "micrometer"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("microct: warning: "), result.stderr
    assert "rec_flatfield.tif" in lines[0] and ".py:" not in lines[0]


def test_info_shows_the_count_and_radius_of_a_bead_run(tmp_path, capsys):
    # was: no word of the beads (a user had to open the labels and count them)
    from xarray_microct.synthetic import bead_pack

    volume, _ = bead_pack(48, radius=6, seed=3, chunks=24, spacing=2.0)
    volume.rename("scan").to_zarr(tmp_path / "pack.zarr")
    out = tmp_path / "beads.zarr"
    assert main(["run", "beads", str(tmp_path / "pack.zarr"), str(out), "--no-progress"]) == 0
    capsys.readouterr()
    stored = open_result(out).values
    present, voxels = np.unique(stored[stored > 0], return_counts=True)
    radius = np.median(np.cbrt(3 * voxels * 2.0**3 / (4 * np.pi)))  # the balls of their volumes
    assert main(["info", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = f"labels: {present.size}, median equivalent radius {radius:.4g} micrometer; bead "
    line = next(line for line in lines if line.startswith("labels: "))
    assert line.startswith(said) and line.endswith(" micrometer (estimated)")
    values = _info_json(capsys, out)["values"]
    assert values["label_count"] == present.size
    assert values["median_equivalent_radius"] == pytest.approx(radius, rel=1e-9)
    assert values["bead_radius"] == open_result(out).attrs["bead_radius"] > 0


def test_info_shows_the_computed_values_of_a_plain_zarr_volume(tmp_path, capsys):
    # was: only an OME-Zarr's were shown; a mask written with xarray's to_zarr had no
    # "values" (nor its line), though its threshold is stored with it
    scan = np.random.default_rng(0).normal(100.0, 10.0, (8, 16, 16))
    mask = mct.from_array(scan, chunks=8).microct.threshold("otsu")
    mask.to_zarr(tmp_path / "mask.zarr")
    values = _info_json(capsys, tmp_path / "mask.zarr")["values"]
    assert values["threshold"] == pytest.approx(float(mask.threshold), rel=1e-12)
    assert main(["info", str(tmp_path / "mask.zarr")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("computed: "))
    assert f"threshold {float(mask.threshold):.4g}" in line


def test_info_json_writes_a_value_not_found_as_null(tmp_path, capsys):
    # was: a threshold with no padding found (padding_value NaN) wrote a bare NaN in
    # --json's values, which strict JSON readers (jq, JSON.parse) refuse
    scan = np.random.default_rng(0).normal(100.0, 10.0, (8, 16, 16))
    mask = mct.from_array(scan, chunks=8).microct.threshold("otsu")
    mask.microct.to_zarr(tmp_path / "mask.ome.zarr")
    assert main(["info", "--json", str(tmp_path / "mask.ome.zarr")]) == 0

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    values = json.loads(capsys.readouterr().out, parse_constant=refuse)["values"]
    assert values["padding_value"] is None and values["padding_share"] == 0.0
    assert main(["info", str(tmp_path / "mask.ome.zarr")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("computed: "))
    assert "padding_value" not in line and "padding_share 0" in line
