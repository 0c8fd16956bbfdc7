"""What opening a study's next round would do, read before it is done.

The console asks a facilitator to confirm before a round opens (experts can be invited
the moment it is open, and round 1 fixes the protocol), and the confirmation says what
will happen: which round, how many panelists (by group), which items are asked and
which left the study, and what the stopping rule recommended at the last close.
:func:`plan_next_round` reads all of it and changes nothing; opening is
:func:`surveys.rounds.open_round`, which refuses for the same reasons the plan lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveys.builder import MissingText, missing_translations, ordered_items
from surveys.models import Item, Panelist, Round, RoundStatus, Study, utcnow
from surveys.protocol import consensus_reason
from surveys.rounds import latest_round, stopping_recommendation

if TYPE_CHECKING:
    import analysis


@dataclass(frozen=True)
class LeftItem:
    """An item that is not asked any more, and why."""

    item: Item
    #: The round whose close retired it because it reached consensus (the study's
    #: ``consensus_items`` setting), or ``None`` when the facilitator retired it.
    consensus_round: int | None


@dataclass(frozen=True)
class OpeningPlan:
    """The study's next round as it would open now."""

    #: The number the round would get.
    number: int
    #: The round still open or in draft, which must close first, if any.
    unfinished: Round | None
    #: Whether the study has held its maximum number of rounds.
    limit_reached: bool
    #: Panelists whose link works (not revoked).
    panelists: int
    #: Panelists by group, groups in alphabetical order; ``""`` for no group, ``None``
    #: (last) for the groups too small to name, together.
    by_group: tuple[tuple[str | None, int], ...]
    #: The items experts would answer, in their order.
    items: tuple[Item, ...]
    #: The retired items, in the builder's order.
    left: tuple[LeftItem, ...]
    #: Texts not written in every language of the study.
    missing: tuple[MissingText, ...]
    #: The stopping rule's recommendation at the last close (``None`` before any).
    recommendation: analysis.StoppingDecision | None
    #: Why the given deadline cannot be used (it is not in the future), if it cannot.
    deadline_problem: str | None

    @property
    def grouped(self) -> bool:
        """Whether any panelist belongs to a group, so that counts by group say more."""
        return any(group != "" for group, _ in self.by_group)

    @property
    def stop_recommended(self) -> bool:
        """Whether the last close's stopping rule recommended stopping the study."""
        return self.recommendation is not None and bool(self.recommendation.stop)

    @property
    def can_open(self) -> bool:
        """Whether :func:`surveys.rounds.open_round` would open the round (the deadline
        aside, which the confirmation's form may still change)."""
        return (
            self.unfinished is None
            and not self.limit_reached
            and bool(self.items)
            and not self.missing
        )


def plan_next_round(
    session: Session, study: Study, *, deadline: datetime | None = None
) -> OpeningPlan:
    """What opening ``study``'s next round with ``deadline`` would do, read now.

    Counts only (nothing here names a panelist); one query for the panel by group,
    one for the latest round, and the stopping rule from the stored summaries.
    """
    latest = latest_round(session, study)
    unfinished = latest if latest is not None and latest.status != RoundStatus.CLOSED else None
    number = 1 if latest is None else latest.number + 1
    panel = session.execute(
        select(Panelist.group, func.count(Panelist.id))
        .where(Panelist.study_id == study.id, Panelist.revoked_at.is_(None))
        .group_by(Panelist.group)
        .order_by(Panelist.group)
    ).all()
    order = ordered_items(study)
    closes = {consensus_reason(round_number): round_number for round_number in range(1, number)}
    return OpeningPlan(
        number=number if unfinished is None else unfinished.number,
        unfinished=unfinished,
        limit_reached=unfinished is None and number > study.max_rounds,
        panelists=sum(count for _, count in panel),
        by_group=_named_groups(panel, study.feedback_min_n),
        items=tuple(item for item in order if item.retired_at is None),
        left=tuple(
            LeftItem(item, closes.get(item.retired_reason or ""))
            for item in order
            if item.retired_at is not None
        ),
        missing=tuple(missing_translations(study)),
        recommendation=stopping_recommendation(session, study) if latest is not None else None,
        deadline_problem=(
            "the deadline must lie in the future"
            if deadline is not None and deadline <= utcnow()
            else None
        ),
    )


def _named_groups(
    panel: Sequence[tuple[str | None, int]], min_group_size: int
) -> tuple[tuple[str | None, int], ...]:
    """The panel's size by group (``""``: no group), as the panel page counts it
    (:func:`surveys.panel.panel_counts`): a group smaller than the study's minimum
    group size is not named, its panelists join one unnamed row (``None``) at the end,
    so that the page cannot single out somebody alone or nearly alone in a group."""
    if len(panel) <= 1:  # one group or none: its size is the panel's, shown anyway
        return tuple((group or "", count) for group, count in panel)
    named = [(group or "", count) for group, count in panel if count >= min_group_size]
    unnamed = sum(count for _, count in panel if count < min_group_size)
    return (*named, (None, unnamed)) if unnamed else tuple(named)
