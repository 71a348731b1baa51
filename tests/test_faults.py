"""The fault-injection suite: every case of the catalogue in ``tests/faults.py``.

Each case ends with nothing lost and a clear error (or the right result); the same
list is the table of faults in ``docs/reliability.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from faults import Fault, catalogue

CASES = catalogue()


def test_the_catalogue_is_large_and_named_uniquely() -> None:
    ids = [fault.id for fault in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 150


@pytest.mark.parametrize(
    "fault",
    [pytest.param(f, id=f.id, marks=[pytest.mark.slow] if f.slow else []) for f in CASES],
)
def test_fault(fault: Fault, tmp_path: Path) -> None:
    fault.check(tmp_path)
