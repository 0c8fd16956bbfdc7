"""Experts' answers: the rules an answer must meet, and saving a submission.

The form an expert posts names each input after the item key (a scenario of a scenario
set: ``<item key>.<scenario key>``) and each rationale ``rationale.<item key>``.  These
rules are the only place where an answer is judged valid; the web form, the API and the
tests all go through :func:`parse_answers`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from surveys.definition import SCENARIO_TOTAL, ItemDefinition
from surveys.errors import AnswerError, Conflict, InvalidAnswers
from surveys.models import Panelist, Response, ResponseStatus, Round, utcnow
from surveys.rounds import open_round_of
from surveys.studies import StoredItem, active_items

log = logging.getLogger(__name__)

RATIONALE_MAX_LENGTH = 5000
SCENARIO_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ParsedAnswers:
    """Valid answers by item key (``{"value": …}``, ``{"components": …}`` or
    ``{"text": …}``) and rationales by item key."""

    answers: dict[str, dict[str, Any]]
    rationales: dict[str, str]


def rationale_field(item_key: str) -> str:
    """The form field holding an item's rationale."""
    return f"rationale.{item_key}"


def component_field(item_key: str, component: str) -> str:
    """The form field holding one component (e.g. a scenario) of an item."""
    return f"{item_key}.{component}"


def parse_number(raw: str) -> float | None:
    """Read a number typed by a person: ``12``, ``12.5``, ``12,5`` or ``12.5 %``."""
    cleaned = raw.strip().rstrip("%").strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_answers(items: list[ItemDefinition], form: Mapping[str, str]) -> ParsedAnswers:
    """Check every answer in ``form``; return them parsed or raise :class:`InvalidAnswers`.

    A blank answer means "not answered".  Every problem is reported, not only the first.
    """
    answers: dict[str, dict[str, Any]] = {}
    rationales: dict[str, str] = {}
    errors: list[AnswerError] = []
    for item in items:
        answer = _parse_item(item, form, errors)
        if answer is not None:
            answers[item.key] = answer
        rationale = (form.get(rationale_field(item.key)) or "").strip()
        if rationale and item.rationale:
            if len(rationale) > RATIONALE_MAX_LENGTH:
                errors.append(
                    AnswerError(
                        rationale_field(item.key),
                        "too_long",
                        {"max": RATIONALE_MAX_LENGTH, "length": len(rationale)},
                    )
                )
            elif answer is None and not _has_errors_for(item.key, errors):
                errors.append(AnswerError(rationale_field(item.key), "rationale_without_answer"))
            else:
                rationales[item.key] = rationale
    if errors:
        raise InvalidAnswers(errors)
    return ParsedAnswers(answers, rationales)


def _has_errors_for(key: str, errors: list[AnswerError]) -> bool:
    """Whether an item's own inputs already have an error."""
    return any(error.field == key or error.field.startswith(f"{key}.") for error in errors)


def _parse_item(
    item: ItemDefinition, form: Mapping[str, str], errors: list[AnswerError]
) -> dict[str, Any] | None:
    """Parse one item's inputs, appending problems to ``errors``."""
    if item.kind == "scenario_set":
        return _parse_scenarios(item, form, errors)
    raw = (form.get(item.key) or "").strip()
    if not raw:
        return None
    if item.kind == "open_text":
        assert item.max_length is not None
        if len(raw) > item.max_length:
            errors.append(
                AnswerError(item.key, "too_long", {"max": item.max_length, "length": len(raw)})
            )
            return None
        return {"text": raw}
    value = parse_number(raw)
    if item.kind == "likert":
        assert item.scale is not None
        if (
            value is None
            or not value.is_integer()
            or not (item.scale.minimum <= value <= item.scale.maximum)
        ):
            errors.append(
                AnswerError(
                    item.key,
                    "not_an_option",
                    {"min": item.scale.minimum, "max": item.scale.maximum},
                )
            )
            return None
        return {"value": int(value)}
    if value is None:
        errors.append(AnswerError(item.key, "not_a_number"))
        return None
    if not 0 <= value <= 100:
        errors.append(AnswerError(item.key, "out_of_range", {"min": 0, "max": 100}))
        return None
    return {"value": value}


def _parse_scenarios(
    item: ItemDefinition, form: Mapping[str, str], errors: list[AnswerError]
) -> dict[str, Any] | None:
    """Parse a scenario set: all scenarios or none, each 0–100, summing to 100."""
    raw = {
        s.key: (form.get(component_field(item.key, s.key)) or "").strip() for s in item.scenarios
    }
    if not any(raw.values()):
        return None
    components: dict[str, float] = {}
    failed = False
    for key, text in raw.items():
        field = component_field(item.key, key)
        if not text:
            errors.append(AnswerError(field, "scenario_missing"))
            failed = True
            continue
        value = parse_number(text)
        if value is None:
            errors.append(AnswerError(field, "not_a_number"))
            failed = True
        elif not 0 <= value <= 100:
            errors.append(AnswerError(field, "out_of_range", {"min": 0, "max": 100}))
            failed = True
        else:
            components[key] = value
    if failed:
        return None
    total = sum(components.values())
    if abs(total - SCENARIO_TOTAL) > SCENARIO_TOLERANCE:
        errors.append(
            AnswerError(
                item.key, "scenario_sum", {"total": round(total, 6), "expected": SCENARIO_TOTAL}
            )
        )
        return None
    return {"components": components}


def submit_responses(session: Session, panelist: Panelist, form: Mapping[str, str]) -> Round:
    """Store a panelist's answers to the open round in one transaction.

    Submitting again while the round is open replaces the earlier submission: answers
    given now overwrite, items left blank now are withdrawn.  Raises
    :class:`InvalidAnswers` (nothing saved) or :class:`Conflict` when no round is open.
    """
    round_ = open_round_of(session, panelist.study)
    if round_ is None:
        raise Conflict("no round is open: your answers were not saved")
    stored = active_items(panelist.study)
    parsed = parse_answers([item.definition for item in stored], form)
    existing = {
        response.item_id: response
        for response in session.execute(
            select(Response).where(
                Response.panelist_id == panelist.id, Response.round_id == round_.id
            )
        ).scalars()
    }
    now = utcnow()
    for item in stored:
        _store(session, panelist, round_, item, parsed, existing.get(item.id), now)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("your answers were being saved twice at once; please submit again") from None
    log.info(
        "panelist %s submitted %d answers in round %d",
        panelist.pseudonym,
        len(parsed.answers),
        round_.number,
    )
    return round_


def _store(
    session: Session,
    panelist: Panelist,
    round_: Round,
    item: StoredItem,
    parsed: ParsedAnswers,
    response: Response | None,
    now: Any,
) -> None:
    """Create, update or withdraw the response to one item."""
    answer = parsed.answers.get(item.definition.key)
    if answer is None:
        if response is not None:
            session.delete(response)
        return
    if response is None:
        response = Response(panelist=panelist, round=round_, item_id=item.id)
        session.add(response)
    response.item_version = item.version
    response.answer = answer
    response.rationale = parsed.rationales.get(item.definition.key)
    response.status = ResponseStatus.SUBMITTED
    response.submitted_at = now
    response.updated_at = now
