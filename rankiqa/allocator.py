"""Keep freed memory for reuse instead of handing it back to the OS after every batch (glibc only).

By default glibc serves allocations above 128 KiB with fresh ``mmap`` pages and
returns freed memory at the top of its heap to the OS. A forward pass allocates
and frees its activations (several MiB each) on every batch, so every batch
faults its pages in again and the kernel zeroes them: on this project's 2-core
CPU about 3,600 page faults in a float32 forward pass of 32 crops, which took
1.18x as long as with the memory reused (``python bench/allocator.py``).
Raising the two thresholds lets the next batch reuse the same memory. Peak
memory stays within a few percent; what changes is that the process keeps
its peak until it exits.

The setting is process-wide and cannot be undone, so the library never makes it
on its own: the ``rankiqa`` and ``python -m rankiqa.train`` commands call
:func:`reuse_freed_memory` first, and a program that scores many images in its
own process may call it too.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["reuse_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

#: Allocations up to this size come from the heap and are reused; larger ones (a 24-megapixel photo as float32,
#: 288 MB) still get their own mapping, returned to the OS when freed.
MMAP_THRESHOLD = 256 << 20
#: Free memory at the top of the heap kept for reuse before glibc hands it back.
TRIM_THRESHOLD = 512 << 20

# mallopt parameters from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def reuse_freed_memory(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds (bytes) for this process; ``True`` where they were set.

    Elsewhere (macOS, Windows, musl) it does nothing and returns ``False``. Calling it again is harmless.
    """
    if mmap_threshold <= 0 or trim_threshold <= 0:
        raise ValueError(f"thresholds must be > 0 bytes, got {mmap_threshold} and {trim_threshold}")
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 -- present in glibc only; musl's mallopt ignores these
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt takes an int: thresholds beyond 2 GiB are clamped to its largest value
    limit = 2**31 - 1
    return bool(mallopt(_M_MMAP_THRESHOLD, min(mmap_threshold, limit))
                and mallopt(_M_TRIM_THRESHOLD, min(trim_threshold, limit)))
