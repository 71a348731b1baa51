"""The voxel size that input files state, in the form the readers return it.

A reader returns ``{"spacing": (dz, dy, dx), "units": name}`` when the file states a
complete calibration, ``{"note": why}`` when it states only part of it (the note says
what is missing, for the error that asks the user for ``spacing=``; ``stated`` and
``stated_units`` then hold the axes it does state; ``invalid`` names the axes whose
stated size is not a positive length, which the note gives), and ``{}`` when it states
nothing.
``implied`` names axes whose size is a default rather than a statement (an ImageJ stack
without ``spacing=`` is 1 unit deep): a ``spacing=`` given replaces those.

:func:`checked_spacing` is the one rule ``open_volume`` applies to every format: a
spacing given is accepted where it equals what the file states (compared in one unit,
within a relative ``RTOL``) and takes the axes the file does not state; one that
contradicts the file is an error naming both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xarray_microct.core.units import ngff_unit_name, ureg

# Spellings of length units found in TIFF and HDF5 files that pint does not read (a
# "micron" pint reads, and ``ngff_unit_name`` takes as the micrometer).
_ALIASES = {"\\u00b5m": "micrometer"}


def file_unit(text: Any) -> str | None:
    """The OME-NGFF name of a length unit as a file writes it, or None if it is not one.

    Examples
    --------
    >>> file_unit("microns"), file_unit("µm"), file_unit(b"nm"), file_unit("pixel")
    ('micrometer', 'micrometer', 'nanometer', None)
    """
    if isinstance(text, np.ndarray):  # an HDF5 attribute written as an array
        text = text.reshape(-1)[0] if text.size else ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = str(text).strip()
    try:
        return ngff_unit_name(_ALIASES.get(text.lower(), text))
    except ValueError:
        return None


def calibration(
    sizes: Sequence[float | None], units: Sequence[str | None], source: str
) -> dict[str, Any]:
    """Reader metadata from per-axis ``(z, y, x)`` sizes, each in its own unit.

    Sizes are converted to the unit of x. An axis without a size (``None``) or a unit
    that is not a length leaves the calibration incomplete: the result is then a
    ``note`` naming what ``source`` states and what it does not.

    Examples
    --------
    >>> calibration((0.002, 650.0, 650.0), ("mm", "nm", "nm"), "the OME-XML")
    {'spacing': (2000.0, 650.0, 650.0), 'units': 'nanometer'}
    >>> partial = calibration((None, 0.65, 0.65), ("um",) * 3, "the slices")
    >>> partial["note"]
    'the slices state y, x spacing (0.65, 0.65 micrometer) but not z'
    >>> partial["stated"], partial["stated_units"]
    ({'y': 0.65, 'x': 0.65}, 'micrometer')
    >>> calibration((2.0, 0.65, -0.65), ("um",) * 3, "the OME-XML")["note"]
    'the OME-XML state z, y spacing (2, 0.65 micrometer) but not x: its x -0.65 is \
invalid (a voxel size is a positive length)'
    >>> calibration((0.0, None, None), ("um",) * 3, "the ImageJ metadata")["invalid"]
    ('z',)
    """
    names = [file_unit(u) if u is not None else None for u in units]
    target = names[-1]
    given = [
        (axis, float(size), name)
        for axis, size, name in zip("zyx", sizes, names, strict=True)
        if size is not None and name is not None
    ]
    known = [(axis, size, name) for axis, size, name in given if size > 0 and np.isfinite(size)]
    invalid = [(axis, size) for axis, size, _ in given if not (size > 0 and np.isfinite(size))]
    bad = ""
    if invalid:
        said = ", ".join(f"{axis} {size:g}" for axis, size in invalid)
        are = "is" if len(invalid) == 1 else "are"
        bad = f"its {said} {are} invalid (a voxel size is a positive length)"
    if target is None or not known:
        if target is None or not invalid:
            return {}
        return {"note": f"{source}: {bad}", "invalid": tuple(a for a, _ in invalid)}
    converted = {axis: in_units((size,), name, target)[0] for axis, size, name in known}
    if len(converted) < 3:
        axes = ", ".join(converted)
        values = ", ".join(f"{v:g}" for v in converted.values())
        missing = ", ".join(a for a in "zyx" if a not in converted)
        found = {
            "note": f"{source} state {axes} spacing ({values} {target}) but not {missing}",
            "stated": converted,
            "stated_units": target,
        }
        if invalid:
            found["note"] += f": {bad}"
            found["invalid"] = tuple(a for a, _ in invalid)
        return found
    return {"spacing": tuple(converted[a] for a in "zyx"), "units": target}


PRECISE_NUMERATOR = 100_000  # a resolution written to 6 significant digits or more


def resolution_length(numerator: int, denominator: int) -> float:
    """The pixel size a TIFF resolution tag encodes (pixels per unit as the rational
    ``numerator / denominator``), as the decimal the writer meant.

    Writers store ``1 / size`` rounded to a rational: ImageJ as ``int(10**6 / size)``
    over ``10**6`` (0.65 µm reads back as 0.6500000325), others to the float's precision
    (0.6499999999999999). Where the numerator carries 6 significant digits or more,
    the size is the shortest decimal within the rounding of the numerator (relative
    ``1 / numerator``); otherwise, and never beyond, 12 significant digits.

    Examples
    --------
    >>> resolution_length(1538461, 1000000), resolution_length(20, 13)
    (0.65, 0.65)
    >>> resolution_length(3, 2)  # an exact rational: no rounding to guess
    0.666666666667
    >>> resolution_length(2666666, 1000000)  # ImageJ's rational of 0.375
    0.375
    """
    value = denominator / numerator
    if numerator >= PRECISE_NUMERATOR:
        tolerance = value / numerator
        for digits in range(1, 12):
            candidate = float(f"{value:.{digits}g}")
            if abs(candidate - value) <= tolerance:
                return candidate
    return float(f"{value:.12g}")


def in_units(spacing: Sequence[float], units: str, wanted: str) -> tuple[float, ...]:
    """A spacing stated in ``units``, expressed in ``wanted`` units.

    Examples
    --------
    >>> in_units((2.0, 0.65, 0.65), "micrometer", "nm")
    (2000.0, 650.0, 650.0)
    """
    # 12 significant digits: 0.002 mm is 2000 nm, not 1999.9999999999998
    factor = ureg.Quantity(1.0, ngff_unit_name(units)).to(ngff_unit_name(wanted)).magnitude
    return tuple(float(f"{s * factor:.12g}") for s in spacing)


RTOL = 1e-6  # a spacing given equals the stated one within this relative difference


def stated_sizes(metadata: dict[str, Any]) -> tuple[dict[str, float], str | None]:
    """The per-axis sizes ``{"z": dz, ...}`` a reader's ``metadata`` states (its implied
    ones left out) and their unit.

    Examples
    --------
    >>> stated_sizes({"spacing": (1.0, 0.65, 0.65), "units": "micrometer", "implied": ("z",)})
    ({'y': 0.65, 'x': 0.65}, 'micrometer')
    >>> stated_sizes({})
    ({}, None)
    """
    if "spacing" in metadata:
        implied = set(metadata.get("implied", ()))
        sizes = dict(zip("zyx", metadata["spacing"], strict=True))
        return {a: float(v) for a, v in sizes.items() if a not in implied}, metadata["units"]
    return dict(metadata.get("stated", {})), metadata.get("stated_units")


def checked_spacing(
    stated: dict[str, float],
    stated_units: str | None,
    given: Sequence[float],
    units: str,
    where: Any,
    source: str = "",
) -> None:
    """Refuse a spacing ``given`` (``(dz, dy, dx)`` in ``units``) that contradicts the
    sizes ``stated`` (``{"y": dy, ...}`` in ``stated_units``) by more than ``RTOL``.

    Axes not in ``stated`` take the given value; the message names both values in the
    given unit (and the stated one in the file's own unit where it differs), and
    ``source`` where the file states it (``" in its coordinates"``).

    Examples
    --------
    >>> checked_spacing({"y": 0.65, "x": 0.65}, "micrometer", (2.6, 650.0, 650.0), "nm", "a")
    >>> checked_spacing({"x": 0.65}, "micrometer", (1, 1, 1), "micrometer", "a.tif")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: a.tif states its voxel size along x (0.65 micrometer), not the spacing given ...
    """
    if not stated:
        return
    if stated_units is None:
        raise ValueError(f"{where}: a stated voxel size without a unit")  # pragma: no cover
    axes = [a for a in "zyx" if a in stated]
    values = dict(zip("zyx", (float(v) for v in given), strict=True))
    file_values = in_units([stated[a] for a in axes], stated_units, units)
    expected = dict(zip(axes, file_values, strict=True))
    wrong = [a for a in axes if not np.isclose(values[a], expected[a], rtol=RTOL, atol=0.0)]
    if not wrong:
        return
    unit = ngff_unit_name(units)
    own = ngff_unit_name(stated_units)
    in_file = ", ".join(f"{stated[a]:g}" for a in wrong)
    in_given = ", ".join(f"{expected[a]:g}" for a in wrong)
    stated_text = f"{in_file} {own}" + (f" = {in_given} {unit}" if own != unit else "")
    given_text = ", ".join(f"{values[a]:g}" for a in wrong)
    example = ", ".join(f"{expected[a]:g}" if a in stated else f"{values[a]:g}" for a in "zyx")
    how = "leave spacing= out, or give" if len(axes) == 3 else "give"
    raise ValueError(
        f"{where} states its voxel size{source} along {', '.join(wrong)} ({stated_text}), not the "
        f"spacing given ({given_text} {unit}); {how} the stated value for "
        f"{', '.join(axes)}, e.g. spacing=({example}), units={units!r}"
    )
