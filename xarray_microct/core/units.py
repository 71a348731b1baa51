"""Physical lengths: parse user input and resolve it to voxels, per axis.

Every length parameter of the library (``sigma``, ``radius``, ``min_distance`` ...)
goes through :func:`resolve_length`, which accepts

* a number, meaning the coordinate units of the volume (as ITK uses physical spacing);
* a string of one number and one unit, ``"3 um"``, ``"3um"``, ``"0.003 mm"`` (anything
  else, such as ``"3 um 4"``, which pint alone reads as a product, is refused);
* a :class:`pint.Quantity` of any registry, ``3 * ureg.um``;
* voxels explicitly, ``"2 voxel"`` (also ``"vox"``, ``"voxels"``, ``"px"``);
* a tuple with one of the above per spatial axis, for anisotropic kernels.

The result is a tuple of floats, one per spatial axis, in voxels of that axis.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence
from typing import Any

import pint

ureg: pint.UnitRegistry = pint.get_application_registry()

_VOXEL_WORDS = ("voxels", "voxel", "vox", "pixels", "pixel", "px")
_VOXEL_PATTERN = re.compile(
    r"^\s*(?P<value>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*(?P<unit>"
    + "|".join(_VOXEL_WORDS)
    + r")\s*$"
)

Length = float | int | str | pint.Quantity

# The length units of the OME-NGFF specification: a store must open in other tools, so a
# unit outside this list (pint also knows furlongs and light years) is refused.
NGFF_LENGTH_UNITS = frozenset(
    {
        "angstrom",
        "attometer",
        "centimeter",
        "decimeter",
        "exameter",
        "femtometer",
        "foot",
        "gigameter",
        "hectometer",
        "inch",
        "kilometer",
        "megameter",
        "meter",
        "micrometer",
        "mile",
        "millimeter",
        "nanometer",
        "parsec",
        "petameter",
        "picometer",
        "terameter",
        "yard",
        "yoctometer",
        "yottameter",
        "zeptometer",
        "zettameter",
    }
)


# pint's own names of NGFF units defined under another name, exactly equal to them: a
# user's "micron" (ImageJ's and many instruments' spelling) is the micrometer, not a
# unit outside NGFF (the tests check each against pint).
PINT_NAMES_OF_NGFF_UNITS = {"micron": "micrometer"}


def parse_unit(units: str) -> pint.Unit:
    """Parse a length unit name, raising a clear error for anything else.

    Parameters
    ----------
    units : str
        A pint-parsable unit, e.g. ``"micrometer"``, ``"um"``, ``"mm"``.

    Returns
    -------
    pint.Unit

    Examples
    --------
    >>> str(parse_unit("um")), str(parse_unit("microns"))
    ('micrometer', 'micrometer')
    """
    if not isinstance(units, str) or not units.strip():
        raise ValueError(f"units must be a non-empty string such as 'micrometer', got {units!r}")
    try:
        unit = ureg.Unit(units)
    except (pint.UndefinedUnitError, pint.errors.DefinitionSyntaxError, ValueError) as err:
        raise ValueError(
            f"unknown unit {units!r}: use a length unit pint understands, "
            "such as 'micrometer', 'um', 'nm' or 'mm'"
        ) from err
    if unit.dimensionality != ureg.meter.dimensionality:
        raise ValueError(f"unit {units!r} is not a length (it is {unit.dimensionality})")
    if str(unit) in PINT_NAMES_OF_NGFF_UNITS:
        unit = ureg.Unit(PINT_NAMES_OF_NGFF_UNITS[str(unit)])
    if str(unit) not in NGFF_LENGTH_UNITS:
        raise ValueError(
            f"unit {units!r} ({unit}) is not an OME-NGFF length unit; use e.g. "
            "'micrometer', 'nanometer' or 'millimeter'"
        )
    return unit


# The NGFF length units by their names and the usual symbols, named without pint: its
# unit registry takes 0.15-0.45 s to build on first use, which opening a store or a run
# need not wait for (the tests check this table against pint).
_NGFF_NAMES = {
    **{name: name for name in NGFF_LENGTH_UNITS},
    **dict.fromkeys(("um", "µm", "μm"), "micrometer"),
    "nm": "nanometer",
    "mm": "millimeter",
    "cm": "centimeter",
    "m": "meter",
}


def ngff_unit_name(units: str) -> str:
    """The long, NGFF/UDUNITS-style name of a length unit (``"um"`` -> ``"micrometer"``).

    Raises the errors of :func:`parse_unit` for anything else than a length unit of NGFF.

    Examples
    --------
    >>> ngff_unit_name("um")
    'micrometer'
    """
    known = _NGFF_NAMES.get(units) if isinstance(units, str) else None
    return known if known is not None else str(parse_unit(units))


def _voxels_from_text(text: str) -> float | None:
    match = _VOXEL_PATTERN.match(text)
    return float(match["value"]) if match else None


# One number, then (optionally) one unit expression: pint alone would read "3 um 4" as
# the product 12 um, so the number is split off here and the rest must be a bare unit.
_QUANTITY_PATTERN = re.compile(
    r"^\s*(?P<value>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*(?P<unit>.*?)\s*$"
)


_UNREADABLE = (
    pint.UndefinedUnitError,
    pint.errors.DefinitionSyntaxError,
    ValueError,
    AttributeError,
    TypeError,
)


def as_quantity(value: str | pint.Quantity) -> pint.Quantity:
    """A string, or a Quantity of any pint registry, as a Quantity of this package's registry.

    A string is one number followed by one unit expression (``"3 um"``, ``"3um"``,
    ``"0.5 micrometer"``, ``"1000 um**3"``) or a bare number; anything else, such as
    ``"3 um 4"`` (which pint would read as 12 um), is refused.

    Raises
    ------
    ValueError
        When the text is not a number and a unit, or pint cannot read the unit.

    Examples
    --------
    >>> as_quantity("3 um")
    <Quantity(3, 'micrometer')>
    >>> as_quantity("3 um 4")
    Traceback (most recent call last):
    ...
    ValueError: cannot read '3 um 4' as one number followed by one unit ...
    """
    if isinstance(value, pint.Quantity):
        try:
            return ureg.Quantity(float(value.magnitude), str(value.units))
        except _UNREADABLE as err:
            raise ValueError(f"pint cannot read {value!r}: {err}") from err
    match = _QUANTITY_PATTERN.match(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError("it does not start with a number")
        number = match["value"]
        magnitude = int(number) if number.lstrip("+-").isdigit() else float(number)
        return ureg.Quantity(magnitude, ureg.Unit(match["unit"]))
    except _UNREADABLE as err:
        raise ValueError(
            f"cannot read {value!r} as one number followed by one unit (e.g. '3 um'): {err}"
        ) from err


def _one_axis(value: Any, spacing: float, units: str, name: str) -> float:
    """Resolve one length to voxels along an axis of the given spacing and units."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a length, got a boolean")
    if isinstance(value, numbers.Real):
        voxels = float(value) / spacing
    elif isinstance(value, str):
        as_voxels = _voxels_from_text(value)
        if as_voxels is not None:
            voxels = as_voxels
        else:
            try:
                quantity = as_quantity(value)
            except ValueError as err:
                raise ValueError(
                    f"cannot read {name}={value!r} as a length with a known unit: "
                    "write e.g. '3 um', '0.5 mm' or '2 voxel'"
                ) from err
            voxels = _quantity_to_voxels(quantity, spacing, units, name, value)
    elif isinstance(value, pint.Quantity):
        voxels = _quantity_to_voxels(as_quantity(value), spacing, units, name, value)
    else:
        raise TypeError(
            f"{name} must be a number, a string such as '3 um', a pint Quantity "
            f"or a tuple of those per axis, got {type(value).__name__}"
        )
    if not math.isfinite(voxels):
        raise ValueError(f"{name}={value!r} is not finite")
    return voxels


def _quantity_to_voxels(
    quantity: pint.Quantity, spacing: float, units: str, name: str, original: Any
) -> float:
    if quantity.dimensionless:
        # A bare number written as a string, "3", means coordinate units.
        return float(quantity.magnitude) / spacing
    if quantity.dimensionality != ureg.meter.dimensionality:
        raise ValueError(
            f"{name}={original!r} is not a length (it is {quantity.dimensionality}); "
            "give e.g. '3 um' or '2 voxel'"
        )
    try:
        parse_unit(str(quantity.units))
    except ValueError as err:
        raise ValueError(f"{name}={original!r}: {err}") from err
    return float(quantity.to(parse_unit(units)).magnitude) / spacing


def resolve_length(
    value: Length | Sequence[Length],
    spacing: Sequence[float],
    units: str,
    *,
    name: str = "length",
    allow_zero: bool = False,
) -> tuple[float, ...]:
    """Turn a length parameter into voxels along each spatial axis.

    Parameters
    ----------
    value : number, str, pint.Quantity or tuple of those
        The length as the user gave it. A tuple gives one length per axis.
    spacing : sequence of float
        Voxel spacing per spatial axis, in ``units``.
    units : str
        Units of the coordinates (and of bare numbers).
    name : str
        Parameter name, used in error messages.
    allow_zero : bool
        Accept 0 (e.g. a radius of zero means "no-op"); negative values always fail.

    Returns
    -------
    tuple of float
        The length in voxels along each axis.

    Examples
    --------
    >>> resolve_length("3 um", spacing=(2.0, 1.0, 1.0), units="micrometer", name="sigma")
    (1.5, 3.0, 3.0)
    >>> resolve_length("2 voxel", spacing=(2.0, 1.0, 1.0), units="micrometer")
    (2.0, 2.0, 2.0)
    """
    ndim = len(spacing)
    if isinstance(value, (tuple, list)):
        if len(value) != ndim:
            raise ValueError(
                f"{name} has {len(value)} entries but the volume has {ndim} spatial axes; "
                f"give one length, or one per axis"
            )
        voxels = tuple(_one_axis(v, s, units, name) for v, s in zip(value, spacing, strict=True))
    else:
        voxels = tuple(_one_axis(value, s, units, name) for s in spacing)
    for v in voxels:
        if v < 0 or (v == 0 and not allow_zero):
            bound = "non-negative" if allow_zero else "positive"
            raise ValueError(f"{name} must be {bound}, got {value!r}")
    return voxels


def as_json_length(value: Any) -> Any:
    """A JSON-serialisable form of a length parameter as the user gave it.

    Quantities become strings (``"3 micrometer"``); tuples become lists.

    Examples
    --------
    >>> as_json_length(3 * ureg.um)
    '3 micrometer'
    """
    if isinstance(value, pint.Quantity):
        magnitude = value.magnitude
        if isinstance(magnitude, float) and magnitude.is_integer():
            magnitude = int(magnitude)
        return f"{magnitude} {value.units}"
    if isinstance(value, (tuple, list)):
        return [as_json_length(v) for v in value]
    return value
