"""The one entry point the round lifecycle calls when a round closes, and its relatives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.agreement import LEVELS, KendallW, kendalls_w, krippendorff_alpha
from analysis.consensus import ConsensusRule, PartRules, evaluate
from analysis.deferred import deferred
from analysis.describe import DESCRIBE_COLUMNS, bootstrap_sorted, describe_keys
from analysis.estimates import DEFAULT_ESTIMATE_LEVEL, aggregate_estimates
from analysis.frame import KEY_COLUMNS
from analysis.grouping import (
    Prepared,
    distribution_groups,
    factorize_sorted,
    prepare,
)
from analysis.pooling import DEFAULT_CLIP, normalise_scenarios, pooled_columns
from analysis.quantiles import SortedGroups, check_quantile_method
from analysis.scales import Scale
from analysis.stability import (
    WILCOXON_METHODS,
    ZERO_METHODS,
    StabilityRule,
    paired_differences,
    previous_distribution,
    stability_columns,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

SUMMARY_COLUMNS: tuple[str, ...] = (
    *DESCRIBE_COLUMNS,
    "median_ci_low",
    "median_ci_high",
    # consensus
    "ipr",
    "asymmetry_index",
    "ipras",
    "rand_ucla",
    "consensus",
    "state",
    "rule",
    "evidence",
    # stability against the previous round
    "n_paired",
    "changed_share",
    "wilcoxon_v",
    "wilcoxon_z",
    "wilcoxon_p",
    "iqr_change",
    "cv_change",
    "median_change",
    "stable",
    # probabilities and scenario sets
    "pool_trimmed_mean",
    "pool_geometric_odds",
    "pool_extremized",
    "scenario_sets_normalised",
    "scenario_sets_unusable",
    "scenario_mean_total",
    # numeric estimates
    "estimate_lowest",
    "estimate_best",
    "estimate_highest",
    # rankings
    "kendall_w",
    "kendall_chi2",
    "kendall_df",
    "kendall_p",
    # panel level (same value on every row of a round and scale)
    "panel_kendall_w",
    "panel_kendall_p",
    "panel_kendall_raters",
    "panel_alpha",
    "panel_items",
    # settings that produced the row
    "quantile_method",
)
"""The columns of :func:`summarize_round`, in order."""


def summarize_round(
    frame: pd.DataFrame | Prepared,
    *,
    rules: Mapping[str, ConsensusRule],
    part_rules: PartRules | None = None,
    quantile_method: str = "linear",
    scales: Mapping[str, Scale] | None = None,
    closing_round: int | None = None,
    stability_rule: StabilityRule | None = None,
    zero_method: str = "wilcox",
    correction: bool = True,
    wilcoxon_method: str = "auto",
    change_tolerance: float = 0.0,
    extremizing_factor: float = 2.5,
    probability_clip: float = DEFAULT_CLIP,
    trim: float = 0.1,
    estimate_level: float | Mapping[str, float] = DEFAULT_ESTIMATE_LEVEL,
    panel_level: str = "ordinal",
    bootstrap_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Summarise rounds: statistics, consensus, stability and aggregates per distribution.

    Every column is defined by the function that computes it: :func:`analysis.describe`
    (descriptive statistics, histogram), :func:`analysis.bootstrap_median_ci`,
    :func:`analysis.consensus.evaluate` and :func:`analysis.consensus.rand_ucla`
    (consensus state), :func:`analysis.stability` (against the previous round),
    :func:`analysis.pool_probabilities` and :func:`analysis.normalise_scenarios`,
    :func:`analysis.aggregate_estimates`, :func:`analysis.kendalls_w` and
    :func:`analysis.krippendorff_alpha`.  In addition:

    - ``iqr_change``, ``cv_change``, ``median_change``: this round's value minus the
      previous round's, over all who answered each round (NaN in the first round);
    - ``pool_*``: only for ``probability``, ``scenario_set`` and ``cross_impact``
      items (each conditional probability on its own), in percent;
      ``pool_extremized`` uses d = ``extremizing_factor``; ``mean`` and ``median`` are
      the linear pool and the median pool;
    - ``scenario_*``: scenario sets are normalised to sum to 100 per panelist before
      any statistic (see :func:`analysis.normalise_scenarios`); the counts are repeated
      on every component row of the set;
    - ``estimate_*``: the panel's interval of a ``numeric_estimate`` item, standardised
      to ``estimate_level`` percent (that item's own when a mapping; see
      :func:`analysis.aggregate_estimates`), on each of the item's component rows;
    - ``kendall_*``: Kendall's W (tie-corrected) over the panelists' ranks of a
      ``ranking`` item's objects, on each of its rows;
    - ``panel_*``: panel-level agreement among the ``likert`` items sharing one scale in
      the round: Kendall's W (tie-corrected; items as objects, the
      ``panel_kendall_raters`` panelists with an answer to every such item as raters —
      one "cannot judge" removes a panelist from W) and Krippendorff's alpha at
      ``panel_level`` (items as units, all answers, which handles missing values), with
      ``panel_items`` the number of items; missing for other kinds or when fewer than
      two items share the scale;
    - ``quantile_method``: the method used, so every stored summary names it.

    Parameters
    ----------
    frame
        A tidy frame (:mod:`analysis.frame`) holding the closing round and, for
        stability, the round before it (more rounds are fine).
    rules
        The consensus rule of each item key; items without one get ``consensus`` and
        ``state`` missing.
    part_rules
        Rules for single parts of multi-part answers, by ``(item, component)``: each
        decides that part instead of its item's rule in ``rules``; ``None`` leaves the
        part without a rule (see :func:`analysis.consensus.evaluate`).  Without it,
        every part is decided by its item's rule.
    quantile_method
        numpy quantile method (Hyndman & Fan type) for every quantile.
    scales
        The :class:`~analysis.scales.Scale` (kind and answer scale) of each item key.
        Without it, scale-dependent statistics are missing and every item is treated as
        a plain rating.
    closing_round
        Summarise only this round (the previous one is still used for stability);
        ``None`` summarises every round in ``frame``.
    stability_rule, zero_method, correction, wilcoxon_method, change_tolerance
        Passed to :func:`analysis.stability` (``wilcoxon_method`` as its ``method``:
        ``"auto"`` gives R's ``wilcox.test`` p-values).
    extremizing_factor, probability_clip, trim
        Pooling settings (see :func:`analysis.pool_probabilities`); the default d = 2.5
        lies in the range of factors estimated by Satopää et al. (2014) and Baron et
        al. (2014, Decision Analysis 11:133).
    estimate_level
        Common confidence level (percent, in (0, 100]) numeric-estimate intervals are
        standardised to: one level for every item, or a mapping item → level (an item
        the mapping leaves out uses 80 %), since each item of a study may set its own.
    panel_level
        Krippendorff level of measurement for ``panel_alpha``.
    bootstrap_resamples, confidence, seed
        Median bootstrap settings; ``bootstrap_resamples = 0`` skips it (NaN columns).
        Its cost grows with resamples × ratings (about 5 s for 200 items × 1,000
        panelists at 2,000 resamples; milliseconds for a typical panel).

    Returns
    -------
    pandas.DataFrame
        Indexed by (round, item, component) with the columns of :data:`SUMMARY_COLUMNS`.
        Cells are JSON-friendly scalars: int, float (NaN), bool (nullable), str or None.
    """
    check_quantile_method(quantile_method)
    if zero_method not in ZERO_METHODS:
        raise ValueError(f"zero_method must be one of {', '.join(ZERO_METHODS)}")
    if wilcoxon_method not in WILCOXON_METHODS:
        raise ValueError(f"wilcoxon_method must be one of {', '.join(WILCOXON_METHODS)}")
    if panel_level not in LEVELS:
        raise ValueError(f"panel_level must be one of {', '.join(LEVELS)}")
    levels = estimate_level.values() if isinstance(estimate_level, Mapping) else [estimate_level]
    for level in levels:
        if not 0 < level <= 100:
            raise ValueError(f"estimate_level must be in (0, 100], not {level}")
    scales = dict(scales or {})
    prepared = prepare(frame)
    current_rows = None
    if closing_round is not None:
        round_codes, round_numbers = prepared.column("round")
        row_round = round_numbers[round_codes]
        keep = (row_round == closing_round) | (row_round == closing_round - 1)
        if not keep.all():
            prepared = prepared.subset(keep)
            row_round = row_round[keep]
        current_rows = row_round == closing_round
    kinds = {key: scale.kind for key, scale in scales.items()}
    scenario_items = [key for key, kind in kinds.items() if kind == "scenario_set"]
    scenario_report = None
    if scenario_items:
        # Only the sets' rows are rescaled (each panelist's set on its own): the rest
        # of the frame passes through unchanged, so it is neither copied nor encoded again.
        item_codes, item_names = prepared.column("item")
        chosen = np.isin(item_names, np.asarray(scenario_items, dtype=object))[item_codes]
        normalised, scenario_report = normalise_scenarios(prepared.subset(chosen), scenario_items)
        values = prepared.values.copy()
        values[chosen] = normalised["value"].to_numpy(dtype=float)
        prepared = prepared.with_values(values)
    # Everything but stability needs only the rounds being summarised.
    summarised = prepared if current_rows is None else prepared.subset(current_rows)

    codes, key_frame = distribution_groups(summarised)
    data = SortedGroups.build(summarised.values, codes, len(key_frame))
    statistics = describe_keys(
        None,
        list(KEY_COLUMNS),
        quantile_method=quantile_method,
        scales=scales,
        codes=codes,
        key_frame=key_frame,
        data=data,
        values=summarised.values,
    )
    result = evaluate(statistics, data, rules=rules, scales=scales, part_rules=part_rules)
    if current_rows is None:
        all_codes, previous_keys, previous_statistics = codes, key_frame, statistics
    else:
        all_codes = np.full(len(current_rows), -1, dtype=np.int64)
        all_codes[current_rows] = codes
        previous_keys, previous_statistics = _location_and_spread(
            prepared.subset(~current_rows), quantile_method
        )
    result = _add_stability(
        result,
        prepared,
        all_codes,
        key_frame,
        previous_keys,
        previous_statistics,
        rule=stability_rule or StabilityRule(),
        zero_method=zero_method,
        correction=correction,
        method=wilcoxon_method,
        tolerance=change_tolerance,
    )
    item_kind = (
        pd.Series(kinds, dtype=object)
        .reindex(key_frame["item"].to_numpy(dtype=object))
        .fillna("")
        .to_numpy(dtype=object)
    )
    _add_pooling(
        result,
        data,
        item_kind,
        d=extremizing_factor,
        trim=trim,
        clip=probability_clip,
    )
    _add_scenarios(result, scenario_report)
    _add_estimates(result, summarised, kinds, estimate_level)
    _add_rankings(result, summarised, kinds)
    _add_panel(result, summarised, scales, panel_level)
    if bootstrap_resamples > 0:
        low, high = bootstrap_sorted(
            data,
            key_frame,
            confidence=confidence,
            resamples=bootstrap_resamples,
            seed=seed,
            quantile_method=quantile_method,
        )
    else:
        low = high = np.full(len(result), np.nan)
    result["median_ci_low"] = low
    result["median_ci_high"] = high
    result["quantile_method"] = quantile_method
    return result.loc[:, list(SUMMARY_COLUMNS)]


def _location_and_spread(
    prepared: Prepared, quantile_method: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Median, IQR and CV of every distribution (the previous round's, for changes),
    defined as in :func:`analysis.describe`."""
    codes, key_frame = distribution_groups(prepared)
    data = SortedGroups.build(prepared.values, codes, len(key_frame))
    n = data.counts
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(data.codes, weights=data.values, minlength=len(n)) / n
        deviation = data.values - mean[data.codes]
        variance = np.bincount(data.codes, weights=deviation * deviation, minlength=len(n))
        sd = np.sqrt(variance / (n - 1))
        sd[n < 2] = np.nan
        cv = sd / mean
    cv[mean == 0] = np.nan
    statistics = pd.DataFrame(
        {
            "iqr": data.quantile(0.75, quantile_method) - data.quantile(0.25, quantile_method),
            "cv": cv,
            "median": data.quantile(0.5, quantile_method),
        }
    )
    return key_frame, statistics


def _add_stability(
    result: pd.DataFrame,
    prepared: Prepared,
    codes: np.ndarray,
    key_frame: pd.DataFrame,
    previous_keys: pd.DataFrame,
    previous_statistics: pd.DataFrame,
    *,
    rule: StabilityRule,
    zero_method: str,
    correction: bool,
    method: str,
    tolerance: float,
) -> pd.DataFrame:
    """Add the stability columns and the changes of IQR, CV and median.

    ``codes`` gives each row of ``prepared`` its row of ``result`` (−1 for rows of the
    previous round only); ``previous_keys`` and ``previous_statistics`` describe the
    distributions the changes are measured from.
    """
    difference, pair_group = paired_differences(prepared, codes)
    previous = previous_distribution(key_frame, previous_keys)
    columns = stability_columns(
        difference,
        pair_group,
        previous,
        zero_method=zero_method,
        correction=correction,
        method=method,
        tolerance=tolerance,
        rule=rule,
    )
    result = result.copy()
    for column, values in columns.items():
        result[column] = values
    has_previous = previous >= 0
    for column in ("iqr", "cv", "median"):
        current = result[column].to_numpy(dtype=float)
        reference = previous_statistics[column].to_numpy(dtype=float)
        earlier = np.full(len(current), np.nan)
        earlier[has_previous] = reference[previous[has_previous]]
        result[f"{column}_change"] = current - earlier
    return result


def _add_pooling(
    result: pd.DataFrame,
    data: SortedGroups,
    item_kind: np.ndarray,
    *,
    d: float,
    trim: float,
    clip: float,
) -> None:
    """Pooled probabilities for probability, scenario-set and cross-impact rows; NaN
    elsewhere."""
    probability = np.isin(item_kind, ["probability", "scenario_set", "cross_impact"])
    columns = ("pool_trimmed_mean", "pool_geometric_odds", "pool_extremized")
    for column in columns:
        result[column] = np.nan
    if not probability.any():
        return
    # Only the probability groups' blocks, renumbered 0 … k − 1 in the same order.
    selected = probability[data.codes]
    renumber = np.cumsum(probability) - 1
    counts = data.counts[probability]
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    pooled = pooled_columns(
        data.values[selected],
        renumber[data.codes[selected]],
        starts,
        counts,
        d=d,
        trim=trim,
        clip=clip,
    )
    for column in columns:
        values = np.full(len(probability), np.nan)
        values[probability] = pooled[column]
        result[column] = values


def _add_scenarios(result: pd.DataFrame, report: pd.DataFrame | None) -> None:
    """Broadcast the scenario-set normalisation report onto the set's rows."""
    columns = {
        "scenario_sets_normalised": "normalised",
        "scenario_sets_unusable": "unusable",
        "scenario_mean_total": "mean_total",
    }
    if report is None or report.empty:
        for column in columns:
            result[column] = np.nan
        return
    index = pd.MultiIndex.from_arrays(
        [result.index.get_level_values("round"), result.index.get_level_values("item")]
    )
    aligned = report.reindex(index)
    for column, source in columns.items():
        result[column] = aligned[source].to_numpy(dtype=float)


def _add_estimates(
    result: pd.DataFrame,
    prepared: Prepared,
    kinds: Mapping[str, str],
    level: float | Mapping[str, float],
) -> None:
    """Broadcast the aggregated numeric-estimate intervals onto their items' rows, each
    item's intervals standardised to its own level (one aggregation per distinct level:
    a study's few levels, never a loop over items)."""
    keys = [key for key, kind in kinds.items() if kind == "numeric_estimate"]
    columns = {"estimate_lowest": "lowest", "estimate_best": "best", "estimate_highest": "highest"}
    by_level: dict[float, list[str]] = {}
    for key in keys:
        chosen = level.get(key, DEFAULT_ESTIMATE_LEVEL) if isinstance(level, Mapping) else level
        by_level.setdefault(float(chosen), []).append(key)
    parts = []
    for chosen, level_keys in by_level.items():
        rows = _items_subset(prepared, level_keys)
        if rows is not None and len(rows):
            parts.append(aggregate_estimates(rows, level=chosen))
    if not parts:
        for column in columns:
            result[column] = np.nan
        return
    aggregated = pd.concat(parts) if len(parts) > 1 else parts[0]
    index = pd.MultiIndex.from_arrays(
        [result.index.get_level_values("round"), result.index.get_level_values("item")]
    )
    aligned = aggregated.reindex(index)
    for column, source in columns.items():
        result[column] = aligned[source].to_numpy(dtype=float)


def _items_subset(prepared: Prepared, keys: list[str]) -> Prepared | None:
    """The rows of the given items, still encoded (``None`` when there are none)."""
    item_codes, item_names = prepared.column("item")
    wanted = np.isin(item_names, np.asarray(keys, dtype=object))
    if not wanted.any():
        return None
    return prepared.subset(wanted[item_codes])


def _rows_of_items(prepared: Prepared, keys: list[str]) -> pd.DataFrame:
    """The tidy rows of the given items (an empty frame when there are none)."""
    item_codes, item_names = prepared.column("item")
    wanted = np.isin(item_names, np.asarray(keys, dtype=object))
    if not wanted.any():
        return pd.DataFrame(columns=["panelist", "round", "item", "component", "value"])
    return prepared.subset(wanted[item_codes]).tidy


def _add_rankings(result: pd.DataFrame, prepared: Prepared, kinds: Mapping[str, str]) -> None:
    """Kendall's W of every ranking item and round, on the item's rows."""
    for column in ("kendall_w", "kendall_chi2", "kendall_df", "kendall_p"):
        result[column] = np.nan
    keys = [key for key, kind in kinds.items() if kind == "ranking"]
    rows = _rows_of_items(prepared, keys)
    if rows.empty:
        return
    rounds = result.index.get_level_values("round").to_numpy()
    items = result.index.get_level_values("item").to_numpy(dtype=object)
    # One matrix per ranking item and round: few items, each a panelists × objects table.
    for (round_number, item), answers in rows.groupby(["round", "item"], sort=True):
        matrix = answers.pivot_table(
            index="panelist",
            columns="component",
            values="value",
            aggfunc="first",
            dropna=False,
        ).to_numpy(dtype=float)
        coefficient = kendalls_w(matrix, correct_ties=True)
        mask = (rounds == round_number) & (items == item)
        _set_kendall(result, mask, coefficient, "kendall")


def _set_kendall(result: pd.DataFrame, mask: np.ndarray, value: KendallW, prefix: str) -> None:
    result.loc[mask, f"{prefix}_w"] = value.w
    result.loc[mask, f"{prefix}_p"] = value.pvalue
    if prefix == "kendall":
        result.loc[mask, "kendall_chi2"] = value.chi2
        result.loc[mask, "kendall_df"] = float(value.df)


def _add_panel(
    result: pd.DataFrame,
    prepared: Prepared,
    scales: Mapping[str, Scale],
    level: str,
) -> None:
    """Panel-level Kendall's W and Krippendorff's alpha per round and likert scale."""
    names = (
        "panel_kendall_w",
        "panel_kendall_p",
        "panel_kendall_raters",
        "panel_alpha",
        "panel_items",
    )
    columns = {name: np.full(len(result), np.nan) for name in names}
    by_scale: dict[tuple[float | None, float | None, int | None], list[str]] = {}
    for key, scale in scales.items():
        if scale.kind == "likert":
            by_scale.setdefault((scale.minimum, scale.maximum, scale.options), []).append(key)
    item_codes, item_names = prepared.column("item")
    component_codes, component_names = prepared.column("component")
    blank = np.flatnonzero(component_names == "")
    if by_scale and len(prepared) and blank.size:
        panelist_codes, panelists = prepared.column("panelist")
        round_codes, round_numbers = prepared.column("round")
        values = prepared.values
        scale_of_item = np.full(len(item_names), -1, dtype=np.int64)
        for index, keys in enumerate(by_scale.values()):
            scale_of_item[np.isin(item_names, np.asarray(keys, dtype=object))] = index
        row_scale = scale_of_item[item_codes]
        chosen = np.flatnonzero((component_codes == blank[0]) & (row_scale >= 0))
        combination = row_scale[chosen] * len(round_numbers) + round_codes[chosen]
        result_rounds = result.index.get_level_values("round").to_numpy()
        result_items = result.index.get_level_values("item").to_numpy(dtype=object)
        # One panelists × items matrix per (scale, round): a handful of vectorised steps.
        for value in np.flatnonzero(np.bincount(combination)):
            rows = chosen[combination == value]
            local_codes, local_items = factorize_sorted(item_codes[rows])
            if len(local_items) < 2:
                continue
            matrix = np.full((len(panelists), len(local_items)), np.nan)
            matrix[panelist_codes[rows], local_codes] = values[rows]
            matrix = matrix[~np.isnan(matrix).all(axis=1)]
            coefficient = kendalls_w(matrix, correct_ties=True)
            round_number = round_numbers[round_codes[rows[0]]]
            mask = (result_rounds == round_number) & np.isin(result_items, item_names[local_items])
            columns["panel_kendall_w"][mask] = coefficient.w
            columns["panel_kendall_p"][mask] = coefficient.pvalue
            columns["panel_kendall_raters"][mask] = coefficient.raters
            columns["panel_alpha"][mask] = krippendorff_alpha(matrix, level=level)
            columns["panel_items"][mask] = len(local_items)
    for name in names:
        result[name] = columns[name]


def summarize_groups(
    frame: pd.DataFrame | Prepared,
    *,
    rules: Mapping[str, ConsensusRule] | None = None,
    min_group_size: int = 3,
    **settings: Any,
) -> pd.DataFrame:
    """Every statistic of :func:`summarize_round` within each subgroup, small groups masked.

    The panel is split by the tidy frame's ``group`` column (e.g. former U.S. officials,
    former Mexican officials, academics; "" for panelists without a group) and each
    part is summarised exactly as :func:`summarize_round` summarises the whole panel:
    descriptive statistics, consensus, stability (pairs within the group), pooling,
    estimates, rankings and panel-level coefficients.

    Disclosure control: a group's distribution with fewer than ``min_group_size``
    ratings (n) has every statistic masked (NaN / missing) and ``masked = True``; only
    ``n``, ``rule`` and ``quantile_method`` stay.  Because the whole panel's statistics
    are published too, a single masked group among visible ones could be recovered by
    subtraction (its sum is the panel's sum minus the others'), so the smallest visible
    group of that distribution is masked as well (secondary suppression).

    Parameters
    ----------
    frame
        A tidy frame (:mod:`analysis.frame`).
    rules
        Consensus rules per item, as for :func:`summarize_round` (and ``part_rules``
        among ``settings``, as there).
    min_group_size
        The smallest number of ratings a group's statistics may be shown for (≥ 1).
    **settings
        Any other keyword of :func:`summarize_round` (``scales``, ``quantile_method``,
        ``closing_round``, ``bootstrap_resamples`` …).

    Returns
    -------
    pandas.DataFrame
        Indexed by (round, group, item, component) with the columns of
        :data:`SUMMARY_COLUMNS` and ``masked``.
    """
    if min_group_size < 1:
        raise ValueError(f"min_group_size must be at least 1, not {min_group_size}")
    prepared = prepare(frame)
    group_codes, group_names = prepared.column("group")
    parts = []
    # One summary per subgroup: a loop over the few groups, never over items or panelists.
    for code, name in enumerate(group_names):
        # Encoded as the group's rows alone would be, without hashing them again.
        part = summarize_round(prepared.select(group_codes == code), rules=rules or {}, **settings)
        parts.append(pd.concat({name: part}, names=["group"]))
    if not parts:
        empty = summarize_round(prepared.tidy, rules=rules or {}, **settings)
        result = empty.assign(group=pd.Series(dtype=object)).set_index("group", append=True)
    else:
        result = pd.concat(parts)
    result = result.reorder_levels(["round", "group", "item", "component"]).sort_index()
    masked = _disclosure_mask(result, min_group_size)
    result["masked"] = masked
    kept = {"n", "masked", "rule", "quantile_method"}
    for column in result.columns:
        if column in kept:
            continue
        if str(result[column].dtype) == "boolean":
            result.loc[masked, column] = pd.NA
        elif result[column].dtype.kind in "fiu":
            result[column] = result[column].astype(float)
            result.loc[masked, column] = np.nan
        else:
            result[column] = result[column].astype(object)
            result.loc[masked, column] = None
    return result


def _disclosure_mask(result: pd.DataFrame, min_group_size: int) -> np.ndarray:
    """Primary (n < minimum) and secondary suppression of group rows."""
    n = result["n"].to_numpy()
    masked = n < min_group_size
    distribution = pd.MultiIndex.from_arrays(
        [
            result.index.get_level_values("round"),
            result.index.get_level_values("item"),
            result.index.get_level_values("component"),
        ]
    )
    distribution_code, _ = pd.factorize(distribution)
    if distribution_code.size == 0:
        return masked
    groups_per = np.bincount(distribution_code)
    masked_per = np.bincount(distribution_code, weights=masked.astype(float))
    needs_second = (masked_per == 1) & (groups_per > 1)
    candidates = ~masked & needs_second[distribution_code]
    if candidates.any():
        # Within each distribution, the visible candidate with the smallest n.
        order = np.lexsort((n, ~candidates, distribution_code))
        sorted_codes = distribution_code[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = sorted_codes[1:] != sorted_codes[:-1]
        chosen = order[first & candidates[order]]
        masked[chosen] = True
    return masked
