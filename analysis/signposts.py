"""Diagnostic signposts: an analysis of competing hypotheses inside the Delphi.

For each signpost (an observable event) the experts give, per scenario, the probability
that the signpost is observed within the horizon if that scenario is unfolding — a
signpost item whose components are the scenario keys.  A signpost is diagnostic when
these likelihoods differ between scenarios: observing it (or not) then shifts the
scenario probabilities (Heuer 1999, *Psychology of Intelligence Analysis*, ch. 8, the
analysis of competing hypotheses, in its Bayesian form).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.deferred import deferred
from analysis.frame import validate_frame
from analysis.pool_groups import check_pooling, pool_frame
from analysis.pooling import DEFAULT_CLIP
from analysis.scenario_sets import item_rows, pooled_scenarios

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

LIKELIHOOD_COLUMNS: tuple[str, ...] = (
    "likelihood",
    "n",
    "sd",
    "lr_vs_rest",
    "log_lr_vs_rest",
    "lr_absent_vs_rest",
    "log_lr_absent_vs_rest",
)
"""The columns of :attr:`SignpostDiagnostics.likelihoods`, in order."""

RANKING_COLUMNS: tuple[str, ...] = (
    "rank",
    "information_gain",
    "log_lr_range",
    "log_lr_range_absent",
    "p_seen",
)
"""The columns of :attr:`SignpostDiagnostics.ranking`, in order."""


@dataclass(frozen=True)
class SignpostDiagnostics:
    """The result of :func:`signpost_diagnostics` (probabilities in [0, 1]).

    ``likelihoods``
        Indexed by (signpost, scenario), with :data:`LIKELIHOOD_COLUMNS`: the pooled
        ``likelihood`` P(seen | scenario), the ``n`` experts who gave one and their
        ``sd`` (n − 1), and the likelihood ratios of the scenario against the others
        (prior-weighted, see :func:`signpost_diagnostics`) when the signpost is seen and
        when it is not, with their natural logarithms.
    ``matrix``
        The pooled likelihoods, one row per signpost and one column per scenario (the
        input of :func:`analysis.update_scenarios`).
    ``pairs``
        One row per signpost and ordered pair of scenarios: ``signpost``,
        ``scenario``, ``versus``, ``lr`` = P(seen | scenario) / P(seen | versus),
        ``log_lr``, and the same when it is not seen: ``lr_absent``,
        ``log_lr_absent``.
    ``ranking``
        Indexed by signpost, with :data:`RANKING_COLUMNS`, best first.
    ``individual``
        Each expert's likelihoods: ``panelist``, ``signpost``, ``scenario``,
        ``likelihood`` (for the sensitivity range of :func:`analysis.update_scenarios`).
    ``prior``
        The scenario probabilities used as the prior.
    ``settings``
        Rounds, pooling settings and clip.
    """

    likelihoods: pd.DataFrame
    matrix: pd.DataFrame
    pairs: pd.DataFrame
    ranking: pd.DataFrame
    individual: pd.DataFrame
    prior: pd.Series
    settings: Mapping[str, Any]


def signpost_diagnostics(
    frame: pd.DataFrame,
    *,
    signpost_items: Sequence[str],
    prior: Mapping[str, float] | pd.Series | None = None,
    scenario_item: str | None = None,
    round_number: int | None = None,
    scale: float = 100.0,
    method: str = "mean",
    d: float | None = None,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
) -> SignpostDiagnostics:
    """Pool signpost likelihoods, compute likelihood ratios and rank the signposts.

    **Likelihoods.**  For signpost E and scenario s, each expert's P(E seen within the
    horizon | s) is value / ``scale``; the panel's ℓ_s is their pool by ``method``
    (:func:`analysis.pool_probabilities`).  Likelihoods need not sum to anything across
    scenarios and are not rescaled.

    **Likelihood ratios.**  With ℓ̃ = min(max(ℓ, clip), 1 − clip) — so that a pooled
    likelihood of 0 or 1 gives a finite ratio; 0.01 reads a pooled 0 % as "at most
    1 %", as the logit pools do —

    - between two scenarios: LR(s : s') = ℓ̃_s / ℓ̃_s' when E is seen, and
      (1 − ℓ̃_s) / (1 − ℓ̃_s') when it is not (``pairs``);
    - against the others: LR(s : not s) = ℓ̃_s / ℓ̄_s with the prior-weighted
      alternative ℓ̄_s = Σ_{s'≠s} π_s' ℓ̃_s' / Σ_{s'≠s} π_s' (the likelihood of E
      under "some other scenario", Heuer's consistency of the evidence with the
      hypothesis against all the others), and (1 − ℓ̃_s) / (1 − ℓ̄_s) when E is not
      seen.  Posterior odds of s = prior odds × this ratio.

    **Ranking by discrimination**, two measures:

    - ``information_gain``: the mutual information between the scenario S ~ π and
      whether E is observed, in bits,

          I(S; E) = H(p_E) − Σ_s π_s H(ℓ_s),   p_E = Σ_s π_s ℓ_s,

      with H the binary entropy (0·log 0 = 0; the unclipped likelihoods): the
      expected reduction of the uncertainty about the scenario from watching E, equal
      to the expected Kullback–Leibler divergence of the posterior from the prior
      (Lindley 1956, Ann Math Stat 27:986).  It is 0 when E is equally likely under
      every scenario and at most min(1, H(π)) bits; it accounts for the prior and for
      how likely E is to be seen at all.
    - ``log_lr_range``: max_s ln ℓ̃_s − min_s ln ℓ̃_s, the largest |ln LR| between two
      scenarios when E is seen, and ``log_lr_range_absent`` the same for not seen:
      the spread of the log likelihood ratios, independent of the prior.

    Signposts are ranked by information gain (ties by the log-LR range).  ``p_seen``
    is p_E, the prior probability of observing the signpost.

    **Prior**: ``prior`` if given (rescaled to sum to 1), else the pooled
    ``scenario_item`` (:func:`analysis.pooled_scenarios` with the same pooling), else
    uniform over the scenarios.

    Missing answers: "cannot judge" and unanswered cells are left out of each pool; a
    cell nobody answered has a NaN likelihood, and its signpost's ratios and ranking
    measures are NaN (ranked last).

    Parameters
    ----------
    frame
        A tidy frame holding the signpost items (components = scenario keys).
    signpost_items
        The signpost items' keys (each signpost's key is its item key).
    prior
        Scenario → probability.
    scenario_item
        A scenario-set item whose pooled answers are the prior (when ``prior`` is not
        given).
    round_number
        The round used; ``None``: each item's latest round.
    scale
        What a probability of 1 is on the answer scale (100 for percent).
    method, d, trim, clip
        Pooling settings; ``clip`` also bounds the likelihoods in the ratios.

    Returns
    -------
    SignpostDiagnostics
    """
    check_pooling(method, d=d, trim=trim, clip=clip)
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale}")
    if isinstance(signpost_items, str) or not len(signpost_items):
        raise ValueError("signpost_items must be a non-empty list of item keys")
    tidy = validate_frame(frame)
    parts, rounds = [], {}
    for item in signpost_items:
        rows = item_rows(tidy, item, round_number)
        if rows.empty:
            raise ValueError(f"no answer to the signpost item {item!r}")
        if (rows["component"] == "").any():
            raise ValueError(f"signpost item {item!r} must have one component per scenario")
        rounds[item] = int(rows["round"].iloc[0])
        parts.append(rows.assign(signpost=item, scenario=rows["component"]))
    rows = pd.concat(parts, ignore_index=True)
    likelihood = rows["value"].to_numpy(dtype=float) / scale
    outside = (likelihood < 0) | (likelihood > 1)
    if outside.any():
        bad = rows["signpost"].to_numpy()[outside][0]
        raise ValueError(f"signpost item {bad!r} has a probability outside [0, {scale:g}]")
    individual = pd.DataFrame(
        {
            "panelist": rows["panelist"].to_numpy(),
            "signpost": rows["signpost"].to_numpy(),
            "scenario": rows["scenario"].to_numpy(),
            "likelihood": likelihood,
        }
    )
    scenarios = sorted(set(individual["scenario"].unique()))
    pooling: dict[str, Any] = {"method": method, "d": d, "trim": trim, "clip": clip}
    weights = _prior(prior, scenario_item, scenarios, tidy, round_number, pooling)
    signposts = list(dict.fromkeys(signpost_items))
    answered = individual.dropna(subset=["likelihood"])
    pooled = pool_frame(answered, ["signpost", "scenario"], value="likelihood", **pooling)
    matrix = pooled.unstack("scenario").reindex(index=signposts, columns=scenarios)
    matrix.index.name, matrix.columns.name = "signpost", "scenario"

    values = matrix.to_numpy(dtype=float)
    clipped = np.clip(values, clip, 1 - clip)
    pi = weights.to_numpy(dtype=float)
    likelihoods = _likelihood_table(answered, matrix, clipped, pi)
    pairs = _pairs(signposts, scenarios, clipped)
    ranking = _ranking(signposts, values, clipped, pi)
    settings = {
        "rounds": rounds,
        "scale": float(scale),
        "prior_source": "given" if prior is not None else (scenario_item or "uniform"),
        **pooling,
    }
    return SignpostDiagnostics(
        likelihoods=likelihoods,
        matrix=matrix,
        pairs=pairs,
        ranking=ranking,
        individual=individual.sort_values(["panelist", "signpost", "scenario"], ignore_index=True),
        prior=weights,
        settings=settings,
    )


def _prior(
    prior: Mapping[str, float] | pd.Series | None,
    scenario_item: str | None,
    scenarios: list[str],
    tidy: pd.DataFrame,
    round_number: int | None,
    pooling: Mapping[str, Any],
) -> pd.Series:
    """The prior over ``scenarios`` (see :func:`signpost_diagnostics`)."""
    if prior is not None:
        given = pd.Series(prior, dtype=float)
    elif scenario_item is not None:
        given = pooled_scenarios(tidy, scenario_item, round_number=round_number, **pooling)
    else:
        given = pd.Series(1.0, index=scenarios)
    return check_prior(given, scenarios)


def check_prior(prior: pd.Series, scenarios: Sequence[str]) -> pd.Series:
    """``prior`` over exactly ``scenarios``, non-negative, rescaled to sum to 1."""
    keys = {str(key) for key in prior.index}
    if keys != set(scenarios):
        missing = sorted(set(scenarios) - keys) or sorted(keys - set(scenarios))
        raise ValueError(
            f"the prior and the likelihoods must name the same scenarios; {missing[0]!r} "
            "is in one only"
        )
    values = pd.Series(prior.to_numpy(dtype=float), index=[str(key) for key in prior.index])
    values = values.reindex(list(scenarios))
    if values.isna().any() or (values < 0).any() or not values.sum() > 0:
        raise ValueError("the prior must give every scenario a probability ≥ 0, not all 0")
    result = values / values.sum()
    result.index.name = "scenario"
    result.name = "prior"
    return result


def _rest(clipped: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """ℓ̄_s: the prior-weighted likelihood of the other scenarios (signposts × scenarios)."""
    total = (clipped * pi).sum(axis=1, keepdims=True)
    others = 1 - pi
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total - clipped * pi) / others


def _likelihood_table(
    answered: pd.DataFrame, matrix: pd.DataFrame, clipped: np.ndarray, pi: np.ndarray
) -> pd.DataFrame:
    """Per signpost and scenario: pooled likelihood, n, sd and ratios against the rest."""
    table = matrix.stack(future_stack=True).rename("likelihood").to_frame()
    grouped = answered.groupby(["signpost", "scenario"])["likelihood"]
    table["n"] = grouped.size().reindex(table.index, fill_value=0).astype("int64")
    table["sd"] = grouped.std(ddof=1).reindex(table.index)
    rest = _rest(clipped, pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        seen = clipped / rest
        absent = (1 - clipped) / (1 - rest)
    table["lr_vs_rest"] = seen.reshape(-1)
    table["log_lr_vs_rest"] = np.log(seen).reshape(-1)
    table["lr_absent_vs_rest"] = absent.reshape(-1)
    table["log_lr_absent_vs_rest"] = np.log(absent).reshape(-1)
    return table[list(LIKELIHOOD_COLUMNS)]


def _pairs(signposts: list[str], scenarios: list[str], clipped: np.ndarray) -> pd.DataFrame:
    """Likelihood ratios of every ordered pair of different scenarios."""
    count = len(scenarios)
    first, second = np.meshgrid(np.arange(count), np.arange(count), indexing="ij")
    keep = first != second
    first, second = first[keep], second[keep]
    seen = clipped[:, first] / clipped[:, second]
    absent = (1 - clipped[:, first]) / (1 - clipped[:, second])
    names = np.asarray(scenarios, dtype=object)
    return pd.DataFrame(
        {
            "signpost": np.repeat(np.asarray(signposts, dtype=object), len(first)),
            "scenario": np.tile(names[first], len(signposts)),
            "versus": np.tile(names[second], len(signposts)),
            "lr": seen.reshape(-1),
            "log_lr": np.log(seen).reshape(-1),
            "lr_absent": absent.reshape(-1),
            "log_lr_absent": np.log(absent).reshape(-1),
        }
    )


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """H(p) = −p log₂ p − (1 − p) log₂(1 − p), with 0 log 0 = 0."""
    p = np.asarray(p, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0) + np.where(
            p < 1, -(1 - p) * np.log2(1 - p), 0.0
        )
    return np.where(np.isnan(p), np.nan, terms)


def _ranking(
    signposts: list[str], values: np.ndarray, clipped: np.ndarray, pi: np.ndarray
) -> pd.DataFrame:
    """Information gain and log-LR ranges per signpost, best first."""
    p_seen = (values * pi).sum(axis=1)
    p_seen[np.isnan(values).any(axis=1)] = np.nan
    gain = binary_entropy(p_seen) - (pi * binary_entropy(values)).sum(axis=1)
    gain = np.where(np.isnan(p_seen), np.nan, np.maximum(gain, 0.0))
    logs = np.log(clipped)
    absent_logs = np.log(1 - clipped)
    table = pd.DataFrame(
        {
            "information_gain": gain,
            "log_lr_range": logs.max(axis=1) - logs.min(axis=1),
            "log_lr_range_absent": absent_logs.max(axis=1) - absent_logs.min(axis=1),
            "p_seen": p_seen,
        },
        index=pd.Index(signposts, name="signpost"),
    )
    table = table.sort_values(
        ["information_gain", "log_lr_range"], ascending=False, na_position="last", kind="stable"
    )
    table.insert(0, "rank", np.arange(1, len(table) + 1, dtype=np.int64))
    return table[list(RANKING_COLUMNS)]
