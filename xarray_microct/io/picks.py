"""One channel and/or one time point of an input: ``open_volume``'s ``channel=`` and
``time=`` (``--channel``, ``--time`` on the command line).

An input has a channel (time) axis when it names one, even of length one: an OME-Zarr's
``c`` (``t``) axis, an xarray store's ``c`` (``t``) dimension, an OME-TIFF's or ImageJ
hyperstack's ``C`` (``T``). An index is an integer from 0 to the axis' length - 1;
negative indexes are refused (a run records the index it was given, and the last of N
is N - 1, which says so). An index for an input without that axis is refused, as is one
out of range, with the valid range.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import xarray as xr

PICKS = {"c": "channel", "t": "time"}
"""Dimension -> the ``open_volume`` keyword that picks one index of it."""
NOUNS = {"c": ("channel", "channels"), "t": ("time point", "time points")}


def checked_index(value: Any, keyword: str) -> int | None:
    """``value`` as an index for ``keyword`` (``channel``, ``time``): None, or an int >= 0.

    Examples
    --------
    >>> checked_index(2, "channel"), checked_index(None, "time")
    (2, None)
    >>> checked_index(-1, "channel")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: channel=-1: give an index from 0 (negative indexes are not taken; ...
    """
    if value is None:
        return None
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{keyword}= takes an integer index, got {value!r}")
    if value < 0:
        raise ValueError(
            f"{keyword}={value}: give an index from 0 (negative indexes are not taken; "
            "the last of N is N - 1)"
        )
    return value


def in_range(dim: str, index: int, size: int, where: Any) -> int:
    """``index`` if it is one of the ``size`` indexes of ``dim``; else a clear error.

    Examples
    --------
    >>> in_range("c", 1, 3, "scan.tif")
    1
    >>> in_range("c", 3, 3, "scan.tif")
    Traceback (most recent call last):
    ValueError: scan.tif has 3 channels: channel=3 is out of range, give 0..2
    """
    if index >= size:
        noun = NOUNS[dim][0 if size == 1 else 1]
        valid = "0 (the only one)" if size == 1 else f"0..{size - 1}"
        raise ValueError(
            f"{where} has {size} {noun}: {PICKS[dim]}={index} is out of range, give {valid}"
        )
    return index


def no_axis(dim: str, where: Any) -> ValueError:
    """The error for a pick of an axis the input does not have.

    Examples
    --------
    >>> print(no_axis("t", "scan.h5"))
    scan.h5 has no time axis: leave time= out
    """
    return ValueError(f"{where} has no {PICKS[dim]} axis: leave {PICKS[dim]}= out")


def how_to_pick(sizes: Mapping[str, int]) -> str:
    """What to give to read one volume of an input whose ``sizes`` (``{"c": 2}``...)
    hold more than one.

    Examples
    --------
    >>> print(how_to_pick({"c": 2, "t": 3}))  # doctest: +NORMALIZE_WHITESPACE
    pick one volume with channel=N (0..1) and time=N (0..2) (on the command line
    --channel N --time N)
    """
    long = [(dim, n) for dim, n in sizes.items() if n > 1]
    keywords = " and ".join(f"{PICKS[dim]}=N (0..{n - 1})" for dim, n in long)
    options = " ".join(f"--{PICKS[dim]} N" for dim, _ in long)
    return f"pick one volume with {keywords} (on the command line {options})"


def pick_dims(volume: xr.DataArray, picks: Mapping[str, int | None], where: Any) -> xr.DataArray:
    """``volume`` at the ``picks`` (``{"c": 1, "t": None}``) of its ``c`` and ``t``
    dimensions, without them (nor their coordinates); the axes not picked stay.

    Examples
    --------
    >>> vol = xr.DataArray(np.arange(24).reshape(2, 3, 2, 2), dims=("c", "z", "y", "x"))
    >>> pick_dims(vol, {"c": 1}, "vol").dims, int(pick_dims(vol, {"c": 1}, "vol")[0, 0, 0])
    (('z', 'y', 'x'), 12)
    >>> pick_dims(vol, {"t": 0}, "vol")
    Traceback (most recent call last):
    ValueError: vol has no time axis: leave time= out
    """
    chosen: dict[str, int] = {}
    for dim, index in picks.items():
        if index is None:
            continue
        if dim not in volume.dims:
            raise no_axis(dim, where)
        chosen[dim] = in_range(dim, index, volume.sizes[dim], where)
    if not chosen:
        return volume
    picked = volume.isel(chosen)
    return picked.drop_vars([d for d in chosen if d in picked.coords])


def sizes_of(volume: xr.DataArray) -> dict[str, int]:
    """The number of channels and time points of a volume (1 without the axis).

    Examples
    --------
    >>> sizes_of(xr.DataArray(np.zeros((2, 3, 3, 3)), dims=("c", "z", "y", "x")))
    {'c': 2, 't': 1}
    """
    return {dim: int(volume.sizes.get(dim, 1)) for dim in PICKS}


def significant_picks(options: Mapping[str, Any], squeezed: Collection[str]) -> dict[str, Any]:
    """``options`` (``open_volume``'s keywords) without a ``channel``/``time`` pick on an
    axis of length one that the input drops without a pick (``squeezed``, ``{"c"}``: an
    OME-Zarr's, a TIFF's): it reads the same volume as no pick, so a run's fingerprint
    does not tell them apart. An xarray store keeps its ``c`` of length one unpicked
    (``c, z, y, x``), so a pick there reads another array and counts.

    Examples
    --------
    >>> significant_picks({"channel": 0, "time": 1, "spacing": 2}, {"c"})
    {'time': 1, 'spacing': 2}
    >>> significant_picks({"channel": 0}, set())  # an xarray store's c of length one
    {'channel': 0}
    """
    single = {PICKS[dim] for dim in squeezed}
    return {key: value for key, value in options.items() if key not in single}
