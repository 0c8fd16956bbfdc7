"""The audit log: every facilitator action, who, when, what, on which study."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
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


def study_log(session: Session, study: Study, *, limit: int = 200) -> list[AuditEvent]:
    """The study's most recent events, newest first."""
    return list(
        session.execute(
            select(AuditEvent)
            .where(AuditEvent.study_id == study.id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        ).scalars()
    )
