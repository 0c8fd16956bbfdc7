"""The Delphi domain's tables, in SQLAlchemy 2 declarative style.

Constraints that protect the data live in the database, not only here: one response per
(panelist, round, item); a round number unique per study; at most one open round per
study (a partial unique index, which SQLite and PostgreSQL both enforce).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so a value read from it would otherwise come back naive and
    could not be compared with :func:`utcnow`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware values converted to UTC; refuse naive ones."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to naive values read back from SQLite."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base whose constraint names stay stable across Alembic revisions."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar = {datetime: UTCDateTime(), dict[str, Any]: JSON}


def enum_column(enumeration: type[enum.StrEnum], name: str) -> Any:
    """A column holding one of ``enumeration``'s values as text, checked by the database."""
    return mapped_column(
        Enum(
            enumeration,
            name=name,
            native_enum=False,
            length=16,
            values_callable=lambda members: [member.value for member in members],
            create_constraint=True,
            validate_strings=True,
        )
    )


class RoundStatus(enum.StrEnum):
    """A round's life: drafted, then open for answers, then closed for good."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class ResponseStatus(enum.StrEnum):
    """A response is a draft until the expert submits it."""

    DRAFT = "draft"
    SUBMITTED = "submitted"


class Study(Base):
    """A Delphi study: its settings and the definition file it was loaded from."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable, URL-safe identifier chosen in the definition file.
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    #: ``{language: title}``.
    title: Mapped[dict[str, Any]]
    #: ``{language: introduction}``, possibly empty.
    introduction: Mapped[dict[str, Any]]
    #: Language codes, the first being the default: ``{"codes": ["en", "es"]}``.
    languages: Mapped[dict[str, Any]]
    max_rounds: Mapped[int] = mapped_column(Integer)
    #: numpy quantile method (Hyndman & Fan type) used by every summary of this study.
    quantile_method: Mapped[str] = mapped_column(String(32))
    #: The consensus settings, as written by :func:`surveys.serialization.consensus_to_json`.
    consensus: Mapped[dict[str, Any]]
    #: ``{"sections": [{"key": …, "title": {language: …}}, …]}``.
    sections: Mapped[dict[str, Any]]
    #: Fewer answers than this to an item and the next round withholds its feedback.
    feedback_min_n: Mapped[int] = mapped_column(Integer, default=3)
    #: "off", "optional" or "required": asking for a rationale when an answer lies
    #: outside the previous round's interquartile range.
    rationale_outside_iqr: Mapped[str] = mapped_column(String(16), default="optional")
    #: Whether likert items offer "I can't judge this".
    cannot_judge: Mapped[bool] = mapped_column(Boolean, default=False)
    #: "standard": the console shows who has submitted, never anyone's answers by name;
    #: "blind": the console shows only counts and pseudonyms.  Chosen at creation, it
    #: can be raised to "blind" but never lowered.
    anonymity: Mapped[str] = mapped_column(String(16), default="standard")
    #: What happens at a close to the items that reached consensus: "leave" (they are
    #: retired, so they leave the next round), "stay" (they are asked again) or "ask"
    #: (the close's confirmation lists them and the facilitator ticks which leave).
    consensus_items: Mapped[str] = mapped_column(String(8), default="stay")
    #: Whether, once the study's last round has closed, each panelist's personal link
    #: shows the final anonymised results with a thank-you (else a thank-you alone).
    show_outcome: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: How a round after the first starts: "previous" (each item not yet answered in
    #: the round shows the expert's own answer from the round before, which they keep or
    #: revise) or "blank" (every answer is entered anew).  Part of the protocol.
    #: Whether a panelist who submits a round is sent the study's thank-you message.
    #: Whether each expert's page shows their own score once items have resolved
    #: (:mod:`surveys.scores`); off unless the facilitator opts in.
    show_own_score: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    send_thank_you: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The study lead's name and how to reach them, as messages sign them (may be empty).
    lead_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    lead_contact: Mapped[str] = mapped_column(String(320), default="", server_default="")
    carry_over: Mapped[str] = mapped_column(
        String(8), default="previous", server_default="previous"
    )
    #: The definition file's text exactly as loaded, for provenance.
    source: Mapped[str] = mapped_column(Text, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[Item]] = relationship(
        back_populates="study", order_by="Item.position", cascade="all, delete-orphan"
    )
    panelists: Mapped[list[Panelist]] = relationship(
        back_populates="study", cascade="all, delete-orphan"
    )
    rounds: Mapped[list[Round]] = relationship(
        back_populates="study", order_by="Round.number", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("max_rounds >= 1", name="max_rounds_positive"),
        CheckConstraint("feedback_min_n >= 1", name="feedback_min_n_positive"),
        CheckConstraint(
            "rationale_outside_iqr IN ('off', 'optional', 'required')", name="rationale_policy"
        ),
        CheckConstraint("anonymity IN ('standard', 'blind')", name="anonymity_level"),
        CheckConstraint(
            "consensus_items IN ('leave', 'stay', 'ask')", name="consensus_items_policy"
        ),
        CheckConstraint("carry_over IN ('previous', 'blank')", name="carry_over_policy"),
    )


class Item(Base):
    """One question of a study, identified by a stable key."""

    __tablename__ = "item"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    #: Stable key from the definition file; responses and exports refer to it.
    key: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(32))
    #: Order of appearance in the study.
    position: Mapped[int] = mapped_column(Integer)
    #: Raised each time the wording changes; a response records the version it answered.
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: The item definition (texts in every language, scale, scenarios, rule) as JSON.
    spec: Mapped[dict[str, Any]]
    #: When and why the facilitator retired the item (e.g. it reached consensus).
    retired_at: Mapped[datetime | None]
    retired_reason: Mapped[str | None] = mapped_column(Text)

    study: Mapped[Study] = relationship(back_populates="items")
    versions: Mapped[list[ItemVersion]] = relationship(
        order_by="ItemVersion.version", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("study_id", "key"),
        CheckConstraint("version >= 1", name="version_positive"),
    )


class Panelist(Base):
    """An expert as the study sees them: a pseudonym and a personal link, kept hashed
    (to look it up) and sealed (to send it again)."""

    __tablename__ = "panelist"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    #: Random, stable across rounds, reveals nothing about the person.
    pseudonym: Mapped[str] = mapped_column(String(32))
    #: Subgroup for analysis, e.g. ``academic``; empty when unknown.
    group: Mapped[str] = mapped_column(String(63), default="")
    #: Preferred language code.
    language: Mapped[str] = mapped_column(String(8))
    #: SHA-256 of the personal link's token: how a link finds its panelist.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token encrypted with a key that is never in the database
    #: (:class:`surveys.links.LinkKeys`), so that every message can carry the same link;
    #: ``None`` for a panelist added before links were sealed (revision 0011).
    token_sealed: Mapped[str | None] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the panelist last opened their page: "opened" in the per-round status.
    last_seen_at: Mapped[datetime | None]

    study: Mapped[Study] = relationship(back_populates="panelists")
    roster: Mapped[RosterEntry] = relationship(
        back_populates="panelist", cascade="all, delete-orphan", uselist=False
    )

    __table_args__ = (UniqueConstraint("study_id", "pseudonym"),)


class RosterEntry(Base):
    """Who a panelist is.  Kept apart so that no answer query ever touches it."""

    __tablename__ = "roster_entry"

    panelist_id: Mapped[int] = mapped_column(
        ForeignKey("panelist.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    #: IANA time zone (``America/Mexico_City``) a message writes the deadline in; ``None``:
    #: UTC.
    time_zone: Mapped[str | None] = mapped_column(String(64))

    panelist: Mapped[Panelist] = relationship(back_populates="roster")


class Round(Base):
    """One round of a study: numbered from 1, drafted, opened, closed."""

    __tablename__ = "round"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[RoundStatus] = enum_column(RoundStatus, "round_status")
    opened_at: Mapped[datetime | None]
    #: The deadline announced to the panel, if any.
    deadline: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: The study's ``carry_over`` when the round opened ("previous" or "blank"): what
    #: the round's answers started from, which its stability against the round before
    #: depends on.  ``None`` for a round not opened yet.
    started_from: Mapped[str | None] = mapped_column(String(8))

    study: Mapped[Study] = relationship(back_populates="rounds")
    summary: Mapped[RoundSummary | None] = relationship(
        back_populates="round", cascade="all, delete-orphan", uselist=False
    )

    __table_args__ = (
        UniqueConstraint("study_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        Index(
            "uq_round_one_open_per_study",
            "study_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )


class Response(Base):
    """One panelist's answer to one item in one round."""

    __tablename__ = "response"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    panelist_id: Mapped[int] = mapped_column(ForeignKey("panelist.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    #: The item version the panelist saw when answering.
    item_version: Mapped[int] = mapped_column(Integer)
    #: The answer: ``{"value": 4}``, ``{"components": {"rift": 20, …}}`` or
    #: ``{"text": "…"}`` depending on the item's kind.
    answer: Mapped[dict[str, Any]]
    rationale: Mapped[str | None] = mapped_column(Text)
    #: The language of the page the answer was submitted from, which the rationale is
    #: presumably written in; ``None`` for answers stored before it was recorded (read
    #: the panelist's preferred language instead).
    language: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[ResponseStatus] = enum_column(ResponseStatus, "response_status")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]

    round: Mapped[Round] = relationship()
    panelist: Mapped[Panelist] = relationship()
    item: Mapped[Item] = relationship()

    __table_args__ = (
        UniqueConstraint("panelist_id", "round_id", "item_id"),
        # Who submitted each round, read in order without the table: the console's
        # counts (surveys.panel.panel_census).
        Index(
            "ix_response_round_submitted",
            "round_id",
            "panelist_id",
            sqlite_where=text("status = 'submitted'"),
            postgresql_where=text("status = 'submitted'"),
        ),
        # One round's responses to one item, their panelists without the table: the
        # API's responses pages count and place a page from it
        # (surveys.exports.response_page).
        Index("ix_response_round_item", "round_id", "item_id", "panelist_id"),
    )


class RoundSummary(Base):
    """The immutable result of closing a round, which the next round shows as feedback."""

    __tablename__ = "round_summary"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Quantile method the quartiles were computed with (numpy name).
    quantile_method: Mapped[str] = mapped_column(String(32))
    #: Number of panelists who submitted at least one answer in the round.
    respondents: Mapped[int] = mapped_column(Integer)
    #: ``{"rows": [{"item": key, "component": …, "n": …, "median": …, …}, …]}``.
    statistics: Mapped[dict[str, Any]]
    #: The parts of :attr:`statistics` pages read at a glance, whose size does not grow
    #: with the panel (:mod:`surveys.summary_glance`); empty for summaries stored before.
    glance: Mapped[dict[str, Any] | None]
    #: Each distribution's distinct answers and how many gave each
    #: (:func:`surveys.results.summary_tallies`), which the results page draws instead of
    #: every answer; its size is the number of different answers, not the panel's.
    #: Loaded only when asked for.
    tallies: Mapped[dict[str, Any] | None] = mapped_column(deferred=True)
    #: How many responses the round holds to each item, by the item's id (a string, as
    #: JSON keys are): counted at close, when the round's responses stop changing, so
    #: that the API's responses pages need not count a closed round again.
    response_counts: Mapped[dict[str, Any] | None]
    #: Each expert's signpost likelihoods, column-wise: ``{"columns": [[signpost,
    #: scenario], …], "values": [[each expert's likelihood, in the summary's order], …]}``
    #: (:func:`surveys.signposts.likelihood_columns`), the transpose of the summary's
    #: ``statistics["signposts"]["individual"]``: the tracker's sensitivity range reads
    #: one list per signpost and scenario, not one per expert out of the whole summary.
    #: ``None`` without signposts (and for summaries stored before in an older layout).
    #: Loaded only when asked for.
    likelihoods: Mapped[dict[str, Any] | None] = mapped_column(deferred=True)

    round: Mapped[Round] = relationship(back_populates="summary")


class ItemFeedback(Base):
    """What the next round shows of one item of a closed round, computed once at close.

    Read by every expert page instead of the round's summary, whose stored document
    grows with the panel (every sorted answer and rationale): this record does not.
    Written beside the summary, not inside it, so that summaries stay as they were.
    """

    __tablename__ = "item_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(63))
    #: ``{"rows": [summary rows of the item], "histograms": {component: bars},
    #: "cannot_judge": n, "reasons": [count below, inside, above the middle half]}``
    #: (:mod:`surveys.feedback`).
    record: Mapped[dict[str, Any]]

    __table_args__ = (UniqueConstraint("round_id", "item_key"),)


class FeedbackReason(Base):
    """One reason the panel gave for an item in a closed round, without its author.

    Numbered within its stratum (below, inside or above the round's middle half,
    :mod:`analysis.reasons`), so that an expert page fetches the few it shows by
    number.  A facilitator may pin a reason: pinned reasons come first.
    """

    __tablename__ = "feedback_reason"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(63))
    #: 0 below the middle half, 1 inside it, 2 above it (:mod:`analysis.reasons`).
    stratum: Mapped[int] = mapped_column(Integer)
    #: From 0 within (round, item, stratum), in the order of text then language.
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    #: The language the reason is presumably written in, if known.
    language: Mapped[str | None] = mapped_column(String(8))
    #: When a facilitator pinned it (shown first to every expert), if they did.
    pinned_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("round_id", "item_key", "stratum", "position"),
        Index("ix_feedback_reason_pinned", "round_id", "pinned_at"),
    )


class Draft(Base):
    """What an expert has typed in a round so far, exactly as typed, valid or not.

    Saved on every autosave, "Save" and submission attempt, so that nothing typed is
    ever lost: not by a closed tab, a refused answer, a passed deadline or a closed
    round.  The submitted answers themselves are :class:`Response` rows.
    """

    __tablename__ = "draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    panelist_id: Mapped[int] = mapped_column(ForeignKey("panelist.id", ondelete="CASCADE"))
    #: ``{"fields": {form field name: typed text}}``.
    values: Mapped[dict[str, Any]]
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("panelist_id", "round_id"),)


class Role(enum.StrEnum):
    """What a console user may do on the studies they are a member of."""

    FACILITATOR = "facilitator"
    RESEARCHER = "researcher"


class User(Base):
    """A facilitator or researcher who logs in to the console.  Experts are not users."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-cased; the login name.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    #: A salted, slow hash (Werkzeug's scrypt) of the password; never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = enum_column(Role, "user_role")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class Membership(Base):
    """A user's access to one study; a user sees and acts only on their studies."""

    __tablename__ = "membership"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    study_id: Mapped[int] = mapped_column(
        ForeignKey("study.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    study: Mapped[Study] = relationship()


class AuditEvent(Base):
    """One facilitator action: who, when, what, on which study."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    #: Kept as text too, so the log survives the account's deletion.
    user_email: Mapped[str | None] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    #: A stable verb such as ``round.open``.
    action: Mapped[str] = mapped_column(String(63))
    #: What the action concerned, without any panelist's name or email.
    details: Mapped[dict[str, Any]]
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_audit_event_study_at", "study_id", "at"),)


class ItemVersion(Base):
    """Every wording an item has had.  ``Item.spec`` is the current one; a response
    records the version its panelist saw (``Response.item_version``)."""

    __tablename__ = "item_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    #: The item definition as JSON, as in ``Item.spec``.
    spec: Mapped[dict[str, Any]]
    #: Why the wording changed (or "loaded" / "added" for the first version).
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("item_id", "version"),)


class OutboxMessage(Base):
    """An invitation or reminder to one panelist, in their language.

    Written before anything is sent, with a unique ``idempotency_key`` (e.g.
    ``invitation:<round id>:<panelist id>``): a retried send finds the message already
    there and never mails anyone twice.  Without SMTP configured, the outbox is where
    messages wait for the facilitator to deliver them by hand.
    """

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    panelist_id: Mapped[int] = mapped_column(ForeignKey("panelist.id", ondelete="CASCADE"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    #: "invitation", "reminder" or "thank_you".
    kind: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    language: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    #: The last delivery error, if sending failed (it can be retried), or the claim
    #: "in delivery since …" while a worker sends it (:mod:`surveys.delivery`).
    error: Mapped[str | None] = mapped_column(Text)
    #: Delivery attempts begun (each claim counts one).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: When delivery may (next) take the message up: after a temporary failure, when a
    #: claim lapses, or when a message handed to delivery was not begun by its job.
    #: ``None``: not handed to delivery (no mail server when queued), sent, or failed.
    next_attempt_at: Mapped[datetime | None]
    #: When delivery gave up on the message for good (its reason in ``error``).
    failed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("kind IN ('invitation', 'reminder', 'thank_you')", name="message_kind"),
        Index("ix_outbox_message_next_attempt_at", "next_attempt_at"),
        # A panel page's rows find their invitations (surveys.panel.panel_page).
        Index("ix_outbox_message_panelist_id", "panelist_id"),
    )


class MessageEvent(Base):
    """One step in an outbox message's delivery: queued, sent, deferred (a temporary
    failure, retried later), failed (for good) or bounced (the server refused the
    recipient at send time), with the server's reason (:mod:`surveys.delivery`)."""

    __tablename__ = "message_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: "queued", "sent", "deferred", "failed" or "bounced".
    kind: Mapped[str] = mapped_column(String(16))
    #: The attempt it ends (1 for the first), ``None`` for "queued".
    attempt: Mapped[int | None] = mapped_column(Integer)
    #: Why: the server's reply or the error, for every outcome but "sent".
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(
            "kind IN ('queued', 'sent', 'deferred', 'failed', 'bounced', 'cancelled')",
            name="message_event_kind",
        ),
        Index("ix_message_event_message_id", "message_id"),
    )


class ApiToken(Base):
    """A bearer token for the JSON API, acting as its user on the user's studies.

    Only the SHA-256 of the token is stored (it carries 256 random bits, so no salt or
    stretching is needed); ``prefix`` is its first characters, shown so that its owner
    can tell tokens apart.  ``scope`` "read" allows only reading; "write" allows every
    action the user's role allows.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    #: What the token is for, in its owner's words ("analysis notebook").
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: After this moment the token is refused; ``None``: it does not expire.
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    __table_args__ = (
        CheckConstraint("scope IN ('read', 'write')", name="token_scope"),
        Index("ix_api_token_user_id", "user_id"),
    )


class SessionEnd(enum.StrEnum):
    """Why a console session ended before its lifetime ran out."""

    #: The user logged out.
    LOGOUT = "logout"
    #: The user changed their own password (every session of theirs ends).
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a reason, not a secret)
    #: An administrator set a new password (``elicit user password``).
    PASSWORD_SET = "password_set"  # noqa: S105 (a reason, not a secret)
    #: An administrator deactivated the account (``elicit user deactivate``).
    DEACTIVATED = "deactivated"
    #: An administrator ended the user's sessions (``elicit user logout``).
    REVOKED = "revoked"


class ConsoleSession(Base):
    """One console login, from the moment it starts until it is ended or expires.

    The browser's signed session cookie carries a random secret; only its SHA-256 is
    stored, as for API tokens and personal links.  A session is live while it is not
    revoked, its user is active and it is younger than the login lifetime, all checked
    on every request: ending the row ends every copy of the cookie at once.
    """

    __tablename__ = "console_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    #: SHA-256 of the secret the cookie carries; the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The login; the session expires a login lifetime after it.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The last request made with the session, written at most once a minute.
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: Why it was revoked; ``None`` while it is not.
    revoked_reason: Mapped[SessionEnd | None] = enum_column(SessionEnd, "session_end")

    user: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_console_session_user_id", "user_id"),
        CheckConstraint(
            "(revoked_at IS NULL) = (revoked_reason IS NULL)", name="revocation_has_reason"
        ),
    )


class ProtocolStamp(Base):
    """A study's pre-registration: its protocol as it stood when round 1 opened.

    Written once, in the transaction that opens round 1, and never changed: later
    changes are :class:`Amendment` rows.  ``sha256`` is the hex SHA-256 of
    ``definition`` (UTF-8), the canonical TOML of the study's definition at that moment
    (:func:`surveys.definition_writer.definition_to_toml`), so anyone holding the TOML
    can check the hash the study page and the report show.
    """

    __tablename__ = "protocol_stamp"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), unique=True)
    stamped_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Hex SHA-256 of ``definition`` encoded as UTF-8.
    sha256: Mapped[str] = mapped_column(String(64))
    #: The canonical TOML of the study's definition when round 1 opened.
    definition: Mapped[str] = mapped_column(Text, deferred=True)
    #: The study's consensus-items setting then ("leave", "stay" or "ask").  The
    #: definition holds it too (``consensus_items``, written when not "stay"), but a
    #: stamp taken before the setting was part of the file holds it only here.
    consensus_items: Mapped[str] = mapped_column(String(8))
    #: Who opened round 1: kept as text so the stamp survives the account's deletion;
    #: ``None`` from the command line.
    user_email: Mapped[str | None] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    __table_args__ = (CheckConstraint("length(sha256) = 64", name="sha256_length"),)


class Amendment(Base):
    """One change to a stamped protocol: what changed, from what to what, and why.

    ``what`` is a stable path such as ``consensus.by_kind.probability``,
    ``settings.feedback_min_n``, ``items.trust_now`` (added, reworded) or
    ``items.trust_now.retired``; ``old_value`` and ``new_value`` are text (TOML or
    plain), empty when there was or is nothing.  ``first_round`` is the first round
    whose answers or summary the change can affect.
    """

    __tablename__ = "protocol_amendment"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The console user who made the change, as text; ``None`` from the command line.
    user_email: Mapped[str | None] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    what: Mapped[str] = mapped_column(String(200))
    old_value: Mapped[str] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    first_round: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("first_round >= 1", name="first_round_positive"),
        CheckConstraint("length(reason) > 0", name="reason_given"),
        Index("ix_protocol_amendment_study_id", "study_id", "id"),
    )


class AnswerTag(Base):
    """A facilitator's tag on one open-text answer, to group the answers of the last
    round before one group becomes an item.

    Tags belong to the study, never to a panelist: an answer is named by the open-text
    item it answers and the SHA-256 of its text as the console lists it (stripped), so
    the row links to no response and no panelist, and identical answers share a tag.
    Exports leave tags out: they are the facilitator's working notes.
    """

    __tablename__ = "answer_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    #: The open-text item the answer was given to.
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    #: Hex SHA-256 of the answer's text (UTF-8, stripped): the answer, without its author.
    answer_sha256: Mapped[str] = mapped_column(String(64))
    #: The group the facilitator put the answer in, e.g. "cyberattacks".
    tag: Mapped[str] = mapped_column(String(80))
    tagged_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("item_id", "answer_sha256"),
        CheckConstraint("length(answer_sha256) = 64", name="answer_sha256_length"),
        CheckConstraint("length(tag) > 0", name="tag_given"),
        Index("ix_answer_tag_study_id", "study_id"),
    )


class MessageTemplate(Base):
    """A study's own text for one kind of message in one language
    (:mod:`surveys.message_templates`); without a row the default text is used."""

    __tablename__ = "message_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    #: "invitation", "reminder" or "thank_you".
    kind: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who saved it last (the console user), if any.
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (
        UniqueConstraint("study_id", "kind", "language"),
        CheckConstraint(
            "kind IN ('invitation', 'reminder', 'thank_you')", name="message_template_kind"
        ),
    )


class ReminderSchedule(Base):
    """A reminder planned so many hours before the deadline of each of a study's rounds,
    to those who have not submitted (:mod:`surveys.schedules`)."""

    __tablename__ = "reminder_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    hours_before: Mapped[int] = mapped_column(Integer)
    #: Where the reminders' links point: the console's address when it was planned.
    base_url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    #: Its own texts, by language (without one, the study's reminder text is sent);
    #: deleted with it by the ORM, as SQLite is not asked to enforce foreign keys.
    texts: Mapped[list[ReminderText]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("study_id", "hours_before"),
        CheckConstraint("hours_before >= 1", name="hours_before_positive"),
    )


class ReminderText(Base):
    """A planned reminder's own subject and body in one language
    (:mod:`surveys.message_texts`): "3 days before" can say something other than "the
    last day".  Without a row, that reminder is sent with the study's reminder text."""

    __tablename__ = "reminder_text"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("reminder_schedule.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who saved it last (the console user), if any.
    updated_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (UniqueConstraint("schedule_id", "language"),)


class ReminderRun(Base):
    """A schedule fired in a round: at most once (the unique key is the lock)."""

    __tablename__ = "reminder_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("reminder_schedule.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: How many reminders it queued.
    queued: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("schedule_id", "round_id"),)


class ItemResolution(Base):
    """What happened: the outcome of a probability item (``"yes"`` or ``"no"``: the
    event occurred or not) or a scenario set (the key of the scenario that unfolded),
    when and by what source it is known (:mod:`surveys.resolutions`)."""

    __tablename__ = "item_resolution"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(63))
    outcome: Mapped[str] = mapped_column(String(63))
    resolved_on: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who recorded it last (the console user), if any.
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (UniqueConstraint("study_id", "item_key"),)


class ScoreSheet(Base):
    """The study's stored scores: when they were computed and on what (one per study).

    Resolving or withdrawing an outcome and closing a round rewrite it and the study's
    :class:`ForecasterScore` rows in one transaction, which begins by writing this row
    (the lock: two such changes at once are done one after the other, each on what the
    other committed).  Pages, the report, the exports and the API read it; nothing
    computes a score while a page is drawn (:mod:`surveys.scores`).
    """

    __tablename__ = "score_sheet"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("study.id", ondelete="CASCADE"), primary_key=True
    )
    #: Increases by one with each change (a cache key for plots drawn from it).
    revision: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The scored round of each item, the pooling settings and the resolved items' count.
    settings: Mapped[dict[str, Any]]
    #: Calibration tables: forecaster ("panel" or a pooling method) → bin rows.
    calibration: Mapped[dict[str, Any]]


class ForecasterScore(Base):
    """One forecaster's scores (a panelist by pseudonym, ``kind = "panelist"``, or a
    pooling method, ``kind = "pool"``): over all resolved items (``item = ""``) or on
    one item.  Columns as :data:`analysis.scoring.SCORE_SUMMARY_COLUMNS`; a NaN score
    is NULL."""

    __tablename__ = "forecaster_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    forecaster: Mapped[str] = mapped_column(String(63))
    item: Mapped[str] = mapped_column(String(63))
    items: Mapped[int] = mapped_column(Integer)
    log: Mapped[float | None] = mapped_column(Float)
    probability_items: Mapped[int] = mapped_column(Integer)
    brier: Mapped[float | None] = mapped_column(Float)
    scenario_items: Mapped[int] = mapped_column(Integer)
    brier_scenarios: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (UniqueConstraint("study_id", "kind", "forecaster", "item"),)


class CoherenceGap(Base):
    """How coherent one expert's answers to a cross-impact item were in a closed round:
    the bounds their own P(trigger) and conditional answers put on the scenario set they
    gave, computed once at close (:mod:`surveys.cross_impact`).

    Private to that expert: read only by their own page of the next round, never shown
    to anyone else, never in a summary, report or export.
    """

    __tablename__ = "coherence_gap"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    panelist_id: Mapped[int] = mapped_column(ForeignKey("panelist.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(63))
    #: ``{"scenarios": {scenario: {"given", "low", "high", "gap", "implied"}},
    #: "distance", "coherent", "feasible", "triggers"}``, probabilities in [0, 1]
    #: (:class:`analysis.CrossImpact` ``coherence`` and ``coherence_summary``).
    record: Mapped[dict[str, Any]]

    __table_args__ = (UniqueConstraint("round_id", "panelist_id", "item_key"),)


class ScenarioObservation(Base):
    """A dated observation after the study (:mod:`surveys.tracking`): a signpost seen,
    or explicitly not seen by ``observed_on`` (``seen`` false), or a trigger that
    occurred (``kind`` ``"trigger"``, ``seen`` always true)."""

    __tablename__ = "scenario_observation"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    observed_on: Mapped[date] = mapped_column(Date)
    #: ``"signpost"`` or ``"trigger"``.
    kind: Mapped[str] = mapped_column(String(16))
    item_key: Mapped[str] = mapped_column(String(63))
    seen: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Where it was observed (or looked for): one line of text.
    note: Mapped[str] = mapped_column(String(500))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who recorded it (the console user or the API token's user), if any.
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    __table_args__ = (
        Index("ix_scenario_observation_study_observed", "study_id", "observed_on"),
        CheckConstraint("kind IN ('signpost', 'trigger')", name="kind_known"),
    )


class PreparedStatus(enum.StrEnum):
    """A prepared export's life: waiting for a worker, being written, ready to download,
    or failed (with its reason)."""

    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


class PreparedExport(Base):
    """A study's export written by a job, not in the request that asked for it
    (:mod:`surveys.prepared_exports`): a study too large to export within a request's
    time.  The file is kept in the database, in :class:`PreparedExportChunk` rows, so
    that any web host serves it; ``size`` and ``sha256`` are the whole file's."""

    __tablename__ = "prepared_export"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    #: ``csv``, ``xlsx`` or ``json`` (:data:`surveys.exports.FORMATS`).
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[PreparedStatus] = enum_column(PreparedStatus, "prepared_status")
    #: Who asked (the console user or the API token's user), if still known.
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When it was last handed to a job (a queued export waits from then).
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    #: When the job writing it last said it was alive (every 30 s while running).
    alive_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: The study's closed rounds when the file was written (a later close dates it).
    closed_rounds: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(100))
    filename: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    #: The SHA-256 of the whole file, as 64 hexadecimal digits.
    sha256: Mapped[str | None] = mapped_column(String(64))
    #: Why it failed, in words for the facilitator.
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_prepared_export_study", "study_id", "format"),
        # At most one export of each study and format waiting or being written: two
        # requests at once share one job.
        Index(
            "uq_prepared_export_unfinished",
            "study_id",
            "format",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        # Never an id used before (SQLite reuses the highest once it is deleted): an
        # address to an old file must not lead to a newer one.
        {"sqlite_autoincrement": True},
    )


class PreparedExportChunk(Base):
    """One piece of a prepared export's file, in order, compressed with zlib."""

    __tablename__ = "prepared_export_chunk"

    export_id: Mapped[int] = mapped_column(
        ForeignKey("prepared_export.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ClosingStatus(enum.StrEnum):
    """A close asked for in the console: waiting for a worker, being computed, done (the
    round is closed and its summary stored), or failed (the round is still open)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RoundClosing(Base):
    """A round's close, asked for in a request and computed by a job
    (:mod:`surveys.closing`): at 100,000 panelists a close takes minutes, past the web
    server's time limit.  The round stays open (and takes submissions) until the job
    claims it; its summary is then stored exactly as :func:`surveys.rounds.close_round`
    stores it."""

    __tablename__ = "round_closing"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"))
    status: Mapped[ClosingStatus] = enum_column(ClosingStatus, "closing_status")
    #: Who asked, if still known (audited as the close's actor).
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When it was last handed to a job (a queued close waits from then).
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    #: When the job computing it last said it was alive (every 30 s while running).
    alive_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: The items at consensus the facilitator ticked to retire ("ask" studies).
    retire: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Why it failed, in words for the facilitator.
    error: Mapped[str | None] = mapped_column(Text)

    round: Mapped[Round] = relationship()

    __table_args__ = (
        # At most one close of a round waiting or under way: two clicks share one job.
        Index(
            "uq_round_closing_unfinished",
            "round_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )


class RoundPreview(Base):
    """The close's preview of a large open round (:func:`surveys.rounds.close_preview`),
    computed by a job and kept (:mod:`surveys.close_previews`): at 100,000 panelists it
    reads every answer of two rounds, about a minute, too long to compute at each visit
    of the page.  One per round: asking again computes it again in place."""

    __tablename__ = "round_preview"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("round.id", ondelete="CASCADE"), unique=True)
    status: Mapped[ClosingStatus] = enum_column(ClosingStatus, "preview_status")
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When it was last handed to a job (a queued preview waits from then).
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    #: When the job computing it last said it was alive (every 30 s while running).
    alive_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: The preview as its job computed it, its distributions tallied
    #: (:func:`surveys.close_previews.stored_form`); ``None`` until then.
    preview: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: Why it failed, in words for the facilitator.
    error: Mapped[str | None] = mapped_column(Text)

    round: Mapped[Round] = relationship()
