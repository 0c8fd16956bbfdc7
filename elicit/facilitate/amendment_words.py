"""The protocol's amendments in a facilitator's words.

An amendment stores what changed as a stable path of the definition file
(``items.fully_remote.consensus``, ``consensus.by_kind.probability``,
``settings.feedback_min_n``, ``items.trust_now``) and the old and new values as the
file writes them (a rule as an inline TOML table).  The study page shows each one as a
reader would say it: "Consensus rule of “Fully remote by 2030?” (fully_remote)", and a
rule before and after in words with the item's own numbers ("IQR ≤ 25 points"); the
stored text stays one click away for whoever wants to diff it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext, lazy_gettext
from sqlalchemy.orm import Session

from analysis import ConsensusRule
from elicit.facilitate.item_forms import KIND_NAMES
from elicit.facilitate.rule_words import part_name, rule_words, scale_of
from surveys.definition import ItemDefinition
from surveys.errors import InvalidValues
from surveys.models import Study
from surveys.protocol import amendments
from surveys.rule_editing import NO_RULE, build_rule
from surveys.serialization import item_from_json

SETTING_NAMES = {
    "quantile_method": lazy_gettext("Quantile method"),
    "feedback_min_n": lazy_gettext("Minimum number of answers for feedback"),
    "rationale_outside_iqr": lazy_gettext(
        "Rationale for answers outside the panel's interquartile range"
    ),
    "max_rounds": lazy_gettext("Maximum number of rounds"),
    "cannot_judge": lazy_gettext("Likert items offer “I can't judge this”"),
    "anonymity": lazy_gettext("Anonymity"),
    "consensus_items": lazy_gettext("Items that reached consensus"),
    "carry_over": lazy_gettext("Later rounds start from"),
}
"""Each setting an amendment can change, named as the settings page names it."""


@dataclass(frozen=True)
class AmendmentWords:
    """One amendment as the study page and the report show it."""

    #: What changed, in words.
    what: str
    #: The value before and after in words; ``None`` where the stored text is shown as
    #: it is (an item's definition, a setting's value).
    old: str | None
    new: str | None


def amendments_in_words(
    study: Study, changes: Iterable[tuple[str, str, str]], language: str
) -> list[AmendmentWords]:
    """Each amendment of ``study``, given as ``(what, old, new)`` as stored, in words,
    in the reader's ``language`` (texts missing in it come in the study's first
    language)."""
    items = {item.key: item_from_json(item.key, item.kind, item.spec) for item in study.items}
    codes = study.languages.get("codes") or [language]
    default = codes[0]
    return [_words(what, old, new, items, language, default) for what, old, new in changes]


def amendments_context(session: Session, study: Study, language: str) -> dict[str, Any]:
    """The study page's amendments, oldest first, and each one in words, in step."""
    stored = amendments(session, study)
    return {
        "amendments": stored,
        "amendment_words": amendments_in_words(
            study, [(a.what, a.old_value, a.new_value) for a in stored], language
        ),
    }


def _words(
    path: str,
    old: str,
    new: str,
    items: Mapping[str, ItemDefinition],
    language: str,
    default: str,
) -> AmendmentWords:
    parts = path.split(".")
    if parts[0] == "settings" and len(parts) == 2:
        name = SETTING_NAMES.get(parts[1])
        what = gettext("Setting: %(name)s", name=name) if name else path
        return AmendmentWords(what, None, None)
    if parts[:2] == ["consensus", "default"]:
        return _rule(gettext("The study's default consensus rule"), old, new, None)
    if parts[:2] == ["consensus", "by_kind"] and len(parts) == 3:
        kind = parts[2]
        what = gettext("Consensus rule for %(kind)s items", kind=KIND_NAMES.get(kind, kind))
        return _rule(what, old, new, scale_of(None, kind=kind))
    if parts[0] == "items" and len(parts) >= 2:
        key = parts[1]
        item = items.get(key)
        named = _item_name(item, key, language, default)
        if len(parts) == 2:
            if not old:
                what = gettext("Item %(item)s added", item=named)
            elif not new:
                what = gettext("Item %(item)s retired", item=named)
            else:
                what = gettext("Item %(item)s changed", item=named)
            return AmendmentWords(what, None, None)
        if parts[2:3] == ["consensus"] and len(parts) == 3:
            scale = scale_of(item, language=language, fallback=default) if item else None
            what = gettext("Consensus rule of item %(item)s", item=named)
            return _rule(what, old, new, scale)
        if parts[2:4] == ["consensus", "parts"] and len(parts) == 5:
            part = parts[4]
            part_text = part_name(item, part, language, default) if item else part
            scale = scale_of(item, part=part, language=language, fallback=default) if item else None
            what = gettext(
                "Consensus rule of “%(part)s” in item %(item)s", part=part_text, item=named
            )
            return _rule(what, old, new, scale)
    return AmendmentWords(path, None, None)


def _item_name(item: ItemDefinition | None, key: str, language: str, default: str) -> str:
    """“Its question” (key), or the key alone for an item no longer in the study."""
    if item is None:
        return key
    text = item.text.get(language) or item.text.get(default) or ""
    return f"“{_shortened(text)}” ({key})" if text else key


def _shortened(text: str, limit: int = 80) -> str:
    """A question short enough for a table cell, cut at a word."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def _rule(what: str, old: str, new: str, scale: Any) -> AmendmentWords:
    """An amendment of a rule: the rule before and after, in words."""
    return AmendmentWords(what, _rule_text(old, scale), _rule_text(new, scale))


def _rule_text(stored: str, scale: Any) -> str:
    """A stored rule in words: an inline table as :func:`rule_to_toml` writes it,
    ``"none"`` for a part given no rule, empty for "no rule of its own"."""
    if not stored.strip():
        return gettext("No rule of its own (the rule of its kind or of the study decides).")
    try:
        value = tomllib.loads(f"rule = {stored}")["rule"]
    except tomllib.TOMLDecodeError:
        return stored
    if value == NO_RULE:
        return gettext("No rule: this part never reaches consensus.")
    rule = _parsed_rule(value)
    if rule is None:
        return stored
    words = rule_words(rule, scale if scale is not None else scale_of(None))
    return words.sentence


def _parsed_rule(value: Any) -> ConsensusRule | None:
    """The rule an inline table describes, or ``None`` if it is not one."""
    if not isinstance(value, dict) or not isinstance(value.get("criteria"), list):
        return None
    criteria = []
    for criterion in value["criteria"]:
        if not isinstance(criterion, dict):
            return None
        params = {name: number for name, number in criterion.items() if name != "kind"}
        criteria.append((str(criterion.get("kind")), params))
    try:
        return build_rule(str(value.get("combine", "all")), criteria)
    except InvalidValues:
        return None
