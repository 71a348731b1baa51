"""The chunks ``microct run`` computes in: small stored chunks read merged (whole stored
chunks, no rechunk), the same result as the stored chunks and the whole array, and a
resume of a run that computed in other chunks."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import yaml
from helpers import StopAfterStores, same_partition
from hypothesis import given, settings
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct import runner
from xarray_microct.cli import main
from xarray_microct.io.ome import to_ome_zarr
from xarray_microct.pipelines import beads
from xarray_microct.runner import open_result, read_chunks, run_pipeline, run_state
from xarray_microct.synthetic import bead_pack


@settings(max_examples=200, deadline=None)
@given(
    stored=st.lists(st.integers(1, 300), min_size=3, max_size=3),
    blocks=st.lists(st.integers(1, 40), min_size=3, max_size=3),
    lead=st.lists(st.integers(1, 3), max_size=1),
    kind=st.sampled_from(["lazy", "table"]),
)
def test_merged_chunks_are_whole_stored_chunks_within_the_budget(stored, blocks, lead, kind):
    shape = [s * b for s, b in zip(stored, blocks, strict=True)]
    chunks = tuple((c,) * n for c, n in zip([*lead, *stored], [*lead, *blocks], strict=True))
    merged = read_chunks(chunks, kind)
    if merged is None:
        merged = (*lead, *stored)
    assert list(merged[: len(lead)]) == lead  # c, t as stored
    spatial = merged[len(lead) :]
    least = runner.READ_LEAST[kind]
    for m, s, n in zip(spatial, stored, shape, strict=True):
        assert m % s == 0 and s <= m < n + s  # whole stored chunks, no chunk beyond the axis
    # within the budget (voxels of a chunk, c and t included), unless stored over it
    size = int(np.prod(merged))
    assert size <= max(runner.READ_BUDGET, int(np.prod([*lead, *stored])))
    for axis, (m, s, n) in enumerate(zip(spatial, stored, shape, strict=True)):
        if m < min(least[axis], n):  # short of the target only where the budget binds
            assert size // m * (m + s) > runner.READ_BUDGET


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """A bead pack stored as OME-Zarr in small chunks (12³: 4³ chunks), and its values."""
    vol, _ = bead_pack(48, radius=5, seed=3, noise=0.1, chunks=12)
    store = tmp_path_factory.mktemp("scan") / "scan.ome.zarr"
    to_ome_zarr(vol.rename("scan"), store, chunks=12)
    return store, vol.values


def test_beads_merged_equal_stored_and_whole_array(scan, tmp_path, monkeypatch):
    store, values = scan
    with dask.config.set(scheduler="synchronous"):
        whole = beads(mct.from_array(values, spacing=1.0, units="um", chunks=48)).values
    assert whole.max() > 20
    quiet = {"progress": False, "echo": lambda line: None}
    stored = run_pipeline("beads", store, tmp_path / "stored.zarr", chunks=12, **quiet)
    default = run_pipeline("beads", store, tmp_path / "default.zarr", **quiet)
    monkeypatch.setattr(runner, "READ_LEAST", {**runner.READ_LEAST, "lazy": (24, 24, 36)})
    merged = run_pipeline("beads", store, tmp_path / "merged.zarr", **quiet)
    chunks = {p: run_state(p)["identity"]["chunks"] for p in (stored, default, merged)}
    assert chunks == {stored: [12, 12, 12], default: [48, 48, 48], merged: [24, 24, 36]}
    assert [c[0] for c in open_result(merged).data.chunks] == [24, 24, 36]  # as computed
    for path in (stored, default, merged):
        assert same_partition(open_result(path).values, whole)


def test_merged_chunks_are_read_whole_without_a_rechunk(scan):
    store, _ = scan
    merged = read_chunks(mct.open_volume(store).data.chunks)
    volume = mct.open_volume(store, chunks=merged)
    assert [c[0] for c in volume.data.chunks] == [48, 48, 48]
    assert not [k for k in volume.data.dask if "rechunk" in str(k)]


STEPS = [{"op": "gaussian", "params": {"sigma": "1 um"}}]


class Interrupted(Exception):
    """Stands for a killed job in the middle of a run."""


def test_a_run_started_in_the_stored_chunks_resumes_in_them(scan, tmp_path, monkeypatch, capsys):
    store, values = scan
    pipeline = tmp_path / "smooth.yaml"
    pipeline.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": STEPS}))
    out = tmp_path / "out.zarr"
    # as a run before merged reads: computed in the stored chunks (12³, 64 of them)
    with monkeypatch.context() as before:
        before.setattr(runner, "READ_LEAST", {**runner.READ_LEAST, "lazy": (1, 1, 1)})
        with StopAfterStores(5, Interrupted), pytest.raises(Interrupted):
            run_pipeline(pipeline, store, out, progress=False, echo=lambda line: None)
    assert run_state(out)["identity"]["chunks"] == [12, 12, 12]
    # another chunking given: refused, naming the one to give (or none)
    assert main(["run", str(pipeline), str(store), str(out), "--resume", "--chunks", "24"]) == 2
    err = capsys.readouterr().err
    assert "started with a different chunking" in err and "chunks of 12 × 12 × 12" in err
    # none given: computed in the chunks it started with, only the missing ones
    assert main(["run", str(pipeline), str(store), str(out), "--resume"]) == 0
    state = run_state(out)
    assert state["status"] == "complete" and 0 < state["chunks_written"] <= 64 - 5
    assert state["identity"]["chunks"] == [12, 12, 12]
    reference = mct.from_array(values, spacing=1.0, units="um").microct.gaussian(sigma="1 um")
    np.testing.assert_allclose(open_result(out).values, reference.values, rtol=1e-6)


def test_a_run_started_in_chunks_not_whole_stored_ones_resumes_in_them(scan, tmp_path):
    # --chunks 20 on 12³ stored chunks: a resume with no chunks given rechunks to them
    # (they are not read whole), computing only the missing chunks
    store, values = scan
    pipeline = tmp_path / "smooth.yaml"
    pipeline.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": STEPS}))
    out, quiet = tmp_path / "out.zarr", {"progress": False, "echo": lambda line: None}
    with StopAfterStores(3, Interrupted), pytest.raises(Interrupted):
        run_pipeline(pipeline, store, out, chunks=20, **quiet)
    assert run_state(out)["identity"]["chunks"] == [20, 20, 20]
    run_pipeline(pipeline, store, out, resume=True, **quiet)
    state = run_state(out)
    assert state["status"] == "complete" and 0 < state["chunks_written"] <= 27 - 3
    assert state["identity"]["chunks"] == [20, 20, 20]
    reference = mct.from_array(values, spacing=1.0, units="um").microct.gaussian(sigma="1 um")
    np.testing.assert_allclose(open_result(out).values, reference.values, rtol=1e-6)


def test_a_resume_whose_input_reads_with_other_axes_is_refused_naming_the_picks(tmp_path):
    # a run of channel 0 of a two-channel scan records 3-D chunks; a resume without the
    # pick reads (c, z, y, x): its chunks are left as read and the resume refused. It
    # advised "resume without --chunks" too, which is what was done
    values = np.random.default_rng(0).random((2, 12, 12, 12)).astype("float32")
    store = tmp_path / "two.ome.zarr"
    mct.from_array(values, spacing=1.0, dims=("c", "z", "y", "x")).microct.to_zarr(store)
    pipeline = tmp_path / "smooth.yaml"
    pipeline.write_text(yaml.safe_dump({"microct_pipeline": 1, "steps": STEPS}))
    out = tmp_path / "out.zarr"
    assert main(["run", str(pipeline), str(store), str(out), "--channel", "0"]) == 0
    assert len(run_state(out)["identity"]["chunks"]) == 3
    with pytest.raises(ValueError, match=r"different input options \(calibration") as caught:
        run_pipeline(pipeline, store, out, resume=True, progress=False, echo=lambda line: None)
    assert "chunks=None" not in str(caught.value)
    assert main(["run", str(pipeline), str(store), str(out), "--resume", "--no-progress"]) == 2
