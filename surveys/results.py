"""A study's results across its closed rounds, item by item, for the console.

Read from the stored round summaries only: what the panel saw is what the facilitator
sees, and nothing here is recomputed or joined to a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.histogram import tally
from surveys.models import Round, RoundSummary, Study
from surveys.studies import all_items


@dataclass(frozen=True)
class RoundResult:
    """One distribution of one item in one closed round."""

    round: int
    statistics: dict[str, Any]
    #: The round's answers, sorted; empty when they were not read (a round of more
    #: answers than the caller shows one by one: see :func:`study_results`).  With
    #: :attr:`counts`, its distinct answers, ascending.
    values: list[float]
    #: How many gave each of :attr:`values` (a tally), or ``None`` when each value is
    #: one answer.
    counts: list[int] | None = None


@dataclass(frozen=True)
class ItemResults:
    """An item's distributions, round after round, by component (``""`` if single)."""

    key: str
    kind: str
    text: str
    retired: bool
    components: dict[str, list[RoundResult]] = field(default_factory=dict)


def summary_tallies(statistics: Mapping[str, Any]) -> dict[str, dict[str, dict[str, list[Any]]]]:
    """The tally of every distribution of a round summary's ``statistics``:
    ``{item: {component: {"values": distinct answers, "counts": how many gave each}}}``
    (:func:`analysis.histogram.tally`), stored beside the summary at close
    (``RoundSummary.tallies``) for the results page."""
    tallies: dict[str, dict[str, dict[str, list[Any]]]] = {}
    for key, components in statistics.get("distributions", {}).items():
        tallies[key] = {}
        for component, values in components.items():
            distinct, counts = tally(values)
            tallies[key][component] = {"values": distinct, "counts": counts}
    return tallies


def study_results(
    session: Session, study: Study, language: str, *, values_up_to: int | None = None
) -> list[ItemResults]:
    """Every numeric item's stored summaries over the closed rounds, in item order.

    Without ``values_up_to`` (the results page), each distribution comes as its tally:
    its distinct answers with their counts (:attr:`RoundResult.counts`), read from the
    summary's ``tallies`` and its rows from its ``glance``, both written at close, so
    that the page reads what grows with the different answers, not with the panel.  A
    summary stored without them has its rows and answers read and tallied here.

    With ``values_up_to`` (the report), each distribution comes with its sorted
    answers, unless one of the round's distributions has more answers than that: the
    round's answers are then not read at all (at 100,000 panelists they are most of
    the stored summary, hundreds of MB), only its statistics, which the database takes
    out of the summary (``->`` in PostgreSQL, ``json_extract`` in SQLite)."""
    summaries: list[tuple[int, dict[str, Any]]] = []
    if values_up_to is None:
        query = (
            select(Round.number, RoundSummary.id, RoundSummary.glance, RoundSummary.tallies)
            .join(RoundSummary.round)
            .where(Round.study_id == study.id)
            .order_by(Round.number)
        )
        for number, summary_id, glance, tallies in session.execute(query).all():
            if glance is None or tallies is None:  # stored before either was written
                rows, distributions = session.execute(
                    select(
                        RoundSummary.statistics["rows"], RoundSummary.statistics["distributions"]
                    ).where(RoundSummary.id == summary_id)
                ).one()
                glance = {"rows": rows or []}
                tallies = summary_tallies({"distributions": distributions or {}})
            summaries.append((number, {"rows": glance.get("rows", []), "tallies": tallies}))
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
            tallies = statistics.get("tallies", {}).get(definition.key, {})
            for row in statistics["rows"]:
                if row["item"] != definition.key:
                    continue
                component = row["component"]
                if "tallies" in statistics:
                    counted = tallies.get(component, {"values": [], "counts": []})
                    result = RoundResult(number, row, counted["values"], counted["counts"])
                else:
                    result = RoundResult(number, row, values.get(component, []))
                entry.components.setdefault(component, []).append(result)
        results.append(entry)
    return results
