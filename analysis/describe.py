"""Descriptive statistics of each distribution (round × item × component)."""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from analysis.deferred import deferred
from analysis.frame import KEY_COLUMNS
from analysis.grouping import group_codes, prepare
from analysis.quantiles import (
    QUANTILE_METHODS,
    SortedGroups,
    check_quantile_method,
    interpolate,
    order_statistics,
)
from analysis.scales import Scale, scale_columns

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

__all__ = ["DESCRIBE_COLUMNS", "QUANTILE_METHODS", "bootstrap_median_ci", "describe"]

DESCRIBE_COLUMNS: tuple[str, ...] = (
    "n",
    "n_cannot_judge",
    "mean",
    "sd",
    "median",
    "q1",
    "q3",
    "iqr",
    "min",
    "max",
    "cv",
    "mad",
    "ad_mean",
    "ad_median",
    "rwg",
    "share",
    "p30",
    "p70",
    "histogram",
)
"""The columns of :func:`describe`, in order."""

HISTOGRAM_BINS = 10
"""Number of equal-width bins of a histogram over a continuous scale."""


def describe(
    frame: pd.DataFrame,
    *,
    quantile_method: str = "linear",
    scales: Mapping[str, Scale] | None = None,
) -> pd.DataFrame:
    """Describe every distribution in a tidy frame.

    One row per (round, item, component), indexed by those three columns.  Only
    non-missing values count as ratings: NaN ("cannot judge") is excluded from every
    statistic and counted in ``n_cannot_judge``.  Let x₁ … xₙ be the ratings, x̄ their
    mean, m their median, A the number of options of the item's scale and h its step.

    - ``n``: number of ratings; ``n_cannot_judge``: number of NaN answers.
    - ``mean``: x̄ = Σxᵢ / n.
    - ``sd``: s = √(Σ(xᵢ − x̄)² / (n − 1)), as R's ``sd`` and pandas; NaN when n < 2.
    - ``median``, ``q1``, ``q3``, ``p30``, ``p70``: the 0.5, 0.25, 0.75, 0.30 and 0.70
      sample quantiles under ``quantile_method`` (Hyndman & Fan 1996); ties need no
      special handling because quantiles are order statistics.
    - ``iqr``: q3 − q1.
    - ``min``, ``max``: smallest and largest rating.
    - ``cv``: s / x̄ (s with n − 1, not ``scipy.stats.variation``'s n); NaN when x̄ = 0 or
      n < 2.
    - ``mad``: median absolute deviation median(|xᵢ − m|), unscaled (no 1.4826 factor),
      both medians under ``quantile_method``.
    - ``ad_mean``, ``ad_median``: the average deviation index of Burke, Finkelstein &
      Dusig (1999), Σ|xᵢ − x̄| / n and Σ|xᵢ − m| / n.
    - ``rwg``: within-group agreement of James, Demaree & Wolf (1984),
      1 − s² / σ²_EU with the uniform-null variance σ²_EU = h²(A² − 1) / 12 (the
      textbook (A² − 1) / 12 for unit steps), truncated to 0 when s² > σ²_EU; NaN when
      n < 2 or the item has no discrete scale.
    - ``share``: the share of ratings inside the scale's ``band`` (ends included), with
      the valid ratings (not all panelists) as denominator; NaN without a band or n = 0.
    - ``histogram``: JSON text of the counts per option of a discrete scale (from the
      lowest option; a rating is counted at the nearest option, ratings outside the
      scale are not counted), or of :data:`HISTOGRAM_BINS` equal-width bins
      [lower, upper) over a continuous scale (the last bin includes the maximum);
      missing (None or NaN) for an item without a scale.

    A distribution with no ratings has ``n = 0`` and NaN statistics.

    Parameters
    ----------
    frame
        A tidy frame (see :mod:`analysis.frame`).
    quantile_method
        One of numpy's ``quantile`` method names, which are Hyndman & Fan (1996) sample
        quantile types 1–9: ``"linear"`` is type 7 (numpy, pandas and R's default),
        ``"weibull"`` type 6 (SPSS, Excel ``QUARTILE.EXC``), ``"hazen"`` type 5.  On the
        ratings 4, 4, 5, 3, 4, 5, 4, 2 the IQR is 0.5 under type 7 and 1.5 under type 6.
    scales
        The :class:`~analysis.scales.Scale` of each item key; items without one get NaN
        for the scale-dependent statistics (rwg, share, histogram).

    Returns
    -------
    pandas.DataFrame
        Indexed by (round, item, component) with the columns of
        :data:`DESCRIBE_COLUMNS`.
    """
    check_quantile_method(quantile_method)
    prepared = prepare(frame)
    codes, key_frame = prepared.group(KEY_COLUMNS)
    return describe_keys(
        prepared.tidy,
        list(KEY_COLUMNS),
        quantile_method=quantile_method,
        scales=scales,
        codes=codes,
        key_frame=key_frame,
    )


def describe_keys(
    tidy: pd.DataFrame | None,
    keys: Sequence[str],
    *,
    quantile_method: str,
    scales: Mapping[str, Scale] | None,
    codes: np.ndarray | None = None,
    key_frame: pd.DataFrame | None = None,
    data: SortedGroups | None = None,
    values: np.ndarray | None = None,
) -> pd.DataFrame:
    """:func:`describe` of an already validated frame, grouped by any ``keys``.

    ``codes`` and ``key_frame`` may carry a grouping already computed with
    :func:`analysis.grouping.group_codes` on the same keys, and ``data`` the values
    sorted within those groups, and ``values`` the value column (then ``tidy`` may be
    ``None``).
    """
    if codes is None or key_frame is None:
        if tidy is None:
            raise ValueError("describe_keys needs the tidy frame or codes and key_frame")
        codes, key_frame = group_codes(tidy, list(keys))
    groups = len(key_frame)
    if values is not None:
        raw = values
    elif tidy is not None:
        raw = tidy["value"].to_numpy(dtype=float)
    else:
        raise ValueError("describe_keys needs the tidy frame or the values")
    missing = np.bincount(codes[np.isnan(raw)], minlength=groups)
    if data is None:
        data = SortedGroups.build(raw, codes, groups)
    statistics = _moments(data, groups, quantile_method)
    statistics["n_cannot_judge"] = missing.astype(np.int64)
    scale = scale_columns(key_frame["item"], scales)
    _scale_statistics(statistics, data, scale)
    index = pd.MultiIndex.from_arrays([key_frame[key].to_numpy() for key in keys], names=list(keys))
    return pd.DataFrame({column: statistics[column] for column in DESCRIBE_COLUMNS}, index=index)


def _moments(data: SortedGroups, groups: int, method: str) -> dict[str, np.ndarray]:
    """Location, spread and agreement statistics that need no scale."""
    n = data.counts
    codes = data.codes
    values = data.values
    present = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(codes, weights=values, minlength=groups) / n
        deviation = values - mean[codes]
        squares = np.bincount(codes, weights=deviation * deviation, minlength=groups)
        sd = np.sqrt(squares / (n - 1))
        sd[n < 2] = np.nan
        mean[~present] = np.nan
        cv = sd / mean
        cv[mean == 0] = np.nan
        median = data.quantile(0.5, method)
        absolute_from_median = np.abs(values - median[codes])
        ad_mean = np.bincount(codes, weights=np.abs(deviation), minlength=groups) / n
        ad_median = np.bincount(codes, weights=absolute_from_median, minlength=groups) / n
    last = np.maximum(data.starts + n - 1, 0)
    first = np.minimum(data.starts, max(len(values) - 1, 0))
    minimum = np.where(present, values[first] if len(values) else np.nan, np.nan)
    maximum = np.where(present, values[last] if len(values) else np.nan, np.nan)
    mad = median_absolute_deviation(data, median, method)
    q1 = data.quantile(0.25, method)
    q3 = data.quantile(0.75, method)
    return {
        "n": n.astype(np.int64),
        "mean": mean,
        "sd": sd,
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "min": minimum,
        "max": maximum,
        "cv": cv,
        "mad": mad,
        "ad_mean": ad_mean,
        "ad_median": ad_median,
        "p30": data.quantile(0.3, method),
        "p70": data.quantile(0.7, method),
    }


def median_absolute_deviation(data: SortedGroups, median: np.ndarray, method: str) -> np.ndarray:
    """median(|x − m|) of every group under ``method``, without sorting the deviations.

    Within a sorted group the deviations of the values at or below m, read from m
    downwards, and those of the values above m, read upwards, are two ascending runs;
    an order statistic of their union is found by binary search on how many elements
    come from the first run (all groups at once, about log₂ n vectorised steps).  The
    result equals ``numpy.quantile(numpy.abs(x - m), 0.5, method=method)``.
    """
    result = np.full(len(data.counts), np.nan)
    present = data.counts > 0
    if not present.any():
        return result
    values = data.values
    codes = data.codes
    at_or_below = np.bincount(
        codes, weights=(values <= median[codes]).astype(float), minlength=len(data.counts)
    ).astype(np.int64)
    n = data.counts[present]
    start = data.starts[present]
    centre = median[present]
    below = at_or_below[present]  # length of the run m − x (x ≤ m), ascending from x = m
    above = n - below  # length of the run x − m (x > m)
    last = len(values) - 1

    def smallest(k: np.ndarray) -> np.ndarray:
        """The k-th smallest deviation (zero-based) of every selected group."""
        low = np.maximum(0, k + 1 - above)
        high = np.minimum(k + 1, below)
        while True:
            active = low < high
            if not active.any():
                break
            middle = (low + high) // 2
            # Next candidate from each run when `middle` elements come from the first.
            first_run = centre - values[np.clip(start + below - 1 - middle, 0, last)]
            second_run = values[np.clip(start + below + k - middle, 0, last)] - centre
            more = active & (first_run < second_run)
            low = np.where(more, middle + 1, low)
            high = np.where(active & ~more, middle, high)
        taken = low
        from_first = np.where(
            taken > 0, centre - values[np.clip(start + below - taken, 0, last)], -np.inf
        )
        from_second = np.where(
            k - taken >= 0,
            values[np.clip(start + below + k - taken, 0, last)] - centre,
            -np.inf,
        )
        return np.maximum(from_first, from_second)

    low_index, high_index, gamma = order_statistics(n, 0.5, method)
    result[present] = interpolate(smallest(low_index), smallest(high_index), gamma)
    return result


def _scale_statistics(
    statistics: dict[str, np.ndarray], data: SortedGroups, scale: pd.DataFrame
) -> None:
    """Add rwg, band share and histogram, which need each item's scale."""
    groups = len(scale)
    n = data.counts
    options = scale["options"].to_numpy(dtype=float)
    low = scale["scale_min"].to_numpy(dtype=float)
    high = scale["scale_max"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = (high - low) / (options - 1)
        uniform_variance = step * step * (options * options - 1) / 12
        variance = statistics["sd"] ** 2
        statistics["rwg"] = np.where(
            variance > uniform_variance, 0.0, 1 - variance / uniform_variance
        )
        statistics["rwg"][np.isnan(variance) | np.isnan(uniform_variance)] = np.nan
        band_low = scale["band_low"].to_numpy(dtype=float)
        band_high = scale["band_high"].to_numpy(dtype=float)
        codes = data.codes
        inside = (data.values >= band_low[codes]) & (data.values <= band_high[codes])
        share = np.bincount(codes, weights=inside.astype(float), minlength=groups) / n
    share[np.isnan(band_low) | (n == 0)] = np.nan
    statistics["share"] = share
    statistics["histogram"] = _histograms(data, low, high, options)


def _histograms(
    data: SortedGroups, low: np.ndarray, high: np.ndarray, options: np.ndarray
) -> np.ndarray:
    """JSON text of each group's counts over its scale (see :func:`describe`)."""
    groups = len(low)
    has_scale = ~np.isnan(low) & ~np.isnan(high)
    bins = np.where(np.isnan(options), HISTOGRAM_BINS, options)
    bins = np.where(has_scale, bins, 0).astype(np.int64)
    codes = data.codes
    values = data.values
    # A scale whose bounds are almost equal (a definition may give -2e-313 and 0) puts
    # answers at positions too large for a float: infinite, so outside it, not counted.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        discrete = ~np.isnan(options)
        position = (values - low[codes]) / (high[codes] - low[codes])
        width = bins[codes]
        index = np.where(
            discrete[codes],
            np.round(position * (width - 1)),
            np.minimum(np.floor(position * width), width - 1),
        )
        # Outside the scale: not counted (tolerance for rounding of option values).
        outside = (position < -1e-9) | (position > 1 + 1e-9) | ~has_scale[codes]
    offsets = np.zeros(groups + 1, dtype=np.int64)
    np.cumsum(bins, out=offsets[1:])
    keep = ~outside & ~np.isnan(index)
    flat = offsets[codes[keep]] + np.clip(index[keep], 0, None).astype(np.int64)
    counts = np.bincount(flat, minlength=int(offsets[-1])).tolist()
    return np.array(
        [
            json.dumps(counts[offsets[group] : offsets[group + 1]]) if has_scale[group] else None
            for group in range(groups)
        ],
        dtype=object,
    )


def bootstrap_median_ci(
    frame: pd.DataFrame,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    quantile_method: str = "linear",
) -> pd.DataFrame:
    """Percentile bootstrap confidence interval for each distribution's median.

    For each (round, item, component) with n ratings, draw ``resamples`` samples of size n
    with replacement, take the median of each (under ``quantile_method``) and report the
    (1 − c)/2 and (1 + c)/2 quantiles (numpy ``linear``) of those medians (Efron &
    Tibshirani 1993, ch. 13).  NaN answers are excluded first; n = 0 gives NaN, n = 1 a
    zero-width interval.

    Reproducible: each distribution's generator is seeded with ``seed`` and a CRC-32 of
    its (round, item, component) key, so a distribution's interval does not depend on
    which other items are in the frame or on row order.

    Computation: a distribution with B·n of at least :data:`COMPILED_MIN_DRAWS` is
    resampled by :mod:`analysis.bootstrap_kernel`, which draws the same integers from the
    same generator and reads the same two order statistics of each resample without
    holding the B × n draws in memory; the intervals are identical (bit for bit) to
    those of the plain numpy computation used below that size.

    Parameters
    ----------
    frame
        A tidy frame (:mod:`analysis.frame`).
    confidence
        The interval's coverage c in (0, 1).
    resamples
        The number of bootstrap samples B (≥ 1).
    seed
        The study's seed; the same seed gives the same intervals.
    quantile_method
        The quantile method of each resample's median (the study's method).

    Returns
    -------
    pandas.DataFrame
        Indexed by (round, item, component) with ``median_ci_low`` and
        ``median_ci_high``.
    """
    check_quantile_method(quantile_method)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    prepared = prepare(frame)
    codes, key_frame = prepared.group(KEY_COLUMNS)
    data = SortedGroups.build(prepared.values, codes, len(key_frame))
    low, high = bootstrap_sorted(
        data,
        key_frame,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        quantile_method=quantile_method,
    )
    return pd.DataFrame(
        {"median_ci_low": low, "median_ci_high": high},
        index=pd.MultiIndex.from_frame(key_frame),
    )


def bootstrap_sorted(
    data: SortedGroups,
    key_frame: pd.DataFrame,
    *,
    confidence: float,
    resamples: int,
    seed: int,
    quantile_method: str,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`bootstrap_median_ci` on values already grouped and sorted.

    ``key_frame`` holds each group's key, whose text seeds the group's generator.
    """
    check_quantile_method(quantile_method)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    low = np.full(len(key_frame), np.nan)
    high = np.full(len(key_frame), np.nan)
    tail = (1 - confidence) / 2
    large: list[tuple[int, np.ndarray, np.random.Generator]] = []
    for group, key in enumerate(key_frame.itertuples(index=False)):
        n = int(data.counts[group])
        if n == 0:
            continue
        sample = data.values[data.starts[group] : data.starts[group] + n]
        label = "\x1f".join(str(part) for part in key).encode()
        generator = np.random.default_rng([seed, zlib.crc32(label)])
        if n >= 2 and n * resamples >= COMPILED_MIN_DRAWS and n < 2**31:
            large.append((group, sample, generator))
            continue
        medians = _numpy_medians(sample, generator, resamples, quantile_method)
        low[group], high[group] = np.quantile(medians, [tail, 1 - tail])
    for group, medians in _compiled_medians(large, resamples, quantile_method):
        low[group], high[group] = np.quantile(medians, [tail, 1 - tail])
    return low, high


COMPILED_MIN_DRAWS = 2_000_000
"""Resamples × n from which a distribution's bootstrap runs in the compiled kernel
(:mod:`analysis.bootstrap_kernel`): the same medians, without the B × n draws in memory.
Below it numpy is fast enough and numba is never imported."""


def _compiled_medians(
    jobs: list[tuple[int, np.ndarray, np.random.Generator]], resamples: int, quantile_method: str
) -> list[tuple[int, np.ndarray]]:
    """The bootstrap medians of each (group, sorted sample, fresh generator) job, drawn
    by the compiled kernel, identical to those of the numpy path of
    :func:`bootstrap_sorted` (the kernel's module says why), on up to two threads."""
    if not jobs:
        return []
    try:
        from analysis.bootstrap_kernel import order_statistics_of_resamples
    except ImportError:  # pragma: no cover - numba is a dependency; this keeps numpy's path
        return [
            (group, _numpy_medians(sample, generator, resamples, quantile_method))
            for group, sample, generator in jobs
        ]

    def medians(job: tuple[int, np.ndarray, np.random.Generator]) -> tuple[int, np.ndarray]:
        group, sample, generator = job
        n = len(sample)
        low_index, high_index, gamma = order_statistics(np.array([n]), 0.5, quantile_method)
        first, second = order_statistics_of_resamples(
            generator, n, resamples, int(low_index[0]), int(high_index[0])
        )
        return group, interpolate(sample[first], sample[second], gamma[0])

    workers = min(len(jobs), max(1, min(2, os.cpu_count() or 1)))
    if workers == 1:
        return [medians(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(medians, jobs))


def _numpy_medians(
    sample: np.ndarray, generator: np.random.Generator, resamples: int, quantile_method: str
) -> np.ndarray:
    """The bootstrap medians of one sorted sample, all B × n draws in memory."""
    n = len(sample)
    draws = sample[generator.integers(0, n, size=(resamples, n))]
    low_index, high_index, gamma = order_statistics(np.array([n]), 0.5, quantile_method)
    # Only the two order statistics of the median are needed: partition, not sort.
    kth = np.unique([low_index[0], high_index[0]])
    draws.partition(kth, axis=1)
    return interpolate(draws[:, low_index[0]], draws[:, high_index[0]], gamma[0])
