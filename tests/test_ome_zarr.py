"""OME-Zarr writing and reading: round trips, third-party readers, safety, HTTP."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr

import xarray_microct as mct
from xarray_microct.io.ome import IncompleteStoreError, open_pyramid

VERSIONS = ["0.4", "0.5"]


def make_tree(levels: int = 3) -> xr.DataTree:
    rng = np.random.default_rng(0)
    array = rng.integers(0, 60000, (24, 40, 36)).astype("uint16")
    vol = mct.from_array(array, spacing=(1.3, 0.65, 0.65), origin=(0.0, 5.0, -2.0),
                         chunks=12, name="scan", attrs={"long_name": "attenuation"})
    return vol.microct.pyramid(levels=levels)


@pytest.fixture(scope="module")
def tree() -> xr.DataTree:
    return make_tree()


@pytest.fixture(scope="module", params=VERSIONS)
def written(request, tree, tmp_path_factory) -> tuple[Path, str]:
    store = tmp_path_factory.mktemp("ome") / f"scan-{request.param}.ome.zarr"
    tree.microct.to_zarr(store, version=request.param)
    return store, request.param


def test_round_trip_is_identical(written, tree):
    store, version = written
    back = open_pyramid(store)
    xr.testing.assert_identical(back, tree)
    for name in back.children:
        assert isinstance(back[name]["scan"].data, da.Array)  # lazy
        assert back[name]["scan"].attrs["microct_provenance"][-1]["op"] == "pyramid"
    fmt = zarr.open_group(str(store), mode="r").metadata.zarr_format
    assert fmt == {"0.4": 2, "0.5": 3}[version]


def test_open_volume_picks_levels(written, tree):
    store, _ = written
    level = mct.open_volume(store, level=2)
    xr.testing.assert_equal(level, tree["scale2"]["scan"])
    assert level.attrs["microct_provenance"][-1]["op"] == "open_volume"
    assert level.attrs["microct_provenance"][-1]["params"]["level"] == 2
    assert mct.open_volume(store, level="scale1").shape == tree["scale1"]["scan"].shape
    with pytest.raises(ValueError, match="no level 7"):
        mct.open_volume(store, level=7)


@pytest.mark.parametrize("version", VERSIONS)
def test_stores_of_earlier_versions_open_as_before(tmp_path, tree, version):
    """Stores written before the numbered level groups (``scale0/scan``...) open with
    the same levels, names and values; labels written into one open too."""
    from earlier_layout import write_earlier_layout

    from xarray_microct.io.ngff_labels import open_labels, write_labels

    store = write_earlier_layout(tree, tmp_path / f"earlier-{version}.ome.zarr", version)
    levels = sorted(zarr.open_group(str(store), mode="r").group_keys())
    assert levels == ["scale0", "scale1", "scale2"]
    xr.testing.assert_identical(open_pyramid(store), tree)
    xr.testing.assert_equal(mct.open_volume(store, level="scale1"), tree["scale1"]["scan"])
    mask = (tree["scale0"]["scan"] > 30000).rename("bright")
    write_labels(mask, store, "bright")
    xr.testing.assert_equal(open_labels(store, "bright")["scale0"]["bright"], mask)
    xr.testing.assert_identical(open_pyramid(store), tree)


def test_plain_xarray_reads_the_store(written, tree):
    """xarray reads every level's data and dims; each level group (``0``, ``1``...)
    holds only its image (coordinates come from the NGFF transforms), which napari's
    builtin reader needs."""
    store, _ = written
    plain = xr.open_datatree(store, engine="zarr")
    group = zarr.open_group(str(store), mode="r")
    assert sorted(group.group_keys()) == ["0", "1", "2"]
    for index, name in enumerate(tree.children):
        ours, theirs = tree[name]["scan"], plain[str(index)]["scan"]
        np.testing.assert_array_equal(theirs.values, ours.values)
        assert theirs.dtype == ours.dtype
        assert theirs.dims == ("z", "y", "x")
        assert sorted(group[str(index)].array_keys()) == ["scan"]


def test_ngff_04_chunks_are_nested_folders(written):
    """NGFF 0.4 stores chunks in nested folders (``0/0/0``, its on-disk layout), not
    Zarr v2's default flat keys (``0.0.0``), which some readers do not find; 0.5 uses
    Zarr v3's ``c/0/0/0``."""
    store, version = written
    folder = store / "0" / "scan"
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    expected = {"0.4": "0/0/0", "0.5": "c/0/0/0"}[version]
    assert expected in files
    assert zarr.open_group(str(store), mode="r")["0/scan"][...].shape == (24, 40, 36)
    if version == "0.4":
        assert json.loads((folder / ".zarray").read_text())["dimension_separator"] == "/"


def test_ngff_zarr_reads_and_validates(written, tree):
    ngff_zarr = pytest.importorskip("ngff_zarr")
    store, _ = written
    multiscales = ngff_zarr.from_ngff_zarr(str(store), validate=True)
    assert len(multiscales.images) == len(tree.children)
    for image, name in zip(multiscales.images, tree.children, strict=True):
        ours = tree[name]["scan"]
        grid = ours.microct.grid
        assert image.dims == ("z", "y", "x")
        assert image.scale == pytest.approx(dict(zip("zyx", grid.spacing, strict=True)))
        assert image.translation == pytest.approx(dict(zip("zyx", grid.origin, strict=True)))
        assert image.axes_units == {"z": "micrometer", "y": "micrometer", "x": "micrometer"}
        np.testing.assert_array_equal(np.asarray(image.data), ours.values)


def test_ome_zarr_models_validates(written, tree):
    pytest.importorskip("ome_zarr_models")
    store, version = written
    group = zarr.open_group(str(store), mode="r")
    if version == "0.4":
        from ome_zarr_models.v04.image import Image

        image = Image.from_zarr(group)
        multiscale = image.attributes.multiscales[0]
    else:
        from ome_zarr_models.v05.image import Image

        image = Image.from_zarr(group)
        multiscale = image.attributes.ome.multiscales[0]
    assert [a.unit for a in multiscale.axes] == ["micrometer"] * 3
    for dataset, name in zip(multiscale.datasets, tree.children, strict=True):
        grid = tree[name]["scan"].microct.grid
        scale, translation = dataset.coordinateTransformations
        assert scale.scale == pytest.approx(list(grid.spacing))
        assert translation.translation == pytest.approx(list(grid.origin))
        np.testing.assert_array_equal(group[dataset.path][...], tree[name]["scan"].values)


@pytest.mark.parametrize("version", VERSIONS)
def test_reads_a_store_written_by_ngff_zarr(tmp_path, version):
    ngff_zarr = pytest.importorskip("ngff_zarr")
    array = np.random.default_rng(2).integers(0, 255, (16, 20, 24)).astype("uint8")
    image = ngff_zarr.to_ngff_image(
        array, dims=("z", "y", "x"), scale={"z": 2.0, "y": 1.0, "x": 1.0},
        translation={"z": 0.0, "y": 0.0, "x": 0.0},
        axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"},
    )
    multiscales = ngff_zarr.to_multiscales(
        image, scale_factors=[2], chunks=8, method=ngff_zarr.Methods.DASK_IMAGE_GAUSSIAN
    )
    ngff_zarr.to_ngff_zarr(str(tmp_path / "theirs.zarr"), multiscales, version=version)
    tree = open_pyramid(tmp_path / "theirs.zarr")
    assert len(tree.children) == len(multiscales.images)
    for node, theirs in zip(tree.children.values(), multiscales.images, strict=True):
        volume = next(iter(node.data_vars.values()))
        np.testing.assert_array_equal(volume.values, np.asarray(theirs.data))
        grid = volume.microct.grid
        assert grid.spacing == pytest.approx(tuple(theirs.scale[d] for d in "zyx"))
        assert grid.origin == pytest.approx(tuple(theirs.translation[d] for d in "zyx"))


@pytest.mark.parametrize("version", VERSIONS)
def test_single_level_volume_and_channels(tmp_path, version):
    rng = np.random.default_rng(1)
    vol = mct.from_array(rng.random((2, 6, 7, 8)).astype("float32"), spacing=0.5,
                         units="mm", chunks=(1, 3, 3, 3), name="multi")
    vol.microct.to_zarr(tmp_path / "one.zarr", version=version, chunks=4)
    back = mct.open_volume(tmp_path / "one.zarr")
    assert back.dims == ("c", "z", "y", "x")
    xr.testing.assert_allclose(back, vol)
    assert back.x.attrs["units"] == "millimeter"
    array = zarr.open_group(str(tmp_path / "one.zarr"), mode="r")["0/multi"]
    assert array.chunks == (1, 4, 4, 4)


# --- safety ----------------------------------------------------------------------------


def test_existing_store_is_never_overwritten_by_default(tmp_path, tree):
    store = tmp_path / "s.zarr"
    tree.microct.to_zarr(store)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    other = make_tree(levels=2)
    with pytest.raises(FileExistsError, match="mode='w'"):
        other.microct.to_zarr(store)
    with pytest.raises(FileExistsError):
        other.microct.to_zarr(store, version="0.5")
    after = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    assert after == before
    other.microct.to_zarr(store, version="0.5", mode="w")  # explicit replace
    assert list(open_pyramid(store).children) == ["scale0", "scale1"]
    assert not (store / ".zattrs").exists()  # the old v2 store is gone entirely


def test_mode_w_refuses_a_folder_that_is_not_zarr(tmp_path, tree):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not written by xarray-microct"):
        tree.microct.to_zarr(folder, mode="w")
    assert (folder / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"version": "0.3"}, "version must be one of"), ({"mode": "a"}, "mode must be")],
)
def test_bad_writer_arguments(tmp_path, tree, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tree.microct.to_zarr(tmp_path / "s.zarr", **kwargs)
    assert not (tmp_path / "s.zarr").exists()


def test_not_ome_zarr_and_missing_level_are_clear_errors(tmp_path, tree):
    plain = tmp_path / "plain.zarr"
    tree["scale0"]["scan"].to_dataset().to_zarr(plain)
    with pytest.raises(ValueError, match="not an OME-Zarr image"):
        open_pyramid(plain)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="not a Zarr store"):
        open_pyramid(empty)
    with pytest.raises(FileNotFoundError):
        open_pyramid(tmp_path / "nothing.zarr")
    store = tmp_path / "s.zarr"
    tree.microct.to_zarr(store, version="0.5")
    for path in sorted((store / "2").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (store / "2").rmdir()
    with pytest.raises(ValueError, match=r"level 2 .*missing"):
        open_pyramid(store)


WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import dask, numpy as np
    import dask.array as da
    import xarray_microct as mct

    def slab(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 2:  # half-way through level 0
            os.kill(os.getpid(), signal.SIGKILL)
        return block

    data = da.ones((48, 16, 16), dtype="uint16", chunks=8).map_blocks(slab, dtype="uint16")
    vol = mct.from_array(data, spacing=1.0, name="scan")
    with dask.config.set(scheduler="sync"):
        vol.microct.pyramid(levels=2, method="mean").microct.to_zarr(
            sys.argv[1], version=sys.argv[2], mode="w", chunks=8
        )
    """
)


def test_killed_writer_leaves_a_store_reported_incomplete(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    stores = {v: tmp_path / f"killed-{v}.zarr" for v in VERSIONS}
    writers = {
        v: subprocess.Popen([sys.executable, str(script), str(store), v],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for v, store in stores.items()
    }
    for writer in writers.values():
        assert writer.wait(timeout=120) == -9  # killed, half-way through
    ngff_zarr = pytest.importorskip("ngff_zarr")
    for version, store in stores.items():
        chunk_files = [p for p in (store / "0").rglob("*") if p.is_file()
                       and p.name not in ("zarr.json", ".zarray", ".zattrs")]
        assert chunk_files  # some data was written before the kill
        with pytest.raises(IncompleteStoreError, match="interrupted"):
            open_pyramid(store)
        with pytest.raises(IncompleteStoreError):
            mct.open_volume(store)
        with pytest.raises(Exception):  # noqa: B017  (no image for other readers)
            ngff_zarr.from_ngff_zarr(str(store))
        with pytest.raises(FileExistsError):
            make_tree().microct.to_zarr(store, version=version)
        good = make_tree(levels=2)
        good.microct.to_zarr(store, version=version, mode="w")  # restart cleanly
        xr.testing.assert_identical(open_pyramid(store), good)


def test_exception_mid_write_leaves_an_incomplete_store(tmp_path):
    def fail(block, block_info=None):
        if block_info[0]["chunk-location"] == (1, 0, 0):
            raise RuntimeError("disk full")
        return block

    data = da.zeros((16, 8, 8), dtype="uint8", chunks=4).map_blocks(fail, dtype="uint8")
    vol = mct.from_array(data, spacing=1.0, name="scan")
    with pytest.raises(RuntimeError, match="disk full"):
        vol.microct.to_zarr(tmp_path / "s.zarr")
    with pytest.raises(IncompleteStoreError):
        open_pyramid(tmp_path / "s.zarr")


# --- HTTP ----------------------------------------------------------------------------


@pytest.fixture
def http_root(tmp_path):
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("version", VERSIONS)
def test_reads_over_http(http_root, tree, version):
    folder, url = http_root
    tree.microct.to_zarr(folder / "scan.zarr", version=version)
    remote = open_pyramid(f"{url}/scan.zarr")
    xr.testing.assert_identical(remote, tree)
    level = mct.open_volume(f"{url}/scan.zarr", level=1)
    xr.testing.assert_equal(level, tree["scale1"]["scan"])
    with pytest.raises(ValueError, match=r"not an OME-Zarr|not a Zarr"):
        open_pyramid(f"{url}/missing.zarr")


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_segmented_pyramid_writes_its_thresholds_in_one_pass(tmp_path, version):
    """The card's chain, pyramid → tubeness → segment, writes and reads back whole."""
    data = np.random.default_rng(7).random((32, 32, 32)).astype("float32")
    tree = mct.from_array(data, chunks=16).microct.pyramid()
    mask = tree.microct.tubeness(sigma="1 voxel").microct.segment()
    store = tmp_path / "mask.ome.zarr"
    mask.microct.to_zarr(store, version=version)
    back = mct.open_pyramid(store)
    for level in range(len(mask.microct.levels)):
        written, read = mask.microct.select_level(level), back.microct.select_level(level)
        np.testing.assert_array_equal(read.values, written.values)
        for name in ("threshold_low", "threshold_high"):
            assert float(read.coords[name]) == pytest.approx(float(written.coords[name]))


# --- viewers: labels, display window, coordinates -----------------------------------------


def _root_attrs(store: Path) -> dict:
    attrs = dict(zarr.open_group(str(store), mode="r").attrs)
    return attrs.get("ome", attrs)


@pytest.mark.parametrize("version", VERSIONS)
def test_label_volume_is_written_as_ngff_labels(tmp_path, version):
    rng = np.random.default_rng(3)
    mask = mct.from_array(rng.random((20, 20, 20)) > 0.6, spacing=0.5, chunks=10, name="mask")
    labels = mask.microct.label()
    for index, volume in enumerate((mask, labels)):
        tree = volume.microct.pyramid(levels=2)  # by mode: never an invented label
        coarse = tree["scale1"][volume.name].values
        assert set(np.unique(coarse)) <= set(np.unique(volume.values))
        store = tmp_path / f"{index}-{version}.zarr"
        tree.microct.to_zarr(store, version=version)
        attrs = _root_attrs(store)
        assert "image-label" in attrs and "omero" not in attrs
        assert attrs["multiscales"][0]["type"] == "mode"
        array = zarr.open_group(str(store), mode="r")[f"0/{volume.name}"]
        assert np.issubdtype(array.dtype, np.integer)  # NGFF labels are integers
        xr.testing.assert_identical(open_pyramid(store), tree)  # a mask comes back bool


@pytest.mark.parametrize("version", VERSIONS)
def test_a_pyramid_of_results_does_not_claim_its_levels_downsampled_by_mode(tmp_path, version):
    """Labels computed on every level of an image pyramid (gaussian) are not a pyramid
    downsampled by mode: the multiscale names the verbs run on every level and states no
    ``type`` it cannot know (it said "mode", from the labels' dtype)."""
    rng = np.random.default_rng(3)
    scan = mct.from_array(rng.random((20, 20, 20)), spacing=0.5, chunks=10, name="scan")
    masks = scan.microct.pyramid(levels=2).microct.threshold()
    store = tmp_path / f"masks-{version}.zarr"
    masks.microct.to_zarr(store, version=version)
    multiscale = _root_attrs(store)["multiscales"][0]
    assert "type" not in multiscale
    assert multiscale["metadata"]["description"].endswith(", then threshold on every level")
    xr.testing.assert_identical(open_pyramid(store), masks)
    # labels on a pyramid: the finest level's labels downsampled by mode make the others
    labels = masks.microct.label()
    store = tmp_path / f"labels-{version}.zarr"
    labels.microct.to_zarr(store, version=version)
    multiscale = _root_attrs(store)["multiscales"][0]
    assert multiscale["type"] == "mode"
    assert multiscale["metadata"]["description"].endswith(
        ", then threshold, label on the finest level, whose labels are downsampled by mode "
        "to the coarser levels"
    )
    xr.testing.assert_identical(open_pyramid(store), labels)


def test_label_pyramid_default_is_mode_and_images_stay_gaussian():
    rng = np.random.default_rng(4)
    labels = mct.from_array(rng.random((20, 20, 20)) > 0.5, spacing=1.0, chunks=10).microct.label()
    by_default = labels.microct.pyramid(levels=2)["scale1"][labels.name]
    by_mode = labels.microct.pyramid(levels=2, method="mode")["scale1"][labels.name]
    xr.testing.assert_equal(by_default, by_mode)
    image = mct.from_array(rng.random((20, 20, 20)), spacing=1.0, chunks=10, name="scan")
    xr.testing.assert_equal(
        image.microct.pyramid(levels=2)["scale1"]["scan"],
        image.microct.pyramid(levels=2, method="gaussian")["scale1"]["scan"],
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_omero_window_is_the_global_percentiles(tmp_path, tree, version):
    store = tmp_path / f"w-{version}.zarr"
    tree.microct.to_zarr(store, version=version, chunks=8)
    window = _root_attrs(store)["omero"]["channels"][0]["window"]
    values = tree["scale0"]["scan"].values
    expected = np.percentile(values, [0, 0.1, 99.9, 100])
    got = [window["min"], window["start"], window["end"], window["max"]]
    np.testing.assert_allclose(got, expected)


def test_irregular_float_coordinates_round_trip_exactly(tmp_path):
    vol = mct.from_array(np.zeros((4, 5, 6), "float32"), spacing=0.1, origin=(0.3, 0.7, 0.1))
    vol = vol.assign_coords(x=vol.x * (1 + 1e-9 * np.arange(6)))  # within grid tolerance
    vol.x.attrs.update(units="micrometer", spacing=0.1, long_name="across")
    vol.microct.to_zarr(tmp_path / "c.zarr")
    back = mct.open_volume(tmp_path / "c.zarr")
    for dim in "zyx":
        np.testing.assert_array_equal(back[dim].values, vol[dim].values)
        assert back[dim].attrs == vol[dim].attrs


@pytest.fixture(scope="module", params=VERSIONS)
def label_store(request, tmp_path_factory) -> tuple[Path, xr.DataTree, str]:
    rng = np.random.default_rng(5)
    mask = mct.from_array(rng.random((16, 20, 24)) > 0.6, spacing=(1.3, 0.65, 0.65),
                          origin=(0.0, 5.0, -2.0), chunks=8, name="mask")
    tree = mask.microct.label().microct.pyramid(levels=2)
    store = tmp_path_factory.mktemp("labels") / f"labels-{request.param}.ome.zarr"
    tree.microct.to_zarr(store, version=request.param)
    return store, tree, request.param


def test_ome_zarr_py_reads_images_with_window_and_labels(written, tree, label_store):
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import OMERO, Label, Reader

    cases = [(written[0], tree, "scan", OMERO), (label_store[0], label_store[1], "mask", Label)]
    for store, expected, name, spec in cases:
        (node, *_) = list(Reader(parse_url(str(store)))())
        assert any(isinstance(s, spec) for s in node.specs)
        transforms = node.metadata["coordinateTransformations"]
        for level, (scale, translation) in zip(expected.children, transforms, strict=True):
            grid = expected[level][name].microct.grid
            assert scale["scale"] == pytest.approx(list(grid.spacing))
            assert translation["translation"] == pytest.approx(list(grid.origin))
        np.testing.assert_array_equal(np.asarray(node.data[-1]),
                                      expected[list(expected.children)[-1]][name].values)
    values = tree["scale0"]["scan"].values
    (image, *_) = list(Reader(parse_url(str(written[0])))())
    np.testing.assert_allclose(image.metadata["contrast_limits"][0],
                               np.percentile(values, [0.1, 99.9]))


def test_label_stores_validate_in_ngff_zarr_and_ome_zarr_models(label_store):
    ngff_zarr = pytest.importorskip("ngff_zarr")
    pytest.importorskip("ome_zarr_models")
    store, tree, version = label_store
    multiscales = ngff_zarr.from_ngff_zarr(str(store), validate=True)
    assert multiscales.images[0].translation == pytest.approx({"z": 0.0, "y": 5.0, "x": -2.0})
    group = zarr.open_group(str(store), mode="r")
    if version == "0.4":
        from ome_zarr_models.v04.image_label import ImageLabel
    else:
        from ome_zarr_models.v05.image_label import ImageLabel
    attrs = ImageLabel.from_zarr(group).attributes
    label = attrs.image_label if version == "0.4" else attrs.ome.image_label
    assert label is not None
    np.testing.assert_array_equal(group["1/mask"][...], tree["scale1"]["mask"].values)


@pytest.mark.parametrize("version", VERSIONS)
def test_labels_under_an_image(tmp_path, version):
    from xarray_microct.io.ngff_labels import label_names, open_labels, write_labels

    vol = make_tree(levels=1)["scale0"]["scan"]
    store = tmp_path / f"img-{version}.ome.zarr"
    vol.microct.to_zarr(store, version=version)
    before = open_pyramid(store)
    mask = (vol > 30000).rename("bright")
    write_labels(mask.microct.pyramid(levels=2), store, "bright")
    assert label_names(store) == ["bright"]
    xr.testing.assert_identical(open_pyramid(store), before)  # the image is untouched
    back = open_labels(store, "bright")
    xr.testing.assert_equal(back["scale0"]["bright"], mask)
    with pytest.raises(FileExistsError, match="already has labels"):
        write_labels(mask, store, "bright")
    with pytest.raises(ValueError, match="share the image's finest grid"):
        write_labels(mask.isel(z=slice(1, None)), store, "part")
    with pytest.raises(ValueError, match="boolean or integer labels"):
        write_labels(vol.astype("float32"), store, "float")
    assert label_names(store) == ["bright"]
    if importlib.util.find_spec("ome_zarr") is not None:
        from ome_zarr.io import parse_url
        from ome_zarr.reader import Label, Reader

        nodes = list(Reader(parse_url(str(store)))())
        found = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
        assert len(found) == 1
        np.testing.assert_array_equal(np.asarray(found[0].data[0]), mask.values.astype("uint8"))


def test_float_window_is_read_from_the_stored_coarsest_level(tmp_path):
    rng = np.random.default_rng(6)
    vol = mct.from_array(rng.normal(0.0, 1.0, (16, 16, 16)).astype("float32"), spacing=1.0,
                         chunks=8, name="scan")
    vol.microct.to_zarr(tmp_path / "f.zarr")  # one level: the finest, read back
    window = _root_attrs(tmp_path / "f.zarr")["omero"]["channels"][0]["window"]
    values = vol.values
    bin_width = (values.max() - values.min()) / 65536
    expected = np.percentile(values, [0, 0.1, 99.9, 100])
    got = [window["min"], window["start"], window["end"], window["max"]]
    np.testing.assert_allclose(got, expected, atol=2 * bin_width)
