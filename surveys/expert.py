"""What an expert's page shows: the open round's items, their saved answers, and the
panel's result from the previous round beside their own previous answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.definition import StudyDefinition
from surveys.models import Panelist, Response, Round, RoundStatus
from surveys.rounds import closed_summary, latest_round, open_round_of
from surveys.studies import StoredItem, active_items, study_definition


@dataclass(frozen=True)
class Feedback:
    """The panel's result on one item in the previous round, and the expert's answer.

    ``statistics`` maps a component (``""`` for single-value items, else a scenario key)
    to that distribution's summary row (n, median, q1, q3, iqr, consensus, …).
    """

    round_number: int
    statistics: dict[str, dict[str, Any]]
    own_answer: dict[str, Any] | None


@dataclass(frozen=True)
class ExpertItem:
    """One item on the expert's page."""

    stored: StoredItem
    answer: dict[str, Any] | None = None
    rationale: str | None = None
    feedback: Feedback | None = None


@dataclass(frozen=True)
class ExpertPage:
    """Everything the expert's page shows."""

    definition: StudyDefinition
    pseudonym: str
    language: str
    round: Round | None
    last_round: Round | None
    items: list[ExpertItem] = field(default_factory=list)

    @property
    def submitted(self) -> bool:
        """Whether the expert has submitted answers to the open round."""
        return any(item.answer is not None for item in self.items)


def expert_page(session: Session, panelist: Panelist) -> ExpertPage:
    """Assemble the page for ``panelist``: the open round, or the study's state if none."""
    study = panelist.study
    definition = study_definition(study)
    round_ = open_round_of(session, study)
    page = ExpertPage(
        definition, panelist.pseudonym, panelist.language, round_, latest_round(session, study)
    )
    if round_ is None:
        # No answers to collect, but the items are listed so that a page refused
        # because the round closed can still show what the expert typed.
        page.items.extend(ExpertItem(stored) for stored in active_items(study))
        return page
    current = _answers(session, panelist, round_)
    previous_round = _previous_closed_round(session, round_)
    previous = _answers(session, panelist, previous_round) if previous_round else {}
    summary = closed_summary(session, study, previous_round.number) if previous_round else None
    rows_by_item: dict[str, dict[str, dict[str, Any]]] = {}
    if summary is not None:
        for row in summary.statistics["rows"]:
            rows_by_item.setdefault(row["item"], {})[row["component"]] = row
    for stored in active_items(study):
        response = current.get(stored.id)
        feedback = None
        if previous_round is not None and stored.definition.numeric:
            own = previous.get(stored.id)
            feedback = Feedback(
                previous_round.number,
                rows_by_item.get(stored.definition.key, {}),
                own.answer if own else None,
            )
        page.items.append(
            ExpertItem(
                stored,
                response.answer if response else None,
                response.rationale if response else None,
                feedback,
            )
        )
    return page


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
