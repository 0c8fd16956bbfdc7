"""The panel: adding experts, their pseudonyms and their personal links."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from surveys.errors import AccessRevoked, DomainError, NotFound
from surveys.models import Panelist, RosterEntry, Study, utcnow

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


@dataclass(frozen=True)
class IssuedLink:
    """A personal link, returned exactly once when it is created."""

    pseudonym: str
    token: str

    def url(self, base_url: str) -> str:
        """The full link under ``base_url``."""
        return f"{base_url.rstrip('/')}/e/{self.token}"


class InvalidPanel(DomainError):
    """Rows of a panel file are malformed or duplicated; nothing was added."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def hash_token(token: str) -> str:
    """SHA-256 of a token.  Tokens have 256 random bits, so no salt or stretching is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_panel_csv(text: str, languages: Iterable[str]) -> list[NewPanelist]:
    """Read a panel file with the header ``name,email,group,language``.

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
        name = (row.get("name") or "").strip()
        email = (row.get("email") or "").strip().lower()
        group = (row.get("group") or "").strip()
        language = (row.get("language") or "").strip().lower() or languages[0]
        problems = []
        if not name:
            problems.append("name: is empty")
        elif len(name) > NAME_MAX_LENGTH:
            problems.append(f"name: is longer than {NAME_MAX_LENGTH} characters")
        if len(email) > EMAIL_MAX_LENGTH:
            problems.append(f"email: is longer than {EMAIL_MAX_LENGTH} characters")
        elif not EMAIL_PATTERN.match(email):
            problems.append(f"email: {email!r} is not an email address")
        elif email in seen:
            problems.append(f"email: {email} appears twice in the file")
        if not GROUP_PATTERN.match(group):
            problems.append(f"group: {group!r} may hold only letters, digits, _ and -")
        if language not in languages:
            problems.append(f"language: {language!r} is not one of {', '.join(languages)}")
        errors.extend(f"line {line}: {problem}" for problem in problems)
        seen.add(email)
        if not problems:
            rows.append(NewPanelist(name, email, group, language))
    if errors:
        raise InvalidPanel(errors)
    return rows


def add_panelists(session: Session, study: Study, entries: list[NewPanelist]) -> list[IssuedLink]:
    """Add experts to a study's panel, each with a random pseudonym and personal link.

    An email already on the panel is refused (the whole batch is, so that links are
    never half-issued).  The returned tokens are stored only as hashes.
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
            roster=RosterEntry(name=entry.name, email=entry.email),
        )
        session.add(panelist)
        issued.append(IssuedLink(pseudonym, token))
    session.commit()
    log.info("added %d panelists to %s", len(issued), study.slug)
    return issued


def reissue_link(session: Session, panelist: Panelist) -> IssuedLink:
    """Replace a panelist's link with a new one; the old link stops working."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    panelist.token_hash = hash_token(token)
    panelist.revoked_at = None
    session.commit()
    return IssuedLink(panelist.pseudonym, token)


def revoke_link(session: Session, panelist: Panelist) -> None:
    """Withdraw a panelist's link."""
    panelist.revoked_at = utcnow()
    session.commit()


def panelist_for_token(session: Session, token: str) -> Panelist:
    """Return the panelist whose link carries ``token``.

    Raises :class:`NotFound` for an unknown token and :class:`AccessRevoked` for a
    withdrawn one.
    """
    return panelist_for_token_hash(session, hash_token(token))


def panelist_for_token_hash(session: Session, token_hash: str) -> Panelist:
    """Return the panelist whose link hashes to ``token_hash`` (as kept in a session).

    A reissued link changes the hash, so sessions opened with the old link end too.
    """
    # The study and its items come in the same round trip: every expert page needs them.
    panelist = (
        session.execute(
            select(Panelist)
            .where(Panelist.token_hash == token_hash)
            .options(joinedload(Panelist.study).joinedload(Study.items))
        )
        .unique()
        .scalar_one_or_none()
    )
    if panelist is None:
        raise NotFound("this personal link is not valid")
    if panelist.revoked_at is not None:
        raise AccessRevoked("this personal link has been withdrawn")
    return panelist


def _new_pseudonym(taken: set[str]) -> str:
    """Draw a random pseudonym such as ``P-7KQ4XM`` not yet used in the study."""
    while True:
        pseudonym = "P-" + "".join(
            secrets.choice(PSEUDONYM_ALPHABET) for _ in range(PSEUDONYM_LENGTH)
        )
        if pseudonym not in taken:
            taken.add(pseudonym)
            return pseudonym
