"""The TIFF readers' errors, shared by :mod:`xarray_microct.io.tiff` and
:mod:`xarray_microct.io.tiff_numbering`; ``xarray_microct.io`` exports them."""

from __future__ import annotations

from collections.abc import Mapping


class TiffLayoutError(ValueError):
    """A TIFF input that is not one grey-level volume (z, y, x) as it stands: the
    message names the file, what it holds and how to take one volume out of it."""


class PickRequiredError(TiffLayoutError):
    """A TIFF image with more than one channel or time point, none picked: ``long``
    (``{"c": 2, "t": 3}``) says which; ``channel=``/``time=`` read one volume of it."""

    def __init__(self, message: str, long: Mapping[str, int]) -> None:
        super().__init__(message)
        self.long = dict(long)
