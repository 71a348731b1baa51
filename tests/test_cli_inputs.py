"""``microct run`` and ``microct info`` reach every input ``open_volume`` reads: the options
of each format (``--level``, ``--dataset``, ``--shape``, ``--dtype``, ``--byte-order``,
``--offset``), OME-Zarr with c/t axes or without units, and ``file://`` URLs."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
import zarr

import xarray_microct as mct
from xarray_microct.cli import main
from xarray_microct.runner import open_result

STEPS = [{"op": "gaussian", "params": {"sigma": "1 um"}}]


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    path = tmp_path / "smooth.yaml"
    path.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": STEPS}))
    return path


def _scan(shape: tuple[int, ...] = (6, 10, 12), dtype: str = "uint16") -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 1000, shape).astype(dtype)


def _smoothed(values: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """The pipeline's reference: the same gaussian on the array, in this process."""
    volume = mct.from_array(values, spacing=spacing, units="micrometer")
    return volume.microct.gaussian(sigma="1 um").values


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def _info(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    capsys.readouterr()  # what earlier commands printed
    assert main(["info", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------------------- HDF5


def test_hdf5_dataset_option_runs_a_volume_stored_elsewhere(tmp_path, pipeline_file, capsys):
    values = _scan()
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("/recon/volume", data=values)
    out = tmp_path / "out.zarr"
    base = ["run", str(pipeline_file), str(path), str(out), "--no-progress"]
    calibration = ["--spacing", "1", "--units", "micrometer"]
    # without --dataset: one line naming the option the command line takes
    assert main([*base, *calibration]) == 2
    assert "--dataset" in _error_line(capsys)
    assert main([*base, *calibration, "--dataset", "/recon/volume"]) == 0
    np.testing.assert_allclose(open_result(out).values, _smoothed(values), rtol=1e-6)
    info = _info(capsys, str(path), "--dataset", "/recon/volume", *calibration)
    assert info["levels"][0]["shape"] == list(values.shape)


# -------------------------------------------------------------------------------- raw


@pytest.mark.parametrize("dtype", ["<u2", ">u2", ">f4"])
def test_raw_file_runs_with_shape_dtype_byte_order_and_offset(
    tmp_path, pipeline_file, capsys, dtype
):
    values = _scan(dtype=dtype)
    path = tmp_path / "scan.vol"
    path.write_bytes(b"HEADER--" + values.tobytes())
    order = "big" if dtype[0] == ">" else "little"
    reading = ["--shape", *map(str, values.shape), "--dtype", dtype[1:]]
    reading += ["--byte-order", order, "--offset", "8"]
    calibration = ["--spacing", "0.5", "--units", "micrometer"]
    info = _info(capsys, str(path), *reading, *calibration)
    assert info["levels"][0]["shape"] == list(values.shape)
    assert info["levels"][0]["spacing"] == [0.5, 0.5, 0.5]
    out = tmp_path / "out.zarr"
    args = ["run", str(pipeline_file), str(path), str(out), "--no-progress"]
    assert main([*args, *reading, *calibration]) == 0
    expected = _smoothed(values.astype(values.dtype.newbyteorder("=")), spacing=0.5)
    np.testing.assert_allclose(open_result(out).values, expected, rtol=1e-6)
    record = open_result(out).attrs["microct_provenance"][0]
    assert record["params"]["shape"] == list(values.shape)
    assert record["params"]["offset"] == 8


def test_raw_file_without_its_layout_names_the_options(tmp_path, capsys):
    path = tmp_path / "scan.raw"
    path.write_bytes(_scan().tobytes())
    assert main(["info", str(path)]) == 2
    line = _error_line(capsys)
    assert "--shape" in line and "--dtype" in line


@pytest.mark.parametrize(
    ("option", "format_name"),
    [(["--dataset", "/a"], "zarr"), (["--dtype", "uint8"], "hdf5"), (["--level", "1"], "raw")],
)
def test_reading_options_of_another_format_are_refused_in_one_line(
    tmp_path, pipeline_file, capsys, option, format_name
):
    values = _scan()
    if format_name == "zarr":
        path = tmp_path / "scan.zarr"
        mct.from_array(values, spacing=1.0).to_zarr(path)
    elif format_name == "hdf5":
        path = tmp_path / "scan.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("/exchange/data", data=values)
    else:
        path = tmp_path / "scan.raw"
        path.write_bytes(values.tobytes())
        option = [*option, "--shape", *map(str, values.shape), "--dtype", "uint16"]
    out = tmp_path / "out.zarr"
    calibration = ["--spacing", "1", "--units", "um"] if format_name != "zarr" else []
    for command in (["info", str(path)], ["run", str(pipeline_file), str(path), str(out)]):
        assert main([*command, *option, *calibration]) == 2
        line = _error_line(capsys)
        assert "not apply to a" in line and option[0] in line
    assert not out.exists()


# ---------------------------------------------------------------------------- OME-Zarr


def test_ome_zarr_level_option_runs_that_level(tmp_path, pipeline_file, capsys):
    values = _scan((8, 16, 16)).astype("float32")
    store = tmp_path / "scan.ome.zarr"
    volume = mct.from_array(values, spacing=1.0, chunks=8)
    volume.microct.pyramid(levels=2).microct.to_zarr(store)
    out = tmp_path / "out.zarr"
    args = ["run", str(pipeline_file), str(store), str(out), "--no-progress", "--level", "1"]
    assert main(args) == 0
    level = mct.open_volume(store, level=1)
    assert open_result(out).shape == level.shape
    expected = level.microct.gaussian(sigma="1 um").values
    np.testing.assert_allclose(open_result(out).values, expected, rtol=1e-6)
    info = _info(capsys, str(store), "--level", "scale1")
    assert [lv["path"] for lv in info["levels"]] == ["scale1"]
    assert info["pyramid_levels"] == 2
    assert main(["info", str(store), "--level", "5"]) == 2
    assert "no level 5" in _error_line(capsys)


@pytest.mark.parametrize("shape", [(2, 6, 7, 8), (1, 2, 6, 7, 8)])
def test_info_on_ome_zarr_with_channel_and_time_axes(tmp_path, capsys, shape):
    dims = ("t", "c", "z", "y", "x")[-len(shape) :]
    values = _scan(shape).astype("float32")
    store = tmp_path / "multi.ome.zarr"
    mct.from_array(values, spacing=0.5, dims=dims).microct.to_zarr(store)
    assert main(["info", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"shape ({', '.join(dims)})" in lines[1]
    assert lines[3].startswith("extent (z, y, x): 3, 3.5, 4 micrometer")


def _unitless_ome_zarr(store: Path, values: np.ndarray, scale: float) -> None:
    """An NGFF 0.4 image whose axes state no unit, as other writers may leave it."""
    group = zarr.open_group(str(store), mode="w", zarr_format=2)
    group.create_array("0", data=values, chunks=values.shape)
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": [{"name": axis, "type": "space"} for axis in "zyx"],
            "datasets": [
                {
                    "path": "0",
                    "coordinateTransformations": [{"type": "scale", "scale": [scale] * 3}],
                }
            ],
        }
    ]


def test_info_units_option_on_a_unitless_ome_zarr(tmp_path, capsys):
    store = tmp_path / "plain.ome.zarr"
    _unitless_ome_zarr(store, _scan().astype("float32"), 2.0)
    assert main(["info", str(store)]) == 2
    assert "--units" in _error_line(capsys)
    info = _info(capsys, str(store), "--units", "nanometer")
    assert info["levels"][0]["units"] == "nanometer"
    assert info["levels"][0]["spacing"] == [2.0, 2.0, 2.0]


# ------------------------------------------------------------------------------ file://


def test_file_url_input_is_the_local_path(tmp_path, pipeline_file, capsys):
    values = _scan()
    path = tmp_path / "scan.zarr"
    mct.from_array(values, spacing=1.0).to_zarr(path)
    url = path.as_uri()
    assert _info(capsys, url)["levels"][0]["shape"] == list(values.shape)
    out = tmp_path / "out.zarr"
    assert main(["run", str(pipeline_file), url, str(out), "--no-progress"]) == 0
    np.testing.assert_allclose(open_result(out).values, _smoothed(values), rtol=1e-6)
    assert mct.open_volume(url).shape == values.shape
