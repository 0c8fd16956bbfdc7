"""Seed questions and Cooke's classical model in a study's round summary.

A study with seed items (calibration questions whose true value the facilitator knows,
:attr:`surveys.definition.ItemDefinition.seed_answer`) gets, at each close, a
``"classical_model"`` entry in its round summary: every expert's calibration and
information score on the seed items and their global weight, the optimised cut-off,
and for every target item (the study's numeric estimates) the quantiles of the
performance-weighted and of the equal-weight decision maker.  The numbers are those of
:func:`analysis.classical_model`; this module only gathers its inputs:

- each expert's **latest** answer to each seed and numeric-estimate item, up to the
  round being closed (an expert who answered a seed item in round 1 and not since keeps
  that answer; the classical model scores what the expert last said);
- a numeric estimate (lowest, highest, best guess, confidence) turned into 5th, 50th
  and 95th percentiles by :func:`analysis.estimate_quantiles`: the interval standardised
  to 90 % around the best guess, read as the central 90 % interval, the best guess read
  as the median;
- the background measure of each seed item as its definition names it (uniform unless
  ``background = "log-uniform"``), uniform for numeric estimates; the usual 10 %
  overshoot; the cut-off optimised over the experts' calibration scores.

Experts who answered no seed item cannot be scored and are left out of both decision
makers (the equal-weight one included, so that the two are computed on the same
panel); their number is stored.  With fewer than two scored experts the model is not
run.  Experts appear as "Expert 1" … "Expert n" in the order of their weights, never by
pseudonym: the summary is the facilitator's, and the report is shared.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import analysis
from analysis.deferred import deferred
from surveys.definition import SEED_COMPONENTS, StudyDefinition
from surveys.models import Round, RoundSummary, Study
from surveys.studies import all_items, study_definition
from surveys.summary_glance import STORED_EXPERTS, summary_parts

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = deferred("numpy")
    pd = deferred("pandas")

#: Cooke's usual overshoot of the intrinsic range, on each side.
OVERSHOOT = 0.1
#: The fewest scored experts the model is run for: weights need someone to compare.
MIN_EXPERTS = 2
#: The item kinds the model reads: seed questions (scored) and numeric estimates
#: (weighted).
MODEL_KINDS: tuple[str, ...] = ("seed", "numeric_estimate")


def has_seeds(definition: StudyDefinition) -> bool:
    """Whether the study has seed items (and so a classical model at each close)."""
    return any(item.kind == "seed" for item in definition.items)


def latest_answers(frame: pd.DataFrame, keys: Collection[str], *, number: int) -> pd.DataFrame:
    """The rows of each panelist's latest answer to each item of ``keys``, up to round
    ``number``, in the order of ``frame``.

    Only the three columns that decide which rows are the latest are copied before the
    rows are chosen: at 100,000 panelists the seed and estimate rows of two rounds are
    3.8 million, and copying them whole before dropping the earlier answers took about
    200 MB more."""
    chosen = frame["item"].isin(list(keys)).to_numpy() & (frame["round"] <= number).to_numpy()
    positions = np.flatnonzero(chosen)
    if positions.size == 0:
        return frame.iloc[positions]
    rows = frame[["panelist", "item", "round"]].take(positions)
    latest = rows.groupby(["panelist", "item"], observed=True)["round"].transform("max")
    positions = positions[(rows["round"] == latest).to_numpy()]
    del rows, latest
    return frame.take(positions)


def model_inputs(
    frame: pd.DataFrame, definition: StudyDefinition, *, number: int
) -> tuple[list[str], list[str], np.ndarray, np.ndarray, list[str]]:
    """The arrays :func:`analysis.classical_model` takes, from the tidy answers ``frame``
    (any rounds): the scored panelists (those with a seed answer, in the order of their
    answers), the items (seed items, then numeric estimates, each answered by somebody),
    the (experts, items, 3) quantiles, the realizations (NaN for targets) and the
    background of each item."""
    seeds = [item for item in definition.items if item.kind == "seed"]
    targets = [item for item in definition.items if item.kind == "numeric_estimate"]
    keys = [item.key for item in (*seeds, *targets)]
    latest = latest_answers(frame, keys, number=number)
    seed_rows = latest.loc[latest["item"].isin([item.key for item in seeds]).to_numpy()]
    seed_table = seed_rows.pivot_table(
        index=["item", "panelist"], columns="component", values="value", aggfunc="first"
    ).reindex(columns=list(SEED_COMPONENTS))
    seed_table.columns = list(analysis.QUANTILE_COLUMNS)
    seed_table = seed_table.dropna().reset_index()
    target_rows = latest.loc[latest["item"].isin([item.key for item in targets]).to_numpy()]
    target_table = (
        analysis.estimate_quantiles(target_rows.assign(round=0)).reset_index()
        if not target_rows.empty
        else pd.DataFrame(columns=["item", "panelist", *analysis.QUANTILE_COLUMNS])
    )
    quantiles = pd.concat(
        [
            seed_table[["item", "panelist", *analysis.QUANTILE_COLUMNS]],
            target_table[["item", "panelist", *analysis.QUANTILE_COLUMNS]],
        ],
        ignore_index=True,
    )
    panelists = sorted(str(name) for name in seed_table["panelist"].unique())
    answered = set(quantiles.loc[quantiles["panelist"].isin(panelists), "item"].unique())
    items = [key for key in keys if key in answered]
    assessments = np.array(analysis.quantile_array(quantiles, panelists, items), dtype=float)
    # The experts in the order of their answers, not of their pseudonyms: the model's
    # sums then run in an order the answers alone decide, so that the same answers
    # under other pseudonyms (another panel, a copy of the study) store the same entry
    # to the last bit.  lexsort is stable: identical answers keep pseudonym order, and
    # swapping them changes nothing.
    if len(panelists) > 1 and assessments.size:
        filled = np.nan_to_num(assessments.reshape(len(panelists), -1), nan=-np.inf)
        order = np.lexsort(filled.T[::-1])
        assessments = assessments[order]
        panelists = [panelists[index] for index in order]
    by_key = {item.key: item for item in definition.items}
    realizations = np.array(
        [by_key[key].seed_answer if by_key[key].kind == "seed" else math.nan for key in items],
        dtype=float,
    )
    backgrounds = [by_key[key].background for key in items]
    for index, background in enumerate(backgrounds):
        if background == "log-uniform":
            # Validation keeps these above 0; an answer given before the item's
            # background was amended may not be, and the logarithm has no place for it.
            not_positive = ~(assessments[:, index, :] > 0).all(axis=1)
            assessments[not_positive, index, :] = math.nan
    return panelists, items, assessments, realizations, backgrounds


def classical_model_summary(
    frame: pd.DataFrame, definition: StudyDefinition, *, number: int
) -> dict[str, Any]:
    """The ``"classical_model"`` entry of round ``number``'s summary (see the module).

    ``status`` is ``"ok"``, or ``"too_few_experts"`` when fewer than
    :data:`MIN_EXPERTS` experts answered a seed item (nothing else is computed then).
    """
    panelists, items, assessments, realizations, backgrounds = model_inputs(
        frame, definition, number=number
    )
    up_to = frame["round"].to_numpy() <= number
    # Every row is of a round up to the closing one at a close: no copy of the column.
    answered = frame["panelist"] if up_to.all() else frame.loc[up_to, "panelist"]
    # A set of the column's strings, not ``unique()``: pandas sizes the hash table of
    # ``unique`` by the number of rows (about 200 MB for a round-2 close at 100,000
    # panelists), where the set holds one entry per panelist.
    every_panelist = set(answered.to_numpy())
    by_key = {item.key: item for item in definition.items}
    seeds = [item for item in definition.items if item.kind == "seed"]
    settings = {
        "overshoot": OVERSHOOT,
        "optimise": True,
        "weighting": "global",
        "estimate_level": 90.0,
        "answers": "each expert's latest answer, up to this round",
    }
    result: dict[str, Any] = {
        "status": "ok",
        "settings": settings,
        "scored_experts": len(panelists),
        "experts_without_seeds": len(every_panelist - set(panelists)),
    }
    if len(panelists) < MIN_EXPERTS:
        result["status"] = "too_few_experts"
        result["seeds"] = [
            {"item": item.key, "answer": item.seed_answer, "background": item.background}
            for item in seeds
        ]
        return result
    model = analysis.classical_model(
        assessments, realizations, background=backgrounds, overshoot=OVERSHOOT, optimise=True
    )
    order = sorted(
        range(len(panelists)),
        key=lambda expert: (
            -_sortable(model.weights[expert]),
            -_sortable(model.combined[expert]),
            -_sortable(model.calibration[expert]),
            expert,
        ),
    )
    result["experts"] = [
        {
            "expert": position,
            "calibration": _number(model.calibration[expert]),
            "information": _number(model.information[expert]),
            "information_all": _number(model.information_all[expert]),
            "seeds_answered": int(model.seeds_answered[expert]),
            "combined": _number(model.combined[expert]),
            "weight": _number(model.weights[expert]),
        }
        for position, expert in enumerate(order, start=1)
    ]
    result.update(
        alpha=_number(model.alpha),
        effective_seeds=int(model.effective_seeds),
        decision_makers={
            "performance": {
                "calibration": _number(model.dm_calibration),
                "information": _number(model.dm_information),
            },
            "equal": {
                "calibration": _number(model.dm_equal_calibration),
                "information": _number(model.dm_equal_information),
            },
        },
    )
    rows = []
    for index, key in enumerate(items):
        answered = int(np.isfinite(assessments[:, index, :]).all(axis=1).sum())
        rows.append(
            {
                "item": key,
                "kind": by_key[key].kind,
                "answer": _number(realizations[index]),
                "background": backgrounds[index],
                "experts": answered,
                "performance": [_number(value) for value in model.dm[index]],
                "equal": [_number(value) for value in model.dm_equal[index]],
            }
        )
    result["seeds"] = [row for row in rows if row["kind"] == "seed"]
    result["targets"] = [row for row in rows if row["kind"] != "seed"]
    for row in rows:
        del row["kind"]
        if row["answer"] is None:
            del row["answer"]
    return result


def _number(value: Any) -> float | None:
    """A float for JSON: ``None`` for NaN."""
    number = float(value)
    return None if math.isnan(number) else number


def _sortable(value: Any) -> float:
    """A score for sorting, NaN last."""
    number = float(value)
    return -math.inf if math.isnan(number) else number


@dataclass(frozen=True)
class ModelItem:
    """One item of the classical model as a page shows it: its text and unit in the
    reader's language, the known answer (seed items), how many scored experts answered
    it, and the 5th, 50th and 95th percentiles of both decision makers."""

    key: str
    text: str
    unit: str | None
    answer: float | None
    experts: int
    performance: tuple[float | None, ...]
    equal: tuple[float | None, ...]
    #: The item's possible values (a numeric estimate's ``bounds``), else ``None``.  The
    #: model knows nothing of them: a combination's tail may reach past one (see
    #: :func:`beyond_bounds`).
    bounds: tuple[float, float] | None = None

    def beyond_bounds(self, value: float | None) -> bool:
        """Whether ``value`` (one of the quantiles) lies outside :attr:`bounds`.

        The classical model widens every expert's distribution past the answers (the
        overshoot of the intrinsic range), and an interval given with less than 90 %
        confidence is widened to 90 % before it enters: so the combinations' 5th or
        95th percentile can fall below a count's 0.  Cooke's definitions have no bounds
        and the numbers stay his; the pages mark such a value instead."""
        if value is None or self.bounds is None:
            return False
        low, high = self.bounds
        return value < low or value > high


@dataclass(frozen=True)
class ClassicalModelResult:
    """The ``"classical_model"`` entry of the latest closed round with one, for the
    facilitator's results page and the report (see :func:`classical_model_summary`)."""

    round: int
    status: str
    scored_experts: int
    experts_without_seeds: int
    #: Rows ``{"expert": 1, "calibration", "information", "seeds_answered", "weight", …}``
    #: in the order of the weights: the :data:`LISTED_EXPERTS` heaviest.
    experts: list[dict[str, Any]] = field(default_factory=list)
    #: Experts whose weight is above 0 (all of them, listed or not).
    weighted_experts: int = 0
    alpha: float | None = None
    effective_seeds: int | None = None
    #: ``{"performance": {"calibration", "information"}, "equal": {…}}``.
    decision_makers: dict[str, dict[str, float | None]] = field(default_factory=dict)
    seeds: list[ModelItem] = field(default_factory=list)
    targets: list[ModelItem] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


#: Experts the results page and the report list (the heaviest first): with a large
#: panel the rest weigh little or nothing, and the export lists every one.
LISTED_EXPERTS = STORED_EXPERTS


def latest_classical_model(
    session: Session, study: Study, language: str
) -> ClassicalModelResult | None:
    """The classical model of the study's latest closed round, with item texts in
    ``language``; ``None`` for a study without seed items or before a close.  Only the
    summaries' glances are read (:func:`surveys.summary_glance.summary_parts`), which
    keep the heaviest experts and the number of those weighted; the
    :data:`LISTED_EXPERTS` heaviest are listed: pages list no more, whatever the
    panel's size."""
    definition = study_definition(study)
    if not has_seeds(definition):
        return None
    stored = summary_parts(session, study.id, ("classical_model",))
    found = next(
        (
            (number, parts["classical_model"])
            for number, parts in stored
            if parts["classical_model"]
        ),
        None,
    )
    if found is None:
        return None
    number, entry = found
    fallback = definition.default_language
    texts = {stored_item.definition.key: stored_item.definition for stored_item in all_items(study)}

    def model_item(row: dict[str, Any]) -> ModelItem:
        item = texts.get(row["item"])
        return ModelItem(
            key=row["item"],
            text=item.text.get(language, fallback) if item else row["item"],
            unit=item.unit.get(language, fallback) if item and item.unit else None,
            answer=row.get("answer"),
            experts=row.get("experts", 0),
            performance=tuple(row.get("performance") or ()),
            equal=tuple(row.get("equal") or ()),
            bounds=item.bounds if item else None,
        )

    return ClassicalModelResult(
        round=number,
        status=entry["status"],
        scored_experts=entry["scored_experts"],
        experts_without_seeds=entry["experts_without_seeds"],
        experts=list(entry.get("experts", []))[:LISTED_EXPERTS],
        # The glance counts them; a summary stored before it has every expert.
        weighted_experts=entry.get("weighted_experts")
        if entry.get("weighted_experts") is not None
        else sum(1 for expert in entry.get("experts", []) if (expert.get("weight") or 0) > 0),
        alpha=entry.get("alpha"),
        effective_seeds=entry.get("effective_seeds"),
        decision_makers=dict(entry.get("decision_makers", {})),
        seeds=[model_item(row) for row in entry.get("seeds", []) if "experts" in row],
        targets=[model_item(row) for row in entry.get("targets", [])],
        settings=dict(entry.get("settings", {})),
    )


#: Experts the study page lists of the classical model (the heaviest first).
GLANCE_EXPERTS = 5


@dataclass(frozen=True)
class ClassicalModelGlance:
    """What the study page shows of the latest classical model: its status, the cut-off,
    both decision makers' scores and the :data:`GLANCE_EXPERTS` heaviest experts."""

    round: int
    status: str
    scored_experts: int
    alpha: float | None
    effective_seeds: int | None
    decision_makers: dict[str, dict[str, float | None]]
    experts: list[dict[str, Any]]


def classical_model_glance(session: Session, study: Study) -> ClassicalModelGlance | None:
    """The latest classical model at a glance (see :class:`ClassicalModelGlance`), or
    ``None`` for a study without seed items or before a close.

    Reads the summaries' glances (:func:`surveys.summary_glance.summary_parts`), which
    keep the heaviest experts only: the entry in the summary holds a row per expert, so
    its cost would otherwise grow with the panel, and the study page's must not."""
    if not has_seeds(study_definition(study)):
        return None
    for number, parts in summary_parts(session, study.id, ("classical_model",)):
        entry = parts["classical_model"]
        if not isinstance(entry, dict) or entry.get("status") is None:
            continue  # a round closed before the study had seed items
        return ClassicalModelGlance(
            round=number,
            status=entry["status"],
            scored_experts=entry.get("scored_experts") or 0,
            alpha=entry.get("alpha"),
            effective_seeds=entry.get("effective_seeds"),
            decision_makers=dict(entry.get("decision_makers") or {}),
            experts=[expert for expert in entry.get("experts", [])[:GLANCE_EXPERTS] if expert],
        )
    return None


# -- the export's table ----------------------------------------------------------------------

CLASSICAL_MODEL_COLUMNS: dict[str, tuple[str, str]] = {
    "round": ("integer", "The round whose close computed the model (every closed round)."),
    "kind": (
        "text",
        "expert (one scored expert's scores and weight), decision_maker (a combination's "
        "scores), or item (a combination's 5th, 50th and 95th percentiles on one seed "
        "question or numeric estimate).",
    ),
    "expert": (
        "integer",
        "Expert rows: the expert's number, 1 for the heaviest weight; numbers are given "
        "anew at each close and name no pseudonym (the same numbers as the console's).",
    ),
    "decision_maker": (
        "text",
        "decision_maker and item rows: performance (the performance-weighted combination) "
        "or equal (equal weights, on the same experts).",
    ),
    "item": ("text", "Item rows: the seed question's or numeric estimate's key."),
    "seeds_answered": ("integer", "Expert rows: seed questions the expert answered."),
    "calibration": (
        "number",
        "Calibration score: the p-value of the chi-square statistic 2·N·I(s, p) of the "
        "expert's interquantile hit frequencies s against p = (0.05, 0.45, 0.45, 0.05) "
        "over N seed questions (Cooke 1991), by scipy.stats.chi2.sf with 3 degrees of "
        "freedom.",
    ),
    "information": (
        "number",
        "Information score over the seed questions: mean relative information of the "
        "expert's distribution against the background measure over each item's intrinsic "
        "range (10 % overshoot).",
    ),
    "information_all": (
        "number",
        "Expert rows: the same information score over every item the expert answered, "
        "seed questions and numeric estimates.",
    ),
    "combined": ("number", "Expert rows: calibration × information (before the cut-off)."),
    "weight": (
        "number",
        "Expert rows: the normalised global weight; 0 below the cut-off alpha.",
    ),
    "alpha": (
        "number",
        "decision_maker rows (performance): the cut-off, the calibration score below "
        "which experts weigh 0, chosen to maximise the combination's own score.",
    ),
    "effective_seeds": (
        "integer",
        "decision_maker rows: the seed questions the calibration scores rest on.",
    ),
    "experts_answered": ("integer", "Item rows: scored experts who answered the item."),
    "known_answer": ("number", "Item rows of seed questions: the true value."),
    "q05": ("number", "Item rows: the combination's 5th percentile."),
    "q50": ("number", "Item rows: the combination's 50th percentile (median)."),
    "q95": ("number", "Item rows: the combination's 95th percentile."),
}
"""The export's ``classical_model`` table: every closed round's stored model, tidy."""

#: Columns of :data:`CLASSICAL_MODEL_COLUMNS` that hold whole numbers.
_WHOLE_COLUMNS = ("round", "expert", "seeds_answered", "effective_seeds", "experts_answered")


def classical_model_table(session: Session, study: Study) -> pd.DataFrame:
    """Every closed round's classical model as stored (:data:`CLASSICAL_MODEL_COLUMNS`),
    round after round: the experts by number (no pseudonym: the summary holds none),
    both decision makers' scores and their quantiles per item.  One round's entry is
    read at a time (at 100,000 experts one entry is a list of 100,000 rows)."""
    block = RoundSummary.statistics["classical_model"]
    rounds = [
        number
        for number, parts in reversed(summary_parts(session, study.id, ("classical_model",)))
        if (parts["classical_model"] or {}).get("status") == "ok"
    ]
    frames = []
    for number in rounds:
        entry = session.execute(
            select(block)
            .join(Round, RoundSummary.round_id == Round.id)
            .where(Round.study_id == study.id, Round.number == number)
        ).scalar_one()
        if entry and entry.get("status") == "ok":
            frames.append(_model_frame(number, entry))
    columns = list(CLASSICAL_MODEL_COLUMNS)
    if not frames:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})
    frame = pd.concat(frames, ignore_index=True)[columns]
    for column in _WHOLE_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    return frame


def _model_frame(number: int, entry: dict[str, Any]) -> pd.DataFrame:
    """One round's stored model as rows of the export's table."""
    columns = list(CLASSICAL_MODEL_COLUMNS)
    experts = pd.DataFrame.from_records(entry.get("experts", []))
    experts = experts.reindex(columns=columns).assign(round=number, kind="expert")
    makers = [
        {
            "round": number,
            "kind": "decision_maker",
            "decision_maker": name,
            "calibration": scores.get("calibration"),
            "information": scores.get("information"),
            "alpha": entry.get("alpha") if name == "performance" else None,
            "effective_seeds": entry.get("effective_seeds"),
        }
        for name, scores in entry.get("decision_makers", {}).items()
    ]
    items = [
        {
            "round": number,
            "kind": "item",
            "decision_maker": name,
            "item": row["item"],
            "experts_answered": row.get("experts"),
            "known_answer": row.get("answer"),
            **dict(zip(("q05", "q50", "q95"), row.get(name) or (None, None, None), strict=True)),
        }
        for row in (*entry.get("seeds", []), *entry.get("targets", []))
        if "experts" in row
        for name in ("performance", "equal")
    ]
    return pd.concat(
        [experts, pd.DataFrame.from_records([*makers, *items], columns=columns)],
        ignore_index=True,
    )
