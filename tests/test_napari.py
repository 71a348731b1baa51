"""napari opens the stores this project writes: its builtin reader, napari-ome-zarr and
this project's plugin (headless ``ViewerModel``, no Qt), with the right layer type, scale,
translation, units and contrast. Skipped when napari is not installed (extra ``napari``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest

import xarray_microct as mct

napari = pytest.importorskip("napari")
pytest.importorskip("npe2")

from napari.components import ViewerModel  # noqa: E402

from xarray_microct.napari import get_reader, read_store, run_on_layer  # noqa: E402

MANIFEST = Path(mct.__file__).parent / "napari.yaml"
SPACING, ORIGIN = (1.3, 0.65, 0.65), (0.0, 5.0, -2.0)


@pytest.fixture(scope="module", autouse=True)
def plugins() -> None:
    """napari's plugins, and this one even when the package is installed without its
    entry point (an editable install made before the plugin existed)."""
    from napari.plugins import _initialize_plugins
    from npe2 import PluginManager, PluginManifest

    _initialize_plugins()
    manager = PluginManager.instance()
    if "xarray-microct" not in manager._manifests:
        manager.register(PluginManifest.from_file(MANIFEST))


def make_scan():
    rng = np.random.default_rng(0)
    array = rng.integers(0, 1000, (16, 20, 24)).astype("uint16")
    return mct.from_array(array, spacing=SPACING, origin=ORIGIN, chunks=8, name="scan")


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """Image pyramid, single image (NGFF 0.5), mask pyramid, label image, and the
    outputs of ``microct run`` (the resumable writer) for an image and a mask."""
    from xarray_microct.io.results import write_volume

    folder = tmp_path_factory.mktemp("napari")
    vol = make_scan()
    mask = vol.microct.threshold(method="otsu")
    paths = {
        "pyramid": folder / "scan.ome.zarr",
        "image": folder / "scan5.ome.zarr",
        "mask": folder / "mask.ome.zarr",
        "labels": folder / "labels.ome.zarr",
        "run image": folder / "smooth.zarr",
        "run mask": folder / "otsu.zarr",
    }
    vol.microct.pyramid(levels=2).microct.to_zarr(paths["pyramid"])
    vol.microct.to_zarr(paths["image"], version="0.5")
    mask.microct.pyramid(levels=2).microct.to_zarr(paths["mask"])
    mask.microct.label().microct.to_zarr(paths["labels"], version="0.5")
    write_volume(vol.microct.gaussian(sigma="1 voxel"), paths["run image"])
    write_volume(mask, paths["run mask"])
    return paths


def open_in_napari(path: Path, plugin: str) -> list:
    viewer = ViewerModel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return viewer.open(str(path), plugin=plugin)


KIND = {
    "pyramid": "Image",
    "image": "Image",
    "mask": "Labels",
    "labels": "Labels",
    "run image": "Image",
    "run mask": "Labels",
}


@pytest.mark.parametrize("which", list(KIND))
def test_builtin_reader_opens_the_finest_level(stores, which):
    """napari's builtin reader knows no NGFF: it shows the finest level as an image in
    voxel units (it failed on every store while coordinate arrays sat beside images)."""
    (layer,) = open_in_napari(stores[which], "napari")
    expected = mct.open_volume(stores[which])
    assert type(layer).__name__ == "Image"
    np.testing.assert_array_equal(np.asarray(layer.data), expected.values.astype(layer.dtype))


@pytest.mark.parametrize("which", list(KIND))
@pytest.mark.parametrize("plugin", ["napari-ome-zarr", "xarray-microct"])
def test_ngff_readers_give_type_scale_units_and_levels(stores, which, plugin):
    (layer,) = open_in_napari(stores[which], plugin)
    assert type(layer).__name__ == KIND[which]
    np.testing.assert_allclose(layer.scale, SPACING)
    assert [str(u) for u in layer.units] == ["micrometer"] * 3
    levels = 2 if which in ("pyramid", "mask") else 1
    assert layer.multiscale == (levels > 1)
    data = layer.data if layer.multiscale else [layer.data]
    assert len(data) == levels
    expected = mct.open_volume(stores[which])
    np.testing.assert_array_equal(np.asarray(data[0]), expected.values.astype(data[0].dtype))
    if plugin == "xarray-microct":  # napari-ome-zarr drops NGFF translations (see report)
        np.testing.assert_allclose(layer.translate, ORIGIN)
        assert all(isinstance(d, da.Array) for d in data)  # lazy


@pytest.mark.parametrize("plugin", ["napari-ome-zarr", "xarray-microct"])
def test_contrast_comes_from_the_omero_window(stores, plugin):
    (layer,) = open_in_napari(stores["pyramid"], plugin)
    values = make_scan().values
    np.testing.assert_allclose(layer.contrast_limits, np.percentile(values, [0.1, 99.9]))


def test_reader_declines_what_is_not_ome_zarr(tmp_path, stores):
    assert get_reader(str(tmp_path)) is None
    assert get_reader([str(stores["image"]), str(stores["mask"])]) is None
    assert get_reader(str(stores["image"])) is not None


def test_mask_layer_holds_integer_labels(stores):
    ((data, meta, kind),) = read_store(stores["mask"])
    assert kind == "labels" and meta["multiscale"]
    assert [level.dtype for level in data] == [np.uint8, np.uint8]
    assert set(np.unique(np.asarray(data[1]))) <= {0, 1}  # mode: no blended ids


@pytest.mark.parametrize(
    ("verb", "parameters", "kind"),
    [("gaussian", "sigma='1 voxel'", "Image"), ("threshold", "method='otsu'", "Labels")],
)
def test_widget_runs_a_verb_lazily_on_the_layer(stores, verb, parameters, kind):
    viewer = ViewerModel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (layer,) = viewer.open(str(stores["image"]), plugin="xarray-microct")
    data, meta, layer_type = run_on_layer(layer, verb, parameters)
    assert isinstance(data, da.Array)  # lazy: computed as napari shows it
    (added,) = viewer._add_layer_from_data(data, meta, layer_type)
    assert type(added).__name__ == kind
    np.testing.assert_allclose(added.scale, SPACING)
    np.testing.assert_allclose(added.translate, ORIGIN)
    volume = mct.open_volume(stores["image"])
    expected = getattr(volume.microct, verb)(
        **({"sigma": "1 voxel"} if verb == "gaussian" else {"method": "otsu"})
    )
    np.testing.assert_array_equal(np.asarray(added.data), expected.values.astype(added.dtype))


def test_widget_on_a_layer_without_units_says_what_to_set():
    viewer = ViewerModel()
    layer = viewer.add_image(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="no physical length unit"):
        run_on_layer(layer, "gaussian", "sigma=1.0")
    layer.units = ("micrometer",) * 3
    data, _, kind = run_on_layer(layer, "gaussian", "sigma=1.0")
    assert kind == "image" and data.shape == (4, 4, 4)
    with pytest.raises(ValueError, match="keyword arguments"):
        run_on_layer(layer, "gaussian", "1.0")


def test_dock_widget_builds_and_runs_with_a_qt_binding(stores):
    pytest.importorskip("qtpy.QtWidgets", exc_type=ImportError)
    from xarray_microct.napari import run_widget

    widget = run_widget()
    assert "threshold" in widget.verb.choices and "beads" in widget.verb.choices
    (layer,) = open_in_napari(stores["image"], "xarray-microct")
    data, meta, kind = widget(layer, "threshold", "method='otsu'")  # what Run calls
    assert kind == "labels" and isinstance(data, da.Array)
    np.testing.assert_allclose(meta["translate"], ORIGIN)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
@pytest.mark.parametrize("plugin", ["napari-ome-zarr", "xarray-microct"])
def test_labels_under_their_image_open_as_a_labels_layer(tmp_path, version, plugin):
    from xarray_microct.io.ngff_labels import write_labels

    vol = make_scan()
    store = tmp_path / f"with-labels-{version}.ome.zarr"
    vol.microct.pyramid(levels=2).microct.to_zarr(store, version=version)
    mask = vol.microct.threshold(method="otsu")
    write_labels(mask.microct.pyramid(levels=2), store, "bright")
    image, labels = open_in_napari(store, plugin)
    assert type(image).__name__ == "Image" and type(labels).__name__ == "Labels"
    assert labels.multiscale and labels.data[0].shape == vol.shape
    np.testing.assert_allclose(labels.scale, SPACING)
    np.testing.assert_array_equal(np.asarray(labels.data[0]), mask.values.astype("uint8"))
    assert [str(u) for u in labels.units] == ["micrometer"] * 3
    if plugin == "xarray-microct":
        np.testing.assert_allclose(labels.translate, ORIGIN)
        np.testing.assert_allclose(image.translate, ORIGIN)


def _image_with_labels(store: Path, write=None) -> Path:
    from xarray_microct.io.ngff_labels import write_labels

    vol = make_scan()
    if write is None:
        vol.microct.pyramid(levels=2).microct.to_zarr(store)
    else:
        write(vol.microct.pyramid(levels=2), store, "0.4")
    write_labels(vol.microct.threshold(method="otsu"), store, "bright")
    return store


def test_builtin_reader_opens_the_finest_level_of_an_image_with_labels(tmp_path):
    """The builtin reader opens the first group in name order: level ``0``, before
    ``labels`` (a group with no array, on which it failed while levels were ``scale0``...)."""
    (layer,) = open_in_napari(_image_with_labels(tmp_path / "with-labels.ome.zarr"), "napari")
    assert type(layer).__name__ == "Image"
    np.testing.assert_array_equal(np.asarray(layer.data), make_scan().values)


def test_an_image_with_labels_of_an_earlier_version(tmp_path):
    """Stores of earlier versions (levels in ``scale0``...) with labels: every NGFF
    reader opens them; the builtin reader opens the level's group (its first group is
    ``labels``, which holds no array)."""
    from earlier_layout import write_earlier_layout

    store = _image_with_labels(tmp_path / "earlier.ome.zarr", write_earlier_layout)
    for plugin in ("napari-ome-zarr", "xarray-microct"):
        image, labels = open_in_napari(store, plugin)
        assert (type(image).__name__, type(labels).__name__) == ("Image", "Labels")
        np.testing.assert_allclose(labels.scale, SPACING)
        np.testing.assert_array_equal(np.asarray(image.data[0]), make_scan().values)
    with pytest.raises(ValueError, match="No arrays found"):
        open_in_napari(store, "napari")
    (layer,) = open_in_napari(store / "scale0", "napari")
    assert type(layer).__name__ == "Image"
    np.testing.assert_array_equal(np.asarray(layer.data), make_scan().values)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_napari_ome_zarr_places_our_store_as_it_places_ngff_zarrs(tmp_path, version):
    """napari-ome-zarr drops the translation of ngff-zarr's own store too (it reads only
    the first transform of a dataset): our metadata is not the cause, and this project's
    reader applies the translation of both stores."""
    ngff_zarr = pytest.importorskip("ngff_zarr")
    vol = make_scan()
    ours = tmp_path / f"ours-{version}.ome.zarr"
    vol.microct.to_zarr(ours, version=version)
    image = ngff_zarr.to_ngff_image(
        vol.values,
        dims=("z", "y", "x"),
        scale=dict(zip("zyx", SPACING, strict=True)),
        translation=dict(zip("zyx", ORIGIN, strict=True)),
        axes_units=dict.fromkeys("zyx", "micrometer"),
    )
    theirs = tmp_path / f"theirs-{version}.ome.zarr"
    ngff_zarr.to_ngff_zarr(str(theirs), ngff_zarr.to_multiscales(image), version=version)
    (a,) = open_in_napari(ours, "napari-ome-zarr")
    (b,) = open_in_napari(theirs, "napari-ome-zarr")
    np.testing.assert_allclose(a.scale, b.scale)
    np.testing.assert_allclose(a.translate, b.translate)
    np.testing.assert_allclose(a.affine.affine_matrix, b.affine.affine_matrix)
    assert list(a.units) == list(b.units)
    for store in (ours, theirs):
        (layer,) = open_in_napari(store, "xarray-microct")
        np.testing.assert_allclose(layer.scale, SPACING)
        np.testing.assert_allclose(layer.translate, ORIGIN)


def test_reader_leaves_2d_ngff_images_to_other_readers(tmp_path):
    ngff_zarr = pytest.importorskip("ngff_zarr")
    image = ngff_zarr.to_ngff_image(np.zeros((8, 8), "uint8"), dims=("y", "x"))
    ngff_zarr.to_ngff_zarr(str(tmp_path / "flat.zarr"), ngff_zarr.to_multiscales(image))
    assert get_reader(str(tmp_path / "flat.zarr")) is None


def test_a_fiber_table_store_opens_as_points_on_the_image(tmp_path):
    """The fiber table ``microct run`` writes lies on the scan in napari: one point per
    fiber and slice at its physical centre, as wide as the fiber, with its columns."""
    from xarray_microct.io.tables import write_table

    table = pd.DataFrame(
        {
            "fiber_id": [4, 4, 9],
            "z": [0.0, 1.3, 0.0],
            "y": [5.65, 5.65, 8.25],
            "x": [-0.7, -0.05, 3.2],
            "radius": [1.0, 1.1, 0.8],
        }
    )
    table.attrs["units"] = "micrometer"
    store = write_table(table, tmp_path / "fibers.zarr")
    image = tmp_path / "scan.ome.zarr"
    make_scan().microct.to_zarr(image)
    viewer = ViewerModel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (scan,) = viewer.open(str(image), plugin="xarray-microct")
        (points,) = viewer.open(str(store), plugin="xarray-microct")
    assert type(points).__name__ == "Points"
    np.testing.assert_allclose(points.data, table[["z", "y", "x"]].to_numpy())
    np.testing.assert_allclose(points.size, 2 * table["radius"].to_numpy())
    assert points.features["fiber_id"].tolist() == [4, 4, 9]
    assert [str(u) for u in points.units] == ["micrometer"] * 3
    # the point at (0, 5.65, -0.7) um is the centre of voxel (0, 1, 2) of the scan
    voxel = scan.world_to_data(points.data_to_world(points.data[0]))
    np.testing.assert_allclose(voxel, [0.0, 1.0, 2.0])
    assert get_reader(str(tmp_path / "scan.ome.zarr")) is not None
    columns_only = write_table(pd.DataFrame({"label": [1], "area": [2.0]}), tmp_path / "t.zarr")
    assert get_reader(str(columns_only)) is None  # no positions: left to other readers
