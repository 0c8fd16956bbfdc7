"""Drafts: what an expert typed, kept exactly as typed until they submit (and after)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from surveys.errors import Conflict
from surveys.fields import component_field, rationale_field
from surveys.models import Draft, Panelist, Round, utcnow
from surveys.rounds import latest_round, open_round_of
from surveys.studies import active_items

DRAFT_VALUE_MAX_LENGTH = 20000


def draft_fields(panelist: Panelist) -> set[str]:
    """Every form field name the panelist's page can post."""
    names: set[str] = set()
    for stored in active_items(panelist.study):
        item = stored.definition
        names.add(rationale_field(item.key))
        names.update(component_field(item.key, part) for part in item.components)
    return names


def save_draft(
    session: Session, panelist: Panelist, form: Mapping[str, str], *, now: datetime | None = None
) -> Draft:
    """Keep what the panelist typed, valid or not, for the open round.

    With no round open, the draft is kept with the latest round, so that answers typed
    while a round was closing are still there for the study team.  Only the page's
    own fields are kept, each cut at 20,000 characters.
    """
    round_ = open_round_of(session, panelist.study) or latest_round(session, panelist.study)
    if round_ is None:
        raise Conflict("the study has no round yet")
    known = draft_fields(panelist)
    values = {
        name: str(value)[:DRAFT_VALUE_MAX_LENGTH]
        for name, value in form.items()
        if name in known and value is not None
    }
    draft = find_draft(session, panelist, round_)
    if draft is None:
        draft = Draft(panelist_id=panelist.id, round_id=round_.id, values={})
        session.add(draft)
    draft.values = {"fields": values}
    draft.saved_at = now or utcnow()
    try:
        session.commit()
    except IntegrityError:
        # Two autosaves raced to create the draft: the other one won; save over it.
        session.rollback()
        draft = find_draft(session, panelist, round_)
        assert draft is not None
        draft.values = {"fields": values}
        draft.saved_at = now or utcnow()
        session.commit()
    return draft


def find_draft(session: Session, panelist: Panelist, round_: Round) -> Draft | None:
    """The panelist's draft for ``round_``, if any."""
    return session.execute(
        select(Draft).where(Draft.panelist_id == panelist.id, Draft.round_id == round_.id)
    ).scalar_one_or_none()
