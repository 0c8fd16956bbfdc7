"""What every request of an expert starts from: who they are, their study, and the
study's open round, read together in one query."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session

from surveys.errors import AccessRevoked, NotFound
from surveys.models import Panelist, Round, RoundStatus, Study
from surveys.rounds import open_round_of
from surveys.snapshots import REVISION_COLUMNS, StudySnapshot, snapshot_for_revision, study_snapshot


@dataclass(frozen=True)
class Visit:
    """A panelist, their study and its open round, as one request found them.

    The domain functions an expert's requests call (:func:`surveys.expert.expert_page`,
    :func:`surveys.drafts.save_draft`, :func:`surveys.answers.submit_responses`) take a
    visit or a bare panelist, whose visit they then read themselves.
    """

    panelist: Panelist
    study: StudySnapshot
    #: The study's open round when the visit began, or None.  A submission checks again,
    #: under lock, that it is still open before it stores anything.
    open_round: Round | None


_VISIT = (
    select(Panelist, Round, *REVISION_COLUMNS)
    .join(Study, Study.id == Panelist.study_id)
    # At most one open round per study (a unique partial index): one row at most.
    .outerjoin(Round, and_(Round.study_id == Study.id, Round.status == RoundStatus.OPEN))
    .where(Panelist.token_hash == bindparam("token_hash"))
)


def visit_for_token_hash(session: Session, token_hash: str) -> Visit:
    """The visit of the panelist whose link hashes to ``token_hash`` (as kept in a
    session cookie), in one query.

    Raises :class:`NotFound` for an unknown link and :class:`AccessRevoked` for a
    withdrawn one, as :func:`surveys.panel.panelist_for_token_hash` does.
    """
    row = session.execute(_VISIT, {"token_hash": token_hash}).one_or_none()
    if row is None:
        raise NotFound("this personal link is not valid")
    panelist, open_round, *revision = row
    if panelist.revoked_at is not None:
        raise AccessRevoked("this personal link has been withdrawn")
    return Visit(panelist, snapshot_for_revision(session, panelist.study_id, revision), open_round)


def visit_of(session: Session, who: Panelist | Visit) -> Visit:
    """``who`` if it is a visit already, else the visit of that panelist."""
    if isinstance(who, Visit):
        return who
    study = study_snapshot(session, who.study_id)
    return Visit(who, study, open_round_of(session, study))
