"""Viewing: slice previews compute only what is on screen, in physical units."""

from __future__ import annotations

import sys
import threading
import types

import dask.array as da
import holoviews as hv
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import xarray_microct as mct
from xarray_microct import plot, slices


class CountingArray:
    """A large, never-materialised volume whose reads are recorded.

    Value at (z, y, x) is ``z + 1000 * (y % 7) + x % 5`` so that reads can be checked.
    """

    def __init__(self, shape: tuple[int, int, int], dtype: str = "float32") -> None:
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.ndim = 3
        self.reads: list[tuple[slice, ...]] = []
        self._lock = threading.Lock()

    def __getitem__(self, key: tuple[slice | int, ...]) -> np.ndarray:
        dropped = tuple(i for i, k in enumerate(key) if not isinstance(k, slice))
        key = tuple(
            k if isinstance(k, slice) else slice(int(k), int(k) + 1) for k in key
        )
        ranges = [np.arange(n)[k] for n, k in zip(self.shape, key, strict=True)]
        if all(r.size for r in ranges):  # dask probes x[0:0, 0:0, 0:0] for metadata
            with self._lock:
                self.reads.append(key)
        z, y, x = np.meshgrid(*ranges, indexing="ij")
        return (z + 1000 * (y % 7) + x % 5).astype(self.dtype).squeeze(axis=dropped)

    def expected_plane(self, k: int) -> np.ndarray:
        y, x = np.meshgrid(np.arange(self.shape[1]), np.arange(self.shape[2]), indexing="ij")
        return (k + 1000 * (y % 7) + x % 5).astype(self.dtype)


def counting_volume(
    shape: tuple[int, int, int] = (256, 512, 512),
    chunks: tuple[int, int, int] = (32, 128, 128),
    spacing: tuple[float, float, float] = (2.0, 0.5, 0.5),
) -> tuple[xr.DataArray, CountingArray]:
    source = CountingArray(shape)
    data = da.from_array(source, chunks=chunks, asarray=False)
    return mct.from_array(data, spacing=spacing, units="um", name="scan"), source


def chunks_read(source: CountingArray, chunks: tuple[int, int, int]) -> set[tuple[int, ...]]:
    """The chunk indices touched by the recorded reads."""
    touched = set()
    for key in source.reads:
        first = tuple(k.start // c for k, c in zip(key, chunks, strict=True))
        last = tuple((k.stop - 1) // c for k, c in zip(key, chunks, strict=True))
        for index in np.ndindex(*(b - a + 1 for a, b in zip(first, last, strict=True))):
            touched.add(tuple(a + i for a, i in zip(first, index, strict=True)))
    return touched


def test_preview_slice_k_reads_only_the_chunks_of_that_slice():
    vol, source = counting_volume()
    view = plot.preview(vol, clim=(0, 7000))  # an explicit range: nothing read yet
    assert source.reads == []
    k = 203
    image = view[float(vol.z[k])]
    hv.render(image)
    # Only the 4 x 4 chunks of z-block 203 // 32 = 6 are read, never the other 112.
    assert chunks_read(source, (32, 128, 128)) == {(6, i, j) for i in range(4) for j in range(4)}
    read_voxels = sum(
        np.prod([k.stop - k.start for k in key]) for key in source.reads
    )
    assert read_voxels <= 32 * 512 * 512
    np.testing.assert_array_equal(image.dimension_values(2, flat=False), source.expected_plane(k))


def test_moving_the_slider_of_a_rendered_preview_reads_one_slice():
    vol, source = counting_volume()
    plot_obj = hv.renderer("bokeh").get_plot(plot.preview(vol, dim="z", clim=(0, 7000)))
    assert {c[0] for c in chunks_read(source, (32, 128, 128))} == {128 // 32}  # middle slice
    source.reads.clear()
    plot_obj.update((float(vol.z[37]),))
    assert {c[0] for c in chunks_read(source, (32, 128, 128))} == {37 // 32}
    assert len(chunks_read(source, (32, 128, 128))) == 16


def test_preview_along_x_reads_one_column_of_chunks():
    vol, source = counting_volume()
    view = plot.preview(vol, dim="x", clim=(0, 7000))
    view[float(vol.x[300])]
    assert {c[2] for c in chunks_read(source, (32, 128, 128))} == {300 // 128}
    assert len(chunks_read(source, (32, 128, 128))) == 8 * 4


def test_auto_range_is_the_global_percentile_of_the_whole_volume():
    rng = np.random.default_rng(1)
    array = rng.integers(0, 4000, size=(20, 24, 28)).astype("uint16")
    array[3] = 60000  # one bright slice: per-slice ranges would differ, the global one not
    vol = mct.from_array(array, chunks=(7, 9, 11))
    low, high = slices.intensity_range(vol)
    assert (low, high) == pytest.approx(tuple(np.percentile(array, [0.5, 99.5])))
    image = plot.preview(vol)[float(vol.z[10])]
    assert image.vdims[0].range == (pytest.approx(low), pytest.approx(high))


def test_axes_carry_units_and_the_aspect_follows_the_spacing():
    array = np.random.default_rng(0).random((10, 20, 40))
    vol = mct.from_array(array, spacing=(3.0, 0.5, 0.5), units="um")
    side = plot.preview(vol, dim="y", clim=(0, 1), frame_width=400)[float(vol.y[5])]
    figure = hv.render(side)
    assert figure.xaxis[0].axis_label == "x (micrometer)"
    assert figure.yaxis[0].axis_label == "z (micrometer)"
    # x extent 20 um, z extent 30 um: a true-to-scale frame is 1.5 times taller than wide
    assert figure.frame_height / figure.frame_width == pytest.approx(30 / 20, rel=0.02)
    # the slider runs over physical positions
    dims = plot.preview(vol, dim="z", clim=(0, 1)).kdims
    assert dims[0].name == "z" and dims[0].unit == "micrometer"
    assert dims[0].range == (0.0, 27.0) and dims[0].step == 3.0


def pyramid(source_shapes: list[tuple[int, int, int]]) -> tuple[xr.DataTree, list[CountingArray]]:
    sources, datasets = [], {}
    for index, shape in enumerate(source_shapes):
        factor = 2**index
        source = CountingArray(shape)
        data = da.from_array(source, chunks=(16, 64, 64), asarray=False)
        vol = mct.from_array(
            data, spacing=(1.0 * factor, 0.5 * factor, 0.5 * factor),
            origin=(0.5 * (factor - 1), 0.25 * (factor - 1), 0.25 * (factor - 1)),
        )
        datasets[f"scale{index}"] = vol.to_dataset(name="image")
        sources.append(source)
    return xr.DataTree.from_dict(datasets), sources


def test_tree_preview_uses_the_level_that_fits_the_screen_and_refines_on_zoom():
    tree, sources = pyramid([(64, 512, 512), (32, 256, 256), (16, 128, 128)])
    view = plot.preview(tree, screen=(300, 300))  # auto range: from the coarsest level only
    assert sources[0].reads == [] and sources[1].reads == []
    assert len(chunks_read(sources[2], (16, 64, 64))) == 4  # the whole coarsest level
    image = view[8.0]
    assert image.dimension_values(2, flat=False).shape == (256, 256)  # level 1 fits 300 px
    assert hv.render(view) is not None  # live: the slider and the zoom (RangeXY) stream
    assert sources[0].reads == []
    # zoomed in on a 40 um window: the finest level, and only the window of it
    zoomed = view.callback.callable(8.0, x_range=(100.0, 140.0), y_range=(20.0, 60.0))
    values = zoomed.dimension_values(2, flat=False)
    assert 80 <= values.shape[0] <= 90 and 80 <= values.shape[1] <= 90
    assert {c[1:] for c in chunks_read(sources[0], (16, 64, 64))} <= {(0, 3), (0, 4), (1, 3),
                                                                      (1, 4)}


def test_level_for_screen_picks_the_finest_that_fits():
    levels = [mct.from_array(np.zeros((2, n, 2 * n))) for n in (400, 200, 100)]
    assert slices.level_for_screen(levels, "z", (500, 500)) == 1
    assert slices.level_for_screen(levels, "z", (10, 10)) == 2
    assert slices.level_for_screen(levels, "x", (500, 500)) == 0


def test_overlay_draws_labels_with_a_transparent_background():
    rng = np.random.default_rng(0)
    vol = mct.from_array(rng.random((6, 12, 14)), spacing=(2.0, 1.0, 1.0))
    labels = mct.from_array(rng.integers(0, 300, size=(6, 12, 14)).astype("int32"),
                            spacing=(2.0, 1.0, 1.0))
    view = plot.overlay(vol, labels, alpha=0.3, clim=(0, 1))
    shown = view[4.0]
    _, label_layer = shown.values()
    expected = labels.values[2]
    colour = label_layer.dimension_values("label_colour", flat=False)
    np.testing.assert_array_equal(label_layer.dimension_values("label", flat=False), expected)
    assert np.isnan(colour[expected == 0]).all()
    np.testing.assert_array_equal(colour[expected > 0], (expected[expected > 0] - 1) % 256)
    assert hv.Store.lookup_options("bokeh", label_layer, "style").kwargs["alpha"] == 0.3
    hv.render(shown)
    via_accessor = vol.microct.overlay(vol > 0.5, alpha=0.5, clim=(0, 1))[0.0]
    assert len(via_accessor) == 2


def test_overlay_refuses_mismatched_or_non_integer_labels():
    vol = mct.from_array(np.random.default_rng(0).random((4, 8, 8)))
    with pytest.raises(ValueError, match="same grid"):
        plot.overlay(vol, mct.from_array(np.zeros((4, 8, 8), "int32"), spacing=2.0), clim=(0, 1))
    with pytest.raises(TypeError, match="integer labels or a boolean mask"):
        plot.overlay(vol, vol, clim=(0, 1))[0.0]
    with pytest.raises(ValueError, match="shape"):
        plot.overlay(vol, mct.from_array(np.zeros((4, 8, 9), "int32")), clim=(0, 1))


def test_orthoslices_are_linked_through_a_shared_point():
    array = np.random.default_rng(2).random((10, 12, 16))
    vol = mct.from_array(array, spacing=(2.0, 1.0, 1.0))
    layout = plot.orthoslices(vol, point=(4.0, 5.0, 7.0), clim=(0, 1))
    xy, xz, zy = (layout[key] for key in layout.keys())
    np.testing.assert_array_equal(xy[()].get(0).dimension_values(2, flat=False), array[2])
    np.testing.assert_array_equal(xz[()].get(0).dimension_values(2, flat=False), array[:, 5, :])
    np.testing.assert_array_equal(zy[()].get(0).dimension_values(2, flat=False), array[:, :, 7].T)
    # a tap on the xy view at (x=3, y=9) moves the point: the other views follow
    tap = next(s for s in hv.streams.Stream.registry[xy] if isinstance(s, hv.streams.Tap))
    tap.event(x=3.0, y=9.0)
    np.testing.assert_array_equal(xz[()].get(0).dimension_values(2, flat=False), array[:, 9, :])
    np.testing.assert_array_equal(zy[()].get(0).dimension_values(2, flat=False), array[:, :, 3].T)
    assert hv.render(layout) is not None


def test_orthoslices_of_a_single_slice_volume_render_one_voxel_thick():
    """A volume one slice thick (a 2-D scan): its xz and zy views are one row/column of
    voxels as thick as the slice spacing (hvplot could not tell a voxel's size from one
    coordinate, and rendering failed with "cannot convert float NaN to integer")."""
    array = np.random.default_rng(3).random((1, 12, 16))
    vol = mct.from_array(array, spacing=(2.0, 1.0, 1.0))
    layout = plot.orthoslices(vol, point=(0.0, 5.0, 7.0), clim=(0, 1))
    views = [layout[key][()].get(0) for key in layout.keys()]
    np.testing.assert_array_equal(views[0].dimension_values(2, flat=False), array[0])
    np.testing.assert_array_equal(views[1].dimension_values(2, flat=False), array[:, 5, :])
    np.testing.assert_array_equal(views[2].dimension_values(2, flat=False), array[:, :, 7].T)
    assert views[1].bounds.lbrt() == pytest.approx((-0.5, -1.0, 15.5, 1.0))  # x, z
    assert views[2].bounds.lbrt() == pytest.approx((-1.0, -0.5, 1.0, 11.5))  # z, y
    assert hv.render(layout) is not None
    labels = mct.from_array((array > 0.5).astype("int32"), spacing=(2.0, 1.0, 1.0))
    across = plot.label_image(labels, "y", 5.0)
    assert across.bounds.lbrt() == pytest.approx((-0.5, -1.0, 15.5, 1.0))
    np.testing.assert_array_equal(across.dimension_values("label", flat=False), labels[:, 5].values)
    assert hv.render(plot.overlay(vol, labels, dim="y")) is not None


def test_centres_plot_shows_the_centres_of_the_shown_slice():
    vol = mct.from_array(np.random.default_rng(0).random((5, 20, 20)), spacing=(1.0, 0.5, 0.5))
    detected = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0], "z": [2.0, 2.2, 4.0]})
    truth = pd.DataFrame({"x": [1.1], "y": [1.0], "z": [2.0]})
    shown = vol.microct.plot_centres(detected, truth, z=2.0, clim=(0, 1))
    _, found, true = shown.values()
    assert found.dimension_values("x").tolist() == [1.0, 2.0]
    assert true.dimension_values("x").tolist() == [1.1]
    with pytest.raises(ValueError, match="no column"):
        plot.centres_plot(vol, pd.DataFrame({"col": [1.0]}), clim=(0, 1))


def test_bad_arguments_have_clear_errors():
    vol = mct.from_array(np.random.default_rng(0).random((4, 8, 8)))
    with pytest.raises(ValueError, match="dim must be one of"):
        plot.preview(vol, dim="t", clim=(0, 1))
    with pytest.raises(ValueError, match="low < high"):
        plot.preview(vol, clim=(1, 0))
    with pytest.raises(TypeError, match="DataTree"):
        plot.preview(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match=r"isel\(c=0\)"):
        plot.preview(mct.from_array(np.zeros((2, 4, 4, 4))), clim=(0, 1))


def test_static_preview_holds_the_chosen_slices():
    array = np.random.default_rng(3).random((9, 6, 6))
    vol = mct.from_array(array, spacing=(1.5, 1.0, 1.0))
    static = vol.microct.preview(positions=3, clim=(0, 1))
    assert list(static.keys()) == [3.0, 6.0, 9.0]
    np.testing.assert_array_equal(static[6.0].dimension_values(2, flat=False), array[4])


def test_view3d_names_the_extra_when_itkwidgets_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "itkwidgets", None)
    vol = mct.from_array(np.zeros((4, 4, 4)))
    with pytest.raises(ImportError, match=r"xarray-microct\[view3d\]"):
        vol.microct.view3d()


def test_view3d_passes_physical_spacing_to_the_renderer(monkeypatch):
    seen = {}
    fake = types.ModuleType("itkwidgets")

    def view(image, **options):
        seen["spacing"] = tuple(image.GetSpacing())
        seen["origin"] = tuple(image.GetOrigin())
        seen["shape"] = tuple(image.GetLargestPossibleRegion().GetSize())
        seen["options"] = options
        return "viewer"

    fake.view = view
    monkeypatch.setitem(sys.modules, "itkwidgets", fake)
    tree, _ = pyramid([(32, 128, 128), (16, 64, 64)])
    assert plot.view3d(tree, screen_voxels=100_000, cmap="viridis") == "viewer"
    assert seen["spacing"] == (1.0, 1.0, 2.0)  # x, y, z order for ITK, level 1
    assert seen["origin"] == (0.25, 0.25, 0.5)
    assert seen["shape"] == (64, 64, 16)
    assert seen["options"] == {"cmap": "viridis"}


def test_fibers_plot_draws_each_fiber_of_the_slice_with_its_radius():
    from xarray_microct.synthetic import fiber_bed

    scan, truth = fiber_bed((6, 48, 48), seed=3, chunks=24)
    z = float(scan.z[3])
    table = truth.centres
    shown = scan.microct.plot_fibers(table, truth.centres, z=z, clim=(0, 50000))
    on_slice = table[np.isclose(table["z"], z)]
    circles = shown.get(2)
    assert len(circles.data) == len(on_slice) > 0
    first = circles.data[0]
    centre = on_slice.iloc[0]
    assert np.hypot(first["x"] - centre["x"], first["y"] - centre["y"]) == pytest.approx(
        np.full(len(first["x"]), centre["radius"]))
    assert hv.render(shown) is not None
    with pytest.raises(ValueError, match="detect_fibers"):
        plot.fibers_plot(scan, pd.DataFrame({"x": [1.0]}), clim=(0, 1))


def test_png_figures_never_switch_the_users_matplotlib_backend(tmp_path, monkeypatch):
    import matplotlib

    from xarray_microct.report import save_slice_png

    def refuse(*args, **kwargs):
        raise AssertionError("a library function switched the matplotlib backend")

    monkeypatch.setattr(matplotlib, "use", refuse)
    vol = mct.from_array(np.random.default_rng(0).random((4, 8, 8)), spacing=(2.0, 1.0, 1.0))
    out = save_slice_png(vol, tmp_path / "slice.png", dim="y")
    assert out.read_bytes()[:4] == b"\x89PNG"
