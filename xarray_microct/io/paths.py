"""Where data lives: a local path or an fsspec URL.

Readers and writers accept both ``"scan.ome.zarr"`` (or a :class:`pathlib.Path`) and
URLs such as ``"s3://bucket/scan.ome.zarr"`` or ``"https://host/scan.ome.zarr"``;
``file://`` URLs are local paths. These two functions are the one place that tells them
apart.
"""

from __future__ import annotations

import os
import posixpath
import urllib.parse
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
    >>> local_path("file:///data/scan.zarr"), local_path("file://localhost/data/my%20scan.tif")
    (PosixPath('/data/scan.zarr'), PosixPath('/data/my scan.tif'))
    >>> local_path("https://host/scan.zarr") is None
    True
    """
    if is_url(location):
        return None
    text = os.fspath(location)
    if text.startswith("file://"):  # a file URL (file managers percent-encode it)
        parsed = urllib.parse.urlparse(text)
        text = urllib.parse.unquote(parsed.path if parsed.netloc in ("", "localhost") else text)
    return Path(os.path.abspath(os.path.expanduser(text)))


def normal_url(url: str) -> str:
    """``url`` in one spelling: protocol in lower case, ``.`` and ``..`` resolved, doubled
    and trailing slashes dropped (for comparing URLs: same text, same place).

    Examples
    --------
    >>> normal_url("S3://bucket//scans/./a/../scan.zarr/")
    's3://bucket/scans/scan.zarr'
    >>> normal_url("memory:///out.zarr") == normal_url("memory://out.zarr")
    True
    """
    protocol, _, rest = str(url).rpartition("::")[2].partition("://")
    path = posixpath.normpath("/" + rest).lstrip("/")
    return f"{protocol.lower()}://{path}"


def url_relation(output: str, source: str) -> str | None:
    """How the URL ``output`` relates to the URL ``source``: ``"is"``, ``"contains"``,
    ``"lies inside"`` or None (compared on :func:`normal_url`).

    Examples
    --------
    >>> url_relation("s3://b/out", "s3://b/out/../out/"), url_relation("s3://b", "s3://b/x")
    ('is', 'contains')
    >>> url_relation("s3://b/x/y", "s3://b/x"), url_relation("s3://b/xy", "s3://b/x")
    ('lies inside', None)
    """
    out, src = normal_url(output), normal_url(source)
    if out == src:
        return "is"
    if src.startswith(out.rstrip("/") + "/"):
        return "contains"
    if out.startswith(src.rstrip("/") + "/"):
        return "lies inside"
    return None
