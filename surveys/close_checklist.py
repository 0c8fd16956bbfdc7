"""What to check before closing a round: who is still working, who has not answered,
and whether the deadline has passed.  Counts only, never a person.

Closing stores the summary for good, so the console asks first about the answers that
could still come: panelists with an unsubmitted draft, panelists who have not submitted
by group, and the time left before the announced deadline.  A blind study shows group
counts as its panel page does (:func:`surveys.panel.panel_counts`): a group with fewer
members than the study's minimum group size is not named, its panelists join one row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveys.models import Draft, Panelist, Response, ResponseStatus, Round, Study, utcnow
from surveys.panel import small_groups


@dataclass(frozen=True)
class GroupNonRespondents:
    """How many of one group's panelists (with a valid link) have not submitted.
    ``group`` is ``None`` for the row gathering a blind study's small groups."""

    group: str | None
    not_submitted: int
    panelists: int


@dataclass(frozen=True)
class CloseChecklist:
    """The open round's loose ends, as counts."""

    #: Panelists with a valid link who saved a draft and have not submitted.
    drafts: int
    #: Panelists with a valid link who have not submitted.
    not_submitted: int
    #: ``not_submitted`` by group, groups in order, the masked row (if any) last.
    by_group: list[GroupNonRespondents] = field(default_factory=list)
    #: The round's deadline while it has not passed; ``None`` without one or after it.
    deadline: datetime | None = None


def close_checklist(
    session: Session, study: Study, round_: Round, *, now: datetime | None = None
) -> CloseChecklist:
    """Count the open ``round_``'s unsubmitted drafts and non-respondents by group.

    Three grouped queries, whatever the panel's size.  Withdrawn links are not counted:
    nobody can answer through them.  In a blind study every group smaller than
    ``feedback_min_n`` (counting every member, as :func:`surveys.panel.small_groups`
    does) is gathered into one row without a name.
    """
    active = (Panelist.study_id == study.id, Panelist.revoked_at.is_(None))
    submitted_ids = (
        select(Response.panelist_id)
        .where(Response.round_id == round_.id, Response.status == ResponseStatus.SUBMITTED)
        .distinct()
    )
    drafts = session.execute(
        select(func.count(func.distinct(Draft.panelist_id)))
        .join(Panelist, Panelist.id == Draft.panelist_id)
        .where(Draft.round_id == round_.id, *active, Draft.panelist_id.not_in(submitted_ids))
    ).scalar_one()
    panel = dict(
        session.execute(
            select(Panelist.group, func.count(Panelist.id)).where(*active).group_by(Panelist.group)
        ).all()
    )
    missing = dict(
        session.execute(
            select(Panelist.group, func.count(Panelist.id))
            .where(*active, Panelist.id.not_in(submitted_ids))
            .group_by(Panelist.group)
        ).all()
    )
    masked = small_groups(session, study) if study.anonymity == "blind" else set()
    by_group = [
        GroupNonRespondents(group, missing.get(group, 0), panel[group])
        for group in sorted(panel)
        if group not in masked
    ]
    hidden = [group for group in panel if group in masked]
    if hidden:
        by_group.append(
            GroupNonRespondents(
                None,
                sum(missing.get(group, 0) for group in hidden),
                sum(panel[group] for group in hidden),
            )
        )
    moment = now or utcnow()
    deadline = round_.deadline if round_.deadline and round_.deadline > moment else None
    return CloseChecklist(
        drafts=drafts,
        not_submitted=sum(missing.values()),
        by_group=by_group,
        deadline=deadline,
    )
