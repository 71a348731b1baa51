"""Freed arrays given back to the operating system at once (glibc's allocator).

glibc serves an allocation above its *mmap threshold* straight from the operating
system and gives it back when freed; smaller ones come from its heaps, which keep what
is freed. The threshold starts at 128 KiB but rises to the size of each large block
freed (up to 32 MiB), so after the first chunk-sized arrays of a run, chunk-sized
arrays come from the heaps, and a pipeline's peak resident memory holds much of what
its earlier stages once held. :func:`keep_large_arrays_unpooled` fixes the threshold,
in this process and (through ``MALLOC_MMAP_THRESHOLD_``) in the worker processes it
starts later. The price is the page faults of fresh memory: measured on the 512³ bead
pipeline (2 cores), a fixed threshold of 4 MiB gave a peak of 2.02 GiB and 55 CPU
seconds, 2 MiB 1.53 GiB and 63 s, 1 MiB 1.43 GiB and 71 s. ``microct run`` sets it for
pipelines whose result is a volume; a table pipeline keeps glibc's pools (the fiber
pipeline, whose memory is small, ran 11 % slower with the threshold fixed at 2 MiB:
8.9 s against 8.0 s on a 32 × 2560² bed). A ``MALLOC_MMAP_THRESHOLD_`` set in the
environment wins.

Examples
--------
>>> keep_large_arrays_unpooled() in (True, False)  # False where the C library is not glibc
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

THRESHOLD = 2 << 20  # bytes: arrays above this come from, and return to, the OS

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def keep_large_arrays_unpooled(threshold: int = THRESHOLD) -> bool:
    """Fix glibc's mmap threshold so that freed large arrays leave the process at once.

    Returns whether this process's allocator took the setting (False where the C
    library is not glibc, e.g. on macOS or Windows: nothing is changed there).
    """
    # a threshold set in the environment wins (here and in the worker processes)
    threshold = int(os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(threshold)))
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, int(threshold)))
