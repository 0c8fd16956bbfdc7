"""The demo study: a ready-to-answer copy of the study shipped in ``definitions/``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.definition import parse_definition
from surveys.links import LinkKeys, UnreadableLink
from surveys.models import Panelist, RosterEntry, Study
from surveys.panel import IssuedLink, NewPanelist, add_panelists, reissue_link, stored_link
from surveys.rounds import latest_round, open_round
from surveys.studies import find_study, load_study

log = logging.getLogger(__name__)

DEMO_DEFINITION = "us-mexico-intelligence.toml"
DEMO_GROUPS = ("us_official", "mx_official", "academic")
DEMO_EMAIL_DOMAIN = "demo.invalid"


@dataclass(frozen=True)
class DemoStudy:
    """The demo study's slug and one working link per demo panelist."""

    slug: str
    links: list[IssuedLink]


def demo_source() -> str:
    """The text of the shipped demo definition."""
    return files("surveys.definitions").joinpath(DEMO_DEFINITION).read_text(encoding="utf-8")


def ensure_demo(session: Session, *, panelists: int, keys: LinkKeys) -> DemoStudy:
    """Make the demo study ready to answer, however often it is called.

    Loads the demo definition unless its slug is already loaded, tops the panel up to
    ``panelists`` demo experts (groups and languages in turn), opens round 1 if no round
    exists, and returns a working link for each demo panelist.  Demo panelists who exist
    already keep their links (read back with ``keys``); one whose link cannot be read
    (added before links were sealed, or under another key) is issued a new one.
    """
    source = demo_source()
    definition = parse_definition(source, name=DEMO_DEFINITION)
    study = find_study(session, definition.slug) or load_study(session, definition, source)
    existing = _demo_panelists(session, study)
    links = [_link_of(session, panelist, keys) for panelist in existing[:panelists]]
    missing = [
        NewPanelist(
            name=f"Demo expert {number}",
            email=f"expert{number}@{DEMO_EMAIL_DOMAIN}",
            group=DEMO_GROUPS[(number - 1) % len(DEMO_GROUPS)],
            language=definition.languages[(number - 1) % len(definition.languages)],
        )
        for number in range(len(existing) + 1, panelists + 1)
    ]
    links += add_panelists(session, study, missing, keys=keys)
    if latest_round(session, study) is None:
        open_round(session, study)
    return DemoStudy(study.slug, links)


def _link_of(session: Session, panelist: Panelist, keys: LinkKeys) -> IssuedLink:
    """A demo panelist's stored link, else a new one."""
    try:
        return stored_link(panelist, keys)
    except UnreadableLink:
        return reissue_link(session, panelist, keys=keys)


def _demo_panelists(session: Session, study: Study) -> list[Panelist]:
    """The study's demo panelists, in the order they were added."""
    return list(
        session.execute(
            select(Panelist)
            .join(Panelist.roster)
            .where(Panelist.study_id == study.id, RosterEntry.email.like(f"%@{DEMO_EMAIL_DOMAIN}"))
            .order_by(Panelist.id)
        ).scalars()
    )
