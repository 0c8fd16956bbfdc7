"""After the study: scenario probabilities updated by Bayes' rule as observations come in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from analysis.deferred import deferred
from analysis.pooling import DEFAULT_CLIP
from analysis.signposts import check_prior

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

OBSERVATION_KINDS: tuple[str, ...] = ("signpost", "trigger")
"""What an observation can be about."""

TIMELINE_COLUMNS: tuple[str, ...] = (
    "step",
    "date",
    "kind",
    "key",
    "seen",
    "applied",
    "scenario",
    "probability",
    "low",
    "high",
)
"""The columns of :attr:`ScenarioTracking.timeline`, in order."""


@dataclass(frozen=True)
class Observation:
    """A dated observation: a signpost seen (or explicitly not seen by ``date``), or a
    trigger that occurred (``seen`` is then always true)."""

    date: Any
    kind: str
    key: str
    seen: bool = True


@dataclass(frozen=True)
class ScenarioTracking:
    """The result of :func:`update_scenarios`.

    ``timeline``
        One row per step and scenario, with :data:`TIMELINE_COLUMNS`: step 0 is the
        prior (``date``, ``kind``, ``key`` and ``seen`` missing), step j the state after
        the j-th observation in date order; ``applied`` is false for an observation
        that could not change anything (a signpost no expert gave likelihoods for);
        ``probability`` uses the pooled likelihoods, ``low`` and ``high`` the range over
        the panel's individual likelihoods (equal to ``probability`` without them).
    ``posterior``
        The probabilities after the last observation (Series by scenario).
    """

    timeline: pd.DataFrame
    posterior: pd.Series


def update_scenarios(
    prior: Mapping[str, float] | pd.Series,
    likelihoods: pd.DataFrame,
    observations: pd.DataFrame | Iterable[Observation | Mapping[str, Any]],
    *,
    individual: pd.DataFrame | np.ndarray | None = None,
    conditionals: pd.DataFrame | None = None,
    clip: float = DEFAULT_CLIP,
) -> ScenarioTracking:
    """Scenario probabilities after each dated observation, by Bayes' rule.

    With prior π and, for signpost k, ℓ_ks = P(k seen within the horizon | scenario s)
    clipped to [clip, 1 − clip] (so that no single observation can rule a scenario out
    for good, see :func:`analysis.signpost_diagnostics`), the probabilities after the
    observations so far are

        P(s | observations) ∝ base_s · Π_k f_ks,   f_ks = ℓ_ks if k was seen,
                                                   1 − ℓ_ks if k was explicitly not seen,

    over the signposts observed so far, each counted once with its latest status (a
    signpost reported twice is one piece of evidence; a signpost not seen by one date
    and seen later counts as seen).  A "not seen by a date" uses 1 − ℓ, the likelihood
    of not seeing it within the whole horizon: it is exact once the horizon is over and
    overstates the evidence before.

    **Assumption: conditional independence.**  Multiplying the f_ks assumes that,
    given the scenario, whether one signpost appears tells nothing about another.
    Signposts that tend to appear together (two symptoms of the same development)
    then count twice and the update is overconfident.  The product form is what the
    elicited likelihoods allow: experts gave one likelihood per signpost and scenario,
    not joint ones.

    **Triggers.**  When a trigger occurs, the base becomes the pooled conditional
    scenario set P(S | trigger) (:attr:`analysis.CrossImpact.conditional`) in place of
    the prior, and the signposts observed before and after still apply, assuming the
    signposts, given the scenario, are independent of the trigger too.  When several
    triggers have occurred the latest one's conditional set is the base: the experts
    gave no set conditional on two triggers at once.

    **Sensitivity.**  With ``individual`` (each expert's likelihoods,
    :attr:`analysis.SignpostDiagnostics.individual`), the whole timeline is recomputed
    once per expert with that expert's likelihoods in place of the pooled ones (the
    pooled likelihoods of a signpost the expert did not give all of), and
    ``low``/``high`` are the smallest and largest probability of each scenario at each
    step over the pooled timeline and every expert's: how much the result depends on
    whose judgement of the signposts is used.

    Parameters
    ----------
    prior
        Scenario → probability (e.g. :func:`analysis.pooled_scenarios`), rescaled to
        sum to 1.
    likelihoods
        Signposts (rows) × scenarios (columns): P(seen | scenario), e.g.
        :attr:`analysis.SignpostDiagnostics.matrix`.
    observations
        A frame with columns ``date``, ``kind`` (``"signpost"`` or ``"trigger"``),
        ``key`` and ``seen`` (bool; optional for triggers), or
        :class:`Observation` objects or mappings with those fields.  Sorted by date
        here (observations on the same date keep their order).
    individual
        Optional: ``panelist``, ``signpost``, ``scenario``, ``likelihood`` rows, or
        the same as one array of shape (experts, signposts, scenarios), rows and
        columns in the order of ``likelihoods``' and NaN where an expert gave nothing
        (what a stored panel of 100,000 is read into without a row per likelihood).
    conditionals
        Triggers (rows) × scenarios (columns): pooled P(scenario | trigger); needed
        when a trigger is observed.
    clip
        In (0, 0.5).

    Returns
    -------
    ScenarioTracking

    Raises
    ------
    ValueError
        For a signpost or trigger not in ``likelihoods`` / ``conditionals``, a trigger
        reported as not occurring, an unknown kind, or scenarios that do not match.
    """
    if not 0 < clip < 0.5:
        raise ValueError(f"clip must be in (0, 0.5), not {clip}")
    scenarios = [str(column) for column in likelihoods.columns]
    base_prior = check_prior(pd.Series(prior, dtype=float), scenarios).to_numpy()
    pooled = likelihoods.copy()
    pooled.columns = scenarios
    pooled.index = [str(key) for key in pooled.index]
    steps = _observations(observations)
    _check_keys(steps, pooled, conditionals, scenarios)
    conditional_sets = (
        None
        if conditionals is None
        else pd.DataFrame(
            conditionals.to_numpy(dtype=float),
            index=[str(key) for key in conditionals.index],
            columns=[str(column) for column in conditionals.columns],
        )[scenarios]
    )

    matrices = np.concatenate(
        [pooled.to_numpy(dtype=float)[np.newaxis], _individual_matrices(individual, pooled)]
    )
    stacked = np.clip(matrices, clip, 1 - clip)  # (versions, signposts, scenarios)
    nan_cells = np.isnan(matrices)
    signpost_index = {key: position for position, key in enumerate(pooled.index)}

    versions = stacked.shape[0]
    base = np.broadcast_to(base_prior, (versions, len(scenarios))).copy()
    status: dict[str, bool] = {}
    states = [_normalise(base)]
    applied = []
    for observation in steps.itertuples(index=False):
        if observation.kind == "trigger":
            assert conditional_sets is not None  # checked above
            row = conditional_sets.loc[observation.key].to_numpy(dtype=float)
            base = np.broadcast_to(row / row.sum(), base.shape).copy()
            applied.append(True)
        else:
            usable = not nan_cells[0, signpost_index[observation.key]].any()
            if usable:
                status[observation.key] = bool(observation.seen)
            applied.append(usable)
        evidence = np.ones_like(base)
        for key, seen in status.items():
            cell = stacked[:, signpost_index[key], :]
            factor = cell if seen else 1 - cell
            # An expert who gave no likelihood for this signpost uses the pooled ones.
            missing = nan_cells[:, signpost_index[key], :].any(axis=1)
            factor = np.where(missing[:, None], factor[0], factor)
            evidence = evidence * factor
        states.append(_normalise(base * evidence))
    return _result(states, steps, applied, scenarios)


def _observations(
    observations: pd.DataFrame | Iterable[Observation | Mapping[str, Any]],
) -> pd.DataFrame:
    """Observations as a frame sorted by date (stable), validated."""
    if isinstance(observations, pd.DataFrame):
        table = observations.copy()
    else:
        records = [
            {"date": item.date, "kind": item.kind, "key": item.key, "seen": item.seen}
            if isinstance(item, Observation)
            else dict(item)
            for item in observations
        ]
        table = pd.DataFrame.from_records(records, columns=["date", "kind", "key", "seen"])
    missing = [column for column in ("date", "kind", "key") if column not in table.columns]
    if missing:
        raise ValueError(f"observations need column(s) {', '.join(missing)}")
    if "seen" not in table.columns:
        table["seen"] = True
    table = table[["date", "kind", "key", "seen"]].reset_index(drop=True)
    unknown = sorted(set(table["kind"]) - set(OBSERVATION_KINDS))
    if unknown:
        raise ValueError(
            f"unknown observation kind {unknown[0]!r}; choose one of {', '.join(OBSERVATION_KINDS)}"
        )
    table["seen"] = table["seen"].where(table["seen"].notna(), table["kind"] == "trigger")
    if (~table["seen"].astype(bool) & (table["kind"] == "trigger")).any():
        raise ValueError(
            "a trigger observation records that the trigger occurred; a trigger that has "
            "not occurred is no evidence the experts gave a conditional set for"
        )
    table["seen"] = table["seen"].astype(bool)
    table["key"] = table["key"].astype(str)
    if table["date"].isna().any():
        raise ValueError("every observation needs a date")
    return table.sort_values("date", kind="stable", ignore_index=True)


def _check_keys(
    steps: pd.DataFrame,
    pooled: pd.DataFrame,
    conditionals: pd.DataFrame | None,
    scenarios: list[str],
) -> None:
    """Every observed signpost and trigger is known."""
    signposts = set(steps.loc[steps["kind"] == "signpost", "key"])
    unknown = sorted(signposts - set(pooled.index))
    if unknown:
        raise ValueError(f"no likelihoods for signpost {unknown[0]!r}")
    triggers = set(steps.loc[steps["kind"] == "trigger", "key"])
    if triggers and conditionals is None:
        raise ValueError("a trigger was observed: pass the conditional sets (conditionals)")
    if conditionals is not None:
        names = {str(key) for key in conditionals.index}
        unknown = sorted(triggers - names)
        if unknown:
            raise ValueError(f"no conditional scenario set for trigger {unknown[0]!r}")
        if {str(column) for column in conditionals.columns} != set(scenarios):
            raise ValueError("the conditional sets and the likelihoods name different scenarios")
        chosen = conditionals.loc[[key for key in conditionals.index if str(key) in triggers]]
        values = chosen.to_numpy(dtype=float)
        if np.isnan(values).any() or (values < 0).any() or (values.sum(axis=1) <= 0).any():
            raise ValueError("an observed trigger's conditional scenario set is incomplete")


def _individual_matrices(
    individual: pd.DataFrame | np.ndarray | None, pooled: pd.DataFrame
) -> np.ndarray:
    """One signposts × scenarios matrix per expert (NaN where they gave nothing), in
    the order of the experts' ids, as one (experts, signposts, scenarios) array; an
    expert's first row for a cell counts.  An array given is checked for its shape.

    Filled in one pass over the rows rather than a pivot per expert: a panel of
    100,000 experts is one array, not 100,000 tables."""
    shape = (len(pooled.index), len(pooled.columns))
    if individual is None or (isinstance(individual, pd.DataFrame) and individual.empty):
        return np.empty((0, *shape))
    if isinstance(individual, np.ndarray):
        if individual.ndim != 3 or individual.shape[1:] != shape:
            raise ValueError(
                f"individual likelihoods of shape {individual.shape}: (experts, "
                f"{shape[0]} signposts, {shape[1]} scenarios) expected"
            )
        return individual.astype(float, copy=False)
    table = individual.dropna(subset=["likelihood"])
    codes, _ = pd.factorize(table["panelist"], sort=True)
    experts = int(codes.max()) + 1 if len(codes) else 0
    rows = pooled.index.get_indexer(table["signpost"].astype(str))
    columns = pooled.columns.get_indexer(table["scenario"].astype(str))
    values = table["likelihood"].to_numpy(dtype=float)
    cells = pd.DataFrame({"expert": codes, "row": rows, "column": columns})
    # Cells the pooled matrix has, each expert's first row for a cell only.
    keep = ((rows >= 0) & (columns >= 0) & ~cells.duplicated().to_numpy()).nonzero()[0]
    matrices = np.full((experts, len(pooled.index), len(pooled.columns)), np.nan)
    matrices[codes[keep], rows[keep], columns[keep]] = values[keep]
    return matrices


def _normalise(weights: np.ndarray) -> np.ndarray:
    """Rows rescaled to sum to 1."""
    return weights / weights.sum(axis=1, keepdims=True)


def _result(
    states: list[np.ndarray], steps: pd.DataFrame, applied: list[bool], scenarios: list[str]
) -> ScenarioTracking:
    """The long timeline and the final posterior."""
    stacked = np.stack(states)  # (steps + 1, versions, scenarios)
    probability = stacked[:, 0, :]
    low = stacked.min(axis=1)
    high = stacked.max(axis=1)
    count = stacked.shape[0]
    meta = pd.DataFrame(
        {
            "step": np.arange(count, dtype=np.int64),
            "date": [None, *steps["date"].tolist()],
            "kind": [None, *steps["kind"].tolist()],
            "key": [None, *steps["key"].tolist()],
            "seen": pd.array([pd.NA, *steps["seen"].tolist()], dtype="boolean"),
            "applied": [True, *applied],
        }
    )
    timeline = meta.loc[np.repeat(np.arange(count), len(scenarios))].reset_index(drop=True)
    timeline["scenario"] = np.tile(np.asarray(scenarios, dtype=object), count)
    timeline["probability"] = probability.reshape(-1)
    timeline["low"] = low.reshape(-1)
    timeline["high"] = high.reshape(-1)
    posterior = pd.Series(probability[-1], index=pd.Index(scenarios, name="scenario"))
    posterior.name = "probability"
    return ScenarioTracking(timeline=timeline[list(TIMELINE_COLUMNS)], posterior=posterior)
