"""A process's large freed blocks go back to the system (elicit.memory)."""

from __future__ import annotations

import subprocess
import sys

from elicit import memory

# Run in a fresh process without the application's imports (they leave the heap in
# another state, where the pattern proves nothing).  Frees one 16 MB array (glibc then
# raises its mmap threshold to 16 MB), makes three hundred 1 MB arrays with a small one
# kept after each (pinning the heap's top), frees the large ones and prints how much of
# them the process still holds.
PATTERN = """
import importlib.util
import numpy as np
if {fixed}:
    # The module alone, not the package: the same heap as the run without it.
    spec = importlib.util.spec_from_file_location("memory", {path!r})
    memory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(memory)
    assert memory.return_large_blocks()
def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
first = np.ones(2 * 2**20)
del first
before = resident()
large, small = [], []
for _ in range(300):
    large.append(np.ones(2**17))
    small.append(np.ones(300))
del large
print(resident() - before)
"""


def _kept_mb(fixed: bool) -> float:
    completed = subprocess.run(
        [sys.executable, "-c", PATTERN.format(fixed=fixed, path=memory.__file__)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(completed.stdout)


def test_freed_arrays_leave_the_process_once_the_threshold_is_fixed():
    # Without the setting the freed 300 MB stay resident; with it they are returned.
    assert _kept_mb(fixed=False) > 200
    assert _kept_mb(fixed=True) < 50


def test_the_call_succeeds_here(app):
    # glibc on Linux, as every deployment the README describes: mallopt accepts it.
    assert memory.return_large_blocks() is True
