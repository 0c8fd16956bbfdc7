"""What an expert's page shows: the open round's items, what they typed so far, and
the panel's result from the previous round beside their own previous answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.histogram import Histogram
from analysis.reasons import selection_seed
from surveys.answers import AnswerRules, answer_rules
from surveys.cross_impact import own_coherence
from surveys.definition import StudyDefinition
from surveys.drafts import find_draft
from surveys.feedback import PanelRationale, ReasonPage, reason_pages, round_feedback
from surveys.models import Panelist, Response, Round, RoundStatus, Study, utcnow
from surveys.protocol import consensus_reason
from surveys.rounds import combined_state, latest_round
from surveys.scores import OwnScore, own_score
from surveys.studies import StoredItem, all_items
from surveys.visit import Visit, visit_of


class ShownRound(Protocol):
    """What an expert's page shows of a round: a :class:`Round` row, or the round a
    preview pretends to open (:mod:`surveys.preview`), which is stored nowhere."""

    @property
    def number(self) -> int:
        """The round's number, from 1."""

    @property
    def deadline(self) -> datetime | None:
        """The deadline announced to the panel, if any."""


class OwnAnswer(Protocol):
    """An expert's answer to one item: a :class:`Response` row, or a simulated one."""

    @property
    def answer(self) -> dict[str, Any]:
        """The answer as stored (``{"value": …}``, ``{"components": …}``, …)."""

    @property
    def rationale(self) -> str | None:
        """The reason given with it, if any."""


@dataclass(frozen=True)
class Feedback:
    """The panel's result on one item in the previous round, and the expert's answer.

    ``withheld`` is true when fewer panelists than the study's ``feedback_min_n``
    answered the item: then no statistic, distribution or rationale is shown, since
    so few answers could identify who gave them.
    """

    round_number: int
    withheld: bool
    #: Summary row (n, median, q1, q3, iqr, consensus, …) by component ("" if single).
    statistics: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The bars of the chart of each component, counted when the round closed.
    histograms: dict[str, Histogram] = field(default_factory=dict)
    own_answer: dict[str, Any] | None = None
    own_rationale: str | None = None
    #: The reasons this expert reads on this page, without their authors: pinned ones
    #: first, then a stratified sample stable for the expert and round
    #: (:mod:`analysis.reasons`).
    rationales: list[PanelRationale] = field(default_factory=list)
    cannot_judge: int = 0
    #: How many reasons the panel gave for the item, and which page of them is shown.
    reasons_total: int = 0
    reasons_page: int = 1
    reasons_pages: int = 1


@dataclass(frozen=True)
class ExpertItem:
    """One item on the expert's page."""

    stored: StoredItem
    answer: dict[str, Any] | None = None
    rationale: str | None = None
    feedback: Feedback | None = None
    #: A cross-impact item: this expert's own coherence record of the previous round
    #: (:class:`surveys.models.CoherenceGap`), private to them, and that round's number.
    coherence: dict[str, Any] | None = None
    coherence_round: int | None = None
    #: The expert's own answer in the previous round to an item that gives no panel
    #: feedback (a seed question), for a round that starts from previous answers.
    previous_answer: dict[str, Any] | None = None


@dataclass(frozen=True)
class ExpertPage:
    """Everything the expert's page shows."""

    definition: StudyDefinition
    pseudonym: str
    language: str
    round: ShownRound | None
    last_round: ShownRound | None
    items: list[ExpertItem] = field(default_factory=list)
    #: What the expert typed and saved last, exactly as typed; None if nothing yet.
    draft: dict[str, str] | None = None
    draft_saved_at: datetime | None = None
    submitted_at: datetime | None = None
    rules: AnswerRules = field(default_factory=AnswerRules)
    #: Whether the study is over: the last round its protocol allows has closed.
    ended: bool = False
    #: Once the study is over and shows its outcome: each item's final result, from
    #: the last round that asked it, as the next round's feedback would have shown it.
    #: ``None`` while the study runs, or when the facilitator turned the outcome off.
    outcome: list[ExpertItem] | None = None
    #: The expert's own score and the pooled panel's, once items have resolved, if the
    #: study shows experts their score (:func:`surveys.scores.own_score`).
    own_score: OwnScore | None = None

    @property
    def submitted(self) -> bool:
        """Whether the expert has submitted answers to the open round."""
        return self.submitted_at is not None

    @property
    def deadline_passed(self) -> bool:
        """Whether the open round's deadline is behind us."""
        return bool(self.round and self.round.deadline and utcnow() > self.round.deadline)


def expert_page(
    session: Session, who: Panelist | Visit, *, reason_pages_shown: Mapping[str, int] | None = None
) -> ExpertPage:
    """Assemble the page for a panelist (or their visit): the open round, or the
    study's state if none.  ``reason_pages_shown`` asks for a later page of some item's
    reasons (item key → page, from 1).

    Reads the previous round's per-item feedback records and the few reasons shown
    (:mod:`surveys.feedback`), never its whole summary: the page costs the same at any
    panel size."""
    visit = visit_of(session, who)
    panelist, study, round_ = visit.panelist, visit.study, visit.open_round
    definition = study.definition
    # An open round is always the latest: the next opens only once it is closed.
    last = round_ or latest_round(session, study)
    if round_ is None:
        # No answers to collect, but the items are listed so that a page refused
        # because the round closed can still show what the expert typed.
        draft = find_draft(session, panelist, last) if last else None
        ended = study_ended(definition, last)
        return ExpertPage(
            definition,
            panelist.pseudonym,
            panelist.language,
            None,
            last,
            [ExpertItem(stored) for stored in study.items],
            draft=draft.values["fields"] if draft else None,
            draft_saved_at=draft.saved_at if draft else None,
            ended=ended,
            outcome=study_outcome(session, panelist, reason_pages_shown) if ended else None,
            own_score=own_score(session, study.id, panelist.pseudonym),
        )
    current = _answers(session, panelist, round_)
    previous_round = _previous_closed_round(session, round_)
    previous = _answers(session, panelist, previous_round) if previous_round else {}
    records = round_feedback(session, previous_round) if previous_round else {}
    shown = {
        stored.definition.key: selection_seed(
            panelist.pseudonym, round_.number, stored.definition.key
        )
        for stored in study.items
        if stored.definition.numeric
    }
    reasons = (
        reason_pages(session, previous_round.id, records, shown, reason_pages_shown)
        if previous_round
        else {}
    )
    # Only this panelist's own rows: nobody else's coherence ever reaches the page.
    coherence = (
        own_coherence(session, previous_round.id, panelist.id)
        if previous_round and any(s.definition.kind == "cross_impact" for s in study.items)
        else {}
    )
    items = []
    for stored in study.items:
        response = current.get(stored.id)
        feedback = None
        if previous_round is not None and stored.definition.numeric:
            key = stored.definition.key
            feedback = item_feedback(
                stored,
                previous_round.number,
                records.get(key),
                previous.get(stored.id),
                definition.feedback_min_n,
                reasons.get(key),
            )
        own = previous.get(stored.id) if stored.definition.kind == "seed" else None
        items.append(
            ExpertItem(
                stored,
                response.answer if response else None,
                response.rationale if response else None,
                feedback,
                coherence.get(stored.definition.key),
                previous_round.number if previous_round else None,
                previous_answer=own.answer if own else None,
            )
        )
    draft = find_draft(session, panelist, round_)
    submitted = [response.submitted_at for response in current.values() if response.submitted_at]
    return ExpertPage(
        definition,
        panelist.pseudonym,
        panelist.language,
        round_,
        last,
        items,
        draft=draft.values["fields"] if draft else None,
        draft_saved_at=draft.saved_at if draft else None,
        submitted_at=max(submitted) if submitted else None,
        rules=answer_rules(session, round_, definition),
        own_score=own_score(session, study.id, panelist.pseudonym),
    )


def study_ended(definition: StudyDefinition, last: Round | None) -> bool:
    """Whether a study is over: its latest round is closed and is the last its protocol
    allows.  A facilitator ends a study early by lowering its maximum number of rounds
    to the rounds held (an amendment, once the protocol is stamped)."""
    return (
        last is not None
        and last.status == RoundStatus.CLOSED
        and last.number >= definition.max_rounds
    )


def study_outcome(
    session: Session, panelist: Panelist, reason_pages_shown: Mapping[str, int] | None = None
) -> list[ExpertItem] | None:
    """The final result of every item of an ended study, for one panelist's page; ``None``
    when the study's facilitator turned the outcome off (``Study.show_outcome``).

    Each item shows the summary of the last round that asked it: the study's last round,
    or, for an item that left the study at consensus, the round whose close retired it
    (items the facilitator retired by hand are left out: their last round is no final
    result).  Exactly what feedback shows: anonymised statistics and sorted answers,
    withheld below the feedback minimum, a page of the panel's reasons without their
    authors (:mod:`surveys.feedback`), and beside them the panelist's own answer then.
    """
    study = session.get(Study, panelist.study_id)
    assert study is not None
    if not study.show_outcome:
        return None
    last = study.rounds[-1].number
    retired_at = {consensus_reason(number): number for number in range(1, last + 1)}
    outcome = []
    records: dict[int, dict[str, dict[str, Any]]] = {}
    reasons: dict[int, dict[str, ReasonPage]] = {}
    answers: dict[int, dict[int, Response]] = {}
    rows = {item.id: item for item in study.items}
    items = all_items(study)
    rounds = {round_.number: round_ for round_ in study.rounds}
    for stored in items:
        row = rows[stored.id]
        number = last if row.retired_at is None else retired_at.get(row.retired_reason or "")
        if number is None:
            continue
        if number not in records:
            round_ = rounds[number]
            records[number] = round_feedback(session, round_)
            seeds = {
                item.definition.key: selection_seed(
                    panelist.pseudonym, "outcome", item.definition.key
                )
                for item in items
                if item.definition.numeric
            }
            reasons[number] = reason_pages(
                session, round_.id, records[number], seeds, reason_pages_shown
            )
            answers[number] = _answers(session, panelist, round_)
        key = stored.definition.key
        feedback = item_feedback(
            stored,
            number,
            records[number].get(key),
            answers[number].get(stored.id),
            study.feedback_min_n,
            reasons[number].get(key),
        )
        if feedback is not None and stored.definition.numeric:
            outcome.append(ExpertItem(stored, feedback=feedback))
    return outcome


def item_feedback(
    stored: StoredItem,
    round_number: int,
    record: Mapping[str, Any] | None,
    own: OwnAnswer | None,
    min_n: int,
    reasons: ReasonPage | None = None,
) -> Feedback | None:
    """The previous round's feedback on one item, withheld below ``min_n`` answers;
    ``None`` for an item the previous round had no answer to at all.  ``record`` is the
    item's feedback record of that round (:mod:`surveys.feedback`, or one computed in
    memory for a preview), ``reasons`` the reasons this expert reads."""
    if stored.definition.kind == "seed":
        # Seed items measure each expert's own calibration: the panel's answers to
        # them are never fed back (the protocol says so).
        return None
    rows = {row["component"]: row for row in (record or {}).get("rows", [])}
    answered = max((row["n"] or 0 for row in rows.values()), default=0)
    own_answer = own.answer if own else None
    own_rationale = own.rationale if own else None
    if not rows and own is None:
        return None  # new in this round (curated), or nobody at all answered it
    if answered < min_n:
        return Feedback(round_number, True, own_answer=own_answer, own_rationale=own_rationale)
    assert record is not None
    reasons = reasons or ReasonPage()
    return Feedback(
        round_number,
        False,
        statistics=rows,
        histograms={
            component: Histogram.from_json(bars)
            for component, bars in record.get("histograms", {}).items()
        },
        own_answer=own_answer,
        own_rationale=own_rationale,
        rationales=reasons.reasons,
        cannot_judge=record.get("cannot_judge", 0),
        reasons_total=reasons.total,
        reasons_page=reasons.page,
        reasons_pages=reasons.pages,
    )


def item_state(feedback: Feedback) -> str | None:
    """One state for the whole item from its distributions' states: dissensus if any
    part is split, consensus if every part agrees, else no consensus; ``None`` when the
    item has no rule (or no statistics)."""
    return combined_state(row.get("state") for row in feedback.statistics.values())


def _answers(session: Session, panelist: Panelist, round_: Round) -> dict[int, Response]:
    """The panelist's responses in ``round_`` by item id."""
    return {
        response.item_id: response
        for response in session.execute(
            select(Response).where(
                Response.panelist_id == panelist.id, Response.round_id == round_.id
            )
        ).scalars()
    }


def _previous_closed_round(session: Session, round_: Round) -> Round | None:
    """The closed round just before ``round_``, if any."""
    return session.execute(
        select(Round).where(
            Round.study_id == round_.study_id,
            Round.number == round_.number - 1,
            Round.status == RoundStatus.CLOSED,
        )
    ).scalar_one_or_none()
