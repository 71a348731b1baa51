"""Tables of measurements as pint quantities, one call, no extra dependency.

The tables of this package are :class:`pandas.DataFrame` objects whose ``attrs["units"]``
names their units: a mapping of column to unit (``regionprops``), or one length unit
for the coordinate and size columns of the fiber tables (``detect_fibers``,
``fiber_summary``, whose angles are in degrees). :func:`table_quantities` turns the
columns with a unit into :class:`pint.Quantity` arrays of this package's registry.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import pint

from xarray_microct.core.units import ureg

# Columns of the fiber tables in their length unit, and in degrees.
FIBER_LENGTH_COLUMNS = frozenset(
    {"z", "y", "x", "radius", "z_start", "z_end", "radius_sd", "length"}
)
FIBER_ANGLE_COLUMNS = frozenset({"polar", "azimuth"})


def column_units(table: pd.DataFrame) -> dict[str, str]:
    """The unit of each column of ``table`` that has one, from ``table.attrs["units"]``.

    Examples
    --------
    >>> table = pd.DataFrame({"fiber_id": [1], "z": [0.0], "radius": [3.2]})
    >>> table.attrs["units"] = "micrometer"
    >>> column_units(table)
    {'z': 'micrometer', 'radius': 'micrometer'}
    """
    units = table.attrs.get("units")
    if isinstance(units, Mapping):
        return {str(c): str(units[c]) for c in table.columns if c in units}
    if isinstance(units, str):
        found = {str(c): units for c in table.columns if c in FIBER_LENGTH_COLUMNS}
        found.update({str(c): "degree" for c in table.columns if c in FIBER_ANGLE_COLUMNS})
        return found
    return {}


def table_quantities(table: pd.DataFrame) -> dict[str, pint.Quantity]:
    """The columns of a measurement table that have a unit, as pint Quantities.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of this package (``regionprops``, ``detect_fibers``,
        ``fiber_summary(...).fibers``), or any table whose ``attrs["units"]`` maps
        columns to units.

    Returns
    -------
    dict of str to pint.Quantity
        One NumPy-backed Quantity per column with a unit, in column order; columns
        without a unit (ids, counts, ratios) are left out: read them from the table.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> labels = np.zeros((4, 6, 6), "uint8")
    >>> labels[:2, :3, :3] = 1
    >>> vol = mct.from_array(labels, spacing=(2.0, 1.0, 1.0), units="um")
    >>> q = table_quantities(vol.microct.regionprops())
    >>> q["volume"].to("mm**3")
    <Quantity([3.6e-08], 'millimeter ** 3')>
    """
    return {
        column: ureg.Quantity(table[column].to_numpy(), unit)
        for column, unit in column_units(table).items()
    }
