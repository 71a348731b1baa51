"""The microct command."""

import subprocess
import sys

import numpy as np

import xarray_microct as mct
from xarray_microct.cli import main


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
    result = mct.open_volume(out_dir / "enhanced.zarr")
    assert result.shape == (32, 32, 32)
    assert float(result.min()) >= 0 and float(result.max()) <= 1
    assert main(["demo", "--output", str(out_dir), "--size", "32"]) == 2
    assert "exists" in capsys.readouterr().err


def test_console_entry_point_runs_as_a_program():
    completed = subprocess.run(
        [sys.executable, "-m", "xarray_microct.cli", "--help"],
        capture_output=True, text=True, check=True,
    )
    assert "info" in completed.stdout and "demo" in completed.stdout
