"""Drafts: what an expert typed, kept exactly as typed until they submit (and after)."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.errors import Conflict
from surveys.models import Draft, Panelist, Round, utcnow
from surveys.rounds import latest_round
from surveys.text import clean_typed_form
from surveys.upsert import upsert
from surveys.visit import Visit, visit_of

DRAFT_VALUE_MAX_LENGTH = 20000


def draft_values(form: Mapping[str, str], fields: AbstractSet[str]) -> dict[str, str]:
    """What a draft keeps of a posted form: the page's own ``fields``, each cut at
    20,000 characters."""
    return {
        name: str(value)[:DRAFT_VALUE_MAX_LENGTH]
        for name, value in form.items()
        if name in fields and value is not None
    }


def stage_draft(
    session: Session,
    panelist: Panelist,
    round_: Round,
    form: Mapping[str, str],
    fields: AbstractSet[str],
    now: datetime,
) -> None:
    """Write what was typed as the panelist's draft for ``round_``, without committing."""
    upsert(
        session,
        Draft,
        [
            {
                "panelist_id": panelist.id,
                "round_id": round_.id,
                "values": {"fields": draft_values(form, fields)},
                "saved_at": now,
            }
        ],
        conflict=("panelist_id", "round_id"),
        update=("values", "saved_at"),
    )


def save_draft(
    session: Session,
    who: Panelist | Visit,
    form: Mapping[str, str],
    *,
    now: datetime | None = None,
) -> datetime:
    """Keep what a panelist (or their visit) typed, valid or not, for the open round;
    return when.  Control characters are removed first (:mod:`surveys.text`).

    With no round open, the draft is kept with the latest round, so that answers typed
    while a round was closing are still there for the study team.
    """
    form = clean_typed_form(form)
    visit = visit_of(session, who)
    round_ = visit.open_round or latest_round(session, visit.study)
    if round_ is None:
        raise Conflict("the study has no round yet")
    now = now or utcnow()
    stage_draft(session, visit.panelist, round_, form, visit.study.fields, now)
    session.commit()
    return now


def find_draft(session: Session, panelist: Panelist, round_: Round) -> Draft | None:
    """The panelist's draft for ``round_``, if any."""
    return session.execute(
        select(Draft).where(Draft.panelist_id == panelist.id, Draft.round_id == round_.id)
    ).scalar_one_or_none()
