"""Shared test fixtures: hypothesis profiles and a scheduler that forbids computing."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import dask
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


class ComputeForbidden(AssertionError):
    """Raised when something computes inside :func:`raise_if_dask_computes`."""


@contextlib.contextmanager
def raise_if_dask_computes() -> Iterator[None]:
    """Fail if any Dask graph is executed inside the block (laziness check)."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise ComputeForbidden("a Dask computation ran where everything should be lazy")

    with dask.config.set(scheduler=forbidden):
        yield


@pytest.fixture
def no_compute():
    """Fixture form of :func:`raise_if_dask_computes`."""
    return raise_if_dask_computes
