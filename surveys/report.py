"""A study's report: what the report page and its download show, gathered for one study.

Nothing here computes a statistic.  Every number is one stored when a round closed (the
feedback the panel saw), read through :func:`surveys.exports.open_export` (summaries,
subgroups, methods, reproduction settings; never the responses) and
:func:`surveys.results.study_results` (each item's stored rows and sorted answers, round
after round); the recommendation is :func:`surveys.rounds.stopping_recommendation` and
the current panel :func:`surveys.progress.study_progress`.  Only what no summary stores
is counted here: the panel of each round and its respondents, by group, and the answers
to open-text items (:func:`surveys.exports.submitted_texts`, one counting query).

The report is for the study's members, researchers included, and may be passed on to
reviewers, so it holds no name, email, access token or pseudonym: panelists appear only
as counts, and subgroup rows that the summary masked stay masked.  The same holds for
the scores (:mod:`surveys.scores`, read as stored): each pooling method's, how many
panelists each beats, and the panelists' as a spread (best, quartiles, worst) and by
rank without pseudonym (every panelist of a small panel, the best and worst of a large
one); the scores by pseudonym are in the console's outcomes page and in the exports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import analysis
from analysis.deferred import deferred
from surveys.cross_impact import ImpactTable, impact_tables
from surveys.definition import KINDS_WITHOUT_DEFAULT_RULE, ItemDefinition
from surveys.exports import open_export, submitted_texts
from surveys.feedback import REASONS_PER_PAGE, selection_rule_text
from surveys.models import (
    Panelist,
    Response,
    ResponseStatus,
    Round,
    RoundStatus,
    RoundSummary,
    Study,
    utcnow,
)
from surveys.progress import GroupRate, study_progress
from surveys.protocol import ProtocolRecord, protocol_record
from surveys.resolutions import resolvable
from surveys.results import study_results
from surveys.rounds import combined_state, stopping_recommendation
from surveys.scores import StoredScores, panelist_scores, stored_scores
from surveys.serialization import item_from_json
from surveys.signposts import SignpostMatrix, signpost_matrix
from surveys.studies import study_definition

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

CONSENSUS_COLUMNS: tuple[str, ...] = (
    "round",
    "item",
    "component",
    "n",
    "median",
    "q1",
    "q3",
    "iqr",
    "state",
    "rule",
    "evidence",
)
"""Columns of :attr:`StudyReport.consensus`: each distribution's consensus per round."""

STABILITY_COLUMNS: tuple[str, ...] = (
    "round",
    "item",
    "component",
    "n_paired",
    "changed_share",
    "wilcoxon_v",
    "wilcoxon_z",
    "wilcoxon_p",
    "median_change",
    "iqr_change",
    "stable",
)
"""Columns of :attr:`StudyReport.stability`: each distribution against the round before."""

SUBGROUP_COLUMNS: tuple[str, ...] = (
    "round",
    "group",
    "item",
    "component",
    "n",
    "median",
    "q1",
    "q3",
    "iqr",
    "state",
    "masked",
)
"""Columns of the subgroup comparison (:attr:`ReportItem.subgroups`)."""

POOLED_COLUMNS: tuple[str, ...] = (
    "round",
    "item",
    "component",
    "n",
    "mean",
    "median",
    "pool_trimmed_mean",
    "pool_geometric_odds",
    "pool_extremized",
)
"""Columns of :attr:`StudyReport.pooled`: the pools of every probability, in percent.
``mean`` is the linear pool and ``median`` the median pool."""

#: A distribution of up to this many answers is drawn answer by answer (a strip of
#: dots, its answers listed in the plot's alt text); one of more, from its stored
#: statistics (its range, middle half and median), and a round with one is read
#: without its answers: the report's size and time then depend on the items, not on
#: the panel (a strip of 100,000 dots, and alt text listing them, made the report of a
#: 10,000-panelist study 23 MB and 15 s).
ANSWERS_SHOWN = 200

POOLED_KINDS: tuple[str, ...] = ("probability", "scenario_set", "signpost", "cross_impact")
"""Item kinds whose answers are probabilities and are pooled."""


@dataclass(frozen=True)
class Histogram:
    """The stored counts of one distribution and where they lie on the item's scale.

    A discrete scale (likert, ranking) counts answers per option: ``options`` holds the
    option values, one per count.  A continuous scale counts them in equal-width bins:
    ``edges`` holds the bins' ends, one more than the counts (the last bin includes the
    maximum; see :func:`analysis.describe`).
    """

    counts: tuple[int, ...]
    options: tuple[float, ...] | None = None
    edges: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ComponentRound:
    """One distribution of one item in one closed round."""

    round: int
    #: The stored summary row (every column of :data:`analysis.SUMMARY_COLUMNS`).
    statistics: dict[str, Any]
    #: The round's answers, sorted (they say nothing about who gave which); empty when
    #: the round has a distribution of more than :data:`ANSWERS_SHOWN` answers.
    values: tuple[float, ...]
    #: The stored histogram, ``None`` when the item has no scale to count on.
    histogram: Histogram | None


@dataclass(frozen=True)
class ReportItem:
    """One numeric item: its texts and, per component, its distribution in each round."""

    key: str
    kind: str
    text: str
    section: str | None
    #: Labels of a likert scale's options by value; empty for other kinds.
    labels: dict[float, str]
    #: Texts of a scenario set's scenarios or a ranking's options by component key.
    component_texts: dict[str, str]
    #: The range one answer may take (scale, 0–100, places, an estimate's bounds).
    bounds: tuple[float, float] | None
    unit: str | None
    #: Number of wordings the item has had (1 = never reworded).
    versions: int
    retired_at: datetime | None
    retired_reason: str | None
    #: The last closed round before the item was retired.
    retired_after_round: int | None
    #: Rounds by component (``""`` for a single number), components in the item's order.
    components: dict[str, list[ComponentRound]]
    #: The subgroup rows of this item (:data:`SUBGROUP_COLUMNS`); masked rows stay masked.
    subgroups: pd.DataFrame
    #: The confidence level (percent) a numeric estimate's intervals are standardised to.
    estimate_level: float = analysis.DEFAULT_ESTIMATE_LEVEL

    @property
    def rounds(self) -> list[int]:
        """The closed rounds in which the item was summarised."""
        return sorted({entry.round for history in self.components.values() for entry in history})

    @property
    def final_round(self) -> int | None:
        """The last closed round in which the item was summarised."""
        return max(self.rounds, default=None)

    @property
    def final_state(self) -> str | None:
        """The item's consensus state in its last round: ``dissensus`` if any component
        is split, ``consensus`` if every one agrees, else ``no_consensus``; ``None``
        when the item has no consensus rule."""
        last = self.final_round
        return combined_state(
            entry.statistics.get("state")
            for history in self.components.values()
            for entry in history
            if entry.round == last
        )


@dataclass(frozen=True)
class OpenTextItem:
    """An open-text item: not summarised, only how many answered it per round."""

    key: str
    text: str
    answers_by_round: dict[int, int]


@dataclass(frozen=True)
class RoundFacts:
    """One closed round: when it ran, its panel and who responded, by group.

    The panel of a round is everyone added before the round closed whose link was not
    withdrawn before it opened, plus anyone who submitted in it.
    """

    number: int
    opened_at: datetime | None
    closed_at: datetime | None
    panelists: int
    #: Panelists who submitted at least one answer (as stored with the summary).
    respondents: int
    by_group: list[GroupRate]
    quantile_method: str
    #: The subgroup minimum the round's subgroup rows were masked with.
    min_group_size: int
    #: The consensus rules that decided the round's items, in words.
    consensus_rules: tuple[str, ...]
    #: What the round's answers started from: "previous" (each panelist's own answers
    #: of the round before) or "blank" (``Round.started_from``).
    started_from: str | None = None

    @property
    def rate(self) -> float:
        """Share of the round's panel who responded."""
        return self.respondents / self.panelists if self.panelists else 0.0


@dataclass(frozen=True)
class ReportMethods:
    """What a methods section states (CREDES: Jünger et al. 2017): the study's settings
    now; what each closed round was computed with is in its :class:`RoundFacts`."""

    software_version: str
    quantile_method: str
    #: Hyndman & Fan (1996) sample quantile type of ``quantile_method``.
    hyndman_fan_type: int
    #: The study's default consensus rule, in words.
    consensus_default: str
    #: Rules for item kinds, ``(kind, rule)``.
    consensus_by_kind: tuple[tuple[str, str], ...]
    #: Rules written on single items, ``(item key, rule)``, and on single parts of
    #: items, ``("KEY.PART", rule or "none")``.
    consensus_by_item: tuple[tuple[str, str], ...]
    #: Kinds that reach consensus only by a rule written for them.
    kinds_without_default_rule: tuple[str, ...]
    #: The other settings of :func:`analysis.summarize_round` every summary used:
    #: stability rule, Wilcoxon settings, pooling, estimate level, bootstrap.
    parameters: dict[str, Any]
    feedback_min_n: int
    max_rounds: int
    cannot_judge: bool
    anonymity: str
    rationale_outside_iqr: str
    languages: tuple[str, ...]
    #: The export's methods table (key, value), as an appendix.
    table: pd.DataFrame
    #: What happens at a close to items that reached consensus ("leave", "stay", "ask").
    consensus_items: str = "stay"
    #: How later rounds start now ("previous" or "blank"); each round's own is in its
    #: :attr:`RoundFacts.started_from`.
    carry_over: str = "previous"
    #: The pre-registration: the stamp of round 1 and every amendment since, each with
    #: the round it first applied to; ``None`` when the protocol is not stamped.
    protocol: ProtocolRecord | None = None
    #: The most reasons an expert read per item and page: the rule of
    #: :func:`surveys.feedback.selection_rule_text`, which the report states.
    reasons_per_page: int = REASONS_PER_PAGE
    reasons_rule: str = field(default_factory=selection_rule_text)


@dataclass(frozen=True)
class ReportResolution:
    """One resolved item: what happened, when it was known, from what source."""

    key: str
    text: str
    kind: str
    #: ``"yes"``/``"no"`` for a probability item, the scenario's key for a scenario set.
    outcome: str
    #: The scenario's text (a scenario set), else ``None``.
    outcome_text: str | None
    resolved_on: date
    source: str
    #: The round whose answers were scored on it (``None`` before a round closed).
    round: int | None


@dataclass(frozen=True)
class ReportScores:
    """The outcomes and the stored scores (:mod:`surveys.scores`): each pooling method's
    scores, the panelists' spread and ranks (no pseudonym: see the module's note), and
    the calibration tables."""

    resolutions: list[ReportResolution]
    #: ``None`` while no closed round's answer is scored.
    stored: StoredScores | None
    #: The panelists' own scores ranked, best (lowest log score) first, without
    #: pseudonym: ``(rank, fields)``, every panelist up to :data:`RANKED_PANELISTS`,
    #: else the :data:`RANKED_ENDS` best and worst with ``None`` between them.
    ranked: list[tuple[int, dict[str, Any]] | None] = field(default_factory=list)

    @property
    def unranked(self) -> int:
        """How many panelists :attr:`ranked` leaves out between the best and the worst
        (0 when it ranks every one)."""
        if self.stored is None or None not in self.ranked:
            return 0
        return self.stored.panelists - (len(self.ranked) - 1)

    @property
    def ends(self) -> int:
        """How many best and how many worst :attr:`ranked` shows when it leaves some out."""
        return (len(self.ranked) - 1) // 2 if self.unranked else 0


@dataclass(frozen=True)
class StudyReport:
    """Everything the report shows, for one study in one language."""

    slug: str
    title: str
    language: str
    generated_at: datetime
    methods: ReportMethods
    #: The current panel (links not withdrawn): number of panelists by group.
    panel: dict[str, int]
    rounds: list[RoundFacts]
    #: The round open now, whose answers the report leaves out.
    open_round: int | None
    stopping: analysis.StoppingDecision | None
    items: list[ReportItem]
    open_text: list[OpenTextItem]
    #: Every distribution in every round (:data:`CONSENSUS_COLUMNS`).
    consensus: pd.DataFrame
    #: Every distribution of round 2 on against the round before (:data:`STABILITY_COLUMNS`).
    stability: pd.DataFrame
    #: Pools of every probability and scenario set (:data:`POOLED_COLUMNS`).
    pooled: pd.DataFrame
    #: The retired items among :attr:`items`.
    retired: list[ReportItem] = field(default_factory=list)
    #: What happened and how the panel scored on it; ``None`` before any outcome.
    scores: ReportScores | None = None
    #: The signpost matrix of the latest closed round that has signposts.
    signposts: SignpostMatrix | None = None
    #: Each cross-impact item's impact table (:mod:`surveys.cross_impact`).
    cross_impact: list[ImpactTable] = field(default_factory=list)

    @property
    def scenario_sets(self) -> list[ReportItem]:
        """The scenario-set items that were summarised."""
        return [item for item in self.items if item.kind == "scenario_set"]


def study_report(session: Session, study: Study, language: str) -> StudyReport:
    """Gather the report of ``study`` with its texts in ``language`` (else the study's
    first language)."""
    tables = open_export(session, study, per_panelist=False)
    definition = study_definition(study)
    fallback = definition.languages[0]
    rounds = _round_facts(session, study, tables.settings, tables.summaries)
    closed_at = {facts.number: facts.closed_at for facts in rounds}
    order = _item_order(study)
    scales = {entry["round"]: entry["scales"] for entry in tables.settings["rounds"]}
    items = [
        _report_item(
            study, entry.key, entry.components, tables.subgroups, scales, closed_at, language
        )
        for entry in study_results(session, study, language, values_up_to=ANSWERS_SHOWN)
        if entry.components
    ]
    progress = study_progress(session, study)
    parameters = tables.settings["parameters"]
    methods = ReportMethods(
        software_version=tables.settings["software_version"],
        quantile_method=study.quantile_method,
        hyndman_fan_type=analysis.QUANTILE_METHODS.index(study.quantile_method) + 1,
        consensus_default=definition.consensus.default.describe(),
        consensus_by_kind=tuple(
            (kind, rule.describe()) for kind, rule in definition.consensus.by_kind
        ),
        consensus_by_item=tuple(
            (key, rule.describe() if rule is not None else "none")
            for item in _definitions(study)
            for key, rule in (
                *([(item.key, item.consensus)] if item.consensus is not None else []),
                *((f"{item.key}.{part}", part_rule) for part, part_rule in item.part_rules),
            )
        ),
        kinds_without_default_rule=KINDS_WITHOUT_DEFAULT_RULE,
        parameters=parameters,
        feedback_min_n=study.feedback_min_n,
        max_rounds=study.max_rounds,
        cannot_judge=study.cannot_judge,
        anonymity=study.anonymity,
        rationale_outside_iqr=study.rationale_outside_iqr,
        languages=definition.languages,
        table=tables.methods,
        consensus_items=study.consensus_items,
        carry_over=study.carry_over,
        protocol=protocol_record(session, study),
    )
    pooled_items = [item.key for item in items if item.kind in POOLED_KINDS]
    summaries = tables.summaries
    return StudyReport(
        slug=study.slug,
        title=definition.title.get(language, fallback),
        language=language,
        generated_at=utcnow(),
        methods=methods,
        panel={entry.group: entry.panelists for entry in progress.by_group},
        rounds=rounds,
        open_round=progress.open_round.number if progress.open_round else None,
        stopping=stopping_recommendation(session, study),
        items=items,
        open_text=_open_text(study, submitted_texts(session, study), language),
        consensus=_ordered(summaries, CONSENSUS_COLUMNS, order),
        stability=_ordered(
            summaries[summaries["round"] > 1] if not summaries.empty else summaries,
            STABILITY_COLUMNS,
            order,
        ),
        pooled=_ordered(
            summaries[summaries["item"].isin(pooled_items)] if not summaries.empty else summaries,
            POOLED_COLUMNS,
            order,
        ),
        retired=[item for item in items if item.retired_at is not None],
        scores=_report_scores(session, study, language, fallback),
        signposts=signpost_matrix(session, study, language),
        cross_impact=impact_tables(session, study, language),
    )


def _report_scores(
    session: Session, study: Study, language: str, fallback: str
) -> ReportScores | None:
    """The resolved items and the stored scores; ``None`` before any outcome."""
    stored = stored_scores(session, study)
    rounds = stored.rounds if stored is not None else {}
    resolutions = []
    for entry in resolvable(session, study):
        row = entry.resolution
        if row is None:
            continue
        definition = entry.definition
        scenario = {
            choice.key: choice.text.get(language, fallback) for choice in definition.scenarios
        }
        resolutions.append(
            ReportResolution(
                key=definition.key,
                text=definition.text.get(language, fallback),
                kind=definition.kind,
                outcome=row.outcome,
                outcome_text=scenario.get(row.outcome),
                resolved_on=row.resolved_on,
                source=row.source,
                round=rounds.get(definition.key),
            )
        )
    if not resolutions:
        return None
    return ReportScores(
        resolutions=resolutions, stored=stored, ranked=_ranked_panelists(session, study, stored)
    )


#: Up to this many panelists, the report ranks every one's scores.
RANKED_PANELISTS = 50
#: Beyond :data:`RANKED_PANELISTS`, the report ranks this many best and worst.
RANKED_ENDS = 10


def _ranked_panelists(
    session: Session, study: Study, stored: StoredScores | None
) -> list[tuple[int, dict[str, Any]] | None]:
    """The panelists' scores by rank, without pseudonym (see :class:`ReportScores`):
    two bounded reads, whatever the panel's size."""
    if stored is None or not stored.panelists:
        return []
    total = stored.panelists
    if total <= RANKED_PANELISTS:
        return [
            (rank, _anonymous(row))
            for rank, row in enumerate(panelist_scores(session, study), start=1)
        ]
    best = panelist_scores(session, study, limit=RANKED_ENDS)
    worst = panelist_scores(session, study, offset=total - RANKED_ENDS, limit=RANKED_ENDS)
    return [
        *((rank, _anonymous(row)) for rank, row in enumerate(best, start=1)),
        None,
        *((rank, _anonymous(row)) for rank, row in enumerate(worst, start=total - RANKED_ENDS + 1)),
    ]


def _anonymous(row: dict[str, Any]) -> dict[str, Any]:
    """A panelist's score row without the pseudonym."""
    return {key: value for key, value in row.items() if key not in ("forecaster", "item")}


# -- rounds and panel ----------------------------------------------------------------------


def _round_facts(
    session: Session, study: Study, settings: dict[str, Any], summaries: pd.DataFrame
) -> list[RoundFacts]:
    """Each closed round with its panel and respondents, overall and by group."""
    # The summaries' two numbers, not the summaries: loading one loads its statistics,
    # every distribution's sorted answers included (hundreds of MB at 100,000 panelists).
    stored = {
        number: (respondents, quantile_method)
        for number, respondents, quantile_method in session.execute(
            select(Round.number, RoundSummary.respondents, RoundSummary.quantile_method)
            .join(RoundSummary.round)
            .where(Round.study_id == study.id)
        )
    }
    closed = [
        round_
        for round_ in study.rounds
        if round_.status == RoundStatus.CLOSED and round_.number in stored
    ]
    panel = session.execute(
        select(Panelist.id, Panelist.group, Panelist.created_at, Panelist.revoked_at).where(
            Panelist.study_id == study.id
        )
    ).all()
    group_of = {panelist_id: group for panelist_id, group, _, _ in panel}
    submitted: dict[int, set[int]] = {}
    for number, panelist_id in session.execute(
        select(Round.number, Response.panelist_id)
        .join(Response.round)
        .where(Round.study_id == study.id, Response.status == ResponseStatus.SUBMITTED)
        .distinct()
    ):
        submitted.setdefault(number, set()).add(panelist_id)
    recorded = {entry["round"]: entry for entry in settings["rounds"]}
    facts = []
    for round_ in closed:
        respondents, quantile_method = stored[round_.number]
        responded = submitted.get(round_.number, set())
        members = {
            panelist_id
            for panelist_id, _, created_at, revoked_at in panel
            if (round_.closed_at is None or created_at <= round_.closed_at)
            and (revoked_at is None or round_.opened_at is None or revoked_at > round_.opened_at)
        } | responded
        groups = sorted({group_of[panelist_id] for panelist_id in members})
        rules = summaries.loc[summaries["round"] == round_.number, "rule"].dropna()
        facts.append(
            RoundFacts(
                number=round_.number,
                opened_at=round_.opened_at,
                closed_at=round_.closed_at,
                panelists=len(members),
                respondents=respondents,
                by_group=[
                    GroupRate(
                        group,
                        sum(1 for member in members if group_of[member] == group),
                        sum(1 for member in responded if group_of[member] == group),
                    )
                    for group in groups
                ],
                quantile_method=quantile_method,
                min_group_size=recorded[round_.number]["min_group_size"],
                consensus_rules=tuple(sorted(set(rules))),
                started_from=round_.started_from,
            )
        )
    return facts


# -- items ---------------------------------------------------------------------------------


def _definitions(study: Study) -> list[ItemDefinition]:
    """Every item's current definition, retired ones included, in study order."""
    return [item_from_json(item.key, item.kind, item.spec) for item in study.items]


def _item_order(study: Study) -> dict[tuple[str, str], int]:
    """A sort position for every (item, component): study order, then component order."""
    order: dict[tuple[str, str], int] = {}
    for definition in _definitions(study):
        for component in definition.components:
            order[(definition.key, component)] = len(order)
    return order


def _report_item(
    study: Study,
    key: str,
    stored: dict[str, Any],
    subgroups: pd.DataFrame,
    scales: dict[int, dict[str, Any]],
    closed_at: dict[int, datetime | None],
    language: str,
) -> ReportItem:
    """One item of :func:`surveys.results.study_results` with its texts, its histograms
    placed on each round's stored scale (``scales``: round → item → scale) and its
    subgroup rows, components in the item's own order."""
    row = next(item for item in study.items if item.key == key)
    definition = item_from_json(row.key, row.kind, row.spec)
    fallback = study.languages["codes"][0]
    components: dict[str, list[ComponentRound]] = {}
    known = [c for c in definition.components if c in stored]
    for component in known + sorted(set(stored) - set(known)):
        components[component] = [
            ComponentRound(
                round=result.round,
                statistics=result.statistics,
                values=tuple(result.values),
                histogram=_histogram(
                    result.statistics.get("histogram"), scales.get(result.round, {}).get(key)
                ),
            )
            for result in stored[component]
        ]
    labels: dict[float, str] = {}
    if definition.scale is not None:
        texts = definition.scale.labels_in(language, fallback)
        labels = {
            float(definition.scale.minimum + offset): text for offset, text in enumerate(texts)
        }
    choices = definition.scenarios or definition.options
    retired_after = None
    if row.retired_at is not None:
        before = [
            number
            for number, moment in closed_at.items()
            if moment is not None and moment <= row.retired_at
        ]
        retired_after = max(before, default=None)
    mine = subgroups[subgroups["item"] == key] if not subgroups.empty else subgroups
    return ReportItem(
        key=key,
        kind=definition.kind,
        text=definition.text.get(language, fallback),
        section=_section_title(study, definition.section, language),
        labels=labels,
        component_texts={choice.key: choice.text.get(language, fallback) for choice in choices},
        bounds=definition.bounds,
        unit=definition.unit.get(language, fallback) if definition.unit else None,
        versions=len(row.versions) or 1,
        retired_at=row.retired_at,
        retired_reason=row.retired_reason,
        retired_after_round=retired_after,
        components=components,
        subgroups=_ordered(mine, SUBGROUP_COLUMNS, _item_order(study), by_group=True),
        estimate_level=definition.confidence_level,
    )


def _histogram(stored: str | None, scale: dict[str, Any] | None) -> Histogram | None:
    """The stored histogram (JSON text of counts) placed on the round's scale."""
    if not stored or scale is None:
        return None
    counts = tuple(int(count) for count in json.loads(stored))
    low, high = scale.get("minimum"), scale.get("maximum")
    if low is None or high is None or not counts:
        return None
    if scale.get("options"):
        step = (high - low) / (len(counts) - 1) if len(counts) > 1 else 0.0
        return Histogram(counts, options=tuple(low + step * index for index in range(len(counts))))
    width = (high - low) / len(counts)
    return Histogram(counts, edges=tuple(low + width * index for index in range(len(counts) + 1)))


def _section_title(study: Study, key: str | None, language: str) -> str | None:
    """The title of section ``key`` in ``language``."""
    if key is None:
        return None
    fallback = study.languages["codes"][0]
    for section in study.sections.get("sections", []):
        if section.get("key") == key:
            titles = section.get("title", {})
            return str(titles.get(language) or titles.get(fallback) or key)
    return key


def _open_text(
    study: Study, counts: dict[str, dict[int, int]], language: str
) -> list[OpenTextItem]:
    """Open-text items and how many submitted answers each had per round (``counts``:
    item key → round → answers, as :func:`surveys.exports.submitted_texts` counts)."""
    fallback = study.languages["codes"][0]
    return [
        OpenTextItem(
            key=definition.key,
            text=definition.text.get(language, fallback),
            answers_by_round=dict(sorted(counts.get(definition.key, {}).items())),
        )
        for definition in _definitions(study)
        if definition.kind == "open_text"
    ]


def _ordered(
    frame: pd.DataFrame,
    columns: Sequence[str],
    order: dict[tuple[str, str], int],
    *,
    by_group: bool = False,
) -> pd.DataFrame:
    """``frame``'s ``columns`` sorted by item and component in study order, then round
    (and group); missing values as ``None``."""
    if frame.empty:
        return pd.DataFrame(columns=list(columns))
    result = frame.loc[:, list(columns)].copy()
    result["_position"] = [
        order.get((item, component), len(order))
        for item, component in zip(result["item"], result["component"], strict=True)
    ]
    keys = ["_position", "round", *(["group"] if by_group else [])]
    result = result.sort_values(keys, kind="stable").drop(columns="_position")
    result = result.astype(object).where(result.notna(), None)
    return result.reset_index(drop=True)
