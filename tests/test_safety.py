"""The write rule's pieces (xarray_microct.io.safety): inputs found, stores recognised."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pytest
import xarray as xr

import xarray_microct as mct
from xarray_microct.io.safety import (
    check_not_input,
    check_replaceable,
    check_write,
    content_identity,
    foreign_entries,
    input_locations,
    project_record,
    staged_write,
    url_filesystem,
)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "scan.zarr"
    mct.from_array(np.arange(512.0).reshape(8, 8, 8), spacing=1.0, chunks=4,
                   name="scan").microct.to_zarr(path, version="0.5", chunks=4)
    return path


def test_inputs_are_found_in_provenance_and_in_the_graph(store: Path, tmp_path: Path) -> None:
    opened = mct.open_volume(store).microct.gaussian(sigma="1 voxel")
    assert input_locations(opened) == [os.path.realpath(store)]
    # Opened by xarray and wrapped: no provenance location, but the graph reads the store.
    plain = tmp_path / "plain.zarr"
    mct.from_array(np.zeros((4, 4, 4)), spacing=1.0, name="v").to_zarr(plain)
    wrapped = mct.from_array(xr.open_zarr(plain)["v"].data, spacing=1.0)
    assert [Path(p).resolve() for p in input_locations(wrapped)] == [plain.resolve()]
    assert input_locations(mct.from_array(np.zeros((2, 2, 2)), spacing=1.0)) == []


def test_our_store_is_recognised_by_its_metadata_and_contents(store: Path) -> None:
    assert project_record(store)["complete"] is True
    assert foreign_entries(store) == []
    check_replaceable(store)
    (store / "0" / "scan" / "c" / "notes.txt").write_text("x")
    assert foreign_entries(store) == ["0/scan/c/notes.txt"]
    with pytest.raises(FileExistsError, match=r"notes\.txt"):
        check_replaceable(store)


def test_aliases_of_an_input_are_refused(store: Path, tmp_path: Path) -> None:
    os.link(store / "zarr.json", tmp_path / "hardlink.json")
    (tmp_path / "link").symlink_to(store.parent, target_is_directory=True)
    for alias in (store, tmp_path / "link" / store.name, store / ".." / store.name,
                  store.parent, store / "0"):
        with pytest.raises(ValueError, match="input"):
            check_not_input(alias, [store])
    with pytest.raises(ValueError, match="is the input"):  # a hard link of an input file
        check_not_input(tmp_path / "hardlink.json", [store / "zarr.json"])
    check_not_input(tmp_path / "elsewhere.zarr", [store])  # a sibling is fine


def test_content_identity_changes_with_the_content_only(store: Path, tmp_path: Path) -> None:
    before = content_identity(store)
    assert content_identity(store) == before
    assert content_identity(tmp_path / "link-free" / ".." / "scan.zarr") == before
    chunk = next(p for p in (store / "0" / "scan" / "c").rglob("*") if p.is_file())
    os.utime(chunk, ns=(1, 1))
    assert content_identity(store) != before


def test_a_failed_replacement_leaves_the_old_store(store: Path) -> None:
    files = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError), staged_write(store, replace=True) as target:
        assert target != store and target.parent == store.parent
        target.mkdir()
        (target / "partial").write_text("half")
        raise RuntimeError("the disk failed")
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == files
    assert sorted(p.name for p in store.parent.iterdir()) == ["scan.zarr"]


# ------------------------------------------------------------- the same rule at URLs


@pytest.fixture
def url_store(store: Path) -> Iterator[str]:
    """The ``store`` fixture copied object by object to a fresh ``memory://`` prefix."""
    fs = fsspec.filesystem("memory")
    root = f"/test-safety-{uuid.uuid4().hex[:12]}"
    for file in store.rglob("*"):
        if file.is_file():
            relative = file.relative_to(store).as_posix()
            fs.pipe_file(f"{root}/scan.zarr/{relative}", file.read_bytes())
    yield f"memory://{root}/scan.zarr"
    fs.rm(root, recursive=True)


def test_a_url_store_is_judged_like_the_same_local_store(store: Path, url_store: str) -> None:
    fs, root = url_filesystem(url_store)
    assert check_write(url_store, replace=True) == "replace"
    with pytest.raises(FileExistsError, match="already exists"):
        check_write(url_store, replace=False)
    assert check_write(url_store + "-other", replace=False) == "new"
    for extra in ("0/scan/c/notes.txt", "0/scan/c/0/x", "figures/plot.png"):
        fs.pipe_file(f"{root}/{extra}", b"x")
        (store / extra).parent.mkdir(parents=True, exist_ok=True)
        (store / extra).write_bytes(b"x")
        with pytest.raises(FileExistsError, match="not part of the store"):
            check_replaceable(url_store)
        fs.rm_file(f"{root}/{extra}")
    assert sorted(foreign_entries(store)) == ["0/scan/c/0/x", "0/scan/c/notes.txt", "figures/"]
    fs.pipe_file(f"{root}/zarr.json", b'{"zarr_format": 3, "node_type": "group"}')
    with pytest.raises(FileExistsError, match="not written by xarray-microct"):
        check_replaceable(url_store)


def test_url_outputs_are_compared_with_url_inputs_after_normalising() -> None:
    source = "memory://bucket/scans/scan.zarr"
    for alias in ("memory:///bucket/scans/scan.zarr/", "MEMORY://bucket//scans/x/../scan.zarr",
                  "memory://bucket/scans", "memory://bucket/scans/scan.zarr/0/out"):
        with pytest.raises(ValueError, match="input"):
            check_not_input(alias, [source])
    check_not_input("memory://bucket/scans/scan.zarr2", [source])  # a sibling is fine
    check_not_input("s3://bucket/scans/scan.zarr", [source])  # another file system
    check_not_input("/bucket/scans/scan.zarr", [source])  # a local path is not a URL


def test_a_failed_url_replacement_leaves_the_old_store(url_store: str) -> None:
    fs, root = url_filesystem(url_store)
    parent = root.rsplit("/", 1)[0]
    before = {p: fs.cat_file(p) for p in fs.find(parent)}
    with pytest.raises(RuntimeError), staged_write(url_store, replace=True) as target:
        assert target != url_store and target.rsplit("/", 1)[0] == url_store.rsplit("/", 1)[0]
        fs.pipe_file(f"{url_filesystem(target)[1]}/partial", b"half")
        raise RuntimeError("the network failed")
    assert {p: fs.cat_file(p) for p in fs.find(parent)} == before


def test_a_failed_replacement_leaves_no_staging_folder_even_after_late_writes(
    tmp_path: Path,
) -> None:
    # a failed compute raises at its first error while other threads still finish their
    # chunks: a chunk written into the staging folder after its removal brings it back
    target = tmp_path / "out.zarr"
    target.mkdir()
    (target / "kept").write_text("old result")

    def late_chunk(staging: Path) -> None:
        time.sleep(0.2)
        (staging / "c").mkdir(parents=True, exist_ok=True)
        (staging / "c" / "0").write_bytes(b"late")

    writer = None
    with pytest.raises(OSError, match="disk failed"), staged_write(target, replace=True) as staging:
        writer = threading.Thread(target=late_chunk, args=(staging,))
        writer.start()
        raise OSError("disk failed")
    writer.join()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
    assert (target / "kept").read_text() == "old result"


def test_the_demo_replaces_only_a_store_it_wrote(tmp_path: Path) -> None:
    from xarray_microct.demo import STORE, run_demo

    theirs = tmp_path / STORE
    theirs.mkdir()
    (theirs / "notes.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not written by xarray-microct"):
        run_demo(tmp_path, size=32, overwrite=True)
    assert (theirs / "notes.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORE]


def test_the_demo_replaces_only_files_it_wrote(tmp_path: Path) -> None:
    from xarray_microct.demo import MANIFEST, OUTPUTS, run_demo

    run_demo(tmp_path, size=32)
    # every file it writes is one it checks before replacing (the report's figures too)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*OUTPUTS, MANIFEST])
    run_demo(tmp_path, size=32, overwrite=True)  # its own files, unchanged: replaced
    table = tmp_path / "fibers.csv"
    table.write_text("my edited table")
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    with pytest.raises(FileExistsError, match=r"fibers\.csv was not written by microct demo"):
        run_demo(tmp_path, size=32, overwrite=True)
    assert table.read_text() == "my edited table"
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    table.unlink()
    figure = tmp_path / "report-slice.png"  # written by the report, beside it
    figure.write_bytes(b"my own figure")
    with pytest.raises(FileExistsError, match=r"report-slice\.png was not written by"):
        run_demo(tmp_path, size=32, overwrite=True)
    assert figure.read_bytes() == b"my own figure"


def test_a_demo_that_fails_part_way_may_be_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xarray_microct.demo as demo

    def report_fails(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(demo, "save_report", report_fails)
    with pytest.raises(OSError, match="disk full"):
        demo.run_demo(tmp_path, size=32)
    monkeypatch.undo()
    demo.run_demo(tmp_path, size=32, overwrite=True)  # the tables it wrote are its own
    assert (tmp_path / demo.REPORT).is_file()


def test_an_input_through_a_linked_folder_is_one_input_with_its_real_path(tmp_path):
    # HPC scratch and home folders are often links: the run's fingerprint and the
    # result's provenance must spell the input the same way, or --resume refuses it
    from xarray_microct.io.results import input_location

    (tmp_path / "data").mkdir()
    (tmp_path / "scratch").symlink_to(tmp_path / "data")
    linked, real = tmp_path / "scratch" / "scan.zarr", tmp_path / "data" / "scan.zarr"
    assert input_location(linked) == input_location(real) == os.path.realpath(real)


def test_an_http_store_location_is_its_url_once():
    # an HTTP filesystem's store path is already the URL: not prefixed a second time
    from types import SimpleNamespace as Fake

    from xarray_microct.io.safety import _store_location

    http = Fake(protocol=("http", "https"))
    array = Fake(store_path=Fake(store=Fake(path="http://host/scan.zarr", fs=http)))
    assert _store_location(array) == "http://host/scan.zarr"
    s3 = Fake(store_path=Fake(store=Fake(path="bucket/scan.zarr", fs=Fake(protocol="s3"))))
    assert _store_location(s3) == "s3://bucket/scan.zarr"
