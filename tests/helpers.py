"""Comparison helpers shared by the test modules (``from helpers import ...``)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to a renumbering of the non-zero labels (0 stays 0)."""
    if not np.array_equal(a == 0, b == 0):
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))


def matched_iou(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each true object, the IoU with the predicted label overlapping it most."""
    n = int(truth.max())
    ious = np.zeros(n)
    for t in range(1, n + 1):
        inside = truth == t
        found = np.bincount(labels[inside], minlength=1)
        found[0] = 0
        best = int(found.argmax())
        if best:
            ious[t - 1] = found[best] / np.count_nonzero(inside | (labels == best))
    return ious


def fresh_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported before it); its output,
    stripped, once it has ended without error."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
