"""Shared test configuration: hypothesis profiles, and a stored fiber bed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # CI replays the same examples every run (a red CI is then the code, not the draw);
    # local runs explore new ones, and HYPOTHESIS_PROFILE=thorough explores many more.
    derandomize=bool(os.environ.get("CI")),
    print_blob=True,
)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="module")
def fiber_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic fiber bed (touching, tilted fibers; known truth) stored as Zarr."""
    from xarray_microct.synthetic import fiber_bed  # imported by the tests that use it only

    store = tmp_path_factory.mktemp("fibers") / "bed.zarr"
    volume, _ = fiber_bed((16, 48, 48), seed=3, chunks=24)
    volume.rename("scan").to_zarr(store)
    return store
