"""Physical parameters as recorded in provenance, and volumes given by the user.

A length given as a bare number means the coordinate units of the volume it was applied
to, so a record that kept the bare number would mean something else when replayed on a
scan in other units. The registry therefore records every length and every volume with
its unit (:func:`length_as_recorded`, :func:`volume_as_recorded`), next to the voxels
it resolved to; a replay on a millimetre scan of a chain run on a micrometre scan then
uses the same physical kernels.
"""

from __future__ import annotations

import numbers
import re
from typing import Any

import numpy as np
import pint

from xarray_microct.core.units import as_json_length, as_quantity, parse_unit, ureg

_NUMBER = r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
_VOXEL_LENGTH = re.compile(rf"^\s*{_NUMBER}\s*(voxels?|vox|pixels?|px)\s*$")
_VOXEL_VOLUME = re.compile(rf"^\s*(?P<value>{_NUMBER})\s*(voxels?|vox)\s*$")


def _magnitude_text(value: numbers.Real) -> str:
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return repr(float(value))


def length_as_recorded(value: Any, units: str) -> Any:
    """A length parameter as the record keeps it: with a unit, never a bare number.

    A bare number (or a string holding only a number) is in the coordinate ``units``;
    voxels (``"2 voxel"``) and lengths with a unit are kept as given; tuples and lists
    are converted item by item. Anything else is returned unchanged (resolution has
    already refused it).

    Examples
    --------
    >>> length_as_recorded(2, "micrometer")
    '2 micrometer'
    >>> length_as_recorded([0.5, "3 um", "2 voxel"], "millimeter")
    ['0.5 millimeter', '3 um', '2 voxel']
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Real):
        return f"{_magnitude_text(value)} {units}"
    if isinstance(value, (tuple, list)):
        return [length_as_recorded(v, units) for v in value]
    if isinstance(value, str) and not _VOXEL_LENGTH.match(value):
        try:
            quantity = as_quantity(value)
        except ValueError:
            return value
        if quantity.dimensionless:
            return f"{_magnitude_text(quantity.magnitude)} {units}"
        return value
    return as_json_length(value)


def volume_in_voxels(
    size: Any, spacing: tuple[float, ...], units: str, name: str = "min_size"
) -> float:
    """A volume given by the user, as a number of voxels.

    Parameters
    ----------
    size : int, float, str or pint.Quantity
        A bare number is a count of voxels (as scikit-image's ``min_size``);
        ``"100 voxel"`` too; a physical volume such as ``"100 um^3"``, ``"1e-6 mm**3"``
        or a pint Quantity of volume is divided by the voxel volume.
    spacing : tuple of float
        Voxel spacing per axis in ``units``.
    units : str
        Length unit of the spacing.
    name : str
        Parameter name, used in error messages.

    Examples
    --------
    >>> volume_in_voxels("16 um^3", (2.0, 1.0, 1.0), "micrometer")
    8.0
    >>> volume_in_voxels(10, (2.0, 1.0, 1.0), "micrometer")
    10.0
    """
    if isinstance(size, bool):
        raise TypeError(f"{name} must be a number of voxels or a volume such as '100 um^3'")
    if isinstance(size, (int, float, np.integer, np.floating)):
        voxels = float(size)
    elif isinstance(size, str) and (match := _VOXEL_VOLUME.match(size)):
        voxels = float(match["value"])
    elif isinstance(size, (str, pint.Quantity)):
        try:
            quantity = as_quantity(size)
        except ValueError as err:
            raise ValueError(
                f"cannot read {name}={size!r}: give a number of voxels, '100 voxel', "
                "or a volume with a length unit cubed, e.g. '100 um^3' or '1e-6 mm**3'"
            ) from err
        if quantity.dimensionless:
            voxels = float(quantity.magnitude)
        elif quantity.dimensionality != (ureg.meter**3).dimensionality:
            raise ValueError(
                f"{name}={size!r} is not a volume (it is {quantity.dimensionality}); "
                "give e.g. '100 um^3' or a number of voxels"
            )
        else:
            voxel = float(np.prod(spacing)) * parse_unit(units) ** 3
            voxels = float((quantity / voxel).to("dimensionless").magnitude)
    else:
        raise TypeError(
            f"{name} must be a number of voxels, a string such as '100 um^3' or a pint "
            f"Quantity, got {type(size).__name__}"
        )
    if not np.isfinite(voxels) or voxels < 0:
        raise ValueError(f"{name} must be a finite, non-negative volume, got {size!r}")
    return voxels


def volume_as_recorded(value: Any) -> Any:
    """A volume parameter as the record keeps it: a bare number is a count of voxels.

    Examples
    --------
    >>> volume_as_recorded(64)
    '64 voxel'
    >>> volume_as_recorded("500 um^3")
    '500 um^3'
    >>> volume_as_recorded(2 * ureg.um**3)
    '2 micrometer ** 3'
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Real):
        return f"{_magnitude_text(value)} voxel"
    if isinstance(value, str) and not _VOXEL_VOLUME.match(value):
        try:
            quantity = as_quantity(value)
        except ValueError:
            return value
        if quantity.dimensionless:
            return f"{_magnitude_text(quantity.magnitude)} voxel"
        return value
    return as_json_length(value)
