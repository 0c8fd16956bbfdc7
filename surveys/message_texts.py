"""A study's message texts as stored: its own templates (else the defaults), the lead's
signature, and the values a message is rendered with, for a panelist or for the sample
panelist a preview shows (:mod:`surveys.message_templates` renders them).

Every change is audited without its text (the audit log keeps which template changed,
when and by whom; the text itself is in the table).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from surveys import audit
from surveys.errors import InvalidValues
from surveys.message_templates import (
    KINDS,
    MessageText,
    deadline_words,
    default_text,
    render,
    template_problems,
)
from surveys.models import (
    MessageTemplate,
    ReminderSchedule,
    ReminderText,
    Round,
    Study,
    User,
    utcnow,
)

LEAD_NAME_LIMIT = 200
LEAD_CONTACT_LIMIT = 320

#: White space and control characters (C0, DEL, C1) and the Unicode line and paragraph
#: separators: what must never split a one-line value.
_NOT_ONE_LINE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")

SAMPLE_PANELISTS = {"en": "Alex Example", "es": "Ana Ejemplo"}
"""The name a preview writes for the panelist, by language."""
SAMPLE_LINK_TOKEN = "sample-link-for-the-preview-only"  # noqa: S105 - opens nothing


@dataclass(frozen=True)
class StoredText:
    """A study's template of one kind in one language, and whether it is its own."""

    kind: str
    language: str
    text: MessageText
    #: False: the default text (the study has not written its own).
    edited: bool
    updated_at: datetime | None = None


def study_template(
    session: Session,
    study: Study,
    kind: str,
    language: str,
    schedule: ReminderSchedule | None = None,
) -> StoredText:
    """The study's template of ``kind`` in ``language``, or the default one.

    With ``schedule`` (a planned reminder of the study), that reminder's own text if it
    has one, else the study's reminder text (``edited`` says whether it is its own).
    """
    if schedule is not None:
        own = _reminder_text(session, schedule, language)
        if own is not None:
            return StoredText(
                kind, language, MessageText(own.subject, own.body), True, own.updated_at
            )
        return replace(study_template(session, study, kind, language), edited=False)
    row = session.execute(
        select(MessageTemplate).where(
            MessageTemplate.study_id == study.id,
            MessageTemplate.kind == kind,
            MessageTemplate.language == language,
        )
    ).scalar_one_or_none()
    if row is None:
        return StoredText(kind, language, default_text(kind, language), False)
    return StoredText(kind, language, MessageText(row.subject, row.body), True, row.updated_at)


def _reminder_text(
    session: Session, schedule: ReminderSchedule, language: str
) -> ReminderText | None:
    return session.execute(
        select(ReminderText).where(
            ReminderText.schedule_id == schedule.id, ReminderText.language == language
        )
    ).scalar_one_or_none()


def reminder_texts(session: Session, study: Study) -> dict[tuple[int, str], datetime]:
    """(schedule id, language) → when it was saved, for each planned reminder's own
    text (the others are sent with the study's reminder text)."""
    return {
        (schedule_id, language): updated_at
        for schedule_id, language, updated_at in session.execute(
            select(ReminderText.schedule_id, ReminderText.language, ReminderText.updated_at)
            .join(ReminderSchedule, ReminderSchedule.id == ReminderText.schedule_id)
            .where(ReminderSchedule.study_id == study.id)
        )
    }


def study_templates(session: Session, study: Study) -> list[StoredText]:
    """Every kind of message in every language of the study, kind by kind."""
    languages = study.languages["codes"]
    return [
        study_template(session, study, kind, language) for kind in KINDS for language in languages
    ]


def check_template(kind: str, language: str, study: Study, subject: str, body: str) -> None:
    """Raise :class:`InvalidValues` naming ``subject`` and ``body`` with what is wrong."""
    errors: dict[str, list[str]] = {}
    if kind not in KINDS:
        errors["kind"] = ["choose one of " + ", ".join(KINDS)]
    if language not in study.languages["codes"]:
        errors["language"] = ["is not a language of the study"]
    for field, problems in (
        ("subject", template_problems(subject, part="subject")),
        ("body", template_problems(body, kind=kind, part="body")),
    ):
        if problems:
            errors[field] = problems
    if errors:
        raise InvalidValues(errors)


def save_template(
    session: Session,
    study: Study,
    kind: str,
    language: str,
    subject: str,
    body: str,
    actor: User | None = None,
    schedule: ReminderSchedule | None = None,
) -> None:
    """Store the study's own template of ``kind`` in ``language`` (with ``schedule``,
    that planned reminder's own text), checked first (:func:`check_template`), audited,
    and commit."""
    body = body.replace("\r\n", "\n")
    check_template(kind, language, study, subject, body)
    row: MessageTemplate | ReminderText | None
    if schedule is not None:
        _check_schedule(study, kind, schedule)
        row = _reminder_text(session, schedule, language)
        if row is None:
            row = ReminderText(schedule_id=schedule.id, language=language)
            session.add(row)
    else:
        row = session.execute(
            select(MessageTemplate).where(
                MessageTemplate.study_id == study.id,
                MessageTemplate.kind == kind,
                MessageTemplate.language == language,
            )
        ).scalar_one_or_none()
        if row is None:
            row = MessageTemplate(study_id=study.id, kind=kind, language=language)
            session.add(row)
    row.subject, row.body = subject, body
    row.updated_at = utcnow()
    row.updated_by = actor.id if actor else None
    audit.record(
        session,
        "messages.template",
        study=study,
        user=actor,
        kind=kind,
        language=language,
        **_planned(schedule),
    )
    session.commit()


def reset_template(
    session: Session,
    study: Study,
    kind: str,
    language: str,
    actor: User | None = None,
    schedule: ReminderSchedule | None = None,
) -> bool:
    """Go back to the default text of ``kind`` in ``language`` (with ``schedule``, to the
    study's reminder text for that planned reminder); whether there was one of the
    study's own to drop."""
    if schedule is not None:
        _check_schedule(study, kind, schedule)
        statement = delete(ReminderText).where(
            ReminderText.schedule_id == schedule.id, ReminderText.language == language
        )
    else:
        statement = delete(MessageTemplate).where(
            MessageTemplate.study_id == study.id,
            MessageTemplate.kind == kind,
            MessageTemplate.language == language,
        )
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    dropped = result.rowcount
    if dropped:
        audit.record(
            session,
            "messages.template_reset",
            study=study,
            user=actor,
            kind=kind,
            language=language,
            **_planned(schedule),
        )
    session.commit()
    return bool(dropped)


def _planned(schedule: ReminderSchedule | None) -> dict[str, int]:
    """What the audit log says of the planned reminder a text belongs to, if any."""
    return {"hours_before": schedule.hours_before} if schedule else {}


def _check_schedule(study: Study, kind: str, schedule: ReminderSchedule) -> None:
    """A planned reminder's text is a reminder of this study."""
    if kind != "reminder" or schedule.study_id != study.id:
        raise InvalidValues({"kind": ["only a planned reminder of this study has its own text"]})


def save_message_settings(
    session: Session,
    study: Study,
    lead_name: str,
    lead_contact: str,
    send_thank_you: bool,
    actor: User | None = None,
) -> None:
    """Store how messages are signed (the lead's name and contact, each one line) and
    whether a panelist who submits is sent the thank-you."""
    name, contact = one_line(lead_name).strip(), one_line(lead_contact).strip()
    errors: dict[str, list[str]] = {}
    if len(name) > LEAD_NAME_LIMIT:
        errors["lead_name"] = [f"at most {LEAD_NAME_LIMIT} characters"]
    if len(contact) > LEAD_CONTACT_LIMIT:
        errors["lead_contact"] = [f"at most {LEAD_CONTACT_LIMIT} characters"]
    if errors:
        raise InvalidValues(errors)
    study.lead_name, study.lead_contact = name, contact
    study.send_thank_you = bool(send_thank_you)
    audit.record(
        session, "messages.settings", study=study, user=actor, send_thank_you=study.send_thank_you
    )
    session.commit()


def message_values(
    study: Study,
    language: str,
    *,
    name: str,
    link: str,
    round_number: int | None,
    deadline: str,
) -> dict[str, str]:
    """The value of every placeholder for one message; ``deadline`` as the panelist
    reads it (:func:`~surveys.message_templates.deadline_words`)."""
    titles = study.title
    title = titles.get(language) or titles.get(study.languages["codes"][0]) or ""
    return {
        "name": one_line(name),
        "link": link,
        "round": str(round_number or ""),
        "deadline": deadline,
        "study_title": one_line(title),
        "lead_name": study.lead_name,
        "lead_contact": study.lead_contact,
    }


def sample_message(
    study: Study, text: MessageText, language: str, base_url: str, round_: Round | None
) -> MessageText:
    """``text`` as the sample panelist of ``language`` would receive it: the latest
    round (else round 1), its deadline or, without one, a week from now, written in UTC,
    and a link that opens nothing."""
    number = round_.number if round_ else 1
    deadline = round_.deadline if round_ and round_.deadline else utcnow() + timedelta(days=7)
    values = message_values(
        study,
        language,
        name=SAMPLE_PANELISTS.get(language, SAMPLE_PANELISTS["en"]),
        link=f"{base_url.rstrip('/')}/e/{SAMPLE_LINK_TOKEN}",
        round_number=number,
        deadline=deadline_words(deadline, language, None),
    )
    return render(text, values)


def one_line(text: str) -> str:
    """``text`` as one line: every run of white space and control characters is one
    space (a name or title must not add a paragraph to a message)."""
    return _NOT_ONE_LINE.sub(" ", text).strip()
