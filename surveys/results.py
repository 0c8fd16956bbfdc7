"""A study's results across its closed rounds, item by item, for the console.

Read from the stored round summaries only: what the panel saw is what the facilitator
sees, and nothing here is recomputed or joined to a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from surveys.models import Round, RoundSummary, Study
from surveys.studies import all_items


@dataclass(frozen=True)
class RoundResult:
    """One distribution of one item in one closed round."""

    round: int
    statistics: dict[str, Any]
    #: The round's answers, sorted; empty when they were not read (a round of more
    #: answers than the caller shows one by one: see :func:`study_results`).
    values: list[float]


@dataclass(frozen=True)
class ItemResults:
    """An item's distributions, round after round, by component (``""`` if single)."""

    key: str
    kind: str
    text: str
    retired: bool
    components: dict[str, list[RoundResult]] = field(default_factory=dict)


def study_results(
    session: Session, study: Study, language: str, *, values_up_to: int | None = None
) -> list[ItemResults]:
    """Every numeric item's stored summaries over the closed rounds, in item order.

    Only the summaries' rows and sorted answers are read, which the database takes out
    of each (the rest, such as a row per expert of the classical model, grows with the
    panel too).  Each distribution comes with its sorted answers, unless ``values_up_to`` is given
    and one of the round's distributions has more answers than that: the round's
    answers are then not read at all (at 100,000 panelists they are most of the stored
    summary, hundreds of MB), only its statistics, which the database takes out of the
    summary (``->`` in PostgreSQL, ``json_extract`` in SQLite)."""
    summaries: list[tuple[int, dict[str, Any]]] = []
    if values_up_to is None:  # two parts of each summary, not its whole (expert rows…)
        query = (
            select(
                Round.number,
                RoundSummary.statistics["rows"],
                RoundSummary.statistics["distributions"],
            )
            .join(RoundSummary.round)
            .where(Round.study_id == study.id)
            .order_by(Round.number)
        )
        summaries = [
            (number, {"rows": rows or [], "distributions": distributions or {}})
            for number, rows, distributions in session.execute(query)
        ]
    else:
        query = (
            select(Round.number, RoundSummary.id, RoundSummary.statistics["rows"])
            .join(RoundSummary.round)
            .where(Round.study_id == study.id)
            .order_by(Round.number)
        )
        for number, summary_id, rows in session.execute(query).all():
            statistics: dict[str, Any] = {"rows": rows or []}
            if max((row.get("n") or 0 for row in statistics["rows"]), default=0) <= values_up_to:
                statistics["distributions"] = (
                    session.execute(
                        select(RoundSummary.statistics["distributions"]).where(
                            RoundSummary.id == summary_id
                        )
                    ).scalar_one()
                    or {}
                )
            summaries.append((number, statistics))
    fallback = study.languages["codes"][0]
    retired = {item.id for item in study.items if item.retired_at is not None}
    results = []
    for stored in all_items(study):
        definition = stored.definition
        if not definition.numeric:
            continue
        entry = ItemResults(
            key=definition.key,
            kind=definition.kind,
            text=definition.text.get(language, fallback),
            retired=stored.id in retired,
        )
        for number, statistics in summaries:
            values = statistics.get("distributions", {}).get(definition.key, {})
            for row in statistics["rows"]:
                if row["item"] == definition.key:
                    entry.components.setdefault(row["component"], []).append(
                        RoundResult(number, row, values.get(row["component"], []))
                    )
        results.append(entry)
    return results
