"""Lazy TIFF readers: one TIFF file, or a folder of numbered TIFF files.

What is read is the file's first image as ``tifffile`` sees it (``tif.series[0]``, with
its axes), never its raw pages: a Z(YX) image is the volume; axes of size 1 (a channel,
a time point, a sample) are dropped; of an image with channels (``C``) or time points
(``T``), the one ``channel=``/``time=`` picks is read, its pages only (page ``first + i *
stride`` of the image's series for slice ``i``: by offset when the image is contiguous,
else by page); without a pick, a second channel or time point is refused with the counts
and the options. Colour samples, or any other axis but the stack's (``Z``, or tifffile's
``Q``/``I`` for a stack that does not name its axis) larger than 1, are refused with what
the file holds and how to take one volume out of it. Other images in the file (a mask, a
thumbnail) are left out with a warning.

A folder is read as the files of its dominant numbered name (``rec_0000.tif``,
``rec_0001.tif``...: the names with their digits taken out, most of the files share
it), in natural order; TIFF files of other names (``rec_flatfield.tif``, a preview) are
left out with a warning naming them, hidden files (``._rec_0001.tif``, macOS resource
forks) are skipped. Each file is one slice, or each is a stack, the parts of one scan
joined along z in name order (only the last may hold a single slice). Every file's
header is checked (its image's shape and dtype) before any pixel is read: a file that
does not fit is refused by name, before any work.

No slice is silently missing: the files are read in their names' natural order (their
numbers, decimals and a minus sign after a separator included, ``z_-1.30``, compared in
turn), and a number each name carries (``_numbering``: one that no two files share and
that rises in that order, the first whose steps leave nothing out, so an index rather
than a time before it; the other numbers, a batch or the minute of a time, follow the
order; names where none is one per file, channel by z or one number twice, are refused)
has its gaps judged before any pixel is read (``_missing``):
slices must rise in one step, within the names' rounding; stacks named by their first
or last slice must follow their page counts, stacks named as parts rise in one step
(stacks named otherwise, by a time, are read in their names' order).
A gap is refused naming the missing numbers (found from the differences between
consecutive numbers, never by listing a range: a timestamp is a number like any
other), and the files of other names that may hold them (``z1.tif`` beside
``z0.75.tif``).

Pages are read in blocks of up to 64 slices only when a chunk is computed; the scan is
never loaded whole. A contiguous image (uncompressed, as ImageJ and tifffile write by
default) is read by offset, a slab in one read: so an ImageJ stack over 4 GB, which
holds one page header for all its slices, is read whole.

Lab book. The red team's inputs and ours (tests/test_readers.py), through ``open_volume``
and ``microct run``: before, raw pages were read (``imread(key=0)`` per file of a folder,
``asarray(key=range(...))`` of a file); after, the first image (series) by its axes.

=============================================  ==========================  =================
input                                          before                      after
=============================================  ==========================  =================
folder of 3 files × 4 pages                    3 slices (0, 4, 8), rc 0    12 slices 0..11
OME-TIFF CZYX, C = 2                           24 slices, rc 0             refused, rc 2
ImageJ ZCYX, C = 2                             24 slices, C interleaved    refused, rc 2
stack + same-shape series (a mask)             24 slices, rc 0             12, warning
stack + thumbnail series                       RuntimeError mid-run, rc 1  12, warning
ImageJ stack > 4 GB (one page header)          1 slice, rc 0               every slice
folder + smaller ``rec_preview.tif``           shape error mid-run, rc 1   left out, warning
folder + same-size ``rec_flatfield.tif``       read as a slice, rc 0       left out, warning
folder + ``._rec_0001.tif`` (macOS)            "not a TIFF file", no name  skipped
folder + same-pattern slice of another shape   shape error mid-run, rc 1   refused by name
TIFF header without pages                      IndexError, rc 1            refused, rc 2
folder 0000..0099 without 0057                 99 slices, 58.. shifted     refused: 0057
parts of 50 named 0000, 0100 (50..99 lost)     100 slices, rc 0            refused: 0050-0099
``c0_z000.tif`` .. ``c1_z004.tif``             10 slices (c0, then c1)     refused, rc 2
``z0.25.tif``, ``z0.5.tif``, ``z0.75.tif``     0.5 first                   in order
``rec_1.tif`` beside ``rec_01.tif``            both read                   refused
``z_-3.25`` .. ``z_3.90``                      7 of 12, warning            12, in order
``z_-7.80`` .. ``z_-0.65``                     reversed                    in order
``batch1_rec0000`` .. ``batch2_rec0019``       read (a gap too)            read, gap refused
``z_00000um``, ``z_00007um`` (6.543 µm)        read (a gap too)            read, gap refused
=============================================  ==========================  =================

Cost of the header check (``benchmarks/tiff_open.py``: 1000 slices of 256² uint16 per
folder, plain, ImageJ and OME-TIFF slices, warm page cache, a shared 2-core machine):
0.4-0.7 s of CPU to open (wall 0.4-1.6 s; before, one header: 0.01 s), against 1.8-3 s
to read the pixels; about 0.5 ms per file, nearly all of it tifffile opening the file.
The numbering costs a few ms for 1000 names (after review, 7.8 ms against 6.7 ms before
it, on a busy machine; 0.8 s for 100 000).
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

import re
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import dask
import dask.array as da
import numpy as np
import tifffile

from xarray_microct.io.calibration import calibration, resolution_length
from xarray_microct.io.picks import NOUNS, checked_index, how_to_pick, in_range, no_axis

TIFF_SUFFIXES = (".tif", ".tiff")
_SLAB = 64  # slices read by one task
_STACK_AXES = "ZQI"  # depth; tifffile's "other" and "sequence" for stacks that do not say
_SHOWN = 5  # names listed in a message before "and N more"
# a minus sign: "-" after neither a letter, a digit nor a point (z_-1.30, not scan-0001,
# whose "-" separates, nor slices_0000-0049)
_SIGN = r"(?:(?<![^\W_])(?<!\.)-)?"
_NUMBER = re.compile(rf"({_SIGN}\d+(?:\.\d+)?)")  # a number in a file name: 0049, 0.65
_DIGITS = re.compile(rf"({_SIGN}\d+)")


class TiffLayoutError(ValueError):
    """A TIFF input that is not one grey-level volume (z, y, x) as it stands: the
    message names the file, what it holds and how to take one volume out of it."""


class PickRequiredError(TiffLayoutError):
    """A TIFF image with more than one channel or time point, none picked: ``long``
    (``{"c": 2, "t": 3}``) says which; ``channel=``/``time=`` read one volume of it."""

    def __init__(self, message: str, long: Mapping[str, int]) -> None:
        super().__init__(message)
        self.long = dict(long)


@dataclass(frozen=True)
class _Image:
    """The first image of a TIFF file, as ``read_tiff`` reads it."""

    depth: int  # slices
    plane: tuple[int, int]  # (y, x)
    dtype: np.dtype
    others: tuple[str, ...]  # the file's other images, described, left out
    # how a task reads its slices, found once from the headers (a task then parses no
    # series): ("bytes", offset, typecode) for a contiguous image, ("pages",) where the
    # image's slices are the file's pages 0, 1, ..., ("series",) otherwise
    read: tuple[Any, ...] = ("series",)
    # the image's page (of its series) of slice i: first + i * stride (one channel and
    # time point of a hyperstack: its other pages are never read)
    first: int = 0
    stride: int = 1
    # the file's number of channels ("c") and time points ("t"), 1 where it has none
    sizes: tuple[tuple[str, int], ...] = (("c", 1), ("t", 1))


def _natural_key(path: Path) -> list[Any]:
    """The name with its numbers as numbers (decimals too): ``z0.5`` before ``z0.75``,
    ``slice_2`` before ``slice_10``.

    Examples
    --------
    >>> sorted(["z0.75.tif", "z0.5.tif", "z1.tif"], key=lambda n: _natural_key(Path(n)))
    ['z0.5.tif', 'z0.75.tif', 'z1.tif']
    """
    return [
        Decimal(part) if index % 2 else part for index, part in enumerate(_NUMBER.split(path.name))
    ]


def _name_pattern(name: str) -> str:
    """The name with each run of digits (and its minus sign) as ``*``: what the files of
    one scan share.

    Examples
    --------
    >>> _name_pattern("rec_00012.tif"), _name_pattern("rec_flatfield.tif")
    ('rec_*.tif', 'rec_flatfield.tif')
    >>> _name_pattern("z_-1.30.tif"), _name_pattern("z_1.30.tif"), _name_pattern("s-0001.tif")
    ('z_*.*.tif', 'z_*.*.tif', 's-*.tif')
    """
    return _DIGITS.sub("*", name)


def _listed(names: Sequence[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


@dataclass(frozen=True)
class _Numbering:
    """A number each file of a folder carries in its name (one per file, in the files'
    order), and how its names write it (for messages)."""

    numbers: tuple[Decimal, ...]
    width: int  # the names' width of the number, sign aside, when all write it alike (or 0)
    places: int  # decimal places

    def shown(self, value: Decimal, padded: bool = True) -> str:
        """``value`` as the names write it (``0057``, ``1.30``, ``-05``; ``1.95`` where
        they are written by ``str(float)``, ``1.9500000000000002``)."""
        if self.places > 9:
            return format(float(value), ".12g")
        width = self.width if padded else 0
        digits = format(abs(value), f"0{width}.{self.places}f" if width else f".{self.places}f")
        return f"-{digits}" if value < 0 else digits

    def step(self, value: Decimal) -> str:
        """A step as the names write numbers, ``about`` where they round it."""
        shown = self.shown(value, padded=False)
        exact = self.places > 9 or Decimal(shown) == value
        return shown if exact else f"about {format(float(value), '.4g')}"


def _numbering(
    names: Sequence[str], where: Path | str, number: re.Pattern[str] = _NUMBER
) -> tuple[list[int], list[_Numbering]] | None:
    """The files' order (indices into ``names``) and the numbers that may number them,
    the preferred first; None for one file.

    The order is the names' natural order, their numbers compared in turn (a decimal
    such as ``0.65`` is one number, ``-`` after a separator, ``z_-1.30``, its sign), as
    ``2023-11-05_14-32-58_rec0029.tif`` before ``2023-11-05_14-33-00_rec0030.tif``. A
    number may number the files when no two files share it and it rises strictly in that
    order (the seconds of a time of day that wrap, 58 then 00, do not); the first without
    decimals is preferred, and :func:`_check_numbering` takes the first whose steps leave
    nothing out (an index beside a timestamp). The other numbers are functions of the
    order (``slices_0000-0049.tif``; a batch, ``batch1_rec0000.tif`` ...
    ``batch2_rec0010.tif``; the minute of a time of day). Names where no number is one
    per file are refused: two numbers varying independently (``c0_z000.tif``,
    ``c1_z000.tif``: channel by z), or two names of the same numbers (``rec_1.tif``,
    ``rec_01.tif``); so are names whose number one per file does not rise in their
    order. Where decimals would make two names one number and their digits count one by
    one (``s_1.1.tif`` ... ``s_1.10.tif``), the digit runs are read as integers
    (``number``).

    Examples
    --------
    >>> order, found = _numbering(["s_0100-0149.tif", "s_0000-0049.tif"], "f")
    >>> order, found[0].numbers
    ([1, 0], (Decimal('0'), Decimal('100')))
    >>> order, found = _numbering(["s_1.1.tif", "s_1.10.tif", "s_1.2.tif"], "f")
    >>> order, found[0].numbers
    ([0, 2, 1], (Decimal('1'), Decimal('2'), Decimal('10')))
    >>> _numbering(["z_0.65.tif", "z_-0.65.tif", "z_0.00.tif"], "f")[1][0].numbers
    (Decimal('-0.65'), Decimal('0.00'), Decimal('0.65'))
    >>> names = ["t_14-32-58_0000.tif", "t_14-33-00_0001.tif", "t_14-33-02_0002.tif"]
    >>> [n.numbers for n in _numbering(names, "f")[1]]  # the seconds wrap: not a numbering
    [(Decimal('0'), Decimal('1'), Decimal('2'))]
    >>> names = ["c0_z0.tif", "c0_z1.tif", "c1_z0.tif", "c1_z1.tif"]
    >>> _numbering(names, "f")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    TiffLayoutError: f: the names of its files (c*_z*.tif) hold two numbers that vary...
    """
    if len(names) < 2:
        return None
    texts = [number.findall(name) for name in names]
    values = [tuple(Decimal(t) for t in row) for row in texts]
    order = sorted(range(len(names)), key=lambda i: (_key(names[i], number), names[i]))
    varying = [j for j in range(len(values[0])) if len({row[j] for row in values}) > 1]
    unique = [j for j in varying if len({row[j] for row in values}) == len(names)]
    if not unique:
        integers = _counted_integers(names, where) if number is _NUMBER else None
        if integers is not None:
            return integers
        _refuse_without_numbering(names, texts, values, varying, where)
    rising = [j for j in unique if all(values[a][j] < values[b][j] for a, b in pairwise(order))]
    if not rising:
        first, last = names[order[0]], names[order[-1]]
        raise TiffLayoutError(
            f"{where}: the names of its files ({_name_pattern(names[0])}) hold no number "
            f"one per file that rises in their order ({first} ... {last}), as files of "
            "two channels numbered in turn do: which file is which slice is not guessed; "
            "name the files by slice index, one channel (or time point) per folder"
        )
    rising.sort(key=lambda j: "." in texts[0][j])  # the first without decimals first
    found = []
    for j in rising:
        column = [texts[i][j] for i in order]
        widths = {len(t.lstrip("-")) for t in column}
        width = widths.pop() if len(widths) == 1 else 0
        places = max(len(t.partition(".")[2]) for t in column)
        found.append(_Numbering(tuple(values[i][j] for i in order), width, places))
    return order, found


def _key(name: str, number: re.Pattern[str]) -> list[Any]:
    """The natural key of ``name`` with the numbers ``number`` finds (:func:`_natural_key`
    for :data:`_NUMBER`)."""
    parts = number.split(name)
    return [Decimal(part) if index % 2 else part for index, part in enumerate(parts)]


def _counted_integers(
    names: Sequence[str], where: Path | str
) -> tuple[list[int], list[_Numbering]] | None:
    """The names' digit runs read as integers, where their decimals share a number
    (``s_1.1``, ``s_1.10``) and, as integers, one of them counts in steps of 1
    (``s_1.1`` ... ``s_1.12``); None otherwise (``z_0.5``, ``z_0.50``: one number
    twice)."""
    try:
        integers = _numbering(names, where, _DIGITS)
    except TiffLayoutError:
        return None
    if integers is None:
        return None
    order, found = integers
    counting = [n for n in found if min(b - a for a, b in pairwise(n.numbers)) == 1]
    return (order, counting) if counting else None


def _refuse_without_numbering(
    names: Sequence[str],
    texts: Sequence[Sequence[str]],
    values: Sequence[tuple[Decimal, ...]],
    varying: Sequence[int],
    where: Path | str,
) -> None:
    """Refuse names where no number is unique: two names of the same numbers, or two
    numbers varying independently (channel by z)."""
    seen: dict[tuple[Decimal, ...], str] = {}
    for name, row in zip(names, values, strict=True):
        if row in seen:
            shown = ", ".join(str(v) for v in row) or "none"
            raise TiffLayoutError(
                f"{where}: {seen[row]} and {name} carry the same number ({shown}): which "
                "one is the slice? move the other out of the folder"
            )
        seen[row] = name
    first, other = varying[0], varying[1]
    distinct = [len({row[j] for row in values}) for j in (first, other)]
    # two names alike but for the first number (c0_z000.tif, c1_z000.tif)
    ordered = sorted(range(len(names)), key=lambda i: _natural_key(Path(names[i])))
    alike = [names[i] for i in ordered if texts[i][other] == texts[ordered[0]][other]]
    example = alike[:2] if len(alike) > 1 else [names[i] for i in ordered[:2]]
    raise TiffLayoutError(
        f"{where}: the names of its files ({_name_pattern(names[0])}) hold two numbers "
        f"that vary independently (the first takes {distinct[0]} values, the other "
        f"{distinct[1]}, and neither is one per file; e.g. {', '.join(example)}), as "
        "channels by z-slices do: a folder is read as one volume and which number is the "
        "slice's is not guessed; put each channel (or time point) in its own folder"
    )


def _part_gaps(
    numbers: Sequence[Decimal], depths: Sequence[int], by_last: bool
) -> list[tuple[Decimal, Decimal, int]] | None:
    """The slices that no file holds, ``(first, last, count)`` per gap, where the files'
    numbers are the index of their first slice (of their last: ``by_last``); None when
    they are not named so: two files closer than their page counts allow, or a gap that
    no number of files could fill (its slices no multiple of a file's page count:
    ``scan_143210.tif``, ``scan_143711.tif`` of 5 pages each, named by a time)."""
    gaps = []
    for i, (a, b) in enumerate(pairwise(numbers)):
        expected = depths[i + 1] if by_last else depths[i]
        if b - a < expected:
            return None
        if b - a > expected:
            start = a + 1 if by_last else a + depths[i]
            count = int(b - a - expected)
            if b - a != int(b - a) or not any(count % depth == 0 for depth in set(depths)):
                return None
            gaps.append((start, start + count - 1, count))
    return gaps


def _missing(
    numbers: Sequence[Decimal], depths: Sequence[int], places: int = 0
) -> tuple[str, Decimal, list[tuple[Decimal, Decimal, int]]] | None:
    """What the numbers of a folder's files (ascending, one per file, holding ``depths``
    slices) leave out, or None when nothing: ``(reading, step, gaps)``, each gap
    ``(first, last, count)`` of the numbers (``reading`` ``"step"``) or slices
    (``"first"``, ``"last"``) missing; ``"irregular"`` with the steps that are no
    multiple of the smallest as ``(a, b, 0)``.

    Files of one slice: the numbers rise in one step (``0, 1, 2``, ``0, 2, 4``,
    ``10, 20, 30``), within what the names' rounding allows (``places``: one unit of
    the last digit, ``0, 7, 13, 20`` for 6.543 µm apart, where that unit is at most a
    quarter of the step; or a tenth of the step, for positions written by ``str(float)``,
    ``1.3``, ``1.9500000000000002``), never half a step. Stacks: their numbers are slice
    indices when they lie at least a stack apart (first or last slice of each: each
    step is its stack's page count, and a gap whole files: ``vol_0``, ``vol_10`` of 5
    slices each leave slices 5-9 out), or else part numbers, in one step (``1, 2, 3``;
    three files or more in one step, ``10, 20, 30``, are parts whatever their page
    counts); stacks whose numbers are neither (a time) are read in their order (None).
    Nothing is
    enumerated: a gap between timestamps (``20261203153059``, ``20261203153100``) is one
    ``(first, last, count)``.

    Examples
    --------
    >>> n = [Decimal(v) for v in (0, 1, 2, 4, 5, 9)]
    >>> _missing(n, [1] * 6)
    ('step', Decimal('1'), [(Decimal('3'), Decimal('3'), 1), (Decimal('6'), Decimal('8'), 3)])
    >>> _missing([Decimal(v) for v in (0, 50, 100)], [50, 50, 7]) is None  # first slices
    True
    >>> _missing([Decimal(v) for v in (49, 99, 106)], [50, 50, 7]) is None  # last slices
    True
    >>> _missing([Decimal(v) for v in (0, 7, 13, 26, 33)], [1] * 5)  # rounded positions
    ('step', Decimal('6.6'), [(Decimal('19.6'), Decimal('19.6'), 1)])
    >>> _missing([Decimal(v) for v in (0, 50, 150)], [50, 50, 50])
    ('first', Decimal('1'), [(Decimal('100'), Decimal('149'), 50)])
    """
    diffs = [b - a for a, b in pairwise(numbers)]
    if not diffs:
        return None
    if any(depth > 1 for depth in depths) and not places:
        readings = {k: _part_gaps(numbers, depths, k == "last") for k in ("first", "last")}
        fits = {k: gaps for k, gaps in readings.items() if gaps is not None}
        if fits:
            if not all(fits.values()):
                return None
            if len(diffs) > 1 and len(set(diffs)) == 1:
                return None  # parts numbered in one step (vol_10, vol_20, vol_30 of 5 pages)
            # equally good: the last slice's if the first file is named by it (0- or 1-based)
            named_last = numbers[0] in (depths[0] - 1, depths[0]) and depths[0] > 2
            order = ["last", "first"] if named_last else ["first", "last"]
            best = min((k for k in order if k in fits), key=lambda k: len(fits[k]))
            return best, Decimal(1), fits[best]
    smallest = min(diffs)
    # a first step: the mean of the differences of about the smallest, so that positions
    # rounded in the names (6.543 µm apart: 0, 7, 13, 20) do not make it the smallest (6)
    single = [diff for diff in diffs if (diff / smallest).to_integral_value() == 1]
    first_step = sum(single) / len(single)
    counts = [int((diff / first_step).to_integral_value()) for diff in diffs]
    total = sum(counts)
    step = (numbers[-1] - numbers[0]) / total  # the step over the whole span
    # what the names' rounding allows: one unit of their last digit (0.01 for 1.30, 1
    # for whole numbers) where it is well below the step, at both ends of a difference
    # and in the step (over ``total`` steps); or a tenth of the step (positions written
    # by str(float): 1.9500000000000002 beside 1.3); below half a step (where a gap or
    # not is not told)
    unit = Decimal(1).scaleb(-places)
    unit = unit if 4 * unit <= step else Decimal(0)
    share, most = step / 10, step * Decimal("0.4")
    gaps, odd = [], []
    for a, diff, k in zip(numbers, diffs, counts, strict=False):
        tolerance = min(max(unit * (1 + Decimal(k) / total), share), most)
        if abs(diff - k * step) > tolerance:
            odd.append((a, a + diff, 0))
        elif k > 1:
            gaps.append((a + step, a + (k - 1) * step, k - 1))
    if odd and any(depth > 1 for depth in depths):
        return None  # stacks named neither by slice nor by part (a time): read in order
    if odd:  # shown: the steps that are no multiple of the smallest (exactly)
        exact = [(a, a + d, 0) for a, d in zip(numbers, diffs, strict=False) if d % smallest]
        return "irregular", smallest, exact or odd
    return ("step", step, gaps) if gaps else None


def _check_numbering(
    folder: Path, images: Sequence[tuple[Path, _Image]], left_out: Sequence[str] = ()
) -> None:
    """Refuse a folder whose file numbers leave slices out (:func:`_missing`): read as
    consecutive, every slice after a gap would take the wrong z. The message names the
    files of other names (``left_out``) whose numbers fall in a gap (``z1.tif`` beside
    ``z0.75.tif``): they may be the missing ones."""
    names = [path.name for path, _ in images]
    numberings = _numbering(names, folder)
    if numberings is None:
        return
    order, candidates = numberings
    depths = [images[i][1].depth for i in order]
    found = [_missing(n.numbers, depths, n.places) for n in candidates]
    if any(f is None for f in found):
        return  # a number leaves nothing out (an index beside a timestamp)
    # the refusal names the gaps of the number that leaves out fewest (an index rather
    # than a timestamp beside it), irregular steps last
    best = min(
        range(len(candidates)),
        key=lambda k: (found[k][0] == "irregular", sum(n for _, _, n in found[k][2]), k),  # type: ignore[index]
    )
    numbering = candidates[best]
    reading, step, gaps = found[best]  # type: ignore[misc]
    images = [images[i] for i in order]
    show = numbering.shown
    count = len(images)
    files = f"the {count} files named {_name_pattern(names[0])}"
    others = _in_gaps(left_out, gaps, reading)
    aside = (
        f" The folder's TIFF files of other names {_listed(others)} were left out (not "
        "named like the others) and may hold them: rename them like the others, or move "
        "them out."
        if others
        else ""
    )
    stacks = any(depth > 1 for depth in depths)
    rounded = (
        " If the numbers are positions rounded in the names (z_0, z_1, z_3, z_4 for "
        "1.3 µm apart), none may be missing but the steps cannot tell: name the files by "
        "slice index, or write the positions with enough decimals."
        if not stacks and _rounding_may_hide_the_step(names, numbering, step)
        else ""
    )
    if reading == "irregular":
        steps = [f"{show(a)} to {show(b)}" for a, b, _ in gaps]
        raise TiffLayoutError(
            f"{folder}: {files} are not numbered in one step: the smallest is "
            f"{numbering.step(step)}, and {len(gaps)} step(s) are no multiple of it "
            f"({_listed(steps)}); a slice missing would shift every later slice's z, so "
            "the folder is not read: put the missing files back, or, if none is missing, "
            f"number the files consecutively.{rounded}{aside}"
        )
    total = sum(n for _, _, n in gaps)
    spans = [show(a) if n == 1 else f"{show(a)}-{show(b)} ({n})" for a, b, n in gaps]
    if reading == "step":
        what = f"are numbered {show(numbering.numbers[0])} to {show(numbering.numbers[-1])}"
        what += f" in steps of {numbering.step(step)}"
        missing = f"{total} number(s) of that sequence have no file"
    else:
        first_path, first = images[0]
        held = first.depth
        span = (
            f"{show(numbering.numbers[0] - held + 1)}-{show(numbering.numbers[0])}"
            if reading == "last"
            else f"{show(numbering.numbers[0])}-{show(numbering.numbers[0] + held - 1)}"
        )
        what = (
            f"(stacks) are named by their {reading} slice ({first_path.name} holds {held} "
            f"slices, {span})"
        )
        missing = f"{total} slice(s) are in no file"
    renumber = (
        "number the parts 1, 2, 3 or by their first slice"
        if stacks
        else "number the files consecutively"
    )
    raise TiffLayoutError(
        f"{folder}: {files} {what}, and {missing}: {_listed(spans)}"
        f"{f' ({len(gaps)} gaps)' if len(gaps) > 1 else ''}. Read as consecutive slices, "
        "every slice after a gap would take the wrong z, so the folder is not read: put "
        "the missing files back, or, if none is missing (the numbers are not slice "
        f"indices), {renumber}.{rounded if reading == 'step' else ''}{aside}"
    )


def _rounding_may_hide_the_step(names: Sequence[str], numbering: _Numbering, step: Decimal) -> bool:
    """Whether the names' numbers may be positions rounded to their last digit with a
    step that rounding makes look uneven: the only number that varies, its step under
    four units of that digit (``z_0``, ``z_1``, ``z_3``, ``z_4`` for 1.3 µm apart), not
    whole numbers padded with zeros (``rec_0003``: an index).

    Examples
    --------
    >>> n = _Numbering(tuple(Decimal(v) for v in (0, 1, 3, 4)), 0, 0)
    >>> _rounding_may_hide_the_step(["z_0.tif", "z_1.tif", "z_3.tif", "z_4.tif"], n, Decimal(1))
    True
    >>> n = _Numbering(tuple(Decimal(v) for v in (0, 1, 3)), 4, 0)  # rec_0000, rec_0001...
    >>> _rounding_may_hide_the_step(["r_0000.tif", "r_0001.tif", "r_0003.tif"], n, Decimal(1))
    False
    >>> n = _Numbering(tuple(Decimal(v) for v in (0, 10, 30)), 0, 0)
    >>> _rounding_may_hide_the_step(["z_0.tif", "z_10.tif", "z_30.tif"], n, Decimal(10))
    False
    """
    values = [tuple(_NUMBER.findall(name)) for name in names]
    varying = [j for j in range(len(values[0])) if len({row[j] for row in values}) > 1]
    padded = not numbering.places and numbering.width > len(str(abs(int(numbering.numbers[-1]))))
    small = 4 * Decimal(1).scaleb(-numbering.places) > step
    return len(varying) == 1 and small and not padded


def _in_gaps(
    names: Sequence[str], gaps: Sequence[tuple[Decimal, Decimal, int]], reading: str
) -> list[str]:
    """The ``names`` that carry a number in one of ``gaps`` (:func:`_missing`: its
    bounds, or between them for an ``"irregular"`` step).

    Examples
    --------
    >>> gaps = [(Decimal("1.00"), Decimal("1.00"), 1)]
    >>> _in_gaps(["z1.tif", "z7.tif", "flat.tif"], gaps, "step")
    ['z1.tif']
    """

    def inside(value: Decimal, a: Decimal, b: Decimal) -> bool:
        return a < value < b if reading == "irregular" else a <= value <= b

    return [
        name
        for name in names
        if any(inside(Decimal(text), a, b) for text in _NUMBER.findall(name) for a, b, _ in gaps)
    ]


def tiff_files(folder: Path) -> list[Path]:
    """The slice files of a folder: its dominant numbered name, in the order of the
    number the names carry (:func:`_numbering`; whether one is missing is judged with
    the files' page counts, by :func:`_check_numbering`).

    Hidden files (names starting with ``.``, e.g. macOS ``._rec_0001.tif``) are
    skipped; TIFF files of other names are left out with a warning naming them.

    Raises
    ------
    TiffLayoutError
        No TIFF file, two names shared by as many files (which are the slices?), names
        where no number is one per file (channel by z), or two files of one number.

    Examples
    --------
    >>> import tempfile, pathlib, warnings
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("rec_2.tif", "rec_10.tif", "rec_1.tif", "rec_flat.tif", "._rec_3.tif"):
    ...     (folder / name).touch()
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     [p.name for p in tiff_files(folder)]
    ['rec_1.tif', 'rec_2.tif', 'rec_10.tif']
    >>> "rec_flat.tif" in str(caught[0].message)
    True
    """
    return _slice_files(folder)[0]


def _slice_files(folder: Path) -> tuple[list[Path], list[str]]:
    """:func:`tiff_files`, and the names of the TIFF files left out (warned about)."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for p in folder.iterdir():
        if p.suffix.lower() in TIFF_SUFFIXES and not p.name.startswith(".") and p.is_file():
            groups[_name_pattern(p.name)].append(p)
    if not groups:
        raise TiffLayoutError(f"no .tif/.tiff files in folder {folder}")
    ranked = sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))
    pattern, files = ranked[0]
    if len(ranked) > 1 and len(ranked[1][1]) == len(files):
        tied = [f"{p} ({len(f)} files)" for p, f in ranked if len(f) == len(files)]
        raise TiffLayoutError(
            f"cannot tell which TIFF files of {folder} are the slices: as many are named "
            f"{' as '.join(tied[:2])}{'...' if len(tied) > 2 else ''}; give the one file "
            "that is the scan, or a folder that holds only the slices"
        )
    left_out = sorted(p.name for _, group in ranked[1:] for p in group)
    if left_out:
        warnings.warn(
            f"{folder}: reading the {len(files)} files named {pattern} as the slices; "
            f"{len(left_out)} TIFF file(s) of other names left out: {_listed(left_out)}",
            UserWarning,
            stacklevel=3,
        )
    files = sorted(files, key=lambda p: (_natural_key(p), p.name))
    numbering = _numbering([p.name for p in files], folder)
    if numbering is None:
        return files, left_out
    return [files[i] for i in numbering[0]], left_out


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


def _image(
    tif: tifffile.TiffFile, path: Path, picks: Mapping[str, int | None] | None = None
) -> _Image:
    """The first image's layout, from the headers only; a clear error if it is not one
    grey-level volume (at ``picks``, ``{"c": 1, "t": None}``: one channel, time point)."""
    if not tif.series or not len(tif.series[0]):
        raise TiffLayoutError(
            f"{path} holds no image: a TIFF header without pages (an interrupted write?)"
        )
    series = tif.series[0]
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
    others = tuple(f"image {i}: {_described(s)}" for i, s in enumerate(tif.series) if i)
    return _Image(
        depth,
        plane,
        np.dtype(series.dtype),
        others,
        _read_plan(tif, series, pages),
        first,
        stride,
        tuple((dim, named.get(dim, 1)) for dim in ("c", "t")),
    )


def _read_plan(tif: tifffile.TiffFile, series: Any, pages: Sequence[Any]) -> tuple[Any, ...]:
    """How a task reads the image's slices (:attr:`_Image.read`), from the headers;
    ``pages``: the series' pages."""
    y, x = series.shape[series.axes.index("Y")], series.shape[series.axes.index("X")]
    if series.dataoffset is not None:
        return ("bytes", int(series.dataoffset), tif.byteorder + series.dtype.char, y, x)
    if all(getattr(page, "parent", None) is tif for page in pages) and [
        getattr(page, "index", None) for page in pages
    ] == list(range(len(pages))):
        return ("pages",)
    return ("series",)


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
                data = tif.asarray(series=tif.series[0], key=list(pages))
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
        f"{found} other images besides the one read (image 0), left out (a mask, a "
        f"thumbnail...){example} {_listed(image.others)}{')' if example else ''}",
        UserWarning,
        stacklevel=3,
    )


def _folder_images(
    folder: Path, picks: Mapping[str, int | None] | None = None
) -> tuple[list[tuple[Path, _Image]], dict[str, Any]]:
    """Every slice file's layout (headers only, at ``picks``: see :func:`_image`) and the
    first file's voxel size; a file that does not fit the first is refused by name."""
    images: list[tuple[Path, _Image]] = []
    metadata: dict[str, Any] = {}
    counts: list[tuple[Path, tuple[tuple[str, int], ...]]] = []  # every file's, picks aside
    refused: ValueError | None = None  # a file's error at the picks: after the counts
    paths, left_out = _slice_files(folder)
    for path in paths:
        with _open(path, multifile=False) as tif:
            if tif.series and len(tif.series[0]):
                named = _named_sizes(tif.series[0])
                counts.append((path, tuple((dim, named.get(dim, 1)) for dim in ("c", "t"))))
            try:
                image = _image(tif, path, picks)
            except ValueError as error:  # a pick needed, or one its axis lacks, may be
                refused = refused or error  # a file of another count: named first
                continue
            if not images:
                metadata = _physical_metadata(tif, stack=image.depth > 1)
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
    return images, metadata


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
    without it has a depth of 1 unit, as ImageJ itself reads it. A single image (a slice
    of a folder) never states its depth.
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
    return calibration(sizes, (unit,) * 3, source)


def read_tiff(
    path: str | Path, channel: int | None = None, time: int | None = None
) -> tuple[da.Array, dict[str, Any]]:
    """Lazily read a TIFF file, or a folder of numbered TIFF files, as one volume.

    Parameters
    ----------
    path : str or Path
        A ``.tif``/``.tiff`` file, whose first image (tifffile's ``series[0]``) is the
        volume: a stack of z-slices (axes ``ZYX``, or ``QYX``/``IYX`` when the file does
        not name them) or one slice; axes of size 1 are dropped. Or a folder: the files of
        its dominant numbered name, in the order of their numbers (``slice_2`` before
        ``slice_10``, ``z0.25`` before ``z0.5``), each one slice, or each a stack (parts
        of one scan, joined along z), none missing.
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
    TiffLayoutError
        Before any pixel is read: an image with more than one channel or time point and
        none picked (the message names ``channel=``/``time=`` and the counts), colour
        samples, no pages, or a folder file that is not a TIFF or not of the first
        file's slice shape and dtype; the message names the file. A folder whose files'
        numbers leave slices out (named, with the files of other names that may hold
        them), whose names hold no number one per file (channel by z), or two files of
        one number.

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
