"""Scoring probability forecasts against what happened: Brier and logarithmic scores,
calibration tables, and the score table of every panelist and every pooling method.

Both scores are losses: lower is better, 0 is a perfect forecast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.deferred import deferred
from analysis.frame import validate_frame
from analysis.pool_groups import check_pooling, pool_groups
from analysis.pooling import DEFAULT_CLIP, POOLING_METHODS

if TYPE_CHECKING:
    import pandas as pd
    from scipy import stats
else:
    pd = deferred("pandas")
    stats = deferred("scipy.stats")

CALIBRATION_COLUMNS: tuple[str, ...] = (
    "bin_low",
    "bin_high",
    "count",
    "events",
    "mean_forecast",
    "observed_frequency",
    "ci_low",
    "ci_high",
)
"""The columns of :func:`calibration_table`, in order."""

SCORE_SUMMARY_COLUMNS: tuple[str, ...] = (
    "items",
    "log",
    "probability_items",
    "brier",
    "scenario_items",
    "brier_scenarios",
)
"""The columns of :attr:`ForecastScores.summary`, in order."""


def _probabilities(p: Any) -> np.ndarray:
    """``p`` as a float array of probabilities in [0, 1] (NaN allowed)."""
    array = np.asarray(p, dtype=float)
    if ((array < 0) | (array > 1)).any():
        raise ValueError("probabilities must lie in [0, 1] (divide percentages by 100)")
    return array


def _binary_outcomes(outcome: Any) -> np.ndarray:
    """``outcome`` as a float array of 0 and 1 (NaN allowed: not resolved)."""
    array = np.asarray(outcome, dtype=float)
    finite = array[~np.isnan(array)]
    if not np.isin(finite, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0 or 1 (False or True)")
    return array


def _scalar_or_array(array: np.ndarray) -> Any:
    """A 0-d result as a Python float, anything else unchanged."""
    return float(array) if array.ndim == 0 else array


def _check_log_clip(clip: float) -> None:
    if not 0 <= clip < 0.5:
        raise ValueError(f"clip must be in [0, 0.5), not {clip}")


def brier_score(p: Any, outcome: Any) -> Any:
    """Brier score of probability forecasts of binary events, element by element.

    For a forecast p of an event with outcome o (1 happened, 0 did not),

        BS = (p − o)²

    in [0, 1] (Brier 1950, Monthly Weather Review 78:1, for two categories; Brier's own
    sum over both categories is 2(p − o)², see :func:`categorical_brier_score`).  The
    mean over forecasts is ``sklearn.metrics.brier_score_loss``.

    Parameters
    ----------
    p
        Probabilities in [0, 1] (array-like or scalar; NaN for no forecast).
    outcome
        0 or 1 (or booleans), broadcastable against ``p``; NaN for not resolved.

    Returns
    -------
    float or numpy.ndarray
        The score of each forecast (a float for scalar input); NaN where either input
        is NaN.
    """
    return _scalar_or_array((_probabilities(p) - _binary_outcomes(outcome)) ** 2)


def log_score(p: Any, outcome: Any, *, clip: float = DEFAULT_CLIP) -> Any:
    """Logarithmic score of probability forecasts of binary events, element by element.

    With p̃ = min(max(p, clip), 1 − clip),

        LS = −ln p̃ if the event happened (o = 1),   −ln(1 − p̃) if not (o = 0),

    the negative natural logarithm of the probability given to what happened (Good 1952,
    J R Stat Soc B 14:107); its mean is ``sklearn.metrics.log_loss``.

    Clipping: a forecast of 0 for an event that happens would score +∞, and one such
    answer would make a panelist's mean score infinite whatever else they said.
    Answers are given in whole percent, so 0 % is read as "at most 1 %" and 100 % as "at
    least 99 %", the same reading (and the same default, :data:`DEFAULT_CLIP` = 0.01)
    as the logit pools of :func:`analysis.pool_probabilities`: the worst score is
    −ln 0.01 ≈ 4.61 and a 100 % forecast that comes true scores −ln 0.99 ≈ 0.01.
    ``clip = 0`` gives the unclipped score (+∞ for a certain forecast that fails).

    Parameters
    ----------
    p
        Probabilities in [0, 1] (NaN for no forecast).
    outcome
        0 or 1 (or booleans), broadcastable against ``p``; NaN for not resolved.
    clip
        In [0, 0.5).

    Returns
    -------
    float or numpy.ndarray
        The score of each forecast; NaN where either input is NaN.
    """
    _check_log_clip(clip)
    probabilities = np.clip(_probabilities(p), clip, 1 - clip)
    outcomes = _binary_outcomes(outcome)
    given_to_outcome = np.where(outcomes == 1, probabilities, 1 - probabilities)
    given_to_outcome = np.where(np.isnan(outcomes), np.nan, given_to_outcome)
    with np.errstate(divide="ignore"):
        return _scalar_or_array(-np.log(given_to_outcome))


def _categorical(p: Any, realised: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (p, realised index, mask of resolved forecasts) of a categorical score."""
    probabilities = _probabilities(p)
    if probabilities.ndim == 0:
        raise ValueError("p must have the categories on its last axis")
    index = np.asarray(realised, dtype=float)
    if index.shape != probabilities.shape[:-1]:
        raise ValueError(
            f"realised has shape {index.shape}; expected {probabilities.shape[:-1]} "
            "(one category per forecast)"
        )
    resolved = ~np.isnan(index)
    categories = probabilities.shape[-1]
    chosen = index[resolved]
    if ((chosen < 0) | (chosen >= categories) | (chosen != np.floor(chosen))).any():
        raise ValueError(f"realised must be category indices 0 … {categories - 1} (or NaN)")
    totals = probabilities.sum(axis=-1)
    complete = ~np.isnan(totals)
    if (np.abs(totals[complete] - 1) > 1e-6).any():
        raise ValueError("each forecast's probabilities must sum to 1 over the categories")
    return probabilities, np.where(resolved, index, 0).astype(np.int64), resolved


def categorical_brier_score(p: Any, realised: Any) -> Any:
    """Brier score of forecasts over K mutually exclusive categories (scenario sets).

    For a forecast p₁ … p_K (summing to 1) and the realised category r,

        BS = Σₖ (pₖ − oₖ)²,   oₖ = 1 if k = r else 0,

    in [0, 2]: Brier's (1950) original score.  For K = 2 it is twice
    :func:`brier_score` of either category.

    Parameters
    ----------
    p
        Array (…, K) of probabilities, each forecast summing to 1 (within 1e-6); a
        forecast containing NaN scores NaN.
    realised
        Array (…) of the realised category's index 0 … K − 1; NaN for not resolved.

    Returns
    -------
    float or numpy.ndarray
        One score per forecast.
    """
    probabilities, index, resolved = _categorical(p, realised)
    indicator = np.zeros_like(probabilities)
    np.put_along_axis(indicator, index[..., None], 1.0, axis=-1)
    score = ((probabilities - indicator) ** 2).sum(axis=-1)
    return _scalar_or_array(np.where(resolved, score, np.nan))


def categorical_log_score(p: Any, realised: Any, *, clip: float = DEFAULT_CLIP) -> Any:
    """Logarithmic score of forecasts over K categories: −ln p̃_r of the realised one.

    p̃_r = min(max(p_r, clip), 1 − clip), as in :func:`log_score` (which this equals for
    K = 2).  Only the realised category's probability matters (the score is local).

    Parameters
    ----------
    p
        Array (…, K) of probabilities summing to 1 per forecast.
    realised
        Array (…) of realised category indices; NaN for not resolved.
    clip
        In [0, 0.5).

    Returns
    -------
    float or numpy.ndarray
        One score per forecast.
    """
    _check_log_clip(clip)
    probabilities, index, resolved = _categorical(p, realised)
    given = np.take_along_axis(probabilities, index[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore"):
        score = -np.log(np.clip(given, clip, 1 - clip))
    return _scalar_or_array(np.where(resolved, score, np.nan))


def calibration_table(
    p: Any, outcome: Any, bins: int | Any = 10, *, confidence: float = 0.95
) -> pd.DataFrame:
    """Forecast bins against observed frequencies (a reliability diagram's table).

    Forecasts are put in bins by probability: [e₀, e₁), [e₁, e₂), …, [e_{B−1}, e_B]
    (the last bin closed, so a forecast of 1 counts); with ``bins = B`` the edges are
    e_k = k / B, each the double nearest to it, so a forecast equal to an edge (70 %
    read as 0.7) lies in the bin that edge opens.  Per bin b with n_b forecasts of
    which k_b came true:

    - ``mean_forecast`` = mean of the bin's forecasts;
    - ``observed_frequency`` = k_b / n_b;
    - ``ci_low``, ``ci_high``: the Wilson score interval for k_b / n_b at
      ``confidence`` (Wilson 1927, J Am Stat Assoc 22:209; without continuity
      correction), from ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``.
      Wilson's interval keeps its coverage for small n and for frequencies near 0 or 1,
      where the normal (Wald) interval fails (Brown, Cai & DasGupta 2001, Stat Sci
      16:101) — calibration bins are often both small and extreme.

    A well-calibrated forecaster's observed frequencies lie near the mean forecasts.
    Forecast–outcome pairs with a NaN are left out.  Empty bins are kept (count 0, the
    other statistics NaN) so every table has the same rows.

    Parameters
    ----------
    p
        Probabilities in [0, 1].
    outcome
        0 or 1, same shape as ``p``.
    bins
        The number of equal-width bins on [0, 1], or the bin edges (increasing, from 0
        to 1).
    confidence
        Confidence level of the intervals, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        One row per bin (index ``bin`` 0 … B − 1) with :data:`CALIBRATION_COLUMNS`.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    probabilities = _probabilities(p).ravel()
    outcomes = _binary_outcomes(outcome).ravel()
    if probabilities.shape != outcomes.shape:
        raise ValueError("p and outcome must have the same number of elements")
    if np.ndim(bins) == 0:
        count = int(bins)
        if count < 1 or count != bins:
            raise ValueError(f"bins must be a positive integer or a list of edges, not {bins}")
        # k / count rounded, not linspace's k · (1 / count): linspace gives
        # 0.30000000000000004 for 3/10, which put a forecast of 30 % (0.3) in the bin
        # below its own edge, [.2, .3).
        edges = np.array([position / count for position in range(count + 1)])
    else:
        edges = np.asarray(bins, dtype=float)
        if edges.size < 2 or edges[0] != 0 or edges[-1] != 1 or (np.diff(edges) <= 0).any():
            raise ValueError("bin edges must increase strictly from 0 to 1")
    keep = ~(np.isnan(probabilities) | np.isnan(outcomes))
    probabilities, outcomes = probabilities[keep], outcomes[keep]
    number = len(edges) - 1
    which = np.clip(np.searchsorted(edges, probabilities, side="right") - 1, 0, number - 1)
    counts = np.bincount(which, minlength=number)
    events = np.bincount(which, weights=outcomes, minlength=number)
    sums = np.bincount(which, weights=probabilities, minlength=number)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_forecast = sums / counts
        observed = events / counts
    low = np.full(number, np.nan)
    high = np.full(number, np.nan)
    for position in np.flatnonzero(counts):
        interval = stats.binomtest(int(events[position]), int(counts[position])).proportion_ci(
            confidence_level=confidence, method="wilson"
        )
        low[position], high[position] = interval.low, interval.high
    table = pd.DataFrame(
        {
            "bin_low": edges[:-1],
            "bin_high": edges[1:],
            "count": counts.astype("int64"),
            "events": events.astype("int64"),
            "mean_forecast": mean_forecast,
            "observed_frequency": observed,
            "ci_low": low,
            "ci_high": high,
        },
        index=pd.RangeIndex(number, name="bin"),
    )
    return table


@dataclass(frozen=True)
class ForecastScores:
    """Scores of every panelist and every pooling method on the resolved items.

    ``forecasts``
        One row per forecaster and binary event: columns ``kind`` (``"panelist"`` or
        ``"pool"``), ``forecaster`` (the pseudonym, or the pooling method's name),
        ``item``, ``component`` ("" for a probability item, the scenario key for a
        scenario set: each scenario is one event), ``forecast`` (probability) and
        ``outcome`` (0 or 1).  :func:`calibration_table` of a subset of these rows is a
        forecaster's calibration table.
    ``items``
        One row per forecaster and item: ``kind``, ``forecaster``, ``item``,
        ``item_kind`` (``"probability"`` or ``"scenario_set"``), ``brier``
        (:func:`brier_score` for a probability item, :func:`categorical_brier_score`
        for a scenario set) and ``log`` (:func:`log_score` or
        :func:`categorical_log_score`).
    ``summary``
        Indexed by (kind, forecaster), with :data:`SCORE_SUMMARY_COLUMNS`: ``items``
        scored and the mean ``log`` score over all of them (comparable across item
        kinds: −ln of the probability given to what happened); ``probability_items``
        and their mean ``brier``; ``scenario_items`` and their mean
        ``brier_scenarios`` (Brier's sum over categories, range [0, 2], so not averaged
        with the other).  Means over different item sets are not strictly comparable:
        compare panelists on ``items`` too.
    ``settings``
        The round used per item and the pooling and clip settings.
    """

    forecasts: pd.DataFrame
    items: pd.DataFrame
    summary: pd.DataFrame
    settings: Mapping[str, Any]


def _outcome_series(outcomes: Mapping[str, Any] | pd.Series) -> pd.Series:
    """Resolved items only: item key → 0/1 (float) or realised scenario key (str)."""
    series = pd.Series(outcomes, dtype=object) if not isinstance(outcomes, pd.Series) else outcomes
    kept: dict[str, str | float] = {}
    for item, outcome in series.items():
        if outcome is None or (isinstance(outcome, float) and np.isnan(outcome)):
            continue
        if isinstance(outcome, str):
            kept[str(item)] = outcome
            continue
        if isinstance(outcome, bool | np.bool_) or outcome in (0, 1):
            kept[str(item)] = float(outcome)
            continue
        raise ValueError(
            f"outcome of item {item!r} must be 0 or 1, or the realised scenario's key; "
            f"got {outcome!r}"
        )
    return pd.Series(kept, dtype=object)


def _latest_rounds(tidy: pd.DataFrame, round_number: int | None) -> pd.DataFrame:
    """Rows of the round scored per item: ``round_number``, or each item's latest."""
    if round_number is not None:
        return tidy.loc[tidy["round"].to_numpy() == round_number]
    latest = tidy.groupby("item", sort=False)["round"].transform("max")
    return tidy.loc[(tidy["round"] == latest).to_numpy()]


def score_forecasts(
    frame: pd.DataFrame,
    outcomes: Mapping[str, Any] | pd.Series,
    *,
    scale: float = 100.0,
    round_number: int | None = None,
    d: float = 2.5,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
    log_clip: float = DEFAULT_CLIP,
) -> ForecastScores:
    """Score each panelist and each pooling method on the items that have resolved.

    Forecasts are the answers of one round per item: ``round_number``, or by default
    the latest round in ``frame`` that holds the item (the panel's final judgement).

    - Probability items (component ""): the outcome is 0 or 1; each panelist's forecast
      is value / ``scale``.
    - Scenario sets (components = scenario keys): the outcome is the realised
      scenario's key; each panelist's set is rescaled to sum to 1 (as
      :func:`analysis.normalise_scenarios`); a set with a "cannot judge" (NaN), a sum
      of 0, or a scenario missing is not scored.
    - Pools: for every method of :data:`analysis.POOLING_METHODS` (d, trim and clip as
      in :func:`analysis.pool_probabilities`), the panel's forecasts of each event are
      pooled; a pooled scenario set is rescaled to sum to 1 (the median and logit pools
      of a set need not sum to 1).

    Missing answers: a panelist is scored on the resolved items they answered in the
    scored round; "cannot judge" is not a forecast.  Items without an outcome (or with
    outcome None/NaN) are ignored.

    Parameters
    ----------
    frame
        A tidy frame (:mod:`analysis.frame`) of probability and scenario-set answers.
    outcomes
        Item key → 0/1 (or bool) for a probability item, or the realised scenario's key
        for a scenario set.
    scale
        What a probability of 1 is on the answer scale (100 for percent).
    round_number
        Score this round's answers; ``None`` takes each item's latest round.
    d, trim, clip
        Pooling settings (the extremizing factor d is used by ``extremized`` only).
    log_clip
        The clip of the log score (see :func:`log_score`).

    Returns
    -------
    ForecastScores
    """
    for method in POOLING_METHODS:
        check_pooling(method, d=d, trim=trim, clip=clip)
    _check_log_clip(log_clip)
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale}")
    resolved = _outcome_series(outcomes)
    tidy = validate_frame(frame)
    tidy = tidy.loc[tidy["item"].isin(resolved.index).to_numpy()]
    tidy = _latest_rounds(tidy, round_number)
    rounds = tidy.groupby("item", sort=True)["round"].max()

    events = pd.concat(
        [_probability_events(tidy, resolved, scale), _scenario_events(tidy, resolved, scale)],
        ignore_index=True,
    )
    panel = events.assign(kind="panelist", forecaster=events["panelist"]).drop(columns="panelist")
    pools = [
        _pooled_events(events, method, d=d, trim=trim, clip=clip) for method in POOLING_METHODS
    ]
    forecasts = pd.concat([panel, *pools], ignore_index=True)
    forecasts = forecasts[
        ["kind", "forecaster", "item", "component", "item_kind", "forecast", "outcome"]
    ]
    forecasts = forecasts.sort_values(
        ["kind", "forecaster", "item", "component"], kind="stable", ignore_index=True
    )
    items = _item_scores(forecasts, log_clip)
    summary = _summary(items)
    settings = {
        "rounds": {str(item): int(number) for item, number in rounds.items()},
        "d": float(d),
        "trim": float(trim),
        "clip": float(clip),
        "log_clip": float(log_clip),
        "scale": float(scale),
    }
    return ForecastScores(
        forecasts=forecasts.drop(columns="item_kind"),
        items=items,
        summary=summary,
        settings=settings,
    )


def _probability_events(tidy: pd.DataFrame, resolved: pd.Series, scale: float) -> pd.DataFrame:
    """Panelists' forecasts of the resolved probability items."""
    numeric = resolved[resolved.map(lambda outcome: not isinstance(outcome, str))]
    rows = tidy.loc[tidy["item"].isin(numeric.index).to_numpy()]
    wrong = rows.loc[rows["component"] != "", "item"].unique()
    if len(wrong):
        raise ValueError(
            f"item {wrong[0]!r} is a scenario set: its outcome must be the realised "
            "scenario's key, not 0/1"
        )
    rows = rows.dropna(subset=["value"])
    forecast = rows["value"].to_numpy(dtype=float) / scale
    if ((forecast < 0) | (forecast > 1)).any():
        bad = rows["item"].to_numpy()[(forecast < 0) | (forecast > 1)][0]
        raise ValueError(f"item {bad!r} has a probability outside [0, {scale:g}]")
    return pd.DataFrame(
        {
            "panelist": rows["panelist"].to_numpy(),
            "item": rows["item"].to_numpy(),
            "component": "",
            "item_kind": "probability",
            "forecast": forecast,
            "outcome": numeric.reindex(rows["item"]).to_numpy(dtype=float),
        }
    )


def _scenario_events(tidy: pd.DataFrame, resolved: pd.Series, scale: float) -> pd.DataFrame:
    """Panelists' normalised scenario sets of the resolved scenario-set items."""
    realised = resolved[resolved.map(lambda outcome: isinstance(outcome, str))]
    rows = tidy.loc[tidy["item"].isin(realised.index).to_numpy()]
    if (rows["component"] == "").any():
        bad = rows.loc[rows["component"] == "", "item"].iloc[0]
        raise ValueError(f"item {bad!r} is not a scenario set: its outcome must be 0 or 1")
    components = rows.groupby("item", sort=True)["component"].unique()
    for item, scenario in realised.items():
        if item in components.index and scenario not in set(components[item]):
            raise ValueError(f"item {item!r} has no scenario {scenario!r}")
    if rows.empty:
        return pd.DataFrame(
            columns=["panelist", "item", "component", "item_kind", "forecast", "outcome"]
        )
    per_set = rows.groupby(["item", "panelist"], sort=False)["value"]
    total = per_set.transform("sum").to_numpy()
    incomplete = (
        rows["value"]
        .isna()
        .groupby([rows["item"], rows["panelist"]], sort=False)
        .transform("any")
        .to_numpy(dtype=bool)
    )
    size = per_set.transform("size").to_numpy()
    expected = components.map(len).reindex(rows["item"]).to_numpy()
    values = rows["value"].to_numpy(dtype=float)
    outside = (values < 0) | (values > scale)
    if outside.any():
        bad = rows["item"].to_numpy()[outside][0]
        raise ValueError(f"item {bad!r} has a scenario probability outside [0, {scale:g}]")
    usable = ~incomplete & (total > 0) & (size == expected)
    rows = rows.loc[usable]
    with np.errstate(divide="ignore", invalid="ignore"):
        forecast = values[usable] / total[usable]
    return pd.DataFrame(
        {
            "panelist": rows["panelist"].to_numpy(),
            "item": rows["item"].to_numpy(),
            "component": rows["component"].to_numpy(),
            "item_kind": "scenario_set",
            "forecast": forecast,
            "outcome": (
                rows["component"].to_numpy() == realised.reindex(rows["item"]).to_numpy()
            ).astype(float),
        }
    )


def _pooled_events(
    events: pd.DataFrame, method: str, *, d: float, trim: float, clip: float
) -> pd.DataFrame:
    """The pooled forecast of every event by one method (scenario sets renormalised)."""
    columns = ["item", "component", "item_kind", "outcome"]
    if events.empty:
        return pd.DataFrame(columns=["kind", "forecaster", *columns, "forecast"])
    grouped = events.groupby(["item", "component"], sort=True)
    keys = grouped[["item_kind", "outcome"]].first().reset_index()
    pooled = pool_groups(
        events["forecast"].to_numpy(dtype=float),
        grouped.ngroup().to_numpy(),
        len(keys),
        method=method,
        d=d,
        trim=trim,
        clip=clip,
    )
    keys["forecast"] = pooled
    scenario = (keys["item_kind"] == "scenario_set").to_numpy()
    if scenario.any():
        totals = keys.loc[scenario].groupby("item")["forecast"].transform("sum")
        keys.loc[scenario, "forecast"] = keys.loc[scenario, "forecast"] / totals
    keys.insert(0, "forecaster", method)
    keys.insert(0, "kind", "pool")
    return keys


def _item_scores(forecasts: pd.DataFrame, log_clip: float) -> pd.DataFrame:
    """Per forecaster and item: Brier and log scores from the event rows."""
    columns = ["kind", "forecaster", "item", "item_kind", "brier", "log"]
    if forecasts.empty:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    scored = forecasts.assign(
        brier=brier_score(forecasts["forecast"].to_numpy(), forecasts["outcome"].to_numpy()),
        log=log_score(
            forecasts["forecast"].to_numpy(), forecasts["outcome"].to_numpy(), clip=log_clip
        ),
    )
    # A scenario set's log score is that of the realised scenario alone (the score is
    # local); its Brier score sums the squared errors of all its scenarios.
    scenario = (scored["item_kind"] == "scenario_set").to_numpy()
    scored.loc[scenario & (scored["outcome"] == 0).to_numpy(), "log"] = 0.0
    result = scored.groupby(["kind", "forecaster", "item", "item_kind"], sort=True).agg(
        brier=("brier", "sum"), log=("log", "sum")
    )
    return result.reset_index()


def _summary(items: pd.DataFrame) -> pd.DataFrame:
    """Per forecaster: item counts and mean scores (see :class:`ForecastScores`)."""
    index_names = ["kind", "forecaster"]
    if items.empty:
        return pd.DataFrame(
            {column: pd.Series(dtype=float) for column in SCORE_SUMMARY_COLUMNS},
            index=pd.MultiIndex.from_arrays([[], []], names=index_names),
        )
    probability = items["item_kind"] == "probability"
    frame = items.assign(
        brier_probability=items["brier"].where(probability),
        brier_scenario=items["brier"].where(~probability),
        is_probability=probability.astype(int),
        is_scenario=(~probability).astype(int),
    )
    summary = frame.groupby(index_names, sort=True).agg(
        items=("item", "size"),
        log=("log", "mean"),
        probability_items=("is_probability", "sum"),
        brier=("brier_probability", "mean"),
        scenario_items=("is_scenario", "sum"),
        brier_scenarios=("brier_scenario", "mean"),
    )
    for column in ("items", "probability_items", "scenario_items"):
        summary[column] = summary[column].astype("int64")
    return summary[list(SCORE_SUMMARY_COLUMNS)]


POOL_COMPARISON_COLUMNS: tuple[str, ...] = (
    "panelists",
    "pool_better",
    "tied",
    "panelist_better",
)
"""The columns of :func:`pool_versus_panelists`, in order."""


def pool_versus_panelists(items: pd.DataFrame, *, tolerance: float = 1e-12) -> pd.DataFrame:
    """How many panelists each pooling method beats, on the items each one answered.

    For panelist :math:`i`, who was scored on the resolved items :math:`I_i`, and pool
    :math:`p`, compare the panelist's mean logarithmic score with the pool's mean over
    the same items:

    .. math:: \\bar L_i = \\frac{1}{|I_i|}\\sum_{j \\in I_i} L_{ij}, \\qquad
              \\bar L_{p,i} = \\frac{1}{|I_i|}\\sum_{j \\in I_i} L_{pj}.

    The pool is better for that panelist when :math:`\\bar L_{p,i} < \\bar L_i`, the
    panelist is better when :math:`\\bar L_i < \\bar L_{p,i}`, and they tie within
    ``tolerance``.  Matching the items matters: a panelist who answered only the easy
    items would otherwise be compared with a pool scored on the hard ones too.  The log
    score is used because it is defined on probability items and scenario sets alike
    (Brier's categorical score is on another scale); it is a loss, lower is better.
    This is the usual check of the "wisdom of the crowd" in forecasting panels: how
    often the aggregate outscores the individuals it aggregates (Clemen 1989;
    Satopää et al. 2014).

    Parameters
    ----------
    items : pandas.DataFrame
        :attr:`ForecastScores.items`: one row per forecaster and item with ``kind``
        (``"panelist"`` or ``"pool"``), ``forecaster``, ``item`` and ``log``.  An item a
        pool has no score on (none of its rows) leaves the panelists who answered it
        out of that pool's comparison, as does a missing (NaN) log score.

    Returns
    -------
    pandas.DataFrame
        Indexed by pool (``pool``, in order of appearance), with
        :data:`POOL_COMPARISON_COLUMNS`: the panelists compared and how many of them
        the pool beats, ties and loses to.  Empty without pools or panelists.
    """
    columns = list(POOL_COMPARISON_COLUMNS)
    empty = pd.DataFrame(
        {column: pd.Series(dtype="int64") for column in columns},
        index=pd.Index([], name="pool", dtype=object),
    )
    if items.empty:
        return empty
    kinds = items["kind"].to_numpy()
    pools = items.loc[kinds == "pool", ["forecaster", "item", "log"]]
    panel = items.loc[kinds == "panelist", ["forecaster", "item", "log"]]
    panel = panel.loc[panel["log"].notna().to_numpy()]
    if pools.empty or panel.empty:
        return empty
    by_pool = pools.pivot_table(index="item", columns="forecaster", values="log", aggfunc="first")
    names = list(dict.fromkeys(pools["forecaster"]))
    records = []
    for name in names:
        pooled = panel["item"].map(by_pool[name]).to_numpy(dtype=float)
        known = ~np.isnan(pooled)
        compared = pd.DataFrame(
            {
                "forecaster": panel["forecaster"].to_numpy()[known],
                "own": panel["log"].to_numpy(dtype=float)[known],
                "pool": pooled[known],
            }
        )
        means = compared.groupby("forecaster", sort=False)[["own", "pool"]].mean()
        difference = means["own"].to_numpy() - means["pool"].to_numpy()
        records.append(
            {
                "pool": name,
                "panelists": len(means),
                "pool_better": int((difference > tolerance).sum()),
                "tied": int((np.abs(difference) <= tolerance).sum()),
                "panelist_better": int((difference < -tolerance).sum()),
            }
        )
    return pd.DataFrame.from_records(records, index="pool", columns=["pool", *columns]).astype(
        "int64"
    )
