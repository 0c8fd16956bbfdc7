"""Experts' answers: the rules an answer must meet, and saving a submission.

The form an expert posts names each input after the item key (a scenario of a scenario
set: ``<item key>.<scenario key>``) and each rationale ``rationale.<item key>``.  These
rules are the only place where an answer is judged valid; the web form, the API and the
tests all go through :func:`parse_answers`.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy
from sqlalchemy import JSON, bindparam, delete, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from surveys.definition import (
    CONFIDENCE_RANGE,
    ESTIMATE_COMPONENTS,
    SCENARIO_TOTAL,
    SEED_COMPONENTS,
    ItemDefinition,
    StudyDefinition,
    cross_impact_component,
)
from surveys.drafts import draft_values, save_draft, stage_draft
from surveys.errors import AnswerError, Conflict, InvalidAnswers
from surveys.fields import component_field, rationale_field
from surveys.models import (
    Panelist,
    Response,
    ResponseStatus,
    Round,
    RoundStatus,
    UTCDateTime,
    utcnow,
)
from surveys.rounds import previous_quartiles
from surveys.snapshots import StudySnapshot
from surveys.text import clean_typed_form
from surveys.upsert import upsert
from surveys.visit import Visit, visit_of

log = logging.getLogger(__name__)

#: PostgreSQL's error code for a lock not obtained within ``lock_timeout``.
LOCK_NOT_AVAILABLE = "55P03"

RATIONALE_MAX_LENGTH = 5000
SCENARIO_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ParsedAnswers:
    """Valid answers by item key (``{"value": …}``, ``{"components": …}`` or
    ``{"text": …}``) and rationales by item key."""

    answers: dict[str, dict[str, Any]]
    rationales: dict[str, str]


NUMBER_PATTERN = re.compile(r"-?\d+(?:[.,]\d+)?", re.ASCII)
AMBIGUOUS_PATTERN = re.compile(r"-?\d{1,3}[.,]\d{3}", re.ASCII)
LARGEST_NUMBER = 1e12


def parse_number(raw: str) -> float | None:
    """Read a number typed by a person: ``12``, ``12.5``, ``12,5`` or ``12.5 %``.

    One decimal separator, point or comma, is accepted; ``1,000`` and ``1.000`` are
    refused (see :func:`ambiguous_number`), as are exponents, other digits and
    magnitudes beyond 10¹², which no elicitation asks for and JSON cannot always hold.
    """
    cleaned = raw.strip().rstrip("%").strip()
    if not NUMBER_PATTERN.fullmatch(cleaned) or ambiguous_number(raw):
        return None
    value = float(cleaned.replace(",", "."))
    return value if abs(value) <= LARGEST_NUMBER else None


def ambiguous_number(raw: str) -> bool:
    """Whether ``raw`` reads differently by locale: ``1,000`` is a thousand in English
    and one in Spanish, so a single separator followed by exactly three digits is
    refused rather than guessed."""
    return bool(AMBIGUOUS_PATTERN.fullmatch(raw.strip().rstrip("%").strip()))


CANNOT_JUDGE = "cannot_judge"
"""The value a likert input posts for "I can't judge this"."""

Quartiles = Mapping[str, Mapping[str, tuple[float, float]]]
"""Previous round's (q1, q3) by item key and component."""


@dataclass(frozen=True)
class AnswerRules:
    """The study settings that change what counts as a complete, valid answer."""

    cannot_judge: bool = False
    #: "off", "optional" or "required" (see ``StudyDefinition.rationale_outside_iqr``).
    rationale_outside_iqr: str = "off"
    #: The previous round's quartiles; empty in round 1.
    previous_quartiles: Quartiles = field(default_factory=dict)


def parse_answers(
    items: Sequence[ItemDefinition], form: Mapping[str, str], rules: AnswerRules | None = None
) -> ParsedAnswers:
    """Check every answer in ``form``; return them parsed or raise :class:`InvalidAnswers`.

    A blank answer means "not answered".  Every problem is reported, not only the first.
    With ``rules.rationale_outside_iqr == "required"``, an answer outside the previous
    round's interquartile range needs a rationale.
    """
    rules = rules or AnswerRules()
    answers: dict[str, dict[str, Any]] = {}
    rationales: dict[str, str] = {}
    errors: list[AnswerError] = []
    for item in items:
        answer = _parse_item(item, form, errors, rules)
        if answer is not None:
            answers[item.key] = answer
        field_name = rationale_field(item.key)
        rationale = (form.get(field_name) or "").strip() if item.rationale else ""
        if len(rationale) > RATIONALE_MAX_LENGTH:
            errors.append(
                AnswerError(
                    field_name, "too_long", {"max": RATIONALE_MAX_LENGTH, "length": len(rationale)}
                )
            )
        elif rationale and answer is None and not _has_errors_for(item.key, errors):
            errors.append(AnswerError(field_name, "rationale_without_answer"))
        elif rationale:
            rationales[item.key] = rationale
        elif (
            answer is not None
            and item.rationale
            and rules.rationale_outside_iqr == "required"
            and outside_previous_iqr(item, answer, rules.previous_quartiles)
        ):
            errors.append(AnswerError(field_name, "rationale_required"))
    if errors:
        raise InvalidAnswers(errors)
    return ParsedAnswers(answers, rationales)


def outside_previous_iqr(
    item: ItemDefinition, answer: Mapping[str, Any], quartiles: Quartiles
) -> bool:
    """Whether ``answer`` lies outside the previous round's [q1, q3] for ``item``.

    Single numbers are compared directly; a scenario set counts when any scenario is
    outside its own range; a numeric estimate compares its best guess.  Rankings and
    "can't judge" answers never count.
    """
    ranges = quartiles.get(item.key, {})
    # A seed item's panel is never shown to experts, so no answer can be outside it.
    if not ranges or item.kind in ("ranking", "seed"):
        return False
    if "value" in answer:
        values = {"": answer["value"]}
    elif item.kind == "numeric_estimate":
        values = {"best": answer["components"]["best"]}
    else:
        values = dict(answer.get("components", {}))
    for component, value in values.items():
        bounds = ranges.get(component)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            return True
    return False


def _number_problem(raw: str) -> str:
    """The error code for text that is not a number we accept."""
    return "ambiguous_number" if ambiguous_number(raw) else "not_a_number"


def _has_errors_for(key: str, errors: list[AnswerError]) -> bool:
    """Whether an item's own inputs already have an error."""
    return any(error.field == key or error.field.startswith(f"{key}.") for error in errors)


def _parse_item(
    item: ItemDefinition, form: Mapping[str, str], errors: list[AnswerError], rules: AnswerRules
) -> dict[str, Any] | None:
    """Parse one item's inputs, appending problems to ``errors``."""
    if item.kind == "scenario_set":
        return _parse_scenarios(item, form, errors)
    if item.kind == "signpost":
        return _parse_signpost(item, form, errors)
    if item.kind == "cross_impact":
        return _parse_cross_impact(item, form, errors)
    if item.kind == "numeric_estimate":
        return _parse_estimate(item, form, errors)
    if item.kind == "ranking":
        return _parse_ranking(item, form, errors)
    if item.kind == "seed":
        return _parse_seed(item, form, errors)
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
    if item.kind == "likert" and rules.cannot_judge and raw == CANNOT_JUDGE:
        return {CANNOT_JUDGE: True}
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
        errors.append(AnswerError(item.key, _number_problem(raw)))
        return None
    if not 0 <= value <= 100:
        errors.append(AnswerError(item.key, "out_of_range", {"min": 0, "max": 100}))
        return None
    return {"value": value}


def _parse_estimate(
    item: ItemDefinition, form: Mapping[str, str], errors: list[AnswerError]
) -> dict[str, Any] | None:
    """Parse a numeric estimate: all four parts or none, lowest ≤ best ≤ highest,
    confidence 50–100 %, each number within the item's bounds if it has any.

    Every problem is reported at once: a confidence of 120 % and a lowest value above
    the highest are two errors of one submission, so the order of the values is
    checked among those that are numbers even when another part is wrong or missing.
    """
    raw = {
        part: (form.get(component_field(item.key, part)) or "").strip()
        for part in ESTIMATE_COMPONENTS
    }
    if not any(raw.values()):
        return None
    problems = len(errors)
    numbers: dict[str, float] = {}
    for part, text in raw.items():
        name = component_field(item.key, part)
        value = parse_number(text) if text else None
        if not text:
            errors.append(AnswerError(name, "estimate_missing"))
            continue
        if value is None:
            errors.append(AnswerError(name, _number_problem(text)))
            continue
        numbers[part] = value
        if part == "confidence" and not CONFIDENCE_RANGE[0] <= value <= CONFIDENCE_RANGE[1]:
            errors.append(
                AnswerError(
                    name, "out_of_range", {"min": CONFIDENCE_RANGE[0], "max": CONFIDENCE_RANGE[1]}
                )
            )
        elif (
            part != "confidence"
            and item.estimate_bounds is not None
            and not item.estimate_bounds[0] <= value <= item.estimate_bounds[1]
        ):
            low, high = item.estimate_bounds
            errors.append(AnswerError(name, "outside_bounds", {"min": low, "max": high}))
    errors.extend(_estimate_order(item.key, numbers))
    if len(errors) > problems:
        return None
    return {"components": numbers}


def _estimate_order(key: str, numbers: Mapping[str, float]) -> list[AnswerError]:
    """The order problems among the parts of an estimate that are numbers.

    A lowest value above the highest is the one problem reported when it occurs (the
    best guess cannot be placed in a reversed range); otherwise a best guess below the
    lowest value or above the highest is.  Each error carries the numbers it compares.
    """
    lowest, best, highest = (numbers.get(part) for part in ("lowest", "best", "highest"))
    if lowest is not None and highest is not None and lowest > highest:
        return [AnswerError(key, "lowest_above_highest", {"lowest": lowest, "highest": highest})]
    if best is not None and lowest is not None and best < lowest:
        return [AnswerError(key, "best_below_lowest", {"best": best, "lowest": lowest})]
    if best is not None and highest is not None and best > highest:
        return [AnswerError(key, "best_above_highest", {"best": best, "highest": highest})]
    return []


def _parse_seed(
    item: ItemDefinition, form: Mapping[str, str], errors: list[AnswerError]
) -> dict[str, Any] | None:
    """Parse a seed item: the 5th, 50th and 95th percentiles, all three or none,
    strictly increasing (the classical model's distributions need three distinct
    points), each above 0 on a log-uniform background (its scale is the logarithm)."""
    raw = {
        part: (form.get(component_field(item.key, part)) or "").strip() for part in SEED_COMPONENTS
    }
    if not any(raw.values()):
        return None
    problems = len(errors)
    numbers: dict[str, float] = {}
    for part, text in raw.items():
        name = component_field(item.key, part)
        value = parse_number(text) if text else None
        if not text:
            errors.append(AnswerError(name, "estimate_missing"))
        elif value is None:
            errors.append(AnswerError(name, _number_problem(text)))
        elif item.background == "log-uniform" and value <= 0:
            errors.append(AnswerError(name, "not_positive"))
        else:
            numbers[part] = value
    ordered = [(part, numbers[part]) for part in SEED_COMPONENTS if part in numbers]
    for (lower, low), (upper, high) in itertools.pairwise(ordered):
        if low >= high:
            errors.append(
                AnswerError(
                    component_field(item.key, upper),
                    "percentiles_not_increasing",
                    {"lower": low, "upper": high, "part": upper, "below": lower},
                )
            )
    if len(errors) > problems:
        return None
    return {"components": numbers}


def _parse_ranking(
    item: ItemDefinition, form: Mapping[str, str], errors: list[AnswerError]
) -> dict[str, Any] | None:
    """Parse a ranking: every option gets a different place 1..k, or none does.

    A place given twice is reported even while another option still has none."""
    raw = {
        option.key: (form.get(component_field(item.key, option.key)) or "").strip()
        for option in item.options
    }
    if not any(raw.values()):
        return None
    places = len(item.options)
    ranks: dict[str, int] = {}
    for key, text in raw.items():
        value = parse_number(text) if text else None
        if value is None or not value.is_integer() or not 1 <= value <= places:
            errors.append(
                AnswerError(component_field(item.key, key), "rank_missing", {"max": places})
            )
        else:
            ranks[key] = int(value)
    if len(set(ranks.values())) != len(ranks):
        errors.append(AnswerError(item.key, "rank_duplicate", {"max": places}))
        return None
    if len(ranks) != places:
        return None
    return {"components": ranks}


def _parse_cross_impact(
    item: ItemDefinition, form: Mapping[str, str], errors: list[AnswerError]
) -> dict[str, Any] | None:
    """Parse a cross-impact answer: for each trigger, a scenario set (all of its
    scenarios or none, each 0–100, summing to 100), as :func:`_parse_scenarios`; a
    trigger left blank is not answered, the others are.  The sum of one trigger's set
    is reported on the field ``<item key>.<trigger key>``."""
    components: dict[str, float] = {}
    problems = len(errors)
    for trigger in item.triggers:
        parts = {
            scenario.key: cross_impact_component(trigger.key, scenario.key)
            for scenario in item.scenarios
        }
        answer = _parse_scenarios(
            item, form, errors, parts=parts, total_field=component_field(item.key, trigger.key)
        )
        if answer is not None:
            components.update({parts[key]: value for key, value in answer["components"].items()})
    if len(errors) > problems or not components:
        return None
    return {"components": components}


def _parse_scenarios(
    item: ItemDefinition,
    form: Mapping[str, str],
    errors: list[AnswerError],
    *,
    parts: Mapping[str, str] | None = None,
    total_field: str | None = None,
) -> dict[str, Any] | None:
    """Parse a scenario set: all scenarios or none, each 0–100, summing to 100.

    The total is checked whenever every scenario holds a number, even one outside
    0–100, so that a share of 120 % and a total of 130 % are reported together.
    ``parts`` maps each scenario to the part of the answer holding it (a cross-impact
    trigger's row), the scenario itself by default; a wrong total is reported on
    ``total_field``, the item's key by default."""
    parts = parts or {scenario.key: scenario.key for scenario in item.scenarios}
    raw = {
        key: (form.get(component_field(item.key, part)) or "").strip()
        for key, part in parts.items()
    }
    if not any(raw.values()):
        return None
    components: dict[str, float] = {}
    failed = False
    for key, text in raw.items():
        field = component_field(item.key, parts[key])
        if not text:
            errors.append(AnswerError(field, "scenario_missing"))
            failed = True
            continue
        value = parse_number(text)
        if value is None:
            errors.append(AnswerError(field, _number_problem(text)))
            failed = True
            continue
        components[key] = value
        if not 0 <= value <= 100:
            errors.append(AnswerError(field, "out_of_range", {"min": 0, "max": 100}))
            failed = True
    if len(components) != len(raw):
        return None
    total = sum(components.values())
    if abs(total - SCENARIO_TOTAL) > SCENARIO_TOLERANCE:
        errors.append(
            AnswerError(
                total_field or item.key,
                "scenario_sum",
                {"total": round(total, 6), "expected": SCENARIO_TOTAL},
            )
        )
        return None
    return None if failed else {"components": components}


def _parse_signpost(
    item: ItemDefinition, form: Mapping[str, str], errors: list[AnswerError]
) -> dict[str, Any] | None:
    """Parse a signpost: a percentage 0–100 for every scenario of its scenario set, or
    none; the percentages are likelihoods under different scenarios and need not sum to
    anything."""
    raw = {
        s.key: (form.get(component_field(item.key, s.key)) or "").strip() for s in item.scenarios
    }
    if not any(raw.values()):
        return None
    components: dict[str, float] = {}
    for key, text in raw.items():
        field = component_field(item.key, key)
        value = parse_number(text) if text else None
        if not text:
            errors.append(AnswerError(field, "likelihood_missing"))
        elif value is None:
            errors.append(AnswerError(field, _number_problem(text)))
        elif not 0 <= value <= 100:
            errors.append(AnswerError(field, "out_of_range", {"min": 0, "max": 100}))
        else:
            components[key] = value
    return {"components": components} if len(components) == len(raw) else None


class RoundNotOpen(Conflict):
    """No round is open: the answers were kept as a draft, not submitted."""


class RoundBeingClosed(RoundNotOpen):
    """The round is being closed (its close holds the round's lock for longer than
    :data:`CLOSE_WAIT`): the answers were kept as a draft, not submitted."""


#: How long a submission on PostgreSQL waits for a close under way, which locks the
#: round until it has stored the summary, before it keeps the answers as a draft and
#: says so.  A small panel's close ends well within it; a large one's takes minutes,
#: and a submission that waited for it would be killed at the web server's time limit
#: (gunicorn's 120 s) with what was typed in it unsaved.
CLOSE_WAIT_MS = 10_000


class DeadlinePassed(Conflict):
    """The round's deadline has passed: the answers were kept as a draft."""

    def __init__(self, deadline: datetime) -> None:
        super().__init__("the deadline has passed; the answers were kept as a draft")
        self.deadline = deadline


def submit_responses(
    session: Session,
    who: Panelist | Visit,
    form: Mapping[str, str],
    *,
    now: datetime | None = None,
    language: str | None = None,
) -> Round:
    """Submit a panelist's answers (or their visit's) to the open round.

    ``language`` is the language of the page the answers were typed on (the panelist's
    preferred language if not given): each response records it, so that a rationale
    shown to a reader of another language can say which language it is written in.

    What was typed is kept as the panelist's draft whatever happens, without the
    control characters that no database should store (:mod:`surveys.text`).  In the same
    transaction, answers given now overwrite earlier ones and items left blank now are
    withdrawn.  Raises :class:`InvalidAnswers`, :class:`RoundNotOpen` or
    :class:`DeadlinePassed`; in each case the draft is committed, holding everything
    typed, and nothing else changes.

    The round is locked (shared) and checked to be still open in the statement that
    stores the answers, so that a submission and the closing of its round cannot
    interleave: a submission either lands before the close and is counted, or waits
    and then finds the round closed.
    """
    now = now or utcnow()
    form = clean_typed_form(form)
    visit = visit_of(session, who)
    panelist, study, round_ = visit.panelist, visit.study, visit.open_round
    if round_ is None:
        save_draft(session, visit, form, now=now)
        raise RoundNotOpen("the round is closed; the answers were kept as a draft")
    if round_.deadline is not None and now > round_.deadline:
        stage_draft(session, panelist, round_, form, study.fields, now)
        session.commit()
        raise DeadlinePassed(round_.deadline)
    try:
        parsed = parse_answers(
            study.definition.items, form, answer_rules(session, round_, study.definition)
        )
    except InvalidAnswers:
        stage_draft(session, panelist, round_, form, study.fields, now)
        session.commit()
        raise
    try:
        still_open = _store(
            session, panelist, round_, study, form, parsed, now, language or panelist.language
        )
        session.commit()
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        session.rollback()
        # A close holds the round: the draft waits for nothing (see surveys.rounds).
        save_draft(session, visit, form, now=now)
        raise RoundBeingClosed(
            "the round is being closed; the answers were kept as a draft"
        ) from None
    except IntegrityError:
        session.rollback()
        # The draft went with the rollback.
        save_draft(session, visit, form, now=now)
        raise Conflict("your answers were being saved twice at once; please submit again") from None
    if not still_open:
        raise RoundNotOpen("the round closed meanwhile; the answers were kept as a draft")
    # No pseudonym: beside the access log's addresses and times, it would join a
    # person's connection to their pseudonymous answers.
    log.info("a panelist submitted %d answers in round %d", len(parsed.answers), round_.number)
    return round_


# A submission on PostgreSQL, in one statement: lock the round (shared, as closing it
# locks it exclusively) and check that it is still open; keep the draft; if the round
# is open, upsert the answered items' responses from one JSON parameter and withdraw
# the others.  One round trip instead of four, and one parameter to encode instead of
# ten per item: the row-by-row upsert was the largest cost of a submission.  (The parts
# do not touch the same rows, so they can run as one statement; SQLite, which has no
# DML in WITH, takes several statements.)
_SUBMISSION_POSTGRESQL = sqlalchemy.text(
    """
    WITH open_round AS (
        SELECT id FROM round WHERE id = :round_id AND status = 'open' FOR SHARE
    ), incoming AS (
        SELECT * FROM json_to_recordset(:responses)
            AS r(item_id integer, item_version integer, answer json, rationale text)
        WHERE EXISTS (SELECT FROM open_round)
    ), withdrawn AS (
        DELETE FROM response
        WHERE panelist_id = :panelist_id AND round_id = (SELECT id FROM open_round)
            AND item_id NOT IN (SELECT item_id FROM incoming)
    ), draft AS (
        INSERT INTO draft (round_id, panelist_id, "values", saved_at)
        VALUES (:round_id, :panelist_id, :draft, :now)
        ON CONFLICT (panelist_id, round_id)
        DO UPDATE SET "values" = excluded."values", saved_at = excluded.saved_at
    ), stored AS (
        INSERT INTO response (round_id, panelist_id, item_id, item_version, answer,
                              rationale, language, status, created_at, updated_at,
                              submitted_at)
        SELECT :round_id, :panelist_id, item_id, item_version, answer, rationale,
               :language, :status, :now, :now, :now
        FROM incoming
        ON CONFLICT (panelist_id, round_id, item_id) DO UPDATE SET
            item_version = excluded.item_version, answer = excluded.answer,
            rationale = excluded.rationale, language = excluded.language,
            status = excluded.status,
            updated_at = excluded.updated_at, submitted_at = excluded.submitted_at
    )
    SELECT count(*) FROM open_round
    """
).bindparams(
    bindparam("responses", type_=JSON()),
    bindparam("draft", type_=JSON()),
    bindparam("now", type_=UTCDateTime()),
)
_ROUND_STATUS = select(Round.status).where(Round.id == bindparam("round_id"))


def _store(
    session: Session,
    panelist: Panelist,
    round_: Round,
    study: StudySnapshot,
    form: Mapping[str, str],
    parsed: ParsedAnswers,
    now: datetime,
    language: str,
) -> bool:
    """Write the draft; if ``round_`` is still open, upsert the answered items'
    responses (in ``language``) and withdraw the others.  Return whether it was open."""
    answered = [item for item in study.items if item.definition.key in parsed.answers]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Waits for a close under way at most CLOSE_WAIT_MS (then LOCK_NOT_AVAILABLE).
        connection.execute(sqlalchemy.text(f"SET LOCAL lock_timeout = {int(CLOSE_WAIT_MS)}"))
        still_open = connection.execute(
            _SUBMISSION_POSTGRESQL,
            {
                "round_id": round_.id,
                "panelist_id": panelist.id,
                "responses": [
                    {
                        "item_id": item.id,
                        "item_version": item.version,
                        "answer": parsed.answers[item.definition.key],
                        "rationale": parsed.rationales.get(item.definition.key),
                    }
                    for item in answered
                ],
                "draft": {"fields": draft_values(form, study.fields)},
                "status": ResponseStatus.SUBMITTED.value,
                "language": language,
                "now": now,
            },
        ).scalar_one()
        return bool(still_open)
    # SQLite: the draft's write takes the database's write lock, so no round can close
    # between the check that follows and the commit.
    stage_draft(session, panelist, round_, form, study.fields, now)
    if connection.execute(_ROUND_STATUS, {"round_id": round_.id}).scalar() != RoundStatus.OPEN:
        return False
    upsert(
        session,
        Response,
        [
            {
                "round_id": round_.id,
                "panelist_id": panelist.id,
                "item_id": item.id,
                "item_version": item.version,
                "answer": parsed.answers[item.definition.key],
                "rationale": parsed.rationales.get(item.definition.key),
                "language": language,
                "status": ResponseStatus.SUBMITTED,
                "created_at": now,
                "updated_at": now,
                "submitted_at": now,
            }
            for item in answered
        ],
        conflict=("panelist_id", "round_id", "item_id"),
        update=(
            "item_version",
            "answer",
            "rationale",
            "language",
            "status",
            "updated_at",
            "submitted_at",
        ),
    )
    session.execute(
        delete(Response).where(
            Response.panelist_id == panelist.id,
            Response.round_id == round_.id,
            Response.item_id.not_in([item.id for item in answered]),
        )
    )
    return True


def answer_rules(session: Session, round_: Round, definition: StudyDefinition) -> AnswerRules:
    """The rules answers to ``round_`` must meet, from its study's settings."""
    return AnswerRules(
        cannot_judge=definition.cannot_judge,
        rationale_outside_iqr=definition.rationale_outside_iqr,
        previous_quartiles=previous_quartiles(session, round_, definition.feedback_min_n),
    )
