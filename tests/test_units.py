"""Lengths in physical units resolve to voxels per axis, or fail clearly."""

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xarray_microct.core.units import as_json_length, ngff_unit_name, resolve_length, ureg

SPACING = (2.0, 0.5, 0.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, (1.5, 6.0, 6.0)),
        (3.0, (1.5, 6.0, 6.0)),
        ("3 um", (1.5, 6.0, 6.0)),
        ("3 micrometer", (1.5, 6.0, 6.0)),
        ("3um", (1.5, 6.0, 6.0)),
        (" +3.0e0 µm ", (1.5, 6.0, 6.0)),
        ("0.003 mm", (1.5, 6.0, 6.0)),
        ("3000 nm", (1.5, 6.0, 6.0)),
        (3 * ureg.um, (1.5, 6.0, 6.0)),
        ("2 voxel", (2.0, 2.0, 2.0)),
        ("2 voxels", (2.0, 2.0, 2.0)),
        ("2px", (2.0, 2.0, 2.0)),
        (("2 voxel", "1 um", 1), (2.0, 2.0, 2.0)),
    ],
)
def test_lengths_resolve_per_axis(value, expected):
    assert resolve_length(value, SPACING, "micrometer") == pytest.approx(expected)


def test_quantity_from_another_registry_is_accepted():
    other = pint.UnitRegistry()
    assert resolve_length(6 * other.micrometer, SPACING, "um") == pytest.approx((3, 12, 12))


def test_coordinate_units_other_than_micrometer():
    assert resolve_length("1 um", (0.5, 0.5, 0.5), "millimeter") == pytest.approx(
        (0.002, 0.002, 0.002)
    )


@given(
    st.floats(0.01, 100),
    st.tuples(*[st.floats(0.01, 10)] * 3),
)
def test_number_and_string_agree(value, spacing):
    as_number = resolve_length(value, spacing, "micrometer")
    as_string = resolve_length(f"{value!r} um", spacing, "micrometer")
    assert as_number == pytest.approx(as_string)
    assert as_number == pytest.approx(tuple(value / s for s in spacing))


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("3 furlongs_x", ValueError, "cannot read"),
        ("3 seconds", ValueError, "not a length"),
        ("three um", ValueError, "cannot read"),
        # pint alone would read the first three as products: 12 um, 12, 12 um
        ("3 um 4", ValueError, "cannot read"),
        ("3 4", ValueError, "cannot read"),
        ("3 um * 4", ValueError, "cannot read"),
        ("2 voxel 3", ValueError, "cannot read"),
        ("1,5 um", ValueError, "cannot read"),
        ("3 um/2", ValueError, "cannot read"),
        ("um", ValueError, "cannot read"),
        ("3 um um", ValueError, "not a length"),
        (-1, ValueError, "positive"),
        (0, ValueError, "positive"),
        (float("nan"), ValueError, "not finite"),
        ((1, 2), ValueError, "3 spatial axes"),
        (True, TypeError, "boolean"),
        ([object()] * 3, TypeError, "must be a number"),
    ],
)
def test_bad_lengths_fail_clearly(value, error, match):
    with pytest.raises(error, match=match):
        resolve_length(value, SPACING, "micrometer", name="sigma")


def test_zero_allowed_when_asked():
    assert resolve_length(0, SPACING, "um", allow_zero=True) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("units", ["furlongs", "light_year", "furlongs_x"])
def test_units_outside_ngff_are_refused(units):
    with pytest.raises(ValueError, match="unit"):
        ngff_unit_name(units)
    with pytest.raises(ValueError, match="unit"):
        resolve_length(f"3 {units}", SPACING, "micrometer", name="sigma")


def test_ngff_names_and_json_form():
    assert ngff_unit_name("um") == "micrometer"
    assert ngff_unit_name("mm") == "millimeter"
    assert as_json_length((3 * ureg.um, "2 voxel")) == ["3 micrometer", "2 voxel"]


def test_malformed_volume_is_refused():
    from xarray_microct.core.physical import volume_in_voxels

    assert volume_in_voxels("16 um^3", (2.0, 1.0, 1.0), "micrometer") == 8.0
    with pytest.raises(ValueError, match="cannot read min_size"):
        volume_in_voxels("16 um^3 2", (2.0, 1.0, 1.0), "micrometer")


def test_units_named_without_pint_are_named_as_pint_names_them():
    from xarray_microct.core.units import _NGFF_NAMES, parse_unit

    for text, name in _NGFF_NAMES.items():
        assert str(parse_unit(text)) == name == ngff_unit_name(text)


@pytest.mark.parametrize("spelling", ["micron", "microns", "3 micron"])
def test_micron_is_the_micrometer_not_a_unit_outside_ngff(spelling):
    """pint defines the micron as exactly the micrometer: a user's "micron" (as ImageJ
    and many instruments write it, and as the readers already accept it from files) is
    the NGFF micrometer, not refused as a unit outside NGFF."""
    import numpy as np

    import xarray_microct as mct

    if spelling.startswith("3 "):
        spacing = (2.0, 0.5, 0.5)
        expected = resolve_length("3 um", spacing, "micrometer", name="sigma")
        assert resolve_length(spelling, spacing, "micrometer", name="sigma") == expected
        assert resolve_length(3 * ureg.micron, spacing, "micrometer") == expected
        assert resolve_length(spelling, (0.002, 0.0005, 0.0005), "mm") == (1.5, 6.0, 6.0)
        return
    assert ngff_unit_name(spelling) == "micrometer"
    vol = mct.from_array(np.zeros((2, 3, 4), "uint8"), spacing=0.65, units=spelling)
    assert vol.x.attrs["units"] == "micrometer"
    assert float(ureg.Quantity(1, spelling).to("micrometer").magnitude) == 1.0
