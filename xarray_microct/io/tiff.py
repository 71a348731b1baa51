"""Lazy TIFF readers: one TIFF file, or a folder of numbered TIFF files.

What is read is the file's first image as ``tifffile`` sees it (``tif.series[0]``, with
its axes; past a reduced-resolution image before it, a thumbnail marked by
NewSubfileType, which is left out with the warning below), never its raw pages: a Z(YX)
image is the volume; axes of size 1 (a channel, a time point, a sample) are dropped; of
an image with channels (``C``) or time points (``T``), the one ``channel=``/``time=``
picks is read, its pages only (page ``first + i * stride`` of the image's series for
slice ``i``: by offset when the image is contiguous, else by page); without a pick, a
second channel or time point is refused with the counts and the options. Colour samples,
or any other axis but the stack's (``Z``, or tifffile's ``Q``/``I`` for a stack that
does not name its axis) larger than 1, are refused with what the file holds and how to
take one volume out of it. Other images in the file after the stack (a mask, a
thumbnail) are left out with a warning; a first image of one plane smaller than a stack
after it, not marked as reduced, is refused (a thumbnail, or the image meant?); a page
of another shape or type among the stack's pages (which tifffile sets apart as an image
of its own) is refused, as leaving it out would shift the slices after it in z.

A folder is read as the files of its dominant numbered name (``rec_0000.tif``,
``rec_0001.tif``...), in the order of the number their names carry, and refused where
that number leaves a slice out: which files and in which order, before any pixel is
read, is :mod:`xarray_microct.io.tiff_numbering`'s (its docstring gives the rules). Each
file is one slice, or each is a stack, the parts of one scan joined along z in name
order (only the last may hold a single slice). Every file's header is checked (its
image's shape and dtype) before any pixel is read: a file that does not fit is refused
by name, before any work.

Pages are read in blocks of up to 64 slices only when a chunk is computed; the scan is
never loaded whole. A contiguous image (uncompressed, as ImageJ and tifffile write by
default) is read by offset, a slab in one read: so an ImageJ stack over 4 GB, which
holds one page header for all its slices, is read whole.

Lab book. The red team's inputs and ours (tests/test_readers.py), through ``open_volume``
and ``microct run`` (the rows of a folder's names are in
:mod:`xarray_microct.io.tiff_numbering`): before, raw pages were read (``imread(key=0)``
per file of a folder, ``asarray(key=range(...))`` of a file); after, the first image
(series) by its axes.

=============================================  ==========================  =================
input                                          before                      after
=============================================  ==========================  =================
folder of 3 files × 4 pages                    3 slices (0, 4, 8), rc 0    12 slices 0..11
OME-TIFF CZYX, C = 2                           24 slices, rc 0             refused, rc 2
ImageJ ZCYX, C = 2                             24 slices, C interleaved    refused, rc 2
stack + same-shape series (a mask)             24 slices, rc 0             12, warning
stack + thumbnail series                       RuntimeError mid-run, rc 1  12, warning
ImageJ stack > 4 GB (one page header)          1 slice, rc 0               every slice
folder + same-pattern slice of another shape   shape error mid-run, rc 1   refused by name
TIFF header without pages                      IndexError, rc 1            refused, rc 2
=============================================  ==========================  =================

Cost of the header check (``benchmarks/tiff_open.py``: 1000 slices of 256² uint16 per
folder, plain, ImageJ and OME-TIFF slices, warm page cache, a shared 2-core machine):
0.4-0.7 s of CPU to open (wall 0.4-1.6 s; before, one header: 0.01 s), against 1.8-3 s
to read the pixels; about 0.5 ms per file, nearly all of it tifffile opening the file.
The numbering of the names is measured in :mod:`xarray_microct.io.tiff_numbering`.
Tried and not kept: the headers read by 8 threads (0.79 -> 0.87 s wall, 0.39 -> 0.40-0.74 s
CPU: the parsing holds the GIL); a cold network disk, where opens wait, was not measured.

Kept: a folder of stacks is joined along z (the red team's truth for it, and how a scan
split into parts is stored); refusing it was the other choice, safer against a folder of
separate scans (a time series, one file each), which now reads as one tall volume: its
z extent says so, and a single scan is opened by giving its file. The files of a folder
are opened without tifffile's multi-file OME series (``_multifile=False``): with it,
each file of a multi-file OME-TIFF reports the whole dataset, and a folder of N of them
would read N × N slices. A ``channel=``/``time=`` option was first left out (it would
have to reach the command line; extracting the channel is one line in Fiji or tifffile);
it is kept now, with ``--channel``/``--time`` on the command line and in a run's
fingerprint: re-saving each channel of a large scan is a copy of it, where the pick reads
that channel's pages and no others (``tests/test_channel_time.py`` counts them). An axis
the file names counts even of length one (an OME-TIFF's one time point is ``time=0``);
negative indexes are refused, as the index recorded is the one read.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import dask
import dask.array as da
import numpy as np
import tifffile

from xarray_microct.io.calibration import (
    RTOL,
    calibration,
    in_units,
    resolution_length,
    stated_sizes,
)
from xarray_microct.io.errors import PickRequiredError, TiffLayoutError
from xarray_microct.io.picks import NOUNS, checked_index, how_to_pick, in_range, no_axis
from xarray_microct.io.tiff_numbering import _check_numbering, _listed, _slice_files

_SLAB = 64  # slices read by one task
_STACK_AXES = "ZQI"  # depth; tifffile's "other" and "sequence" for stacks that do not say


@dataclass(frozen=True)
class _Image:
    """The first image of a TIFF file, as ``read_tiff`` reads it."""

    depth: int  # slices
    plane: tuple[int, int]  # (y, x)
    dtype: np.dtype
    others: tuple[str, ...]  # the file's other images, described, left out
    # how a task reads its slices, found once from the headers (a task then parses no
    # series): ("bytes", offset, typecode) for a contiguous image, ("pages",) where the
    # image's slices are the file's pages 0, 1, ..., ("series", index) otherwise
    read: tuple[Any, ...] = ("series",)
    # the image's page (of its series) of slice i: first + i * stride (one channel and
    # time point of a hyperstack: its other pages are never read)
    first: int = 0
    stride: int = 1
    # the file's number of channels ("c") and time points ("t"), 1 where it has none
    sizes: tuple[tuple[str, int], ...] = (("c", 1), ("t", 1))
    number: int = 0  # the image's index in the file (tifffile's series), past a thumbnail


def _open(path: Path, multifile: bool) -> tifffile.TiffFile:
    try:
        return tifffile.TiffFile(path, _multifile=multifile)
    except (tifffile.TiffFileError, OSError, ValueError) as err:
        raise TiffLayoutError(f"{path} cannot be read as TIFF: {err}") from err


def _described(series: tifffile.TiffPageSeries) -> str:
    sizes = " × ".join(str(n) for n in series.shape)
    return f"{series.axes} {sizes} {series.dtype}"


def _one_volume_index(axes: str, shape: Sequence[int]) -> str:
    """How to index ``tifffile.imread`` (which drops axes of size 1) for one volume: the
    first of each axis but the stack's (``Z`` first, else the last unnamed one).

    Examples
    --------
    >>> _one_volume_index("ZCYX", (12, 2, 8, 8)), _one_volume_index("TCZYX", (3, 2, 12, 8, 8))
    ('[:, 0]', '[0, 0]')
    """
    sized = [(axis, n) for axis, n in zip(axes, shape, strict=True) if n > 1 and axis not in "YXS"]
    stack_axes = [i for i, (axis, _) in enumerate(sized) if axis in _STACK_AXES]
    kept = next(
        (i for i in stack_axes if sized[i][0] == "Z"), stack_axes[-1] if stack_axes else None
    )
    index = [":" if i == kept else "0" for i in range(len(sized))]
    while index and index[-1] == ":":
        index.pop()
    return f"[{', '.join(index)}]"


def _refusal(
    path: Path,
    axes: str,
    shape: Sequence[int],
    picked: str = "",
    long: Mapping[str, int] | None = None,
) -> str:
    """Why the image is not one volume, and how to take one out of it; ``picked``: the
    axes ``channel=``/``time=`` pick (left out of the count), ``long``: the channel and
    time axes of more than one that picking would leave one volume of."""
    names = tifffile.TIFF.AXES_NAMES
    extra = [
        (axis, n)
        for axis, n in zip(axes, shape, strict=True)
        if n > 1 and axis not in "YX" and axis not in picked
    ]
    held = ", ".join(f"{axis} ({names.get(axis, 'unknown')}) = {n}" for axis, n in extra)
    if any(axis == "S" for axis, _ in extra):
        how = "convert it to one grey level per voxel (e.g. Fiji: Image > Type > 16-bit)"
    elif len(extra) == 1:  # a stack whose slices are called channels or time points
        axis, n = extra[0]
        planes = {"T": "time points", "C": "channels"}.get(axis, f"planes along {axis}")
        how = (
            f"if its {planes} are the z-slices, save them as slices (Fiji: Image > "
            f"Properties, slices = {n}; Python: tifffile.imwrite(out, tifffile.imread(path), "
            "metadata={'axes': 'ZYX'}))"
        )
    else:
        how = (
            "save the one volume you want as its own TIFF stack (Fiji: Image > Duplicate... "
            "with one channel and one frame, or Image > Color > Split Channels; Python: "
            f"tifffile.imwrite(out, tifffile.imread(path){_one_volume_index(axes, shape)}) "
            "keeps the first of each)"
        )
    if long:
        how = f"{how_to_pick(long)}; or {how}"
    sizes = " × ".join(str(n) for n in shape)
    return (
        f"{path} holds an image of axes {axes} ({sizes}), with {held}: xarray-microct reads "
        f"one grey-level volume (z, y, x) and does not guess which one is meant; {how}"
    )


def _named_sizes(series: tifffile.TiffPageSeries) -> dict[str, int]:
    """The channels (``"c"``) and time points (``"t"``) of an image that names those axes
    (OME-TIFF, ImageJ hyperstacks: also of length one); absent where it does not."""
    get_axes, get_shape = getattr(series, "get_axes", None), getattr(series, "get_shape", None)
    axes, shape = (
        (get_axes(False), get_shape(False))
        if get_axes and get_shape
        else (series.axes, series.shape)
    )
    sizes: dict[str, int] = {}
    for axis, n in zip(axes, shape, strict=True):
        if axis in "CT":
            sizes.setdefault(axis.lower(), int(n))
    return sizes


def _picked_pages(
    axes: str, shape: Sequence[int], picks: Mapping[str, int]
) -> tuple[int, int, int, int]:
    """``(first, stride, depth, pages)``: the image's slices at ``picks`` (``{"C": 1}``)
    are its pages ``first + i * stride``, ``i < depth``, of ``pages`` in all (its axes
    but Y and X, row-major; the one axis left of more than one is the stack's).

    Examples
    --------
    >>> _picked_pages("TZCYX", (2, 4, 3, 5, 6), {"T": 1, "C": 2})  # ImageJ hyperstack
    (14, 3, 4, 24)
    >>> _picked_pages("CZYX", (2, 4, 5, 6), {"C": 1}), _picked_pages("ZYX", (4, 5, 6), {})
    ((4, 1, 4, 8), (0, 1, 4, 4))
    """
    leading = [(axis, int(n)) for axis, n in zip(axes, shape, strict=True) if axis not in "YX"]
    first, stride, depth, step = 0, 1, 1, 1
    for axis, n in reversed(leading):
        if axis in picks:
            first += picks[axis] * step
        elif n > 1:
            stride, depth = step, n
        step *= n
    return first, stride, depth, step


def _is_reduced(series: tifffile.TiffPageSeries) -> bool:
    """Whether ``series`` is a reduced-resolution image (its pages' NewSubfileType bit 1:
    a thumbnail, a preview), which tifffile sets apart as an image of its own."""
    keyframe = getattr(series, "keyframe", None)
    return bool(getattr(keyframe, "is_reduced", False))


def _plane_and_depth(series: tifffile.TiffPageSeries) -> tuple[tuple[int, int], int] | None:
    """An image's ``(y, x)`` plane and its number of planes (every axis but Y, X and S);
    None for an image without Y and X."""
    axes, shape = series.axes, tuple(series.shape)
    if "Y" not in axes or "X" not in axes:
        return None
    depth = int(np.prod([n for axis, n in zip(axes, shape, strict=True) if axis not in "YXS"]))
    return (shape[axes.index("Y")], shape[axes.index("X")]), depth


def _volume_series(tif: tifffile.TiffFile, path: Path) -> int:
    """The index (in ``tif.series``) of the image read: the first that is not a
    reduced-resolution one (a thumbnail marked as such, NewSubfileType bit 1, written
    before the stack). A first image of one plane smaller than a stack after it, not
    marked as reduced, is refused: it may be a thumbnail or the image meant, and which
    is not guessed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "thumb.tif"
    >>> with tifffile.TiffWriter(path) as tif:
    ...     tif.write(np.zeros((4, 5), "u1"), subfiletype=1)  # a thumbnail first
    ...     tif.write(np.zeros((3, 8, 10), "u1"))
    >>> with tifffile.TiffFile(path) as tif:
    ...     index = _volume_series(tif, path)
    ...     index, tif.series[index].shape
    (1, (3, 8, 10))
    """
    full = [i for i, series in enumerate(tif.series) if len(series) and not _is_reduced(series)]
    if not full:
        return 0  # reduced images only (or none): the first, as any other image
    index = full[0]
    first = _plane_and_depth(tif.series[index])
    for later in full[1:]:
        other = _plane_and_depth(tif.series[later])
        if first is None or other is None or first[1] != 1 or other[1] < 2:
            continue
        (y, x), (oy, ox) = first[0], other[0]
        if y <= oy and x <= ox and (y, x) != (oy, ox):
            raise TiffLayoutError(
                f"{path}: its first image ({_described(tif.series[index])}) is one plane "
                f"smaller than the stack after it (image {later}: "
                f"{_described(tif.series[later])}), and not marked as a reduced-resolution "
                "image (NewSubfileType): a thumbnail, or the image meant? It is not "
                "guessed: save the stack as its own TIFF (Python: tifffile.imwrite(out, "
                f"tifffile.imread(path, series={later}))), or mark the thumbnail as "
                "reduced (tifffile: subfiletype=1)"
            )
    return index


def _image(
    tif: tifffile.TiffFile, path: Path, picks: Mapping[str, int | None] | None = None
) -> _Image:
    """The layout of the image read (:func:`_volume_series`: the first, past a
    thumbnail), from the headers only; a clear error if it is not one grey-level volume
    (at ``picks``, ``{"c": 1, "t": None}``: one channel, time point)."""
    if not tif.series or not len(tif.series[0]):
        raise TiffLayoutError(
            f"{path} holds no image: a TIFF header without pages (an interrupted write?)"
        )
    number = _volume_series(tif, path)
    series = tif.series[number]
    axes, shape = series.axes, tuple(series.shape)
    if "Y" not in axes or "X" not in axes:
        raise TiffLayoutError(f"{path}: its image has axes {axes}, with no Y and X (not a picture)")
    named = _named_sizes(series)
    chosen: dict[str, int] = {}  # the picked axes (as the image names them) and indexes
    for dim, index in (picks or {}).items():
        if index is None:
            continue
        if dim not in named:
            raise no_axis(dim, path)
        in_range(dim, index, named[dim], path)
        if dim.upper() in axes:  # else of length one, dropped by tifffile
            chosen[dim.upper()] = index
    sized = [(axis, n) for axis, n in zip(axes, shape, strict=True) if axis not in chosen]
    kept = "".join(axis for axis, n in sized if n > 1 or axis in "YX")
    volumes = ("YX", *(f"{axis}YX" for axis in _STACK_AXES))
    if kept not in volumes or (chosen and not axes.endswith("YX")):
        long = {a.lower(): n for a, n in sized if a in "CT" and n > 1}
        rest = "".join(axis for axis in kept if axis.lower() not in long)
        if long and rest in volumes:  # one channel and time point would be a volume
            raise PickRequiredError(_refusal(path, axes, shape, "".join(chosen), long), long)
        raise TiffLayoutError(_refusal(path, axes, shape, "".join(chosen)))
    first, stride, depth, total = _picked_pages(axes, shape, chosen)
    plane = (shape[axes.index("Y")], shape[axes.index("X")])
    keyframe_plane = tuple(n for n in series.keyframe.shape if n > 1)
    if series.dataoffset is None and (len(series) != total or keyframe_plane != plane):
        raise TiffLayoutError(
            f"{path}: its image ({_described(series)}) is stored in pages of shape "
            f"{series.keyframe.shape}, not one page per slice; re-save it as a plain stack"
        )
    pages = list(series.pages)
    read = range(first, first + depth * stride, stride)
    # tifffile zero-fills the pages of a multi-file OME-TIFF's missing files; a file
    # saved with its first page's header only (ImageJ's > 4 GB hyperstacks, tifffile's
    # truncate=True) lists that one page (its data contiguous: read by bytes)
    whole = len(pages) == total
    missing = [i for i, page in enumerate(read) if whole and pages[page] is None]
    if missing:
        raise TiffLayoutError(
            f"{path}: {len(missing)} of the {depth} slices of its image (a multi-file "
            f"OME-TIFF, from slice {missing[0]}) lie in files that are missing beside it"
        )
    _check_no_page_between(tif, path, pages, number)
    others = tuple(
        f"image {i}: {_described(s)}{' (reduced resolution)' if _is_reduced(s) else ''}"
        for i, s in enumerate(tif.series)
        if i != number
    )
    return _Image(
        depth,
        plane,
        np.dtype(series.dtype),
        others,
        _read_plan(tif, series, pages, number),
        first,
        stride,
        tuple((dim, named.get(dim, 1)) for dim in ("c", "t")),
        number,
    )


def _check_no_page_between(
    tif: tifffile.TiffFile, path: Path, pages: Sequence[Any], index: int = 0
) -> None:
    """Refuse a file whose other images have a page among the pages (``pages``) of the
    image read (``tif.series[index]``): a page of another shape or type in the middle of
    a stack, which tifffile sets apart as an image of its own. Left out, it would shift
    every later slice up in z; other images before or after the stack (a thumbnail, a
    mask, as writers add them) are left out."""
    own = [page.index for page in pages if _own_page(page, tif)]
    if len(own) < 2:
        return
    low, high = min(own), max(own)
    for number, other in enumerate(tif.series):
        if number == index:
            continue
        between = [p.index for p in other.pages if _own_page(p, tif) and low < p.index < high]
        if between:
            raise TiffLayoutError(
                f"{path}: page {between[0]} of the file ({_described(other)}, image "
                f"{number}) lies among the slices of its stack (pages {low} to {high}, "
                f"{_described(tif.series[index])}), a page unlike the others: left out, it "
                "would shift the slices after it in z. A stack is read with its slices alike, as "
                "a folder of slices is; re-save it without that page, or with every slice "
                "of one shape and type"
            )


def _own_page(page: Any, tif: tifffile.TiffFile) -> bool:
    """Whether ``page`` (of a series) is a top-level page of the file ``tif`` itself."""
    return (
        page is not None
        and getattr(page, "parent", None) is tif
        and isinstance(getattr(page, "index", None), int)
    )


def _read_plan(
    tif: tifffile.TiffFile, series: Any, pages: Sequence[Any], index: int = 0
) -> tuple[Any, ...]:
    """How a task reads the image's slices (:attr:`_Image.read`), from the headers;
    ``pages``: the series' pages, ``index``: the series' in the file."""
    y, x = series.shape[series.axes.index("Y")], series.shape[series.axes.index("X")]
    if series.dataoffset is not None:
        return ("bytes", int(series.dataoffset), tif.byteorder + series.dtype.char, y, x)
    if all(getattr(page, "parent", None) is tif for page in pages) and [
        getattr(page, "index", None) for page in pages
    ] == list(range(len(pages))):
        return ("pages",)
    return ("series", index)


def _read_planes(
    path: str,
    start: int,
    stop: int,
    read: tuple[Any, ...],
    multifile: bool,
    first: int = 0,
    stride: int = 1,
) -> np.ndarray:
    """Slices ``start:stop`` of the first image of ``path``, as ``(stop - start, y, x)``,
    read as ``read`` says (:attr:`_Image.read`): no task parses the image's series again
    where the headers showed its layout (a stack of 4096 pages without metadata: 25 s
    that way against 3.6 s by page). Slice ``i`` is the image's page ``first + i *
    stride`` (one channel or time point of a hyperstack: only its pages are read)."""
    pages = range(first + start * stride, first + stop * stride, stride)
    if read[0] == "bytes":  # contiguous: the slab's bytes in one read, or each slice's
        _, offset, typecode, y, x = read
        dtype = np.dtype(typecode)
        runs = [(pages[0], len(pages))] if stride == 1 else [(page, 1) for page in pages]
        data = np.empty((len(pages), y, x), dtype)  # the one allocation, filled in place
        with open(path, "rb") as file:  # one handle for the task's slices
            done = 0
            for page, n in runs:
                _read_bytes(file, offset + page * y * x * dtype.itemsize, data[done : done + n])
                done += n
    else:
        with tifffile.TiffFile(path, _multifile=multifile) as tif:
            if read[0] == "pages":  # the file's own pages
                data = np.stack([tif.pages[i].asarray() for i in pages])
            else:
                series = tif.series[read[1] if len(read) > 1 else 0]
                data = tif.asarray(series=series, key=list(pages))
    data = np.asarray(data)
    native = data.astype(data.dtype.newbyteorder("="), copy=False)
    return native.reshape(stop - start, *data.shape[-2:])  # size-1 axes dropped


def _read_bytes(file: Any, offset: int, out: np.ndarray) -> None:
    """Fill ``out`` (C-contiguous) with its bytes at byte ``offset`` of the open ``file``,
    read into it: no copy; a clear error if the file ends before ``out`` is full.

    Examples
    --------
    >>> import io
    >>> out = np.empty((2, 3), "u1")
    >>> _read_bytes(io.BytesIO(bytes(range(8))), 2, out)
    >>> out.tolist()
    [[2, 3, 4], [5, 6, 7]]
    >>> try:
    ...     _read_bytes(io.BytesIO(bytes(range(8))), 4, out)
    ... except TiffLayoutError as error:
    ...     print(str(error)[:38])
    the file: 4 of the 6 bytes at byte 4 (
    """
    file.seek(offset)
    view = memoryview(out).cast("B")
    got = 0
    while got < out.nbytes:  # a raw read may return less than asked before the end
        n = file.readinto(view[got:])
        if not n:
            raise TiffLayoutError(
                f"{getattr(file, 'name', 'the file')}: {got} of the {out.nbytes} bytes at "
                f"byte {offset} (the file is shorter than its header says: a truncated copy?)"
            )
        got += n


def _read_pieces(
    pieces: Sequence[tuple[str, int, int]],
    reads: dict[str, tuple[tuple[Any, ...], int, int]],
    multifile: bool,
) -> np.ndarray:
    """The ``pieces`` ``(name, start, stop)``; ``reads``: each file's read plan, first
    page and stride (:class:`_Image`)."""
    return np.concatenate(
        [
            _read_planes(name, a, b, reads[name][0], multifile, *reads[name][1:])
            for name, a, b in pieces
        ]
    )


def _slabs(parts: Sequence[tuple[str, int]]) -> list[list[tuple[str, int, int]]]:
    """The files' slices ``(name, depth)`` in tasks of up to ``_SLAB`` slices, each a list
    of ``(name, start, stop)``.

    Examples
    --------
    >>> _slabs([("a.tif", 70)])
    [[('a.tif', 0, 64)], [('a.tif', 64, 70)]]
    >>> _slabs([("a.tif", 60), ("b.tif", 10)])
    [[('a.tif', 0, 60), ('b.tif', 0, 4)], [('b.tif', 4, 10)]]
    """
    tasks: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    filled = 0
    for name, depth in parts:
        start = 0
        while start < depth:
            take = min(depth - start, _SLAB - filled)
            current.append((name, start, start + take))
            filled, start = filled + take, start + take
            if filled == _SLAB:
                tasks.append(current)
                current, filled = [], 0
    if current:
        tasks.append(current)
    return tasks


def _warn_others(images: Sequence[tuple[Path, _Image]]) -> None:
    with_others = [(path, image) for path, image in images if image.others]
    if not with_others:
        return
    path, image = with_others[0]
    found = f"{path} holds" if len(images) == 1 else f"{len(with_others)} of the files hold"
    example = "" if len(images) == 1 else f" ({path.name}:"
    warnings.warn(
        f"{found} other images besides the one read (image {image.number}), left out (a mask, a "
        f"thumbnail...){example} {_listed(image.others)}{')' if example else ''}",
        UserWarning,
        stacklevel=3,
    )


def _folder_images(
    folder: Path, picks: Mapping[str, int | None] | None = None
) -> tuple[list[tuple[Path, _Image]], dict[str, Any]]:
    """Every slice file's layout (headers only, at ``picks``: see :func:`_image`) and the
    voxel size the files state (:func:`_one_voxel_size`); a file that does not fit the
    first is refused by name."""
    images: list[tuple[Path, _Image]] = []
    counts: list[tuple[Path, tuple[tuple[str, int], ...]]] = []  # every file's, picks aside
    refused: ValueError | None = None  # a file's error at the picks: after the counts
    sizes: list[tuple[Path, dict[str, Any]]] = []  # every file's stated voxel size
    paths, left_out = _slice_files(folder)
    for path in paths:
        with _open(path, multifile=False) as tif:
            if tif.series and len(tif.series[0]):
                with contextlib.suppress(ValueError):  # refused by _image below
                    named = _named_sizes(tif.series[_volume_series(tif, path)])
                    counts.append((path, tuple((dim, named.get(dim, 1)) for dim in ("c", "t"))))
            try:
                image = _image(tif, path, picks)
            except ValueError as error:  # a pick needed, or one its axis lacks, may be
                refused = refused or error  # a file of another count: named first
                continue
            sizes.append((path, _physical_metadata(tif, stack=image.depth > 1)))
        images.append((path, image))
    _check_counts(folder, counts)
    if refused is not None:
        raise refused
    first_path, first = images[0]
    stacks = [(path, image) for path, image in images if image.depth > 1]
    for index, (path, image) in enumerate(images):
        if (image.plane, image.dtype) != (first.plane, first.dtype):
            raise TiffLayoutError(
                f"{path} holds {image.dtype} slices of {image.plane[0]} × {image.plane[1]}, "
                f"while {first_path.name} holds {first.dtype} slices of {first.plane[0]} × "
                f"{first.plane[1]}: a folder is read as one scan, its files alike; move "
                f"{path.name} out of {folder}"
            )
        if stacks and image.depth == 1 and index < len(images) - 1:
            stack_path, stack = stacks[0]
            raise TiffLayoutError(
                f"{folder} mixes single slices ({path.name}) and stacks ({stack_path.name}, "
                f"{stack.depth} slices): a folder is read as one slice per file, or as the "
                "parts of one stack joined along z; give the stack's file, or a folder of "
                "either"
            )
    _check_numbering(folder, images, left_out)
    return images, _one_voxel_size(folder, sizes)


def _one_voxel_size(folder: Path, sizes: Sequence[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """The voxel size the files of ``folder`` state (``sizes``: each file's, as
    :func:`_physical_metadata` returns it), the first stating file's; a file that states
    another one (beyond ``RTOL``, in one unit) is refused by name. Files that state none
    do not contradict it.

    Examples
    --------
    >>> a = {"note": "...", "stated": {"y": 0.65, "x": 0.65}, "stated_units": "micrometer"}
    >>> b = {"note": "...", "stated": {"y": 650.0, "x": 650.0}, "stated_units": "nanometer"}
    >>> _one_voxel_size(Path("d"), [(Path("d/s_0.tif"), a), (Path("d/s_1.tif"), b)]) == a
    True
    >>> c = {"note": "...", "stated": {"y": 1.3, "x": 1.3}, "stated_units": "micrometer"}
    >>> _one_voxel_size(Path("d"), [(Path("d/s_0.tif"), a), (Path("d/s_1.tif"), c)])
    Traceback (most recent call last):
    xarray_microct.io.errors.TiffLayoutError: d/s_1.tif states a voxel size of y 1.3, x ...
    """
    stating = [(path, meta) for path, meta in sizes if stated_sizes(meta)[0]]
    if not stating:
        return sizes[0][1] if sizes else {}
    first_path, first = stating[0]
    known, unit = stated_sizes(first)
    for path, meta in stating[1:]:
        theirs, their_unit = stated_sizes(meta)
        common = [axis for axis in "zyx" if axis in known and axis in theirs]
        converted = in_units([theirs[a] for a in common], their_unit, unit)
        if not np.allclose(converted, [known[a] for a in common], rtol=RTOL, atol=0.0):
            said = ", ".join(f"{a} {theirs[a]:g}" for a in common)
            first_said = ", ".join(f"{a} {known[a]:g}" for a in common)
            raise TiffLayoutError(
                f"{path} states a voxel size of {said} {their_unit}, while "
                f"{first_path.name} states {first_said} {unit}: a folder is read as one "
                f"scan, its slices alike, and which size is meant is not guessed; move "
                f"{path.name} out of {folder}, or correct its pixel size"
            )
    return first


def _check_counts(folder: Path, counts: Sequence[tuple[Path, tuple[tuple[str, int], ...]]]) -> None:
    r"""Refuse, naming it, a file of ``folder`` whose number of channels or time points
    (``counts``: each file's ``(("c", n), ("t", n))``, 1 without the axis) is not the
    first file's: the same pick could not be made in each.

    Examples
    --------
    >>> one, two = (("c", 1), ("t", 1)), (("c", 2), ("t", 1))
    >>> _check_counts(Path("d"), [(Path("d/p_0.tif"), two), (Path("d/p_1.tif"), two)])
    >>> try:
    ...     _check_counts(Path("d"), [(Path("d/p_0.tif"), two), (Path("d/p_1.tif"), one)])
    ... except TiffLayoutError as error:
    ...     print(str(error).replace(": ", ":\n").replace("; ", ";\n"))
    d/p_1.tif holds 1 channel and 1 time point, while p_0.tif holds 2 channels and 1 time point:
    a folder is read as one scan, the same channel and time point of each file;
    move p_1.tif out of d
    """

    def said(sizes: tuple[tuple[str, int], ...]) -> str:
        return " and ".join(f"{n} {NOUNS[dim][n != 1]}" for dim, n in sizes)

    first_path, first = counts[0] if counts else (folder, ())
    for path, sizes in counts[1:]:
        if sizes != first:
            raise TiffLayoutError(
                f"{path} holds {said(sizes)}, while {first_path.name} holds {said(first)}: a "
                "folder is read as one scan, the same channel and time point of each file; "
                f"move {path.name} out of {folder}"
            )


def _physical_metadata(tif: tifffile.TiffFile, stack: bool) -> dict[str, Any]:
    """The voxel size the file states: OME-XML first, then ImageJ (see ``calibration``).

    ``stack`` says whether the file's image is a stack of z-slices or one slice of a
    folder (whose z spacing only OME-XML can state).
    """
    if tif.is_ome and tif.ome_metadata:
        return _ome_voxel_size(tif.ome_metadata)
    if tif.is_imagej:
        return _imagej_voxel_size(tif, stack)
    return {}


def _ome_voxel_size(xml: str) -> dict[str, Any]:
    """``PhysicalSizeZ/Y/X`` and their units (default µm) of the first OME image.

    Examples
    --------
    >>> xml = ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image>'
    ...        '<Pixels PhysicalSizeX="650" PhysicalSizeXUnit="nm" PhysicalSizeY="650" '
    ...        'PhysicalSizeYUnit="nm" PhysicalSizeZ="2"/></Image></OME>')
    >>> _ome_voxel_size(xml)
    {'spacing': (2000.0, 650.0, 650.0), 'units': 'nanometer'}
    """
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return {}
    pixels = next((e for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return {}
    sizes = [pixels.get(f"PhysicalSize{axis}") for axis in "ZYX"]
    units = [pixels.get(f"PhysicalSize{axis}Unit", "µm") for axis in "ZYX"]
    return calibration(
        [float(s) if s is not None else None for s in sizes], units, "its OME-XML PhysicalSizes"
    )


def _imagej_voxel_size(tif: tifffile.TiffFile, stack: bool) -> dict[str, Any]:
    """Pixel size from the resolution tags in ImageJ's ``unit``; z from ``spacing=``.

    ImageJ writes ``spacing=`` only for a stack whose voxel depth is not 1, so a stack
    without it has a depth of 1 unit, as ImageJ itself reads it: a default, not a
    statement (``implied``), which a ``spacing=`` given to ``open_volume`` replaces. A
    single image (a slice of a folder) never states its depth.
    """
    ij = tif.imagej_metadata or {}
    unit = ij.get("unit")
    tags = tif.pages[0].tags
    if not unit or "XResolution" not in tags or "YResolution" not in tags:
        return {}
    x_num, x_den = tags["XResolution"].value
    y_num, y_den = tags["YResolution"].value
    if not x_num or not y_num:
        return {}
    depth = float(ij.get("spacing", 1.0)) if stack else None
    source = "its ImageJ metadata" if stack else "its slices' ImageJ metadata"
    sizes = (depth, resolution_length(y_num, y_den), resolution_length(x_num, x_den))
    found = calibration(sizes, (unit,) * 3, source)
    if stack and "spacing" not in ij and "spacing" in found:  # ImageJ's default depth
        found["implied"] = ("z",)
    return found


def read_tiff(
    path: str | Path, channel: int | None = None, time: int | None = None
) -> tuple[da.Array, dict[str, Any]]:
    """Lazily read a TIFF file, or a folder of numbered TIFF files, as one volume.

    Parameters
    ----------
    path : str or Path
        A ``.tif``/``.tiff`` file, whose first image (tifffile's ``series[0]``, or the one
        after a thumbnail marked as reduced-resolution) is the volume: a stack of z-slices
        (axes ``ZYX``, or ``QYX``/``IYX`` when the file does not name them) or one slice;
        axes of size 1 are dropped. Or a folder: the files of its dominant numbered name, in
        the order of their numbers (``slice_2`` before ``slice_10``, ``z0.25`` before
        ``z0.5``), each one slice, or each a stack (parts of one scan, joined along z), none
        missing.
    channel, time : int, optional
        One channel and/or time point of an image with more than one (OME-TIFF,
        ImageJ hyperstack, a multi-file OME-TIFF; each file of a folder): an index from 0.
        Only that volume's pages are read. Refused for an image that names no channel
        (time) axis, and out of range with the valid range; negative indexes are refused.

    Returns
    -------
    data : dask.array.Array
        ``(z, y, x)``, in slabs of up to 64 slices.
    metadata : dict
        ``spacing`` and ``units`` when the file states them: OME-TIFF
        ``PhysicalSizeZ/Y/X`` (and their units), or ImageJ's pixel size, ``unit`` and
        ``spacing=`` (a stack without it is 1 unit deep, as ImageJ reads it). A folder of
        slices states its z spacing only by OME ``PhysicalSizeZ``: when its slices state
        only their pixel size, ``note`` says so instead (see
        :mod:`xarray_microct.io.calibration`). ``sizes``: the number of channels
        (``"c"``) and time points (``"t"``) of the (first) file, 1 where it has none.

    Raises
    ------
    xarray_microct.io.TiffLayoutError
        Before any pixel is read: an image with more than one channel or time point and
        none picked (the message names ``channel=``/``time=`` and the counts), colour
        samples, no pages, or a folder file that is not a TIFF or not of the first
        file's slice shape and dtype, a page of another shape among a file's slices, or
        folder files that state different pixel sizes; the message names the file. A
        folder whose files' numbers leave slices out (named, with the files of other
        names that may hold them), whose names hold no number one per file (channel by
        z), or two files of one number.

    Warns
    -----
    UserWarning
        Other images in the file (a mask, a thumbnail), or TIFF files of other names in
        the folder (a flat field, a preview): left out, and named.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> stack = np.zeros((3, 4, 5), "uint8")
    >>> tifffile.imwrite(folder / "stack.tif", stack, photometric="minisblack")
    >>> read_tiff(folder / "stack.tif")[0].shape
    (3, 4, 5)
    >>> channels = np.zeros((2, 3, 4, 5), "uint8")
    >>> tifffile.imwrite(folder / "two.ome.tif", channels, metadata={"axes": "CZYX"})
    >>> read_tiff(folder / "two.ome.tif")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    PickRequiredError: two.ome.tif holds an image of axes CZYX (2 × 3 × 4 × 5), with C...
    >>> data, metadata = read_tiff(folder / "two.ome.tif", channel=1)
    >>> data.shape, metadata["sizes"]
    ((3, 4, 5), {'c': 2, 't': 1})
    """
    path = Path(path)
    picks = {"c": checked_index(channel, "channel"), "t": checked_index(time, "time")}
    if path.is_dir():
        images, metadata = _folder_images(path, picks)
        multifile = False
    elif path.is_file():
        with _open(path, multifile=True) as tif:
            images = [(path, _image(tif, path, picks))]
            metadata = _physical_metadata(tif, stack=True)
        multifile = True
    else:
        raise FileNotFoundError(f"no TIFF file or folder at {path}")
    _warn_others(images)
    first = images[0][1]
    metadata = {**metadata, "sizes": dict(first.sizes)}
    reads = {str(p): (image.read, image.first, image.stride) for p, image in images}
    slabs = [
        da.from_delayed(
            dask.delayed(_read_pieces, pure=True)(
                pieces, {name: reads[name] for name, _, _ in pieces}, multifile
            ),
            shape=(sum(stop - start for _, start, stop in pieces), *first.plane),
            dtype=first.dtype,
        )
        for pieces in _slabs([(str(p), image.depth) for p, image in images])
    ]
    return da.concatenate(slabs, axis=0), metadata
