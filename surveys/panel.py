"""The panel: adding experts, their pseudonyms and their personal links.

A personal link is issued once, when the expert is added, and kept for the whole
study: hashed, to find the panelist when it is opened, and sealed with a key that is
never in the database (:mod:`surveys.links`), so that every invitation and reminder can
carry it again.  It changes only when a facilitator reissues it on purpose.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import logging
import re
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, not_, select
from sqlalchemy.orm import Session

from surveys import audit
from surveys.errors import AccessRevoked, DomainError, NotFound
from surveys.links import LinkKeys, UnreadableLink
from surveys.message_templates import valid_time_zone
from surveys.models import (
    Draft,
    OutboxMessage,
    Panelist,
    Response,
    ResponseStatus,
    RosterEntry,
    Round,
    RoundSummary,
    Study,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
"""A personal link carries 256 random bits, far above the 128 the threat model needs."""

PSEUDONYM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PSEUDONYM_LENGTH = 6
CSV_COLUMNS = ("name", "email", "group", "language")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
GROUP_PATTERN = re.compile(r"^[A-Za-z0-9_-]{0,63}$")
NAME_MAX_LENGTH = 200  # the roster's column sizes
EMAIL_MAX_LENGTH = 320


@dataclass(frozen=True)
class NewPanelist:
    """A roster entry to add: who the expert is, their subgroup and language."""

    name: str
    email: str
    group: str
    language: str
    #: IANA time zone messages write the deadline in (``America/Mexico_City``); empty:
    #: UTC.
    time_zone: str = ""


@dataclass(frozen=True)
class IssuedLink:
    """A personal link: returned when it is created, or read back from its seal."""

    pseudonym: str
    token: str

    def url(self, base_url: str) -> str:
        """The full link under ``base_url``."""
        return f"{base_url.rstrip('/')}/e/{self.token}"


class InvalidPanel(DomainError):
    """Rows of a panel file (or one entry) are malformed or duplicated; nothing was added.

    ``errors`` are readable lines; ``fields`` maps each field of a single entry
    (``name``, ``email``, ``group``, ``language``) to its problems.
    """

    def __init__(self, errors: list[str], fields: dict[str, list[str]] | None = None) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.fields = fields or {}


def hash_token(token: str) -> str:
    """SHA-256 of a token.  Tokens have 256 random bits, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_panel_csv(text: str, languages: Iterable[str]) -> list[NewPanelist]:
    """Read a panel file with the header ``name,email,group,language`` and, optionally,
    ``time_zone`` (an IANA name such as ``America/Mexico_City``: messages write the
    round's deadline in it; empty or absent: UTC).

    Every bad row is reported, by its line number, in one :class:`InvalidPanel`.
    An empty language means the study's first language.
    """
    languages = list(languages)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [column.strip().lower() for column in reader.fieldnames or []]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        raise InvalidPanel([f"line 1: missing column(s): {', '.join(missing)}"])
    reader.fieldnames = header
    errors: list[str] = []
    rows: list[NewPanelist] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        entry = _normalise(
            NewPanelist(
                row.get("name") or "",
                row.get("email") or "",
                row.get("group") or "",
                row.get("language") or "",
                row.get("time_zone") or "",
            ),
            languages,
        )
        problems = _problems(entry, languages, seen)
        errors.extend(f"line {line}: {field}: {problem}" for field, problem in problems)
        seen.add(entry.email)
        if not problems:
            rows.append(entry)
    if errors:
        raise InvalidPanel(errors)
    return rows


def check_entries(entries: Iterable[NewPanelist], languages: Iterable[str]) -> list[NewPanelist]:
    """Normalise and check entries given one by one (as the API sends them).

    The rules of a panel file apply.  Raises :class:`InvalidPanel` whose ``fields`` are
    keyed ``<index>.<field>`` (from 0) for every bad field of every entry.
    """
    languages = list(languages)
    fields: dict[str, list[str]] = {}
    checked: list[NewPanelist] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        entry = _normalise(entry, languages)
        for field, problem in _problems(entry, languages, seen):
            fields.setdefault(f"{index}.{field}", []).append(problem)
        seen.add(entry.email)
        checked.append(entry)
    if fields:
        raise InvalidPanel(
            [f"{where}: {problem}" for where, problems in fields.items() for problem in problems],
            fields,
        )
    return checked


def _normalise(entry: NewPanelist, languages: list[str]) -> NewPanelist:
    """Trim every field, lower-case the email and language; no language means the first."""
    return NewPanelist(
        name=entry.name.strip(),
        email=entry.email.strip().lower(),
        group=entry.group.strip(),
        language=entry.language.strip().lower() or languages[0],
        time_zone=entry.time_zone.strip(),
    )


def _problems(entry: NewPanelist, languages: list[str], seen: set[str]) -> list[tuple[str, str]]:
    """(field, problem) for everything wrong with one normalised entry."""
    problems = []
    if not entry.name:
        problems.append(("name", "is empty"))
    elif any(ord(character) < 32 for character in entry.name):
        problems.append(("name", "must not contain control characters or line breaks"))
    elif len(entry.name) > NAME_MAX_LENGTH:
        problems.append(("name", f"is longer than {NAME_MAX_LENGTH} characters"))
    if any(ord(character) < 32 or ord(character) == 127 for character in entry.email):
        problems.append(("email", "must not contain control characters or line breaks"))
    elif len(entry.email) > EMAIL_MAX_LENGTH:
        problems.append(("email", f"is longer than {EMAIL_MAX_LENGTH} characters"))
    elif not EMAIL_PATTERN.match(entry.email):
        problems.append(("email", f"{entry.email!r} is not an email address"))
    elif entry.email in seen:
        problems.append(("email", f"{entry.email} appears twice in the file"))
    if not GROUP_PATTERN.match(entry.group):
        problems.append(("group", f"{entry.group!r} may hold only letters, digits, _ and -"))
    if entry.language not in languages:
        problems.append(("language", f"{entry.language!r} is not one of {', '.join(languages)}"))
    if entry.time_zone and not valid_time_zone(entry.time_zone):
        problems.append(
            (
                "time_zone",
                f"{entry.time_zone!r} is not a time zone name such as America/Mexico_City",
            )
        )
    return problems


def add_panelist(
    session: Session,
    study: Study,
    entry: NewPanelist,
    actor: User | None = None,
    *,
    keys: LinkKeys,
) -> IssuedLink:
    """Add one expert, validated as a row of a panel file is; return their link (once).

    Raises :class:`InvalidPanel` whose ``fields`` name each bad field.
    """
    languages = list(study.languages["codes"])
    entry = _normalise(entry, languages)
    problems = _problems(entry, languages, set())
    if problems:
        fields: dict[str, list[str]] = {}
        for field, problem in problems:
            fields.setdefault(field, []).append(problem)
        raise InvalidPanel([f"{field}: {problem}" for field, problem in problems], fields)
    try:
        (link,) = add_panelists(session, study, [entry], actor=actor, keys=keys)
    except InvalidPanel as error:  # already on the panel
        raise InvalidPanel(error.errors, {"email": ["is already on the panel"]}) from None
    return link


def add_panelists(
    session: Session,
    study: Study,
    entries: list[NewPanelist],
    actor: User | None = None,
    *,
    keys: LinkKeys,
) -> list[IssuedLink]:
    """Add experts to a study's panel, each with a random pseudonym and personal link.

    An email already on the panel is refused (the whole batch is, so that links are
    never half-issued).  Each token is stored hashed and sealed with ``keys``, never in
    clear; the link returned is the one every later message carries.  ``actor`` is
    audited with the number of panelists added.
    """
    existing = set(
        session.execute(
            select(RosterEntry.email).join(Panelist).where(Panelist.study_id == study.id)
        ).scalars()
    )
    duplicates = [entry.email for entry in entries if entry.email in existing]
    if duplicates:
        raise InvalidPanel([f"email: {email} is already on the panel" for email in duplicates])
    taken = set(
        session.execute(select(Panelist.pseudonym).where(Panelist.study_id == study.id)).scalars()
    )
    issued = []
    for entry in entries:
        pseudonym = _new_pseudonym(taken)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        panelist = Panelist(
            study=study,
            pseudonym=pseudonym,
            group=entry.group,
            language=entry.language,
            token_hash=hash_token(token),
            token_sealed=keys.seal(token),
            roster=RosterEntry(
                name=entry.name, email=entry.email, time_zone=entry.time_zone or None
            ),
        )
        session.add(panelist)
        issued.append(IssuedLink(pseudonym, token))
    # No pseudonym: the actor knows whom they added, and the audit log is shown to
    # every member of the study.
    audit.record(session, "panel.add", study=study, user=actor, count=len(issued))
    session.commit()
    log.info("added %d panelists to %s", len(issued), study.slug)
    return issued


def reissue_link(
    session: Session, panelist: Panelist, actor: User | None = None, *, keys: LinkKeys
) -> IssuedLink:
    """Replace a panelist's link with a new one, on purpose: the old link stops working,
    and so do the sessions opened with it (they hold its hash).  Later messages carry
    the new link.  A withdrawn link is restored."""
    link = new_token(panelist, keys)
    panelist.revoked_at = None
    audit.record(session, "panel.reissue", study=panelist.study, user=actor, panelist=panelist.id)
    session.commit()
    return link


def new_token(panelist: Panelist, keys: LinkKeys) -> IssuedLink:
    """Give ``panelist`` a fresh token, hashed and sealed (in the caller's transaction),
    and return it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    panelist.token_hash = hash_token(token)
    panelist.token_sealed = keys.seal(token)
    return IssuedLink(panelist.pseudonym, token)


def stored_link(panelist: Panelist, keys: LinkKeys) -> IssuedLink:
    """The panelist's link, read back from its seal.

    Raises :class:`~surveys.links.UnreadableLink` when none is stored (a panelist added
    before links were sealed) or when no key in ``keys`` opens it (the key it was sealed
    with is no longer configured), or when what it opens is not the link the panelist's
    hash finds; the log says which panelist, never the token.
    """
    if panelist.token_sealed is None:
        raise UnreadableLink("no personal link is stored for this panelist; issue a new one")
    token = keys.unseal(panelist.token_sealed)
    if token is None or hash_token(token) != panelist.token_hash:
        log.warning(
            "the stored link of panelist %s cannot be read with the configured link keys "
            "(ELICIT_LINK_KEYS, else ELICIT_SECRET_KEY, changed?)",
            panelist.id,
        )
        raise UnreadableLink(
            "the personal link cannot be read with the configured keys (ELICIT_LINK_KEYS, "
            "else ELICIT_SECRET_KEY, has changed): restore the previous key, or issue "
            "this panelist a new link"
        )
    return IssuedLink(panelist.pseudonym, token)


@dataclass(frozen=True)
class Resealed:
    """What :func:`reseal_links` did: links sealed again with the newest key, and links
    that no configured key opens (left as they were)."""

    resealed: int
    unreadable: int


RESEAL_BATCH = 500
"""Panelists re-sealed per transaction, so that a large panel holds no long lock."""


def reseal_links(session: Session, keys: LinkKeys) -> Resealed:
    """Seal every stored link again with the newest of ``keys`` (every study's).

    The step of a key rotation that lets the old key be dropped: a link sealed with an
    old key is opened with it and sealed with the newest; one that no key opens is left
    unchanged and counted (its panelist needs a new link, or the lost key back).
    """
    resealed = unreadable = 0
    last_id = 0
    while True:
        batch = list(
            session.execute(
                select(Panelist)
                .where(Panelist.token_sealed.is_not(None), Panelist.id > last_id)
                .order_by(Panelist.id)
                .limit(RESEAL_BATCH)
            ).scalars()
        )
        if not batch:
            break
        for panelist in batch:
            sealed = keys.reseal(panelist.token_sealed or "")
            if sealed is None:
                unreadable += 1
            else:
                panelist.token_sealed = sealed
                resealed += 1
        last_id = batch[-1].id
        session.commit()
    audit.record(
        session, "links.reseal", study=None, user=None, resealed=resealed, unreadable=unreadable
    )
    session.commit()
    log.info("re-sealed %d personal links; %d cannot be read", resealed, unreadable)
    return Resealed(resealed, unreadable)


def revoke_link(session: Session, panelist: Panelist, actor: User | None = None) -> None:
    """Withdraw a panelist's link."""
    panelist.revoked_at = utcnow()
    audit.record(session, "panel.revoke", study=panelist.study, user=actor, panelist=panelist.id)
    session.commit()


VISIT_GRANULARITY = timedelta(minutes=1)
"""A visit within a minute of the last recorded one is not written again."""


def note_visit(session: Session, panelist: Panelist) -> None:
    """Record that the panelist's page was shown ("opened" in the per-round status).

    Writes (and commits) only when the stored time is more than a minute old, so that
    reloading the page costs no write.
    """
    now = utcnow()
    if panelist.last_seen_at is None or now - panelist.last_seen_at > VISIT_GRANULARITY:
        panelist.last_seen_at = now
        session.commit()


def panelist_by_id(session: Session, study: Study, panelist_id: int) -> Panelist:
    """The study's panelist with row id ``panelist_id``; :class:`NotFound` if none.

    The console's actions on a named person use this id, never the pseudonym: the id
    appears in no export, API answer or page beside a pseudonym, so a page that shows
    names does not show which pseudonym is whose (not even in a form's address).
    """
    panelist = session.execute(
        select(Panelist).where(Panelist.study_id == study.id, Panelist.id == panelist_id)
    ).scalar_one_or_none()
    if panelist is None:
        raise NotFound("no such panelist in this study")
    return panelist


def panelist_by_email(session: Session, study: Study, email: str) -> Panelist:
    """The study's panelist whose roster email is ``email`` (case-insensitive).

    How a blind study's facilitator acts on one person (send a new link, withdraw
    one): they know the person, never the pseudonym, and the answer names none.
    """
    panelist = session.execute(
        select(Panelist)
        .join(RosterEntry)
        .where(Panelist.study_id == study.id, RosterEntry.email == email.strip().lower())
    ).scalar_one_or_none()
    if panelist is None:
        raise NotFound("nobody on the panel has this email address")
    return panelist


def panelist_by_pseudonym(session: Session, study: Study, pseudonym: str) -> Panelist:
    """The study's panelist called ``pseudonym``; :class:`NotFound` if there is none."""
    panelist = session.execute(
        select(Panelist).where(Panelist.study_id == study.id, Panelist.pseudonym == pseudonym)
    ).scalar_one_or_none()
    if panelist is None:
        raise NotFound(f"no panelist {pseudonym} in this study")
    return panelist


def roster_by_id(
    session: Session, study: Study, panelist_ids: Collection[int] | None = None
) -> dict[int, tuple[str, str]]:
    """Panelist id → (name, email) for the study's panel, or for the panelists
    ``panelist_ids`` of it (a page's rows).

    Only for the people a standard study's facilitator may see; a blind study's console
    never calls it.  Keyed by the row id, not the pseudonym, so that nothing which
    shows names needs a pseudonym.
    """
    query = (
        select(Panelist.id, RosterEntry.name, RosterEntry.email)
        .join(RosterEntry)
        .where(Panelist.study_id == study.id)
    )
    if panelist_ids is not None:
        query = query.where(Panelist.id.in_(list(panelist_ids)))
    rows = session.execute(query)
    return {panelist_id: (name, email) for panelist_id, name, email in rows}


@dataclass(frozen=True)
class RoundStatusOfPanelist:
    """Where one panelist stands in one round."""

    round_number: int
    invited: bool
    opened: bool
    draft: bool
    submitted: bool


@dataclass(frozen=True)
class PanelistStatus:
    """A panelist as the console lists them: pseudonym, group, language, link state and
    their status in each round (oldest first).  No name, no email, no answer."""

    #: The row id: what the console's actions on a named person use (never shown
    #: beside the pseudonym).
    panelist_id: int
    pseudonym: str
    group: str
    language: str
    revoked: bool
    rounds: list[RoundStatusOfPanelist]


def opened_rounds(session: Session, study: Study) -> list[Round]:
    """The study's rounds that have been opened, oldest first: the panel's columns."""
    return list(
        session.execute(
            select(Round)
            .where(Round.study_id == study.id, Round.opened_at.is_not(None))
            .order_by(Round.number)
        ).scalars()
    )


def panel_status(
    session: Session, study: Study, selection: PanelFilter | None = None
) -> list[PanelistStatus]:
    """Each panelist's status in every round that has been opened, by pseudonym; with
    ``selection``, only the panelists it selects (chosen by the database).

    - invited: an invitation for the round is in the outbox (sent or not);
    - opened: the panelist's page was last shown at or after the round opened (so, for
      an earlier round, a later visit also counts: only the latest visit is kept);
    - draft: a draft is saved for the round;
    - submitted: at least one submitted response in the round.

    Every panelist is loaded: for the API's list and the tests.  The console shows a
    page at a time (:func:`panel_page`).
    """
    rounds = opened_rounds(session, study)
    condition = (
        Panelist.study_id == study.id
        if selection is None
        else selected(study, status_round(session, study), selection)
    )
    panelists = list(
        session.execute(select(Panelist).where(condition).order_by(Panelist.pseudonym)).scalars()
    )
    return _statuses(session, study, rounds, panelists, whole_panel=True)


def _statuses(
    session: Session,
    study: Study,
    rounds: list[Round],
    panelists: list[Panelist],
    *,
    whole_panel: bool,
) -> list[PanelistStatus]:
    """:class:`PanelistStatus` of ``panelists`` in ``rounds``: the invitations, drafts
    and submissions of the whole panel (``whole_panel``) or of these panelists only,
    read in three queries."""
    round_ids = [round_.id for round_ in rounds]
    ids = [panelist.id for panelist in panelists]
    invitations = select(OutboxMessage.round_id, OutboxMessage.panelist_id).where(
        OutboxMessage.study_id == study.id, OutboxMessage.kind == "invitation"
    )
    drafts = select(Draft.round_id, Draft.panelist_id).where(Draft.round_id.in_(round_ids))
    submissions = (
        select(Response.round_id, Response.panelist_id)
        .where(Response.round_id.in_(round_ids), Response.status == ResponseStatus.SUBMITTED)
        .distinct()
    )
    if not whole_panel:
        invitations = invitations.where(OutboxMessage.panelist_id.in_(ids))
        drafts = drafts.where(Draft.panelist_id.in_(ids))
        submissions = submissions.where(Response.panelist_id.in_(ids))
    invited = _pairs(session, invitations) if ids else set()
    drafted = _pairs(session, drafts) if ids and round_ids else set()
    submitted = _pairs(session, submissions) if ids and round_ids else set()
    return [
        PanelistStatus(
            panelist_id=panelist.id,
            pseudonym=panelist.pseudonym,
            group=panelist.group,
            language=panelist.language,
            revoked=panelist.revoked_at is not None,
            rounds=[
                RoundStatusOfPanelist(
                    round_number=round_.number,
                    invited=(round_.id, panelist.id) in invited,
                    opened=panelist.last_seen_at is not None
                    and round_.opened_at is not None
                    and panelist.last_seen_at >= round_.opened_at,
                    draft=(round_.id, panelist.id) in drafted,
                    submitted=(round_.id, panelist.id) in submitted,
                )
                for round_ in rounds
            ],
        )
        for panelist in panelists
    ]


PANEL_PAGE_SIZE = 100
"""Panelists listed per page of the console's panel."""


@dataclass(frozen=True)
class PanelPage:
    """One page of the panel as the console lists it: its rows, the opened rounds
    (the columns), and where the page lies in the selection (counted by the database)."""

    rows: list[PanelistStatus]
    rounds: list[Round]
    #: From 1; a page asked for past the last one is the last one.
    page: int
    pages: int
    #: Panelists the selection holds (the whole panel without one).
    total: int
    page_size: int

    @property
    def first(self) -> int:
        """The position of the page's first row in the selection, from 1 (0: empty)."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        """The position of the page's last row in the selection."""
        return (self.page - 1) * self.page_size + len(self.rows)


def pages_of(total: int, page: int, page_size: int) -> tuple[int, int]:
    """(page, pages): ``page`` brought within 1 and the last page of ``total`` rows
    (an empty list has one, empty, page)."""
    pages = max(-(-total // page_size), 1)
    return min(max(page, 1), pages), pages


def panel_page(
    session: Session,
    study: Study,
    selection: PanelFilter | None = None,
    *,
    page: int = 1,
    page_size: int | None = None,
    total: int | None = None,
) -> PanelPage:
    """Page ``page`` (from 1; past the last: the last) of the panel, or of the
    panelists ``selection`` selects, by pseudonym, with their status per round as in
    :func:`panel_status`.  ``page_size`` defaults to :data:`PANEL_PAGE_SIZE`.

    Reads ``page_size`` panelists and their invitations, drafts and submissions only;
    the selection's size is counted by the database (or given as ``total`` when the
    caller has counted it already).  Its cost follows the page, not the panel.
    """
    page_size = page_size or PANEL_PAGE_SIZE
    rounds = opened_rounds(session, study)
    condition = (
        Panelist.study_id == study.id
        if selection is None
        else selected(study, status_round(session, study), selection)
    )
    if total is None:
        total = session.execute(select(func.count(Panelist.id)).where(condition)).scalar_one()
    page, pages = pages_of(total, page, page_size)
    # The page's pseudonyms first (unique within the study: the index of the two
    # gives them in order, and skips to a late page without reading the table), then
    # those panelists.
    on_page = (
        select(Panelist.pseudonym)
        .where(condition)
        .order_by(Panelist.pseudonym)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    panelists = list(
        session.execute(
            select(Panelist)
            .where(Panelist.study_id == study.id, Panelist.pseudonym.in_(on_page.scalar_subquery()))
            .order_by(Panelist.pseudonym)
        ).scalars()
    )
    rows = _statuses(session, study, rounds, panelists, whole_panel=False)
    return PanelPage(rows, rounds, page, pages, total, page_size)


class StatusFilter(enum.StrEnum):
    """Where a panelist stands in the round the panel page filters by (the open round,
    else the latest that opened).  Each excludes those who submitted it."""

    NOT_SUBMITTED = "not_submitted"
    DRAFT = "draft"
    NEVER_OPENED = "never_opened"


@dataclass(frozen=True)
class PanelFilter:
    """A selection of the panel: by status in the filtered round, by group, or both.

    ``group`` ``None`` means every group; ``""`` is the panelists without a group.
    """

    status: StatusFilter | None = None
    group: str | None = None


def status_round(session: Session, study: Study) -> Round | None:
    """The round that status filters and reminders are about: the open round, else the
    latest round that has opened; ``None`` before round 1 opens."""
    return session.execute(
        select(Round)
        .where(Round.study_id == study.id, Round.opened_at.is_not(None))
        .order_by(Round.number.desc())
        .limit(1)
    ).scalar_one_or_none()


def _submitted(round_: Round) -> ColumnElement[bool]:
    """The panelist (of the enclosing query) submitted at least one answer in ``round_``."""
    return exists(
        select(Response.id).where(
            Response.round_id == round_.id,
            Response.panelist_id == Panelist.id,
            Response.status == ResponseStatus.SUBMITTED,
        )
    )


def _drafted(round_: Round) -> ColumnElement[bool]:
    """The panelist has a draft saved in ``round_``."""
    return exists(
        select(Draft.id).where(Draft.round_id == round_.id, Draft.panelist_id == Panelist.id)
    )


def _opened(round_: Round) -> ColumnElement[bool]:
    """The panelist's page was shown at or after ``round_`` opened (as in
    :func:`panel_status`: only the latest visit is kept)."""
    return and_(Panelist.last_seen_at.is_not(None), Panelist.last_seen_at >= round_.opened_at)


def _status_condition(round_: Round, status: StatusFilter) -> ColumnElement[bool]:
    """The SQL condition of one :class:`StatusFilter` in ``round_``."""
    waiting = not_(_submitted(round_))
    if status == StatusFilter.DRAFT:
        return and_(waiting, _drafted(round_))
    if status == StatusFilter.NEVER_OPENED:
        return and_(waiting, not_(_opened(round_)))
    return waiting


def selected(study: Study, round_: Round | None, selection: PanelFilter) -> ColumnElement[bool]:
    """The SQL condition on :class:`Panelist` of the study's panelists ``selection``
    selects, its status read in ``round_``.  A status filter without a round selects
    nobody (nobody stands anywhere before round 1)."""
    conditions: list[ColumnElement[bool]] = [Panelist.study_id == study.id]
    if selection.group is not None:
        conditions.append(Panelist.group == selection.group)
    if selection.status is not None:
        if round_ is None or round_.opened_at is None:
            conditions.append(Panelist.id.is_(None))
        else:
            conditions.append(_status_condition(round_, selection.status))
    return and_(*conditions)


@dataclass(frozen=True)
class FilterCounts:
    """How many panelists of one group (or all) each status filter selects."""

    everyone: int
    not_submitted: int
    draft: int
    never_opened: int

    def of(self, status: StatusFilter | None) -> int:
        """The count of ``status`` (``None``: everyone)."""
        return self.everyone if status is None else int(getattr(self, status.value))


def filter_counts(
    session: Session, study: Study, round_: Round | None, group: str | None = None
) -> FilterCounts:
    """Count what each status filter selects within ``group`` (``None``: every group),
    in one query: the database counts, no row is loaded."""
    where = selected(study, None, PanelFilter(group=group))
    if round_ is None or round_.opened_at is None:
        total = session.execute(select(func.count(Panelist.id)).where(where)).scalar_one()
        return FilterCounts(total, 0, 0, 0)
    sums = [
        func.coalesce(func.sum(case((_status_condition(round_, status), 1), else_=0)), 0)
        for status in StatusFilter
    ]
    row = session.execute(select(func.count(Panelist.id), *sums).where(where)).one()
    return FilterCounts(*(int(value) for value in row))


def offered_groups(session: Session, study: Study) -> list[tuple[str, int]]:
    """(group, panelists) for each group the panel page may filter by, in name order.

    In a blind study only groups of at least the study's minimum group size
    (``feedback_min_n``): a filter by a smaller group would single its members out, as
    its name would in the counts (see :func:`panel_counts`).
    """
    rows = session.execute(
        select(Panelist.group, func.count(Panelist.id))
        .where(Panelist.study_id == study.id)
        .group_by(Panelist.group)
        .order_by(Panelist.group)
    ).all()
    blind = study.anonymity == "blind"
    return [(group, count) for group, count in rows if not blind or count >= study.feedback_min_n]


@dataclass(frozen=True)
class RoundCounts:
    """How many panelists stand where in one round (each counted at every step they
    reached: a submitted panelist was also invited and opened the page)."""

    round_number: int
    invited: int
    opened: int
    draft: int
    submitted: int


@dataclass(frozen=True)
class GroupCount:
    """How many panelists one subgroup has; ``group`` is ``None`` for the row that
    gathers every group smaller than the study's minimum group size."""

    group: str | None
    panelists: int
    #: Submitted panelists of this group in each opened round, oldest first.
    submitted: list[int]


@dataclass(frozen=True)
class PanelCounts:
    """The panel as counts only: what a blind study shows instead of a list of
    pseudonyms, which would reveal a newly added person's pseudonym to anyone who
    compares it before and after the addition."""

    panelists: int
    active: int
    rounds: list[RoundCounts]
    groups: list[GroupCount]
    min_group_size: int


def panel_counts(statuses: Sequence[PanelistStatus], *, min_group_size: int) -> PanelCounts:
    """Count :func:`panel_status` rows by round and by group.

    A group with fewer than ``min_group_size`` panelists (the study's
    ``feedback_min_n``, the minimum that subgroup statistics use) is not named: its
    counts join one row (``group=None``), so that nobody alone or nearly alone in a
    group can be singled out by it.  When only one group would be small, it is still
    shown under ``None`` only: the row reveals its size, never its name.
    """
    rounds: list[RoundCounts] = []
    if statuses:
        for index, first in enumerate(statuses[0].rounds):
            entries = [status.rounds[index] for status in statuses]
            rounds.append(
                RoundCounts(
                    round_number=first.round_number,
                    invited=sum(entry.invited for entry in entries),
                    opened=sum(entry.opened for entry in entries),
                    draft=sum(entry.draft for entry in entries),
                    submitted=sum(entry.submitted for entry in entries),
                )
            )
    by_group: dict[str, list[PanelistStatus]] = {}
    for status in statuses:
        by_group.setdefault(status.group, []).append(status)
    shown: list[GroupCount] = []
    small: list[PanelistStatus] = []
    for group in sorted(by_group):
        members = by_group[group]
        if len(members) < min_group_size:
            small.extend(members)
            continue
        shown.append(_group_count(group, members))
    if small:
        shown.append(_group_count(None, small))
    return PanelCounts(
        panelists=len(statuses),
        active=sum(not status.revoked for status in statuses),
        rounds=rounds,
        groups=shown,
        min_group_size=min_group_size,
    )


@dataclass(frozen=True)
class PanelCensus:
    """The panel page's counts, all from one pass of the database over the panel:
    :class:`PanelCounts`, and each group's :class:`FilterCounts` in the status round
    (:func:`status_round`)."""

    counts: PanelCounts
    #: Group → what each status filter selects in it (every group, small ones too).
    filters: dict[str, FilterCounts]

    def offered_groups(self, study: Study) -> list[tuple[str, int]]:
        """:func:`offered_groups`, from the counts already made."""
        return [
            (group, counts.everyone)
            for group, counts in sorted(self.filters.items())
            if study.anonymity != "blind" or counts.everyone >= study.feedback_min_n
        ]

    def filter_counts(self, group: str | None = None) -> FilterCounts:
        """:func:`filter_counts` of ``group`` (``None``: every group)."""
        if group is not None:
            return self.filters.get(group, FilterCounts(0, 0, 0, 0))
        return FilterCounts(
            *(sum(getattr(counts, name) for counts in self.filters.values()) for name in _FILTERS)
        )


_FILTERS = ("everyone", "not_submitted", "draft", "never_opened")


def panel_census(session: Session, study: Study, *, by_group: bool = True) -> PanelCensus:
    """:func:`panel_counts` of the whole panel and :func:`filter_counts` of each group,
    counted by the database in a few grouped queries: no panelist row is loaded.

    The panel is read once, by group (sizes, withdrawn links, visits); each round's
    submitters once, as a distinct list from the index of submitted responses by
    round (``ix_response_round_submitted``, read in order), joined to their panelists
    by primary key; the status round's drafts once.  The filters' counts follow by
    subtraction (not submitted = everyone - submitters; draft = drafts - those of
    submitters; never opened = those who did not open - submitters who did not), so
    that nothing is looked up per panelist: the cost is a pass over the index entries
    of the rounds read.  The same counts and the same gathering of small groups as
    :func:`panel_counts` and :func:`filter_counts`.

    Without ``by_group`` (a page that shows no submissions by group) the counts have no
    group rows, and only the status round's submitters are read: an earlier round is
    closed, and its submitters are its summary's ``respondents``, counted when it
    closed by the same definition (a closed round takes no submission).
    """
    rounds = opened_rounds(session, study)
    round_ids = [round_.id for round_ in rounds]
    scanned = rounds if by_group else rounds[-1:]
    last = rounds[-1] if rounds else None
    # Every panelist once, by group: sizes, withdrawn links, visits since each round.
    sizes: dict[str, tuple[int, int, list[int]]] = {
        group: (int(size), int(revoked), [int(value) for value in seen])
        for group, size, revoked, *seen in session.execute(
            select(
                Panelist.group,
                func.count(Panelist.id),
                func.count(Panelist.revoked_at),
                *(_sum(Panelist.last_seen_at >= round_.opened_at) for round_ in rounds),
            )
            .where(Panelist.study_id == study.id)
            .group_by(Panelist.group)
        )
    }
    # Each scanned round's submitters once (the index of submitted responses, in
    # order), then their groups; and, in the status round, how many of them opened it.
    submitters = (
        select(Response.round_id, Response.panelist_id)
        .where(
            Response.round_id.in_([round_.id for round_ in scanned]),
            Response.status == ResponseStatus.SUBMITTED,
        )
        .distinct()
        .subquery("submitters")
    )
    opened_last = _sum(Panelist.last_seen_at >= last.opened_at) if last is not None else literal(0)
    answered: dict[tuple[str, int], tuple[int, int]] = {
        (group, round_id): (int(count), int(seen))
        for group, round_id, count, seen in session.execute(
            select(Panelist.group, submitters.c.round_id, func.count(), opened_last)
            .select_from(submitters)
            .join(Panelist, Panelist.id == submitters.c.panelist_id)
            .group_by(Panelist.group, submitters.c.round_id)
        )
    }
    # The status round's drafts by group, and how many of their authors submitted.
    drafted: dict[str, tuple[int, int]] = {}
    if last is not None:
        submitted_last = exists(
            select(Response.id).where(
                Response.round_id == last.id,
                Response.panelist_id == Draft.panelist_id,
                Response.status == ResponseStatus.SUBMITTED,
            )
        )
        drafted = {
            group: (int(count), int(done))
            for group, count, done in session.execute(
                select(Panelist.group, func.count(Draft.id), _sum(submitted_last))
                .join(Panelist, Panelist.id == Draft.panelist_id)
                .where(Draft.round_id == last.id)
                .group_by(Panelist.group)
            )
        }
    groups: dict[str, tuple[int, int, list[int], dict[int, int]]] = {}
    filters: dict[str, FilterCounts] = {}
    for group, (size, revoked, seen) in sizes.items():
        by_round = {round_.id: answered.get((group, round_.id), (0, 0))[0] for round_ in scanned}
        groups[group] = (size, revoked, seen, by_round)
        if last is None:
            filters[group] = FilterCounts(size, 0, 0, 0)
            continue
        submitted, submitted_opened = answered.get((group, last.id), (0, 0))
        drafts_of_group, drafts_submitted = drafted.get(group, (0, 0))
        # Never opened and not submitted: those who never opened, less the submitters
        # among them.
        filters[group] = FilterCounts(
            everyone=size,
            not_submitted=size - submitted,
            draft=drafts_of_group - drafts_submitted,
            never_opened=(size - seen[-1]) - (submitted - submitted_opened),
        )
    invited = _by_round(
        session,
        select(OutboxMessage.round_id, func.count(func.distinct(OutboxMessage.panelist_id)))
        .where(
            OutboxMessage.study_id == study.id,
            OutboxMessage.kind == "invitation",
            OutboxMessage.round_id.in_(round_ids),
        )
        .group_by(OutboxMessage.round_id),
    )
    drafts = _by_round(
        session,
        select(Draft.round_id, func.count(Draft.id))
        .where(Draft.round_id.in_(round_ids))
        .group_by(Draft.round_id),
    )
    stored = _by_round(
        session,
        select(RoundSummary.round_id, RoundSummary.respondents).where(
            RoundSummary.round_id.in_([round_.id for round_ in rounds[: -len(scanned) or None]])
        ),
    )
    rows = list(groups.values())
    counts = [
        RoundCounts(
            round_number=round_.number,
            invited=invited.get(round_.id, 0),
            opened=sum(seen[index] for _, _, seen, _ in rows),
            draft=drafts.get(round_.id, 0),
            submitted=sum(of_rounds.get(round_.id, 0) for _, _, _, of_rounds in rows)
            if round_ in scanned
            else stored.get(round_.id, 0),
        )
        for index, round_ in enumerate(rounds)
    ]
    shown: list[GroupCount] = []
    small_size, small_submitted = 0, [0] * len(rounds)
    for group in sorted(groups) if by_group else []:
        size, _, _, by_round = groups[group]
        of_group = [by_round[round_.id] for round_ in rounds]
        if size < study.feedback_min_n:
            small_size += size
            small_submitted = [a + b for a, b in zip(small_submitted, of_group, strict=True)]
        else:
            shown.append(GroupCount(group=group, panelists=size, submitted=of_group))
    if small_size:
        shown.append(GroupCount(group=None, panelists=small_size, submitted=small_submitted))
    return PanelCensus(
        PanelCounts(
            panelists=sum(size for size, _, _, _ in rows),
            active=sum(size - revoked for size, revoked, _, _ in rows),
            rounds=counts,
            groups=shown,
            min_group_size=study.feedback_min_n,
        ),
        filters,
    )


def panel_counts_of(session: Session, study: Study) -> PanelCounts:
    """:func:`panel_counts` of the whole panel, counted by the database
    (:func:`panel_census`)."""
    return panel_census(session, study).counts


def _sum(condition: ColumnElement[bool]) -> Any:
    """How many rows meet ``condition`` (0 for none), as a SQL aggregate."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _by_round(session: Session, statement: Any) -> dict[int, int]:
    """The (round id, count) rows of ``statement`` as a dict."""
    return {round_id: int(count) for round_id, count in session.execute(statement)}


def _group_count(group: str | None, members: list[PanelistStatus]) -> GroupCount:
    """One :class:`GroupCount` row."""
    rounds = len(members[0].rounds)
    return GroupCount(
        group=group,
        panelists=len(members),
        submitted=[
            sum(member.rounds[index].submitted for member in members) for index in range(rounds)
        ],
    )


def small_groups(session: Session, study: Study) -> set[str]:
    """The study's groups with fewer panelists than its minimum group size
    (``feedback_min_n``): labels that single people out, masked in a blind study
    wherever a pseudonym is shown beside a group."""
    rows = session.execute(
        select(Panelist.group, func.count())
        .where(Panelist.study_id == study.id)
        .group_by(Panelist.group)
    )
    return {group for group, count in rows if count < study.feedback_min_n}


MASKED_GROUP = "(masked)"
"""What a blind study shows instead of a group label that would single people out."""


def panelist_for_token(session: Session, token: str) -> Panelist:
    """Return the panelist whose link carries ``token``.

    Raises :class:`NotFound` for an unknown token and :class:`AccessRevoked` for a
    withdrawn one.
    """
    return panelist_for_token_hash(session, hash_token(token))


def panelist_for_token_hash(session: Session, token_hash: str) -> Panelist:
    """Return the panelist whose link hashes to ``token_hash`` (as kept in a session).

    A reissued link changes the hash, so sessions opened with the old link end too.
    (Expert requests use :func:`surveys.visit.visit_for_token_hash`, which brings
    the study's snapshot in the same query.)
    """
    panelist = session.execute(
        select(Panelist).where(Panelist.token_hash == token_hash)
    ).scalar_one_or_none()
    if panelist is None:
        raise NotFound("this personal link is not valid")
    if panelist.revoked_at is not None:
        raise AccessRevoked("this personal link has been withdrawn")
    return panelist


def _pairs(session: Session, statement: Any) -> set[tuple[Any, Any]]:
    """The (round id, panelist id) rows of ``statement`` as a set of plain tuples."""
    return {(first, second) for first, second in session.execute(statement)}


def _new_pseudonym(taken: set[str]) -> str:
    """Draw a random pseudonym such as ``P-7KQ4XM`` not yet used in the study."""
    while True:
        pseudonym = "P-" + "".join(
            secrets.choice(PSEUDONYM_ALPHABET) for _ in range(PSEUDONYM_LENGTH)
        )
        if pseudonym not in taken:
            taken.add(pseudonym)
            return pseudonym
