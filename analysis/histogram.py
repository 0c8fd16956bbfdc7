"""The bars of a feedback chart: the panel's answers counted into bins.

Computed once when a round closes (:mod:`surveys.feedback`) and drawn on every expert
page afterwards (``elicit.expert.charts``), so that a page never reads the panel's
answers themselves: the bins are the same whether ten or a hundred thousand panelists
answered.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from analysis.deferred import deferred

if TYPE_CHECKING:
    import numpy as np
else:
    np = deferred("numpy")

__all__ = ["MAX_BINS", "Histogram", "histogram", "tally"]

#: Most bars a chart draws: a discrete scale with more options is binned as continuous.
MAX_BINS = 100


@dataclass(frozen=True)
class Histogram:
    """Counts of a distribution's answers, with the axis they were counted on.

    Attributes
    ----------
    counts
        Answers per bin, left to right.
    edges
        ``len(counts) + 1`` bin edges, ascending.
    options
        The integer options of a discrete scale (one bin each), else empty.
    domain
        The axis' ends (``edges[0]``, ``edges[-1]``).
    value_low, value_high
        The range values are clamped into before counting (and statistics before they
        are drawn): the first and last option of a discrete scale, else the domain.
    answers
        Number of answers counted (NaN excluded).
    """

    counts: tuple[int, ...]
    edges: tuple[float, ...]
    options: tuple[int, ...]
    domain: tuple[float, float]
    value_low: float
    value_high: float
    answers: int

    @property
    def per_option(self) -> bool:
        """Whether each bar is one option of a discrete scale."""
        return bool(self.options)

    def to_json(self) -> dict[str, Any]:
        """The histogram as plain JSON values (see :meth:`from_json`)."""
        return {
            "counts": list(self.counts),
            "edges": list(self.edges),
            "options": list(self.options),
            "domain": list(self.domain),
            "value_low": self.value_low,
            "value_high": self.value_high,
            "answers": self.answers,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Histogram:
        """The histogram :meth:`to_json` wrote."""
        return cls(
            counts=tuple(int(count) for count in data["counts"]),
            edges=tuple(float(edge) for edge in data["edges"]),
            options=tuple(int(option) for option in data["options"]),
            domain=(float(data["domain"][0]), float(data["domain"][1])),
            value_low=float(data["value_low"]),
            value_high=float(data["value_high"]),
            answers=int(data["answers"]),
        )


def tally(values: Sequence[float | None]) -> tuple[list[float], list[int]]:
    """The distinct answers of ``values`` in ascending order, each with how many times
    it was given: ``(distinct, counts)``.  NaN and ``None`` are left out.

    A distribution's tally draws the same chart as its answers
    (``histogram(distinct, weights=counts, …)`` equals ``histogram(values, …)``) and
    keeps its range, but its size is the number of different answers, not the panel's:
    at most the options of a scale, a few hundred percentages, the round numbers
    experts give as estimates.  Each distinct value is the answer itself, unconverted.
    """
    counted: dict[float, int] = {}
    for value in values:
        if value is not None and value == value:  # NaN is not equal to itself
            counted[value] = counted.get(value, 0) + 1
    distinct = sorted(counted)
    return distinct, [counted[value] for value in distinct]


def histogram(
    values: Sequence[float] | np.ndarray,
    *,
    minimum: float,
    maximum: float,
    discrete: bool,
    bins: int = 10,
    weights: Sequence[int] | None = None,
) -> Histogram:
    """Count ``values`` into the bars of a feedback chart.

    Parameters
    ----------
    values
        The panel's answers, in any order.  NaN is ignored; values outside
        ``[minimum, maximum]`` are counted in the first or last bar.
    weights
        How many answers each value stands for (a :func:`tally`), ``None`` for one each:
        the bars and ``answers`` are then those of the values repeated so many times.
    minimum, maximum
        Bounds of the scale (swapped if given in the wrong order; a non-finite bound
        falls back to the data's range, then to 0..1).  When equal (or, on a
        continuous scale, too close for floating point to bin), the axis is widened by
        half a unit on either side so that it still has a length.
    discrete
        ``True`` counts one bar per integer option from ``minimum`` to ``maximum``
        (values clamped onto the scale, then rounded half up to the nearest option; a
        scale of more than :data:`MAX_BINS` options is binned as if continuous);
        ``False`` splits the range into ``bins`` equal-width bins, each closed on the
        left, the last also on the right (the convention of :func:`numpy.histogram`).
    bins
        Number of bars of a continuous scale, clamped to 1..:data:`MAX_BINS`.

    Returns
    -------
    Histogram
        The same for the same values in any order.
    """
    array = np.asarray(values, dtype=float)
    kept = ~np.isnan(array)
    finite = array[kept]
    counted = None if weights is None else np.asarray(weights, dtype=np.int64)[kept]
    low, high = _bounds(minimum, maximum, array)
    first_option = math.floor(low + 0.5)
    last_option = max(first_option, math.floor(high + 0.5))
    if discrete and last_option - first_option <= MAX_BINS:
        options = tuple(range(first_option, last_option + 1))
        domain = (first_option - 0.5, last_option + 0.5)
        value_low, value_high = float(first_option), float(last_option)
        indices = (
            np.floor(np.clip(finite, value_low, value_high) + 0.5).astype(np.int64) - first_option
        )
        counts = _count(indices, counted, len(options))
        edges = tuple(domain[0] + index for index in range(len(options) + 1))
    else:
        # A range too narrow for floating point to split into bins counts as a point.
        if high - low <= max(abs(low), abs(high), 1.0) * 1e-9:
            middle = (low + high) / 2
            low, high = middle - 0.5, middle + 0.5
        domain = (low, high)
        value_low, value_high = low, high
        bin_count = min(max(int(bins), 1), MAX_BINS)
        bin_edges = np.linspace(low, high, bin_count + 1)
        # searchsorted over the edges rather than numpy.histogram: the same bins
        # wherever numpy.histogram works, and no exception when floating point cannot
        # resolve the edges of a very narrow range.
        positions = np.searchsorted(bin_edges, finite, "right")
        indices = np.clip(positions - 1, 0, bin_count - 1)
        counts = _count(indices, counted, bin_count)
        edges = tuple(float(edge) for edge in bin_edges)
        options = ()
    return Histogram(
        counts=tuple(int(count) for count in counts),
        edges=edges,
        options=options,
        domain=(float(domain[0]), float(domain[1])),
        value_low=value_low,
        value_high=value_high,
        answers=len(finite) if counted is None else int(counted.sum()),
    )


def _count(indices: np.ndarray, weights: np.ndarray | None, bins: int) -> np.ndarray:
    """Answers per bin from each answer's bin index, each counted ``weights`` times."""
    if weights is None:
        return np.bincount(indices, minlength=bins)
    # Summed in integers: bincount's own weights are floating point.
    counts = np.zeros(bins, dtype=np.int64)
    np.add.at(counts, indices, weights)
    return counts


def _bounds(minimum: float, maximum: float, values: np.ndarray) -> tuple[float, float]:
    """Ordered, finite scale bounds; falls back to the data's range, then to 0..1."""
    low, high = float(minimum), float(maximum)
    if not (math.isfinite(low) and math.isfinite(high)):
        finite = values[np.isfinite(values)]
        if finite.size:
            low = low if math.isfinite(low) else float(finite.min())
            high = high if math.isfinite(high) else float(finite.max())
        low = low if math.isfinite(low) else 0.0
        high = high if math.isfinite(high) else max(low, 1.0)
    # Beyond ±1e300 the width of the range would overflow to infinity.
    low, high = (min(max(bound, -1e300), 1e300) for bound in (low, high))
    return (low, high) if low <= high else (high, low)
