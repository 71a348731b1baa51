"""The ``microct`` command: ``info``, ``demo``, ``run`` and ``export-pipeline``.

``microct run PIPELINE INPUT OUTPUT`` runs a built-in pipeline or a pipeline file on a
stored volume and writes the result to Zarr, on the Dask client the options ask for::

    microct run steps.yaml scan.zarr result.zarr                     # threads, this machine
    microct run steps.yaml scan.zarr result.zarr --workers 4 --memory-limit 4GiB
    microct run steps.yaml scan.zarr result.zarr --scheduler tcp://head:8786
    mpirun -n 8 microct run steps.yaml scan.zarr result.zarr --mpi
    microct run fibers scan.zarr fibers.zarr --param radius='6.4 um'   # built-in, a table
    microct export-pipeline result.zarr steps.yaml                  # provenance -> file

Both take ``open_volume``'s options for the input: ``--spacing``/``--units`` (a voxel
size the file does not state), ``--level`` (OME-Zarr), ``--channel``/``--time`` (one
channel or time point of a multi-channel or time-series input: OME-Zarr, OME-TIFF,
ImageJ hyperstack, xarray store), ``--dataset`` (HDF5), ``--shape``, ``--dtype``,
``--byte-order``, ``--offset`` (raw binary)::

    microct run fibers scan.h5 fibers.zarr --dataset /recon/volume --spacing 0.65 --units um
    microct info scan.raw --shape 512 1024 1024 --dtype uint16 --byte-order big
    microct run fibers stained.ome.tif fibers.zarr --channel 1 --time 0

``microct info PATH`` describes a store (levels, labels, provenance, run state, tables;
``--json`` for programs), ``microct --version`` prints the version; ``python -m
xarray_microct`` is the same command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xarray_microct.cluster import exit_quickly
from xarray_microct.core.errors import command_line_message
from xarray_microct.core.provenance import to_json_value
from xarray_microct.core.tables import column_units
from xarray_microct.core.tree import select_node, single_image
from xarray_microct.core.volume import PROVENANCE_KEY, grid_of
from xarray_microct.starting import EXIT_INTERRUPTED, started

LINE_WIDTH = 100
"""Longest provenance or attribute line ``microct info`` prints (``--json`` gives all)."""


def _volume_facts(volume: xr.DataArray, path: str) -> dict[str, Any]:
    grid = grid_of(volume)
    return {
        "path": path,
        "name": str(volume.name),
        "dims": [str(d) for d in volume.dims],
        "shape": [int(n) for n in volume.shape],
        "chunks": [int(c) for c in volume.data.chunksize],
        "dtype": str(volume.dtype),
        "spacing": [float(s) for s in grid.spacing],
        "origin": [float(o) for o in grid.origin],
        "units": str(grid.units),
        "nbytes": int(volume.nbytes),
    }


def _pyramid_facts(
    tree: xr.DataTree, picks: Mapping[str, int | None] | None = None
) -> list[dict[str, Any]]:
    """Each level's facts; at ``picks`` (``{"c": 1, "t": None}``) of its c and t axes."""
    from xarray_microct.core.tree import image_nodes, single_image
    from xarray_microct.io.picks import pick_dims

    return [
        _volume_facts(pick_dims(single_image(node), picks or {}, ""), node.path.strip("/"))
        for node in image_nodes(tree)
    ]


def _run_facts(state: dict[str, Any]) -> dict[str, Any]:
    identity = state.get("identity") or {}
    pipeline = identity.get("pipeline")
    if isinstance(pipeline, dict) and "builtin" in pipeline:
        args = ", ".join(f"{k}={v!r}" for k, v in pipeline.get("params", {}).items())
        described = f"{pipeline['builtin']}({args})"
    elif isinstance(pipeline, list):
        described = " → ".join(str(step.get("op")) for step in pipeline)
    else:
        described = None
    facts = {
        "status": state.get("status"),
        "fingerprint": state.get("fingerprint"),
        "pipeline": described,
        "inputs": [i.get("location") for i in identity.get("inputs", [])],
    }
    for key in ("writer", "started", "resumed", "finished", "stopped", "error", "chunks_written"):
        if key in state:
            facts[key] = state[key]
    return facts


# attributes a pipeline writes about its result (the bead pipeline's estimates), shown
# with the computed 0-d coordinates; their units are in ``<name>_units``
_RESULT_ATTRS = ("bead_radius", "small_bead_radius")


def _computed_values(volume: xr.DataArray) -> dict[str, Any]:
    """The values a run computed about its result, as stored with it: the 0-d
    coordinates (a threshold, the padding found, a labels result's ``label_count`` and
    ``median_equivalent_radius``, in the coordinates' units) and the bead pipeline's
    estimated radii; read from the store's attributes, nothing recomputed. A NaN (no
    padding found, no labels) or an infinity is None: ``--json`` writes it as ``null``,
    which strict JSON readers take (they refuse a bare ``NaN``)."""
    values: dict[str, Any] = {}
    for name, coord in volume.coords.items():
        if name in volume.dims or coord.ndim != 0 or coord.chunks is not None:
            continue
        value = coord.values.item()
        if isinstance(value, bool | int | float | str):
            values[str(name)] = value
    for name in _RESULT_ATTRS:
        value = volume.attrs.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[name] = float(value)
        elif isinstance(value, str):
            values[name] = value
    finite = {k: v for k, v in values.items() if not isinstance(v, float) or np.isfinite(v)}
    return {k: finite.get(k) for k in values}


def _values_lines(values: Mapping[str, Any], units: str | None) -> list[str]:
    """The lines of :func:`format_info` for :func:`_computed_values`: a labels result's
    count, median equivalent radius and estimated bead radius first, then the others
    (those that are None, NaN stored: nothing found, left out)."""
    rest = dict(values)
    unit = f" {units}" if units else ""
    lines = []
    if "label_count" in rest:
        line = f"labels: {int(rest.pop('label_count'))}"
        radius = rest.pop("median_equivalent_radius", None)
        if isinstance(radius, float):
            line += f", median equivalent radius {radius:.4g}{unit}"
        bead = rest.pop("bead_radius", None)
        if isinstance(bead, float):
            line += f"; bead radius {bead:.4g}{unit} (estimated)"
        lines.append(line)
    shown = [
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
        for k, v in rest.items()
        if v is not None
    ]
    if shown:
        lines.append(_clip("computed: " + ", ".join(shown)))
    return lines


def _provenance_facts(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("op", "params", "level", "estimated", "source")
    return [{k: r[k] for k in keys if k in r} for r in records]


def _partial_levels(path: Path) -> list[dict[str, Any]]:
    """Shape, chunks, dtype and chunks written of every array of an unfinished store."""
    import zarr

    from xarray_microct.io.ome import chunk_grid, written_blocks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = zarr.open_group(str(path), mode="r")
        arrays = [(name, a) for name, a in root.arrays()]
        for group_name, group in root.groups():
            arrays += [(f"{group_name}/{name}", a) for name, a in group.arrays()]
    return [
        {
            "path": name,
            "shape": [int(n) for n in array.shape],
            "chunks": [int(c) for c in array.chunks],
            "dtype": str(array.dtype),
            "chunks_stored": len(written_blocks(array)),
            "chunks_total": int(np.prod(chunk_grid(array))),
        }
        for name, array in arrays
        if array.ndim >= 3
    ]


def store_info(
    path: str | Path, rows: int = 5, calibration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What ``microct info`` shows, as a JSON-ready dict.

    ``calibration`` (``open_volume``'s ``spacing``, ``units``, ``level``, ``dataset``,
    ``shape``, ``dtype``, ``byte_order``, ``offset``, ``channel``, ``time``) is passed
    to ``open_volume``: the
    voxel size of inputs that do not state it (TIFF, HDF5, raw), the unit of an OME-Zarr's
    axes, and how to read the input; with ``level``, an OME-Zarr's ``levels`` hold that
    level only, and ``pyramid_levels`` says how many the pyramid has. Options that do
    not apply to the input are refused, as ``open_volume`` refuses them.

    Keys: ``path``; ``kind`` (``"ome-zarr"``, ``"volume"`` or ``"table"``); for images
    ``levels`` (path, name, shape, chunks, dtype, spacing, origin, units per level;
    spacing, origin and units None for a file that does not state its voxel size, and
    ``voxel_size`` then says how to give it), ``channels`` and ``time_points`` (the
    input's, 1 without the axis; ``channel``/``time``: the one given, and ``shown``
    those :func:`store_info` picked itself, the first, where a TIFF holds more than one
    and none was given), ``labels`` (NGFF labels under the image,
    with their levels) and ``window`` (the display window); for tables ``rows``,
    ``columns`` (name, dtype, unit), ``head`` (the first ``rows`` rows) and ``attrs``;
    for stores written by ``microct run`` ``run`` (status, fingerprint, pipeline,
    inputs, times); for images ``values`` (what a run computed about its result, as
    stored with it: the 0-d coordinates, e.g. a threshold, a labels result's
    ``label_count``, and the bead pipeline's estimated radii); and ``provenance`` (op,
    params and what was estimated, per step, oldest first).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.ome.zarr"
    >>> vol = mct.from_array(np.zeros((16, 16, 16), "uint8"), spacing=0.5, chunks=8)
    >>> vol.microct.pyramid(levels=2).microct.to_zarr(store)
    >>> info = store_info(store)
    >>> info["kind"], [level["shape"] for level in info["levels"]]
    ('ome-zarr', [[16, 16, 16], [8, 8, 8]])
    >>> [step["op"] for step in info["provenance"]]
    ['pyramid']
    >>> info["channels"], info["time_points"]
    (1, 1)
    """
    from xarray_microct.io import open_volume
    from xarray_microct.io.ome import image_group, is_ome_zarr, ngff_multiscale, open_pyramid
    from xarray_microct.io.paths import local_path
    from xarray_microct.io.picks import sizes_of
    from xarray_microct.io.results import run_state
    from xarray_microct.io.tables import is_table, read_table

    local = local_path(path)
    if local is not None and str(path).startswith("file://"):
        path = local  # the local path the URL names
    if local is not None and not local.exists():
        raise FileNotFoundError(f"nothing at {path}")
    calibration = dict(calibration or {})
    info: dict[str, Any] = {"path": str(path)}
    state = run_state(local) if local is not None else None
    if state is not None:
        info["run"] = _run_facts(state)
        if state.get("status") != "complete":
            info["kind"] = "unfinished run"
            info["levels"] = _partial_levels(local)
            info["provenance"] = []
            return info
    if local is not None and is_table(local):
        if calibration:
            raise ValueError(
                f"{path} is a table; {', '.join(CLI_OPTIONS[k] for k in calibration)} "
                "apply to an image"
            )
        table = read_table(local)
        units = column_units(table)
        info["kind"] = "table"
        info["rows"] = len(table)
        info["columns"] = [
            {"name": str(c), "dtype": str(table[c].dtype), "unit": units.get(str(c))}
            for c in table.columns
        ]
        info["head"] = json.loads(table.head(rows).to_json(orient="records"))
        info["attrs"] = {
            k: to_json_value(v)
            for k, v in table.attrs.items()
            if k not in ("units", PROVENANCE_KEY, "history")
        }
        info["provenance"] = _provenance_facts(table.attrs.get(PROVENANCE_KEY, []))
        return info
    if is_ome_zarr(path):
        import zarr

        from xarray_microct.io.ngff_labels import label_names, open_labels

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = image_group(zarr.open_group(str(path), mode="r"), path)
        if image.path:  # a bioformats2raw root: its one image series is shown
            path = f"{str(path).rstrip('/')}/{image.path}"
            local = local_path(path)
            info["path"] = path

        if calibration:  # refused as open_volume refuses it (spacing=, other formats')
            open_volume(path, **calibration)
        tree = _tree_in_units(open_pyramid(path, units=calibration.get("units")), calibration)
        level = calibration.get("level")
        info["kind"] = "ome-zarr"
        picks = {"c": calibration.get("channel"), "t": calibration.get("time")}
        every = _pyramid_facts(tree, picks)  # picks validated by open_volume above
        sizes = sizes_of(single_image(select_node(tree, 0)))  # the input's, before the picks
        info["levels"] = [
            facts
            for index, facts in enumerate(every)
            if level is None or level in (index, facts["path"])
        ]
        if level is not None:
            info["pyramid_levels"] = len(every)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            attrs = dict(zarr.open_group(str(path), mode="r").attrs)
        multiscale, info["ngff"] = ngff_multiscale(attrs, path)
        info["method"] = multiscale.get("type")
        channels = attrs.get("ome", attrs).get("omero", {}).get("channels", [])
        info["window"] = channels[0].get("window") if channels else None
        info["labels"] = [
            {
                "name": name,
                "levels": _pyramid_facts(_tree_in_units(open_labels(path, name), calibration)),
            }
            for name in (label_names(path) if local is not None else [])
        ]
        first = single_image(select_node(tree, level or 0))  # the records as stored
        info.update(_pick_facts(sizes, calibration, {}))
        info["values"] = _computed_values(first)
        info["provenance"] = _provenance_facts(first.attrs.get(PROVENANCE_KEY, []))
        return info
    volume, sizes, shown, voxel_error = _opened_for_info(path, calibration)
    facts = _volume_facts(volume, "")
    if voxel_error is None:
        info["levels"] = [facts]
    else:  # what can be said without it: shape, chunks, dtype (not the placeholder)
        info["levels"] = [{**facts, "spacing": None, "origin": None, "units": None}]
        info["voxel_size"] = voxel_error
    info.update(_pick_facts(sizes, calibration, shown))
    info["kind"] = "volume"
    info["values"] = _computed_values(volume)
    # the last record is this opening's own open_volume
    info["provenance"] = _provenance_facts(volume.attrs.get(PROVENANCE_KEY, [])[:-1])
    return info


def _tree_in_units(tree: xr.DataTree, calibration: Mapping[str, Any]) -> xr.DataTree:
    """Every level of ``tree`` (an OME-Zarr image's pyramid or its labels') with its
    coordinates in the ``units`` of ``calibration`` where given, as ``open_volume``
    gives them; ``tree`` as it is otherwise.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((4, 8, 8)), spacing=0.5).microct.pyramid(levels=2)
    >>> [level["spacing"] for level in _pyramid_facts(_tree_in_units(tree, {"units": "nm"}))]
    [[500.0, 500.0, 500.0], [1000.0, 1000.0, 1000.0]]
    """
    from xarray_microct.io import _coords_in_units

    units = calibration.get("units")
    if units is None:
        return tree
    return tree.map_over_datasets(lambda level: _coords_in_units(level, units))


def _opened_for_info(
    path: str | Path, calibration: Mapping[str, Any]
) -> tuple[xr.DataArray, dict[str, int], dict[str, int], str | None]:
    """The volume ``microct info`` describes, the input's channels and time points, the
    picks made here (the first channel and time point of a TIFF that holds more than
    one, none given) and the message of a voxel size not stated (a placeholder voxel
    size then opens the file, and is not shown)."""
    from xarray_microct.io import MissingVoxelSizeError, PickRequiredError, _open_input
    from xarray_microct.io.picks import PICKS

    options, shown, voxel_error = dict(calibration), {}, None
    for _ in range(2):
        try:
            volume, sizes, _ = _open_input(path, **options)
            return volume, sizes, shown, voxel_error
        except PickRequiredError as error:
            shown = {PICKS[dim]: 0 for dim in error.long}
            options.update(shown)
        except MissingVoxelSizeError as error:
            voxel_error = str(error)
            spacing, units = error.placeholder  # the axes the input states kept
            options.update(spacing=spacing, units=units)
    volume, sizes, _ = _open_input(path, **options)
    return volume, sizes, shown, voxel_error


def _pick_facts(
    sizes: Mapping[str, int], picks: Mapping[str, Any], shown: Mapping[str, int]
) -> dict[str, Any]:
    facts: dict[str, Any] = {"channels": sizes["c"], "time_points": sizes["t"]}
    facts.update({k: picks[k] for k in ("channel", "time") if picks.get(k) is not None})
    if shown:
        facts["shown"] = dict(shown)
    return facts


def _pick_line(info: Mapping[str, Any]) -> str | None:
    """``channels: 3 (channel 1 shown), time points: 2 ...``, for an input with more
    than one channel or time point, or one picked; None otherwise.

    Examples
    --------
    >>> _pick_line({"channels": 3, "time_points": 1, "shown": {"channel": 0}})
    'channels: 3 (the first shown: pick one with --channel N), time points: 1'
    >>> _pick_line({"channels": 2, "time_points": 3, "time": 1})
    'channels: 2 (all, along c; pick one with --channel N), time points: 3 (time 1 shown)'
    >>> _pick_line({"channels": 1, "time_points": 1}) is None
    True
    """
    counts = [("channel", "channels", "channels"), ("time", "time_points", "time points")]
    if "channels" not in info or not any(info[key] > 1 or name in info for name, key, _ in counts):
        return None
    parts = []
    for name, key, noun in counts:
        part = f"{noun}: {info[key]}"
        if name in info.get("shown", {}):
            part += f" (the first shown: pick one with --{name} N)"
        elif name in info:
            part += f" ({name} {info[name]} shown)"
        elif info[key] > 1:
            part += f" (all, along {name[0]}; pick one with --{name} N)"
        parts.append(part)
    return ", ".join(parts)


def _size(nbytes: int) -> str:
    for unit, power in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 2**power:
            return f"{nbytes / 2**power:.1f} {unit}"
    return f"{nbytes} bytes"


def _by(values: Sequence[Any]) -> str:
    return " × ".join(str(v) for v in values)


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return [
        indent + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def _level_lines(levels: Sequence[dict[str, Any]]) -> list[str]:
    if not levels:
        return []
    if levels and "spacing" not in levels[0]:  # an unfinished run: arrays only
        header = ["array", "shape (z, y, x)", "chunks", "dtype", "chunks stored"]
        rows = [
            [
                lv["path"],
                _by(lv["shape"]),
                _by(lv["chunks"]),
                lv["dtype"],
                f"{lv['chunks_stored']} of {lv['chunks_total']}",
            ]
            for lv in levels
        ]
        return _aligned(header, rows)
    dims = levels[0].get("dims", ["z", "y", "x"])
    header = ["level", f"shape ({', '.join(dims)})", "chunks", "dtype", "voxel size (z, y, x)"]
    rows = [
        [
            lv["path"] or "-",
            _by(lv["shape"]),
            _by(lv["chunks"]),
            lv["dtype"],
            "not recorded"
            if lv["spacing"] is None
            else f"{', '.join(f'{s:g}' for s in lv['spacing'])} {lv['units']}",
        ]
        for lv in levels
    ]
    return _aligned(header, rows)


def _short(value: Any, limit: int = 40) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(line: str) -> str:
    return line if len(line) <= LINE_WIDTH else line[: LINE_WIDTH - 1] + "…"


def _provenance_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for index, record in enumerate(records, start=1):
        params = dict(record.get("params", {}))
        if record.get("op") == "open_volume":
            params.pop("location", None)  # the full path: in --json
        parts = [f"{k}={_short(v)}" for k, v in params.items() if v is not None]
        if "level" in record:
            parts.append(f"→ level {record['level']}")
        estimated = record.get("estimated") or {}
        if estimated:
            parts.append("estimated " + ", ".join(f"{k}={_short(v)}" for k, v in estimated.items()))
        line = f"  {index}. {record.get('op')}" + (f": {', '.join(parts)}" if parts else "")
        lines.append(_clip(line))
    return lines


def format_info(info: dict[str, Any]) -> str:
    """The text ``microct info`` prints for :func:`store_info`'s dict.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "v.zarr"
    >>> _ = mct.from_array(np.zeros((4, 6, 8), "uint8"), spacing=0.65).to_zarr(store)
    >>> print(format_info(store_info(store)))
    v.zarr: volume 'volume'
      level  shape (z, y, x)  chunks     dtype  voxel size (z, y, x)
      -      4 × 6 × 8        4 × 6 × 8  uint8  0.65, 0.65, 0.65 micrometer
    extent (z, y, x): 2.6, 3.9, 5.2 micrometer; 192 bytes at full resolution
    """
    kind = info["kind"]
    name = Path(info["path"]).name
    levels = info.get("levels", [])
    if kind == "ome-zarr":
        n = info.get("pyramid_levels", len(levels))
        method = f", downsampled by {info['method']}" if info.get("method") and n > 1 else ""
        shown = f"; level {levels[0]['path']} shown" if "pyramid_levels" in info else ""
        lines = [
            f"{name}: OME-Zarr image {levels[0]['name']!r} (NGFF {info['ngff']}), "
            f"{n} level{'s' if n > 1 else ''}{method}{shown}"
        ]
    elif kind == "volume":
        lines = [f"{name}: volume {levels[0]['name']!r}"]
    elif kind == "table":
        lines = [f"{name}: table, {info['rows']} rows × {len(info['columns'])} columns"]
    else:
        lines = [f"{name}: {kind}"]
    lines += _level_lines(levels)
    if info.get("voxel_size"):
        first = levels[0]
        said = str(info["voxel_size"])
        partly = "with the stated values" in said  # its message gives the call to make
        lines.append(
            f"voxel size: {'partly ' if partly else ''}not recorded in the file; "
            f"{_size(first['nbytes'])} at full resolution"
        )
        lines.append(
            f"  {said.split('; ', 1)[-1]} (the same options for microct run)"
            if partly
            else "  give it: microct info PATH --spacing DZ DY DX --units micrometer (the "
            "same options for microct run), or open_volume(path, spacing=(dz, dy, dx), "
            "units='micrometer')"
        )
    elif levels and "spacing" in levels[0]:
        first = levels[0]
        # the spatial axes: the last three (an OME-Zarr's c and t come first)
        extent = [n * s for n, s in zip(first["shape"][-3:], first["spacing"], strict=True)]
        lines.append(
            f"extent (z, y, x): {', '.join(f'{e:g}' for e in extent)} {first['units']}; "
            f"{_size(first['nbytes'])} at "
            + ("this level" if "pyramid_levels" in info else "full resolution")
        )
    picks = _pick_line(info)
    if picks is not None:
        lines.append(picks)
    if info.get("values"):
        lines += _values_lines(info["values"], levels[0].get("units") if levels else None)
    window = info.get("window")
    if window:
        lines.append(
            f"display window: {window['start']:g} to {window['end']:g} "
            f"(data {window['min']:g} to {window['max']:g})"
        )
    for label in info.get("labels", []):
        finest = label["levels"][0]
        lines.append(
            f"labels {label['name']!r}: {finest['dtype']}, "
            f"{len(label['levels'])} level{'s' if len(label['levels']) > 1 else ''}"
        )
    if kind == "table":
        lines += _aligned(
            ["column", "dtype", "unit"],
            [[c["name"], c["dtype"], c["unit"] or ""] for c in info["columns"]],
        )
        if info["head"]:
            import pandas as pd

            head = pd.DataFrame(info["head"]).to_string(index=False, max_colwidth=16)
            lines.append(f"first {len(info['head'])} rows:")
            lines += ["  " + line for line in head.splitlines()]
        if info["attrs"]:
            lines.append("attributes:")
            lines += [_clip(f"  {k}: {_short(v, LINE_WIDTH)}") for k, v in info["attrs"].items()]
    run = info.get("run")
    if run is not None:
        line = f"run: {run['status']}, fingerprint {str(run['fingerprint'])[:12]}"
        if run.get("pipeline"):
            line += f", pipeline {run['pipeline']}"
        lines.append(line)
        times = [f"{k} {run[k]}" for k in ("started", "resumed", "stopped", "finished") if k in run]
        if times:
            lines.append("  " + ", ".join(times))
        if run["inputs"]:
            lines.append("  input: " + ", ".join(map(str, run["inputs"])))
        if run.get("error"):
            lines.append(f"  error: {run['error']}")
        if run["status"] != "complete":
            from xarray_microct.io.safety import how_to_finish

            lines.append(f"  unfinished: {how_to_finish(run)[1]}")
    if info.get("provenance"):
        lines.append("provenance (oldest first):")
        lines += _provenance_lines(info["provenance"])
    return "\n".join(lines)


def describe(path: str | Path) -> str:
    """A human-readable summary of the volume, pyramid or table stored at ``path``
    (``microct info``): :func:`format_info` of :func:`store_info`."""
    return format_info(store_info(path))


def _info(args: argparse.Namespace) -> int:
    if args.rows < 0:
        raise ValueError(f"--rows takes a number of rows (0 or more), got {args.rows}")
    info = store_info(args.path, rows=args.rows, calibration=_calibration(args))
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from xarray_microct.demo import run_demo

    run_demo(Path(args.output), size=args.size, overwrite=args.overwrite)
    return 0


# Names of other formats than the Zarr store `microct run` writes: a new output of such a
# name would be a Zarr folder that Fiji, Excel or h5py cannot open.
_OTHER_FORMATS = (
    ".tif",
    ".tiff",
    ".h5",
    ".hdf5",
    ".hdf",
    ".nc",
    ".csv",
    ".xlsx",
    ".txt",
    ".raw",
    ".npy",
)


def _check_output_name(output: str) -> None:
    """Refuse a new ``microct run`` output named as another format (``fibers.csv``,
    ``smooth.tif``): it would be written as a Zarr store, a folder, under that name.

    Examples
    --------
    >>> _check_output_name("fibers.zarr")
    >>> _check_output_name("/nowhere/fibers.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: the output /nowhere/fibers.csv would be a Zarr store (a folder), not a .csv ...
    """
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in _OTHER_FORMATS or path.exists() or path.is_symlink():
        return
    zarr_name = path.with_suffix(".zarr")
    raise ValueError(
        f"the output {output} would be a Zarr store (a folder), not a {suffix} file, which "
        f"microct run does not write: name it {zarr_name} (then, for a table, "
        f"xarray_microct.runner.read_table('{zarr_name}').to_csv(...); for a volume, "
        f"xarray_microct.open_volume('{zarr_name}'); napari reads it as OME-Zarr)"
    )


def _check_output_folder(output: str) -> None:
    """Refuse a local ``microct run`` output whose folder is a file or cannot be written,
    before any work: the nearest existing one of its parent folders is judged (the
    others are made by the write).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _check_output_folder(str(folder / "new" / "out.zarr"))
    >>> (folder / "afile").write_text("x")
    1
    >>> _check_output_folder(str(folder / "afile" / "out.zarr"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: the output .../afile/out.zarr cannot be written: its parent .../afile is a file, ...
    """
    from xarray_microct.io.paths import local_path

    path = local_path(output)
    if path is None:  # a URL: its store says what it refuses
        return
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(
            f"the output {output} cannot be written: its parent {parent} is a file, not a "
            "folder; name an output in a folder (nothing was written)"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(
            f"the output {output} cannot be written: its folder {parent} is read-only or "
            "not writable by you; name an output in a folder you can write"
        )


def _run(args: argparse.Namespace) -> int:
    from xarray_microct.cluster import ClusterOptions
    from xarray_microct.runner import run_pipeline

    _check_output_name(args.output)
    _check_output_folder(args.output)
    options = ClusterOptions(
        workers=args.workers,
        threads_per_worker=args.threads_per_worker,
        memory_limit=args.memory_limit,
        scheduler=args.scheduler,
        scheduler_file=args.scheduler_file,
        mpi=args.mpi,
        timeout=args.timeout,
        dashboard=args.dashboard,
        fork_workers=True,
    )
    with _no_client_to_look_for(options.kind):
        run_pipeline(
            args.pipeline,
            args.input,
            args.output,
            params=args.param,
            options=options,
            overwrite=args.overwrite,
            resume=args.resume,
            chunks=args.chunks,
            progress=not args.no_progress,
            calibration=_calibration(args),
            release_memory=True,  # a volume run's peak memory is what it holds
        )
    return 0


@contextlib.contextmanager
def _no_client_to_look_for(kind: str) -> Iterator[None]:
    """On the threaded scheduler, tell Dask that no distributed client exists.

    Dask otherwise imports ``distributed`` (0.4 s, before any task runs) at the first
    compute and at the first rechunk, only to find that no client is there. This
    process has none: it runs threads and ``distributed`` was never imported. Settings
    the user gave (a scheduler, a rechunk method) are kept.
    """
    if kind != "threads" or "distributed" in sys.modules:
        yield
        return
    import dask
    import dask.threaded

    settings = {"scheduler": dask.threaded.get, "array.rechunk.method": "tasks"}
    with dask.config.set({k: v for k, v in settings.items() if dask.config.get(k, None) is None}):
        yield


def _calibration(args: argparse.Namespace) -> dict[str, Any]:
    """The input options as ``open_volume`` takes them (only those given): the voxel
    size (``--spacing``, ``--units``) and how to read the input (``--level``,
    ``--channel``, ``--time``, ``--dataset``, ``--shape``, ``--dtype``, ``--byte-order``,
    ``--offset``)."""
    given = {"spacing": args.spacing, "units": args.units}
    if given["spacing"] is not None:
        if len(given["spacing"]) not in (1, 3):
            raise ValueError(
                f"--spacing takes one voxel size or three (z y x), got {len(args.spacing)}"
            )
        given["spacing"] = given["spacing"][0] if len(args.spacing) == 1 else args.spacing
    level = args.level
    given.update(
        level=int(level) if level is not None and level.isdigit() else level,
        dataset=args.dataset,
        shape=args.shape,
        dtype=args.dtype,
        byte_order=args.byte_order,
        offset=args.offset,
        channel=args.channel,
        time=args.time,
    )
    return {k: v for k, v in given.items() if v is not None}


CLI_OPTIONS = {
    "spacing": "--spacing",
    "units": "--units",
    "level": "--level",
    "dataset": "--dataset",
    "shape": "--shape",
    "dtype": "--dtype",
    "byte_order": "--byte-order",
    "offset": "--offset",
    "channel": "--channel",
    "time": "--time",
}
"""``open_volume``'s keywords and the command-line options that give them."""


def with_cli_options(message: str) -> str:
    """``message`` with the command-line option named after each ``open_volume`` keyword
    it tells the user to pass (``dataset=`` ...), for an error raised under ``microct``.

    Examples
    --------
    >>> with_cli_options("scan.h5 has no dataset '/exchange/data'. Pass dataset='/a/b'")
    "scan.h5 has no dataset '/exchange/data'. Pass dataset='/a/b' (on the command line: --dataset)"
    >>> with_cli_options("nothing at scan.zarr")
    'nothing at scan.zarr'
    """
    named = [
        option
        for keyword, option in CLI_OPTIONS.items()
        if re.search(rf"\b{keyword}=", message) and option not in message
    ]
    return f"{message} (on the command line: {', '.join(named)})" if named else message


def _raised_reading(error: BaseException) -> bool:
    """Whether ``error`` was raised by ``xarray_microct.io`` itself (reading the input),
    whose messages name ``open_volume``'s keywords: the innermost frame of its traceback
    is there (an error of NumPy or Dask under it, whose message may hold ``dtype=``, is
    not)."""
    trace = error.__traceback__
    if trace is None:
        return False
    while trace.tb_next is not None:
        trace = trace.tb_next
    return trace.tb_frame.f_globals.get("__name__", "").startswith("xarray_microct.io")


def _add_calibration(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "voxel size, for inputs that do not state it (TIFF, HDF5, raw)"
    )
    group.add_argument(
        "--spacing", type=float, nargs="+", metavar="D", help="voxel size: one value or z y x"
    )
    group.add_argument(
        "--units",
        help="length unit of --spacing (e.g. micrometer), or of the axes of an OME-Zarr "
        "that does not state it",
    )
    reading = parser.add_argument_group("how to read the input (refused for other formats)")
    reading.add_argument(
        "--level",
        metavar="LEVEL",
        help="OME-Zarr: the pyramid level, an index (0 = full "
        "resolution, the default) or a name such as scale1",
    )
    reading.add_argument(
        "--channel",
        type=int,
        metavar="N",
        help="one channel of a multi-channel input (OME-Zarr, OME-TIFF, ImageJ "
        "hyperstack, xarray store with a c dimension): its index, from 0",
    )
    reading.add_argument(
        "--time",
        type=int,
        metavar="N",
        help="one time point of a time series (OME-Zarr, OME-TIFF, ImageJ hyperstack, "
        "xarray store with a t dimension): its index, from 0",
    )
    reading.add_argument(
        "--dataset", metavar="PATH", help="HDF5: the dataset (default /exchange/data)"
    )
    reading.add_argument(
        "--shape",
        type=int,
        nargs=3,
        metavar=("Z", "Y", "X"),
        help="raw binary: the volume's shape (any file is read as raw when given)",
    )
    reading.add_argument("--dtype", help="raw binary: the voxel type, e.g. uint16, float32, >f4")
    reading.add_argument(
        "--byte-order",
        choices=("little", "big"),
        help="raw binary: the byte order (default the dtype's own)",
    )
    reading.add_argument(
        "--offset", type=int, metavar="BYTES", help="raw binary: the header's size (default 0)"
    )


def _export_pipeline(args: argparse.Namespace) -> int:
    from xarray_microct.runner import export_pipeline

    path = export_pipeline(args.result, args.pipeline, overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run a pipeline on a stored volume and write the result to Zarr",
        description="Run PIPELINE on INPUT and write OUTPUT (Zarr), on this machine's "
        "threads, a LocalCluster, an existing Dask cluster or dask-mpi. Everything is "
        "checked before any work starts; an interrupted run is finished with --resume.",
    )
    run.add_argument(
        "pipeline",
        help="a built-in pipeline (fibers, beads) or a YAML/JSON "
        "file of steps, e.g. from `microct export-pipeline`",
    )
    run.add_argument(
        "input",
        help="the volume to process: anything open_volume reads (Zarr, OME-Zarr, TIFF, "
        "HDF5, raw), a path or a file:// URL",
    )
    run.add_argument("output", help="the Zarr store to write")
    run.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a parameter of a built-in pipeline, e.g. --param bead_radius='20 um'"
        " (repeat for several)",
    )
    where = run.add_argument_group("where to run (default: threads on this machine)")
    where.add_argument("--workers", type=int, help="start a LocalCluster of N worker processes")
    where.add_argument(
        "--threads-per-worker", type=int, help="threads per worker (--workers, --mpi; default 1)"
    )
    where.add_argument(
        "--memory-limit", help="memory per worker, e.g. 4GiB (--workers, --mpi; default auto)"
    )
    where.add_argument(
        "--no-dashboard",
        dest="dashboard",
        action="store_false",
        help="no Dask dashboard for the cluster this command starts (--workers, --mpi; "
        "with --workers its pages start only when the link is first visited)",
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://head:8786"
    )
    where.add_argument(
        "--scheduler-file", metavar="FILE", help="use a running Dask scheduler described by FILE"
    )
    where.add_argument(
        "--mpi",
        action="store_true",
        help="start Dask with dask-mpi: run under `mpirun -n K` (K >= 3)",
    )
    where.add_argument(
        "--timeout", default="10s", help="how long to try to reach the scheduler (default 10s)"
    )
    run.add_argument(
        "--chunks",
        type=int,
        help="rechunk the input to N voxels per side (default: whole stored chunks merged "
        "up to 128 a side; a resume: the chunks its run started with)",
    )
    run.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    run.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run into OUTPUT (only missing chunks)",
    )
    run.add_argument(
        "--no-progress",
        action="store_true",
        help="print no phase lines and no progress bars (bars are drawn on a terminal only)",
    )
    _add_calibration(run)
    run.set_defaults(handler=_run)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``microct`` command."""
    from xarray_microct import __version__

    parser = argparse.ArgumentParser(
        prog="microct", description="Analyse X-ray microtomography volumes with xarray-microct."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser(
        "info",
        help="describe a stored volume, pyramid or table",
        description="Describe PATH: pyramid levels (shape, chunks, dtype, voxel size), "
        "labels, the provenance of the data, the run state of a `microct run` output, and "
        "the rows, columns and units of a table.",
    )
    info.add_argument(
        "path", help="an OME-Zarr or Zarr store, a table store, a TIFF file or folder, HDF5"
    )
    info.add_argument("--json", action="store_true", help="print JSON (for programs)")
    info.add_argument("--rows", type=int, default=5, help="table rows to show (default 5)")
    _add_calibration(info)
    info.set_defaults(handler=_info)
    demo = commands.add_parser("demo", help="run the pipeline on a synthetic volume")
    demo.add_argument("--output", default="microct-demo", help="folder for the results")
    demo.add_argument("--size", type=int, default=128, help="edge of the synthetic volume")
    demo.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the results of an earlier demo (only files it wrote, unchanged)",
    )
    demo.set_defaults(handler=_demo)
    _add_run(commands)
    export = commands.add_parser(
        "export-pipeline", help="write the provenance of a stored result as a pipeline file"
    )
    export.add_argument("result", help="a Zarr store written by xarray-microct")
    export.add_argument("pipeline", help="the pipeline file to write (.yaml or .json)")
    export.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a pipeline file that export-pipeline wrote (never another file)",
    )
    export.set_defaults(handler=_export_pipeline)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that writers stop cleanly."""


EXIT_TERMINATED = 143
"""Exit status after SIGTERM (a batch system ending the job): 128 + 15."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def _written_since(store: str, began: float) -> bool:
    """Whether the root metadata of the local store ``store`` was written at or after the
    time ``began`` (:func:`time.time`): by this command, not before it."""
    from xarray_microct.io.paths import local_path

    path = local_path(store)
    try:
        return path is not None and (path / "zarr.json").stat().st_mtime >= began
    except OSError:
        return False


def _another_rank_says_it(args: argparse.Namespace) -> bool:
    """Under ``mpirun ... --mpi`` every rank gets the same Ctrl-C (or SIGTERM): rank 1,
    the one that runs the analysis, says what is left; the others (the scheduler, the
    workers, or every rank still checking the run) say nothing. A rank that has not
    started MPI yet cannot tell, and says it."""
    if not getattr(args, "mpi", False) or "mpi4py.MPI" not in sys.modules:
        return False
    from xarray_microct.cluster import mpi_rank

    return mpi_rank() != 1


def _interrupted(args: argparse.Namespace, err: KeyboardInterrupt, began: float) -> int:
    """One line saying what was stopped and what is left; the exit status. ``began``:
    when the command started (:func:`time.time`)."""
    if _another_rank_says_it(args):
        return 130
    signal_name = "SIGTERM" if isinstance(err, Terminated) else "Ctrl-C"
    line = f"microct: interrupted ({signal_name})"
    output = getattr(args, "output", None)
    if args.command == "run" and output is not None:
        from xarray_microct.io.results import RESUMABLE, run_state

        with contextlib.suppress(Exception):
            state = run_state(output)
            if state is not None and state.get("status") in RESUMABLE:
                line += (
                    f"; {output} is marked {state['status']}: finish it with the same "
                    "command and --resume"
                )
            elif (
                state is not None
                and state.get("status") == "complete"
                and _written_since(output, began)
            ):
                # the signal came once the result was written (its last moments)
                line += f"; {output} is complete: the run had finished writing it"
            else:
                line += f"; {output} was left as it was"
    print(line, file=sys.stderr)
    return EXIT_TERMINATED if isinstance(err, Terminated) else EXIT_INTERRUPTED


def _resumable(args: argparse.Namespace) -> str:
    """What ``--resume`` can finish after a failed ``microct run``: the output, where the
    run left it marked unfinished; nothing where no output was made (a read-only folder)
    or an older result was left as it was."""
    output = getattr(args, "output", None)
    if args.command != "run" or output is None:
        return ""
    from xarray_microct.io.results import RESUMABLE, run_state

    try:
        state = run_state(output)
    except Exception:  # an unreadable output: say nothing of it
        return ""
    if state is None or state.get("status") not in RESUMABLE:
        return ""
    return f"; {output} is marked {state['status']}: once fixed, finish it with --resume"


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """A warning as ``microct`` prints it: one line, without the package's file, line
    number and source line that Python's default shows (which read as a crash).

    Examples
    --------
    >>> _one_line_warning(UserWarning("no fibers"), UserWarning, "/x/registry.py", 771)
    'microct: warning: no fibers\\n'
    >>> _one_line_warning("Mean of empty slice", RuntimeWarning, "/x/_methods.py", 3)
    'microct: warning: Mean of empty slice (RuntimeWarning)\\n'
    """
    kind = "" if issubclass(category, UserWarning) else f" ({category.__name__})"
    return f"microct: warning: {message}{kind}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``microct`` console script.

    Exit status: 0 done, 2 a clear error (bad input, refused output, unreachable
    scheduler, damaged store), 130 after Ctrl-C and 143 after SIGTERM (the output is
    then marked interrupted, and ``--resume`` finishes it).
    """
    began = time.time()
    args = build_parser().parse_args(argv)
    exit_quickly()  # the command's process ends without a final garbage collection
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    previous_format = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        started()  # Ctrl-C raises KeyboardInterrupt from here on (see starting.py)
        return args.handler(args)
    except KeyboardInterrupt as err:
        return _interrupted(args, err, began)
    except (
        ValueError,
        TypeError,
        ImportError,
        FileNotFoundError,
        FileExistsError,
        ConnectionError,
        TimeoutError,
    ) as err:
        message = with_cli_options(str(err)) if _raised_reading(err) else str(err)
        print(f"microct: error: {command_line_message(err, message)}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a read-only folder...
        print(
            f"microct: error: {err}; nothing that existed before was changed{_resumable(args)}",
            file=sys.stderr,
        )
        return 2
    finally:
        warnings.formatwarning = previous_format
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
