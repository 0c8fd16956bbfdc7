"""The audit log: every facilitator action, who, when, what, on which study."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveys.models import AuditEvent, Study, User


def record(
    session: Session,
    action: str,
    *,
    study: Study | None,
    user: User | None,
    **details: Any,
) -> None:
    """Add an audit event to the session's transaction (the caller commits).

    ``details`` must never carry a panelist's name or email.
    """
    session.add(
        AuditEvent(
            study_id=study.id if study else None,
            user_id=user.id if user else None,
            user_email=user.email if user else None,
            action=action,
            details=details,
        )
    )


AUDIT_PAGE_SIZE = 100
"""Events listed per page of a study's audit log."""


@dataclass(frozen=True)
class LogPage:
    """One page of a study's audit log, newest first, and where it lies in the log
    (counted by the database)."""

    events: list[AuditEvent]
    #: From 1; a page asked for past the last one is the last one.
    page: int
    pages: int
    #: Events the study's log holds.
    total: int
    page_size: int

    @property
    def first(self) -> int:
        """The position of the page's first event in the log, from 1 (0: empty)."""
        return (self.page - 1) * self.page_size + 1 if self.events else 0

    @property
    def last(self) -> int:
        """The position of the page's last event in the log."""
        return (self.page - 1) * self.page_size + len(self.events)


def study_log_page(
    session: Session, study: Study, page: int = 1, *, page_size: int | None = None
) -> LogPage:
    """Page ``page`` (from 1; past the last: the last) of the study's log, newest
    first, :data:`AUDIT_PAGE_SIZE` events a page unless ``page_size`` says otherwise.

    A large study's log grows with its panel (one event per link issued again, for
    instance), so the page reads its events only and the database counts the rest.
    """
    page_size = page_size or AUDIT_PAGE_SIZE
    where = AuditEvent.study_id == study.id
    total = session.execute(select(func.count(AuditEvent.id)).where(where)).scalar_one()
    pages = max(-(-total // page_size), 1)
    page = min(max(page, 1), pages)
    events = list(
        session.execute(
            select(AuditEvent)
            .where(where)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).scalars()
    )
    return LogPage(events, page, pages, total, page_size)
