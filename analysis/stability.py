"""Stability of each distribution between consecutive rounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analysis.deferred import deferred
from analysis.grouping import (
    Prepared,
    combine_codes,
    distribution_groups,
    group_order,
    prepare,
)

if TYPE_CHECKING:
    import pandas as pd
    from scipy import stats
else:
    pd = deferred("pandas")
    stats = deferred("scipy.stats")

ZERO_METHODS: tuple[str, ...] = ("wilcox", "pratt", "zsplit")
"""How the Wilcoxon test treats zero differences (scipy's names)."""

WILCOXON_METHODS: tuple[str, ...] = ("auto", "asymptotic")
"""``auto``: R's ``wilcox.test`` default (exact when n < 50 without ties or zeros,
otherwise the normal approximation); ``asymptotic``: always the normal approximation."""

STABILITY_COLUMNS: tuple[str, ...] = (
    "n_paired",
    "changed_share",
    "wilcoxon_v",
    "wilcoxon_z",
    "wilcoxon_p",
)


@dataclass(frozen=True)
class StabilityRule:
    """When a distribution counts as stable between two rounds.

    Stable when fewer than ``max_changed_share`` of the panelists who answered both rounds
    changed their answer (strictly: 15 % is the common threshold, von der Gracht 2012),
    and, if ``min_pvalue`` is given, the paired Wilcoxon test's p ≥ ``min_pvalue`` (no
    significant shift; a p-value that cannot be computed because nobody changed counts as
    no shift).
    """

    max_changed_share: float = 0.15
    min_pvalue: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.max_changed_share <= 1:
            raise ValueError("max_changed_share must be in (0, 1]")
        if self.min_pvalue is not None and not 0 < self.min_pvalue < 1:
            raise ValueError("min_pvalue must be in (0, 1)")


def stability(
    frame: pd.DataFrame,
    *,
    zero_method: str = "wilcox",
    correction: bool = True,
    method: str = "auto",
    tolerance: float = 0.0,
    rule: StabilityRule | None = None,
) -> pd.DataFrame:
    """Compare every distribution with the same item and component one round earlier.

    For round r ≥ 2, the pairs are the panelists with a non-missing answer in both r − 1
    and r (NaN "cannot judge" answers are not paired).  With dᵢ = xᵢ(r) − xᵢ(r − 1):

    - ``n_paired``: number of pairs;
    - ``changed_share``: share of pairs with |dᵢ| > ``tolerance``;
    - ``wilcoxon_v``, ``wilcoxon_z``, ``wilcoxon_p``: the paired Wilcoxon signed-rank
      test (Wilcoxon 1945; Hollander & Wolfe 1973, §3.1).  V = W⁺ is the sum of the
      mid-ranks of |dᵢ| over positive dᵢ (what R's ``wilcox.test(x_r, x_{r−1},
      paired = TRUE)`` reports as V; scipy's two-sided statistic is min(W⁺, W⁻)).  With n
      the number of ranked differences, z = (V − n(n + 1)/4 − c) / σ,
      σ² = n(n + 1)(2n + 1)/24 − Σ(t³ − t)/48 over tie groups t, continuity correction
      c = sign(V − n(n + 1)/4)/2 when ``correction``; the normal approximation's
      two-sided p = 2Φ(−|z|).  ``zero_method``: ``"wilcox"`` drops zero differences
      before ranking (R's behaviour), ``"pratt"`` ranks them and then drops them
      (Cureton's variance adjustment), ``"zsplit"`` splits their ranks between W⁺ and
      W⁻.  p is NaN when no difference is non-zero.

    ``method="auto"`` (the default) reproduces R's ``wilcox.test(paired = TRUE)`` with
    its defaults: the exact null distribution of W⁺ when n < 50 and there are neither
    ties nor zero differences (p = min(1, 2·P(W⁺ ≥ V)) for V above n(n + 1)/4, else
    min(1, 2·P(W⁺ ≤ V))), otherwise the normal approximation with continuity
    correction.  ``method="asymptotic"`` always uses the normal approximation, which
    is exactly ``scipy.stats.wilcoxon(method="asymptotic", correction=True,
    zero_method="wilcox")``; scipy's own ``method="auto"`` differs from R by switching
    to a permutation test for small samples with ties.  ``z`` is always the normal
    statistic.

    Parameters
    ----------
    frame
        A tidy frame holding at least two rounds.
    zero_method
        One of :data:`ZERO_METHODS`.
    method
        One of :data:`WILCOXON_METHODS`.
    correction
        Apply the continuity correction (R's ``correct = TRUE``).
    tolerance
        Changes of at most this size do not count as a change in ``changed_share``.
    rule
        The :class:`StabilityRule` deciding ``stable``; default ``StabilityRule()``.

    Returns
    -------
    pandas.DataFrame
        Indexed by (round, item, component) for every distribution of round r ≥ 2 whose
        item was asked in round r − 1, with :data:`STABILITY_COLUMNS` and ``stable``
        (nullable boolean; NA without pairs).
    """
    if zero_method not in ZERO_METHODS:
        raise ValueError(f"zero_method must be one of {', '.join(ZERO_METHODS)}")
    if method not in WILCOXON_METHODS:
        raise ValueError(f"method must be one of {', '.join(WILCOXON_METHODS)}")
    prepared = prepare(frame)
    group, key_frame = distribution_groups(prepared)
    difference, pair_group = paired_differences(prepared, group)
    previous = previous_distribution(key_frame)
    columns = stability_columns(
        difference,
        pair_group,
        previous,
        zero_method=zero_method,
        correction=correction,
        method=method,
        tolerance=tolerance,
        rule=rule or StabilityRule(),
    )
    result = pd.DataFrame(columns, index=pd.MultiIndex.from_frame(key_frame))
    return result.loc[previous >= 0]


def paired_differences(
    prepared: Prepared, group: np.ndarray, *, dense_limit: int = 20_000_000
) -> tuple[np.ndarray, np.ndarray]:
    """Differences of each panelist's answers between consecutive rounds.

    Parameters
    ----------
    prepared
        The encoded tidy frame.
    group
        Each row's distribution code (see :func:`analysis.grouping.distribution_groups`);
        −1 for rows that are only an earlier half of a pair (their pairs as a later
        row are dropped).
    dense_limit
        Largest rounds × (item, component, panelist) table to fill densely; beyond it the
        pairs are found by sorting instead (same result).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        x(r) − x(r − 1) for every panelist with non-missing answers to the same item and
        component in rounds r − 1 and r, and the distribution code of the round-r row.
    """
    round_codes, round_numbers = prepared.column("round")
    if len(round_numbers) < 2:
        # One round (a first round's close): no pair, and no key of every answer to
        # build for none (at 100,000 panelists, about 170 MB of arrays).
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    values = prepared.values
    per_key = [prepared.column("item"), prepared.column("component"), prepared.column("panelist")]
    rounds = len(round_numbers)
    shape = tuple(max(len(uniques), 1) for _, uniques in per_key)
    keys = int(np.prod(shape, dtype=np.int64)) if float(np.prod(shape, dtype=float)) < 2**62 else 0
    if 0 < rounds * keys <= dense_limit:
        valid = ~np.isnan(values)
        key = np.ravel_multi_index(tuple(codes for codes, _ in per_key), shape)
        round_codes, key, values, group = (
            round_codes[valid],
            key[valid],
            values[valid],
            group[valid],
        )
        differences: list[np.ndarray] = []
        groups: list[np.ndarray] = []
        # Row of each (round, item, component, panelist) answer; −1 where there is none.
        row_of = np.full((rounds, keys), -1, dtype=np.int32 if key.size < 2**31 else np.int64)
        row_of[round_codes, key] = np.arange(key.size)
        # A loop over rounds (at most a handful), each step vectorised over all answers.
        for later in range(1, rounds):
            if round_numbers[later] != round_numbers[later - 1] + 1:
                continue
            current, previous = row_of[later], row_of[later - 1]
            both = (current >= 0) & (previous >= 0)
            current, previous = current[both], previous[both]
            differences.append(values[current] - values[previous])
            groups.append(group[current])
        if not differences:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        difference, pair_group = np.concatenate(differences), np.concatenate(groups)
    else:
        difference, pair_group = _pairs_by_sorting(
            values, group, round_codes, round_numbers, per_key
        )
    kept = pair_group >= 0
    return difference[kept], pair_group[kept]


def _pairs_by_sorting(
    values: np.ndarray,
    group: np.ndarray,
    round_codes: np.ndarray,
    round_numbers: np.ndarray,
    per_key: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`paired_differences` by sorting the rows by (item, component, panelist),
    then round: a pair is two neighbours with the same key, consecutive round numbers
    and both values present.

    Every row is sorted, missing values included, and the pairs are then kept where
    both values are present: no row lies between two answers of one key in
    consecutive rounds, so the pairs, and their order, are those of sorting the present
    answers only, without copying every column to drop the missing ones first.  The
    key is the rows' position in the item × component × panelist table (ordered as
    their codes are) when that fits 62 bits, so that no renumbering sort of every row
    is needed: at 100,000 panelists and two rounds these steps held about 1 GB where
    they now hold about 300 MB."""
    shape = tuple(max(len(uniques), 1) for _, uniques in per_key)
    if float(np.prod(shape, dtype=float)) < 2**62:
        key = np.ravel_multi_index(tuple(codes for codes, _ in per_key), shape)
    else:
        key, _ = combine_codes(per_key)
    order = np.lexsort((round_codes, key))
    sorted_key = key[order]
    del key
    paired = sorted_key[1:] == sorted_key[:-1]
    del sorted_key
    sorted_round = round_codes[order]
    # Code c + 1 is the round after code c (the numbers are sorted and distinct).
    follows = np.append(round_numbers[1:] == round_numbers[:-1] + 1, False)
    paired &= sorted_round[1:] == sorted_round[:-1] + 1
    paired &= follows[sorted_round[:-1]]
    del sorted_round
    earlier, later = order[:-1][paired], order[1:][paired]
    del order, paired
    both = ~(np.isnan(values[earlier]) | np.isnan(values[later]))
    earlier, later = earlier[both], later[both]
    return values[later] - values[earlier], group[later]


def previous_distribution(
    key_frame: pd.DataFrame, reference: pd.DataFrame | None = None
) -> np.ndarray:
    """For each (round, item, component) row, the row of ``reference`` (default:
    ``key_frame`` itself) holding round − 1 of the same item and component, or −1 when
    that distribution does not exist."""
    reference = key_frame if reference is None else reference
    index = pd.MultiIndex.from_frame(reference[["round", "item", "component"]])
    earlier = pd.MultiIndex.from_arrays(
        [key_frame["round"].to_numpy() - 1, key_frame["item"], key_frame["component"]]
    )
    return index.get_indexer(earlier).astype(np.int64)


def stability_columns(
    difference: np.ndarray,
    pair_group: np.ndarray,
    previous: np.ndarray,
    *,
    zero_method: str,
    correction: bool,
    tolerance: float,
    rule: StabilityRule,
    method: str = "auto",
) -> dict[str, np.ndarray | pd.api.extensions.ExtensionArray]:
    """The :data:`STABILITY_COLUMNS` and ``stable`` for every distribution.

    ``previous`` (from :func:`previous_distribution`) fixes the number of distributions;
    those without a previous round get 0 pairs, NaN and ``stable`` NA.
    """
    groups = len(previous)
    n_paired = np.bincount(pair_group, minlength=groups)
    changed = np.bincount(
        pair_group, weights=(np.abs(difference) > tolerance).astype(float), minlength=groups
    )
    v, z, p = wilcoxon_grouped(difference, pair_group, groups, zero_method, correction, method)
    has_pairs = n_paired > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        changed_share = changed / n_paired
    stable = changed_share < rule.max_changed_share
    if rule.min_pvalue is not None:
        stable &= np.isnan(p) | (p >= rule.min_pvalue)
    v[~has_pairs] = np.nan
    stable_array = pd.array(stable, dtype="boolean")
    stable_array[~has_pairs] = pd.NA
    return {
        "n_paired": n_paired.astype(np.int64),
        "changed_share": changed_share,
        "wilcoxon_v": v,
        "wilcoxon_z": z,
        "wilcoxon_p": p,
        "stable": stable_array,
    }


def wilcoxon_grouped(
    difference: np.ndarray,
    codes: np.ndarray,
    groups: int,
    zero_method: str = "wilcox",
    correction: bool = True,
    method: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wilcoxon signed-rank test of many groups of paired differences.

    Returns (V = W⁺, z, two-sided p) per group code; see :func:`stability`.
    """
    if method not in WILCOXON_METHODS:
        raise ValueError(f"method must be one of {', '.join(WILCOXON_METHODS)}")
    zeros_in_group = np.bincount(codes, weights=(difference == 0).astype(float), minlength=groups)
    zero = difference == 0
    if zero_method == "wilcox":
        keep = ~zero
        difference, codes, zero = difference[keep], codes[keep], zero[keep]
    magnitude = np.abs(difference)
    ranks, tie_sizes, tie_codes, tie_is_zero = _grouped_mid_ranks(magnitude, codes)
    count = np.bincount(codes, minlength=groups).astype(float)
    v = np.bincount(codes, weights=np.where(difference > 0, ranks, 0.0), minlength=groups).astype(
        float
    )
    mean = count * (count + 1) * 0.25
    variance = count * (count + 1) * (2 * count + 1)
    if zero_method == "zsplit":
        v = v + np.bincount(codes, weights=np.where(zero, ranks, 0.0), minlength=groups) / 2
    ties = tie_sizes**3 - tie_sizes
    if zero_method == "pratt":
        zeros = np.bincount(codes, weights=zero.astype(float), minlength=groups)
        mean = mean - zeros * (zeros + 1) * 0.25
        variance = variance - zeros * (zeros + 1) * (2 * zeros + 1)
        ties = np.where(tie_is_zero, 0.0, ties)
    tie_total = np.bincount(tie_codes, weights=ties, minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt((variance - tie_total / 2) / 24)
        z = (v - mean) / se
        if correction:
            z = z - np.sign(z) * 0.5 / se
    p = 2 * stats.norm.sf(np.abs(z))
    if method == "auto":
        tied = np.bincount(tie_codes, weights=(tie_sizes > 1).astype(float), minlength=groups)
        exact = (count > 0) & (count < 50) & (tied == 0) & (zeros_in_group == 0)
        if exact.any():
            p[exact] = _exact_signed_rank_p(v[exact], count[exact].astype(np.int64))
    return v, z, p


def _exact_signed_rank_p(v: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided exact p of V = W⁺ without ties, as R's ``wilcox.test``: with F the null
    distribution of W⁺ for n differences, p = min(1, 2·P(W⁺ ≥ V)) when
    V > n(n + 1)/4, else min(1, 2·P(W⁺ ≤ V))."""
    p = np.empty(len(v))
    statistic = np.rint(v).astype(np.int64)
    # One null distribution per distinct n (at most 49 of them).
    for size in np.unique(n):
        rows = n == size
        cumulative = np.cumsum(_signed_rank_counts(int(size))) / 2.0**size
        at_most = cumulative[statistic[rows]]
        below = np.where(statistic[rows] > 0, cumulative[np.maximum(statistic[rows] - 1, 0)], 0)
        one_sided = np.where(v[rows] > size * (size + 1) / 4, 1 - below, at_most)
        p[rows] = np.minimum(1.0, 2 * one_sided)
    return p


def _signed_rank_counts(n: int) -> np.ndarray:
    """Number of subsets of {1, …, n} with each sum 0 … n(n + 1)/2 (exact in int64 for
    n < 63): the null distribution of W⁺ times 2ⁿ."""
    counts = np.zeros(n * (n + 1) // 2 + 1, dtype=np.int64)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts


def _grouped_mid_ranks(
    values: np.ndarray, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Average ranks of ``values`` within each group, and the groups' tie-run sizes.

    Returns (ranks aligned with the input, size of every run of equal values, the group
    code of every run, whether the run's value is 0).
    """
    if values.size == 0:
        empty = np.zeros(0)
        return empty, empty, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    order = group_order(values, codes, int(codes.max()) + 1)
    sorted_values = values[order]
    sorted_codes = codes[order]
    new_run = np.ones(values.size, dtype=bool)
    new_run[1:] = (sorted_values[1:] != sorted_values[:-1]) | (
        sorted_codes[1:] != sorted_codes[:-1]
    )
    new_group = np.ones(values.size, dtype=bool)
    new_group[1:] = sorted_codes[1:] != sorted_codes[:-1]
    position = np.arange(values.size)
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    run_start_positions = np.flatnonzero(new_run)
    run_sizes = np.diff(np.append(run_start_positions, values.size))
    run_id = np.cumsum(new_run) - 1
    # 1-based rank of a run's first element within its group, then the run's mid-rank.
    first_rank = run_start_positions - group_start[run_start_positions] + 1
    mid_rank = first_rank + (run_sizes - 1) / 2
    ranks = np.empty(values.size)
    ranks[order] = mid_rank[run_id]
    return (
        ranks,
        run_sizes.astype(float),
        sorted_codes[run_start_positions],
        sorted_values[run_start_positions] == 0,
    )
