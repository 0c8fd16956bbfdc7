"""Change a study's settings after it was loaded, audited; amendments after the stamp.

Which settings may change while a round is open: the anonymity level, which can
always be raised (it only hides more from the console), and ``show_outcome`` (whether
the panel sees the results once the study ends), which is outside the protocol: it
changes without a reason and is no amendment (:data:`OUTSIDE_PROTOCOL`).

- The protocol's rules (:data:`RULES`): the consensus rule and the quantile method
  decide the round's summary when it closes, the maximum number of rounds is the
  stopping rule, the feedback minimum decides which feedback and quartiles the open
  round shows, and ``consensus_items`` decides which items leave at the close.  A rule
  changed after seeing the close's preview would be chosen for the answers it decides:
  rules cannot change while a round is open (see :mod:`surveys.protocol`).
- ``cannot_judge`` (an extra likert option), ``rationale_outside_iqr`` (whether a
  "why?" is asked or demanded) and ``carry_over`` (whether a later round starts from
  each expert's previous answers or blank) change the open round's pages and answers:
  they wait for it to close.  The round records the ``carry_over`` it opened with
  (``Round.started_from``), so its stability says what its answers started from.

Once round 1 has opened the protocol is stamped, and every change needs a reason: each
changed setting (each changed consensus table) is recorded as an amendment with its old
and new values, which the report lists.  The audit log holds the old and new values of
every change, stamped or not.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis import QUANTILE_METHODS
from surveys import audit
from surveys.definition import (
    CARRY_OVER,
    CONSENSUS_ITEMS,
    RATIONALE_POLICIES,
    ConsensusSettings,
    InvalidDefinition,
    parse_consensus,
)
from surveys.errors import InvalidValues
from surveys.models import Round, Study, User
from surveys.protocol import (
    RULES_LOCKED,
    check_reason,
    is_stamped,
    record_amendment,
)
from surveys.rounds import open_round_of
from surveys.serialization import (
    consensus_from_json,
    consensus_to_json,
    consensus_to_toml,
    rule_to_toml,
)
from surveys.studies import ANONYMITY_LEVELS

log = logging.getLogger(__name__)

SETTINGS: tuple[str, ...] = (
    "quantile_method",
    "feedback_min_n",
    "rationale_outside_iqr",
    "max_rounds",
    "cannot_judge",
    "anonymity",
    "consensus",
    "consensus_items",
    "show_outcome",
    "carry_over",
    "show_own_score",
)
"""The settings :func:`update_settings` changes."""
OUTSIDE_PROTOCOL: tuple[str, ...] = ("show_outcome", "show_own_score")
"""Settings that decide nothing about answers or results, only what the panel sees once
the study is over or an item has resolved (``show_own_score``: each expert's page shows
their own score, :mod:`surveys.scores`): they change at any time, without a reason, and
are no amendment."""
RULES: tuple[str, ...] = (
    "quantile_method",
    "feedback_min_n",
    "max_rounds",
    "consensus",
    "consensus_items",
)
"""The protocol's rules among the settings: they cannot change while a round is open."""
FIXED_WHILE_OPEN: tuple[str, ...] = ("rationale_outside_iqr", "cannot_judge", "carry_over")
"""Other settings that change what experts see or answer, so not while a round is open."""
MAX_ROUNDS_LIMIT = 20
FEEDBACK_MIN_N_LIMIT = 1000


def update_settings(
    session: Session,
    study: Study,
    changes: Mapping[str, Any],
    actor: User | None = None,
    *,
    reason: str | None = None,
) -> dict[str, Any]:
    """Apply ``changes`` (setting name → new value) to ``study``, audited, and commit.

    ``consensus`` is given as the TOML text of a ``[consensus]`` table (or as
    :class:`ConsensusSettings`).  Every value is checked before anything changes;
    :class:`InvalidValues` names each refused field: a value out of range, a rule or a
    setting experts see while a round is open, and, once the protocol is stamped, a
    missing ``reason``.  After the stamp each change is an amendment
    (:func:`surveys.protocol.record_amendment`) under ``settings.<name>``, or
    ``consensus.default`` / ``consensus.by_kind.<kind>`` for each consensus table that
    changed.  Returns the settings that actually changed, as ``{name: new value}`` (the
    consensus as its JSON form).
    """
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    unknown = sorted(set(changes) - set(SETTINGS))
    for name in unknown:
        refuse(name, "is not a study setting")
    values = {name: value for name, value in changes.items() if name in SETTINGS}
    if "consensus" in values:
        values["consensus"] = _consensus(values["consensus"], refuse)
    _check(session, study, values, refuse)
    if errors:
        raise InvalidValues(errors)
    changed = {name: value for name, value in values.items() if value != _current(study, name)}
    if open_round_of(session, study) is not None:
        for name in changed:
            if name in RULES:
                refuse(name, f"{RULES_LOCKED}: change it once the open round is closed")
            elif name in FIXED_WHILE_OPEN:
                refuse(
                    name,
                    "changes what experts see or answer: change it once the open round is closed",
                )
    if errors:
        raise InvalidValues(errors)
    if not changed:
        return {}
    stamped = is_stamped(session, study)
    amended = {name: value for name, value in changed.items() if name not in OUTSIDE_PROTOCOL}
    given = check_reason(reason) if (stamped and amended) or (reason or "").strip() else None
    previous = {name: _current(study, name) for name in changed}
    audited: dict[str, Any] = {
        name: {"from": _audited(name, previous[name]), "to": _audited(name, value)}
        for name, value in changed.items()
    }
    for name, value in changed.items():
        setattr(study, name, value)
    if stamped and amended:
        assert given is not None
        for what, old, new in _amended(previous, amended):
            record_amendment(
                session,
                study,
                what=what,
                old=old,
                new=new,
                reason=given,
                actor=actor,
                # A higher anonymity hides more from the console at once.
                applies_to_open_round=what == "settings.anonymity",
                audited=False,
            )
    audit.record(session, "study.settings", study=study, user=actor, reason=given, **audited)
    session.commit()
    log.info("changed settings of %s: %s", study.slug, ", ".join(sorted(changed)))
    return changed


def _current(study: Study, name: str) -> Any:
    """The study's current value of setting ``name``."""
    return getattr(study, name)


def _audited(name: str, value: Any) -> Any:
    """A setting's value as the audit log keeps it: the consensus as its TOML text."""
    if name == "consensus":
        return consensus_to_toml(consensus_from_json(value))
    return value


def _as_text(value: Any) -> str:
    """A setting's value as an amendment states it (booleans as TOML writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _amended(previous: dict[str, Any], changed: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(path, old, new)`` of each amendment a settings change makes: one per setting,
    and for the consensus one per table (default, each kind) that changed, as the
    inline TOML of its rule (empty where a kind had or has no table)."""
    result = []
    for name, value in changed.items():
        if name != "consensus":
            result.append((f"settings.{name}", _as_text(previous[name]), _as_text(value)))
            continue
        old, new = consensus_from_json(previous[name]), consensus_from_json(value)
        if old.default != new.default:
            result.append(
                ("consensus.default", rule_to_toml(old.default), rule_to_toml(new.default))
            )
        old_kinds, new_kinds = dict(old.by_kind), dict(new.by_kind)
        for kind in [*old_kinds, *(kind for kind in new_kinds if kind not in old_kinds)]:
            before, after = old_kinds.get(kind), new_kinds.get(kind)
            if before != after:
                result.append(
                    (
                        f"consensus.by_kind.{kind}",
                        rule_to_toml(before) if before else "",
                        rule_to_toml(after) if after else "",
                    )
                )
    return result


def _consensus(value: Any, refuse: Any) -> dict[str, Any] | None:
    """The consensus settings as stored (JSON), from TOML text or settings."""
    if isinstance(value, ConsensusSettings):
        return consensus_to_json(value)
    if not isinstance(value, str):
        refuse("consensus", "must be the TOML text of a [consensus] table")
        return None
    try:
        settings = parse_consensus(value, name="consensus")
    except InvalidDefinition as invalid:
        for error in invalid.errors:
            refuse("consensus", f"line {error.line}: {error.field}: {error.message}")
        return None
    return consensus_to_json(settings)


def _check(session: Session, study: Study, values: dict[str, Any], refuse: Any) -> None:
    """Report every value out of its range, each under its own field."""
    if "quantile_method" in values and values["quantile_method"] not in QUANTILE_METHODS:
        refuse("quantile_method", "choose one of " + ", ".join(QUANTILE_METHODS))
    if "feedback_min_n" in values and not _integer_between(
        values["feedback_min_n"], 1, FEEDBACK_MIN_N_LIMIT
    ):
        refuse("feedback_min_n", f"must be a whole number from 1 to {FEEDBACK_MIN_N_LIMIT}")
    if "rationale_outside_iqr" in values and values["rationale_outside_iqr"] not in (
        RATIONALE_POLICIES
    ):
        refuse("rationale_outside_iqr", "choose one of " + ", ".join(RATIONALE_POLICIES))
    for name in ("cannot_judge", "show_outcome", "show_own_score"):
        if name in values and not isinstance(values[name], bool):
            refuse(name, "must be true or false")
    if "max_rounds" in values:
        held = session.execute(
            select(func.count()).select_from(Round).where(Round.study_id == study.id)
        ).scalar_one()
        minimum = max(1, held)
        if not _integer_between(values["max_rounds"], minimum, MAX_ROUNDS_LIMIT):
            refuse(
                "max_rounds",
                f"must be a whole number from {minimum} to {MAX_ROUNDS_LIMIT}"
                + (f" ({held} round(s) held already)" if held else ""),
            )
    if "consensus_items" in values and values["consensus_items"] not in CONSENSUS_ITEMS:
        refuse("consensus_items", "choose one of " + ", ".join(CONSENSUS_ITEMS))
    if "carry_over" in values and values["carry_over"] not in CARRY_OVER:
        refuse("carry_over", "choose one of " + ", ".join(CARRY_OVER))
    if "anonymity" in values:
        level = values["anonymity"]
        if level not in ANONYMITY_LEVELS:
            refuse("anonymity", "choose one of " + ", ".join(ANONYMITY_LEVELS))
        elif ANONYMITY_LEVELS.index(level) < ANONYMITY_LEVELS.index(study.anonymity):
            refuse("anonymity", f"can be raised but never lowered: the study is {study.anonymity}")


def _integer_between(value: Any, low: int, high: int) -> bool:
    """Whether ``value`` is an integer (not a boolean) from ``low`` to ``high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def consensus_text(study: Study) -> str:
    """The study's consensus settings as the TOML text :func:`update_settings` takes."""
    return consensus_to_toml(consensus_from_json(study.consensus))
