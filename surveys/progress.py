"""Where a study stands: its rounds and the open round's response rate, overall and by
group.  Counts only: nothing here names a panelist."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveys.models import Panelist, Response, ResponseStatus, Round, RoundSummary, Study
from surveys.rounds import open_round_of


@dataclass(frozen=True)
class GroupRate:
    """Panelists of one group and how many of them have submitted."""

    group: str
    panelists: int
    submitted: int

    @property
    def rate(self) -> float:
        """Share who submitted (0 when the group is empty)."""
        return self.submitted / self.panelists if self.panelists else 0.0


@dataclass(frozen=True)
class StudyProgress:
    """A study's rounds and the open round's response rate."""

    rounds: list[Round]
    open_round: Round | None
    panelists: int
    submitted: int
    by_group: list[GroupRate] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Share of the panel that has submitted to the open round."""
        return self.submitted / self.panelists if self.panelists else 0.0


def study_progress(session: Session, study: Study) -> StudyProgress:
    """Count the panel and, for the open round, who has submitted, per group."""
    rounds = list(
        session.execute(
            select(Round).where(Round.study_id == study.id).order_by(Round.number)
        ).scalars()
    )
    current = open_round_of(session, study)
    panel = dict(
        session.execute(
            select(Panelist.group, func.count(Panelist.id))
            .where(Panelist.study_id == study.id, Panelist.revoked_at.is_(None))
            .group_by(Panelist.group)
        ).all()
    )
    submitted: dict[str, int] = {}
    if current is not None:
        # Each submitter once (an index-only scan of the round's submitted responses),
        # then their groups: not a sort of every submitted answer to count distinct.
        submitters = (
            select(Response.panelist_id)
            .where(Response.round_id == current.id, Response.status == ResponseStatus.SUBMITTED)
            .distinct()
            .subquery()
        )
        submitted = dict(
            session.execute(
                select(Panelist.group, func.count())
                .select_from(submitters)
                .join(Panelist, Panelist.id == submitters.c.panelist_id)
                .group_by(Panelist.group)
            ).all()
        )
    by_group = [
        GroupRate(group, count, submitted.get(group, 0)) for group, count in sorted(panel.items())
    ]
    return StudyProgress(
        rounds=rounds,
        open_round=current,
        panelists=sum(panel.values()),
        submitted=sum(submitted.values()),
        by_group=by_group,
    )


def gather_small_groups(
    rates: list[GroupRate], min_group_size: int
) -> tuple[list[GroupRate], GroupRate | None]:
    """Split ``rates`` into the groups of at least ``min_group_size`` panelists and one
    row gathering all smaller ones (``None`` if there is none), its ``group`` empty.

    What a blind study shows: a group of one, named beside its count of submissions,
    would tell the moment that person submitted (see :func:`surveys.panel.panel_counts`).
    """
    named = [rate for rate in rates if rate.panelists >= min_group_size]
    small = [rate for rate in rates if rate.panelists < min_group_size]
    if not small:
        return named, None
    gathered = GroupRate(
        "", sum(rate.panelists for rate in small), sum(rate.submitted for rate in small)
    )
    return named, gathered


@dataclass(frozen=True)
class RoundState:
    """A round and, once closed, how many panelists submitted to it."""

    round: Round
    respondents: int | None


def round_states(session: Session, study: Study) -> list[RoundState]:
    """Every round of the study in order, with its stored respondent count, in one query
    (the summaries' statistics, which can be large, are not loaded)."""
    rows = session.execute(
        select(Round, RoundSummary.respondents)
        .outerjoin(RoundSummary, RoundSummary.round_id == Round.id)
        .where(Round.study_id == study.id)
        .order_by(Round.number)
    ).all()
    return [RoundState(round_, respondents) for round_, respondents in rows]


def panel_size(session: Session, study: Study) -> int:
    """Panelists of the study whose link is not revoked."""
    return session.execute(
        select(func.count(Panelist.id)).where(
            Panelist.study_id == study.id, Panelist.revoked_at.is_(None)
        )
    ).scalar_one()
