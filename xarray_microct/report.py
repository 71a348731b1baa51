"""Self-contained HTML reports (and PNG figures) of an analysis.

:func:`save_report` writes one HTML page that opens anywhere, offline: the Bokeh/Panel
JavaScript is inlined, the slice viewers embed a fixed set of slices (their slider works
without a server), and the PNG figures written beside the page are embedded too. The page
shows the volume's grid, previews (with the labels or mask drawn over them), orthogonal
slices, detected centres, the fiber bed of a fiber table (count, volume fraction, radius
and misalignment distributions, 3-D centre lines), the metrics, and the provenance of the
result: every operation with its parameters as given and as resolved to voxels, and the
package versions.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xarray_microct.core.provenance import records_of
from xarray_microct.core.volume import SPATIAL_DIMS, grid_of
from xarray_microct.plot import centres_plot, load_holoviews, overlay, preview
from xarray_microct.slices import (
    PLANE,
    centre,
    index_of,
    label_colors,
    level_for_screen,
    pyramid_levels,
    resolve_clim,
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; }
table.microct { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
table.microct td, table.microct th { border: 1px solid #ccc; padding: 0.25em 0.6em;
  text-align: left; vertical-align: top; }
table.microct th { background: #f2f2f2; }
code { font-size: 0.85em; white-space: pre-wrap; }
img.figure { max-width: 100%; border: 1px solid #ddd; margin: 0.3em 0; }
"""


def save_view(view: Any, path: str | Path, title: str = "xarray-microct view") -> Path:
    """Save a HoloViews view (e.g. a static :func:`~xarray_microct.plot.preview`) or a
    Plotly figure (:func:`~xarray_microct.plot.fiber_axes_view`) as HTML.

    The page is self-contained (JavaScript inlined); a slider over embedded slices works
    without a server. Give a static view (``positions=...``): a live DynamicMap would be
    saved at its first slice only. A Plotly figure stays live (rotate, zoom, hover).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> from xarray_microct.plot import preview
    >>> vol = mct.from_array(np.random.rand(6, 8, 8))
    >>> out = save_view(preview(vol, positions=2), pathlib.Path(tempfile.mkdtemp()) / "p.html")
    >>> "Bokeh" in out.read_text()
    True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if type(view).__module__.startswith("plotly."):
        page = view.to_html(include_plotlyjs=True, full_html=True)
        page = page.replace("<head>", f"<head><title>{html.escape(title)}</title>", 1)
        path.write_text(page, encoding="utf-8")
        return path
    import panel as pn

    load_holoviews()
    _save_offline(pn.panel(view), path, title)
    return path


def _save_offline(panel: Any, path: Path, title: str) -> None:
    """Save a Panel object as one HTML file that makes no network request when opened."""
    panel.save(str(path), embed=True, resources="inline", title=title, progress=False)
    text = path.read_text(encoding="utf-8")
    # Panel's page template links its icons from a CDN; an offline page does without them.
    text = re.sub(r'<link rel="(?:icon|apple-touch-icon)"[^>]*https?://[^>]*>\s*', "", text)
    # ... and its widgets import stylesheets from the CDN: inline the installed copies.
    text = _IMPORTED_CSS.sub(_inline_stylesheet, text)
    path.write_text(text, encoding="utf-8")


_IMPORTED_CSS = re.compile(
    r'\{"type":"object","name":"ImportedStyleSheet","id":"(?P<id>[^"]+)",'
    r'"attributes":\{"url":"https://cdn\.holoviz\.org/panel/[^/"]+/dist/(?P<file>[^"?]+)'
    r'(?:\?[^"]*)?"\}\}'
)


def _inline_stylesheet(match: re.Match[str]) -> str:
    import panel as pn

    local = Path(pn.__file__).parent / "dist" / match["file"]
    if not local.is_file():
        raise FileNotFoundError(
            f"panel's stylesheet {match['file']} is not installed at {local}; reinstall panel"
        )
    css = json.dumps(local.read_text(encoding="utf-8")).replace("</", "<\\/")
    return (
        f'{{"type":"object","name":"InlineStyleSheet","id":"{match["id"]}",'
        f'"attributes":{{"css":{css}}}}}'
    )


# ---------------------------------------------------------------------------------------
# PNG figures (matplotlib: no browser needed)


def _extent(level: xr.DataArray, h_dim: str, v_dim: str) -> list[float]:
    grid = grid_of(level)
    spacing = dict(zip(grid.dims, grid.spacing, strict=True))
    h, v = level.coords[h_dim].values, level.coords[v_dim].values
    return [
        h[0] - spacing[h_dim] / 2, h[-1] + spacing[h_dim] / 2,
        v[-1] + spacing[v_dim] / 2, v[0] - spacing[v_dim] / 2,
    ]


def _label_rgba(labels: np.ndarray, alpha: float) -> np.ndarray:
    from matplotlib.colors import to_rgba

    palette = np.array([to_rgba(c) for c in label_colors()])
    labels = labels.astype(np.int64)
    rgba = palette[(np.maximum(labels, 1) - 1) % len(palette)]
    rgba[..., 3] = np.where(labels > 0, alpha, 0.0)
    return rgba


def save_slice_png(
    obj: xr.DataArray | xr.DataTree,
    path: str | Path,
    *,
    dim: str = "z",
    position: float | None = None,
    labels: xr.DataArray | None = None,
    alpha: float = 0.5,
    clim: tuple[float, float] | str | None = "auto",
    centres: Mapping[str, Any] | None = None,
    dpi: int = 110,
) -> Path:
    """A PNG of one slice in physical units (labels and centres optionally drawn over it).

    Only that slice is computed.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.DataTree
    path : str or Path
    dim : {"z", "y", "x"}
    position : float, optional
        Physical position along ``dim``; the middle by default.
    labels : xarray.DataArray, optional
        Labels or mask on the same grid, drawn with the categorical palette.
    alpha : float
        Opacity of the labels.
    clim : "auto", (low, high) or None
    centres : mapping of name to table, optional
        Tables with ``x``/``y`` columns (physical units), drawn as markers on a z slice.
    dpi : int

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(4, 8, 8), spacing=(2.0, 1.0, 1.0))
    >>> out = save_slice_png(vol, pathlib.Path(tempfile.mkdtemp()) / "s.png", dim="y")
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    import pandas as pd
    from matplotlib.figure import Figure

    levels = pyramid_levels(obj)
    level = levels[level_for_screen(levels, dim)]
    grid = grid_of(level)
    h_dim, v_dim = PLANE[dim]
    at = centre(level)[dim] if position is None else float(position)
    index = index_of(level, dim, at)
    limits = resolve_clim(obj, clim)
    plane = level.isel({dim: index}).transpose(v_dim, h_dim).values.astype(np.float64)
    width = 6.0
    ratio = (plane.shape[0] * grid.spacing[SPATIAL_DIMS.index(v_dim)]) / (
        plane.shape[1] * grid.spacing[SPATIAL_DIMS.index(h_dim)]
    )
    fig = Figure(figsize=(width, max(2.0, min(width * ratio, 12.0)) + 0.6))
    ax = fig.subplots()
    extent = _extent(level, h_dim, v_dim)
    shown = ax.imshow(
        plane, cmap="gray", extent=extent, interpolation="nearest",
        vmin=None if limits is None else limits[0], vmax=None if limits is None else limits[1],
    )
    fig.colorbar(shown, ax=ax, shrink=0.8, label=str(level.attrs.get("units", "intensity")))
    if labels is not None:
        label_plane = labels.isel({dim: index}).transpose(v_dim, h_dim).values
        ax.imshow(_label_rgba(label_plane, alpha), extent=extent, interpolation="nearest")
    styles = [("x", "red"), ("o", "cyan"), ("+", "yellow")]
    for (name, table), (marker, colour) in zip((centres or {}).items(), styles, strict=False):
        frame = pd.DataFrame(table)
        if "z" in frame.columns:
            coord = float(level.coords[dim].values[index])
            frame = frame[np.abs(frame["z"].to_numpy(float) - coord) <= grid.spacing[0] / 2]
        if marker == "o":
            ax.scatter(frame["x"], frame["y"], marker=marker, s=40, label=name,
                       facecolors="none", edgecolors=colour, linewidths=1.5)
        else:
            ax.scatter(frame["x"], frame["y"], marker=marker, s=40, label=name, c=colour,
                       linewidths=1.5)
    if centres:
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xlabel(f"{h_dim} ({grid.units})")
    ax.set_ylabel(f"{v_dim} ({grid.units})")
    ax.set_aspect("equal")
    ax.set_title(f"{level.name or 'volume'}, {dim} = {float(level.coords[dim][index]):.4g} "
                 f"{grid.units}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


# ---------------------------------------------------------------------------------------
# HTML pieces


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f'<table class="microct"><tr>{head}</tr>{body}</table>'


def _format(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{float(value):.4g}"
    return html.escape(str(value))


def metrics_html(metrics: Any) -> str:
    """An HTML table of metrics: a mapping name → value, or a pandas DataFrame.

    Examples
    --------
    >>> print(metrics_html({"dice": 0.91234}).replace("<tr>", "\\n<tr>"))
    <table class="microct">
    <tr><th>metric</th><th>value</th></tr>
    <tr><td>dice</td><td>0.9123</td></tr></table>
    """
    import pandas as pd

    if isinstance(metrics, pd.DataFrame):
        frame = metrics
        return _table(
            [[_format(i), *(_format(v) for v in row)] for i, row in zip(
                frame.index, frame.itertuples(index=False), strict=True)],
            [str(frame.index.name or ""), *map(str, frame.columns)],
        )
    if isinstance(metrics, Mapping):
        return _table([[_format(k), _format(v)] for k, v in metrics.items()], ["metric", "value"])
    raise TypeError(
        f"metrics must be a mapping or a pandas DataFrame, got {type(metrics).__name__}"
    )


def provenance_html(records: Sequence[Mapping[str, Any]]) -> str:
    """An HTML table of provenance records (one row per operation, oldest first).

    Examples
    --------
    >>> "gaussian" in provenance_html([{"op": "gaussian", "params": {"sigma": "1 um"}}])
    True
    """
    if not records:
        return "<p>No provenance recorded (the input was not produced by xarray-microct).</p>"
    rows = []
    for step, record in enumerate(records, start=1):
        def dump(key: str, record: Mapping[str, Any] = record) -> str:
            value = record.get(key)
            if not value:
                return ""
            return f"<code>{html.escape(json.dumps(value, default=str))}</code>"

        rows.append([
            str(step), html.escape(str(record.get("op", record.get("source", "?")))),
            dump("params"), dump("resolved"), dump("versions"),
            html.escape(str(record.get("time", ""))),
        ])
    header = ["step", "operation", "parameters", "resolved (voxels)", "versions", "time"]
    return _table(rows, header)


def grid_html(volume: xr.DataArray) -> str:
    """An HTML table describing a volume's grid, dtype and chunks."""
    grid = grid_of(volume)
    rows = [
        ["shape (z, y, x)", " × ".join(map(str, grid.shape))],
        ["spacing", ", ".join(f"{s:g}" for s in grid.spacing) + f" {grid.units}"],
        ["origin", ", ".join(f"{o:g}" for o in grid.origin) + f" {grid.units}"],
        ["extent", ", ".join(f"{n * s:g}" for n, s in zip(grid.shape, grid.spacing,
                                                          strict=True)) + f" {grid.units}"],
        ["dtype", str(volume.dtype)],
    ]
    if volume.chunks is not None:
        rows.append(["chunks", " × ".join(str(c[0]) for c in volume.chunks[-3:])])
    return _table([[html.escape(a), html.escape(b)] for a, b in rows], ["", ""])


def _png_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img class="figure" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def save_report(
    path: str | Path,
    volume: xr.DataArray | xr.DataTree,
    *,
    labels: xr.DataArray | None = None,
    metrics: Any = None,
    centres: Mapping[str, Any] | None = None,
    result: Any = None,
    title: str = "xarray-microct report",
    slices: int = 5,
    alpha: float = 0.45,
    notes: str | None = None,
    fibers: Any = None,
) -> Path:
    """Write one self-contained HTML report, and its PNG figures beside it.

    Parameters
    ----------
    path : str or Path
        The HTML file; PNGs go next to it as ``<stem>-<figure>.png``.
    volume : xarray.DataArray or xarray.DataTree
        The image (on a pyramid, the level that fits the screen is shown).
    labels : xarray.DataArray, optional
        Labels or a mask of the shown level, drawn over the previews.
    metrics : mapping or pandas.DataFrame, optional
        Numbers to tabulate (e.g. Dice, sensitivity...).
    centres : mapping of name to table, optional
        Tables of centres in physical units (``x``, ``y``, optionally ``z``), e.g.
        ``{"detected": fibers, "true": truth}``; drawn over the middle z slice.
    result : DataArray, DataTree or DataFrame, optional
        The object whose provenance is reported; by default ``labels``, else ``volume``.
    title : str
    slices : int
        How many slices the embedded slider offers (each is computed once).
    alpha : float
        Opacity of the labels.
    notes : str, optional
        A paragraph of text (HTML-escaped) under the title.
    fibers : pandas.DataFrame, optional
        A ``detect_fibers`` table: adds a *Fibers* section (count, volume fraction,
        radius and misalignment distributions, 3-D centre lines; see
        :func:`fibers_section_html`). By default ``result``, when it is such a table.

    Returns
    -------
    pathlib.Path
        The HTML file.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(8, 16, 16), spacing=(1.3, 0.65, 0.65))
    >>> smooth = vol.microct.gaussian(sigma="0.65 um")
    >>> out = save_report(pathlib.Path(tempfile.mkdtemp()) / "r.html", smooth,
    ...                   metrics={"mean": float(smooth.mean())}, slices=2)
    >>> sorted(p.name for p in out.parent.iterdir())
    ['r-orthoslices.png', 'r-slice.png', 'r.html']
    """
    import panel as pn

    hv = load_holoviews()
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the report path must end in .html, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    levels = pyramid_levels(volume)
    level = levels[level_for_screen(levels, "z")]
    clim = resolve_clim(volume, "auto")
    label_level = None if labels is None else pyramid_levels(labels)[0]

    sections: list[Any] = [pn.pane.HTML(f"<style>{_STYLE}</style><h1>{html.escape(title)}</h1>"
                                        + (f"<p>{html.escape(notes)}</p>" if notes else ""),
                                        sizing_mode="stretch_width")]
    sections.append(pn.pane.HTML("<h2>Volume</h2>" + grid_html(level), sizing_mode="stretch_width"))

    sections.append(pn.pane.HTML("<h2>Slices</h2><p>Drag the slider to move through "
                                 f"{slices} slices along z (physical units).</p>",
                                 sizing_mode="stretch_width"))
    if label_level is None:
        slider_view = preview(level, clim=clim, positions=slices)
    else:
        slider_view = overlay(level, label_level, alpha=alpha, clim=clim, positions=slices)
    sections.append(pn.panel(slider_view, widget_location="top"))

    figures: list[tuple[str, Path]] = []
    stem = path.with_suffix("")
    figures.append(("slice", save_slice_png(level, f"{stem}-slice.png", labels=label_level,
                                            alpha=alpha, clim=clim)))
    ortho = f"{stem}-orthoslices.png"
    figures.append(("orthoslices", _orthoslices_png(level, ortho, clim, label_level, alpha)))
    if centres:
        tables = dict(centres)
        names = list(tables)
        plot = centres_plot(level, tables[names[0]], tables[names[1]] if len(names) > 1 else None,
                            clim=clim)
        sections.append(pn.pane.HTML("<h2>Centres</h2>", sizing_mode="stretch_width"))
        sections.append(pn.panel(plot))
        figures.append(("centres", save_slice_png(level, f"{stem}-centres.png", clim=clim,
                                                  centres=tables)))
    fiber_table = fibers if fibers is not None else result if is_fiber_table(result) else None
    if fiber_table is not None:
        sections.append(pn.pane.HTML(fibers_section_html(fiber_table, stem),
                                     sizing_mode="stretch_width"))
    sections.append(pn.pane.HTML(
        "<h2>Figures</h2>" + "".join(_png_tag(p, name) for name, p in figures),
        sizing_mode="stretch_width"))
    if metrics is not None:
        sections.append(pn.pane.HTML("<h2>Metrics</h2>" + metrics_html(metrics),
                                     sizing_mode="stretch_width"))
    source = result if result is not None else (labels if labels is not None else volume)
    sections.append(pn.pane.HTML("<h2>Provenance</h2>" + provenance_html(records_of(source)),
                                 sizing_mode="stretch_width"))
    hv.renderer("bokeh")
    _save_offline(pn.Column(*sections, sizing_mode="stretch_width"), path, title)
    return path


def _orthoslices_png(
    level: xr.DataArray,
    path: str | Path,
    clim: tuple[float, float] | None,
    labels: xr.DataArray | None,
    alpha: float,
) -> Path:
    from matplotlib.figure import Figure

    grid = grid_of(level)
    middle = centre(level)
    fig = Figure(figsize=(13, 4.5))
    axes = fig.subplots(1, 3)
    for ax, dim in zip(axes, SPATIAL_DIMS, strict=True):
        h_dim, v_dim = PLANE[dim]
        index = index_of(level, dim, middle[dim])
        plane = level.isel({dim: index}).transpose(v_dim, h_dim).values.astype(np.float64)
        extent = _extent(level, h_dim, v_dim)
        ax.imshow(plane, cmap="gray", extent=extent, interpolation="nearest",
                  vmin=None if clim is None else clim[0], vmax=None if clim is None else clim[1])
        if labels is not None:
            label_plane = labels.isel({dim: index}).transpose(v_dim, h_dim).values
            ax.imshow(_label_rgba(label_plane, alpha), extent=extent, interpolation="nearest")
        ax.axvline(middle[h_dim], color="orange", lw=0.8)
        ax.axhline(middle[v_dim], color="orange", lw=0.8)
        ax.set_xlabel(f"{h_dim} ({grid.units})")
        ax.set_ylabel(f"{v_dim} ({grid.units})")
        ax.set_aspect("equal")
        ax.set_title(f"{dim} = {middle[dim]:.4g} {grid.units}")
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return Path(path)


# ---------------------------------------------------------------------------------------
# Fiber bed: what a materials scientist reads first (matplotlib Figures, no pyplot state)

FIBER_TABLE_COLUMNS = ("fiber_id", "z", "y", "x", "radius")


def is_fiber_table(table: Any) -> bool:
    """Whether ``table`` is a :func:`~xarray_microct.ops.fibers.detect_fibers` table.

    Examples
    --------
    >>> import pandas as pd
    >>> is_fiber_table(pd.DataFrame(columns=["fiber_id", "z", "y", "x", "radius"]))
    True
    >>> is_fiber_table(pd.DataFrame(columns=["label", "area"]))
    False
    """
    import pandas as pd

    return isinstance(table, pd.DataFrame) and set(FIBER_TABLE_COLUMNS) <= set(table.columns)


def _units_of(summary: Any) -> str:
    return str(summary.bed.get("units") or "")


def fiber_radius_figure(summary: Any) -> Any:
    """Histogram of the per-fiber mean radius of a :func:`~xarray_microct.fiber_summary`.

    Parameters
    ----------
    summary : xarray_microct.ops.fibers.summary.FiberSummary
        What ``xarray_microct.fiber_summary(table)`` returns.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; its bars count fibers (they sum to the number of fibers).

    Examples
    --------
    >>> import pandas as pd, xarray_microct as mct
    >>> t = pd.DataFrame({"fiber_id": [1, 1, 2, 2], "z": [0.0, 1.0, 0.0, 1.0],
    ...                   "y": [2.0, 2.0, 9.0, 9.0], "x": [2.0, 2.0, 9.0, 9.0],
    ...                   "radius": [3.0, 3.0, 4.0, 4.0]})
    >>> ax = fiber_radius_figure(mct.fiber_summary(t)).axes[0]
    >>> sum(bar.get_height() for bar in ax.patches)
    np.float64(2.0)
    """
    from matplotlib.figure import Figure

    radius = summary.fibers["radius"].to_numpy(float)
    radius = radius[np.isfinite(radius)]
    units = _units_of(summary)
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    if radius.size:
        ax.hist(radius, bins="auto", color="#4c72b0", edgecolor="white")
        mean = float(radius.mean())
        ax.axvline(mean, color="#dd8452", lw=1.5, label=f"mean {mean:.3g} {units}")
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xlabel(f"fiber radius ({units})" if units else "fiber radius")
    ax.set_ylabel("fibers")
    ax.set_title(f"Radius of {radius.size} fibers")
    fig.tight_layout()
    return fig


def fiber_orientation_figure(summary: Any) -> Any:
    """Misalignment of the fibers from the bed axis (z): polar-angle histogram and map.

    Left, the number of fibers per bin of polar angle (the angle between a fiber's
    least-squares axis and z: 0° for a fiber along the bed axis), with the
    length-weighted mean; right, each fiber's direction (azimuth, polar) as a point of a
    polar plot, so that a preferred tilt direction shows as a cluster.

    Parameters
    ----------
    summary : xarray_microct.ops.fibers.summary.FiberSummary
        What ``xarray_microct.fiber_summary(table)`` returns.

    Returns
    -------
    matplotlib.figure.Figure
        Its first axes is the histogram (bars sum to the number of fibers), its second
        the polar map (then the colour bar of fiber length).

    Examples
    --------
    >>> import pandas as pd, xarray_microct as mct
    >>> t = pd.DataFrame({"fiber_id": [1, 1, 1], "z": [0.0, 1.0, 2.0],
    ...                   "y": [5.0, 5.0, 5.0], "x": [5.0, 6.0, 7.0], "radius": 2.0})
    >>> hist = fiber_orientation_figure(mct.fiber_summary(t)).axes[0]
    >>> sum(bar.get_height() for bar in hist.patches)
    np.float64(1.0)
    """
    from matplotlib.figure import Figure

    fibers = summary.fibers
    polar = fibers["polar"].to_numpy(float)
    azimuth = fibers["azimuth"].to_numpy(float)
    fig = Figure(figsize=(10, 3.8))
    hist = fig.add_subplot(1, 2, 1)
    if polar.size:
        top = max(float(np.nanmax(polar)), 1.0)
        width = max(top / 20, 0.25)
        edges = np.arange(0.0, top + width, width)
        hist.hist(polar, bins=edges, color="#55a868", edgecolor="white")
        mean, sd = summary.bed["polar_mean"], summary.bed["polar_sd"]
        hist.axvline(mean, color="#c44e52", lw=1.5,
                     label=f"mean {mean:.2f}° ± {sd:.2f}° (by length)")
        hist.legend(loc="upper right", fontsize="small")
    hist.set_xlabel("misalignment from z (polar angle, degrees)")
    hist.set_ylabel("fibers")
    hist.set_title(f"Orientation of {polar.size} fibers")
    rose = fig.add_subplot(1, 2, 2, projection="polar")
    shown = rose.scatter(np.radians(azimuth), polar, c=fibers["length"].to_numpy(float),
                         cmap="viridis", s=14)
    fig.colorbar(shown, ax=rose, shrink=0.8,
                 label=f"length ({_units_of(summary)})" if _units_of(summary) else "length")
    rose.set_title("direction: azimuth (from +x), polar (radius, °)", fontsize="medium")
    fig.tight_layout()
    return fig


def fiber_axes_figure(table: Any, summary: Any) -> Any:
    """A static 3-D view of the fiber centre lines, coloured by misalignment.

    Each fiber is drawn through its centres, slice by slice, as
    :func:`~xarray_microct.ops.fibers.detect_fibers` found them, in physical units, with
    the colour of its polar angle (degrees from z). The box has the bed's proportions,
    so that tilts look as they are; a bed thinner than a third of its width is stretched
    along z to a third, and the title says by how much.

    Parameters
    ----------
    table : pandas.DataFrame
        A ``detect_fibers`` table (``fiber_id, z, y, x, radius``).
    summary : xarray_microct.ops.fibers.summary.FiberSummary
        ``xarray_microct.fiber_summary(table)``.

    Returns
    -------
    matplotlib.figure.Figure
        One 3-D axes with one line per fiber.

    Examples
    --------
    >>> import pandas as pd, xarray_microct as mct
    >>> t = pd.DataFrame({"fiber_id": [1, 1, 2, 2], "z": [0.0, 1.0, 0.0, 1.0],
    ...                   "y": [2.0, 2.0, 9.0, 9.0], "x": [2.0, 2.0, 9.0, 9.5],
    ...                   "radius": 3.0})
    >>> len(fiber_axes_figure(t, mct.fiber_summary(t)).axes[0].lines)
    2
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    units = _units_of(summary)
    polar = summary.fibers.set_index("fiber_id")["polar"]
    top = max(float(polar.max()) if len(polar) else 0.0, 1.0)
    norm = Normalize(0.0, top)
    cmap = colormaps["plasma"]
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot(projection="3d")
    for fid, fiber in table.sort_values(["fiber_id", "z"]).groupby("fiber_id", sort=True):
        ax.plot(fiber["x"].to_numpy(float), fiber["y"].to_numpy(float),
                fiber["z"].to_numpy(float), color=cmap(norm(float(polar.get(fid, 0.0)))),
                lw=1.2)
    suffix = f" ({units})" if units else ""
    ax.set_xlabel("x" + suffix)
    ax.set_ylabel("y" + suffix)
    ax.set_zlabel("z" + suffix)
    box, stretch = _box_aspect(table)
    ax.set_box_aspect(box)
    ax.locator_params(axis="z", nbins=4)  # a flat box has room for few ticks
    title = f"{len(polar)} fiber centre lines"
    ax.set_title(title + (f" (z stretched ×{stretch:.2g})" if stretch > 1 else ""))
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, pad=0.1,
                 label="misalignment from z (degrees)")
    return fig


def _box_aspect(table: Any) -> tuple[tuple[float, float, float], float]:
    """Proportions (x, y, z) of the 3-D box of a fiber table, and the stretch of z in
    them: the bed's own extents, z stretched to a third of the width when thinner.

    Examples
    --------
    >>> import pandas as pd
    >>> _box_aspect(pd.DataFrame({"z": [0.0, 10.0], "y": [0.0, 60.0], "x": [0.0, 90.0]}))
    ((90.0, 60.0, 30.0), 3.0)
    >>> _box_aspect(pd.DataFrame({"z": [0.0, 50.0], "y": [0.0, 60.0], "x": [0.0, 90.0]}))
    ((90.0, 60.0, 50.0), 1.0)
    """
    x, y, z = (float(np.ptp(table[d].to_numpy(float))) if len(table) else 0.0 for d in "xyz")
    width = max(x, y, 1e-12)
    if z <= 0:  # one slice: no height to keep
        return (max(x, 1e-12), max(y, 1e-12), width / 3), 1.0
    stretch = max(1.0, width / 3 / z)
    return (max(x, 1e-12), max(y, 1e-12), z * stretch), stretch


def fiber_bed_html(summary: Any) -> str:
    """An HTML table of the bed: fiber count, volume fraction, radius and misalignment.

    Examples
    --------
    >>> import pandas as pd, xarray_microct as mct
    >>> t = pd.DataFrame({"fiber_id": [1, 1], "z": [0.0, 1.0], "y": [2.0, 2.0],
    ...                   "x": [2.0, 2.0], "radius": [3.0, 3.0]})
    >>> "fiber count" in fiber_bed_html(mct.fiber_summary(t))
    True
    """
    bed = summary.bed
    units = _units_of(summary)
    radius = summary.fibers["radius"]
    rows = {
        "fiber count": bed["count"],
        "fiber volume fraction": bed["fiber_volume_fraction"],
        f"mean radius ({units})" if units else "mean radius": bed["mean_radius"],
        f"radius s.d. between fibers ({units})" if units else "radius s.d.":
            float(radius.std(ddof=0)) if len(radius) else float("nan"),
        "mean misalignment from z (degrees, by length)": bed["polar_mean"],
        "misalignment s.d. (degrees, by length)": bed["polar_sd"],
    }
    return _table([[_format(k), _format(v)] for k, v in rows.items()], ["fiber bed", "value"])


def save_fiber_figures(
    table: Any, stem: str | Path, summary: Any = None, dpi: int = 100
) -> dict[str, Path]:
    """Write the fiber-bed PNGs of a ``detect_fibers`` table: ``<stem>-fiber-*.png``.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`~xarray_microct.ops.fibers.detect_fibers` table.
    stem : str or Path
        Path prefix of the PNGs.
    summary : xarray_microct.ops.fibers.summary.FiberSummary, optional
        ``xarray_microct.fiber_summary(table)``, computed if not given.
    dpi : int

    Returns
    -------
    dict of str to Path
        The ``radius``, ``orientation`` and ``axes`` (3-D) figures.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> t = pd.DataFrame({"fiber_id": [1, 1], "z": [0.0, 1.0], "y": [2.0, 2.0],
    ...                   "x": [2.0, 2.5], "radius": [3.0, 3.0]})
    >>> paths = save_fiber_figures(t, pathlib.Path(tempfile.mkdtemp()) / "bed")
    >>> sorted(p.name for p in paths.values())
    ['bed-fiber-axes.png', 'bed-fiber-orientation.png', 'bed-fiber-radius.png']
    """
    from xarray_microct.ops.fibers import fiber_summary

    if summary is None:
        summary = fiber_summary(table)
    figures = {
        "radius": fiber_radius_figure(summary),
        "orientation": fiber_orientation_figure(summary),
        "axes": fiber_axes_figure(table, summary),
    }
    paths = {}
    for name, fig in figures.items():
        path = Path(f"{stem}-fiber-{name}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
        paths[name] = path
    return paths


def fibers_section_html(table: Any, stem: str | Path) -> str:
    """The report's *Fibers* section: the bed table and the fiber figures (PNGs at ``stem``)."""
    from xarray_microct.ops.fibers import fiber_summary

    summary = fiber_summary(table)
    paths = save_fiber_figures(table, stem, summary)
    return (
        "<h2>Fibers</h2><p>The detected fibers measured one by one "
        "(<code>fiber_summary</code>): radius, misalignment from the bed axis z, and "
        "centre lines in 3-D.</p>"
        + fiber_bed_html(summary)
        + "".join(_png_tag(path, f"fiber {name}") for name, path in paths.items())
    )
