"""What happened, and how well the panel forecast it (issue 16, point 4).

A facilitator resolves a probability item ("yes": the event occurred within the
study's horizon, "no": it did not) or a scenario set (the scenario that unfolded), with
the date it became known and its source.  Once some have resolved, each panelist
(by pseudonym) and each way of pooling the panel is scored on them with
:func:`analysis.scoring.score_forecasts`: the Brier score and the logarithmic score,
both losses (lower is better, 0 is a perfect forecast), on each item's answers in the
last closed round that asked it (the panel's final judgement).  Answers of a round
still open are never scored: they may change.

A resolution can be corrected (recorded again) or withdrawn; each change is audited
with the item and the outcome, never a person, and stores the scores anew in the same
transaction (:mod:`surveys.scores`), which every page then reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from surveys import audit, scores
from surveys.definition import ItemDefinition
from surveys.errors import InvalidValues
from surveys.models import Item, ItemResolution, Round, RoundStatus, Study, User, utcnow
from surveys.serialization import item_from_json
from surveys.upsert import upsert

if TYPE_CHECKING:
    from analysis.scoring import ForecastScores

#: Item kinds a resolution applies to.
RESOLVABLE_KINDS = ("probability", "scenario_set")
#: The outcomes of a probability item.
YES, NO = "yes", "no"
SOURCE_LIMIT = 500
#: Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class Resolvable:
    """An item that can be resolved, with its resolution if it has one."""

    definition: ItemDefinition
    resolution: ItemResolution | None

    @property
    def outcomes(self) -> list[str]:
        """The outcomes it may take: yes and no, or its scenarios' keys."""
        if self.definition.kind == "probability":
            return [YES, NO]
        return [scenario.key for scenario in self.definition.scenarios]


def resolvable(session: Session, study: Study) -> list[Resolvable]:
    """The study's probability items and scenario sets in the study's order, each with
    its resolution (retired items too: their answers can be scored)."""
    recorded = {
        row.item_key: row
        for row in session.execute(
            select(ItemResolution)
            .where(ItemResolution.study_id == study.id)
            # The rows as they are now: an upsert in this transaction (resolve, then
            # the scores it stores) changes them past the session's loaded objects.
            .execution_options(populate_existing=True)
        ).scalars()
    }
    items = session.execute(
        select(Item)
        .where(Item.study_id == study.id, Item.kind.in_(RESOLVABLE_KINDS))
        .order_by(Item.position)
    ).scalars()
    return [
        Resolvable(item_from_json(item.key, item.kind, item.spec), recorded.get(item.key))
        for item in items
    ]


def resolve(
    session: Session,
    study: Study,
    item_key: str,
    outcome: str,
    resolved_on: Any,
    source: str,
    actor: User | None = None,
) -> ItemResolution:
    """Record (or correct) what happened for one item; checked, audited, committed.

    Raises :class:`InvalidValues` naming each field that is wrong: ``item`` (not a
    probability item or scenario set of the study), ``outcome`` (not one it can take),
    ``resolved_on`` (not a date, or later than today, UTC), ``source`` (empty, longer
    than :data:`SOURCE_LIMIT`, or holding a control character).
    """
    found = {entry.definition.key: entry for entry in resolvable(session, study)}
    entry = found.get(item_key)
    errors: dict[str, list[str]] = {}
    if entry is None:
        raise InvalidValues({"item": ["is not a probability item or scenario set of the study"]})
    if outcome not in entry.outcomes:
        errors["outcome"] = ["choose one of " + ", ".join(entry.outcomes)]
    if not isinstance(resolved_on, date):
        errors["resolved_on"] = ["must be a date"]
    elif resolved_on > utcnow().date():
        errors["resolved_on"] = ["cannot be later than today (UTC)"]
    source = (source or "").strip()
    if not source:
        errors["source"] = ["say where the outcome is known from"]
    elif len(source) > SOURCE_LIMIT:
        errors["source"] = [f"at most {SOURCE_LIMIT} characters"]
    elif _CONTROL.search(source):
        errors["source"] = ["must be one line of text, without control characters"]
    if errors:
        raise InvalidValues(errors)
    scores.claim(session, study)
    # One statement that lets the unique (study, item) constraint decide: two first
    # resolutions of one item at once (a double click, two facilitators) both succeed,
    # the later one winning, where an insert after a read gave the second a unique
    # violation (a 500).
    upsert(
        session,
        ItemResolution,
        [
            {
                "study_id": study.id,
                "item_key": item_key,
                "outcome": outcome,
                "resolved_on": resolved_on,
                "source": source,
                "recorded_at": utcnow(),
                "recorded_by": actor.id if actor else None,
            }
        ],
        conflict=("study_id", "item_key"),
        update=("outcome", "resolved_on", "source", "recorded_at", "recorded_by"),
    )
    audit.record(session, "items.resolve", study=study, user=actor, item=item_key, outcome=outcome)
    scores.store_scores(session, study)
    session.commit()
    return session.execute(
        select(ItemResolution)
        .where(ItemResolution.study_id == study.id, ItemResolution.item_key == item_key)
        .execution_options(populate_existing=True)
    ).scalar_one()


def withdraw(session: Session, study: Study, item_key: str, actor: User | None = None) -> bool:
    """Drop an item's resolution (recorded by mistake); whether there was one.  The
    stored scores follow (:mod:`surveys.scores`)."""
    scores.claim(session, study)
    dropped = session.execute(
        delete(ItemResolution).where(
            ItemResolution.study_id == study.id, ItemResolution.item_key == item_key
        )
    ).rowcount  # type: ignore[attr-defined]
    if dropped:
        audit.record(session, "items.unresolve", study=study, user=actor, item=item_key)
        scores.store_scores(session, study)
    session.commit()
    return bool(dropped)


def forecast_scores(session: Session, study: Study) -> ForecastScores | None:
    """Each panelist's and each pooling method's scores on the resolved items, from
    the submitted answers of the closed rounds; ``None`` before any item has resolved
    or any round has closed."""
    from analysis.scoring import score_forecasts
    from surveys.rounds import responses_frame

    outcomes: dict[str, str | float] = {}
    for entry in resolvable(session, study):
        if entry.resolution is None:
            continue
        value = entry.resolution.outcome
        if entry.definition.kind == "probability":
            outcomes[entry.definition.key] = 1.0 if value == YES else 0.0
        else:
            outcomes[entry.definition.key] = value
    closed = list(
        session.execute(
            select(Round.number).where(
                Round.study_id == study.id, Round.status == RoundStatus.CLOSED
            )
        ).scalars()
    )
    if not outcomes or not closed:
        return None
    frame = responses_frame(session, study, round_numbers=closed)
    return score_forecasts(frame, outcomes)
