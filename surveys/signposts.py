"""Diagnostic signposts at a close: the panel's likelihoods, ratios and ranking.

A study's signpost items ask, per scenario of a scenario set, how likely each signpost
is to be observed within the horizon if that scenario is unfolding.  Closing a round
stores what :func:`analysis.signpost_diagnostics` makes of the round's answers under
the summary's ``"signposts"`` key (only in studies that have signposts, so that the
summaries of every other study stay as they were): the pooled likelihood matrix, the
likelihood ratios, the ranking by discrimination, the prior used, and each expert's
likelihoods under an anonymous index that is no pseudonym (the scenario tracker reads
them for its sensitivity range).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

import analysis
from analysis.deferred import deferred
from analysis.pooling import DEFAULT_CLIP
from surveys.definition import ItemDefinition, StudyDefinition
from surveys.models import Study
from surveys.serialization import item_from_json
from surveys.summary_glance import summary_parts

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = deferred("numpy")
    pd = deferred("pandas")

#: How the experts' likelihoods of one cell are pooled: the linear pool (the mean), the
#: pool of the report's first column and the one Heuer's matrix reads most plainly.
POOLING_METHOD = "mean"


def signpost_items(definition: StudyDefinition) -> list[ItemDefinition]:
    """The study's signpost items, in the study's order."""
    return [item for item in definition.items if item.kind == "signpost"]


def signpost_summary(
    frame: pd.DataFrame, definition: StudyDefinition, *, number: int
) -> dict[str, Any] | None:
    """The ``"signposts"`` entry of round ``number``'s summary, or ``None`` when the
    study has no signpost item.

    ``frame`` is the tidy frame of the round (and of earlier ones, which are ignored
    except for the prior).  The entry holds:

    - ``scenario_item`` (the scenario set the signposts are rated against) and
      ``scenarios`` (its keys, in the definition's order);
    - ``signposts``: the signposts answered in the round, in the study's order (a
      retired or unanswered one is left out);
    - ``matrix``: ``{signpost: {scenario: pooled likelihood}}`` in [0, 1];
    - ``likelihoods``: per signpost and scenario the pooled likelihood, ``n``, ``sd``
      and the likelihood ratios against the other scenarios (seen and not seen);
    - ``pairs``: the likelihood ratio of every ordered pair of scenarios per signpost;
    - ``ranking``: the signposts best first, by information gain (bits) then log-LR
      range (see :func:`analysis.signpost_diagnostics`);
    - ``prior``: ``{scenario: probability}``, the panel's pooled scenario set of the
      latest round that answered it (this one if it did), else uniform;
    - ``individual``: each expert's likelihoods, column-wise (:func:`_anonymous`):
      ``{"columns": [[signpost, scenario], …], "experts": [[likelihood or None, …], …]}``,
      one list per expert in the order of ``columns``.  An expert's position says only
      which likelihoods come from the same expert: the experts are in the order of
      their answers (their likelihoods read as one list), never by pseudonym or by
      time.  (Summaries stored before this layout hold
      ``{"expert", "signpost", "scenario", "likelihood"}`` rows, ``expert`` the same
      index; :func:`surveys.tracking.tracker_inputs` reads both.)  A list per expert,
      not a row per likelihood: at 100,000 experts, nine likelihoods each, this is
      about 5 MB of the summary instead of 60;
    - ``settings``: the pooling, clip, scale, round and where the prior came from.

    Numbers that are undefined (a cell nobody answered) are ``None``.
    """
    items = signpost_items(definition)
    if not items:
        return None
    scenario_item = items[0].scenario_item
    scenarios = [scenario.key for scenario in items[0].scenarios]
    # A definition names one scenario set for all its signposts; an item added between
    # rounds that named another would be weighed against other scenarios: left out.
    keys = [item.key for item in items if item.scenario_item == scenario_item]
    in_round = frame.loc[
        ((frame["round"] == number) & frame["item"].isin(keys) & frame["value"].notna()).to_numpy()
    ]
    in_items = set(in_round["item"].unique())
    answered = [key for key in keys if key in in_items]
    prior, prior_round = _prior(frame, scenario_item, scenarios, number)
    settings: dict[str, Any] = {
        "round": number,
        "method": POOLING_METHOD,
        "clip": DEFAULT_CLIP,
        "scale": 100.0,
        "prior_source": "scenario_item" if prior is not None else "uniform",
        "prior_round": prior_round,
    }
    summary: dict[str, Any] = {
        "scenario_item": scenario_item,
        "scenarios": scenarios,
        "signposts": answered,
        "matrix": {},
        "likelihoods": [],
        "pairs": [],
        "ranking": [],
        "prior": {},
        "individual": {"columns": [], "experts": []},
        "settings": settings,
    }
    if not answered:
        return summary
    result = analysis.signpost_diagnostics(
        # Only the rows it reads (see surveys.cross_impact.close_cross_impact).
        frame.loc[frame["item"].isin(answered).to_numpy()],
        signpost_items=answered,
        prior=prior,
        round_number=number,
        method=POOLING_METHOD,
    )
    matrix = result.matrix.reindex(columns=scenarios)
    summary["matrix"] = {
        signpost: {scenario: _number(matrix.at[signpost, scenario]) for scenario in scenarios}
        for signpost in answered
    }
    likelihoods = result.likelihoods.reset_index()
    summary["likelihoods"] = _records(likelihoods, order=(answered, scenarios))
    summary["pairs"] = _records(result.pairs, order=(answered, scenarios))
    summary["ranking"] = _records(result.ranking.reset_index())
    summary["prior"] = {scenario: _number(result.prior[scenario]) for scenario in scenarios}
    summary["individual"] = _anonymous(result.individual, answered, scenarios)
    return summary


def _prior(
    frame: pd.DataFrame, scenario_item: str | None, scenarios: list[str], number: int
) -> tuple[pd.Series | None, int | None]:
    """The pooled scenario set of the latest round up to ``number`` that answered
    ``scenario_item``, and that round; ``(None, None)`` (a uniform prior) when no round
    gave a complete set."""
    if scenario_item is None:
        return None, None
    rows = frame.loc[
        ((frame["item"] == scenario_item) & (frame["round"] <= number)).to_numpy()
    ].dropna(subset=["value"])
    if rows.empty:
        return None, None
    latest = int(rows["round"].max())
    pooled = analysis.pooled_scenarios(rows, scenario_item, round_number=latest)
    pooled = pooled.reindex(scenarios)
    if pooled.isna().any() or not pooled.sum() > 0:
        return None, None
    return pooled, latest


def _anonymous(
    individual: pd.DataFrame, signposts: list[str], scenarios: list[str]
) -> dict[str, list[Any]]:
    """The experts' likelihoods without pseudonyms, column-wise (see
    :func:`signpost_summary`): one list per expert, the experts sorted by their answers
    (each expert's likelihoods in signpost and scenario order, a missing one first), so
    that an expert's position says nothing a pseudonym would."""
    table = individual.pivot_table(
        index="panelist",
        columns=["signpost", "scenario"],
        values="likelihood",
        aggfunc="first",
        dropna=False,
    )
    columns = [
        (signpost, scenario)
        for signpost in signposts
        for scenario in scenarios
        if (signpost, scenario) in table.columns
    ]
    table = table.reindex(columns=pd.MultiIndex.from_tuples(columns))
    values = table.to_numpy(dtype=float)
    # Sorted as tuples with a missing likelihood first (−1), as np.lexsort does with
    # the first column as its last key.
    keys = np.where(np.isnan(values), -1.0, values)
    order = np.lexsort(keys.T[::-1]) if len(keys) else np.array([], dtype=int)
    experts = [
        [None if math.isnan(value) else float(value) for value in values[position]]
        for position in order
    ]
    return {"columns": [[signpost, scenario] for signpost, scenario in columns], "experts": experts}


def likelihood_columns(individual: Any) -> dict[str, list[Any]] | None:
    """The experts' likelihoods of a summary (``statistics["signposts"]["individual"]``,
    column-wise as :func:`_anonymous` stores them) transposed: one list per signpost and
    scenario, each expert's likelihood in the same order (:attr:`RoundSummary.likelihoods`);
    ``None`` without any, or for the row per likelihood of summaries stored before."""
    if not isinstance(individual, dict):
        return None
    columns, experts = individual.get("columns") or [], individual.get("experts") or []
    if not columns or not experts:
        return None
    return {"columns": columns, "values": [list(values) for values in zip(*experts, strict=True)]}


def _records(table: pd.DataFrame, order: tuple[list[str], list[str]] | None = None) -> list:
    """The rows of ``table`` as JSON-ready dicts (NaN → ``None``), sorted by signpost
    and scenario in the study's order when ``order`` is given."""
    if order is not None:
        signposts, scenarios = order
        rank = {key: position for position, key in enumerate(signposts)}
        place = {key: position for position, key in enumerate(scenarios)}
        sort_keys = [rank[signpost] for signpost in table["signpost"]]
        scenario_keys = [place.get(scenario, len(place)) for scenario in table["scenario"]]
        versus_keys = (
            [place.get(versus, len(place)) for versus in table["versus"]]
            if "versus" in table.columns
            else [0] * len(table)
        )
        positions = sorted(
            range(len(table)),
            key=lambda row: (sort_keys[row], scenario_keys[row], versus_keys[row]),
        )
        table = table.iloc[positions]
    return [
        {str(column): _number(value) for column, value in row.items()}
        for row in table.to_dict(orient="records")
    ]


def _number(value: Any) -> Any:
    """A numpy or pandas scalar as a plain JSON value; NaN and infinity as ``None``."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class SignpostCell:
    """One signpost under one scenario, as stored at the close."""

    #: The panel's pooled P(seen | scenario), in [0, 1]; ``None`` when nobody answered.
    likelihood: float | None
    #: How many times likelier the signpost is under this scenario than under the others
    #: (weighted by the prior), when seen; ``None`` when undefined.
    lr_vs_rest: float | None
    n: int | None


@dataclass(frozen=True)
class SignpostRow:
    """One signpost of the stored matrix, with its place in the ranking."""

    key: str
    text: str
    #: One cell per scenario of :attr:`SignpostMatrix.scenarios`, in their order.
    cells: tuple[SignpostCell, ...]
    rank: int | None
    #: Expected information gain, in bits (:func:`analysis.signpost_diagnostics`).
    information_gain: float | None
    #: max − min of the log likelihoods across scenarios: the largest |ln LR|.
    log_lr_range: float | None
    #: The prior probability of observing the signpost at all.
    p_seen: float | None

    @property
    def largest_ratio(self) -> float | None:
        """exp(:attr:`log_lr_range`): how many times likelier the signpost is under its
        likeliest scenario than under its least likely one."""
        return None if self.log_lr_range is None else math.exp(self.log_lr_range)


@dataclass(frozen=True)
class SignpostMatrix:
    """The signposts of the latest closed round that had them, as its close stored
    them: rows best first (by information gain), scenarios in the study's order."""

    round: int
    scenario_item: str | None
    #: ``(key, text)`` of each scenario.
    scenarios: tuple[tuple[str, str], ...]
    #: The prior of each scenario, in their order (``None`` when not stored).
    prior: tuple[float | None, ...]
    #: "scenario_item" (the panel's pooled scenario set) or "uniform".
    prior_source: str
    prior_round: int | None
    rows: tuple[SignpostRow, ...]
    #: How each cell's likelihoods were pooled ("mean").
    method: str


def signpost_matrix(session: Session, study: Study, language: str) -> SignpostMatrix | None:
    """The stored signpost matrix of ``study``'s latest closed round that has one, with
    texts in ``language`` (else the study's first language); ``None`` when no closed
    round stored signposts.

    Only each summary's ``"signposts"`` entry is read, from its glance
    (:func:`surveys.summary_glance.summary_parts`: the whole summary holds every
    distribution's sorted answers, and the entry the experts' own likelihoods)."""
    stored = summary_parts(session, study.id, ("signposts",))
    entry = next(
        (parts["signposts"] for _, parts in stored if (parts["signposts"] or {}).get("signposts")),
        None,
    )
    if entry is None:
        return None
    fallback = study.languages["codes"][0]
    definitions = {item.key: item_from_json(item.key, item.kind, item.spec) for item in study.items}
    scenario_set = definitions.get(entry.get("scenario_item") or "")
    texts = {
        scenario.key: scenario.text.get(language, fallback)
        for scenario in (scenario_set.scenarios if scenario_set is not None else ())
    }
    scenarios = tuple((key, texts.get(key, key)) for key in entry["scenarios"])
    cells = {(row["signpost"], row["scenario"]): row for row in entry["likelihoods"]}
    ranking = {row["signpost"]: row for row in entry["ranking"]}
    ordered = sorted(
        entry["signposts"],
        key=lambda key: ranking.get(key, {}).get("rank") or len(ranking) + 1,
    )
    rows = []
    for key in ordered:
        rank = ranking.get(key, {})
        definition = definitions.get(key)
        rows.append(
            SignpostRow(
                key=key,
                text=definition.text.get(language, fallback) if definition else key,
                cells=tuple(
                    SignpostCell(
                        likelihood=cells.get((key, scenario), {}).get("likelihood"),
                        lr_vs_rest=cells.get((key, scenario), {}).get("lr_vs_rest"),
                        n=cells.get((key, scenario), {}).get("n"),
                    )
                    for scenario, _ in scenarios
                ),
                rank=rank.get("rank"),
                information_gain=rank.get("information_gain"),
                log_lr_range=rank.get("log_lr_range"),
                p_seen=rank.get("p_seen"),
            )
        )
    settings = entry.get("settings", {})
    return SignpostMatrix(
        round=int(settings.get("round") or 0),
        scenario_item=entry.get("scenario_item"),
        scenarios=scenarios,
        prior=tuple(entry.get("prior", {}).get(key) for key, _ in scenarios),
        prior_source=settings.get("prior_source", "uniform"),
        prior_round=settings.get("prior_round"),
        rows=tuple(rows),
        method=settings.get("method", POOLING_METHOD),
    )
