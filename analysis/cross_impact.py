"""Cross-impact of triggers on a scenario set, and each expert's coherence.

An expert gives an unconditional scenario set P(S) (a scenario-set item), for each
trigger T_k a conditional set P(S | T_k) (the cross-impact item: component
``"trigger:scenario"``, see :mod:`analysis.scenario_sets`) and, in a probability item,
P(T_k).  The analysis pools the conditional sets, measures how far each trigger would
move the scenarios, and checks each expert's answers against the law of total
probability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.deferred import deferred
from analysis.frame import validate_frame
from analysis.pool_groups import check_pooling
from analysis.pooling import DEFAULT_CLIP
from analysis.quantiles import SortedGroups, check_quantile_method
from analysis.scenario_sets import (
    item_rows,
    normalised_sets,
    pool_sets,
    project_to_box_simplex,
    scenario_keys,
    split_cells,
)

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

IMPACT_COLUMNS: tuple[str, ...] = (
    "conditional",
    "unconditional",
    "impact",
    "n_conditional",
    "n_paired",
    "shift_mean",
    "shift_sd",
    "shift_min",
    "shift_q1",
    "shift_median",
    "shift_q3",
    "shift_max",
)
"""The columns of :attr:`CrossImpact.impacts`, in order."""

COHERENCE_COLUMNS: tuple[str, ...] = (
    "given",
    "low",
    "high",
    "gap",
    "implied",
    "low_trigger",
    "high_trigger",
)
"""The columns of :attr:`CrossImpact.coherence`, in order."""


@dataclass(frozen=True)
class CrossImpact:
    """The result of :func:`cross_impact` (probabilities in [0, 1]).

    ``impacts``
        Indexed by (trigger, scenario), with :data:`IMPACT_COLUMNS`: the pooled
        ``conditional`` P(S | T) and ``unconditional`` P(S) (each pooled set rescaled
        to sum to 1), the trigger's ``impact`` = conditional − unconditional (so the
        impacts of one trigger sum to 0), ``n_conditional`` experts with a usable
        conditional set, ``n_paired`` with both sets, and the spread of the paired
        experts' own shifts P_e(S | T) − P_e(S): mean, sd (n − 1), min, quartiles
        (``quantile_method``), median, max.
    ``unconditional``
        The pooled unconditional set (Series indexed by scenario).
    ``conditional``
        The pooled conditional sets, one row per trigger, one column per scenario (the
        input of :func:`analysis.update_scenarios` for triggers that occur).
    ``shifts``
        One row per expert, trigger and scenario with both sets: ``panelist``,
        ``trigger``, ``scenario``, ``conditional``, ``unconditional``, ``shift``.
    ``coherence``
        Indexed by (panelist, scenario), with :data:`COHERENCE_COLUMNS`: the expert's
        ``given`` P(S), the bounds ``low`` and ``high`` that their own trigger and
        conditional answers imply, the ``gap`` (how far ``given`` lies outside
        [low, high]: positive above, negative below, 0 inside), the ``implied`` set
        (the coherent set nearest to the given one) and the triggers that set each
        bound.  Only experts with an unconditional set and at least one trigger with
        both P(T) and a conditional set.
    ``coherence_summary``
        Indexed by panelist: ``triggers`` used, ``distance`` (total variation
        ½Σ|given − implied|), ``coherent`` (every gap within ``tolerance``) and
        ``feasible`` (some coherent unconditional set exists at all; when not, the
        expert's P(T) and conditional answers contradict each other and ``implied``
        and ``distance`` are NaN).
    ``settings``
        The rounds and the pooling settings used.
    """

    impacts: pd.DataFrame
    unconditional: pd.Series
    conditional: pd.DataFrame
    shifts: pd.DataFrame
    coherence: pd.DataFrame
    coherence_summary: pd.DataFrame
    settings: Mapping[str, Any]


def cross_impact(
    frame: pd.DataFrame,
    *,
    scenario_item: str,
    conditional_item: str,
    trigger_items: Mapping[str, str] | Sequence[str] | None = None,
    round_number: int | None = None,
    scale: float = 100.0,
    method: str = "mean",
    d: float | None = None,
    trim: float = 0.1,
    clip: float = DEFAULT_CLIP,
    quantile_method: str = "linear",
    tolerance: float = 1e-9,
) -> CrossImpact:
    """Pool conditional scenario sets, measure each trigger's impact, check coherence.

    **Pooling.**  Every expert's unconditional set and each of their conditional sets
    is rescaled to sum to 1 (a set with a "cannot judge", a zero sum or a scenario
    missing is left out); each scenario's probabilities are pooled across experts with
    ``method`` (:func:`analysis.pool_probabilities`) and the pooled set is rescaled to
    sum to 1.  A trigger's impact on scenario S is pooled P(S | T) − pooled P(S); its
    spread is that of the experts' own shifts.

    **Coherence** (law of total probability, one trigger at a time).  For any event T,

        P(S) = P(T)·P(S | T) + (1 − P(T))·P(S | not T).

    The experts are not asked P(S | not T), which can be anything in [0, 1]; so with
    tₖ = P(Tₖ) and cₖ = P(S | Tₖ), each trigger bounds P(S):

        tₖ·cₖ ≤ P(S) ≤ tₖ·cₖ + 1 − tₖ.

    The triggers are not assumed exclusive, exhaustive or independent — they may occur
    together in any way — and each bound uses only that one trigger's answers.  The
    bounds of all triggers hold at once, so the unconditional set must lie in

        low = maxₖ tₖ·cₖ,   high = minₖ (tₖ·cₖ + 1 − tₖ),

    and these bounds are sharp: no other constraint follows from the answers given
    without assumptions about how triggers co-occur.  (The lower bound is the
    probability that Tₖ occurs and leads to S; the upper, that S happens unless Tₖ
    occurs and leads elsewhere.)  The ``gap`` of a scenario is how far the given P(S)
    lies outside [low, high].  The ``implied`` set is the least-squares projection of
    the given set on {low ≤ x ≤ high, Σx = 1}, the coherent set nearest to what the
    expert said; ``distance`` = ½Σ|given − implied| (total variation: the share of
    probability the expert would have to move).  If Σlow > 1 or Σhigh < 1 no
    unconditional set is coherent — the P(T) and conditional answers already
    contradict each other (e.g. two triggers each at 90 % that lead to different
    scenarios for sure) — and the summary says ``feasible = False``.

    **Rounds.**  ``round_number`` selects one round for all items; by default each
    item's latest round in ``frame`` is used.

    Missing answers: an expert's trigger without a P(T) answer (or a "cannot judge"),
    or without a usable conditional set, is left out of their bounds; an expert
    without an unconditional set has no coherence rows.

    Parameters
    ----------
    frame
        A tidy frame holding the scenario-set item, the cross-impact item (components
        ``"trigger:scenario"``) and the triggers' probability items.
    scenario_item
        The unconditional scenario set's item key.
    conditional_item
        The cross-impact item's key.
    trigger_items
        Trigger key → the key of its probability item P(T); a sequence when the keys
        are the same.  ``None``: every trigger whose key is also an item key in
        ``frame``.
    round_number
        The round used for every item; ``None``: each item's latest round.
    scale
        What a probability of 1 is on the answer scale of the trigger items (100 for
        percent).  Scenario sets are rescaled to sum to 1 whatever their scale.
    method, d, trim, clip
        Pooling settings (see :func:`analysis.pool_probabilities`).
    quantile_method
        numpy quantile method for the shifts' quartiles.
    tolerance
        A gap smaller than this still counts as coherent.

    Returns
    -------
    CrossImpact
    """
    check_pooling(method, d=d, trim=trim, clip=clip)
    check_quantile_method(quantile_method)
    if not scale > 0:
        raise ValueError(f"scale must be positive, not {scale}")
    tidy = validate_frame(frame)
    unconditional_rows = item_rows(tidy, scenario_item, round_number)
    if unconditional_rows.empty:
        raise ValueError(f"no answer to the scenario item {scenario_item!r}")
    scenarios = scenario_keys(unconditional_rows, scenario_item)
    conditional_rows = item_rows(tidy, conditional_item, round_number)
    if conditional_rows.empty:
        raise ValueError(f"no answer to the cross-impact item {conditional_item!r}")
    conditional_rows = split_cells(conditional_rows, "trigger", conditional_item)
    unknown = sorted(set(conditional_rows["scenario"].unique()) - set(scenarios))
    if unknown:
        raise ValueError(
            f"item {conditional_item!r} names scenario {unknown[0]!r}, which item "
            f"{scenario_item!r} does not have"
        )
    triggers = sorted(set(conditional_rows["trigger"].unique()))
    items = _trigger_items(trigger_items, triggers, set(tidy["item"].unique()))

    pooling: dict[str, Any] = {"method": method, "d": d, "trim": trim, "clip": clip}
    given = normalised_sets(
        unconditional_rows.assign(scenario=unconditional_rows["component"]), scenarios
    )
    conditional_sets = normalised_sets(conditional_rows, scenarios, by=["trigger"])
    pooled_unconditional = pool_sets(given, **pooling).reindex(pd.Index(scenarios, name="scenario"))
    pooled_conditional = pool_sets(conditional_sets, ["trigger"], **pooling)
    shifts = conditional_sets.merge(
        given, on=["panelist", "scenario"], suffixes=("_conditional", "_unconditional")
    ).rename(
        columns={
            "probability_conditional": "conditional",
            "probability_unconditional": "unconditional",
        }
    )
    shifts["shift"] = shifts["conditional"] - shifts["unconditional"]
    shifts = shifts[["panelist", "trigger", "scenario", "conditional", "unconditional", "shift"]]
    impacts = _impacts(
        pooled_conditional,
        pooled_unconditional,
        conditional_sets,
        shifts,
        triggers,
        scenarios,
        quantile_method,
    )
    conditional_matrix = (
        pooled_conditional.unstack("scenario").reindex(index=triggers, columns=scenarios)
        if not pooled_conditional.empty
        else pd.DataFrame(index=pd.Index(triggers), columns=pd.Index(scenarios), dtype=float)
    )
    conditional_matrix.index.name = "trigger"
    conditional_matrix.columns.name = "scenario"

    trigger_probability = _trigger_probabilities(tidy, items, round_number, scale)
    coherence, summary = _coherence(
        given, conditional_sets, trigger_probability, scenarios, tolerance
    )
    rounds = {
        key: int(rows["round"].iloc[0])
        for key, rows in (
            (scenario_item, unconditional_rows),
            (conditional_item, conditional_rows),
        )
    }
    settings = {
        "rounds": rounds,
        "trigger_items": dict(items),
        "scale": float(scale),
        "quantile_method": quantile_method,
        "tolerance": float(tolerance),
        **dict(pooling.items()),
    }
    pooled_unconditional.name = "probability"
    return CrossImpact(
        impacts=impacts,
        unconditional=pooled_unconditional,
        conditional=conditional_matrix,
        shifts=shifts.sort_values(["panelist", "trigger", "scenario"], ignore_index=True),
        coherence=coherence,
        coherence_summary=summary,
        settings=settings,
    )


def _trigger_items(
    trigger_items: Mapping[str, str] | Sequence[str] | None,
    triggers: list[str],
    present: set[str],
) -> dict[str, str]:
    """Trigger key → probability item key, for the triggers that have one."""
    if trigger_items is None:
        return {trigger: trigger for trigger in triggers if trigger in present}
    if isinstance(trigger_items, Mapping):
        return {str(key): str(value) for key, value in trigger_items.items()}
    if isinstance(trigger_items, str):
        raise ValueError("trigger_items must be a mapping or a list of keys, not one string")
    return {str(key): str(key) for key in trigger_items}


def _impacts(
    pooled_conditional: pd.Series,
    pooled_unconditional: pd.Series,
    conditional_sets: pd.DataFrame,
    shifts: pd.DataFrame,
    triggers: list[str],
    scenarios: list[str],
    quantile_method: str,
) -> pd.DataFrame:
    """The impact table (see :class:`CrossImpact`)."""
    index = pd.MultiIndex.from_product([triggers, scenarios], names=["trigger", "scenario"])
    table = pd.DataFrame(index=index)
    table["conditional"] = pooled_conditional.reindex(index).to_numpy(dtype=float)
    table["unconditional"] = pooled_unconditional.reindex(
        index.get_level_values("scenario")
    ).to_numpy(dtype=float)
    table["impact"] = table["conditional"] - table["unconditional"]
    counts = conditional_sets.groupby(["trigger", "scenario"]).size()
    table["n_conditional"] = counts.reindex(index, fill_value=0).to_numpy(dtype=np.int64)
    codes = index.get_indexer(pd.MultiIndex.from_frame(shifts[["trigger", "scenario"]]))
    values = shifts["shift"].to_numpy(dtype=float)
    groups = SortedGroups.build(values, codes, len(index))
    table["n_paired"] = groups.counts
    with np.errstate(invalid="ignore", divide="ignore"):
        sums = np.bincount(codes, weights=values, minlength=len(index))
        mean = sums / groups.counts
        squares = np.bincount(codes, weights=(values - mean[codes]) ** 2, minlength=len(index))
        table["shift_mean"] = mean
        table["shift_sd"] = np.sqrt(squares / (groups.counts - 1))
    table.loc[groups.counts < 2, "shift_sd"] = np.nan
    for column, probability in (
        ("shift_min", 0.0),
        ("shift_q1", 0.25),
        ("shift_median", 0.5),
        ("shift_q3", 0.75),
        ("shift_max", 1.0),
    ):
        table[column] = groups.quantile(probability, quantile_method)
    return table[list(IMPACT_COLUMNS)]


def _trigger_probabilities(
    tidy: pd.DataFrame, items: Mapping[str, str], round_number: int | None, scale: float
) -> pd.DataFrame:
    """Each expert's P(T) per trigger: columns panelist, trigger, p (answers only)."""
    parts = []
    for trigger, item in items.items():
        rows = item_rows(tidy, item, round_number)
        rows = rows.loc[(rows["component"] == "").to_numpy() & rows["value"].notna().to_numpy()]
        p = rows["value"].to_numpy(dtype=float) / scale
        if ((p < 0) | (p > 1)).any():
            raise ValueError(f"item {item!r} has a probability outside [0, {scale:g}]")
        parts.append(
            pd.DataFrame({"panelist": rows["panelist"].to_numpy(), "trigger": trigger, "p": p})
        )
    if not parts:
        return pd.DataFrame({"panelist": [], "trigger": [], "p": []})
    return pd.concat(parts, ignore_index=True)


def _coherence(
    given: pd.DataFrame,
    conditional_sets: pd.DataFrame,
    trigger_probability: pd.DataFrame,
    scenarios: list[str],
    tolerance: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bounds, gaps and implied sets per expert (see :func:`cross_impact`)."""
    bounds = conditional_sets.merge(trigger_probability, on=["panelist", "trigger"])
    bounds = bounds.loc[bounds["panelist"].isin(given["panelist"].unique()).to_numpy()]
    index_names = ["panelist", "scenario"]
    if bounds.empty:
        coherence = pd.DataFrame(
            {column: pd.Series(dtype=float) for column in COHERENCE_COLUMNS},
            index=pd.MultiIndex.from_arrays([[], []], names=index_names),
        )
        summary = pd.DataFrame(
            {
                "triggers": pd.Series(dtype="int64"),
                "distance": pd.Series(dtype=float),
                "coherent": pd.Series(dtype=bool),
                "feasible": pd.Series(dtype=bool),
            },
            index=pd.Index([], name="panelist"),
        )
        return coherence, summary
    bounds = bounds.assign(
        low=bounds["p"] * bounds["probability"],
        high=bounds["p"] * bounds["probability"] + 1 - bounds["p"],
    )
    grouped = bounds.groupby(index_names, sort=True)
    low_rows = bounds.loc[grouped["low"].idxmax()].set_index(index_names)
    high_rows = bounds.loc[grouped["high"].idxmin()].set_index(index_names)
    panelists = sorted(set(bounds["panelist"].unique()))
    index = pd.MultiIndex.from_product([panelists, scenarios], names=index_names)
    table = pd.DataFrame(index=index)
    table["given"] = given.set_index(index_names)["probability"].reindex(index)
    table["low"] = low_rows["low"].reindex(index)
    table["high"] = high_rows["high"].reindex(index)
    inside = table["given"].clip(lower=table["low"], upper=table["high"])
    table["gap"] = table["given"] - inside
    shape = (len(panelists), len(scenarios))
    implied = project_to_box_simplex(
        table["given"].to_numpy(dtype=float).reshape(shape),
        table["low"].to_numpy(dtype=float).reshape(shape),
        table["high"].to_numpy(dtype=float).reshape(shape),
    )
    table["implied"] = implied.reshape(-1)
    table["low_trigger"] = low_rows["trigger"].reindex(index)
    table["high_trigger"] = high_rows["trigger"].reindex(index)

    low_total = table["low"].groupby(level="panelist").sum()
    high_total = table["high"].groupby(level="panelist").sum()
    summary = pd.DataFrame(index=pd.Index(panelists, name="panelist"))
    summary["triggers"] = (
        bounds.groupby("panelist")["trigger"].nunique().reindex(summary.index).astype("int64")
    )
    distance = (table["given"] - table["implied"]).abs().groupby(level="panelist").sum() / 2
    summary["feasible"] = (low_total <= 1 + 1e-12) & (high_total >= 1 - 1e-12)
    summary["distance"] = distance.where(summary["feasible"])
    summary["coherent"] = summary["feasible"] & (
        table["gap"].abs().groupby(level="panelist").max() <= tolerance
    )
    return table[list(COHERENCE_COLUMNS)], summary[["triggers", "distance", "coherent", "feasible"]]
