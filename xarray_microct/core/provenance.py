"""Provenance records: what was done, with which parameters and package versions.

A record is a JSON-serialisable dict::

    {"op": "gaussian",
     "params": {"sigma": "3 um", "truncate": 4.0, "mode": "nearest"},
     "resolved": {"sigma": [1.5, 3.0, 3.0]},
     "versions": {"xarray_microct": "0.1.0", "numpy": "2.1.0", ...},
     "time": "2026-11-25T08:30:00Z"}

Records accumulate, in order, in ``attrs["microct_provenance"]`` of every result; a
CF-style line per operation is appended to ``attrs["history"]``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import numbers
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

import numpy as np
import pint

from xarray_microct.core.units import as_json_length
from xarray_microct.core.volume import PROVENANCE_KEY

CORE_PACKAGES = ("xarray_microct", "numpy", "dask", "xarray")
_DISTRIBUTIONS = {
    "xarray_microct": "xarray-microct",
    "skimage": "scikit-image",
    "scikit-image": "scikit-image",
}


@functools.cache
def package_version(package: str) -> str:
    """Installed version of a package, or ``"not installed"``.

    Examples
    --------
    >>> package_version("numpy") == __import__("numpy").__version__
    True
    """
    try:
        return metadata.version(_DISTRIBUTIONS.get(package, package))
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(packages: Iterable[str] = ()) -> dict[str, str]:
    """Versions of the core packages plus ``packages``."""
    return {p: package_version(p) for p in (*CORE_PACKAGES, *packages)}


class NotReplayable:
    """Marker for a parameter value that cannot be stored as JSON (an array, a volume)."""


def to_json_value(value: Any) -> Any:
    """A JSON-serialisable form of a parameter value.

    Numbers, strings, booleans, None, lists and dicts pass through; pint Quantities
    become strings; NumPy scalars become Python scalars. Anything else (arrays, volumes)
    becomes a descriptor ``{"unserialisable": "<type>", ...}`` that replay refuses.

    Examples
    --------
    >>> to_json_value((1, "3 um"))
    [1, '3 um']
    >>> to_json_value(np.float32(0.5))
    0.5
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, pint.Quantity):
        return as_json_length(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, numbers.Real):
        return value
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    descriptor: dict[str, Any] = {"unserialisable": type(value).__name__}
    for attribute in ("shape", "dtype", "name"):
        if hasattr(value, attribute):
            descriptor[attribute] = str(getattr(value, attribute))
    return descriptor


def is_replayable(params: Mapping[str, Any]) -> bool:
    """Whether every parameter of a record can be replayed from JSON."""

    def ok(value: Any) -> bool:
        if isinstance(value, dict):
            return "unserialisable" not in value and all(ok(v) for v in value.values())
        if isinstance(value, list):
            return all(ok(v) for v in value)
        return True

    return ok(dict(params))


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_record(
    op: str,
    params: Mapping[str, Any],
    resolved: Mapping[str, Any] | None = None,
    packages: Iterable[str] = (),
    source: bool = False,
) -> dict[str, Any]:
    """Build one provenance record (see module docstring).

    ``source=True`` marks how the data entered (``from_array``, ``open_volume``):
    such records document the origin and are skipped by replay.

    Examples
    --------
    >>> r = make_record("gaussian", {"sigma": "3 um"}, {"sigma": [1.0, 3.0, 3.0]})
    >>> r["op"], r["params"], r["replayable"]
    ('gaussian', {'sigma': '3 um'}, True)
    """
    json_params = {k: to_json_value(v) for k, v in params.items()}
    record: dict[str, Any] = {
        "op": op,
        "params": json_params,
        "resolved": to_json_value(dict(resolved or {})),
        "versions": versions(packages),
        "time": utc_now(),
        "replayable": (not source) and is_replayable(json_params),
    }
    if source:
        record["source"] = True
    json.dumps(record)  # fail here, not in a writer, if anything slipped through
    return record


def history_line(record: Mapping[str, Any]) -> str:
    """The CF-convention ``history`` line for a record."""
    args = ", ".join(f"{k}={v!r}" for k, v in record["params"].items())
    version = record["versions"].get("xarray_microct", "")
    return f"{record['time']} xarray_microct {version}: {record['op']}({args})"


def with_record(attrs: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``attrs`` with ``record`` appended to the provenance and history."""
    out = dict(attrs)
    out[PROVENANCE_KEY] = [*attrs.get(PROVENANCE_KEY, []), dict(record)]
    previous = attrs.get("history")
    line = history_line(record)
    out["history"] = f"{previous}\n{line}" if previous else line
    return out


def records_of(obj: Any) -> list[dict[str, Any]]:
    """The provenance records of a DataArray, DataFrame, DataTree (its first image) or list.

    Examples
    --------
    >>> records_of([{"op": "gaussian", "params": {}}])[0]["op"]
    'gaussian'
    """
    if isinstance(obj, list):
        return [dict(r) for r in obj]
    attrs = getattr(obj, "attrs", None)
    if attrs is not None and PROVENANCE_KEY in attrs:
        return [dict(r) for r in attrs[PROVENANCE_KEY]]
    if hasattr(obj, "subtree"):  # a DataTree: take the first node's first variable
        for node in obj.subtree:
            for variable in node.data_vars.values():
                if PROVENANCE_KEY in variable.attrs:
                    return [dict(r) for r in variable.attrs[PROVENANCE_KEY]]
    raise ValueError(
        f"no provenance found on {type(obj).__name__}: give a result of xarray_microct "
        "or a list of records"
    )
