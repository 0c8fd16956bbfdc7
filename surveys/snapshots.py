"""A study as its experts' pages and submissions use it, parsed once per process.

Every expert request needs the study's settings and its current items as definitions.
Loading them as ORM objects and parsing every item's JSON cost more than all the rest
of a submission, yet they change only when a facilitator edits the study, between
rounds.  So one parsed :class:`StudySnapshot` per study and database is kept in process
memory, and every request first reads the study's *revision* (:data:`REVISION_COLUMNS`,
a few columns that ride along with a query the request makes anyway): every stored
column the snapshot is built from (the JSON ones as their text), the study's creation
time, and over its items the count, the sums of versions and positions, the highest id
and the number retired.  Adding an item raises the count, rewording raises a version,
retiring raises the number retired, and a study deleted and loaded again has a new
creation time: the revision changes with every change the domain makes (an edit that
bypasses it must do the same), and a snapshot is used only while its revision is the
stored one.  The cache is therefore correct with any number of workers and hosts.
"""

from __future__ import annotations

import functools
import json
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, String, Text, bindparam, cast, func, literal_column, select
from sqlalchemy.orm import Session

from surveys.definition import StudyDefinition
from surveys.errors import NotFound
from surveys.fields import component_field, rationale_field
from surveys.models import Item, Study
from surveys.serialization import (
    consensus_from_json,
    item_from_json,
    sections_from_json,
    text_from_json,
)
from surveys.studies import StoredItem

#: Studies kept per database; beyond this, the one built longest ago is dropped.
MAX_CACHED_STUDIES = 64


@dataclass(frozen=True)
class StudySnapshot:
    """A study's settings and current items, parsed.  Shared between requests and
    threads, so never modified."""

    id: int
    definition: StudyDefinition
    #: The items that are not retired, in their order of appearance.
    items: tuple[StoredItem, ...]
    #: Every form field name the study's page can post: what a draft keeps.
    fields: frozenset[str]


#: The study columns a snapshot is built from, JSON ones as their stored text.
_STUDY_COLUMNS = (
    Study.slug,
    cast(Study.title, Text),
    cast(Study.introduction, Text),
    cast(Study.languages, Text),
    cast(Study.consensus, Text),
    cast(Study.sections, Text),
    Study.max_rounds,
    Study.quantile_method,
    Study.feedback_min_n,
    Study.rationale_outside_iqr,
    Study.cannot_judge,
    Study.consensus_items,
    Study.carry_over,
    Study.created_at,
)


def _joined(separator: str, *parts: Any) -> Any:
    """The SQL text of ``parts`` (each cast to text) joined by ``separator``."""
    glue = literal_column(f"'{separator}'", String)
    texts: list[Any] = [cast(part, String) for part in parts]
    return functools.reduce(lambda left, right: left + glue + right, texts)


#: The study's columns in one string, ``|`` between them.  It cannot be ambiguous: the
#: slug and the settings hold no ``|``, and each JSON text ends where it parses.  (One
#: column rather than twelve: each column of a result has a cost of its own, and this
#: is read by every expert request.)
_STUDY_FINGERPRINT = _joined("|", *_STUDY_COLUMNS)
#: The study's items in one string, ``count:versions:positions:highest id:retired``,
#: in a subquery correlated with the study (so that it joins any query of a study).
_ITEMS_FINGERPRINT = (
    select(
        _joined(
            ":",
            func.count(Item.id),
            func.coalesce(func.sum(Item.version), 0),
            func.coalesce(func.sum(Item.position), 0),
            func.coalesce(func.max(Item.id), 0),
            func.count(Item.retired_at),
        )
    )
    .where(Item.study_id == Study.id)
    .correlate(Study)
    .scalar_subquery()
)
#: What a study's revision is read from: add these to a query that selects from
#: ``study`` and pass the values to :func:`snapshot_for_revision`.
REVISION_COLUMNS = (_STUDY_FINGERPRINT, _ITEMS_FINGERPRINT)
_REVISION = select(*REVISION_COLUMNS).where(Study.id == bindparam("study_id"))
_STUDY = select(_STUDY_FINGERPRINT, *_STUDY_COLUMNS).where(Study.id == bindparam("study_id"))
_ITEMS = (
    select(Item.id, Item.key, Item.kind, Item.position, Item.version, Item.spec, Item.retired_at)
    .where(Item.study_id == bindparam("study_id"))
    .order_by(Item.position)
)

_Revision = tuple[Any, ...]
_caches: weakref.WeakKeyDictionary[Engine, dict[int, tuple[_Revision, StudySnapshot]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def study_snapshot(session: Session, study_id: int) -> StudySnapshot:
    """The study's settings and current items, parsed once per revision (see above).

    Runs in the session's transaction: one query when the snapshot is current, two
    more when it has to be built.  Raises :class:`NotFound` for an unknown study.
    """
    revision = session.connection().execute(_REVISION, {"study_id": study_id}).one_or_none()
    if revision is None:
        raise NotFound(f"no study has the id {study_id}")
    return snapshot_for_revision(session, study_id, tuple(revision))


def snapshot_for_revision(
    session: Session, study_id: int, revision: Sequence[Any]
) -> StudySnapshot:
    """The snapshot of study ``study_id`` whose :data:`REVISION_COLUMNS` were just read
    as ``revision``: the cached one if it is of that revision, else a new one."""
    connection = session.connection()
    cache = _cache(connection.engine)
    cached = cache.get(study_id)
    if cached is not None and cached[0] == tuple(revision):
        return cached[1]
    study = connection.execute(_STUDY, {"study_id": study_id}).one()
    items = connection.execute(_ITEMS, {"study_id": study_id}).all()
    # The study may have changed since the revision was read: the snapshot is filed
    # under the revision of exactly what it was built from.
    built = (study[0], _items_fingerprint(items))
    snapshot = _build(study_id, tuple(study)[1:], items)
    with _lock:
        cache.pop(study_id, None)
        cache[study_id] = (built, snapshot)
        while len(cache) > MAX_CACHED_STUDIES:
            del cache[next(iter(cache))]
    return snapshot


def _cache(engine: Engine) -> dict[int, tuple[_Revision, StudySnapshot]]:
    """The snapshots of one database (an engine), by study id."""
    cache = _caches.get(engine)
    if cache is None:
        with _lock:
            cache = _caches.setdefault(engine, {})
    return cache


def _items_fingerprint(items: Sequence[Any]) -> str:
    """What :data:`_ITEMS_FINGERPRINT` reads, computed from loaded item rows."""
    return ":".join(
        str(number)
        for number in (
            len(items),
            sum(item.version for item in items),
            sum(item.position for item in items),
            max((item.id for item in items), default=0),
            sum(1 for item in items if item.retired_at is not None),
        )
    )


def _build(study_id: int, study_columns: tuple[Any, ...], items: Sequence[Any]) -> StudySnapshot:
    """Parse the study's columns and its items' JSON into a snapshot."""
    (
        slug,
        title,
        introduction,
        languages,
        consensus,
        sections,
        max_rounds,
        quantile_method,
        feedback_min_n,
        rationale_outside_iqr,
        cannot_judge,
        consensus_items,
        carry_over,
        _created_at,
    ) = study_columns
    active = tuple(
        StoredItem(item.id, item.version, item_from_json(item.key, item.kind, item.spec))
        for item in items
        if item.retired_at is None
    )
    parsed_title = text_from_json(json.loads(title))
    assert parsed_title is not None
    definition = StudyDefinition(
        slug=slug,
        title=parsed_title,
        languages=tuple(json.loads(languages)["codes"]),
        max_rounds=max_rounds,
        quantile_method=quantile_method,
        consensus=consensus_from_json(json.loads(consensus)),
        items=tuple(stored.definition for stored in active),
        sections=sections_from_json(json.loads(sections)),
        introduction=text_from_json(json.loads(introduction)),
        feedback_min_n=feedback_min_n,
        rationale_outside_iqr=rationale_outside_iqr,
        cannot_judge=bool(cannot_judge),
        consensus_items=consensus_items,
        carry_over=carry_over,
    )
    fields = frozenset(
        name
        for stored in active
        for name in (
            rationale_field(stored.definition.key),
            *(
                component_field(stored.definition.key, part)
                for part in stored.definition.components
            ),
        )
    )
    return StudySnapshot(study_id, definition, active, fields)
