"""Consensus rules edited one at a time: the study's default, a kind's, an item's.

A study decides each item's consensus by the most specific rule written for it: the
item's own, else the rule for its kind, else the study's default (ranking and numeric
estimate items have no default: an IQR in rank places or in an estimate's own units
means nothing in general, see :class:`surveys.definition.ConsensusSettings`).  The
console's rule editor changes one of these rules at a time through :func:`set_rule`.

The protocol is fixed before the data (:mod:`surveys.protocol`): until round 1 opens a
rule change simply saves (and is audited); once the protocol is stamped every change is
an amendment with a reason, listed in the report; while a round is open no rule changes
at all, so that no rule is chosen after seeing the round's answers.

A part of a multi-part answer (a scenario, a ranking option, a numeric estimate's best
guess or confidence) may have a rule of its own, or be given none (:data:`NO_RULE`: it
never reaches consensus, as an estimate's confidence usually should not decide it);
a part without either is decided by its item's rule.

A rule is checked by :class:`analysis.Criterion` and :class:`analysis.ConsensusRule`,
the same checks a definition file passes; a rule that is valid but cannot be right for
its item's scale (an IQR of 1 on a 0–100 scale) is a warning of
:mod:`surveys.rule_checks`, not a refusal.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from analysis import CRITERIA, ConsensusRule, Criterion
from surveys import audit
from surveys.curation import find_item
from surveys.definition import (
    KINDS,
    KINDS_WITHOUT_DEFAULT_RULE,
    NUMBER_LIMIT,
    ConsensusSettings,
    ItemDefinition,
)
from surveys.errors import Conflict, InvalidValues, NotFound
from surveys.models import Item, Study, User
from surveys.protocol import is_stamped, record_amendment, require_no_open_round_for_rules
from surveys.serialization import (
    consensus_from_json,
    consensus_to_json,
    item_from_json,
    rule_to_json,
    rule_to_toml,
    toml_string,
)

log = logging.getLogger(__name__)

LEVELS: tuple[str, ...] = ("part", "item", "kind", "study")
"""Where a rule can be written, most specific first."""
NO_RULE = "none"
"""What a part of an answer is given instead of a rule so that no rule decides it (as in
a definition file: ``consensus.parts.confidence = "none"``)."""
MULTI_PART_KINDS: tuple[str, ...] = ("scenario_set", "ranking", "numeric_estimate")
"""The kinds whose answers have parts that can have rules of their own."""

PartSetting = ConsensusRule | str | None
"""What a target holds: a rule; :data:`NO_RULE` (a part given no rule); ``None`` (no rule
written there: a kind or an item falls back, a part follows its item)."""
RULED_KINDS: tuple[str, ...] = tuple(kind for kind in KINDS if kind not in ("open_text", "seed"))
"""The item kinds a rule can be written for (open text has no numbers to agree on)."""
CRITERIA_LIMIT = 10
"""The most criteria one rule may combine: more than every kind once would only repeat."""


@dataclass(frozen=True)
class RuleTarget:
    """Which rule is meant: the study's default, the rule of a kind, an item's, or the
    rule of one part of an item's answer."""

    #: "study", "kind", "item" or "part".
    level: str
    #: The item kind, for ``level == "kind"``.
    kind: str | None = None
    #: The item key, for ``level == "item"`` and ``"part"``.
    item: str | None = None
    #: The part (a scenario's or an option's key, ``best``, ``confidence`` …).
    part: str | None = None

    @classmethod
    def study(cls) -> RuleTarget:
        """The study's default rule."""
        return cls("study")

    @classmethod
    def of_kind(cls, kind: str) -> RuleTarget:
        """The rule for every item of ``kind`` without a rule of its own."""
        return cls("kind", kind=kind)

    @classmethod
    def of_item(cls, key: str) -> RuleTarget:
        """Item ``key``'s own rule."""
        return cls("item", item=key)

    @classmethod
    def of_part(cls, key: str, part: str) -> RuleTarget:
        """The rule of one part of item ``key``'s answer."""
        return cls("part", item=key, part=part)

    @property
    def path(self) -> str:
        """Where the rule sits in a definition file: the amendment's stable ``what``."""
        if self.level == "part":
            return f"items.{self.item}.consensus.parts.{self.part}"
        if self.level == "kind":
            return f"consensus.by_kind.{self.kind}"
        if self.level == "item":
            return f"items.{self.item}.consensus"
        return "consensus.default"


@dataclass(frozen=True)
class EffectiveRule:
    """The rule that decides an item (or one part of it), and where it was written."""

    rule: ConsensusRule | None
    #: "part", "item", "kind" or "study"; "none" when no rule applies (a ranking or an
    #: estimate without a rule of its own or of its kind, a part given no rule, or an
    #: open question).
    level: str


def effective_rule(
    settings: ConsensusSettings, item: ItemDefinition, part: str | None = None
) -> EffectiveRule:
    """The rule deciding ``item`` (as :meth:`ConsensusSettings.rule_for` chooses it), or
    its ``part`` (:meth:`ConsensusSettings.rule_for_part`), with the level it comes from."""
    parts = dict(item.part_rules)
    if part is not None and part in parts:
        own = parts[part]
        return EffectiveRule(own, "part" if own is not None else "none")
    rule = settings.rule_for(item)
    if rule is None:
        return EffectiveRule(None, "none")
    if item.consensus is not None:
        return EffectiveRule(rule, "item")
    if item.kind in dict(settings.by_kind):
        return EffectiveRule(rule, "kind")
    return EffectiveRule(rule, "study")


def kind_has_default(kind: str) -> bool:
    """Whether items of ``kind`` fall back to the study's default rule."""
    return kind not in KINDS_WITHOUT_DEFAULT_RULE and kind in RULED_KINDS


def build_rule(combine: str, criteria: Sequence[tuple[str, Mapping[str, Any]]]) -> ConsensusRule:
    """A rule from ``combine`` ("all" or "any") and ``(kind, parameters)`` pairs, checked
    as a definition file's rule is.

    Raises :class:`InvalidValues` naming each problem's field: ``combine``,
    ``criteria`` (none, too many, or only a dissensus detector), ``criteria-N-kind``
    or ``criteria-N-<parameter>`` (N counted from 0, as the editor's inputs are named).
    """
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if combine not in ("all", "any"):
        refuse("combine", 'must be "all" or "any"')
    if not criteria:
        refuse("criteria", "add at least one criterion")
    if len(criteria) > CRITERIA_LIMIT:
        refuse("criteria", f"a rule combines at most {CRITERIA_LIMIT} criteria")
    built: list[Criterion] = []
    for index, (kind, params) in enumerate(criteria):
        prefix = f"criteria-{index}"
        if kind not in CRITERIA:
            refuse(f"{prefix}-kind", "choose one of " + ", ".join(CRITERIA))
            continue
        values: dict[str, float] = {}
        for name in CRITERIA[kind]:
            value = params.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                refuse(f"{prefix}-{name}", "must be a number")
            elif not math.isfinite(value) or abs(value) > NUMBER_LIMIT:
                refuse(f"{prefix}-{name}", "must be between -10^15 and 10^15")
            else:
                values[name] = float(value)
        if len(values) != len(CRITERIA[kind]):
            continue
        try:
            built.append(Criterion(kind, values))
        except ValueError as error:
            refuse(_field_of(prefix, kind, str(error)), str(error))
    if errors:
        raise InvalidValues(errors)
    try:
        return ConsensusRule(tuple(built), combine)
    except ValueError as error:  # only a dissensus detector: nothing to agree on
        raise InvalidValues({"criteria": [str(error)]}) from None


def _field_of(prefix: str, kind: str, message: str) -> str:
    """The input a :class:`Criterion` refusal concerns: the parameter its message names
    first (``"criterion 'share': low must not exceed high"`` → ``low``)."""
    named = _NAMED_PARAMETER.search(message)
    if named and named.group(1) in CRITERIA[kind]:
        return f"{prefix}-{named.group(1)}"
    return f"{prefix}-kind"


_NAMED_PARAMETER = re.compile(r"': (\w+)")


def current_rule(study: Study, target: RuleTarget) -> PartSetting:
    """What is written at ``target``: a rule, :data:`NO_RULE` (a part given none), or
    ``None`` where nothing is written."""
    settings = consensus_from_json(study.consensus)
    if target.level == "study":
        return settings.default
    if target.level == "kind":
        return dict(settings.by_kind).get(target.kind or "")
    item = find_item(study, target.item or "")
    definition = item_from_json(item.key, item.kind, item.spec)
    if target.level == "part":
        parts = dict(definition.part_rules)
        if target.part not in parts:
            return None
        return parts[target.part] or NO_RULE
    return definition.consensus


def set_rule(
    session: Session,
    study: Study,
    target: RuleTarget,
    rule: PartSetting,
    *,
    reason: str | None = None,
    actor: User | None = None,
) -> bool:
    """Write ``rule`` at ``target`` (``None`` removes a kind's, an item's or a part's
    rule, which then falls back to the next level; :data:`NO_RULE` gives a part no
    rule at all), audited, and commit.

    Returns whether anything changed.  Raises :class:`Conflict` while a round is open
    (no rule changes then), for the study's default set to ``None``, a kind without
    numbers, or an open-text item; :class:`NotFound` for an unknown item;
    :class:`InvalidValues` naming ``reason`` when the protocol is stamped and no
    reason is given.  After the stamp the change is recorded as an amendment
    (:func:`surveys.protocol.record_amendment`) that applies from the next round.
    """
    require_no_open_round_for_rules(session, study)
    _check_target(study, target, rule)
    old = current_rule(study, target)
    if old == rule:
        return False
    stamped = is_stamped(session, study)
    old_text, new_text = _as_text(old), _as_text(rule)
    if stamped:
        record_amendment(
            session,
            study,
            what=target.path,
            old=old_text,
            new=new_text,
            reason=reason or "",
            actor=actor,
        )
    else:
        audit.record(
            session,
            "consensus.rule",
            study=study,
            user=actor,
            what=target.path,
            old=old_text,
            new=new_text,
        )
    _write(study, target, rule)
    session.commit()
    log.info(
        "%s the consensus rule %s of %s", "amended" if stamped else "set", target.path, study.slug
    )
    return True


def _as_text(rule: PartSetting) -> str:
    """What is written at a target, as a definition file writes it ("" for nothing)."""
    if rule is None:
        return ""
    if isinstance(rule, str):
        return toml_string(rule)
    return rule_to_toml(rule)


def _check_target(study: Study, target: RuleTarget, rule: PartSetting) -> None:
    """Refuse a target that cannot hold ``rule``."""
    if isinstance(rule, str) and (rule != NO_RULE or target.level != "part"):
        raise Conflict("only a part of an answer can be given no rule")
    if target.level == "part":
        item = find_item(study, target.item or "")
        if item.kind not in MULTI_PART_KINDS:
            raise Conflict("only the parts of a scenario set, a ranking or an estimate have rules")
        definition = item_from_json(item.key, item.kind, item.spec)
        if target.part not in definition.components:
            raise NotFound(f"item {item.key!r} has no part {target.part!r}")
    elif target.level == "study":
        if rule is None:
            raise Conflict("the study's default rule can be changed but not removed")
    elif target.level == "kind":
        if target.kind not in RULED_KINDS:
            raise Conflict(f"{target.kind!r} is not a kind of item with numbers to agree on")
    elif target.level == "item":
        item = find_item(study, target.item or "")
        if item.kind not in RULED_KINDS:
            raise Conflict("open questions have no consensus rule")
    else:
        raise Conflict(f"unknown rule level {target.level!r}")


def _write(study: Study, target: RuleTarget, rule: PartSetting) -> None:
    """Store ``rule`` at ``target``.  JSON columns are replaced, never changed in place,
    so that SQLAlchemy sees the change."""
    if target.level in ("study", "kind"):
        assert not isinstance(rule, str)
        settings = consensus_from_json(study.consensus)
        if target.level == "study":
            assert rule is not None
            settings = ConsensusSettings(rule, settings.by_kind)
        else:
            by_kind = [(kind, r) for kind, r in settings.by_kind if kind != target.kind]
            if rule is not None:
                by_kind.append((target.kind or "", rule))
                by_kind.sort(key=lambda pair: RULED_KINDS.index(pair[0]))
            settings = ConsensusSettings(settings.default, tuple(by_kind))
        study.consensus = consensus_to_json(settings)
        return
    item = find_item(study, target.item or "")
    if target.level == "part":
        changes = {"parts": _parts_written(item, target.part or "", rule)}
    else:
        assert not isinstance(rule, str)
        changes = {"consensus": rule_to_json(rule) if rule is not None else None}
    item.spec = _with(item.spec, changes)
    # The current version's record follows: a rule is the protocol, not the wording the
    # panel answered, so it does not make a new version (the amendment keeps the old
    # rule, and each round summary the rules it was computed with).
    for version in item.versions:
        if version.version == item.version:
            version.spec = _with(version.spec, changes)


def _parts_written(item: Item, part: str, rule: PartSetting) -> dict[str, Any] | None:
    """The item's ``"parts"`` (as stored) with ``part`` set to ``rule``, in the order of
    the item's parts; ``None`` when no part keeps a rule."""
    definition = item_from_json(item.key, item.kind, item.spec)
    parts: dict[str, Any] = {
        key: rule_to_json(value) if value is not None else None
        for key, value in definition.part_rules
    }
    parts.pop(part, None)
    if rule is not None:
        parts[part] = rule_to_json(rule) if not isinstance(rule, str) else None
    ordered = {key: parts[key] for key in definition.components if key in parts}
    return ordered or None


def _with(spec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with ``changes``; a ``"parts"`` of ``None`` is left out, as the loader
    stores an item without part rules."""
    updated = {**spec, **changes}
    if "parts" in changes and changes["parts"] is None:
        del updated["parts"]
    return updated


__all__ = [
    "CRITERIA_LIMIT",
    "LEVELS",
    "MULTI_PART_KINDS",
    "NO_RULE",
    "RULED_KINDS",
    "EffectiveRule",
    "PartSetting",
    "RuleTarget",
    "build_rule",
    "current_rule",
    "effective_rule",
    "kind_has_default",
    "set_rule",
]
