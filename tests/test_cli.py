"""The microct command."""

import subprocess
import sys

import numpy as np
import pytest
import yaml

import xarray_microct as mct
from xarray_microct.cli import main
from xarray_microct.runner import open_result


def test_info_describes_a_store(tmp_path, capsys):
    vol = mct.from_array(np.zeros((4, 6, 8), "uint16"), spacing=(1.3, 0.65, 0.65))
    vol.microct.gaussian(sigma=1).to_zarr(tmp_path / "v.zarr")
    assert main(["info", str(tmp_path / "v.zarr")]) == 0
    out = capsys.readouterr().out
    assert "4 × 6 × 8 voxels" in out
    assert "1.3, 0.65, 0.65 micrometer" in out
    assert "gaussian → open_volume" in out


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


def test_export_refuses_a_pyramid_step_whose_level_is_unknown(tmp_path, capsys):
    scan = mct.from_array(np.zeros((16, 16, 16)), spacing=0.5, chunks=8, name="scan")
    scan.microct.pyramid(levels=2).microct.gaussian(sigma=1, level=1).to_zarr(
        tmp_path / "result.zarr"
    )
    assert (
        main(["export-pipeline", str(tmp_path / "result.zarr"), str(tmp_path / "steps.yaml")]) == 2
    )
    assert "which level is not recorded" in capsys.readouterr().err
    assert not (tmp_path / "steps.yaml").exists()
