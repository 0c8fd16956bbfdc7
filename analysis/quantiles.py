"""Sample quantiles of many groups at once, exactly as :func:`numpy.quantile` computes them.

The values of every group are sorted once (group by group, ascending) and each quantile is
read from the sorted block of its group, so the cost is one sort of the whole column
instead of one :func:`numpy.quantile` call per group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from analysis.deferred import deferred
from analysis.grouping import group_order

if TYPE_CHECKING:
    import numpy as np
else:
    np = deferred("numpy")

QUANTILE_METHODS: tuple[str, ...] = (
    "inverted_cdf",
    "averaged_inverted_cdf",
    "closest_observation",
    "interpolated_inverted_cdf",
    "hazen",
    "weibull",
    "linear",
    "median_unbiased",
    "normal_unbiased",
)
"""numpy's quantile methods, which are Hyndman & Fan (1996) types 1–9 in that order."""

# (alpha, beta) of the continuous Hyndman & Fan types 4–9 in numpy's parametrisation:
# virtual index = n·p + (alpha + p·(1 − alpha − beta)) − 1 (zero-based).
_CONTINUOUS: dict[str, tuple[float, float]] = {
    "interpolated_inverted_cdf": (0.0, 1.0),
    "hazen": (0.5, 0.5),
    "weibull": (0.0, 0.0),
    "median_unbiased": (1 / 3.0, 1 / 3.0),
    "normal_unbiased": (3 / 8.0, 3 / 8.0),
}


def check_quantile_method(method: str) -> None:
    """Raise ValueError naming the valid choices when ``method`` is not one of them."""
    if method not in QUANTILE_METHODS:
        raise ValueError(
            f"unknown quantile method {method!r}; choose one of " + ", ".join(QUANTILE_METHODS)
        )


@dataclass(frozen=True)
class SortedGroups:
    """Non-missing values sorted within groups, with each group's block boundaries.

    Attributes
    ----------
    values
        Non-missing values, ordered by group code and ascending within each group.
    codes
        The group code (0 … groups − 1) of each entry of ``values``.
    starts
        Offset of each group's first value in ``values``.
    counts
        Number of non-missing values of each group (0 for a group of missing values only).
    """

    values: np.ndarray
    codes: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def build(cls, values: np.ndarray, codes: np.ndarray, groups: int) -> SortedGroups:
        """Sort ``values`` within their ``codes`` (0 ≤ code < ``groups``); drop NaN."""
        values = np.asarray(values, dtype=float)
        # 32-bit codes when they fit: half the memory of the two copies made below.
        codes = np.asarray(codes).astype(np.int32 if groups < 2**31 else np.int64, copy=False)
        valid = ~np.isnan(values)
        values, codes = values[valid], codes[valid]
        order = group_order(values, codes, groups)
        counts = np.bincount(codes, minlength=groups).astype(np.int64)
        starts = np.zeros(groups, dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        return cls(values=values[order], codes=codes[order], starts=starts, counts=counts)

    def quantile(self, probability: float, method: str = "linear") -> np.ndarray:
        """The ``probability`` quantile of every group under numpy's ``method``.

        Reproduces :func:`numpy.quantile` (numpy ≥ 2.0) exactly, including its
        interpolation formula ``a + (b − a)·γ`` for γ < 0.5 and ``b − (b − a)·(1 − γ)``
        otherwise.  Groups with no values get NaN.
        """
        return grouped_quantile(self.values, self.starts, self.counts, probability, method)


def grouped_quantile(
    values: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    probability: float,
    method: str = "linear",
) -> np.ndarray:
    """Quantiles of consecutive sorted blocks, identical to :func:`numpy.quantile`.

    Parameters
    ----------
    values
        Concatenation of the groups' values, each block sorted ascending, no NaN.
    starts, counts
        Start offset and length of each group's block.
    probability
        The probability p in [0, 1].
    method
        One of :data:`QUANTILE_METHODS` (Hyndman & Fan 1996 types 1–9).

    Returns
    -------
    numpy.ndarray
        One quantile per group; NaN for an empty group.

    Notes
    -----
    With n values sorted as x[0] ≤ … ≤ x[n − 1] (zero-based), numpy defines a virtual
    index v: type 1 (``inverted_cdf``) takes x[⌈np⌉ − 1]; type 2 averages the two
    neighbours when np is an integer; type 3 (``closest_observation``) takes the nearest
    even-ranked order statistic; types 4–9 interpolate linearly between x[⌊v⌋] and
    x[⌊v⌋ + 1] with v = np + α + p(1 − α − β) − 1, (α, β) = (0, 1), (½, ½), (0, 0),
    (1, 1) [computed as (n − 1)p], (⅓, ⅓), (⅜, ⅜).  v is clamped to [0, n − 1].
    """
    check_quantile_method(method)
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], not {probability}")
    starts = np.asarray(starts, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    result = np.full(counts.shape, np.nan)
    present = counts > 0
    if not present.any():
        return result
    start = starts[present]
    low, high, gamma = order_statistics(counts[present], probability, method)
    result[present] = interpolate(values[start + low], values[start + high], gamma)
    return result


def order_statistics(
    n: np.ndarray, probability: float, method: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which order statistics numpy's ``method`` combines for the p-quantile of n ≥ 1 values.

    Returns zero-based indices (low, high) into the sorted sample and the weight γ of
    ``high``; the quantile is :func:`interpolate` (x[low], x[high], γ).  Only these two
    order statistics are needed, so a partial sort (``numpy.partition``) suffices.
    """
    n = np.asarray(n, dtype=np.int64)
    q = np.float64(probability)
    if method in ("inverted_cdf", "closest_observation"):
        if method == "inverted_cdf":
            index = n * q - 1
            take_previous_when_integral = np.ones(n.shape, dtype=bool)
        else:
            index = n * q - 1 - 0.5
            take_previous_when_integral = np.floor(index) % 2 == 1
        previous = np.floor(index)
        gamma = index - previous
        position = np.where((gamma == 0) & take_previous_when_integral, previous, previous + 1)
        position = np.minimum(np.clip(position.astype(np.int64), 0, None), n - 1)
        return position, position, np.zeros(n.shape)
    if method == "linear":
        virtual = (n - 1) * q
    elif method == "averaged_inverted_cdf":
        virtual = n * q - 1
    else:
        alpha, beta = _CONTINUOUS[method]
        virtual = n * q + (alpha + q * (1 - alpha - beta)) - 1
    virtual = np.asarray(virtual, dtype=float)
    previous = np.floor(virtual)
    gamma = virtual - previous
    if method == "averaged_inverted_cdf":
        gamma = np.where(gamma == 0, 0.5, 1.0)
    below = virtual < 0
    above = virtual >= n - 1
    low = np.where(above, n - 1, np.where(below, 0, previous)).astype(np.int64)
    high = np.where(above, n - 1, np.where(below, 0, previous + 1)).astype(np.int64)
    return low, high, gamma


def interpolate(a: np.ndarray, b: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """numpy's interpolation a + (b − a)·γ, computed as b − (b − a)·(1 − γ) for γ ≥ 0.5."""
    difference = b - a
    return np.where(gamma >= 0.5, b - difference * (1 - gamma), a + difference * gamma)
