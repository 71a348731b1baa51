"""Result tables (e.g. the fiber table) as Zarr stores: one array per column.

A table is computed whole before it is written, so it is written whole too: into a
new store, or beside the store it replaces and swapped in (see
:mod:`xarray_microct.io.safety`). The store is marked complete only once written.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from xarray_microct.core.errors import OptionError
from xarray_microct.core.provenance import to_json_value, utc_now
from xarray_microct.core.tables import column_units
from xarray_microct.io.results import run_state, set_state, start_run, store_path
from xarray_microct.io.safety import RUN_KEY, how_to_finish, staged_write


def write_table(
    table: pd.DataFrame,
    store: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    metadata: Mapping[str, Any] | None = None,
    inputs: Iterable[str | Path] = (),
) -> Path:
    """Write a result table to a Zarr store, one array per column.

    The table's ``attrs`` (units, provenance...) become the store's attributes; the
    store is marked complete only once written, like
    :func:`~xarray_microct.io.results.write_volume`, and follows the same write rule.
    Read it back with :func:`read_table`.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "fibers.zarr"
    >>> table = pd.DataFrame({"fiber_id": [1, 2], "radius": [6.1, 6.6]})
    >>> table.attrs["units"] = "micrometer"
    >>> _ = write_table(table, store)
    >>> back = read_table(store)
    >>> list(back.columns), back["radius"].tolist(), back.attrs["units"]
    (['fiber_id', 'radius'], [6.1, 6.6], 'micrometer')
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"write_table writes a pandas.DataFrame, got {type(table).__name__}")
    path = store_path(store)
    action, state = start_run(path, table, metadata, inputs, overwrite, resume, "write_table")
    if action == "done":
        return path
    state["columns"] = [str(c) for c in table.columns]
    dataset = table_dataset(table)
    dataset.attrs[RUN_KEY] = state
    # A resumed table is written again whole: beside the interrupted one, then swapped.
    resuming = state["fingerprint"] if action == "resume" else None
    with staged_write(
        path, action in ("overwrite", "resume"), resuming=resuming, overwrite_said="overwrite=True"
    ) as target:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset.to_zarr(str(target), mode="w-")
        set_state(target, {**state, "status": "complete", "finished": utc_now()})
    return path


def table_dataset(table: pd.DataFrame) -> xr.Dataset:
    """The Dataset a table is stored as: one variable per column along ``row``.

    The table's ``attrs`` become the Dataset's, and each column with a unit (see
    :func:`~xarray_microct.core.tables.column_units`) carries it as its own ``units``
    attribute, so that readers other than :func:`read_table` (``xarray.open_zarr``,
    pint-xarray's ``quantify``) see it on the column.

    Examples
    --------
    >>> table = pd.DataFrame({"fiber_id": [1, 2], "radius": [6.1, 6.6]})
    >>> table.attrs["units"] = "micrometer"
    >>> dataset = table_dataset(table)
    >>> dataset["radius"].attrs, dataset["fiber_id"].attrs, dataset.attrs["units"]
    ({'units': 'micrometer'}, {}, 'micrometer')
    """
    dataset = xr.Dataset.from_dataframe(table.reset_index(drop=True).rename_axis("row"))
    dataset.attrs = {str(k): to_json_value(v) for k, v in table.attrs.items()}
    for column, unit in column_units(table).items():
        dataset[column].attrs["units"] = unit
    return dataset


def read_table(store: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (with its ``attrs``); see there."""
    path = store_path(store)
    state = run_state(path)
    if state is not None and state.get("status") != "complete":
        python, command = how_to_finish(state)
        said = f"{store} is an interrupted write"
        raise OptionError(f"{said}: {python}", f"{said}: {command}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = xr.open_zarr(str(path))
    table = dataset.to_dataframe().reset_index(drop=True)
    columns = (state or {}).get("columns")
    if columns and set(columns) == set(table.columns):
        table = table[columns]  # the order they were written in
    table.attrs = {k: v for k, v in dataset.attrs.items() if k != RUN_KEY}
    return table


def is_table(store: str | Path) -> bool:
    """Whether ``store`` holds a table (a ``row`` dimension and no volume)."""
    path = store_path(store)
    if not path.is_dir():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dataset = xr.open_zarr(str(path))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return False
    return "row" in dataset.dims and not any(
        tuple(v.dims[-3:]) == ("z", "y", "x") for v in dataset.data_vars.values()
    )


__all__ = ["is_table", "read_table", "table_dataset", "write_table"]
