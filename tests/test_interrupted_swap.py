"""Ctrl-C (or SIGTERM, raised the same way) during the two renames that swap a finished
replacement in: Python raises it as a rename returns, so it can land between them. The
output is then never missing: the old result is put back (stopped after the first
rename) or the new one is in place (after the second); what is left beside it is
tidied by the next write."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xarray_microct as mct
from xarray_microct.io import safety
from xarray_microct.io.results import open_result, run_state, write_volume


def _volume(value: int) -> Any:
    return mct.from_array(np.full((16, 8, 8), value, "uint16"), spacing=1.0, name="scan", chunks=8)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _ctrl_c_after_rename(monkeypatch: pytest.MonkeyPatch, source_name: str) -> None:
    """Ctrl-C as the swap's rename of a folder named ``source_name...`` returns."""
    rename = os.replace

    def replace(source: Any, target: Any) -> None:
        rename(source, target)
        if Path(source).name.startswith(source_name):
            raise KeyboardInterrupt

    monkeypatch.setattr(safety.os, "replace", replace)


def test_ctrl_c_between_the_renames_puts_the_old_result_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.zarr"
    write_volume(_volume(1), out)
    before = _files(out)
    with monkeypatch.context() as patch:
        _ctrl_c_after_rename(patch, "out.zarr")  # the old store moved aside
        with pytest.raises(KeyboardInterrupt):
            write_volume(_volume(2), out, overwrite=True)
    assert _files(out) == before
    assert (open_result(out).values == 1).all()
    write_volume(_volume(3), out, overwrite=True)  # the next write tidies the siblings
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
    assert (open_result(out).values == 3).all()


def test_ctrl_c_after_the_renames_leaves_the_new_result_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.zarr"
    write_volume(_volume(1), out)
    with monkeypatch.context() as patch:
        _ctrl_c_after_rename(patch, ".out.zarr.microct-new-")  # the new store moved in
        with pytest.raises(KeyboardInterrupt):
            write_volume(_volume(2), out, overwrite=True)
    assert run_state(out)["status"] == "complete"
    assert (open_result(out).values == 2).all()
    write_volume(_volume(3), out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
    assert (open_result(out).values == 3).all()
