"""Testing helpers for users and for the project's own tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dask


class ComputeForbidden(AssertionError):
    """Raised when a Dask graph runs inside :func:`raise_if_dask_computes`."""


@contextlib.contextmanager
def raise_if_dask_computes() -> Iterator[None]:
    """Fail if any Dask graph is executed inside the block: a check of laziness.

    Examples
    --------
    >>> import dask.array as da
    >>> x = da.ones(4, chunks=2)
    >>> with raise_if_dask_computes():
    ...     y = x + 1          # building a graph is fine
    >>> with raise_if_dask_computes():
    ...     y.sum().compute()  # computing is not
    Traceback (most recent call last):
    ...
    xarray_microct.testing.ComputeForbidden: a Dask computation ran where everything should be lazy
    """

    def forbidden(*args: object, **kwargs: object) -> None:
        raise ComputeForbidden("a Dask computation ran where everything should be lazy")

    with dask.config.set(scheduler=forbidden):
        yield
