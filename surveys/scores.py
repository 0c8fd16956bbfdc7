"""The panel's scores, stored (issue 16, point 4).

Scores change only when an outcome is recorded, corrected or withdrawn
(:mod:`surveys.resolutions`) or a round closes (its answers become the scored ones).
Each of these rewrites the study's :class:`~surveys.models.ScoreSheet` and its
:class:`~surveys.models.ForecasterScore` rows in its own transaction
(:func:`store_scores`), and every reader (the outcomes page, an expert's page, the
report, the exports, the API) reads those rows: no page computes a score, however large
the panel.

What is stored:

- per panelist (by pseudonym, never a name) and per pooling method, the summary over
  all resolved items (``item = ""``): the columns of
  :data:`analysis.scoring.SCORE_SUMMARY_COLUMNS`;
- per pooling method, the same on each resolved item (a few rows per item, whatever
  the panel's size).  A panelist's score on each item is not stored: at 100,000
  panelists that is a row per panelist and item written at every change; the
  responses export and the resolutions give it to whoever needs it;
- how the panelists' scores spread (count, best, quartiles under the study's quantile
  method, worst), and how many panelists each pooling method beats on the items each
  answered (:func:`analysis.pool_versus_panelists`), which the report gives besides
  the panelists' scores ranked without pseudonym;
- calibration tables (:func:`analysis.calibration_table`, :data:`CALIBRATION_BINS`
  equal bins) for each pooling method and for the panel (every panelist's forecasts
  together), each with the number of distinct resolved events it rests on.

A calibration table is shown once it rests on at least :data:`MIN_CALIBRATION_EVENTS`
resolved events (a probability item is one event, a scenario set one per scenario);
below :data:`FEW_CALIBRATION_EVENTS` the pages say that its bins hold few forecasts
each and that the intervals, not the points, are what to read.

Concurrency: the transaction that changes scores begins by writing the study's sheet
(:func:`claim`): on SQLite that takes the database's write lock, on PostgreSQL the
row's lock, so two changes at once (two outcomes recorded together, an outcome during
a close) run one after the other and the second scores what the first committed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from surveys.models import ForecasterScore, ItemResolution, ScoreSheet, Study, utcnow
from surveys.upsert import upsert

#: Pooling methods in the order pages show them.
POOLS: tuple[str, ...] = ("mean", "median", "trimmed_mean", "geometric_odds", "extremized")
#: The calibration table of all panelists' forecasts together.
PANEL = "panel"
#: Equal-width bins of a calibration table: deciles of probability.
CALIBRATION_BINS = 10
#: A calibration table is shown once it rests on this many resolved events.
MIN_CALIBRATION_EVENTS = 10
#: Below this many events a shown calibration table comes with a warning.
FEW_CALIBRATION_EVENTS = 50
#: The pool an expert's own score is compared with: the linear pool.
COMPARISON_POOL = "mean"
SUMMARY_FIELDS: tuple[str, ...] = (
    "items",
    "log",
    "probability_items",
    "brier",
    "scenario_items",
    "brier_scenarios",
)


@dataclass(frozen=True)
class Calibration:
    """One forecaster's calibration table (non-empty bins only) and what it rests on."""

    forecaster: str
    #: Distinct resolved events (item and scenario) the forecasts are of.
    events: int
    #: Forecasts in the table (events × panelists for the panel).
    forecasts: int
    rows: list[dict[str, Any]]

    @property
    def shown(self) -> bool:
        """Whether there are enough events to show it (:data:`MIN_CALIBRATION_EVENTS`)."""
        return self.events >= MIN_CALIBRATION_EVENTS

    @property
    def few(self) -> bool:
        """Whether it rests on fewer than :data:`FEW_CALIBRATION_EVENTS` events."""
        return self.events < FEW_CALIBRATION_EVENTS


@dataclass(frozen=True)
class StoredScores:
    """The study's stored scores as the pages read them (panelists apart: paged)."""

    revision: int
    computed_at: datetime
    #: Item key → the round whose answers were scored.
    rounds: dict[str, int]
    #: One summary per pooling method, in :data:`POOLS` order (``forecaster``, fields).
    pools: list[dict[str, Any]]
    #: Per pooling method, its score on each item (``item``, fields).
    pool_items: dict[str, list[dict[str, Any]]]
    #: How many panelists have a score.
    panelists: int
    calibration: dict[str, Calibration]
    settings: dict[str, Any]
    #: Per pooling method, how many panelists it beats, ties and loses to on the items
    #: each answered (``panelists``, ``pool_better``, ``tied``, ``panelist_better``);
    #: empty for scores stored before it was.
    pool_comparison: dict[str, dict[str, int]]


def claim(session: Session, study: Study) -> None:
    """Begin the transaction that changes ``study``'s scores with a write to its sheet
    (see the module's note on concurrency)."""
    upsert(
        session,
        ScoreSheet,
        [
            {
                "study_id": study.id,
                "revision": 0,
                "computed_at": utcnow(),
                "settings": {},
                "calibration": {},
            }
        ],
        conflict=("study_id",),
        update=("computed_at",),
    )


def store_scores(session: Session, study: Study) -> None:
    """Compute ``study``'s scores and replace the stored ones, in the session's
    transaction (which :func:`claim` began); the caller commits."""
    from analysis.scoring import calibration_table
    from surveys.resolutions import forecast_scores

    scores = forecast_scores(session, study)
    session.execute(delete(ForecasterScore).where(ForecasterScore.study_id == study.id))
    rows: list[dict[str, Any]] = []
    calibration: dict[str, Any] = {}
    settings: dict[str, Any] = {"rounds": {}}
    if scores is not None:
        settings = dict(scores.settings)
        for (kind, forecaster), values in scores.summary.iterrows():
            rows.append(_row(study.id, str(kind), str(forecaster), "", values.to_dict()))
        pool_items = scores.items[scores.items["kind"] == "pool"]
        for record in pool_items.to_dict("records"):
            probability = record["item_kind"] == "probability"
            rows.append(
                _row(
                    study.id,
                    "pool",
                    str(record["forecaster"]),
                    str(record["item"]),
                    {
                        "items": 1,
                        "log": record["log"],
                        "probability_items": int(probability),
                        "brier": record["brier"] if probability else None,
                        "scenario_items": int(not probability),
                        "brier_scenarios": None if probability else record["brier"],
                    },
                )
            )
        settings["panel"] = _panel_distribution(scores.summary, study.quantile_method)
        settings["pool_versus_panelists"] = _pool_comparison(scores.items)
        forecasts = scores.forecasts
        groups = {PANEL: forecasts[forecasts["kind"] == "panelist"]}
        for pool in POOLS:
            groups[pool] = forecasts[
                (forecasts["kind"] == "pool") & (forecasts["forecaster"] == pool)
            ]
        for name, part in groups.items():
            table = calibration_table(
                part["forecast"].to_numpy(dtype=float),
                part["outcome"].to_numpy(dtype=float),
                bins=CALIBRATION_BINS,
            )
            calibration[name] = {
                "events": len(part[["item", "component"]].drop_duplicates()),
                "forecasts": len(part),
                "rows": [
                    {key: _plain(value) for key, value in row.items()}
                    for row in table.to_dict("records")
                    if row["count"] > 0
                ],
            }
    if rows:
        session.execute(insert(ForecasterScore), rows)
    settings["resolved"] = session.execute(
        select(func.count()).select_from(ItemResolution).where(ItemResolution.study_id == study.id)
    ).scalar_one()
    settings["bins"] = CALIBRATION_BINS
    sheet = session.execute(
        select(ScoreSheet)
        .where(ScoreSheet.study_id == study.id)
        .execution_options(populate_existing=True)
    ).scalar_one()
    sheet.revision += 1
    sheet.computed_at = utcnow()
    sheet.settings = settings
    sheet.calibration = calibration


#: The scores whose spread over the panelists the report gives.
SPREAD_FIELDS: tuple[str, ...] = ("brier", "brier_scenarios", "log")


def _panel_distribution(summary: Any, quantile_method: str) -> dict[str, Any]:
    """How the panelists' scores spread (the report shows this, not a row per
    pseudonym): per score, the number of panelists with one, the best (lowest), the
    quartiles under the study's quantile method (numpy's ``method=``, Hyndman & Fan
    1996) and the worst."""
    import numpy as np

    kinds = summary.index.get_level_values("kind")
    panel = summary[kinds == "panelist"]
    spread: dict[str, Any] = {}
    for field in SPREAD_FIELDS:
        values = panel[field].to_numpy(dtype=float) if len(panel) else np.array([])
        values = values[~np.isnan(values)]
        if not len(values):
            spread[field] = {"n": 0}
            continue
        method: Any = quantile_method  # one of analysis.QUANTILE_METHODS, numpy's names
        q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75], method=method)
        spread[field] = {
            "n": len(values),
            "min": float(values.min()),
            "q1": float(q1),
            "median": float(median),
            "q3": float(q3),
            "max": float(values.max()),
        }
    return spread


def _pool_comparison(items: Any) -> dict[str, dict[str, int]]:
    """Per pooling method (:data:`POOLS` order), how many panelists it beats, ties and
    loses to on the items each answered (:func:`analysis.pool_versus_panelists`)."""
    from analysis.scoring import pool_versus_panelists

    table = pool_versus_panelists(items)
    return {
        pool: {column: int(value) for column, value in table.loc[pool].items()}
        for pool in POOLS
        if pool in table.index
    }


def refresh_scores(session: Session, study: Study) -> None:
    """Recompute and store ``study``'s scores if any outcome is recorded (after a
    round closes: its answers are now the scored ones); committed."""
    resolved = session.execute(
        select(ItemResolution.id).where(ItemResolution.study_id == study.id).limit(1)
    ).first()
    if resolved is None:
        return
    claim(session, study)
    store_scores(session, study)
    session.commit()


def _plain(value: Any) -> Any:
    """A number for JSON: NaN as None, numpy scalars as Python's."""
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        return None
    return int(number) if float(number).is_integer() and not isinstance(value, float) else number


def _row(study_id: int, kind: str, forecaster: str, item: str, values: dict[str, Any]) -> dict:
    row: dict[str, Any] = {
        "study_id": study_id,
        "kind": kind,
        "forecaster": forecaster,
        "item": item,
    }
    for field in SUMMARY_FIELDS:
        value = _plain(values.get(field))
        if field in ("items", "probability_items", "scenario_items"):
            value = int(value or 0)
        row[field] = value
    return row


def _fields(row: ForecasterScore) -> dict[str, Any]:
    return {
        "forecaster": row.forecaster,
        "item": row.item,
        **{field: getattr(row, field) for field in SUMMARY_FIELDS},
    }


def stored_scores(session: Session, study: Study) -> StoredScores | None:
    """The study's stored scores, without the panelists' rows (see
    :func:`panelist_scores`); ``None`` while nothing is scored."""
    sheet = session.get(ScoreSheet, study.id)
    if sheet is None:
        return None
    pools = {
        (row.forecaster, row.item): row
        for row in session.execute(
            select(ForecasterScore).where(
                ForecasterScore.study_id == study.id, ForecasterScore.kind == "pool"
            )
        ).scalars()
    }
    if not pools:
        return None
    panelists = session.execute(
        select(func.count())
        .select_from(ForecasterScore)
        .where(
            ForecasterScore.study_id == study.id,
            ForecasterScore.kind == "panelist",
            ForecasterScore.item == "",
        )
    ).scalar_one()
    pool_items: dict[str, list[dict[str, Any]]] = {pool: [] for pool in POOLS}
    for (forecaster, item), row in sorted(pools.items()):
        if item and forecaster in pool_items:
            pool_items[forecaster].append(_fields(row))
    return StoredScores(
        revision=sheet.revision,
        computed_at=sheet.computed_at,
        rounds=dict(sheet.settings.get("rounds", {})),
        pools=[_fields(pools[(pool, "")]) for pool in POOLS if (pool, "") in pools],
        pool_items=pool_items,
        panelists=panelists,
        calibration={
            name: Calibration(
                forecaster=name,
                events=entry["events"],
                forecasts=entry["forecasts"],
                rows=entry["rows"],
            )
            for name, entry in sheet.calibration.items()
        },
        settings=dict(sheet.settings),
        pool_comparison=dict(sheet.settings.get("pool_versus_panelists", {})),
    )


def panelist_scores(
    session: Session, study: Study, *, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """The panelists' summaries by pseudonym, best (lowest) logarithmic score first,
    ``limit`` of them from ``offset`` (all by default)."""
    query = (
        select(ForecasterScore)
        .where(
            ForecasterScore.study_id == study.id,
            ForecasterScore.kind == "panelist",
            ForecasterScore.item == "",
        )
        .order_by(ForecasterScore.log, ForecasterScore.forecaster)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_fields(row) for row in session.execute(query).scalars()]


def iter_panelist_scores(session: Session, study: Study) -> Iterator[dict[str, Any]]:
    """Every panelist's summary, by pseudonym, read in batches (for the exports)."""
    query = (
        select(ForecasterScore)
        .where(
            ForecasterScore.study_id == study.id,
            ForecasterScore.kind == "panelist",
            ForecasterScore.item == "",
        )
        .order_by(ForecasterScore.forecaster)
        .execution_options(yield_per=1000)
    )
    for row in session.execute(query).scalars():
        yield _fields(row)


@dataclass(frozen=True)
class OwnScore:
    """What an expert's page shows: their own summary and the pooled panel's."""

    mine: dict[str, Any]
    pool: dict[str, Any] | None
    pool_name: str


def own_score(session: Session, study_id: int, pseudonym: str) -> OwnScore | None:
    """``pseudonym``'s own scores and the :data:`COMPARISON_POOL`'s, if the study
    shows experts their score (``Study.show_own_score``) and they have one; never
    another panelist's.  One query, whatever the panel's size."""
    rows = {
        row.kind: row
        for row in session.execute(
            select(ForecasterScore)
            .join(Study, Study.id == ForecasterScore.study_id)
            .where(
                ForecasterScore.study_id == study_id,
                Study.show_own_score.is_(True),
                ForecasterScore.item == "",
                ((ForecasterScore.kind == "panelist") & (ForecasterScore.forecaster == pseudonym))
                | (
                    (ForecasterScore.kind == "pool")
                    & (ForecasterScore.forecaster == COMPARISON_POOL)
                ),
            )
        ).scalars()
    }
    if "panelist" not in rows:
        return None
    pool = rows.get("pool")
    return OwnScore(
        mine=_fields(rows["panelist"]),
        pool=_fields(pool) if pool is not None else None,
        pool_name=COMPARISON_POOL,
    )
