"""Where data lives: a local path or an fsspec URL.

Readers and writers accept both ``"scan.ome.zarr"`` (or a :class:`pathlib.Path`) and
URLs such as ``"s3://bucket/scan.ome.zarr"`` or ``"https://host/scan.ome.zarr"``;
``file://`` URLs are local paths. These two functions are the one place that tells them
apart.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def is_url(location: Any) -> bool:
    """Whether ``location`` is a remote fsspec URL (``file://`` counts as local).

    Examples
    --------
    >>> is_url("s3://bucket/scan.ome.zarr"), is_url("file:///data/scan.zarr")
    (True, False)
    >>> is_url(Path("scan.zarr"))
    False
    """
    return isinstance(location, str) and "://" in location and not location.startswith("file://")


def local_path(location: str | os.PathLike[str]) -> Path | None:
    """The absolute local path of ``location`` (``~`` expanded, ``..`` kept), or None for
    a remote URL.

    Examples
    --------
    >>> local_path("file:///data/scan.zarr")
    PosixPath('/data/scan.zarr')
    >>> local_path("https://host/scan.zarr") is None
    True
    """
    if is_url(location):
        return None
    return Path(os.path.abspath(os.path.expanduser(os.fspath(location).removeprefix("file://"))))
