"""The feedback a closed round gives the next: computed once at close, read per item.

An expert page in round N+1 shows, per item, round N's statistics, a chart of the
panel's answers and some of the panel's reasons.  The round's stored summary holds all
of that, but grows with the panel (every sorted answer and every rationale: 33 MB at
100,000 panelists), so pages read two small things written beside it when the round
closes (:func:`store_feedback`), and never the summary itself:

- :class:`surveys.models.ItemFeedback`, one record per item: its summary rows, the bars
  of its charts (:mod:`analysis.histogram`), how many could not judge it, and how many
  reasons fall below, inside and above the round's middle half;
- :class:`surveys.models.FeedbackReason`, the round's reasons without their authors,
  numbered within their stratum, so that a page fetches the few it shows by number.

Which reasons an expert reads is the rule of :mod:`analysis.reasons` (a stratified
random sample of at most :data:`REASONS_PER_PAGE` a page, stable for the expert and
round, paged), stated in the study's protocol and report (:func:`selection_rule_text`).
A facilitator may pin up to :data:`REASONS_PER_PAGE` reasons per item of a closed round
(:func:`pin_reason`): every expert then reads them first, within the same bound.

Rounds closed before these records existed get theirs the first time a page asks
(:func:`round_feedback`), from the stored summary and the round's answers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, insert, literal, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analysis.histogram import Histogram, histogram
from analysis.reasons import ABOVE, BELOW, INSIDE, STRATA, page_count, reason_order, stratum
from surveys import audit
from surveys.definition import ItemDefinition
from surveys.errors import Conflict, NotFound
from surveys.models import (
    FeedbackReason,
    Item,
    ItemFeedback,
    Panelist,
    Response,
    ResponseStatus,
    Round,
    RoundStatus,
    RoundSummary,
    Study,
    User,
    utcnow,
)
from surveys.studies import all_items

log = logging.getLogger(__name__)

#: Most reasons an expert reads per item and page, pinned ones included (they open
#: page 1; at most this many may be pinned per item).
REASONS_PER_PAGE = 9
#: Bars of a continuous chart (a discrete scale has one per option).
CHART_BINS = 10
#: The part of an answer whose value sorts its reason into a stratum, by item kind;
#: kinds not listed (scenario sets, rankings) have no single such part: all their
#: reasons count as inside the middle half.
STRATIFYING_PART = {"likert": "", "probability": "", "numeric_estimate": "best"}


@dataclass(frozen=True)
class PanelRationale:
    """A reason one panelist gave, and the language of the page they wrote it on
    (``None`` when unknown); ``pinned`` when the facilitator put it first."""

    text: str
    language: str | None = None
    pinned: bool = False


@dataclass(frozen=True)
class ReasonPage:
    """The reasons one expert reads on one item: page ``page`` of ``pages``."""

    reasons: list[PanelRationale] = field(default_factory=list)
    #: Reasons the panel gave for the item in all.
    total: int = 0
    page: int = 1
    pages: int = 1


def selection_rule_text() -> str:
    """The selection rule in one paragraph (English), for the protocol and the report."""
    return (
        f"Experts read at most {REASONS_PER_PAGE} of the panel's reasons per item at a "
        "time, never with their author. Reasons the facilitator pinned (at most "
        f"{REASONS_PER_PAGE} per item) count among them and come first, for every "
        "expert. The other reasons of a round are split by the answer each came with "
        "(the single value, or a numeric estimate's best guess) into three strata: "
        "below the round's middle half (under Q1), inside it (Q1 to Q3, and answers "
        "without such a value, and all reasons of scenario sets and rankings) and above "
        "it (over Q3). Each stratum is put in a random order drawn for each expert, "
        "round and item, and the strata take turns filling the pages (one that runs out "
        "gives its turn to the others), so that every page holds about as many reasons "
        "from each side of the panel as from its middle while they last. Within a page "
        "the drawn reasons are shown in a random order as well, so that their order "
        "does not tell which side of the panel a reason came from. The same expert sees "
        "the same reasons in the same order on reloading; 'Show more reasons' pages on "
        "through the same sequence without repeating one."
    )


def stratifying_part(definition: ItemDefinition) -> str | None:
    """The part of ``definition``'s answers that sorts its reasons into strata."""
    return STRATIFYING_PART.get(definition.kind)


def component_histogram(definition: ItemDefinition, values: Sequence[float]) -> Histogram:
    """The bars of the chart of one part of an item: one per option on a discrete
    scale, else :data:`CHART_BINS` bins over the item's bounds, or for a numeric
    estimate over the panel's own range widened by 5 % on each side."""
    if definition.kind == "numeric_estimate":
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        padding = (high - low) * 0.05 or 1.0
        minimum, maximum = low - padding, high + padding
    else:
        bounds = definition.bounds or (0.0, 1.0)
        minimum, maximum = bounds
    return histogram(
        values,
        minimum=minimum,
        maximum=maximum,
        discrete=definition.kind in ("likert", "ranking"),
        bins=CHART_BINS,
    )


def item_records(
    definitions: Iterable[ItemDefinition],
    statistics: Mapping[str, Any],
    reason_counts: Mapping[str, Sequence[int]],
) -> dict[str, dict[str, Any]]:
    """The :class:`ItemFeedback` record of every item in ``definitions`` from a round's
    summary ``statistics`` (as :func:`surveys.rounds.close_round` stores it, or as a
    preview computes it) and the number of reasons per stratum of each item."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in statistics.get("rows", []):
        rows.setdefault(row["item"], []).append(row)
    distributions = statistics.get("distributions", {})
    cannot_judge = statistics.get("cannot_judge", {})
    records = {}
    for definition in definitions:
        key = definition.key
        records[key] = {
            "rows": rows.get(key, []),
            "histograms": {
                component: component_histogram(definition, values).to_json()
                for component, values in distributions.get(key, {}).items()
            },
            "cannot_judge": cannot_judge.get(key, 0),
            "reasons": list(reason_counts.get(key, [0] * len(STRATA))),
        }
    return records


def store_feedback(
    session: Session, round_: Round, statistics: Mapping[str, Any], study: Study
) -> None:
    """Write round ``round_``'s feedback beside its summary ``statistics`` (in the
    caller's transaction): its reasons, numbered within their strata, by one statement
    the database runs on its own, then one record per item of the study."""
    definitions = [stored.definition for stored in all_items(study)]
    quartiles = {
        (row["item"], row["component"]): (row.get("q1"), row.get("q3"))
        for row in statistics.get("rows", [])
    }
    whens = []
    for definition in definitions:
        part = stratifying_part(definition)
        q1, q3 = quartiles.get((definition.key, part or ""), (None, None))
        if part is None or q1 is None or q3 is None:
            continue
        path = "value" if part == "" else ("components", part)
        value = Response.answer[path].as_float()
        # Nested: each row compares keys until its own, then reads its answer at most
        # twice (a JSON column is parsed again on every read).
        whens.append(
            (
                Item.key == definition.key,
                case((value < q1, BELOW), (value > q3, ABOVE), else_=INSIDE),
            )
        )
    stratum_of = case(*whens, else_=INSIDE) if whens else literal(INSIDE)
    reasons = (
        select(
            Item.key.label("item_key"),
            stratum_of.label("stratum"),
            Response.rationale.label("text"),
            func.coalesce(Response.language, Panelist.language).label("language"),
            Response.id.label("response_id"),
        )
        .join(Response.item)
        .join(Response.panelist)
        .where(
            Response.round_id == round_.id,
            Response.status == ResponseStatus.SUBMITTED,
            Response.rationale.is_not(None),
            Response.rationale != "",
        )
        .subquery()
    )
    position = (
        func.row_number().over(
            partition_by=(reasons.c.item_key, reasons.c.stratum),
            order_by=(reasons.c.text, reasons.c.language, reasons.c.response_id),
        )
        - 1
    )
    session.execute(
        insert(FeedbackReason).from_select(
            ["round_id", "item_key", "stratum", "position", "text", "language"],
            select(
                literal(round_.id),
                reasons.c.item_key,
                reasons.c.stratum,
                position,
                reasons.c.text,
                reasons.c.language,
            ),
        )
    )
    counts: dict[str, list[int]] = {}
    for key, index, count in session.execute(
        select(FeedbackReason.item_key, FeedbackReason.stratum, func.count())
        .where(FeedbackReason.round_id == round_.id)
        .group_by(FeedbackReason.item_key, FeedbackReason.stratum)
    ):
        counts.setdefault(key, [0] * len(STRATA))[index] = count
    records = item_records(definitions, statistics, counts)
    session.execute(
        insert(ItemFeedback),
        [
            {"round_id": round_.id, "item_key": key, "record": record}
            for key, record in records.items()
        ],
    )


def round_feedback(session: Session, round_: Round) -> dict[str, dict[str, Any]]:
    """The feedback records of closed round ``round_`` by item key: a few small rows.

    A round closed before records were written (or whose records are missing) gets
    them now, once, from its stored summary and answers; a page asking at the same
    time as another finds the other's."""
    records = _records(session, round_.id)
    if records or round_.status != RoundStatus.CLOSED:
        return records
    summary = session.execute(
        select(RoundSummary).where(RoundSummary.round_id == round_.id)
    ).scalar_one_or_none()
    study = session.get(Study, round_.study_id)
    if summary is None or study is None:
        return records
    try:
        with session.begin_nested():
            store_feedback(session, round_, summary.statistics, study)
        session.commit()
        log.info("stored the feedback of round %d of %s", round_.number, study.slug)
    except IntegrityError:
        session.rollback()  # another request stored it first
    return _records(session, round_.id)


def _records(session: Session, round_id: int) -> dict[str, dict[str, Any]]:
    """The stored feedback records of a round by item key."""
    query = select(ItemFeedback.item_key, ItemFeedback.record).where(
        ItemFeedback.round_id == round_id
    )
    return {row.item_key: row.record for row in session.execute(query)}


def reason_pages(
    session: Session,
    round_id: int,
    records: Mapping[str, Mapping[str, Any]],
    seeds: Mapping[str, str],
    pages: Mapping[str, int] | None = None,
) -> dict[str, ReasonPage]:
    """The reasons an expert reads on each item of ``seeds`` (item key → the expert's
    seed, :func:`analysis.reasons.selection_seed`) from closed round ``round_id``:
    page ``pages[key]`` (default 1; past the last: the last) of each, pinned reasons
    first and counted within :data:`REASONS_PER_PAGE`.  Two queries, whatever the
    panel's size: the pinned reasons of the round, then the drawn ones by number."""
    pages = pages or {}
    pinned: dict[str, dict[tuple[int, int], PanelRationale]] = {}
    for key, index, position, text, language in session.execute(
        select(
            FeedbackReason.item_key,
            FeedbackReason.stratum,
            FeedbackReason.position,
            FeedbackReason.text,
            FeedbackReason.language,
        )
        .where(FeedbackReason.round_id == round_id, FeedbackReason.pinned_at.is_not(None))
        .order_by(FeedbackReason.pinned_at, FeedbackReason.id)
    ):
        pinned.setdefault(key, {})[(index, position)] = PanelRationale(
            text, language or None, pinned=True
        )
    orders: dict[str, tuple[int, list[tuple[int, int]]]] = {}
    for key, seed in seeds.items():
        if key not in records:
            continue
        counts = records[key].get("reasons", [])
        # Brought within the pages before the order is drawn: a page past the last
        # shows the last, and costs no more than it.
        page = min(max(pages.get(key, 1), 1), page_count(sum(counts), REASONS_PER_PAGE))
        order = reason_order(
            counts,
            seed=seed,
            page=page,
            per_page=REASONS_PER_PAGE,
            pinned=list(pinned.get(key, {})),
        )
        orders[key] = (page, order)
    wanted = [
        (key, index, position)
        for key, (_, order) in orders.items()
        for index, position in order
        if (index, position) not in pinned.get(key, {})
    ]
    found: dict[tuple[str, int, int], PanelRationale] = {}
    if wanted:
        for key, index, position, text, language in session.execute(
            select(
                FeedbackReason.item_key,
                FeedbackReason.stratum,
                FeedbackReason.position,
                FeedbackReason.text,
                FeedbackReason.language,
            ).where(
                FeedbackReason.round_id == round_id,
                tuple_(
                    FeedbackReason.item_key, FeedbackReason.stratum, FeedbackReason.position
                ).in_(wanted),
            )
        ):
            found[(key, index, position)] = PanelRationale(text, language or None)
    result = {}
    for key, (page, order) in orders.items():
        first = pinned.get(key, {})
        shown = [
            first[pair] if pair in first else found[(key, *pair)]
            for pair in order
            if pair in first or (key, *pair) in found
        ]
        total = sum(records[key].get("reasons", []))
        result[key] = ReasonPage(shown, total, page, page_count(total, REASONS_PER_PAGE))
    return result


def memory_reason_page(
    strata: Sequence[Sequence[PanelRationale]], *, seed: str, page: int = 1
) -> ReasonPage:
    """:func:`reason_pages` over reasons held in memory (a preview's simulated panel),
    each stratum's in the order the database would number them."""
    total = sum(len(reasons) for reasons in strata)
    pages = page_count(total, REASONS_PER_PAGE)
    page = min(max(page, 1), pages)
    order = reason_order(
        [len(reasons) for reasons in strata], seed=seed, page=page, per_page=REASONS_PER_PAGE
    )
    return ReasonPage([strata[index][position] for index, position in order], total, page, pages)


def memory_strata(
    definition: ItemDefinition,
    rows: Sequence[Mapping[str, Any]],
    answers: Iterable[tuple[Mapping[str, Any], str | None, str | None]],
) -> list[list[PanelRationale]]:
    """The reasons of (answer, rationale, language) triples sorted into strata as
    :func:`store_feedback` sorts a round's, against the item's summary ``rows``."""
    part = stratifying_part(definition)
    row = next((row for row in rows if row["component"] == (part or "")), {})
    q1, q3 = (row.get("q1"), row.get("q3")) if part is not None else (None, None)
    strata: list[list[tuple[str, str, PanelRationale]]] = [[] for _ in STRATA]
    for answer, rationale, language in answers:
        if not rationale:
            continue
        raw = (
            answer.get("value")
            if part == ""
            else answer.get("components", {}).get(part or "")
            if part is not None
            else None
        )
        value = float(raw) if isinstance(raw, int | float) else None
        strata[stratum(value, q1, q3)].append(
            (rationale, language or "", PanelRationale(rationale, language or None))
        )
    return [
        [reason for *_, reason in sorted(reasons, key=lambda entry: entry[:2])]
        for reasons in strata
    ]


@dataclass(frozen=True)
class ConsoleReason:
    """A reason as the facilitator's results page lists it for pinning."""

    id: int
    text: str
    language: str | None
    pinned: bool


@dataclass(frozen=True)
class ConsoleReasonPage:
    """Page ``page`` of ``pages`` of an item's reasons on the console, of ``total``."""

    reasons: list[ConsoleReason]
    total: int
    page: int
    pages: int


def console_reasons(
    session: Session, round_: Round, item_key: str, *, page: int = 1, per_page: int = 50
) -> ConsoleReasonPage:
    """Page ``page`` (from 1; past the last: the last) of an item's reasons in closed
    round ``round_`` for the console, ``per_page`` a page, pinned ones first, then by
    text."""
    round_feedback(session, round_)  # stores them, for a round closed before records
    where = (FeedbackReason.round_id == round_.id, FeedbackReason.item_key == item_key)
    total = session.execute(select(func.count()).where(*where)).scalar_one()
    pages = page_count(total, per_page)
    page = min(max(page, 1), pages)
    rows = session.execute(
        select(FeedbackReason)
        .where(*where)
        .order_by(
            FeedbackReason.pinned_at.is_(None),
            FeedbackReason.pinned_at,
            FeedbackReason.text,
            FeedbackReason.id,
        )
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).scalars()
    reasons = [
        ConsoleReason(row.id, row.text, row.language, row.pinned_at is not None) for row in rows
    ]
    return ConsoleReasonPage(reasons, total, page, pages)


def pin_reason(
    session: Session,
    study: Study,
    reason_id: int,
    *,
    pinned: bool,
    actor: User | None = None,
) -> FeedbackReason:
    """Pin (or unpin) a reason of a closed round of ``study``, audited: every expert
    then reads it first with that round's feedback.  Refused beyond
    :data:`REASONS_PER_PAGE` pinned reasons per item, so that pages stay bounded.

    Two pins at once are counted one after the other, so that they cannot both take
    the last place: the reason's round is written first (to itself), which on SQLite
    takes the write lock before anything is read (:mod:`surveys.database`; the
    ``FOR UPDATE`` below is ignored there) and on PostgreSQL locks the round's row, as
    the ``FOR UPDATE`` of the reason joined to its round also does.  The second pin
    waits for the first to commit, then counts it."""
    session.execute(
        update(Round)
        .where(
            Round.id
            == select(FeedbackReason.round_id)
            .where(FeedbackReason.id == reason_id)
            .scalar_subquery(),
            Round.study_id == study.id,
        )
        .values(status=Round.status)
        .execution_options(synchronize_session=False)
    )
    reason = session.execute(
        select(FeedbackReason)
        .join(Round, Round.id == FeedbackReason.round_id)
        .where(FeedbackReason.id == reason_id, Round.study_id == study.id)
        .with_for_update()
    ).scalar_one_or_none()
    if reason is None:
        raise NotFound("no such reason in this study")
    if pinned and reason.pinned_at is None:
        already = session.execute(
            select(func.count()).where(
                FeedbackReason.round_id == reason.round_id,
                FeedbackReason.item_key == reason.item_key,
                FeedbackReason.pinned_at.is_not(None),
            )
        ).scalar_one()
        if already >= REASONS_PER_PAGE:
            raise Conflict(
                f"at most {REASONS_PER_PAGE} reasons can be pinned per item; unpin one first"
            )
        reason.pinned_at = utcnow()
    elif not pinned:
        reason.pinned_at = None
    round_number = session.execute(
        select(Round.number).where(Round.id == reason.round_id)
    ).scalar_one()
    audit.record(
        session,
        "feedback.pin" if pinned else "feedback.unpin",
        study=study,
        user=actor,
        round=round_number,
        item=reason.item_key,
        reason=reason.id,
    )
    session.commit()
    return reason
