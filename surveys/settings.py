"""Change a study's settings after it was loaded, audited.

Which settings may change while a round is open: only those that do not change what the
panel sees or answers in that round.

- ``quantile_method`` and ``consensus`` are used when a round closes, to compute its
  summary; changing them while a round is open changes no page an expert sees.
- ``max_rounds`` only limits the opening of later rounds.
- ``anonymity`` can always be raised (it only hides more from the console).
- ``cannot_judge`` (an extra likert option), ``rationale_outside_iqr`` (whether a "why?"
  is asked or demanded) and ``feedback_min_n`` (which feedback and quartiles the open
  round shows) change the open round's pages and answers: they wait for it to close.
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
    RATIONALE_POLICIES,
    ConsensusSettings,
    InvalidDefinition,
    parse_consensus,
)
from surveys.errors import InvalidValues
from surveys.models import Round, Study, User
from surveys.rounds import open_round_of
from surveys.serialization import consensus_from_json, consensus_to_json, consensus_to_toml
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
)
"""The settings :func:`update_settings` changes."""
FIXED_WHILE_OPEN: tuple[str, ...] = ("feedback_min_n", "rationale_outside_iqr", "cannot_judge")
"""Settings that change what experts see or answer, so not while a round is open."""
MAX_ROUNDS_LIMIT = 20
FEEDBACK_MIN_N_LIMIT = 1000


def update_settings(
    session: Session, study: Study, changes: Mapping[str, Any], actor: User | None = None
) -> dict[str, Any]:
    """Apply ``changes`` (setting name → new value) to ``study``, audited, and commit.

    ``consensus`` is given as the TOML text of a ``[consensus]`` table (or as
    :class:`ConsensusSettings`).  Every value is checked before anything changes;
    :class:`InvalidValues` names each refused field.  Returns the settings that actually
    changed, as ``{name: new value}`` (the consensus as its JSON form).
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
        for name in FIXED_WHILE_OPEN:
            if name in changed:
                refuse(
                    name,
                    "changes what experts see or answer: change it once the open round is closed",
                )
    if errors:
        raise InvalidValues(errors)
    if not changed:
        return {}
    audited: dict[str, Any] = {
        name: {"from": _current(study, name), "to": value}
        for name, value in changed.items()
        if name != "consensus"
    }
    if "consensus" in changed:
        audited["consensus"] = "changed"
    for name, value in changed.items():
        setattr(study, name, value)
    audit.record(session, "study.settings", study=study, user=actor, **audited)
    session.commit()
    log.info("changed settings of %s: %s", study.slug, ", ".join(sorted(changed)))
    return changed


def _current(study: Study, name: str) -> Any:
    """The study's current value of setting ``name``."""
    return getattr(study, name)


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
    if "cannot_judge" in values and not isinstance(values["cannot_judge"], bool):
        refuse("cannot_judge", "must be true or false")
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
