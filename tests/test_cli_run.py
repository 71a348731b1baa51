"""``microct run`` and ``microct export-pipeline``: pipeline files, bad input, resume, MPI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
import yaml
import zarr
from helpers import StopAfterStores, fresh_python

import xarray_microct as mct
import xarray_microct.io.results
from xarray_microct.cli import main
from xarray_microct.pipelines import fibers
from xarray_microct.runner import open_result, read_table, run_pipeline, run_state
from xarray_microct.synthetic import fiber_bed

STEPS = [
    {"op": "median", "params": {"radius": "1 voxel"}},
    {"op": "gaussian", "params": {"sigma": "1.3 um"}},
    {"op": "normalize", "params": {"method": "percentile", "lower": 1, "upper": 99}},
]


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic fiber scan (anisotropic voxels) stored as Zarr, 2×3×3 chunks."""
    store = tmp_path_factory.mktemp("scan") / "scan.zarr"
    volume, _ = fiber_bed((32, 48, 48), spacing=(1.3, 0.65, 0.65), radius=3.0, chunks=16)
    volume.rename("scan").to_zarr(store)
    return store


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": STEPS}))
    return path


def reference(scan: Path) -> np.ndarray:
    """The same chain called verb by verb in this process, synchronous scheduler."""
    volume = mct.open_volume(scan)
    with dask.config.set(scheduler="synchronous"):
        return (
            volume.microct.median(radius="1 voxel")
            .microct.gaussian(sigma="1.3 um")
            .microct.normalize(method="percentile", lower=1, upper=99)
            .values
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- running pipeline files


def test_run_yaml_pipeline_with_progress(
    scan: Path,
    pipeline_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("xarray_microct.runner._on_a_terminal", lambda: True)  # bars drawn
    # for any computation: the write of this small scan takes less than the second a
    # bar waits for
    bar = xarray_microct.io.results.own_progress_bar
    monkeypatch.setattr(
        "xarray_microct.io.results.own_progress_bar", lambda minimum: bar(minimum=0)
    )
    out = tmp_path / "out.zarr"
    assert main(["run", str(pipeline_file), str(scan), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "threaded scheduler" in printed
    assert "median → gaussian → normalize" in printed
    assert "100% Completed" in printed  # the progress bar
    result = open_result(out)
    np.testing.assert_array_equal(result.values, reference(scan))
    assert [r["op"] for r in result.attrs["microct_provenance"]][-3:] == [
        "median",
        "gaussian",
        "normalize",
    ]
    assert result.microct.grid.spacing == (1.3, 0.65, 0.65)
    assert run_state(out)["status"] == "complete"
    # An OME-Zarr (NGFF 0.5) image: the pyramid reader and the NGFF metadata agree.
    tree = mct.open_pyramid(out)
    np.testing.assert_array_equal(tree.microct.select_level(0).values, result.values)
    multiscale = zarr.open_group(str(out), mode="r").attrs["ome"]["multiscales"][0]
    assert [a["unit"] for a in multiscale["axes"]] == ["micrometer"] * 3
    assert multiscale["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.3, 0.65, 0.65]


def test_threaded_run_does_not_import_distributed_to_look_for_a_client(
    scan: Path, tmp_path: Path
) -> None:
    # a fresh process: Dask imports distributed (0.4 s) at each compute and rechunk to
    # look for a client unless told that none exists (dask.delayed still imports it)
    steps = tmp_path / "steps.yaml"
    steps.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": STEPS[:2]}))
    out = tmp_path / "out.zarr"
    code = (
        "import sys\n"
        "from xarray_microct.cli import main\n"
        f"main(['run', {str(steps)!r}, {str(scan)!r}, {str(out)!r}, '--no-progress'])\n"
        "print(sorted(m for m in ('distributed', 'tornado') if m in sys.modules))\n"
    )
    assert fresh_python(code).splitlines()[-1] == "[]"
    volume = mct.open_volume(scan)
    with dask.config.set(scheduler="synchronous"):
        expected = volume.microct.median(radius="1 voxel").microct.gaussian(sigma="1.3 um")
        np.testing.assert_allclose(open_result(out).values, expected.values, rtol=1e-6)


def test_the_no_client_setting_keeps_what_the_user_set(monkeypatch: pytest.MonkeyPatch) -> None:
    import dask.threaded

    from xarray_microct.cli import _no_client_to_look_for

    monkeypatch.delitem(sys.modules, "distributed", raising=False)
    with _no_client_to_look_for("threads"):
        assert dask.config.get("scheduler") is dask.threaded.get
        assert dask.config.get("array.rechunk.method") == "tasks"
    assert dask.config.get("scheduler", None) is None  # as it was
    with dask.config.set(scheduler="synchronous"), _no_client_to_look_for("threads"):
        assert dask.config.get("scheduler") == "synchronous"
        assert dask.config.get("array.rechunk.method") == "tasks"
    with _no_client_to_look_for("local"):  # a cluster's client is looked for
        assert dask.config.get("scheduler", None) is None


def test_run_on_worker_processes_without_a_dashboard(
    scan: Path, pipeline_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.zarr"
    args = ["run", str(pipeline_file), str(scan), str(out), "--workers", "1", "--no-progress"]
    assert main([*args, "--no-dashboard"]) == 0
    where = capsys.readouterr().out.splitlines()[0]
    assert where.endswith("1 workers, 1 threads")  # no dashboard link: none is served
    np.testing.assert_array_equal(open_result(out).values, reference(scan))
    assert main([*args, "--overwrite"]) == 0  # served by default
    assert "; dashboard: http://" in capsys.readouterr().out.splitlines()[0]


def test_export_pipeline_round_trips(scan: Path, pipeline_file: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.zarr"
    assert main(["run", str(pipeline_file), str(scan), str(first), "--no-progress"]) == 0
    for suffix in (".yaml", ".json"):
        exported = tmp_path / f"exported{suffix}"
        assert main(["export-pipeline", str(first), str(exported)]) == 0
        text = exported.read_text()
        content = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        assert [s["op"] for s in content["steps"]] == ["median", "gaussian", "normalize"]
        assert content["versions"]["scipy"]  # the versions that made the result
        again = tmp_path / f"again{suffix}.zarr"
        assert main(["run", str(exported), str(scan), str(again), "--no-progress"]) == 0
        np.testing.assert_array_equal(open_result(again), open_result(first))
    assert main(["export-pipeline", str(first), str(exported)]) == 2  # no clobbering


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (links not followed) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def stored_result(tmp_path: Path) -> Path:
    """A result (gaussian) stored by ``to_zarr`` from a scan stored in the same folder."""
    rng = np.random.default_rng(0)
    volume = mct.from_array(rng.random((8, 16, 16), dtype="float32"), spacing=1.0, name="scan")
    volume.microct.to_zarr(tmp_path / "scan.ome.zarr")
    smoothed = mct.open_volume(tmp_path / "scan.ome.zarr").microct.gaussian(sigma=1)
    smoothed.microct.to_zarr(tmp_path / "res.ome.zarr")
    return tmp_path / "res.ome.zarr"


@pytest.mark.parametrize("kind", ["tiff", "hand-written yaml", "hand-written json"])
def test_export_pipeline_overwrite_refuses_a_file_it_did_not_write(
    stored_result: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    folder = stored_result.parent
    if kind == "tiff":
        import tifffile

        target = folder / "scan.tif"
        tifffile.imwrite(target, np.arange(64, dtype="uint16").reshape(4, 4, 4))
    else:  # a pipeline file of the user's, in the very format export-pipeline writes
        content = {"microct_pipeline": 1, "steps": STEPS}
        target = folder / ("steps.json" if kind.endswith("json") else "steps.yaml")
        target.write_text(json.dumps(content) if kind.endswith("json") else yaml.safe_dump(content))
    before = _files(folder)
    assert main(["export-pipeline", str(stored_result), str(target), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was not written by xarray-microct" in err
    assert "Remove it yourself or choose another path" in err
    assert _files(folder) == before  # the file and everything else as they were


@pytest.mark.parametrize("overwrite", [True, False])
def test_export_pipeline_never_writes_through_a_symbolic_link(
    stored_result: Path, capsys: pytest.CaptureFixture[str], overwrite: bool
) -> None:
    folder = stored_result.parent
    (folder / "real.txt").write_text("precious")
    (folder / "link.yaml").symlink_to("real.txt")
    (folder / "dangling.yaml").symlink_to("nowhere.txt")
    before = _files(folder)
    flag = ["--overwrite"] if overwrite else []
    for link in ("link.yaml", "dangling.yaml"):
        assert main(["export-pipeline", str(stored_result), str(folder / link), *flag]) == 2
        assert "is a symbolic link; refusing to write through it" in capsys.readouterr().err
    assert _files(folder) == before
    assert not (folder / "nowhere.txt").exists()
    assert os.readlink(folder / "link.yaml") == "real.txt"


@pytest.mark.parametrize(
    ("target", "overwrite", "relation"),
    [
        ("res.ome.zarr/zarr.json", True, "lies inside the input"),  # its root metadata
        ("res.ome.zarr/p.yaml", False, "lies inside the input"),  # a foreign file in it
        ("res.ome.zarr", True, "is the input"),
        ("scan.ome.zarr/p.yaml", False, "lies inside the input"),  # the result's source
    ],
)
def test_export_pipeline_refuses_the_input_and_paths_inside_it(
    stored_result: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    overwrite: bool,
    relation: str,
) -> None:
    folder = stored_result.parent
    before = _files(folder)
    flag = ["--overwrite"] if overwrite else []
    assert main(["export-pipeline", str(stored_result), str(folder / target), *flag]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and relation in err
    assert _files(folder) == before
    expected = mct.open_volume(folder / "scan.ome.zarr").microct.gaussian(sigma=1)
    np.testing.assert_array_equal(open_result(stored_result).values, expected.values)
    # the stores are still ours, whole: replaceable by a run
    steps = folder / "steps.yaml"
    assert main(["export-pipeline", str(stored_result), str(steps)]) == 0
    assert (
        main(
            [
                "run",
                str(steps),
                str(folder / "scan.ome.zarr"),
                str(stored_result),
                "--overwrite",
                "--no-progress",
            ]
        )
        == 0
    )


def test_export_pipeline_refuses_a_folder_with_the_right_reason(
    stored_result: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = stored_result.parent / "steps.yaml"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    for flag in ([], ["--overwrite"]):
        assert main(["export-pipeline", str(stored_result), str(folder), *flag]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is a folder; a pipeline file is one file" in err
        assert "--resume" not in err  # export-pipeline has no --resume
    assert _files(folder) == {"notes.txt": b"mine"}


def test_export_pipeline_inside_a_file_says_it_is_a_file(
    stored_result: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # was: "the folder notes.txt does not exist; create it first"
    notes = stored_result.parent / "notes.txt"
    notes.write_text("mine")
    for flag in ([], ["--overwrite"]):
        assert main(["export-pipeline", str(stored_result), str(notes / "p.yaml"), *flag]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "notes.txt is a file, not a folder" in err
        assert "--resume" not in err
    assert notes.read_text() == "mine"


def test_export_pipeline_overwrite_replaces_only_its_own_pipeline_files(
    stored_result: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = stored_result.parent
    other = folder / "other.zarr"
    mct.open_volume(stored_result).microct.median(radius=1).microct.to_zarr(other)
    for suffix in (".yaml", ".json"):
        ours = folder / f"exported{suffix}"
        assert main(["export-pipeline", str(stored_result), str(ours)]) == 0
        assert main(["export-pipeline", str(other), str(ours)]) == 2  # not without --overwrite
        assert "already exists" in capsys.readouterr().err
        assert main(["export-pipeline", str(other), str(ours), "--overwrite"]) == 0
        content = yaml.safe_load(ours.read_text())  # JSON is YAML
        assert [s["op"] for s in content["steps"]] == ["gaussian", "median"]
        # a pipeline file of the user's in the same format is not replaced
        mine = folder / f"mine{suffix}"
        mine.write_text(json.dumps({"microct_pipeline": 1, "steps": STEPS}))
        assert main(["export-pipeline", str(other), str(mine), "--overwrite"]) == 2
        assert yaml.safe_load(mine.read_text())["steps"] == STEPS
    # written beside the file and moved into place: nothing else is left
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        "exported.json",
        "exported.yaml",
        "mine.json",
        "mine.yaml",
    ]


def test_failed_export_leaves_the_old_pipeline_file(
    stored_result: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    folder = stored_result.parent
    ours = folder / "steps.yaml"
    assert main(["export-pipeline", str(stored_result), str(ours)]) == 0
    old = ours.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    other = folder / "other.zarr"
    mct.open_volume(stored_result).microct.median(radius=1).microct.to_zarr(other)
    monkeypatch.setattr(os, "fsync", full_disk)
    assert main(["export-pipeline", str(other), str(ours), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "--resume" not in err
    assert ours.read_bytes() == old
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == ["steps.yaml"]


def test_a_failed_write_offers_resume_only_for_an_output_left_unfinished(
    scan: Path,
    pipeline_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # was: every OSError of `run` ended "(an interrupted output is resumable with
    # --resume)", also where no output was made (a read-only folder) to resume
    import errno

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert main(["run", str(pipeline_file), str(scan), str(blocked / "out.zarr")]) == 2
    assert "--resume" not in capsys.readouterr().err
    original = zarr.storage.LocalStore.set

    async def full_disk(store, key, value, *args, **kwargs):
        if "/c/" in key:
            raise OSError(errno.ENOSPC, "No space left on device", key)
        return await original(store, key, value, *args, **kwargs)

    monkeypatch.setattr(zarr.storage.LocalStore, "set", full_disk)
    out = tmp_path / "out.zarr"
    assert main(["run", str(pipeline_file), str(scan), str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err
    assert f"{out} is marked failed: once fixed, finish it with --resume" in err


@pytest.mark.parametrize("name", ["fibers.csv", "smooth.TIF", "result.h5"])
def test_a_new_output_named_as_another_format_is_refused(
    scan: Path,
    pipeline_file: Path,
    tmp_path: Path,
    name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # was: a Zarr store (a folder) written under the name, which Excel, Fiji or h5py
    # then failed to open
    out = tmp_path / name
    assert main(["run", str(pipeline_file), str(scan), str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"would be a Zarr store (a folder), not a {out.suffix.lower()} file" in err
    assert f"name it {out.with_suffix('.zarr')}" in err
    assert not out.exists()


def test_bare_list_of_records_is_a_pipeline(scan: Path, tmp_path: Path) -> None:
    volume = mct.open_volume(scan)
    result = volume.microct.median(radius="1 voxel").microct.gaussian(sigma="1.3 um")
    records = tmp_path / "records.json"
    records.write_text(json.dumps(result.attrs["microct_provenance"]))  # incl. open_volume
    out = run_pipeline(records, scan, tmp_path / "out.zarr", progress=False, echo=lambda line: None)
    np.testing.assert_allclose(open_result(out), result, rtol=1e-6)


# ---------------------------------------------------------------- errors before any work


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"op": "gausian", "params": {"sigma": 1}}], "unknown operation 'gausian'"),
        ([{"op": "gaussian", "params": {"sigma": 1, "sgima": 2}}], "unexpected keyword"),
        # a misspelt required key is named, with the key it stands for (not "missing sigma")
        ([{"op": "gaussian", "params": {"sigmaa": 1}}], "'sigmaa' (did you mean 'sigma'?)"),
        # a parameter written beside the op (not under params) is named, with the fix
        ([{"op": "gaussian", "sigma": "1 um"}], "'sigma' given beside 'op'"),
        # params that are not a mapping, and a misspelt 'params' key, are named as such
        ([{"op": "gaussian", "params": "sigma=1"}], "step 0 (gaussian): 'params' is"),
        ([{"op": "gaussian", "params": [1]}], "step 0 (gaussian): 'params' is"),
        ([{"op": "pyramid", "params": "levels=2"}], "step 0 (pyramid): 'params' is"),
        ([{"op": "gaussian", "parms": {"sigma": 1}}], "'parms' (did you mean 'params'?)"),
        ([{"op": "gaussian", "params": {"sigma": "1 parsec"}}], "step 0 (gaussian)"),
        ([{"op": "normalize", "params": {"method": "median"}}], "method must be"),
        ([{"op": "median", "params": {"radius": "100 um"}}], "larger than the volume"),
        ([{"params": {}}], "has no 'op'"),
        ({"steps": "gaussian"}, "must hold a list of steps"),
    ],
)
def test_bad_pipeline_fails_before_any_work(
    scan: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    steps: object,
    message: str,
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(steps))
    out = tmp_path / "out.zarr"
    assert main(["run", str(path), str(scan), str(out)]) == 2
    error = capsys.readouterr().err
    assert message in error and str(path) in error
    assert not out.exists()


def test_unknown_pipeline_name_and_missing_file(
    scan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "fibres", str(scan), str(tmp_path / "o.zarr")]) == 2
    assert "unknown pipeline 'fibres'" in capsys.readouterr().err
    assert main(["run", "nope.yaml", str(scan), str(tmp_path / "o.zarr")]) == 2
    assert "pipeline file nope.yaml does not exist" in capsys.readouterr().err


def test_unreachable_scheduler_fails_before_any_work(
    scan: Path, pipeline_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.zarr"
    address = f"tcp://127.0.0.1:{free_port()}"
    code = main(
        ["run", str(pipeline_file), str(scan), str(out), "--scheduler", address, "--timeout", "1"]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address} within 1 s:" in error  # its unit
    assert not out.exists()


def test_mpi_without_mpi4py_fails_before_any_work(
    scan: Path,
    pipeline_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mpi4py" else real(name, *a)
    )
    out = tmp_path / "out.zarr"
    assert main(["run", str(pipeline_file), str(scan), str(out), "--mpi"]) == 2
    assert "pip install 'xarray-microct[mpi]'" in capsys.readouterr().err
    assert not out.exists()


# ---------------------------------------------------------------- never clobber, resume


class Interrupted(Exception):
    """Stands for Ctrl-C or a killed job in the middle of a run."""


def test_interrupted_run_is_detected_and_resumed(
    scan: Path, pipeline_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.zarr"
    # in the stored chunks (16³, 18 of them; merged, the scan is one chunk); the resumes
    # below give no --chunks: they compute in the chunks the run started with
    with StopAfterStores(5, Interrupted), pytest.raises(Interrupted):
        run_pipeline(pipeline_file, scan, out, chunks=16, progress=False, echo=lambda line: None)
    assert run_state(out)["status"] == "failed"  # resumable, with the error recorded
    with pytest.raises(ValueError, match="interrupted write"):
        open_result(out)  # never mistaken for a complete result
    with pytest.raises(ValueError, match="incomplete"):
        mct.open_pyramid(out)  # nor by the OME-Zarr reader
    assert main(["run", str(pipeline_file), str(scan), str(out)]) == 2
    assert "pass --resume to finish it" in capsys.readouterr().err
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"steps": STEPS[1:]}))
    assert main(["run", str(other), str(scan), str(out), "--resume"]) == 2
    assert "different pipeline" in capsys.readouterr().err
    assert main(["run", str(pipeline_file), str(scan), str(out), "--resume"]) == 0
    state = run_state(out)
    assert state["status"] == "complete"
    assert 0 < state["chunks_written"] <= 18 - 5  # only the missing chunks were computed
    np.testing.assert_array_equal(open_result(out).values, reference(scan))
    assert main(["run", str(pipeline_file), str(scan), str(out), "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out


def test_existing_output_is_never_clobbered(
    scan: Path, pipeline_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.zarr"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    assert main(["run", str(pipeline_file), str(scan), str(out)]) == 2
    assert "not written by `microct run`" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"
    shutil.rmtree(out)
    assert main(["run", str(pipeline_file), str(scan), str(out), "--no-progress"]) == 0
    assert main(["run", str(pipeline_file), str(scan), str(out)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert (
        main(["run", str(pipeline_file), str(scan), str(out), "--overwrite", "--no-progress"]) == 0
    )
    assert main(["run", str(pipeline_file), str(scan), str(scan), "--overwrite"]) == 2
    assert "is the input" in capsys.readouterr().err
    assert mct.open_volume(scan).dtype == np.uint16  # the input is untouched


# ---------------------------------------------------------------- MPI
# (--workers N: tests/test_cluster.py starts its LocalCluster through the same options)


def _mpirun() -> str | None:
    beside = Path(sys.executable).parent / "mpirun"
    return str(beside) if beside.exists() else shutil.which("mpirun")


def test_mpirun_fiber_pipeline_with_dask_mpi_equals_threads(tmp_path: Path) -> None:
    pytest.importorskip("mpi4py", reason="MPI not installed: pip install 'xarray-microct[mpi]'")
    pytest.importorskip("dask_mpi", reason="pip install 'xarray-microct[mpi]'")
    mpirun = _mpirun()
    if mpirun is None:
        pytest.skip("no mpirun: pip install 'xarray-microct[mpi]' brings the mpich wheel")
    bed, _ = fiber_bed((16, 48, 48), seed=3, chunks=24)
    bed.rename("scan").to_zarr(tmp_path / "bed.zarr")
    out = tmp_path / "mpi.zarr"
    command = [
        mpirun,
        "-n",
        "4",
        sys.executable,
        "-m",
        "xarray_microct.cli",
        "run",
        "fibers",
        str(tmp_path / "bed.zarr"),
        str(out),
        "--mpi",
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 workers" in done.stdout  # 4 ranks: scheduler, client, 2 workers
    with dask.config.set(scheduler="threads"):
        expected = fibers(mct.open_volume(tmp_path / "bed.zarr"))
    table = read_table(out)
    assert table["fiber_id"].nunique() > 10
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_freed_memory_goes_back_to_the_os_for_volume_runs_only(
    scan: Path, pipeline_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a volume result: the allocator setting (process-wide) only when asked, as the
    # microct command asks; a table result (fibers) keeps glibc's pools
    calls = []
    monkeypatch.setattr(
        "xarray_microct.runner.keep_large_arrays_unpooled", lambda: calls.append(True)
    )
    quiet = {"progress": False, "echo": lambda line: None}
    run_pipeline(pipeline_file, scan, tmp_path / "a.zarr", **quiet)
    assert calls == []
    run_pipeline(pipeline_file, scan, tmp_path / "b.zarr", release_memory=True, **quiet)
    assert calls == [True]
    run_pipeline("fibers", scan, tmp_path / "c.zarr", release_memory=True, **quiet)
    assert calls == [True]


def test_a_run_given_a_relative_input_path_resumes(
    scan: Path,
    pipeline_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the input as users type it: relative to the working directory; the result's
    # provenance records its absolute path, and the resume must see one input
    monkeypatch.chdir(scan.parent)
    out = tmp_path / "relative.zarr"
    with StopAfterStores(5, Interrupted), pytest.raises(Interrupted):
        run_pipeline(
            pipeline_file, scan.name, out, chunks=16, progress=False, echo=lambda line: None
        )
    assert main(["run", str(pipeline_file), scan.name, str(out), "--resume"]) == 0
    np.testing.assert_array_equal(open_result(out).values, reference(scan))
    assert main(["run", str(pipeline_file), scan.name, str(out), "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out


def test_an_output_under_a_file_is_refused_before_any_work(
    scan: Path, pipeline_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # was only "[Errno 17] File exists: '.../afile'"
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for output in (afile / "out.zarr", afile / "deeper" / "out.zarr"):
        assert main(["run", str(pipeline_file), str(scan), str(output)]) == 2
        err = capsys.readouterr().err
        assert f"its parent {afile} is a file, not a folder" in err
    assert afile.read_text() == "not a folder"


def test_an_output_in_a_folder_that_cannot_be_written_is_named_so(
    scan: Path,
    pipeline_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # was "[Errno 13] Permission denied: '.../.out.zarr.microct-writer-....json'"; root
    # writes through chmod, so the folder's permission is what os.access reports
    import os

    folder = tmp_path / "locked"
    folder.mkdir()
    access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: Path(p) != folder and access(p, mode, **kw)
    )
    assert main(["run", str(pipeline_file), str(scan), str(folder / "out.zarr")]) == 2
    err = capsys.readouterr().err
    assert f"its folder {folder} is read-only or not writable" in err
    assert "microct-writer" not in err and "--resume" not in err
    assert list(folder.iterdir()) == []


def test_the_run_line_counts_one_chunk_as_one(tmp_path: Path, pipeline_file: Path) -> None:
    # a small scan merged into one chunk read "(0.0 Mvox, 1 chunks)"
    volume = mct.from_array(np.zeros((8, 16, 16), "float32"), spacing=1.0, name="scan")
    volume.microct.to_zarr(tmp_path / "one.ome.zarr")
    said: list[str] = []
    run_pipeline(
        pipeline_file,
        tmp_path / "one.ome.zarr",
        tmp_path / "a.zarr",
        progress=False,
        echo=said.append,
    )
    run_pipeline(
        pipeline_file,
        tmp_path / "one.ome.zarr",
        tmp_path / "b.zarr",
        chunks=8,
        progress=False,
        echo=said.append,
    )
    assert any("Mvox, 1 chunk)" in line for line in said), said
    assert any("Mvox, 4 chunks)" in line for line in said), said


@pytest.mark.parametrize("when", ["before", "meanwhile"])
def test_an_existing_pipeline_file_is_refused_in_the_callers_words(
    stored_result: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    when: str,
) -> None:
    # was: "Pass overwrite=True (--overwrite)" to a Python caller and to the command
    # alike, and "run again (with --overwrite ...)" to a Python caller of save_pipeline
    from xarray_microct import pipeline_file
    from xarray_microct.core.errors import command_line_message
    from xarray_microct.pipeline_file import save_pipeline

    path = stored_result.parent / "steps.yaml"
    if when == "before":
        save_pipeline(STEPS, path)
    else:  # made by another write after the check, before this one moves its file there
        check = pipeline_file.check_pipeline_target

        def then_made(*args, **kwargs):
            decided = check(*args, **kwargs)
            path.write_text("# theirs\n")
            return decided

        monkeypatch.setattr(pipeline_file, "check_pipeline_target", then_made)
    with pytest.raises(FileExistsError) as refused:
        save_pipeline(STEPS, path)
    python, command = str(refused.value), command_line_message(refused.value)
    assert "overwrite=True" in python and "--overwrite" not in python
    assert "--overwrite" in command and "overwrite=True" not in command
    if when == "before":
        path.unlink()
        assert main(["export-pipeline", str(stored_result), str(path)]) == 0
        assert main(["export-pipeline", str(stored_result), str(path)]) == 2
        err = capsys.readouterr().err
        assert "Pass --overwrite to replace it" in err and "overwrite=True" not in err
