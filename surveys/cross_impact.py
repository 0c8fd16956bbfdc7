"""Cross-impact items at the close of a round: each trigger's pooled impact on the
scenarios (public, in the round summary) and each expert's coherence (private, beside it).

A cross-impact item asks, for each trigger, the scenario set the expert expects if the
trigger happens; with the expert's own P(trigger) items and their unconditional
scenario set, :func:`analysis.cross_impact` pools the conditional sets and checks each
expert's answers against the law of total probability.  The pooled result goes into the
round summary under ``"cross_impact"`` (only in studies that have such items, so every
other summary stays as it was); each expert's gaps go into
:class:`surveys.models.CoherenceGap`, which only that expert's next page reads.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

import analysis
from analysis.deferred import deferred
from analysis.pooling import DEFAULT_CLIP
from surveys.definition import ItemDefinition, StudyDefinition
from surveys.models import CoherenceGap, Panelist, Round, Study
from surveys.studies import all_items
from surveys.summary_glance import summary_parts

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

#: How the conditional and unconditional sets are pooled: the linear pool (the mean,
#: which keeps a set summing to 1), with the clip and trim every summary of the study
#: uses for its other pools (:func:`analysis.summarize_round`'s defaults).
POOLING: dict[str, Any] = {"method": "mean", "d": None, "trim": 0.1, "clip": DEFAULT_CLIP}


@dataclass(frozen=True)
class CrossImpactClose:
    """What closing a round computes for its cross-impact items."""

    #: ``{"cross_impact": {item key: record}}`` for the summary, or ``{}`` when the
    #: study has no cross-impact item.
    summary: dict[str, Any]
    #: ``(item key, result)`` of each item with a coherence check; its experts' records
    #: are made from the result's tables one at a time (:meth:`coherence`).
    checked: list[tuple[str, analysis.CrossImpact]]

    def coherence(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """``(pseudonym, item key, record)`` of every expert with a coherence check,
        item by item.  Made as they are read, not kept: at 100,000 experts the records
        as Python dicts took about 200 MB through the rest of the close."""
        for key, result in self.checked:
            for pseudonym, record in coherence_records(result):
                yield pseudonym, key, record


def cross_impact_items(definition: StudyDefinition) -> list[ItemDefinition]:
    """The study's cross-impact items, in the order of the definition."""
    return [item for item in definition.items if item.kind == "cross_impact"]


def close_cross_impact(
    frame: pd.DataFrame, definition: StudyDefinition, *, number: int, quantile_method: str
) -> CrossImpactClose:
    """Pool each cross-impact item of round ``number`` of ``frame`` (the tidy answers)
    and check each expert's coherence (:func:`analysis.cross_impact`, pooled as
    :data:`POOLING` says, quartiles by ``quantile_method``).

    An item whose scenario set or conditional sets nobody answered in the round gets a
    record with empty tables."""
    items = cross_impact_items(definition)
    if not items:
        return CrossImpactClose({}, [])
    records: dict[str, Any] = {}
    checked: list[tuple[str, analysis.CrossImpact]] = []
    answered = (
        set(frame.loc[frame["round"] == number, "item"].unique()) if not frame.empty else set()
    )
    for item in items:
        record = _empty_record(item, quantile_method)
        if item.scenario_item in answered and item.key in answered:
            # Only the rows it reads: validating and encoding the whole panel's answers
            # again for each item took seconds at 100,000 panelists.
            keys = [item.scenario_item, item.key, *(trigger.key for trigger in item.triggers)]
            result = analysis.cross_impact(
                frame.loc[frame["item"].isin(keys).to_numpy()],
                scenario_item=item.scenario_item or "",
                conditional_item=item.key,
                trigger_items=[trigger.key for trigger in item.triggers],
                round_number=number,
                quantile_method=quantile_method,
                **POOLING,
            )
            record = impact_record(item, result)
            # Only the coherence tables are kept, not the experts' shifts.
            checked.append(
                (
                    item.key,
                    dataclasses.replace(result, shifts=result.shifts.iloc[:0]),
                )
            )
        records[item.key] = record
    return CrossImpactClose({"cross_impact": records}, checked)


def _empty_record(item: ItemDefinition, quantile_method: str) -> dict[str, Any]:
    """The record of an item nobody answered in the round."""
    return {
        "scenario_item": item.scenario_item,
        "triggers": [trigger.key for trigger in item.triggers],
        "scenarios": [scenario.key for scenario in item.scenarios],
        "unconditional": {},
        "conditional": {},
        "impacts": [],
        "coherence": {"experts": 0, "coherent": 0, "infeasible": 0, "median_distance": None},
        "settings": {**POOLING, "quantile_method": quantile_method},
    }


def impact_record(item: ItemDefinition, result: analysis.CrossImpact) -> dict[str, Any]:
    """The public record of one item: pooled sets, the impact table, and how many
    experts were coherent (counts only, nobody named); probabilities in [0, 1]."""
    scenarios = [scenario.key for scenario in item.scenarios]
    triggers = [trigger.key for trigger in item.triggers]
    impacts = []
    for (trigger, scenario), row in result.impacts.iterrows():
        impacts.append(
            {"trigger": str(trigger), "scenario": str(scenario)}
            | {str(column): _plain(value) for column, value in row.items()}
        )
    order = {(t, s): (triggers.index(t), scenarios.index(s)) for t in triggers for s in scenarios}
    impacts.sort(key=lambda row: order.get((row["trigger"], row["scenario"]), (99, 99)))
    conditional = {
        str(trigger): {str(scenario): _plain(value) for scenario, value in row.items()}
        for trigger, row in result.conditional.iterrows()
    }
    summary = result.coherence_summary
    distances = summary["distance"].dropna()
    settings = dict(result.settings)
    return {
        "scenario_item": item.scenario_item,
        "triggers": triggers,
        "scenarios": scenarios,
        "unconditional": {
            str(scenario): _plain(value) for scenario, value in result.unconditional.items()
        },
        "conditional": conditional,
        "impacts": impacts,
        "coherence": {
            "experts": len(summary),
            "coherent": int(summary["coherent"].sum()),
            "infeasible": int((~summary["feasible"]).sum()),
            "median_distance": _plain(distances.median()) if len(distances) else None,
        },
        "settings": {
            **POOLING,
            "quantile_method": settings["quantile_method"],
            "rounds": {str(key): int(value) for key, value in settings["rounds"].items()},
            "tolerance": float(settings["tolerance"]),
        },
    }


#: The columns of each scenario in an expert's coherence record, in order.
COHERENCE_COLUMNS = ("given", "low", "high", "gap", "implied")


def coherence_records(result: analysis.CrossImpact) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each expert's coherence, as (pseudonym, record) in the summary's order (private:
    see :class:`CoherenceGap`).

    One pass over the tables' arrays, not a pandas selection and row Series per expert
    (14 of the 16 s this took at 10,000 panelists); the cells are read from the same
    arrays pandas iterates rows from (:meth:`pandas.DataFrame.to_numpy`, every column
    at once), so the values and their types are those rows held."""
    table = result.coherence
    summary = result.coherence_summary
    if summary.empty:
        return
    cells = table.to_numpy()
    wanted = [table.columns.get_loc(column) for column in COHERENCE_COLUMNS]
    scenarios = table.index.droplevel("panelist")
    rows_of: dict[Any, list[int]] = {}
    for position, panelist in enumerate(table.index.get_level_values("panelist")):
        rows_of.setdefault(panelist, []).append(position)
    totals = summary.to_numpy()
    distance, coherent, feasible, triggers = (
        summary.columns.get_loc(column)
        for column in ("distance", "coherent", "feasible", "triggers")
    )
    for panelist, row in zip(summary.index, totals, strict=True):
        yield (
            str(panelist),
            {
                "scenarios": {
                    str(scenarios[position]): {
                        column: _plain(cells[position, index])
                        for column, index in zip(COHERENCE_COLUMNS, wanted, strict=True)
                    }
                    for position in rows_of[panelist]
                },
                "distance": _plain(row[distance]),
                "coherent": bool(row[coherent]),
                "feasible": bool(row[feasible]),
                "triggers": int(row[triggers]),
            },
        )


#: Coherence records written per statement: the records are made as they are written,
#: so that a close holds this many at a time, not one per expert and item.
STORE_BATCH = 5_000


def store_coherence(
    session: Session, round_: Round, coherence: Iterable[tuple[str, str, dict[str, Any]]]
) -> None:
    """Write the experts' coherence records of ``round_`` (pseudonyms → panelist ids),
    in the order given, :data:`STORE_BATCH` to a statement."""
    rows = iter(coherence)
    batch = list(itertools.islice(rows, STORE_BATCH))
    if not batch:
        return
    ids = dict(
        session.execute(
            select(Panelist.pseudonym, Panelist.id).where(Panelist.study_id == round_.study_id)
        ).all()
    )
    while batch:
        values = [
            {
                "round_id": round_.id,
                "panelist_id": ids[pseudonym],
                "item_key": item_key,
                "record": record,
            }
            for pseudonym, item_key, record in batch
            if pseudonym in ids
        ]
        if values:
            session.execute(insert(CoherenceGap), values)
        batch = list(itertools.islice(rows, STORE_BATCH))


def own_coherence(session: Session, round_id: int, panelist_id: int) -> dict[str, dict[str, Any]]:
    """One expert's coherence records of a closed round, by item key: what only their
    own page shows."""
    return dict(
        session.execute(
            select(CoherenceGap.item_key, CoherenceGap.record).where(
                CoherenceGap.round_id == round_id, CoherenceGap.panelist_id == panelist_id
            )
        ).all()
    )


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python ones, NaN as ``None``."""
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def trigger_texts(item: ItemDefinition, language: str, fallback: str) -> Mapping[str, str]:
    """Each trigger's text in ``language``."""
    return {trigger.key: trigger.text.get(language, fallback) for trigger in item.triggers}


# -- reading the stored records, for the console and the report ---------------------------


@dataclass(frozen=True)
class ImpactRow:
    """One trigger and scenario of an impact table, in percent (the shift's spread in
    percentage points)."""

    trigger_key: str
    trigger: str
    scenario_key: str
    scenario: str
    #: Pooled P(scenario | trigger) and pooled P(scenario).
    conditional: float | None
    unconditional: float | None
    #: ``conditional − unconditional``.
    impact: float | None
    #: The spread of the experts' own shifts P(S | T) − P(S): sd, quartiles, and how
    #: many experts gave both sets.
    shift_sd: float | None
    shift_q1: float | None
    shift_q3: float | None
    n_paired: int


@dataclass(frozen=True)
class ImpactTable:
    """A cross-impact item's result in the latest closed round that summarised it."""

    key: str
    text: str
    round: int
    rows: list[ImpactRow]
    #: How many experts' coherence was checked, how many were coherent, and how many
    #: gave answers no scenario set fits (counts only: nobody is named).
    experts: int
    coherent: int
    infeasible: int
    #: The median total-variation distance between given and nearest coherent sets.
    median_distance: float | None
    method: str

    @property
    def triggers(self) -> list[tuple[str, list[ImpactRow]]]:
        """The rows grouped by trigger text, in the item's order."""
        grouped: dict[str, list[ImpactRow]] = {}
        for row in self.rows:
            grouped.setdefault(row.trigger, []).append(row)
        return list(grouped.items())


def impact_tables(session: Session, study: Study, language: str) -> list[ImpactTable]:
    """Each cross-impact item's impact table from the latest closed round whose summary
    holds it (its ``"cross_impact"`` part only, from the summaries' glances,
    :func:`surveys.summary_glance.summary_parts`), texts in ``language`` (else the
    study's first)."""
    items = [stored.definition for stored in all_items(study)]
    wanted = [item for item in items if item.kind == "cross_impact"]
    if not wanted:
        return []
    stored = [
        (number, parts["cross_impact"])
        for number, parts in reversed(summary_parts(session, study.id, ("cross_impact",)))
    ]
    fallback = study.languages["codes"][0]
    tables = []
    for item in wanted:
        latest = [
            (number, records[item.key])
            for number, records in stored
            if records and records.get(item.key, {}).get("impacts")
        ]
        if not latest:
            continue
        number, record = latest[-1]
        tables.append(_impact_table(item, number, record, language, fallback))
    return tables


def _impact_table(
    item: ItemDefinition, number: int, record: Mapping[str, Any], language: str, fallback: str
) -> ImpactTable:
    """One stored record as an :class:`ImpactTable` with its texts."""
    triggers = {trigger.key: trigger.text.get(language, fallback) for trigger in item.triggers}
    scenarios = {s.key: s.text.get(language, fallback) for s in item.scenarios}

    def percent(value: Any) -> float | None:
        return None if value is None else 100 * float(value)

    rows = [
        ImpactRow(
            trigger_key=row["trigger"],
            trigger=triggers.get(row["trigger"], row["trigger"]),
            scenario_key=row["scenario"],
            scenario=scenarios.get(row["scenario"], row["scenario"]),
            conditional=percent(row.get("conditional")),
            unconditional=percent(row.get("unconditional")),
            impact=percent(row.get("impact")),
            shift_sd=percent(row.get("shift_sd")),
            shift_q1=percent(row.get("shift_q1")),
            shift_q3=percent(row.get("shift_q3")),
            n_paired=int(row.get("n_paired") or 0),
        )
        for row in record["impacts"]
    ]
    coherence = record.get("coherence", {})
    return ImpactTable(
        key=item.key,
        text=item.text.get(language, fallback),
        round=number,
        rows=rows,
        experts=int(coherence.get("experts", 0)),
        coherent=int(coherence.get("coherent", 0)),
        infeasible=int(coherence.get("infeasible", 0)),
        median_distance=percent(coherence.get("median_distance")),
        method=str(record.get("settings", {}).get("method", POOLING["method"])),
    )
