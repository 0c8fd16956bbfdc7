"""Pre-registration: the protocol is fixed before the data.

When round 1 opens, the study's protocol — its items, consensus rules, stopping rule
(the maximum number of rounds), quantile method, feedback minimum and what becomes of
items that reach consensus — is stamped: the canonical TOML of its definition at that
moment (:func:`surveys.definition_writer.definition_to_toml`), its SHA-256, the time
and who opened the round, in one :class:`ProtocolStamp` written in the same transaction
as the round.  A stamp never changes.

After the stamp every change to the protocol is an amendment: what changed (a stable
path such as ``consensus.by_kind.probability``, ``settings.feedback_min_n`` or
``items.trust_now``), its old and new values as text, the reason (required), who and
when, and the first round it applies to.  The report's methods section lists them all,
so a reader can tell which rounds ran under which rules.

While a round is open the rules cannot change at all: a rule changed after seeing the
close's preview would decide the round it was chosen for
(:func:`require_no_open_round_for_rules`).

The stability rule and its Wilcoxon settings are fixed by the software version the
report states; they are no study setting and so cannot be amended.  So is the rule by
which experts' pages choose the panel's reasons they show (a stratified random sample
of at most :data:`surveys.feedback.REASONS_PER_PAGE` per page, facilitator-pinned
reasons first, :func:`surveys.feedback.selection_rule_text`), which the protocol record
states (:attr:`ProtocolRecord.reasons_rule`) and the report prints.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from surveys import audit
from surveys.definition_writer import definition_to_toml
from surveys.errors import Conflict, InvalidValues
from surveys.feedback import REASONS_PER_PAGE, selection_rule_text
from surveys.models import (
    Amendment,
    ProtocolStamp,
    Round,
    RoundStatus,
    Study,
    User,
    utcnow,
)
from surveys.studies import study_definition
from surveys.text import clean_typed_text

log = logging.getLogger(__name__)

RULES_LOCKED = "rules cannot change while a round is open"
"""The refusal of a rule change while a round is open (also a settings field message)."""
REASON_LIMIT = 2000
"""The longest reason an amendment may give, in characters."""

_PATH = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")


def canonical_toml(study: Study) -> str:
    """The canonical TOML of the study's definition as it stands now (current item
    versions, retired items left out): what a stamp hashes."""
    return definition_to_toml(study_definition(study))


def sha256_hex(text: str) -> str:
    """The hex SHA-256 of ``text`` encoded as UTF-8: how a stamp's hash is computed, so
    that ``sha256sum`` of the downloaded TOML file gives the same digest."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stamp_protocol(session: Session, study: Study, actor: User | None = None) -> ProtocolStamp:
    """Stamp the study's protocol as it stands now; ``actor`` opened round 1.

    Called by :func:`surveys.rounds.open_round` when it opens round 1, inside its
    transaction (the caller commits): the round and its stamp are stored together or
    not at all.  A study stamped already keeps its stamp, which is returned.
    """
    existing = protocol_stamp(session, study)
    if existing is not None:
        return existing
    toml = canonical_toml(study)
    stamp = ProtocolStamp(
        study_id=study.id,
        stamped_at=utcnow(),
        sha256=sha256_hex(toml),
        definition=toml,
        consensus_items=study.consensus_items,
        user_id=actor.id if actor else None,
        user_email=actor.email if actor else None,
    )
    session.add(stamp)
    audit.record(session, "protocol.stamp", study=study, user=actor, sha256=stamp.sha256)
    log.info("stamped the protocol of %s (sha256 %s)", study.slug, stamp.sha256)
    return stamp


def protocol_stamp(session: Session, study: Study) -> ProtocolStamp | None:
    """The study's stamp, or ``None`` before round 1 opened (or for a study whose round 1
    opened before stamps existed)."""
    return session.execute(
        select(ProtocolStamp).where(ProtocolStamp.study_id == study.id)
    ).scalar_one_or_none()


@overload
def is_stamped(session_or_study: Study, /) -> bool: ...


@overload
def is_stamped(session_or_study: Session, study: Study, /) -> bool: ...


def is_stamped(session_or_study: Session | Study, study: Study | None = None, /) -> bool:
    """Whether the study's protocol is stamped: ``is_stamped(study)`` (through the
    session the study belongs to) or ``is_stamped(session, study)``."""
    if isinstance(session_or_study, Study):
        study = session_or_study
        session = object_session(study)
        if session is None:
            raise ValueError("the study belongs to no session; pass the session too")
    else:
        session = session_or_study
    assert study is not None
    return protocol_stamp(session, study) is not None


def check_reason(reason: str | None, *, field: str = "reason") -> str:
    """``reason`` stripped; :class:`InvalidValues` under ``field`` when it is empty, too
    long or holds control characters (tab and line breaks allowed)."""
    text = (reason or "").strip()
    if not text:
        raise InvalidValues(
            {
                field: [
                    "the protocol is stamped: say why it changes "
                    "(the reason is shown with the amendment in the report)"
                ]
            }
        )
    if len(text) > REASON_LIMIT:
        raise InvalidValues({field: [f"must be at most {REASON_LIMIT} characters"]})
    if clean_typed_text(text) != text:
        raise InvalidValues({field: ["must not contain control characters"]})
    return text


def _open_round_number(session: Session, study: Study) -> int | None:
    """The number of the study's open round, if one is open.  (Not
    :func:`surveys.rounds.open_round_of`: the round lifecycle imports this module.)"""
    return session.execute(
        select(Round.number).where(Round.study_id == study.id, Round.status == RoundStatus.OPEN)
    ).scalar_one_or_none()


def next_round_number(session: Session, study: Study, *, applies_to_open_round: bool) -> int:
    """The first round a change made now applies to: the open round when the change
    reaches it (``applies_to_open_round``), else the next round to open."""
    open_number = _open_round_number(session, study)
    if open_number is not None:
        return open_number if applies_to_open_round else open_number + 1
    latest = session.execute(
        select(func.max(Round.number)).where(Round.study_id == study.id)
    ).scalar_one()
    return (latest or 0) + 1


def record_amendment(
    session: Session,
    study: Study,
    *,
    what: str,
    old: str,
    new: str,
    reason: str,
    actor: User | None,
    applies_to_open_round: bool = False,
    audited: bool = True,
) -> Amendment:
    """Record one change to the stamped protocol, in the caller's transaction (the
    caller makes the change itself and commits).

    ``what`` is a stable path (``consensus.by_kind.probability``,
    ``items.trust_now.consensus``, ``settings.feedback_min_n``, ``items.trust_now``);
    ``old`` and ``new`` are text, empty for "nothing" (an item added has no old value,
    one retired no new one).  The amendment first applies to the next round to open, or
    to the open round when ``applies_to_open_round`` (a change that reaches it at once,
    such as raising the anonymity).  With ``audited`` an audit event
    ``protocol.amend`` records it too; callers that audit the change themselves, with
    the old and new values, pass ``False``.

    Raises :class:`InvalidValues` naming ``reason`` when the reason is empty (or
    ``what`` when the path is malformed), :class:`Conflict` before the stamp: until
    round 1 opens, the protocol is a draft and changes freely.
    """
    text = check_reason(reason)
    if not _PATH.match(what) or len(what) > 200:
        raise InvalidValues({"what": [f"{what!r} is not a path such as settings.max_rounds"]})
    if not is_stamped(session, study):
        raise Conflict("the protocol is not stamped yet: it changes freely until round 1 opens")
    amendment = Amendment(
        study_id=study.id,
        at=utcnow(),
        user_id=actor.id if actor else None,
        user_email=actor.email if actor else None,
        what=what,
        old_value=old,
        new_value=new,
        reason=text,
        first_round=next_round_number(session, study, applies_to_open_round=applies_to_open_round),
    )
    session.add(amendment)
    session.flush()
    if audited:
        audit.record(
            session,
            "protocol.amend",
            study=study,
            user=actor,
            what=what,
            old=old,
            new=new,
            reason=text,
            first_round=amendment.first_round,
        )
    log.info("amended %s of %s from round %d", what, study.slug, amendment.first_round)
    return amendment


def amendments(session: Session, study: Study) -> list[Amendment]:
    """Every amendment of the study, oldest first."""
    return list(
        session.execute(
            select(Amendment).where(Amendment.study_id == study.id).order_by(Amendment.id)
        ).scalars()
    )


def require_no_open_round_for_rules(session: Session, study: Study) -> None:
    """Raise :class:`Conflict` while the study has an open round: its rules (consensus,
    stability and stopping rules, quantile method, feedback minimum) are fixed until
    it closes, so that no rule is chosen after seeing the round's answers."""
    if _open_round_number(session, study) is not None:
        raise Conflict(RULES_LOCKED)


def consensus_reason(number: int) -> str:
    """The reason stored on an item retired at the close of round ``number`` because it
    reached consensus (the study's ``consensus_items`` setting)."""
    return f"reached consensus in round {number}"


def items_at_consensus(study: Study, statistics: dict[str, Any]) -> list[str]:
    """The keys of the study's items, in study order and not retired, whose every
    summarised part reached consensus in ``statistics`` (a summary or a preview)."""
    states: dict[str, set[str | None]] = {}
    for row in statistics.get("rows", []):
        states.setdefault(row["item"], set()).add(row.get("state"))
    return [
        item.key
        for item in study.items
        if item.retired_at is None and states.get(item.key) == {"consensus"}
    ]


def retired_at_close(study: Study, number: int) -> list[str]:
    """The items retired at the close of round ``number`` because they reached consensus."""
    reason = consensus_reason(number)
    return [item.key for item in study.items if item.retired_reason == reason]


def retire_at_consensus(
    session: Session,
    study: Study,
    round_: Round,
    statistics: dict[str, Any],
    chosen: Collection[str],
    actor: User | None,
) -> None:
    """Retire the items at consensus that the study's setting (and, for "ask", the
    facilitator's ``chosen`` keys) sends out of the next round, in the close's
    transaction; see :func:`surveys.rounds.close_round`."""
    policy = study.consensus_items
    if policy == "stay":
        return
    candidates = items_at_consensus(study, statistics)
    leaving = candidates if policy == "leave" else [key for key in candidates if key in chosen]
    reason = consensus_reason(round_.number)
    for item in study.items:
        if item.key in leaving:
            item.retired_at = round_.closed_at
            item.retired_reason = reason
            audit.record(
                session,
                "item.retire",
                study=study,
                user=actor,
                item=item.key,
                reason=reason,
                consensus_items=policy,
            )
    if leaving:
        log.info("retired %d item(s) at consensus in %s", len(leaving), study.slug)


def change_kind(amendment: Amendment) -> str:
    """``"added"`` (no old value), ``"removed"`` (no new value; for an item: retired) or
    ``"changed"``."""
    if not amendment.old_value:
        return "added"
    if not amendment.new_value:
        return "removed"
    return "changed"


@dataclass(frozen=True)
class AmendmentRecord:
    """One amendment as the report and the export state it (no one's email: the report
    may be passed to reviewers)."""

    at: datetime
    what: str
    #: ``"added"``, ``"removed"`` or ``"changed"`` (:func:`change_kind`).
    change: str
    old: str
    new: str
    reason: str
    first_round: int


@dataclass(frozen=True)
class ProtocolRecord:
    """The stamp and every amendment since, as plain values."""

    stamped_at: datetime
    sha256: str
    consensus_items: str
    amendments: tuple[AmendmentRecord, ...]
    #: How experts' pages choose the panel's reasons they show, in words (English).
    reasons_rule: str = field(default_factory=selection_rule_text)
    #: The most reasons an expert reads per item and page.
    reasons_per_page: int = REASONS_PER_PAGE


def protocol_record(session: Session, study: Study) -> ProtocolRecord | None:
    """The study's stamp and amendments for a report or an export; ``None`` when the
    protocol is not stamped."""
    stamp = protocol_stamp(session, study)
    if stamp is None:
        return None
    return ProtocolRecord(
        stamped_at=stamp.stamped_at,
        sha256=stamp.sha256,
        consensus_items=stamp.consensus_items,
        amendments=tuple(
            AmendmentRecord(
                at=amendment.at,
                what=amendment.what,
                change=change_kind(amendment),
                old=amendment.old_value,
                new=amendment.new_value,
                reason=amendment.reason,
                first_round=amendment.first_round,
            )
            for amendment in amendments(session, study)
        ),
    )
