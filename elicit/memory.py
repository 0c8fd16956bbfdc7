"""Give memory that large computations free back to the system.

glibc's ``malloc`` serves a block of 128 kB or more with its own ``mmap`` and unmaps it
when freed, but it *raises* that threshold to the size of each such block freed (up to
32 MB), so that after a few large numpy arrays have come and gone, arrays of up to
32 MB are carved from the heap instead.  Freed, they stay in the process: the heap only
shrinks from its top, which a small live allocation pins.  A round's close at 100,000
panelists makes and frees hundreds of such arrays; its resident memory kept growing to
about 220 MB above what it held live (``benchmarks/close.py``, round 2).

Setting the threshold explicitly (``mallopt(M_MMAP_THRESHOLD, …)``) turns the raising
off: blocks from 128 kB on are always mapped and unmapped, and the resident memory
follows what is live.  Smaller allocations are unaffected.  Other C libraries (musl)
keep their own policy: the call is skipped where glibc's ``mallopt`` is absent.
"""

from __future__ import annotations

import ctypes
import sys

#: glibc's ``M_MMAP_THRESHOLD`` parameter of ``mallopt`` (malloc.h).
M_MMAP_THRESHOLD = -3
#: glibc's own initial threshold, kept fixed from here on.
MMAP_THRESHOLD = 128 * 1024


def return_large_blocks() -> bool:
    """Fix glibc's mmap threshold at 128 kB for this process (see the module); whether
    it was set.  Harmless to call again."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
