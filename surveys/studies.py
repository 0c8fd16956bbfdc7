"""Loading study definitions into the database and reading them back."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys import audit
from surveys.definition import ItemDefinition, StudyDefinition
from surveys.errors import Conflict, NotFound
from surveys.models import Item, ItemVersion, Membership, Study, User
from surveys.serialization import (
    consensus_from_json,
    consensus_to_json,
    item_from_json,
    item_to_json,
    sections_from_json,
    sections_to_json,
    text_from_json,
    text_to_json,
)

log = logging.getLogger(__name__)

ANONYMITY_LEVELS: tuple[str, ...] = ("standard", "blind")


def load_study(
    session: Session,
    definition: StudyDefinition,
    source: str,
    *,
    actor: User | None = None,
    anonymity: str = "standard",
) -> Study:
    """Create a study and its items from a validated definition.

    ``actor``, the console user loading it, becomes its first member and is audited.
    Raises :class:`Conflict` when a study with the same slug exists already: loading is
    not an update, since items of a running study change only through curation.
    """
    if anonymity not in ANONYMITY_LEVELS:
        raise Conflict(f"anonymity must be one of {', '.join(ANONYMITY_LEVELS)}")
    if find_study(session, definition.slug) is not None:
        raise Conflict(f"a study with the slug {definition.slug!r} is already loaded")
    study = Study(
        slug=definition.slug,
        title=text_to_json(definition.title),
        introduction=text_to_json(definition.introduction),
        languages={"codes": list(definition.languages)},
        max_rounds=definition.max_rounds,
        quantile_method=definition.quantile_method,
        consensus=consensus_to_json(definition.consensus),
        sections=sections_to_json(definition.sections),
        feedback_min_n=definition.feedback_min_n,
        rationale_outside_iqr=definition.rationale_outside_iqr,
        cannot_judge=definition.cannot_judge,
        consensus_items=definition.consensus_items,
        carry_over=definition.carry_over,
        source=source,
        anonymity=anonymity,
    )
    study.items = [
        Item(
            key=item.key,
            kind=item.kind,
            position=position,
            version=1,
            spec=item_to_json(item),
            versions=[ItemVersion(version=1, spec=item_to_json(item), note="loaded")],
        )
        for position, item in enumerate(definition.items)
    ]
    session.add(study)
    if actor is not None:
        session.flush()
        session.add(Membership(user_id=actor.id, study_id=study.id))
    session.flush()
    audit.record(
        session,
        "study.load",
        study=study,
        user=actor,
        items=len(study.items),
        anonymity=anonymity,
    )
    session.commit()
    log.info("loaded study %s with %d items", study.slug, len(study.items))
    return study


def find_study(session: Session, slug: str) -> Study | None:
    """Return the study with ``slug``, or ``None``."""
    return session.execute(select(Study).where(Study.slug == slug)).scalar_one_or_none()


def get_study(session: Session, slug: str) -> Study:
    """Return the study with ``slug``; raise :class:`NotFound` otherwise."""
    study = find_study(session, slug)
    if study is None:
        raise NotFound(f"no study has the slug {slug!r}")
    return study


@dataclass(frozen=True)
class StoredItem:
    """An item as it stands in the database: its row id, version and definition."""

    id: int
    version: int
    definition: ItemDefinition


def all_items(study: Study) -> list[StoredItem]:
    """Every item of the study, retired ones included, in their order of appearance."""
    return [
        StoredItem(item.id, item.version, item_from_json(item.key, item.kind, item.spec))
        for item in study.items
    ]


def active_items(study: Study) -> list[StoredItem]:
    """The study's items that are not retired, in their order of appearance."""
    retired = {item.id for item in study.items if item.retired_at is not None}
    return [stored for stored in all_items(study) if stored.id not in retired]


def study_definition(study: Study) -> StudyDefinition:
    """Rebuild the study's definition as it stands now (current item versions)."""
    title = text_from_json(study.title)
    assert title is not None
    return StudyDefinition(
        slug=study.slug,
        title=title,
        languages=tuple(study.languages["codes"]),
        max_rounds=study.max_rounds,
        quantile_method=study.quantile_method,
        consensus=consensus_from_json(study.consensus),
        items=tuple(item.definition for item in active_items(study)),
        sections=sections_from_json(study.sections),
        introduction=text_from_json(study.introduction),
        feedback_min_n=study.feedback_min_n,
        rationale_outside_iqr=study.rationale_outside_iqr,
        cannot_judge=study.cannot_judge,
        consensus_items=study.consensus_items,
        carry_over=study.carry_over,
    )
