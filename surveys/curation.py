"""Items between rounds: add, reword, retire, and the history of every item.

Every function here refuses with :class:`Conflict` while a round is open: the panel
answers the items as they stood when the round opened.  A rewording is a new version of
the item (``Item.version`` + 1, a new :class:`ItemVersion` row); responses keep the
version they answered, so nothing is migrated.  A retired item disappears from the next
round's page and stays in the history and in the exports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveys import audit
from surveys.definition import ItemDefinition, parse_item
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import (
    Item,
    ItemVersion,
    Response,
    ResponseStatus,
    Round,
    RoundStatus,
    RoundSummary,
    Study,
    User,
    utcnow,
)
from surveys.protocol import check_reason, is_stamped, record_amendment
from surveys.rounds import open_round_of
from surveys.serialization import item_from_json, item_to_json, item_to_toml, sections_from_json

log = logging.getLogger(__name__)

OPEN_ROUND = "an open round's items cannot change; close the round first"


def _refuse_while_open(session: Session, study: Study) -> None:
    """Raise :class:`Conflict` while the study has an open round."""
    if open_round_of(session, study) is not None:
        raise Conflict(OPEN_ROUND)


def _read_item(study: Study, item_toml: str, *, taken: set[str]) -> ItemDefinition:
    """Validate ``item_toml`` against the study's languages and sections."""
    return parse_item(
        item_toml,
        languages=tuple(study.languages["codes"]),
        section_keys={section.key for section in sections_from_json(study.sections)},
        taken_keys=taken,
        name="item",
    )


def find_item(study: Study, key: str) -> Item:
    """The study's item ``key``; raise :class:`NotFound` otherwise."""
    for item in study.items:
        if item.key == key:
            return item
    raise NotFound(f"the study has no item {key!r}")


def add_item(
    session: Session,
    study: Study,
    item_toml: str,
    actor: User | None = None,
    note: str | None = None,
) -> Item:
    """Append a new item, written as one ``[[items]]`` TOML table, to the study.

    The key must be new to the study (retired items keep theirs).  Raises
    :class:`InvalidDefinition` listing the problems of ``item_toml`` with their lines,
    :class:`Conflict` while a round is open, :class:`InvalidValues` naming ``note``
    when the protocol is stamped and no note says why.
    """
    _refuse_while_open(session, study)
    stamped = is_stamped(session, study)
    why = check_reason(note, field="note") if stamped else ""
    definition = _read_item(study, item_toml, taken={item.key for item in study.items})
    spec = item_to_json(definition)
    position = max((item.position for item in study.items), default=-1) + 1
    item = Item(
        key=definition.key,
        kind=definition.kind,
        position=position,
        version=1,
        spec=spec,
        versions=[ItemVersion(version=1, spec=spec, note=note or "added")],
    )
    study.items.append(item)
    session.flush()
    if stamped:
        _amend(session, study, definition.key, "", item_to_toml(definition), why, actor)
    audit.record(session, "item.add", study=study, user=actor, item=definition.key, note=note)
    session.commit()
    log.info("added item %s to %s", definition.key, study.slug)
    return item


def reword_item(
    session: Session,
    study: Study,
    key: str,
    item_toml: str,
    actor: User | None = None,
    note: str | None = None,
) -> Item:
    """Give item ``key`` a new version from ``item_toml`` (same key, same kind).

    Responses already given keep the version they answered (``Response.item_version``);
    the next round's responses record the new one.  Raises :class:`InvalidDefinition`
    for a malformed item, :class:`Conflict` while a round is open, for a retired item,
    a changed key or kind, or a wording identical to the current one,
    :class:`InvalidValues` naming ``note`` when the protocol is stamped and no note says
    why.
    """
    _refuse_while_open(session, study)
    item = find_item(study, key)
    if item.retired_at is not None:
        raise Conflict(f"item {key!r} is retired; add a new item instead")
    stamped = is_stamped(session, study)
    why = check_reason(note, field="note") if stamped else ""
    definition = _read_item(study, item_toml, taken=set())
    if definition.key != item.key:
        raise Conflict(f"the key must stay {item.key!r}; to change it, add a new item")
    if definition.kind != item.kind:
        raise Conflict(f"the kind must stay {item.kind!r}; to change it, add a new item")
    spec = item_to_json(definition)
    previous = item_from_json(item.key, item.kind, item.spec)
    if definition == previous:
        raise Conflict(f"this is the wording of version {item.version} already")
    if stamped:
        _amend(session, study, key, item_to_toml(previous), item_to_toml(definition), why, actor)
    item.version += 1
    item.spec = spec
    item.versions.append(ItemVersion(version=item.version, spec=spec, note=note))
    session.flush()
    audit.record(
        session,
        "item.reword",
        study=study,
        user=actor,
        item=key,
        version=item.version,
        note=note,
    )
    session.commit()
    log.info("reworded item %s of %s (version %d)", key, study.slug, item.version)
    return item


def retire_item(
    session: Session, study: Study, key: str, reason: str, actor: User | None = None
) -> Item:
    """Retire item ``key`` for ``reason`` (e.g. it reached consensus).

    It disappears from the next round's page and stays in the history, the summaries
    and the exports.  Raises :class:`InvalidValues` without a reason, :class:`Conflict`
    while a round is open or when the item is retired already.
    """
    _refuse_while_open(session, study)
    item = find_item(study, key)
    reason = reason.strip()
    if not reason:
        raise InvalidValues({"reason": ["say why the item is retired"]})
    if item.retired_at is not None:
        raise Conflict(f"item {key!r} is retired already")
    if is_stamped(session, study):
        reason = check_reason(reason)
        old = item_to_toml(item_from_json(item.key, item.kind, item.spec))
        _amend(session, study, key, old, "", reason, actor)
    item.retired_at = utcnow()
    item.retired_reason = reason
    audit.record(session, "item.retire", study=study, user=actor, item=key, reason=reason)
    session.commit()
    log.info("retired item %s of %s", key, study.slug)
    return item


def _amend(
    session: Session,
    study: Study,
    key: str,
    old: str,
    new: str,
    reason: str,
    actor: User | None,
) -> None:
    """Record a change to item ``key`` of a stamped protocol as an amendment (audited
    with the item's TOML before and after); it applies from the next round."""
    record_amendment(
        session, study, what=f"items.{key}", old=old, new=new, reason=reason, actor=actor
    )


@dataclass(frozen=True)
class VersionRecord:
    """One wording of an item, and the rounds whose submitted answers used it."""

    version: int
    definition: ItemDefinition
    note: str | None
    created_at: datetime
    rounds: tuple[int, ...]


@dataclass(frozen=True)
class ItemHistory:
    """An item as it stands, every version it has had, and its retirement."""

    key: str
    kind: str
    position: int
    version: int
    definition: ItemDefinition
    retired_at: datetime | None
    retired_reason: str | None
    versions: tuple[VersionRecord, ...]

    @property
    def retired(self) -> bool:
        """Whether the item no longer appears in new rounds."""
        return self.retired_at is not None


def item_history(session: Session, study: Study) -> list[ItemHistory]:
    """Every item of the study in order, retired ones included, with all its versions."""
    answered: dict[tuple[int, int], list[int]] = {}
    rows = session.execute(
        select(Response.item_id, Response.item_version, Round.number)
        .join(Round, Response.round_id == Round.id)
        .where(Round.study_id == study.id, Response.status == ResponseStatus.SUBMITTED)
        .group_by(Response.item_id, Response.item_version, Round.number)
        .order_by(Round.number)
    )
    for item_id, version, number in rows:
        answered.setdefault((item_id, version), []).append(number)
    return [
        ItemHistory(
            key=item.key,
            kind=item.kind,
            position=item.position,
            version=item.version,
            definition=item_from_json(item.key, item.kind, item.spec),
            retired_at=item.retired_at,
            retired_reason=item.retired_reason,
            versions=tuple(
                VersionRecord(
                    version=record.version,
                    definition=item_from_json(item.key, item.kind, record.spec),
                    note=record.note,
                    created_at=record.created_at,
                    rounds=tuple(answered.get((item.id, record.version), ())),
                )
                for record in item.versions
            ),
        )
        for item in study.items
    ]


@dataclass(frozen=True)
class OpenTextAnswers:
    """The submitted answers to one open-text item in one round, without their authors."""

    key: str
    definition: ItemDefinition
    round: int
    answers: tuple[str, ...]


def open_text_answers(session: Session, study: Study) -> list[OpenTextAnswers]:
    """The latest closed round's answers to every open-text item, anonymised.

    Only the texts: no pseudonym, no name, and sorted alphabetically rather than in the
    order they arrived, which could tell who wrote what.  Empty before any round closed.
    """
    latest = session.execute(
        select(func.max(Round.number)).where(
            Round.study_id == study.id, Round.status == RoundStatus.CLOSED
        )
    ).scalar_one()
    if latest is None:
        return []
    result = []
    for item in study.items:
        if item.kind != "open_text":
            continue
        answers = session.execute(
            select(Response.answer)
            .join(Round, Response.round_id == Round.id)
            .where(
                Round.study_id == study.id,
                Round.number == latest,
                Response.item_id == item.id,
                Response.status == ResponseStatus.SUBMITTED,
            )
        ).scalars()
        texts = sorted(
            text.strip()
            for answer in answers
            if isinstance(text := answer.get("text"), str) and text.strip()
        )
        result.append(
            OpenTextAnswers(
                item.key, item_from_json(item.key, item.kind, item.spec), latest, tuple(texts)
            )
        )
    return result


def latest_states(session: Session, study: Study) -> tuple[int | None, dict[str, str]]:
    """The latest closed round's number and each item's consensus state in its summary.

    An item of several components (a scenario set, a ranking) shows their states joined,
    e.g. ``"consensus, no_consensus"``, when they differ.  Helps decide what to retire.
    """
    row = session.execute(
        select(Round.number, RoundSummary.statistics)
        .join(RoundSummary, RoundSummary.round_id == Round.id)
        .where(Round.study_id == study.id, Round.status == RoundStatus.CLOSED)
        .order_by(Round.number.desc())
        .limit(1)
    ).first()
    if row is None:
        return None, {}
    number, statistics = row
    states: dict[str, list[str]] = {}
    for record in statistics.get("rows", []):
        state = record.get("state")
        if state and state not in states.setdefault(record["item"], []):
            states[record["item"]].append(state)
    return number, {key: ", ".join(values) for key, values in states.items() if values}
