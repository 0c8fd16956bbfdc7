"""The median bootstrap of :func:`analysis.describe.bootstrap_median_ci`, compiled.

:func:`analysis.describe.bootstrap_sorted` draws, for a sorted sample x[0] ≤ … ≤ x[n−1],
``generator.integers(0, n, size=(B, n))`` and takes, in each of the B rows, the two
order statistics that make the median.  For B = 2,000 and n = 100,000 that is 2·10⁸
indices (1.6 GB) per distribution.  This module computes the same medians from the same
random numbers without storing them:

1. **The same random numbers.**  ``numpy.random.default_rng`` is PCG64 (O'Neill 2014,
   XSL-RR output of a 128-bit LCG).  :func:`_next64` advances the generator exactly as
   numpy's ``pcg64_next64`` does, starting from the state numpy reports
   (``bit_generator.state``).  numpy turns each 64-bit output into two 32-bit ones, low
   half first (``pcg64_next32``), and draws an integer in [0, n) with Lemire's
   multiply-and-reject method (``buffered_bounded_lemire_uint32``): m = u·n for a 32-bit
   u; u is rejected, and the next one drawn, when m mod 2³² is below (2³² − n) mod n;
   otherwise the index is ⌊m / 2³²⌋.  The rows are filled one after the other, n
   accepted indices each.  The kernel does exactly this, and the tests compare it with
   ``Generator.integers`` itself.
2. **The same order statistics, without sorting.**  Because the sample is sorted,
   x[i] ≤ x[j] whenever i ≤ j, so the k-th smallest value of a resample is x at the
   k-th smallest drawn index.  The k-th smallest index of a row is found by counting:
   with c(j) the number of the row's indices below j, it is the j with
   c(j) ≤ k < c(j + 1).  The kernel counts, per row, the indices below a band [A, B)
   around the median's position (A = k_low − w, B = k_high + 1 + w with w six standard
   deviations of a binomial count, √n/2, wide) and the indices in the band one by one;
   when c(A) ≤ k_low and c(B) > k_high (a failure has probability about 2·10⁻⁹ per
   row) both order statistics are read from the band's counts.  Otherwise the row is
   drawn again, after the pass, from the generator's state saved at its start and
   counted over [0, n), which is exact for any row.
3. **The same arithmetic.**  The median of each row and the interval's quantiles are
   then computed by the caller with the same numpy expressions as before.

So the medians are identical, not approximately equal: the same integers are drawn and
the same two order statistics are read.  Memory is O(n) per distribution; the time is
one pass over the B·n draws.

numba compiles the kernel on first use (cached on disk); it is imported only when a
bootstrap is large enough to need it.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

#: numpy's PCG64 multiplier (PCG_DEFAULT_MULTIPLIER_128), as two 64-bit halves.
_MULTIPLIER_HIGH = np.uint64(0x2360ED051FC65DA4)
_MULTIPLIER_LOW = np.uint64(0x4385DF649FCCF645)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_SHIFT58 = np.uint64(58)
_SIXTY_THREE = np.uint64(63)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)

#: Half-width of the counting band in standard deviations of the order statistic's
#: position (√n / 2): a row falls outside it (and is drawn again) with probability
#: about 2·10⁻⁹; a wider band costs more mispredicted branches on every draw.
BAND_DEVIATIONS = 6.0


@intrinsic
def _multiply_high(typingctx, a, b):
    """The high 64 bits of the 128-bit product of two unsigned 64-bit integers."""
    signature = types.uint64(types.uint64, types.uint64)

    def codegen(context, builder, signature, arguments):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(arguments[0], wide), builder.zext(arguments[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return signature, codegen


@njit(inline="always")
def _next64(high, low, increment_high, increment_low):
    """Advance a PCG64 state (state = state·M + inc mod 2¹²⁸) and return the new state
    and its XSL-RR output, as numpy's ``pcg64_next64``."""
    new_low = low * _MULTIPLIER_LOW
    carry_high = _multiply_high(low, _MULTIPLIER_LOW)
    new_high = carry_high + low * _MULTIPLIER_HIGH + high * _MULTIPLIER_LOW
    summed_low = new_low + increment_low
    if summed_low < new_low:
        new_high += _ONE
    new_high += increment_high
    mixed = new_high ^ summed_low
    rotation = new_high >> _SHIFT58
    output = (mixed >> rotation) | (mixed << ((_ZERO - rotation) & _SIXTY_THREE))
    return new_high, summed_low, output


@njit(nogil=True, cache=True)
def raw_stream(state, count):
    """The first ``count`` 64-bit outputs from ``state`` (for the tests: they must equal
    ``bit_generator.random_raw``)."""
    high, low = state[0], state[1]
    increment_high, increment_low = state[2], state[3]
    out = np.empty(count, dtype=np.uint64)
    for position in range(count):
        high, low, out[position] = _next64(high, low, increment_high, increment_low)
    return out


@njit(nogil=True, cache=True)
def _redraw_row(high, low, half, state, n, threshold, everything):
    """Draw one row of n indices again, from the generator state (high, low) before
    the 64-bit output whose ``half`` (0: low word, 1: high word) is the row's first
    word (increments from ``state``), and count every index in ``everything``."""
    increment_high, increment_low = state[2], state[3]
    size = np.uint64(n)
    everything[:] = 0
    accepted = 0
    while accepted < n:
        high, low, output = _next64(high, low, increment_high, increment_low)
        for part in range(half, 2):
            word = (output >> (_SHIFT32 * np.uint64(part))) & _LOW32
            product = word * size
            if (product & _LOW32) < threshold:
                continue
            everything[np.int64(product >> _SHIFT32)] += 1
            accepted += 1
            if accepted == n:
                break
        half = 0


@njit(nogil=True, cache=True)
def _order_statistic(counts, offset, seen, rank):
    """The index at which the running count, starting from ``seen`` at ``offset``,
    first exceeds ``rank`` (−1 if it never does within ``counts``)."""
    for position in range(counts.size):
        seen += counts[position]
        if seen > rank:
            return offset + position
    return -1


@njit(nogil=True, cache=True)
def order_statistic_indices(state, n, resamples, first, second, band_start, band_end):
    """For each of ``resamples`` rows of ``n`` indices drawn as ``integers(0, n)`` from
    the PCG64 ``state`` (high, low, increment high, increment low), the ``first``-th and
    ``second``-th smallest index (zero-based, first ≤ second).

    ``band_start`` and ``band_end`` bound the indices counted one by one (see the
    module's description); any band gives the same result, a well-placed one faster.
    The words are read in one pass, two per 64-bit output (low, then high), a row
    ending after its n-th accepted word; the state before the output holding a row's
    first word is kept, so that a row whose order statistics fall outside the band is
    drawn again (:func:`_redraw_row`).
    """
    high, low = state[0], state[1]
    increment_high, increment_low = state[2], state[3]
    size = np.uint64(n)
    threshold = (np.uint64(4294967296) - size) % size  # (2³² − n) mod n, as numpy
    start = np.uint64(band_start)
    width = np.uint64(band_end - band_start)
    counts = np.zeros(band_end - band_start, dtype=np.int64)
    result_first = np.empty(resamples, dtype=np.int64)
    result_second = np.empty(resamples, dtype=np.int64)
    failed_rows = np.empty(resamples, dtype=np.int64)
    failed_states = np.empty((resamples, 2), dtype=np.uint64)
    failed_halves = np.empty(resamples, dtype=np.int64)
    failures = 0
    row = 0
    below = 0
    accepted = 0
    row_high, row_low, row_half = high, low, 0
    while row < resamples:
        new_high, new_low, output = _next64(high, low, increment_high, increment_low)
        for part in range(2):
            word = output & _LOW32 if part == 0 else output >> _SHIFT32
            product = word * size
            if (product & _LOW32) < threshold:
                continue  # rejected, as numpy's Lemire method rejects it
            index = product >> _SHIFT32
            # Branch-free count below the band (half the draws): no misprediction.
            below += np.int64(index < start)
            offset = index - start  # wraps to a huge number below the band
            if offset < width:
                counts[np.int64(offset)] += 1
            accepted += 1
            if accepted < n:
                continue
            # The row is complete: its order statistics, from the band or a redraw.
            found_first = -1
            found_second = -1
            if below <= first:
                found_first = _order_statistic(counts, band_start, below, first)
                found_second = _order_statistic(counts, band_start, below, second)
            if found_first < 0 or found_second < 0:
                # Outside the band: drawn again after the pass (a reassigned array in
                # this loop would cost reference counting on every word).
                failed_rows[failures] = row
                failed_states[failures, 0] = row_high
                failed_states[failures, 1] = row_low
                failed_halves[failures] = row_half
                failures += 1
            result_first[row] = found_first
            result_second[row] = found_second
            row += 1
            counts[:] = 0
            below = 0
            accepted = 0
            if part == 0:
                row_high, row_low, row_half = high, low, 1
            else:
                row_high, row_low, row_half = new_high, new_low, 0
            if row == resamples:
                break
        high, low = new_high, new_low
    if failures:
        everything = np.zeros(n, dtype=np.int64)
        for failure in range(failures):
            _redraw_row(
                failed_states[failure, 0],
                failed_states[failure, 1],
                failed_halves[failure],
                state,
                n,
                threshold,
                everything,
            )
            result_first[failed_rows[failure]] = _order_statistic(everything, 0, 0, first)
            result_second[failed_rows[failure]] = _order_statistic(everything, 0, 0, second)
    return result_first, result_second


def generator_state(generator: np.random.Generator) -> np.ndarray:
    """A fresh PCG64 generator's state as (high, low, increment high, increment low)."""
    state = generator.bit_generator.state
    if state["bit_generator"] != "PCG64" or state["has_uint32"]:
        raise ValueError("the kernel reproduces a fresh PCG64 generator only")
    value, increment = int(state["state"]["state"]), int(state["state"]["inc"])
    mask = (1 << 64) - 1
    return np.array([value >> 64, value & mask, increment >> 64, increment & mask], dtype=np.uint64)


def band(n: int, first: int, second: int, deviations: float = BAND_DEVIATIONS) -> tuple[int, int]:
    """The indices [A, B) counted one by one for order statistics ``first`` and
    ``second`` of n draws: ``deviations`` standard deviations (√n / 2) either side."""
    half_width = math.ceil(deviations * math.sqrt(n) / 2) + 1
    return max(0, first - half_width), min(n, second + 1 + half_width)


def order_statistics_of_resamples(
    generator: np.random.Generator,
    n: int,
    resamples: int,
    first: int,
    second: int,
    deviations: float = BAND_DEVIATIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``first``-th and ``second``-th smallest index of each row of
    ``generator.integers(0, n, size=(resamples, n))``, for a fresh PCG64 ``generator``
    and 2 ≤ n < 2³¹, without drawing the rows into memory."""
    if not 2 <= n < 2**31:
        raise ValueError(f"the kernel needs 2 ≤ n < 2³¹, not {n}")
    start, end = band(n, first, second, deviations)
    return order_statistic_indices(
        generator_state(generator), n, resamples, first, second, start, end
    )
