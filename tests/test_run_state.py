"""The run state a store of ``microct run`` shows while it is written, and after; a
resume writes only into the run it checked, read again once it holds the output."""

from __future__ import annotations

import pickle
import re
import shutil
import uuid
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import zarr

import xarray_microct as mct
from xarray_microct.core.errors import command_line_message
from xarray_microct.io import results, tables
from xarray_microct.io.ome import IncompleteStoreError
from xarray_microct.io.results import open_result, run_state, set_state, write_volume
from xarray_microct.io.safety import check_replaceable, foreign_entries, how_to_finish
from xarray_microct.io.tables import read_table, write_table


class ChunkFailed(Exception):
    pass


def _volume():
    rng = np.random.default_rng(1)
    return mct.from_array(rng.random((8, 8, 8)), spacing=1.0, chunks=4, name="scan")


def _failing_on_first_block(volume):
    def fail(block, block_info=None):
        if block_info[0]["chunk-location"] == (0, 0, 0):
            raise ChunkFailed("disk full")
        return block

    return volume.copy(data=volume.data.map_blocks(fail, dtype=volume.dtype))


def test_a_resumed_run_says_it_is_running_until_it_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = _volume()
    out = tmp_path / "out.zarr"
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(volume), out, metadata={"step": "copy"})
    failed = run_state(out)
    assert failed["status"] == "failed" and "disk full" in failed["error"]

    seen = []
    compute = results.compute

    def watching(collections, client, progress):
        seen.append(run_state(out))  # what a `microct info` shows while the chunks compute
        return compute(collections, client, progress)

    monkeypatch.setattr(results, "compute", watching)
    write_volume(volume, out, metadata={"step": "copy"}, resume=True)
    running = seen[0]  # the chunks' compute (the display window's read-back follows)
    assert running["status"] == "incomplete"  # not the old "failed"
    assert "error" not in running and "stopped" not in running
    assert running["started"] == failed["started"] and running["resumed"] >= failed["stopped"]
    done = run_state(out)
    assert done["status"] == "complete" and done["resumed"] == running["resumed"]
    assert 1 <= done["chunks_written"] < 8  # the chunks stored before the failure are kept
    np.testing.assert_array_equal(open_result(out).values, volume.values)


def test_a_failed_display_window_read_stops_the_run_as_failed_and_a_resume_reads_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    volume = _volume()
    out = tmp_path / "out.zarr"
    window = results.stored_window

    def unreadable(*args, **kwargs):
        raise OSError("read timed out")

    monkeypatch.setattr(results, "stored_window", unreadable)
    with pytest.raises(OSError, match="read timed out"):
        write_volume(volume, out, metadata={"step": "copy"})
    stopped = run_state(out)
    assert stopped["status"] == "failed" and "read timed out" in stopped["error"]
    assert "stopped" in stopped

    monkeypatch.setattr(results, "stored_window", window)
    write_volume(volume, out, metadata={"step": "copy"}, resume=True)
    done = run_state(out)
    assert done["status"] == "complete" and done["chunks_written"] == 0  # the window only
    assert "error" not in done
    np.testing.assert_array_equal(open_result(out).values, volume.values)


def test_opening_an_unfinished_run_output_advises_resume(tmp_path: Path) -> None:
    out = tmp_path / "out.zarr"
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(_volume()), out, metadata={"step": "copy"})
    # was: "resume=True (run_pipeline)", to a caller of write_volume
    with pytest.raises(
        IncompleteStoreError, match=r"write_volume\(\.\.\., resume=True\)"
    ) as refused:
        mct.open_volume(out)
    assert "to_zarr" not in str(refused.value)  # a run's output is finished by the run


def test_a_run_an_earlier_version_started_resumes_where_it_is(tmp_path: Path) -> None:
    """Earlier versions put the result's array in ``scale0`` (now ``0``): a resume
    finishes it there, keeping the chunks already stored."""
    volume = _volume()
    out = tmp_path / "out.zarr"
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(volume), out, metadata={"step": "copy"})
    (out / results.LEVEL).rename(out / results.EARLIER_LEVEL)
    zarr.consolidate_metadata(str(out))
    write_volume(volume, out, metadata={"step": "copy"}, resume=True)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [results.EARLIER_LEVEL]
    assert 1 <= run_state(out)["chunks_written"] < 8
    np.testing.assert_array_equal(open_result(out).values, volume.values)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _after_the_check(monkeypatch: pytest.MonkeyPatch, module, meanwhile) -> None:
    """Run ``meanwhile`` (another write of the output) once the run's output check has
    decided what to do, before the run claims the output."""
    start_run = module.start_run

    def then_another_write(*args, **kwargs):
        decided = start_run(*args, **kwargs)
        with monkeypatch.context() as inner:
            inner.setattr(module, "start_run", start_run)
            meanwhile()
        return decided

    monkeypatch.setattr(module, "start_run", then_another_write)


@pytest.mark.parametrize("meanwhile", ["restarted", "replaced"])
def test_a_resume_whose_store_another_run_took_before_its_claim_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    """The resume decided to resume run A; before it claimed the output, another run (B:
    other parameters) made it hold B: restarted there after the store was removed and
    stopped part way, or replaced by a finished --overwrite. Under the claim the resume
    reads the run state again, and writes none of A's chunks into B's store."""
    volume = _volume()
    out = tmp_path / "out.zarr"
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(volume), out, metadata={"step": "copy"})

    def other_run() -> None:
        other = volume * 2
        if meanwhile == "replaced":
            write_volume(other, out, metadata={"step": "double"}, overwrite=True)
            return
        shutil.rmtree(out)
        with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
            write_volume(_failing_on_first_block(other), out, metadata={"step": "double"})

    _after_the_check(monkeypatch, results, other_run)
    with pytest.raises(
        FileExistsError, match="changed while this run started: another write"
    ) as refused:
        write_volume(volume, out, metadata={"step": "copy"}, resume=True)
    # a Python caller reads a function, the command its subcommand (was `microct info`)
    assert "microct" not in str(refused.value) and "run_state(store)" in str(refused.value)
    assert "(`microct info`)" in command_line_message(refused.value)
    monkeypatch.undo()
    assert run_state(out)["identity"]["step"] == "double"
    before = _files(out)
    with pytest.raises(ValueError, match="cannot resume"):  # checked again: B's store
        write_volume(volume, out, metadata={"step": "copy"}, resume=True)
    assert _files(out) == before and not [p for p in tmp_path.iterdir() if p.name[0] == "."]


def test_a_resumed_table_does_not_replace_a_run_that_took_its_store_before_its_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "fibers.zarr"
    write_table(pd.DataFrame({"radius": [1.0, 2.0]}), out, metadata={"step": "a"})
    set_state(out, {**run_state(out), "status": "interrupted"})

    def other_run() -> None:  # an --overwrite with other parameters, finished
        write_table(pd.DataFrame({"radius": [9.0]}), out, metadata={"step": "b"}, overwrite=True)

    _after_the_check(monkeypatch, tables, other_run)
    with pytest.raises(FileExistsError, match="changed while this run started"):
        write_table(pd.DataFrame({"radius": [1.0, 2.0]}), out, metadata={"step": "a"}, resume=True)
    assert read_table(out)["radius"].tolist() == [9.0]
    assert run_state(out)["status"] == "complete"


def test_a_chunk_write_killed_mid_file_leaves_nothing_once_the_run_is_finished(
    tmp_path: Path,
) -> None:
    """A worker killed while zarr writes a chunk leaves zarr's temporary file
    (``NAME.<uuid>.partial``) in the store: it is the store's, not a foreign file (the
    result could not be overwritten), and the run that finishes the store removes it."""
    volume = _volume()
    out = tmp_path / "out.zarr"
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(volume), out, metadata={"step": "copy"})
    chunk = next(p for p in sorted((out / "0" / "scan" / "c").rglob("*")) if p.is_file())
    left = chunk.with_name(f"{chunk.name}.{uuid.uuid4().hex}.partial")
    left.write_bytes(chunk.read_bytes()[:3])  # what the killed write got to write
    metadata_left = out / f"zarr.{uuid.uuid4().hex}.partial"
    metadata_left.write_text("{")
    assert foreign_entries(out) == []  # the store's own writes: --overwrite may replace it
    check_replaceable(out)
    odd = chunk.with_name(f"{chunk.name}.notes.partial")  # not zarr's name: foreign, kept
    odd.write_text("mine")
    assert foreign_entries(out) == [str(odd.relative_to(out))]
    write_volume(volume, out, metadata={"step": "copy"}, resume=True)
    assert not left.exists() and not metadata_left.exists()
    assert odd.read_text() == "mine"
    np.testing.assert_array_equal(open_result(out).values, volume.values)


def test_a_lazy_scalar_coordinate_is_computed_with_the_chunks_sharing_their_work(
    tmp_path: Path,
) -> None:
    """A lazy 0-d coordinate (a total of the result) is stored with its value, and the
    blocks it shares with the chunks written are computed once, not once for each."""
    volume = _volume()
    runs = []

    def doubled(block: np.ndarray) -> np.ndarray:
        runs.append(1)
        return block * 2

    data = volume.data.map_blocks(doubled, dtype=volume.dtype)
    result = volume.copy(data=data).assign_coords(
        total=((), data.sum()), level=((), np.float64(0.5))
    )
    runs.clear()  # the call on dask's meta, when the graph was built
    with dask.config.set(scheduler="threads"):
        write_volume(result, tmp_path / "out.zarr")
    assert len(runs) == volume.data.npartitions
    back = open_result(tmp_path / "out.zarr")
    np.testing.assert_allclose(float(back.total), 2 * volume.values.sum())
    assert float(back.level) == 0.5
    np.testing.assert_array_equal(back.values, 2 * volume.values)


def test_a_written_table_states_each_columns_unit_for_other_readers(tmp_path):
    """A user opening a table store with xarray or pint-xarray sees each column's unit on
    the column itself (the units were only a store-level attribute, which neither reads
    per column); ``read_table`` gives the table back with its ``attrs`` as written."""
    import xarray as xr

    scan = np.zeros((12, 16, 16), "float32")
    scan[:, 4:8, 4:8] = 1.0
    vol = mct.from_array(scan, spacing=(2.0, 0.5, 0.5), units="mm", chunks=6)
    props = vol.microct.threshold(0.5).microct.label().microct.regionprops()
    fibers = pd.DataFrame({"fiber_id": [1, 1], "z": [0.0, 2.0], "radius": [1.0, 1.1]})
    fibers.attrs["units"] = "millimeter"
    for name, table, expected in (
        ("props.zarr", props, {"volume": "millimeter**3", "centroid_x": "millimeter"}),
        ("fibers.zarr", fibers, {"z": "millimeter", "radius": "millimeter"}),
    ):
        write_table(table, tmp_path / name)
        dataset = xr.open_zarr(tmp_path / name)
        for column, unit in expected.items():
            assert dataset[column].attrs["units"] == unit
        unitless = "label" if "label" in table else "fiber_id"
        assert "units" not in dataset[unitless].attrs
        quantified = dataset.pint.quantify()
        assert quantified["volume" if "volume" in table else "radius"].pint.units is not None
        back = read_table(tmp_path / name)
        assert back.attrs["units"] == table.attrs["units"]
        pd.testing.assert_frame_equal(back, table, check_dtype=False)


def _said(call) -> tuple[str, str]:
    """What ``call`` raises, as Python reads it and as the ``microct`` command prints it."""
    with pytest.raises((ValueError, FileExistsError)) as caught:
        call()
    again = pickle.loads(pickle.dumps(caught.value))  # as a Dask worker would send it
    assert (str(again), command_line_message(again)) == (
        str(caught.value),
        command_line_message(caught.value),
    )
    return str(caught.value), command_line_message(caught.value)


def test_a_python_caller_reads_the_keywords_and_the_command_its_options(tmp_path: Path) -> None:
    # was: every one of these named --overwrite, --resume or --chunks to a Python caller
    volume, out = _volume(), tmp_path / "out.zarr"
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(volume), out, metadata={"chunks": [4, 4, 4]})
    other = {"chunks": [8, 8, 8]}
    calls = {
        "both": lambda: results.check_output(out, overwrite=True, resume=True),
        "interrupted": lambda: write_volume(volume, out, metadata={"chunks": [4, 4, 4]}),
        "other chunks": lambda: write_volume(volume, out, metadata=other, resume=True),
        "opened": lambda: open_result(out),
        "opened as a volume": lambda: mct.open_volume(out),
    }
    python, command = {}, {}
    for what, call in calls.items():
        python[what], command[what] = _said(call)
        assert not re.search(r"--(overwrite|resume|chunks)", python[what]), python[what]
        # a store write_volume wrote is finished from Python: the command says so
        written_from_python = what.startswith("opened")
        assert bool(re.search(r"--(overwrite|resume|chunks)", command[what])) != (
            written_from_python
        ), command[what]
    assert "overwrite=True" in python["both"] and "resume=True" in python["both"]
    assert "pass resume=True to finish it" in python["interrupted"]
    assert "pass --resume to finish it" in command["interrupted"]
    assert "chunks of 4 × 4 × 4 voxels: resume with chunks=None" in python["other chunks"]
    assert "chunks of 4 × 4 × 4 voxels: resume without --chunks" in command["other chunks"]
    for opened in ("opened", "opened as a volume"):
        assert "finish it with write_volume(..., resume=True)" in python[opened]
        assert "write_volume(..., resume=True)" in command[opened]
        assert "run_pipeline" not in python[opened] + command[opened]
    write_volume(volume, out, metadata={"chunks": [4, 4, 4]}, resume=True)
    python["done"], command["done"] = _said(lambda: write_volume(volume, out))
    assert python["done"].endswith("pass overwrite=True to replace it")
    assert command["done"].endswith("pass --overwrite to replace it")


def _made_meanwhile(monkeypatch: pytest.MonkeyPatch, module, make) -> None:
    """Run ``make`` (a write that makes the output) once the write's output check found
    nothing there, before the write claims it."""
    check = module._check_target

    def then_made(*args, **kwargs):
        decided = check(*args, **kwargs)
        with monkeypatch.context() as inner:
            inner.setattr(module, "_check_target", check)
            make()
        return decided

    monkeypatch.setattr(module, "_check_target", then_made)


@pytest.mark.parametrize("writer", ["write_volume", "write_table", "to_ome_zarr"])
def test_a_store_made_while_a_write_started_is_refused_in_the_callers_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    # was: "Pass mode='w' (--overwrite)" to every caller: write_volume's and
    # write_table's keyword is overwrite=True, the command's option --overwrite
    from xarray_microct.io import ome

    volume, out = _volume(), tmp_path / "out.zarr"
    table = pd.DataFrame({"radius": [1.0, 2.0]})
    if writer == "write_volume":
        _after_the_check(monkeypatch, results, lambda: write_volume(volume * 2, out))
        python, command = _said(lambda: write_volume(volume, out))
    elif writer == "write_table":
        _after_the_check(monkeypatch, tables, lambda: write_table(table * 2, out))
        python, command = _said(lambda: write_table(table, out))
    else:
        _made_meanwhile(monkeypatch, ome, lambda: ome.to_ome_zarr(volume * 2, out))
        python, command = _said(lambda: ome.to_ome_zarr(volume, out))
    said = f"{out} was made by another write while this one started; nothing was written."
    keyword = "mode='w'" if writer == "to_ome_zarr" else "overwrite=True"
    assert python == f"{said} Pass {keyword} to replace it, or choose another path"
    assert command == f"{said} Pass --overwrite to replace it, or choose another path"
    monkeypatch.undo()
    assert run_state(out) is None if writer == "to_ome_zarr" else run_state(out)["status"]


@pytest.mark.parametrize("writer", ["write_volume", "write_table", "run_pipeline"])
def test_an_output_that_is_no_run_is_refused_naming_the_function_called(
    tmp_path: Path, writer: str
) -> None:
    # was: "not written by `microct run`" to a Python caller of write_volume
    from xarray_microct.io.ome import to_ome_zarr
    from xarray_microct.runner import run_pipeline

    scan, volume = tmp_path / "scan.zarr", _volume()
    volume.to_zarr(scan)
    write = {
        "write_volume": lambda out, **kw: write_volume(volume, out, **kw),
        "write_table": lambda out, **kw: write_table(pd.DataFrame({"radius": [1.0]}), out, **kw),
        "run_pipeline": lambda out, **kw: run_pipeline(
            [{"op": "gaussian", "params": {"sigma": 1.0}}],
            scan,
            out,
            echo=lambda line: None,
            progress=False,
            **kw,
        ),
    }[writer]
    foreign = tmp_path / "foreign.zarr"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    python, command = _said(lambda: write(foreign))
    assert python.startswith(f"{foreign} exists and was not written by {writer}; choose another")
    assert "microct" not in python.replace("xarray-microct", "")
    assert command.startswith(f"{foreign} exists and was not written by `microct run`; choose")
    assert (foreign / "notes.txt").read_text() == "keep me"
    # an image to_ome_zarr wrote is no run's output, but may be replaced
    image = tmp_path / "image.zarr"
    to_ome_zarr(volume, image)
    python, command = _said(lambda: write(image))
    assert f"not the output of {writer}; pass overwrite=True to replace it" in python
    assert "not the output of `microct run`; pass --overwrite to replace it" in command
    write(image, overwrite=True)
    assert run_state(image)["status"] == "complete" and run_state(image)["writer"] == writer


def test_an_interrupted_output_says_how_the_function_that_wrote_it_finishes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # was: every interrupted output named run_pipeline(..., resume=True), also to the
    # caller of write_volume or write_table, whose own resume=True finishes it
    from xarray_microct.cli import main
    from xarray_microct.runner import run_pipeline

    scan, volume = tmp_path / "scan.zarr", _volume()
    volume.to_zarr(scan)
    table = pd.DataFrame({"radius": [1.0, 2.0]})
    outs = {w: tmp_path / f"{w}.zarr" for w in ("write_volume", "write_table", "run_pipeline")}
    with dask.config.set(scheduler="synchronous"), pytest.raises(ChunkFailed):
        write_volume(_failing_on_first_block(volume), outs["write_volume"])
    write_table(table, outs["write_table"])
    set_state(outs["write_table"], {**run_state(outs["write_table"]), "status": "interrupted"})
    steps = [{"op": "gaussian", "params": {"sigma": 1.0}}]
    run_pipeline(steps, scan, outs["run_pipeline"], echo=lambda line: None, progress=False)
    state = run_state(outs["run_pipeline"])
    set_state(outs["run_pipeline"], {**state, "status": "interrupted"})
    for writer, out in outs.items():
        assert run_state(out)["writer"] == writer
        python, command = _said(lambda out=out: open_result(out))
        if writer == "run_pipeline":
            assert "finish it with run_pipeline(..., resume=True)" in python
            assert "finish it with the same `microct run` command and --resume" in command
        else:
            assert f"finish it with {writer}(..., resume=True)" in python
            assert f"{writer}(..., resume=True)" in command and "microct run" not in command
            assert "run_pipeline" not in python + command
        assert "--" not in python
        assert main(["info", str(out)]) == 0
        printed = capsys.readouterr().out.splitlines()
        unfinished = [line for line in printed if line.startswith("  unfinished")]
        assert unfinished == [f"  unfinished: {how_to_finish(run_state(out))[1]}"]
        assert command.endswith(how_to_finish(run_state(out))[1])
    # each one's own resume finishes it
    write_volume(volume, outs["write_volume"], resume=True)
    write_table(table, outs["write_table"], resume=True)
    run_pipeline(steps, scan, outs["run_pipeline"], resume=True, echo=lambda line: None)
    assert all(run_state(out)["status"] == "complete" for out in outs.values())
    # a store of an earlier version, whose writer is not recorded, names every way
    earlier = {k: v for k, v in run_state(outs["write_volume"]).items() if k != "writer"}
    set_state(outs["write_volume"], {**earlier, "status": "failed"})
    python, command = _said(lambda: open_result(outs["write_volume"]))

    assert "resume=True to the function that wrote it (run_pipeline, write_volume or" in python
    assert "the same `microct run` command and --resume" in command
