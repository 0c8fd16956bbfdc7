"""Building a study in the browser, before its round 1 opens.

A study is created at once, as a row, from a starting point (a blank study, a shipped
template, the demo, or a definition file) and is its own draft until round 1 opens:
each use case here changes the stored study and commits, so that nothing a facilitator
saved is lost by a reload.  Once round 1 has opened every one of them refuses with
:class:`Conflict`: from then on items change through curation (a new version with a
note) and the protocol through amendments.

A draft may lack translations: a text given in one of the study's languages and not yet
in another is kept as given and reported by :func:`missing_translations` (the stored
item then holds only the languages it has; a likert label not yet translated is an
empty string in its language's list).  Everything else is held to the definition
loader's rules, by the loader itself: an item is written as TOML with each missing
translation filled from a language it has, and read back by
:func:`surveys.definition.parse_item`; texts of the study and its sections go through
:func:`surveys.definition.text_problem`.  Problems come back as
:class:`InvalidValues` keyed by the field as the loader names it, relative to the item
(``text.en``, ``scale.max``, ``labels.es[3]``, ``scenarios[2].text.en``).

Every change also changes the study's snapshot revision (see ``surveys.snapshots``):
moving two items or editing an item's text in place changes neither the number of
items, their versions, the sum of their positions nor the highest id, so
:func:`_touch` stores a fresh random mark in the study's ``sections`` JSON, one of the
columns the revision reads.  (A ``revision`` column on the study would say this more
plainly; it needs a migration.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis import ConsensusRule, Criterion
from surveys import audit
from surveys.definition import (
    ITEM_LIMIT,
    KEY_PATTERN,
    LANGUAGE_LIMIT,
    LANGUAGE_PATTERN,
    LIKERT_OPTION_LIMIT,
    RESERVED_KEYS,
    RESERVED_SLUGS,
    SECTION_LIMIT,
    SLUG_PATTERN,
    TEXT_RULES,
    Choice,
    ConsensusSettings,
    DefinitionError,
    InvalidDefinition,
    ItemDefinition,
    LikertScale,
    LocalizedText,
    Section,
    StudyDefinition,
    parse_definition,
    parse_item,
    text_problem,
)
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import Item, ItemVersion, Round, Study, User
from surveys.serialization import (
    consensus_to_json,
    item_from_json,
    item_to_json,
    item_to_toml,
    sections_from_json,
    sections_to_json,
    text_to_json,
)
from surveys.studies import ANONYMITY_LEVELS, all_items, find_study, load_study

log = logging.getLogger(__name__)

ROUND_ONE_OPENED = (
    "round 1 has opened, so the study is no longer a draft: reword, add or retire items "
    "on the items page, and change the protocol through an amendment"
)
#: The consensus rule of a blank study: an interquartile range of at most one point,
#: the most common rule for 4–5-point scales (von der Gracht 2012).
BLANK_CONSENSUS = ConsensusSettings(ConsensusRule((Criterion("iqr", {"max": 1.0}),), "all"))
BLANK_MAX_ROUNDS = 3
#: How many characters of a text an automatic key takes.
KEY_LENGTH = 30


# -- the draft state ----------------------------------------------------------------------


def is_draft(session: Session, study: Study) -> bool:
    """Whether the study's round 1 has not opened yet (it has no round at all)."""
    rounds = session.execute(
        select(func.count()).select_from(Round).where(Round.study_id == study.id)
    ).scalar_one()
    return rounds == 0


def _refuse_unless_draft(session: Session, study: Study) -> None:
    """Raise :class:`Conflict` once round 1 has opened."""
    if not is_draft(session, study):
        raise Conflict(ROUND_ONE_OPENED)


def _touch(study: Study) -> None:
    """Give the study a new snapshot revision (see the module's docstring)."""
    study.sections = {**study.sections, "draft_mark": uuid.uuid4().hex}


def _commit(session: Session, study: Study, action: str, actor: User | None, **details) -> None:
    """Touch, audit and commit one change of the draft."""
    _touch(study)
    session.flush()
    audit.record(session, action, study=study, user=actor, **details)
    session.commit()
    log.info("%s on draft study %s", action, study.slug)


# -- creating a study ---------------------------------------------------------------------


def check_slug(session: Session, slug: str) -> list[str]:
    """What is wrong with ``slug`` for a new study: the loader's rules, and not taken."""
    if not SLUG_PATTERN.match(slug):
        return [
            "use 2 to 63 lower-case letters, digits and hyphens, starting with a letter or digit"
        ]
    if slug in RESERVED_SLUGS:
        return ["this address is a page of the console; choose another"]
    if find_study(session, slug) is not None:
        return ["a study with this slug exists already; choose another"]
    return []


def check_languages(languages: Iterable[str]) -> list[str]:
    """What is wrong with a study's list of language codes, under the loader's rules."""
    codes = list(languages)
    if not codes:
        return ["choose at least one language"]
    if len(codes) > LANGUAGE_LIMIT:
        return [f"a study has at most {LANGUAGE_LIMIT} languages"]
    problems = [
        f"{code!r} is not a two-letter language code"
        for code in codes
        if not LANGUAGE_PATTERN.match(code)
    ]
    if len(set(codes)) != len(codes):
        problems.append("a language is listed twice")
    return problems


def blank_definition(slug: str, languages: tuple[str, ...], title: str) -> StudyDefinition:
    """A study with a title in its first language, the default settings and no item."""
    return StudyDefinition(
        slug=slug,
        title=LocalizedText(((languages[0], title.strip()),)),
        languages=languages,
        max_rounds=BLANK_MAX_ROUNDS,
        quantile_method="linear",
        consensus=BLANK_CONSENSUS,
        items=(),
    )


def create_study(
    session: Session,
    *,
    slug: str,
    languages: Iterable[str],
    anonymity: str,
    start: StudyDefinition | None = None,
    title: str = "",
    source: str = "",
    actor: User | None = None,
) -> Study:
    """Create a draft study from ``start`` (a template, the demo, a definition file) or,
    without one, a study titled ``title`` with no item yet.

    The study gets ``slug`` and ``languages`` whatever ``start`` said: texts in other
    languages are dropped, languages ``start`` lacks are missing translations to fill
    in.  A ``title`` given with ``start`` replaces its title (in the first language).
    ``actor`` becomes its first member.  Raises :class:`InvalidValues` naming
    ``slug``, ``languages``, ``title`` or ``anonymity``.
    """
    codes = tuple(languages)
    errors: dict[str, list[str]] = {}
    if problems := check_slug(session, slug):
        errors["slug"] = problems
    if problems := check_languages(codes):
        errors["languages"] = problems
    if anonymity not in ANONYMITY_LEVELS:
        errors["anonymity"] = ["choose one of " + ", ".join(ANONYMITY_LEVELS)]
    if start is None:
        problem = (
            "give the study a title"
            if not title.strip()
            else text_problem(title.strip(), TEXT_RULES["study_title"])
        )
        if problem:
            errors["title"] = [problem]
    else:
        if title.strip() and (problem := text_problem(title.strip(), TEXT_RULES["study_title"])):
            errors["title"] = [problem]
        if not errors and not set(codes) & set(start.languages):
            errors["languages"] = [
                "this starting point is written in "
                + ", ".join(start.languages)
                + ": keep at least one of its languages"
            ]
    if errors:
        raise InvalidValues(errors)
    if start is None:
        definition = blank_definition(slug, codes, title)
    else:
        definition = in_languages(dataclasses.replace(start, slug=slug), codes)
        if title.strip():
            # The facilitator's own title, in the first language; the others to write.
            definition = dataclasses.replace(
                definition, title=LocalizedText(((codes[0], title.strip()),))
            )
    try:
        return load_study(session, definition, source, actor=actor, anonymity=anonymity)
    except Conflict:  # created by someone else at the same moment
        raise InvalidValues(
            {"slug": ["a study with this slug exists already; choose another"]}
        ) from None


def in_languages(definition: StudyDefinition, languages: tuple[str, ...]) -> StudyDefinition:
    """``definition`` in ``languages``: its texts in other languages dropped."""

    def text(value: LocalizedText | None) -> LocalizedText | None:
        if value is None:
            return None
        kept = tuple((code, value.as_dict()[code]) for code in languages if code in value.as_dict())
        return LocalizedText(kept) if kept else None

    def item(value: ItemDefinition) -> ItemDefinition:
        scale = value.scale
        if scale is not None:
            labels = dict(scale.labels)
            scale = LikertScale(
                scale.minimum,
                scale.maximum,
                tuple((code, labels[code]) for code in languages if code in labels),
            )
        return dataclasses.replace(
            value,
            text=text(value.text) or value.text,
            help=text(value.help),
            unit=text(value.unit),
            scale=scale,
            scenarios=tuple(Choice(c.key, text(c.text) or c.text) for c in value.scenarios),
            options=tuple(Choice(c.key, text(c.text) or c.text) for c in value.options),
        )

    title = text(definition.title)
    assert title is not None, "the caller keeps one of the definition's languages"
    return dataclasses.replace(
        definition,
        languages=languages,
        title=title,
        introduction=text(definition.introduction),
        sections=tuple(
            Section(section.key, text(section.title) or section.title)
            for section in definition.sections
        ),
        items=tuple(item(value) for value in definition.items),
    )


def replace_study(
    session: Session, study: Study, source: str, *, actor: User | None = None
) -> StudyDefinition:
    """Replace the draft with the definition file ``source`` (its items, sections,
    texts, languages and settings); the study keeps its slug, members and anonymity.

    Raises :class:`InvalidDefinition` listing the file's problems with their lines, and
    :class:`Conflict` once round 1 has opened.
    """
    _refuse_unless_draft(session, study)
    definition = parse_definition(source, name="definition")
    study.title = text_to_json(definition.title)
    study.introduction = text_to_json(definition.introduction)
    study.languages = {"codes": list(definition.languages)}
    study.max_rounds = definition.max_rounds
    study.quantile_method = definition.quantile_method
    study.consensus = consensus_to_json(definition.consensus)
    study.sections = sections_to_json(definition.sections)
    study.feedback_min_n = definition.feedback_min_n
    study.rationale_outside_iqr = definition.rationale_outside_iqr
    study.cannot_judge = definition.cannot_judge
    study.consensus_items = definition.consensus_items
    study.carry_over = definition.carry_over
    study.source = source
    # The old items go first: their keys may return, and keys are unique per study.
    study.items.clear()
    session.flush()
    study.items.extend(_new_item(item, position) for position, item in enumerate(definition.items))
    _commit(session, study, "builder.import", actor, items=len(definition.items))
    return definition


# -- the study's own texts ------------------------------------------------------------------


def _texts_problems(
    field: str, texts: Mapping[str, str], languages: tuple[str, ...], rule: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``texts`` stripped, the empty ones left out, with the problems of each language
    (keyed ``field.language``) under the loader's rule for that kind of text."""
    kept: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for code in languages:
        value = (texts.get(code) or "").strip()
        if not value:
            continue
        if problem := text_problem(value, TEXT_RULES[rule]):
            errors[f"{field}.{code}"] = [problem]
        kept[code] = value
    return kept, errors


def update_texts(
    session: Session,
    study: Study,
    *,
    title: Mapping[str, str],
    introduction: Mapping[str, str],
    actor: User | None = None,
) -> None:
    """Set the study's title and introduction, given per language (an empty text is a
    missing translation).  The title needs at least one language.

    Raises :class:`InvalidValues` keyed ``title.<language>`` / ``introduction.<language>``
    (or ``title`` when it is empty in every language), :class:`Conflict` after round 1.
    """
    _refuse_unless_draft(session, study)
    languages = tuple(study.languages["codes"])
    titles, errors = _texts_problems("title", title, languages, "study_title")
    introductions, more = _texts_problems("introduction", introduction, languages, "introduction")
    errors.update(more)
    if not titles:
        errors["title"] = ["give the study a title in at least one language"]
    if errors:
        raise InvalidValues(errors)
    study.title = titles
    study.introduction = introductions
    _commit(session, study, "builder.texts", actor)


# -- sections ------------------------------------------------------------------------------


def _sections(study: Study) -> list[dict]:
    """The study's sections as stored (a copy to change)."""
    return [dict(section) for section in study.sections.get("sections", [])]


def _store_sections(study: Study, sections: list[dict]) -> None:
    """Store ``sections`` and put the items back in the order of their sections."""
    study.sections = {**study.sections, "sections": sections}
    _renumber(study)


def _section_titles(study: Study, title: Mapping[str, str]) -> dict[str, str]:
    """A section's title per language, checked; at least one language."""
    titles, errors = _texts_problems(
        "title", title, tuple(study.languages["codes"]), "section_title"
    )
    if not titles and not errors:
        errors["title"] = ["give the section a title in at least one language"]
    if errors:
        raise InvalidValues(errors)
    return titles


def add_section(
    session: Session,
    study: Study,
    title: Mapping[str, str],
    *,
    key: str = "",
    actor: User | None = None,
) -> str:
    """Add a section at the end; its key is made from its title unless given.

    Returns the key.  Raises :class:`InvalidValues` (``title…``, ``key``, ``section``)
    and :class:`Conflict` after round 1.
    """
    _refuse_unless_draft(session, study)
    sections = _sections(study)
    titles = _section_titles(study, title)
    taken = {section["key"] for section in sections}
    if len(sections) >= SECTION_LIMIT:
        raise InvalidValues({"section": [f"a study has at most {SECTION_LIMIT} sections"]})
    key = key.strip() or suggest_key(next(iter(titles.values())), taken, fallback="section")
    if problem := _key_problem(key, taken, "section"):
        raise InvalidValues({"key": [problem]})
    sections.append({"key": key, "title": titles})
    _store_sections(study, sections)
    _commit(session, study, "builder.section.add", actor, section=key)
    return key


def _find_section(sections: list[dict], key: str) -> int:
    """The index of section ``key``; raise :class:`NotFound` otherwise."""
    for index, section in enumerate(sections):
        if section["key"] == key:
            return index
    raise NotFound(f"the study has no section {key!r}")


def rename_section(
    session: Session,
    study: Study,
    key: str,
    title: Mapping[str, str],
    *,
    actor: User | None = None,
) -> None:
    """Give section ``key`` a new title (per language)."""
    _refuse_unless_draft(session, study)
    sections = _sections(study)
    index = _find_section(sections, key)
    sections[index]["title"] = _section_titles(study, title)
    _store_sections(study, sections)
    _commit(session, study, "builder.section.rename", actor, section=key)


def delete_section(session: Session, study: Study, key: str, *, actor: User | None = None) -> None:
    """Delete section ``key``, which must hold no item (move or delete them first)."""
    _refuse_unless_draft(session, study)
    sections = _sections(study)
    index = _find_section(sections, key)
    held = [item.key for item in study.items if item.spec.get("section") == key]
    if held:
        raise Conflict(
            f"the section holds {len(held)} item(s); move them to another section or "
            "delete them first"
        )
    del sections[index]
    _store_sections(study, sections)
    _commit(session, study, "builder.section.delete", actor, section=key)


def move_section(
    session: Session, study: Study, key: str, offset: int, *, actor: User | None = None
) -> None:
    """Move section ``key`` (with its items) ``offset`` places: -1 up, +1 down."""
    _refuse_unless_draft(session, study)
    sections = _sections(study)
    index = _find_section(sections, key)
    target = index + offset
    if offset not in (-1, 1) or not 0 <= target < len(sections):
        raise Conflict("the section cannot move further that way")
    sections[index], sections[target] = sections[target], sections[index]
    _store_sections(study, sections)
    _commit(session, study, "builder.section.move", actor, section=key, offset=offset)


# -- the order of items ----------------------------------------------------------------------


def ordered_items(study: Study) -> list[Item]:
    """The study's items in the order the builder shows and keeps them: items without
    a section first, then each section's items in the order of the sections; within
    each, by position; retired items last."""
    rank = {section["key"]: index for index, section in enumerate(_sections(study))}

    def place(item: Item) -> tuple[bool, int, int]:
        section = item.spec.get("section")
        return (
            item.retired_at is not None,
            -1 if section is None else rank.get(section, len(rank)),
            item.position,
        )

    return sorted(study.items, key=place)


def _renumber(study: Study, order: list[Item] | None = None) -> None:
    """Number the items' positions 0, 1, … in ``order`` (the builder's order by default)."""
    for position, item in enumerate(order if order is not None else ordered_items(study)):
        item.position = position


# -- items --------------------------------------------------------------------------------------


def find_item(study: Study, key: str) -> Item:
    """The study's item ``key``; raise :class:`NotFound` otherwise."""
    for item in study.items:
        if item.key == key:
            return item
    raise NotFound(f"the study has no item {key!r}")


def _new_item(definition: ItemDefinition, position: int, note: str = "loaded") -> Item:
    """An item row, at version 1, for ``definition``."""
    spec = item_to_json(definition)
    return Item(
        key=definition.key,
        kind=definition.kind,
        position=position,
        version=1,
        spec=spec,
        versions=[ItemVersion(version=1, spec=spec, note=note)],
    )


def add_item(
    session: Session, study: Study, definition: ItemDefinition, *, actor: User | None = None
) -> Item:
    """Add an item at the end of its section.

    An empty key (of the item or of a scenario or option) is made from its text.
    Raises :class:`InvalidValues` keyed by the item's fields (see the module's
    docstring) and :class:`Conflict` after round 1.
    """
    _refuse_unless_draft(session, study)
    taken = {item.key for item in study.items}
    checked = check_item(study, with_keys(definition, taken), taken)
    item = _new_item(checked, len(study.items), note="built")
    study.items.append(item)
    _renumber(study)
    _commit(session, study, "builder.item.add", actor, item=checked.key, kind=checked.kind)
    return item


def spec_fingerprint(spec: Mapping[str, object]) -> str:
    """A short digest of an item's stored form: what an item's builder page was drawn
    from, to tell at saving whether the item was saved by someone else since."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class SavedMeanwhile(Conflict):
    """The item was saved by someone else after the page that saves it now was drawn
    (its :func:`spec_fingerprint` moved): saving would replace their fields unseen."""

    def __init__(self, key: str) -> None:
        super().__init__(f"item {key!r} was saved by someone else meanwhile; nothing was saved")
        self.key = key


def update_item(
    session: Session,
    study: Study,
    key: str,
    definition: ItemDefinition,
    *,
    actor: User | None = None,
    based_on: str | None = None,
) -> Item:
    """Replace item ``key`` with ``definition`` (its key may change, not its kind);
    ``based_on``, the :func:`spec_fingerprint` of the item as the writer was shown it
    (:class:`SavedMeanwhile` when it has been saved since).

    Before round 1 nobody has answered, so the item stays at version 1 and its first
    version is rewritten with it.  Raises :class:`InvalidValues`, :class:`Conflict`
    (after round 1, or for another kind) and :class:`NotFound`.
    """
    _refuse_unless_draft(session, study)
    item = find_item(study, key)
    if based_on is not None and based_on != spec_fingerprint(item.spec):
        raise SavedMeanwhile(key)
    if definition.kind != item.kind:
        raise Conflict(f"the item is a {item.kind} item; add a new item to use another kind")
    taken = {other.key for other in study.items if other is not item}
    checked = check_item(study, with_keys(definition, taken), taken)
    if checked == item_from_json(item.key, item.kind, item.spec):
        return item
    section_changed = checked.section != item.spec.get("section")
    spec = item_to_json(checked)
    item.key = checked.key
    item.spec = spec
    for version in item.versions:
        version.spec = spec
    if checked.kind == "scenario_set":
        _follow_scenario_set(study, key, checked)
    if section_changed:
        # The item goes to the end of its new section.
        item.position = len(study.items)
        _renumber(study)
    _relink_cross_impact(study, key, checked.key)
    _commit(session, study, "builder.item.update", actor, item=checked.key, was=key)
    return item


def _signposts_naming(study: Study, key: str) -> list[Item]:
    """The study's signpost items whose ``scenario_item`` is ``key``."""
    return [
        item
        for item in study.items
        if item.kind == "signpost" and item.spec.get("scenario_item") == key
    ]


def _follow_scenario_set(study: Study, key: str, scenario_set: ItemDefinition) -> None:
    """Give every signpost naming the scenario set ``key`` its new key and scenarios:
    a signpost is asked per scenario of its set, as the set stands."""
    for signpost in _signposts_naming(study, key):
        definition = item_from_json(signpost.key, signpost.kind, signpost.spec)
        spec = item_to_json(
            dataclasses.replace(
                definition, scenario_item=scenario_set.key, scenarios=scenario_set.scenarios
            )
        )
        signpost.spec = spec
        for version in signpost.versions:
            version.spec = spec


def _relink_cross_impact(study: Study, old_key: str, new_key: str) -> None:
    """Refresh the copies every cross-impact item keeps of its scenario set and of its
    triggers' texts after item ``old_key`` changed (and its key became ``new_key``)."""
    current = {item.key: item_from_json(item.key, item.kind, item.spec) for item in study.items}
    for item in study.items:
        if item.kind != "cross_impact":
            continue
        definition = current[item.key]
        renamed = dataclasses.replace(
            definition,
            scenario_item=new_key
            if definition.scenario_item == old_key
            else definition.scenario_item,
            triggers=tuple(
                Choice(new_key if trigger.key == old_key else trigger.key, trigger.text)
                for trigger in definition.triggers
            ),
        )
        scenario_set = current.get(renamed.scenario_item or "")
        linked = dataclasses.replace(
            renamed,
            scenarios=scenario_set.scenarios if scenario_set else renamed.scenarios,
            triggers=tuple(
                Choice(trigger.key, current[trigger.key].text)
                if trigger.key in current
                else trigger
                for trigger in renamed.triggers
            ),
        )
        if linked != definition:
            spec = item_to_json(linked)
            item.spec = spec
            for version in item.versions:
                version.spec = spec


def duplicate_item(session: Session, study: Study, key: str, *, actor: User | None = None) -> Item:
    """Copy item ``key`` (with a new key) right after it."""
    _refuse_unless_draft(session, study)
    original = find_item(study, key)
    taken = {item.key for item in study.items}
    if len(taken) >= ITEM_LIMIT:
        raise Conflict(f"a study holds at most {ITEM_LIMIT} items")
    copy_key = suggest_key(f"{key}_copy", taken, fallback="item")
    definition = dataclasses.replace(
        item_from_json(original.key, original.kind, original.spec), key=copy_key
    )
    copy = _new_item(definition, original.position, note="built")
    order = ordered_items(study)
    study.items.append(copy)
    order.insert(order.index(original) + 1, copy)
    _renumber(study, order)
    _commit(session, study, "builder.item.duplicate", actor, item=copy_key, original=key)
    return copy


def move_item(
    session: Session, study: Study, key: str, offset: int, *, actor: User | None = None
) -> None:
    """Move item ``key`` one place up (-1) or down (+1) within its section."""
    _refuse_unless_draft(session, study)
    item = find_item(study, key)
    order = ordered_items(study)
    index = order.index(item)
    target = index + offset
    same_group = (
        offset in (-1, 1)
        and 0 <= target < len(order)
        and order[target].spec.get("section") == item.spec.get("section")
        and order[target].retired_at is None
    )
    if not same_group:
        raise Conflict("the item cannot move further that way within its section")
    order[index], order[target] = order[target], order[index]
    _renumber(study, order)
    _commit(session, study, "builder.item.move", actor, item=key, offset=offset)


def delete_item(session: Session, study: Study, key: str, *, actor: User | None = None) -> None:
    """Delete item ``key`` for good: before round 1 nobody has answered it."""
    _refuse_unless_draft(session, study)
    item = find_item(study, key)
    if naming := _signposts_naming(study, key):
        raise Conflict(
            f"the signposts {', '.join(other.key for other in naming)} are rated against "
            "this scenario set; delete them first"
        )
    for other in study.items:
        spec = other.spec if other.kind == "cross_impact" else {}
        if key == spec.get("scenario_item") or key in (t["key"] for t in spec.get("triggers", [])):
            raise Conflict(
                f"the cross-impact item {other.key} refers to {key}; change or delete it first"
            )
    study.items.remove(item)
    session.flush()
    _renumber(study)
    _commit(session, study, "builder.item.delete", actor, item=key)


# -- checking an item by the loader's rules ---------------------------------------------------


def suggest_key(text: str, taken: Iterable[str], *, fallback: str) -> str:
    """A key made of ``text``'s first words (lower-case ASCII letters, digits and ``_``),
    starting with a letter, not reserved and not in ``taken`` (``_2``, ``_3``… added)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", ascii_text)
    key = ""
    for word in words:
        if len(key) + len(word) + 1 > KEY_LENGTH and key:
            break
        key = f"{key}_{word}" if key else word
    key = key[:KEY_LENGTH]
    if not key or not key[0].isalpha():
        key = f"{fallback}_{key}" if key else fallback
    taken = set(taken) | RESERVED_KEYS
    candidate, number = key, 1
    while candidate in taken or not KEY_PATTERN.match(candidate):
        number += 1
        candidate = f"{key}_{number}"
    return candidate


def _key_problem(key: str, taken: set[str], what: str) -> str | None:
    """What is wrong with a section's key (an item's is checked by the loader)."""
    if not KEY_PATTERN.match(key):
        return "use lower-case letters, digits and _, starting with a letter"
    if key in taken:
        return f"another {what} has this key"
    return None


def with_keys(definition: ItemDefinition, taken: set[str]) -> ItemDefinition:
    """``definition`` with a key made for the item and each choice that has none
    (also for the items :mod:`surveys.curation` adds between rounds)."""

    def first_text(text: LocalizedText | None) -> str:
        return next((value for _, value in (text.values if text else ()) if value.strip()), "")

    def choices(values: tuple[Choice, ...], fallback: str) -> tuple[Choice, ...]:
        seen = {choice.key for choice in values if choice.key}
        result = []
        for choice in values:
            key = choice.key.strip()
            if not key:
                key = suggest_key(first_text(choice.text), seen, fallback=fallback)
                seen.add(key)
            result.append(Choice(key, choice.text))
        return tuple(result)

    key = definition.key.strip() or suggest_key(first_text(definition.text), taken, fallback="item")
    return dataclasses.replace(
        definition,
        key=key,
        scenarios=choices(definition.scenarios, "scenario"),
        options=choices(definition.options, "option"),
    )


def _trimmed(text: LocalizedText | None, languages: tuple[str, ...]) -> LocalizedText | None:
    """``text`` stripped, in the study's languages, without empty translations."""
    if text is None:
        return None
    given = text.as_dict()
    kept = tuple(
        (code, given[code].strip()) for code in languages if (given.get(code) or "").strip()
    )
    return LocalizedText(kept) if kept else None


def _filled(text: LocalizedText | None, languages: tuple[str, ...]) -> LocalizedText | None:
    """``text`` with each missing translation filled from the first language it has."""
    if text is None:
        return None
    given = text.as_dict()
    first = text.values[0][1]
    return LocalizedText(tuple((code, given.get(code, first)) for code in languages))


def scenario_sets(study: Study) -> dict[str, tuple[Choice, ...]]:
    """The study's scenario sets with their scenarios, by item key: what a signpost's
    ``scenario_item`` may name."""
    return {
        item.key: item_from_json(item.key, item.kind, item.spec).scenarios
        for item in study.items
        if item.kind == "scenario_set"
    }


def check_item(study: Study, definition: ItemDefinition, taken: set[str]) -> ItemDefinition:
    """``definition`` checked by the loader, as stored in the draft (texts stripped,
    missing translations left out); raise :class:`InvalidValues` otherwise.  Public:
    :mod:`surveys.curation` checks the items it adds and rewords between rounds by it."""
    languages = tuple(study.languages["codes"])
    errors: dict[str, list[str]] = {}
    draft = _draft_shape(definition, languages, errors)
    if errors:
        raise InvalidValues(errors)
    complete = _complete(draft, languages)
    try:
        parsed = parse_item(
            item_to_toml(complete),
            languages=languages,
            section_keys={section.key for section in sections_from_json(study.sections)},
            taken_keys=taken,
            scenario_sets=scenario_sets(study),
            study_items=[stored.definition for stored in all_items(study)],
            name="item",
        )
    except InvalidDefinition as invalid:
        found = item_field_errors(invalid.errors, complete)
        # A translation filled in for the check repeats its source's problem: only the
        # text as written is named.
        for field, codes in item_missing(draft, languages).items():
            for code in codes:
                label = re.match(r"^labels\[(\d+)\]$", field)
                found.pop(f"labels.{code}[{label.group(1)}]" if label else f"{field}.{code}", None)
        if any(field.startswith("scale") for field in found):
            # Labels cannot be read against a scale that is wrong itself.
            found = {field: m for field, m in found.items() if not field.startswith("labels")}
        raise InvalidValues(found) from None
    return dataclasses.replace(
        parsed,
        text=draft.text,
        help=draft.help,
        unit=draft.unit,
        scale=draft.scale,
        # A signpost's or a cross-impact item's scenarios are its scenario set's, as
        # the loader copied them.
        scenarios=parsed.scenarios
        if parsed.kind in ("signpost", "cross_impact")
        else draft.scenarios,
        options=draft.options,
    )


def _draft_shape(
    definition: ItemDefinition, languages: tuple[str, ...], errors: dict[str, list[str]]
) -> ItemDefinition:
    """``definition`` trimmed to what a draft stores; a text that no language has is
    recorded in ``errors`` (a missing translation is not a problem, a missing text is)."""

    def required(text: LocalizedText | None, field: str) -> LocalizedText:
        kept = _trimmed(text, languages)
        if kept is None:
            errors[field] = ["write it in at least one language"]
            return LocalizedText(())
        return kept

    scale = definition.scale
    if scale is not None and 2 <= scale.maximum - scale.minimum + 1 <= LIKERT_OPTION_LIMIT:
        given = dict(scale.labels)
        points = scale.maximum - scale.minimum + 1
        columns = [
            [
                (given.get(code) or ())[index].strip() if index < len(given.get(code) or ()) else ""
                for code in languages
            ]
            for index in range(max(points, 0))
        ]
        for index, column in enumerate(columns):
            if not any(column):
                errors[f"labels[{index + 1}]"] = [
                    "write this point's label in at least one language"
                ]
        scale = LikertScale(
            scale.minimum,
            scale.maximum,
            tuple(
                (code, tuple(column[position] for column in columns))
                for position, code in enumerate(languages)
                if any(column[position] for column in columns)
            ),
        )
    return dataclasses.replace(
        definition,
        text=required(definition.text, "text"),
        help=_trimmed(definition.help, languages),
        unit=_trimmed(definition.unit, languages),
        scale=scale,
        scenarios=tuple(
            Choice(c.key, required(c.text, f"scenarios[{n}].text"))
            for n, c in enumerate(definition.scenarios, start=1)
        ),
        options=tuple(
            Choice(c.key, required(c.text, f"options[{n}].text"))
            for n, c in enumerate(definition.options, start=1)
        ),
    )


def _complete(definition: ItemDefinition, languages: tuple[str, ...]) -> ItemDefinition:
    """``definition`` with every missing translation filled from another language, as
    the loader wants it (see the module's docstring)."""
    scale = definition.scale
    if scale is not None and scale.labels:
        given = dict(scale.labels)
        points = len(scale.labels[0][1])
        filled = []
        for code in languages:
            own = given.get(code, ("",) * points)
            filled.append(
                (
                    code,
                    tuple(
                        own[index]
                        or next(labels[index] for labels in given.values() if labels[index])
                        for index in range(points)
                    ),
                )
            )
        scale = LikertScale(scale.minimum, scale.maximum, tuple(filled))
    return dataclasses.replace(
        definition,
        text=_filled(definition.text, languages) or definition.text,
        help=_filled(definition.help, languages),
        unit=_filled(definition.unit, languages),
        scale=scale,
        scenarios=tuple(
            Choice(c.key, _filled(c.text, languages) or c.text) for c in definition.scenarios
        ),
        options=tuple(
            Choice(c.key, _filled(c.text, languages) or c.text) for c in definition.options
        ),
    )


def item_field_errors(
    errors: list[DefinitionError], definition: ItemDefinition
) -> dict[str, list[str]]:
    """The loader's problems with one item (from :func:`surveys.definition.parse_item`)
    keyed by the field relative to the item, scenarios and options by their number
    (``scenarios[2].text.en``) whatever their key: the names the item forms of the
    console place problems by, whichever use case read the item."""
    numbers = {
        f"{field}.{choice.key}": f"{field}[{number}]"
        for field, choices in (("scenarios", definition.scenarios), ("options", definition.options))
        for number, choice in enumerate(choices, start=1)
    }
    result: dict[str, list[str]] = {}
    for error in errors:
        field = re.sub(r"^items(\.[a-z][a-z0-9_]*|\[\d+\])?\.?", "", error.field) or "item"
        for named, numbered in numbers.items():
            if field == named or field.startswith(named + "."):
                field = numbered + field[len(named) :]
                break
        result.setdefault(field, []).append(error.message)
    return result


# -- missing translations -------------------------------------------------------------------


@dataclass(frozen=True)
class MissingText:
    """A text of the draft not yet written in some of the study's languages."""

    #: Where it is: ``title``, ``introduction``, ``section:<key>``, ``item:<key>``.
    place: str
    #: The field, as the loader names it (``text``, ``labels[2]``, ``scenarios[1].text``).
    field: str
    languages: tuple[str, ...]


def _missing_in(
    text: dict[str, str] | None, languages: tuple[str, ...], *, optional: bool
) -> tuple[str, ...]:
    """The languages ``text`` lacks (none for an optional text not written at all)."""
    given = {code for code, value in (text or {}).items() if value}
    if optional and not given:
        return ()
    return tuple(code for code in languages if code not in given)


def item_missing(
    definition: ItemDefinition, languages: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """Field of the item → the languages its text lacks (only fields that lack some)."""
    found: dict[str, tuple[str, ...]] = {
        "text": _missing_in(definition.text.as_dict(), languages, optional=False),
        "help": _missing_in(text_to_json(definition.help), languages, optional=True),
        "unit": _missing_in(text_to_json(definition.unit), languages, optional=True),
    }
    if definition.scale is not None:
        labels = dict(definition.scale.labels)
        for index in range(definition.scale.options):
            found[f"labels[{index + 1}]"] = tuple(
                code
                for code in languages
                if not (index < len(labels.get(code, ())) and labels[code][index])
            )
    for field, choices in (("scenarios", definition.scenarios), ("options", definition.options)):
        for number, choice in enumerate(choices, start=1):
            found[f"{field}[{number}].text"] = _missing_in(
                choice.text.as_dict(), languages, optional=False
            )
    return {field: codes for field, codes in found.items() if codes}


def missing_translations(study: Study) -> list[MissingText]:
    """Every text of the draft not yet written in all of the study's languages."""
    languages = tuple(study.languages["codes"])
    found = [
        MissingText("title", "title", _missing_in(study.title, languages, optional=False)),
        MissingText(
            "introduction",
            "introduction",
            _missing_in(study.introduction, languages, optional=True),
        ),
    ]
    for section in _sections(study):
        found.append(
            MissingText(
                f"section:{section['key']}",
                "title",
                _missing_in(section["title"], languages, optional=False),
            )
        )
    for item in ordered_items(study):
        if item.retired_at is None:
            definition = item_from_json(item.key, item.kind, item.spec)
            for field, codes in item_missing(definition, languages).items():
                found.append(MissingText(f"item:{item.key}", field, codes))
    return [missing for missing in found if missing.languages]


#: How many missing texts a refusal to open names before it says how many more there are.
NAMED_MISSING_LIMIT = 10


def _missing_place(missing: MissingText) -> str:
    """Where a missing text is, in the words of the loader's fields."""
    kind, _, key = missing.place.partition(":")
    if kind == "item":
        return f"item {key} ({missing.field})"
    if kind == "section":
        return f"section {key} ({missing.field})"
    return kind


def opening_problems(study: Study) -> list[str]:
    """Why the study's next round cannot open with the items and texts it has: no item
    left to ask, or texts not written in every one of the study's languages (a draft
    may lack them, but an expert must read every text in their own language).  Empty
    when nothing stands in the way.  :func:`surveys.rounds.open_round` refuses with
    these; the console's confirmation shows them before anyone tries."""
    problems: list[str] = []
    if not study.items:
        problems.append("the study has no item: add one before opening a round")
    elif all(item.retired_at is not None for item in study.items):
        problems.append("every item is retired: no item is left to ask")
    missing = missing_translations(study)
    if missing:
        named = [
            f"{_missing_place(entry)} in {', '.join(entry.languages)}"
            for entry in missing[:NAMED_MISSING_LIMIT]
        ]
        if len(missing) > NAMED_MISSING_LIMIT:
            named.append(f"and {len(missing) - NAMED_MISSING_LIMIT} more")
        problems.append("texts not translated yet: " + "; ".join(named))
    return problems


__all__ = [
    "BLANK_CONSENSUS",
    "ROUND_ONE_OPENED",
    "MissingText",
    "add_item",
    "add_section",
    "blank_definition",
    "check_languages",
    "check_slug",
    "create_study",
    "delete_item",
    "delete_section",
    "duplicate_item",
    "find_item",
    "in_languages",
    "is_draft",
    "item_field_errors",
    "item_missing",
    "missing_translations",
    "move_item",
    "move_section",
    "opening_problems",
    "ordered_items",
    "rename_section",
    "replace_study",
    "suggest_key",
    "update_item",
    "update_texts",
]
