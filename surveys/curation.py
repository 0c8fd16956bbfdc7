"""Items between rounds: add, reword, retire, the history of every item, and the tags
that group the last round's open-text answers.

Every change to an item refuses with :class:`Conflict` while a round is open: the panel
answers the items as they stood when the round opened.  Once the protocol is stamped
each change is also an amendment, and its note is the amendment's reason.

An item is given either as an :class:`ItemDefinition` (from the console's forms;
problems come back as :class:`InvalidValues` keyed by the field, as
:func:`surveys.builder.check_item` names them: ``text.es``, ``labels.en[3]``,
``scenarios[2].text.es``) or as one ``[[items]]`` TOML table (problems come back as
:class:`InvalidDefinition` with their lines).  Between rounds an item is live, so every
text must be written in every language of the study.

**Adding** puts the item where the facilitator chooses (:class:`Placement`): at the
start or the end of its section, or just before or after another active item of that
section; the items' positions are renumbered, their order otherwise kept.

**Rewording** is a new version of the item (``Item.version`` + 1, a new
:class:`ItemVersion` row); responses keep the version they answered, so nothing is
migrated.  A rewording changes texts only: the question, the help text, the labels of
a scale's points, the texts of scenarios and options, and an estimate's unit, in any
language.  Everything that decides what an answer means or how answers are compared
stays: the key, the kind, the scale's points, the number and keys of scenarios and
options, an estimate's bounds, an open answer's length, whether a rationale is asked,
the section and the consensus rule (which the rule editor amends).  Changing one of
those makes a different question: add a new item, and retire this one.

**Retiring** hides the item from the next round's page; it stays in the history and in
the exports.

**Tags** (:class:`surveys.models.AnswerTag`) belong to the study: an answer is named by
its item and the SHA-256 of its text, never by its response or its author.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveys import audit
from surveys.builder import check_item, item_missing, scenario_sets, with_keys
from surveys.definition import Choice, ItemDefinition, LocalizedText, parse_item
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import (
    AnswerTag,
    Item,
    ItemVersion,
    Response,
    ResponseStatus,
    Round,
    RoundStatus,
    Study,
    User,
    utcnow,
)
from surveys.protocol import check_reason, is_stamped, record_amendment
from surveys.rounds import open_round_of
from surveys.serialization import item_from_json, item_to_json, item_to_toml, sections_from_json
from surveys.studies import all_items
from surveys.summary_glance import summary_parts
from surveys.text import clean_typed_text

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
        scenario_sets=scenario_sets(study),
        study_items=[stored.definition for stored in all_items(study)],
        name="item",
    )


def _missing_problems(definition: ItemDefinition, languages: tuple[str, ...]) -> dict:
    """Each text of ``definition`` not written in one of ``languages``, keyed by its
    field and language as the item forms place problems (``text.es``, ``labels.en[3]``)."""
    problems: dict[str, list[str]] = {}
    for field, codes in item_missing(definition, languages).items():
        for code in codes:
            label = re.fullmatch(r"labels\[(\d+)\]", field)
            name = f"labels.{code}[{label.group(1)}]" if label else f"{field}.{code}"
            problems[name] = [
                f"missing the {code!r} text (an item between rounds needs every language)"
            ]
    return problems


def _checked_item(
    study: Study, definition: ItemDefinition, *, taken: set[str]
) -> tuple[ItemDefinition | None, dict[str, list[str]]]:
    """``definition`` checked by the builder's rules (empty keys made from texts), with
    every text required in every language; the checked item, or its problems."""
    languages = tuple(study.languages["codes"])
    keyed = with_keys(definition, taken)
    problems = _missing_problems(keyed, languages)
    try:
        checked = check_item(study, keyed, taken)
    except InvalidValues as invalid:
        return None, {**invalid.errors, **problems}
    return (None if problems else checked), problems


def _reason_problems(session: Session, study: Study, note: str | None) -> tuple[str, dict]:
    """The amendment's reason once the protocol is stamped (``""`` before), or the
    problem with the note that should give it."""
    if not is_stamped(session, study):
        return "", {}
    try:
        return check_reason(note, field="note"), {}
    except InvalidValues as invalid:
        return "", dict(invalid.errors)


def _read(
    study: Study,
    item: ItemDefinition | str,
    taken: set[str],
    problems: dict[str, list[str]],
) -> tuple[ItemDefinition | None, ItemDefinition]:
    """The item checked (``None`` when it has problems, added to ``problems``) and the
    item as given.  A TOML table is read first, so a note's problem is raised before
    it; its own problems raise :class:`InvalidDefinition` with their lines."""
    if isinstance(item, str):
        if problems:
            raise InvalidValues(problems)
        definition = _read_item(study, item, taken=taken)
        return definition, definition
    checked, found = _checked_item(study, item, taken=taken)
    problems.update(found)
    return checked, item


def find_item(study: Study, key: str) -> Item:
    """The study's item ``key``; raise :class:`NotFound` otherwise."""
    for item in study.items:
        if item.key == key:
            return item
    raise NotFound(f"the study has no item {key!r}")


# -- where a new item goes -------------------------------------------------------------------

#: Where a new item can go: at the start or end of its section, before or after an item.
PLACES = ("end", "start", "before", "after")


@dataclass(frozen=True)
class Placement:
    """Where a new item goes: at the ``end`` or the ``start`` of its section, or
    ``before`` or ``after`` the active item ``anchor`` of that section."""

    where: str = "end"
    anchor: str | None = None

    @classmethod
    def from_choice(cls, choice: str) -> Placement:
        """Read a choice written as :attr:`choice` (``end``, ``after:trust_now``);
        :class:`InvalidValues` under ``place`` for anything else."""
        where, _, anchor = (choice or "end").partition(":")
        if where not in PLACES or (where in ("before", "after")) != bool(anchor):
            raise InvalidValues({"place": [f"not a place for an item: {choice!r}"]})
        return cls(where, anchor or None)

    @property
    def choice(self) -> str:
        """The placement in one word, as a form's option value."""
        return f"{self.where}:{self.anchor}" if self.anchor else self.where


def _section_of(item: Item) -> str | None:
    """The section key of a stored item (``None``: it has none)."""
    return item.spec.get("section")


def _insertion_index(
    study: Study, order: list[Item], section: str | None, placement: Placement
) -> int:
    """Where in ``order`` (every other item, by position) the new item goes; an empty
    section's items go where the section falls among the others (items without a
    section come before every section).  :class:`InvalidValues` under ``place`` for an
    anchor that is not an active item of ``section``."""
    active = [item for item in order if item.retired_at is None]
    if placement.where in ("before", "after"):
        anchor = next((item for item in active if item.key == placement.anchor), None)
        if anchor is None:
            raise InvalidValues({"place": [f"no active item has the key {placement.anchor!r}"]})
        if _section_of(anchor) != section:
            raise InvalidValues(
                {
                    "place": [
                        f"{anchor.key} is in section {_section_of(anchor) or '(none)'}, not in "
                        f"the new item's section {section or '(none)'}: choose an item of its "
                        "section, or its start or end"
                    ]
                }
            )
        return order.index(anchor) + (1 if placement.where == "after" else 0)
    same = [item for item in active if _section_of(item) == section]
    if same:
        return order.index(same[-1]) + 1 if placement.where == "end" else order.index(same[0])
    rank = {entry.key: number for number, entry in enumerate(sections_from_json(study.sections))}

    def rank_of(key: str | None) -> int:
        return -1 if key is None else rank.get(key, len(rank))

    later = [item for item in active if rank_of(_section_of(item)) > rank_of(section)]
    return order.index(later[0]) if later else len(order)


def _place(study: Study, item: Item, section: str | None, placement: Placement) -> None:
    """Put ``item`` where ``placement`` says and number every position 0, 1, … again,
    keeping the other items' order (retired items included)."""
    order = sorted((other for other in study.items if other is not item), key=_position)
    order.insert(_insertion_index(study, order, section, placement), item)
    for position, each in enumerate(order):
        each.position = position


def _position(item: Item) -> int:
    """An item's position (a sort key)."""
    return item.position


# -- adding, rewording, retiring ----------------------------------------------------------------


def add_item(
    session: Session,
    study: Study,
    item: ItemDefinition | str,
    actor: User | None = None,
    note: str | None = None,
    *,
    place: Placement | None = None,
) -> Item:
    """Add ``item`` (a definition, or one ``[[items]]`` TOML table) where ``place`` says
    (by default at the end of its section).

    The key must be new to the study (retired items keep theirs); an empty one is made
    from the question.  Raises :class:`Conflict` while a round is open;
    :class:`InvalidValues` naming ``note`` when the protocol is stamped and no note says
    why, ``place`` for a place outside the item's section, and (for a definition) every
    field with a problem, all at once; :class:`InvalidDefinition` listing the problems
    of a TOML table with their lines.
    """
    _refuse_while_open(session, study)
    taken = {other.key for other in study.items}
    why, problems = _reason_problems(session, study, note)
    definition, typed = _read(study, item, taken, problems)
    placement = place or Placement()
    section = typed.section
    order = sorted(study.items, key=_position)
    try:
        _insertion_index(study, order, section, placement)
    except InvalidValues as invalid:
        problems |= invalid.errors
    if problems or definition is None:
        raise InvalidValues(problems)
    spec = item_to_json(definition)
    added = Item(
        key=definition.key,
        kind=definition.kind,
        position=len(study.items),
        version=1,
        spec=spec,
        versions=[ItemVersion(version=1, spec=spec, note=note or "added")],
    )
    _place(study, added, definition.section, placement)
    study.items.append(added)
    session.flush()
    if is_stamped(session, study):
        _amend(session, study, definition.key, "", item_to_toml(definition), why, actor)
    audit.record(
        session,
        "item.add",
        study=study,
        user=actor,
        item=definition.key,
        note=note,
        place=placement.choice,
    )
    session.commit()
    # The study's items are held in position order; positions changed under them.
    session.expire(study, ["items"])
    log.info("added item %s to %s", definition.key, study.slug)
    return added


def _without_texts(definition: ItemDefinition) -> ItemDefinition:
    """``definition`` with every text emptied: what a rewording must leave as it is."""
    blank = LocalizedText(())
    scale = definition.scale
    return dataclasses.replace(
        definition,
        text=blank,
        help=None,
        unit=None,
        scale=dataclasses.replace(scale, labels=()) if scale is not None else None,
        scenarios=tuple(Choice(choice.key, blank) for choice in definition.scenarios),
        options=tuple(Choice(choice.key, blank) for choice in definition.options),
    )


#: The fields of an item a rewording must not change, in a facilitator's words.
FIXED_WORDS = {
    "section": "the section",
    "scale": "the scale's points",
    "scenarios": "the scenarios (their number or keys)",
    "options": "the options (their number or keys)",
    "max_length": "the longest answer",
    "consensus": "the consensus rule (change it in the rule editor)",
    "rationale": "whether a rationale is asked",
    "estimate_bounds": "the estimate's bounds",
    "estimate_level": "the confidence level the estimate's intervals are standardised to",
    "seed_answer": "the seed question's known answer",
    "seed_background": "the seed question's background measure",
}


def reword_changes(previous: ItemDefinition, new: ItemDefinition) -> list[str]:
    """What ``new`` changes of ``previous`` beyond its texts, in words (see the module's
    docstring: a rewording changes texts only); empty when only texts differ."""
    before, after = _without_texts(previous), _without_texts(new)
    return [
        words
        for name, words in FIXED_WORDS.items()
        if getattr(before, name) != getattr(after, name)
    ]


class RewordedMeanwhile(Conflict):
    """The rewording was written against a version of the item that is no longer its
    latest: a colleague reworded it since.  Saving it would silently replace their
    wording, which the writer never saw; nothing is saved."""

    def __init__(self, key: str, based_on: int, version: int) -> None:
        super().__init__(
            f"item {key!r} was reworded meanwhile: it is at version {version}, not "
            f"{based_on}; nothing was saved"
        )
        self.key = key
        self.based_on = based_on
        self.version = version


def reword_item(
    session: Session,
    study: Study,
    key: str,
    item: ItemDefinition | str,
    actor: User | None = None,
    note: str | None = None,
    *,
    based_on: int | None = None,
) -> Item:
    """Give item ``key`` a new version whose texts are those of ``item`` (a definition,
    or one ``[[items]]`` TOML table); ``based_on``, the version the writer was shown
    (:class:`RewordedMeanwhile` when the item has moved on since).

    Responses already given keep the version they answered (``Response.item_version``);
    the next round's responses record the new one.  Raises :class:`InvalidDefinition`
    for a malformed TOML table; :class:`InvalidValues` for a definition's problems
    keyed by field, and naming ``note`` when the protocol is stamped and no note says
    why; :class:`Conflict` while a round is open, for a retired item, a changed key or
    kind, a change beyond the texts (see the module's docstring), or a wording
    identical to the current one.
    """
    _refuse_while_open(session, study)
    stored = find_item(study, key)
    if stored.retired_at is not None:
        raise Conflict(f"item {key!r} is retired; add a new item instead")
    if based_on is not None and stored.version != based_on:
        raise RewordedMeanwhile(key, based_on, stored.version)
    why, problems = _reason_problems(session, study, note)
    definition, typed = _read(study, item, set(), problems)
    if typed.key != stored.key:
        raise Conflict(f"the key must stay {stored.key!r}; to change it, add a new item")
    if typed.kind != stored.kind:
        raise Conflict(f"the kind must stay {stored.kind!r}; to change it, add a new item")
    if problems or definition is None:
        raise InvalidValues(problems)
    previous = item_from_json(stored.key, stored.kind, stored.spec)
    changed = reword_changes(previous, definition)
    if changed:
        raise Conflict(
            f"a rewording changes texts only, not {', '.join(changed)}: "
            "add a new item instead, and retire this one"
        )
    if definition == previous:
        raise Conflict(f"this is the wording of version {stored.version} already")
    spec = item_to_json(definition)
    if is_stamped(session, study):
        _amend(session, study, key, item_to_toml(previous), item_to_toml(definition), why, actor)
    stored.version += 1
    stored.spec = spec
    stored.versions.append(ItemVersion(version=stored.version, spec=spec, note=note))
    if definition.kind in ("scenario_set", "probability"):
        _reword_dependants(study, definition, stored.version)
    session.flush()
    audit.record(
        session,
        "item.reword",
        study=study,
        user=actor,
        item=key,
        version=stored.version,
        note=note,
    )
    session.commit()
    log.info("reworded item %s of %s (version %d)", key, study.slug, stored.version)
    return stored


def _reword_dependants(study: Study, reworded: ItemDefinition, version: int) -> None:
    """Give each item that keeps a copy of ``reworded``'s texts a new version with them:
    a signpost or cross-impact item rated against a reworded scenario set takes its new
    scenario texts, a cross-impact item whose trigger was reworded that trigger's new
    text.  An expert reads them as the items they come from word them now."""
    for item in study.items:
        if item.kind not in ("signpost", "cross_impact") or item.retired_at is not None:
            continue
        current = item_from_json(item.key, item.kind, item.spec)
        updated = current
        if reworded.kind == "scenario_set" and current.scenario_item == reworded.key:
            updated = dataclasses.replace(updated, scenarios=reworded.scenarios)
        if reworded.kind == "probability" and item.kind == "cross_impact":
            updated = dataclasses.replace(
                updated,
                triggers=tuple(
                    Choice(trigger.key, reworded.text) if trigger.key == reworded.key else trigger
                    for trigger in updated.triggers
                ),
            )
        if updated == current:
            continue
        spec = item_to_json(updated)
        item.version += 1
        item.spec = spec
        what = "scenarios" if reworded.kind == "scenario_set" else "trigger"
        note = f"the {what} as worded in version {version} of {reworded.key}"
        item.versions.append(ItemVersion(version=item.version, spec=spec, note=note))


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
    """Every item of the study in order, retired ones included, with all its versions
    and the rounds that answered each.

    Which version a round answered is read from one submitted response per round and
    item, found through ``ix_response_round_item``: no item changes while a round is
    open (:func:`_refuse_while_open`), so a round's answers to an item all record the
    version it had then.  (On PostgreSQL a change whose check ran just before a round
    opened can still commit just after it: answers submitted in those milliseconds keep
    the older version, and this page then names one of the two for that round.)
    Grouping every submitted answer of the study instead took 0.7 to 1 s of the items
    page at 100,000 panelists (``benchmarks/console.py``)."""
    answered: dict[tuple[int, int], list[int]] = {}
    version = (
        select(Response.item_version)
        .where(
            Response.round_id == Round.id,
            Response.item_id == Item.id,
            Response.status == ResponseStatus.SUBMITTED,
        )
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Item.id, version, Round.number)
        .select_from(Round)
        .join(Item, Item.study_id == Round.study_id)
        .where(Round.study_id == study.id)
        .order_by(Round.number, Item.id)
    )
    for item_id, answered_version, number in rows:
        if answered_version is not None:  # the round has no answer to the item
            answered.setdefault((item_id, answered_version), []).append(number)
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
    # From the summaries' glances (O(items)), not the whole stored summary: at 100,000
    # panelists it is tens of MB, which this page decoded for a few states (3 s).
    closed = summary_parts(session, study.id, ("rows",), closed=True)
    if not closed:
        return None, {}
    number, parts = closed[0]  # the newest first
    states: dict[str, list[str]] = {}
    for record in parts["rows"] or []:
        state = record.get("state")
        if state and state not in states.setdefault(record["item"], []):
            states[record["item"]].append(state)
    return number, {key: ", ".join(values) for key, values in states.items() if values}


# -- tagging the last round's open-text answers --------------------------------------------

#: The longest tag, in characters.
TAG_LIMIT = 80


def answer_reference(text: str) -> str:
    """How tags name an open-text answer: the hex SHA-256 of its text (UTF-8, stripped),
    which names the answer and not who gave it."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ListedAnswer:
    """One distinct answer to an open-text item, how many experts gave it, its tag."""

    item: str
    reference: str
    text: str
    count: int
    tag: str | None


@dataclass(frozen=True)
class ItemAnswers:
    """The distinct answers to one open-text item in the latest closed round."""

    key: str
    definition: ItemDefinition
    round: int
    answers: tuple[ListedAnswer, ...]


@dataclass(frozen=True)
class AnswerGroup:
    """The answers, of any open-text item, that share a tag (compared without case)."""

    tag: str
    answers: tuple[ListedAnswer, ...]


@dataclass(frozen=True)
class AnswerSheet:
    """The latest closed round's open-text answers, their tags, and the groups the tags
    make; ``round`` is ``None`` before any round closed."""

    round: int | None
    items: tuple[ItemAnswers, ...]
    groups: tuple[AnswerGroup, ...]

    @property
    def tags(self) -> tuple[str, ...]:
        """Every tag in use, as its group shows it: the choices to offer when tagging."""
        return tuple(group.tag for group in self.groups)


def _tags_by_answer(session: Session, study: Study) -> dict[tuple[int, str], AnswerTag]:
    """The study's tags by (item id, answer reference)."""
    rows = session.execute(select(AnswerTag).where(AnswerTag.study_id == study.id)).scalars()
    return {(row.item_id, row.answer_sha256): row for row in rows}


def answer_sheet(session: Session, study: Study) -> AnswerSheet:
    """The latest closed round's open-text answers as :func:`open_text_answers` lists
    them (no author, alphabetical), identical ones said once with their count, each
    with its tag; and the groups of answers by tag, in alphabetical order."""
    tags = _tags_by_answer(session, study)
    ids = {item.key: item.id for item in study.items}
    listed: list[ItemAnswers] = []
    for entry in open_text_answers(session, study):
        counts: dict[str, int] = {}
        for text in entry.answers:
            counts[text] = counts.get(text, 0) + 1
        answers = []
        for text, count in counts.items():
            reference = answer_reference(text)
            row = tags.get((ids[entry.key], reference))
            answers.append(
                ListedAnswer(entry.key, reference, text, count, row.tag if row else None)
            )
        listed.append(ItemAnswers(entry.key, entry.definition, entry.round, tuple(answers)))
    by_tag: dict[str, list[ListedAnswer]] = {}
    for item_answers in listed:
        for answer in item_answers.answers:
            if answer.tag:
                by_tag.setdefault(answer.tag.casefold(), []).append(answer)
    groups = tuple(
        AnswerGroup(min(answer.tag or "" for answer in members), tuple(members))
        for _, members in sorted(by_tag.items())
    )
    return AnswerSheet(listed[0].round if listed else None, tuple(listed), groups)


def clean_tag(tag: str | None) -> str:
    """``tag`` with its runs of spaces made one space and stripped (``""``: no tag);
    :class:`InvalidValues` under ``tag`` when it is too long or holds control
    characters."""
    text = " ".join((tag or "").split())
    if len(text) > TAG_LIMIT:
        raise InvalidValues({"tag": [f"must be at most {TAG_LIMIT} characters"]})
    if clean_typed_text(text) != text:
        raise InvalidValues({"tag": ["must not contain control characters"]})
    return text


def tag_answers(
    session: Session,
    study: Study,
    tags: Mapping[tuple[str, str], str],
    actor: User | None = None,
) -> int:
    """Set the tags of the latest closed round's open-text answers, each named
    ``(item key, answer reference)``; an empty tag removes the answer's tag.

    Answers that are not among that round's (a page older than a later close) are left
    alone.  Tags are notes on the study, not on its protocol: they may change while a
    round is open.  Raises :class:`InvalidValues` keyed ``"<item>:<reference>"`` for
    each tag that cannot be stored, before storing any.  Returns how many tags changed.
    """
    cleaned: dict[tuple[str, str], str] = {}
    problems: dict[str, list[str]] = {}
    for (key, reference), tag in tags.items():
        try:
            cleaned[(key, reference)] = clean_tag(tag)
        except InvalidValues as invalid:
            problems[f"{key}:{reference}"] = invalid.errors["tag"]
    if problems:
        raise InvalidValues(problems)
    current = {
        (answer.item, answer.reference): answer
        for entry in answer_sheet(session, study).items
        for answer in entry.answers
    }
    stored = _tags_by_answer(session, study)
    ids = {item.key: item.id for item in study.items}
    changed = 0
    for (key, reference), tag in cleaned.items():
        if (key, reference) not in current:
            continue
        row = stored.get((ids[key], reference))
        if row is not None and not tag:
            session.delete(row)
        elif row is not None and row.tag != tag:
            row.tag, row.tagged_at = tag, utcnow()
        elif row is None and tag:
            session.add(
                AnswerTag(study_id=study.id, item_id=ids[key], answer_sha256=reference, tag=tag)
            )
        else:
            continue
        changed += 1
    if changed:
        # Only the count: a tag may quote an answer, and the audit log keeps no answer.
        audit.record(session, "answers.tag", study=study, user=actor, changed=changed)
    session.commit()
    return changed
