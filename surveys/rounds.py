"""The round lifecycle: open a round, close it into an immutable summary."""

from __future__ import annotations

import io
import itertools
import logging
import math
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy
from sqlalchemy import Text, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import analysis
from analysis.deferred import deferred
from surveys import audit
from surveys.builder import opening_problems
from surveys.calibration import MODEL_KINDS, classical_model_summary, has_seeds
from surveys.cross_impact import close_cross_impact, store_coherence
from surveys.definition import StudyDefinition
from surveys.errors import Conflict
from surveys.feedback import round_feedback, store_feedback
from surveys.models import (
    Item,
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
from surveys.protocol import retire_at_consensus, stamp_protocol
from surveys.results import summary_tallies
from surveys.scores import refresh_scores
from surveys.serialization import part_rules_to_json, rule_to_json
from surveys.signposts import likelihood_columns, signpost_summary
from surveys.studies import study_definition
from surveys.summary_glance import summary_glance, summary_parts

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    np = deferred("numpy")
    pd = deferred("pandas")

log = logging.getLogger(__name__)


class StudyIdentity(Protocol):
    """What the round look-ups need of a study: its id.  A :class:`Study` row, or the
    parsed snapshot that expert requests use instead of loading one."""

    @property
    def id(self) -> int:
        """The study's row id."""


def open_round_of(
    session: Session, study: StudyIdentity, *, lock: str | None = None
) -> Round | None:
    """Return the study's open round, if any.

    ``lock="update"`` (closing) or ``"share"`` locks the round's row until the
    transaction ends (on PostgreSQL ``FOR NO KEY UPDATE`` and ``FOR SHARE``).  A
    submission takes the shared lock in the statement that stores it
    (``surveys.answers``), so that a submission and the closing of its round cannot
    interleave: a submission either lands before the close and is counted, or waits and
    then finds the round closed (or, past :data:`surveys.answers.CLOSE_WAIT`, keeps its
    answers as a draft).  (SQLite serialises writers by itself.)
    """
    return session.execute(_OPEN_ROUND[lock], {"study_id": study.id}).scalar_one_or_none()


# Built once: many requests ask for the open round.
_OPEN_ROUND_QUERY = select(Round).where(
    Round.study_id == bindparam("study_id"), Round.status == RoundStatus.OPEN
)
_OPEN_ROUND = {
    None: _OPEN_ROUND_QUERY,
    "share": _OPEN_ROUND_QUERY.with_for_update(read=True),
    # FOR NO KEY UPDATE, not FOR UPDATE: it blocks submissions (FOR SHARE) and other
    # closes, but not the foreign-key checks of rows that merely point at the round
    # (FOR KEY SHARE): a panelist's draft is saved while a large round closes.
    "update": _OPEN_ROUND_QUERY.with_for_update(key_share=True),
}


def latest_round(session: Session, study: StudyIdentity) -> Round | None:
    """Return the study's highest-numbered round, if any."""
    return session.execute(
        select(Round).where(Round.study_id == study.id).order_by(Round.number.desc()).limit(1)
    ).scalar_one_or_none()


class NotTheNextRound(Conflict):
    """The opening asked for names another round than the next: a round was opened and
    closed after the page that asks was made (its confirmation described that round)."""

    def __init__(self, asked: int, next_number: int) -> None:
        super().__init__(
            f"round {asked} is not the next round (round {next_number} is); nothing was opened"
        )
        self.asked = asked
        self.next_number = next_number


class NotTheOpenRound(Conflict):
    """The change asked for (a close, a later deadline) names a round that is not the
    open one: it was closed, and the next opened, after the page or script that asks
    was made.  Nothing is changed."""

    def __init__(self, asked: int, open_number: int) -> None:
        super().__init__(f"round {asked} is not open (round {open_number} is); nothing changed")
        self.asked = asked
        self.open_number = open_number


def open_round(
    session: Session,
    study: Study,
    *,
    deadline: datetime | None = None,
    actor: User | None = None,
    expected: int | None = None,
) -> Round:
    """Open the study's next round; ``actor`` is the console user, if any (audited);
    ``expected``, the number of the round the asker confirmed (the console's
    confirmation page describes one round: its panel, items and stopping advice).

    Refused while a round is open, when the study's maximum number of rounds has been
    reached, for a deadline that is not in the future, and when the study has no item
    left to ask or texts not written in all its languages
    (:func:`surveys.builder.opening_problems`, whose words the refusal repeats), and
    with :class:`NotTheNextRound` when the next round is not ``expected``.  The
    database also guarantees at most one open round per study.
    """
    latest = latest_round(session, study)
    if latest is not None and latest.status != RoundStatus.CLOSED:
        raise Conflict(f"round {latest.number} is still {latest.status.value}; close it first")
    number = 1 if latest is None else latest.number + 1
    if expected is not None and number != expected:
        raise NotTheNextRound(expected, number)
    if number > study.max_rounds:
        raise Conflict(f"the study allows at most {study.max_rounds} round(s)")
    if deadline is not None and deadline <= utcnow():
        raise Conflict("the deadline must lie in the future")
    problems = opening_problems(study)
    if problems:
        raise Conflict("; ".join(problems))
    round_ = Round(
        study=study,
        number=number,
        status=RoundStatus.OPEN,
        opened_at=utcnow(),
        deadline=deadline,
        started_from=study.carry_over,
    )
    session.add(round_)
    audit.record(
        session,
        "round.open",
        study=study,
        user=actor,
        round=number,
        deadline=deadline.isoformat() if deadline else None,
    )
    try:
        if number == 1:
            # Pre-registration: the protocol is fixed with the round, before any answer.
            stamp_protocol(session, study, actor)
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another round was opened at the same time") from None
    log.info("opened round %d of %s", number, study.slug)
    return round_


def extend_deadline(
    session: Session,
    study: Study,
    deadline: datetime,
    *,
    actor: User | None = None,
    number: int | None = None,
) -> Round:
    """Move the open round's deadline later (it cannot move earlier: experts planned by
    it); ``number``, the round the caller means (:class:`NotTheOpenRound` when the open
    round is another: a later deadline, which cannot be taken back, is never given to a
    round nobody was looking at)."""
    round_ = open_round_of(session, study)
    if round_ is None:
        raise Conflict("no round is open")
    if number is not None and round_.number != number:
        raise NotTheOpenRound(number, round_.number)
    if deadline <= utcnow():
        raise Conflict("the deadline must lie in the future")
    if round_.deadline is not None and deadline <= round_.deadline:
        raise Conflict("a deadline can only be extended, not brought forward")
    previous = round_.deadline
    round_.deadline = deadline
    audit.record(
        session,
        "round.extend_deadline",
        study=study,
        user=actor,
        round=round_.number,
        previous=previous.isoformat() if previous else None,
        deadline=deadline.isoformat(),
    )
    session.commit()
    return round_


#: Why a close refuses to retire items in a study that keeps them in the next round.
STAY_REFUSAL = "the study keeps items that reached consensus in the next round"


def round_response_counts(session: Session, round_: Round) -> dict[str, int]:
    """How many responses ``round_`` holds to each item, by the item's id as a string
    (:attr:`RoundSummary.response_counts`).  Counted at close, under the round's lock,
    after which they cannot change; read from ``ix_response_round_item`` alone."""
    counted = session.execute(
        select(Response.item_id, func.count())
        .where(Response.round_id == round_.id)
        .group_by(Response.item_id)
    )
    return {str(item_id): count for item_id, count in counted}


def close_round(
    session: Session,
    study: Study,
    *,
    actor: User | None = None,
    retire: Collection[str] = (),
    number: int | None = None,
) -> RoundSummary:
    """Close the open round and store its summary; ``actor`` is audited; ``number``,
    the round the caller means (:class:`NotTheOpenRound`, and nothing closed, when the
    open round is another: one closed and the next opened since the caller looked).

    The summary holds, per item and component, every statistic of
    :func:`analysis.summarize_round` (descriptives, consensus state and the rule's
    numbers, stability against the previous round for the panelists who answered both,
    pooled probabilities, aggregated estimates, Kendall's W for rankings), the same per
    subgroup with groups smaller than the study's ``feedback_min_n`` masked, the sorted
    answers the next round's charts draw, and the panel's rationales without pseudonyms.

    Items that reached consensus in the round (:func:`surveys.protocol.items_at_consensus`)
    then follow the study's ``consensus_items`` setting, in the same transaction:
    "leave" retires every one of them, "ask" those of them named in ``retire`` (the
    facilitator's ticks on the close's confirmation; a named item that is not at
    consensus in the stored summary stays), "stay" none, and refuses a ``retire`` list
    with :class:`Conflict`.
    Each is retired with the reason "reached consensus in round N", audited
    (:func:`surveys.protocol.retire_at_consensus`).
    """
    if retire and study.consensus_items == "stay":
        raise Conflict(STAY_REFUSAL)
    round_ = _claim_open_round(session, study)
    if number is not None and round_.number != number:
        session.rollback()
        raise NotTheOpenRound(number, round_.number)
    statistics, coherence = _round_statistics(session, study, round_)
    round_.status = RoundStatus.CLOSED
    round_.closed_at = utcnow()
    summary = RoundSummary(
        round=round_,
        quantile_method=study.quantile_method,
        respondents=statistics.pop("respondents"),
        statistics=statistics,
        glance=summary_glance(statistics),
        tallies=summary_tallies(statistics),
        response_counts=round_response_counts(session, round_),
        likelihoods=likelihood_columns((statistics.get("signposts") or {}).get("individual")),
    )
    session.add(summary)
    # Beside the summary, not inside it: expert pages read these, never the summary.
    store_feedback(session, round_, statistics, study)
    # Private to each expert: only their own next page reads it.
    store_coherence(session, round_, coherence)
    audit.record(
        session,
        "round.close",
        study=study,
        user=actor,
        round=round_.number,
        respondents=summary.respondents,
    )
    retire_at_consensus(session, study, round_, statistics, retire, actor)
    session.commit()
    log.info(
        "closed round %d of %s (%d respondents)", round_.number, study.slug, summary.respondents
    )
    # The round's answers are now the scored ones of its items (if any has resolved).
    refresh_scores(session, study)
    return summary


def _claim_open_round(session: Session, study: Study) -> Round:
    """Lock the study's open round for closing, until the transaction ends.

    From here to the commit no submission to the round can be stored and no other
    close can begin, so the summary, its ``respondents`` and its rationales are all
    read from the same answers.  On PostgreSQL the round's row is locked
    (``FOR NO KEY UPDATE``; a submission takes it ``FOR SHARE``).  SQLite has no row
    locks and ignores ``FOR UPDATE``: there the close first *writes* to the round, which
    takes the database's write lock, and only the closer whose write still finds the
    round open goes on (see :mod:`surveys.database`).  Raises :class:`Conflict` when
    no round is open, or when another close got there first.
    """
    round_ = open_round_of(session, study, lock="update")
    if round_ is not None and session.connection().dialect.name == "sqlite":
        claimed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Round)
            .where(Round.id == round_.id, Round.status == RoundStatus.OPEN)
            .values(status=RoundStatus.OPEN)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # closed by another close since it was read
            session.rollback()
            round_ = None
    if round_ is None:
        raise Conflict("no round is open")
    return round_


#: The statistics a close stores that its preview leaves out (:func:`close_preview`).
NOT_PREVIEWED = ("median_ci_low", "median_ci_high")


def close_preview(session: Session, study: Study, round_: Round) -> dict[str, Any]:
    """What the close's confirmation page shows of open round ``round_`` as it stands:
    ``respondents``, the summary's ``settings``, ``rows`` and ``distributions``, each row
    as :func:`close_round` would store it but for the columns of :data:`NOT_PREVIEWED`
    (``None``), computed now and stored nowhere.

    The page shows rows, states and stability, never the median's bootstrap interval,
    the subgroups' rows, the rationales, the classical model, the signposts or the
    cross-impact tables, so none of them is computed here.  The bootstrap (the panel's,
    then every subgroup's) is most of a large close's time: with it, the page took as
    long as the close itself at each visit, past a server's 120 s timeout at 100,000
    panelists.  Consensus and stability do not read it, so every state previewed is
    the state the close stores."""
    number = round_.number
    frame = responses_frame(session, study, round_numbers=[number - 1, number])
    return {
        "respondents": count_respondents(session, round_),
        **frame_summary(
            frame,
            study_definition(study),
            number=number,
            quantile_method=study.quantile_method,
            min_group_size=study.feedback_min_n,
            preview=True,
        ),
    }


def count_respondents(session: Session, round_: Round) -> int:
    """The panelists with a submitted answer in ``round_``."""
    return session.execute(
        select(func.count(func.distinct(Response.panelist_id))).where(
            Response.round_id == round_.id, Response.status == ResponseStatus.SUBMITTED
        )
    ).scalar_one()


def round_statistics(session: Session, study: Study, round_: Round) -> dict[str, Any]:
    """The summary of ``round_`` as it stands (see :func:`close_round`), with the number
    of respondents under ``"respondents"``."""
    return _round_statistics(session, study, round_)[0]


def _round_statistics(
    session: Session, study: Study, round_: Round
) -> tuple[dict[str, Any], Iterator[tuple[str, str, dict[str, Any]]]]:
    """:func:`round_statistics`, and each expert's coherence on the cross-impact items
    (:mod:`surveys.cross_impact`), which is kept out of the summary: made as it is
    stored."""
    number = round_.number
    frame = responses_frame(session, study, round_numbers=[number - 1, number])
    respondents = count_respondents(session, round_)
    definition = study_definition(study)
    # Each analysis reads the answers only, so they run in the order that keeps a
    # close's memory lowest; the summary's keys keep their order below.  The summary
    # first: its analysis is where a close's memory peaks.  The classical model and the
    # signposts next, each selecting its items' answers (a few hundred MB while it runs
    # at 100,000 panelists), while only the summary is held.  The cross-impact items
    # last: their tables are kept for the coherence records until they are stored.
    summary = frame_summary(
        frame,
        definition,
        number=number,
        quantile_method=study.quantile_method,
        min_group_size=study.feedback_min_n,
    )
    model = None
    if has_seeds(definition):
        model = classical_model_summary(
            _model_answers(session, study, frame, definition, number=number),
            definition,
            number=number,
        )
    signposts = signpost_summary(frame, definition, number=number)
    cross_impact = close_cross_impact(
        frame, definition, number=number, quantile_method=study.quantile_method
    )
    del frame  # every analysis has read it: freed before the panel's comments are read
    statistics = {
        "respondents": respondents,
        **summary,
        **panel_comments(session, round_),
        # Only in studies with cross-impact items: every other summary stays as it was.
        **cross_impact.summary,
    }
    if model is not None:
        # Only for studies with seed items: every other summary stays as it was.
        statistics["classical_model"] = model
    if signposts is not None:
        # Only in studies with signposts: every other summary stays as it was.
        statistics["signposts"] = signposts
    return statistics, cross_impact.coherence()


def _model_answers(
    session: Session,
    study: Study,
    frame: pd.DataFrame,
    definition: StudyDefinition,
    *,
    number: int,
) -> pd.DataFrame:
    """The answers the classical model reads (:func:`surveys.calibration.classical_model_summary`):
    every round up to ``number``.  ``frame`` holds rounds ``number − 1`` and ``number``
    already and is used as it is; only the rounds before those are read again (none up
    to round 2), keeping their seed questions and numeric estimates and one row of each
    panelist (the model counts the panelists who answered no seed question), so that a
    close never holds the whole panel's answers twice: at 100,000 panelists each copy
    is most of a gigabyte."""
    if number <= 2:
        return frame
    keys = [item.key for item in definition.items if item.kind in MODEL_KINDS]
    earlier = responses_frame(session, study, round_numbers=list(range(1, number - 1)))
    kept = earlier["item"].isin(keys).to_numpy() | ~earlier["panelist"].duplicated().to_numpy()
    return pd.concat([earlier.loc[kept], frame], ignore_index=True)


def frame_summary(
    frame: pd.DataFrame,
    definition: StudyDefinition,
    *,
    number: int,
    quantile_method: str,
    min_group_size: int,
    preview: bool = False,
) -> dict[str, Any]:
    """The statistics of round ``number`` computed from ``frame``, the tidy answers of
    that round and the one before (for stability): the settings used, the rows per item
    and component, the subgroup rows and the sorted answers the next round's charts
    draw.  Reads no database: closing a round and previewing an expert's later round
    (:mod:`surveys.preview`, on simulated answers) compute feedback the same way.

    With ``preview`` (:func:`close_preview`), the rows leave out :data:`NOT_PREVIEWED`
    (the median's bootstrap is not run) and there are no subgroup rows."""
    settings: dict[str, Any] = {
        "rules": consensus_rules(definition),
        **part_rules_setting(definition),
        **estimate_level_setting(definition),
        "quantile_method": quantile_method,
        "scales": analysis_scales(definition),
        "closing_round": number,
    }
    # Encoded once for the panel's statistics and every subgroup's.
    prepared = analysis.prepare(frame)
    # The preview skips the bootstrap; the close keeps summarize_round's own default.
    skipped: dict[str, Any] = {"bootstrap_resamples": 0} if preview else {}
    statistics = analysis.summarize_round(prepared, **settings, **skipped)
    summary = {
        "settings": settings_record(settings, min_group_size=min_group_size),
        "rows": summary_records(statistics),
    }
    if not preview:
        groups = analysis.summarize_groups(prepared, min_group_size=min_group_size, **settings)
        this_round = groups.index.get_level_values("round") == number
        summary["groups"] = summary_records(groups.loc[this_round])
    # The keys in this order: a stored summary's bytes stay as they were.
    summary["distributions"] = distributions(frame, round_number=number)
    return summary


def settings_record(settings: dict[str, Any], *, min_group_size: int) -> dict[str, Any]:
    """The settings a summary was computed with, as JSON, stored with it so that an
    export can recompute it even after the study's rules or items have changed."""
    part_rules = settings.get("part_rules")
    return {
        "quantile_method": settings["quantile_method"],
        "rules": {key: rule_to_json(rule) for key, rule in settings["rules"].items()},
        # Only with part rules: the settings of every other summary stay as they were.
        **({"part_rules": part_rules_to_json(part_rules)} if part_rules else {}),
        # Only when an item's level is not 80 %: every other summary stays as it was.
        **(
            {"estimate_levels": dict(settings["estimate_level"])}
            if "estimate_level" in settings
            else {}
        ),
        "scales": {key: scale_to_json(scale) for key, scale in settings["scales"].items()},
        "min_group_size": min_group_size,
    }


def scale_to_json(scale: analysis.Scale) -> dict[str, Any]:
    """An :class:`analysis.Scale` as ``{"kind", "minimum", "maximum", "options", "band"}``."""
    return {
        "kind": scale.kind,
        "minimum": scale.minimum,
        "maximum": scale.maximum,
        "options": scale.options,
        "band": list(scale.band) if scale.band is not None else None,
    }


def consensus_part_rules(
    definition: StudyDefinition,
) -> dict[tuple[str, str], analysis.ConsensusRule | None]:
    """The rules written for single parts of items (``consensus.parts``), by (item,
    part): each decides its part instead of the item's rule, ``None`` none."""
    return {(item.key, part): rule for item in definition.items for part, rule in item.part_rules}


def estimate_level_setting(definition: StudyDefinition) -> dict[str, Any]:
    """``{"estimate_level": {item: level}}`` for :func:`analysis.summarize_round`, the
    level (percent) of every numeric estimate, when some item's differs from the usual
    80 %; else nothing, so the analysis uses 80 % and the stored settings stay as before
    items had levels of their own."""
    levels = {
        item.key: item.confidence_level
        for item in definition.items
        if item.kind == "numeric_estimate"
    }
    if all(level == analysis.DEFAULT_ESTIMATE_LEVEL for level in levels.values()):
        return {}
    return {"estimate_level": levels}


def part_rules_setting(definition: StudyDefinition) -> dict[str, Any]:
    """``{"part_rules": …}`` for :func:`analysis.summarize_round` when the study has part
    rules, else nothing, so that a study without them is summarised as before."""
    part_rules = consensus_part_rules(definition)
    return {"part_rules": part_rules} if part_rules else {}


def consensus_rules(definition: StudyDefinition) -> dict[str, analysis.ConsensusRule]:
    """The consensus rule deciding each item that has one."""
    rules = {}
    for item in definition.items:
        rule = definition.consensus.rule_for(item)
        if rule is not None:
            rules[item.key] = rule
    return rules


def analysis_scales(definition: StudyDefinition) -> dict[str, analysis.Scale]:
    """Each numeric item's scale as the analysis needs it (bounds, number of options)."""
    scales: dict[str, analysis.Scale] = {}
    for item in definition.items:
        if item.kind == "likert" and item.scale is not None:
            scales[item.key] = analysis.Scale(
                minimum=item.scale.minimum, maximum=item.scale.maximum
            )
        elif item.kind in ("probability", "signpost"):
            # A signpost's parts are probabilities (percent), one per scenario.
            scales[item.key] = analysis.PROBABILITY_SCALE
        elif item.kind in ("scenario_set", "cross_impact"):
            scales[item.key] = analysis.Scale(kind=item.kind, minimum=0, maximum=100)
        elif item.kind == "ranking":
            places = len(item.options)
            scales[item.key] = analysis.Scale(
                kind="ranking", minimum=1, maximum=places, options=places
            )
        elif item.kind == "numeric_estimate":
            low, high = item.estimate_bounds or (None, None)
            scales[item.key] = analysis.Scale(kind="numeric_estimate", minimum=low, maximum=high)
    return scales


def stopping_recommendation(session: Session, study: Study) -> analysis.StoppingDecision | None:
    """Whether the study should stop after its closed rounds, and why, item by item
    (:func:`analysis.stopping_decision`); ``None`` before the first round closes.

    Only each summary's ``rows`` are read, from its glance
    (:func:`surveys.summary_glance.summary_parts`): the whole summary also holds every
    distribution's sorted answers, 37 MB a round at 100,000 panelists, which the study
    page decoded on every view for this table (1.2–1.8 s)."""
    summaries = summary_parts(session, study.id, ("rows",))
    rows = [
        {**row, "round": number}
        for number, parts in reversed(summaries)
        for row in parts["rows"] or []
    ]
    if not rows:
        return None
    frame = pd.DataFrame(rows).set_index(["round", "item", "component"])
    return analysis.stopping_decision(frame, max_rounds=study.max_rounds)


def distributions(
    frame: pd.DataFrame, *, round_number: int | None = None
) -> dict[str, dict[str, list[float]]]:
    """Every answer of the round, sorted, by item and component: what the next round's
    charts draw.  Sorting drops the link between answers and panelists.

    ``round_number`` keeps that round's rows only (``None``: every row of ``frame``).
    Items and components in sorted order, each one's non-missing values ascending (one
    stable sort of the whole column, then a slice per distribution).  The three columns
    it reads are selected as arrays, never as a copy of the frame: at 100,000 panelists
    each copy of the round's rows was about 150 MB, made while the summary's own
    arrays were still held."""
    result: dict[str, dict[str, list[float]]] = {}
    values = frame["value"].to_numpy(dtype=float)
    keep = ~np.isnan(values)
    if round_number is not None:
        keep &= frame["round"].to_numpy() == round_number
    if not keep.any():
        return result
    values = values[keep]
    item_codes, items = pd.factorize(frame["item"].to_numpy()[keep], sort=True)
    component_codes, components = pd.factorize(frame["component"].to_numpy()[keep], sort=True)
    order = np.lexsort((values, component_codes, item_codes))
    item_codes, component_codes, values = item_codes[order], component_codes[order], values[order]
    starts = np.flatnonzero(
        np.r_[
            True,
            (item_codes[1:] != item_codes[:-1]) | (component_codes[1:] != component_codes[:-1]),
        ]
    )
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        item = str(items[item_codes[start]])
        component = str(components[component_codes[start]])
        result.setdefault(item, {})[component] = values[start:end].tolist()
    return result


def panel_comments(session: Session, round_: Round) -> dict[str, dict[str, Any]]:
    """The round's rationales by item (without any pseudonym, in no meaningful order),
    the language each is written in, and how many panelists answered "I can't judge
    this" to each item.

    Two narrow queries rather than every answer of the round: the rationales (sorted by
    item, text and language, as always) with the language of the page each was
    submitted from (the panelist's preferred language for answers stored before it was
    recorded), and the answers whose JSON mentions ``cannot_judge``, each then checked
    as :func:`comments_of` checks every answer."""
    submitted = (Response.round_id == round_.id, Response.status == ResponseStatus.SUBMITTED)
    language = func.coalesce(Response.language, Panelist.language)
    cannot_judge = session.execute(
        select(Item.key, Response.answer)
        .join(Response.item)
        .where(*submitted, cast(Response.answer, Text).like("%cannot_judge%"))
        .order_by(Item.key)
    )
    if session.connection().dialect.name == "postgresql":
        return _aggregated_comments(session, round_, cannot_judge)
    rationales = session.execute(
        select(Item.key, Response.rationale, language)
        .join(Response.item)
        .join(Response.panelist)
        .where(*submitted, Response.rationale.is_not(None), Response.rationale != "")
        .order_by(Item.key, Response.rationale, language)
    )
    return comments_of(
        itertools.chain(
            ((key, {}, rationale, language) for key, rationale, language in rationales),
            ((key, answer, None, None) for key, answer in cannot_judge),
        )
    )


def _aggregated_comments(
    session: Session, round_: Round, cannot_judge: Iterable[tuple[str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """:func:`panel_comments` on PostgreSQL: the server puts each item's rationales and
    their languages in two JSON arrays, in the same order (text, then language), so
    that Python decodes a few dozen arrays instead of building a row per rationale (at
    100,000 panelists, 600,000 of them: seconds of the close).  The same lists as
    :func:`comments_of` builds from the rows."""
    language = func.coalesce(Response.language, Panelist.language)
    order = (Response.rationale, language)
    rows = session.execute(
        select(
            Item.key,
            func.json_agg(aggregate_order_by(Response.rationale, *order)),
            func.json_agg(aggregate_order_by(func.coalesce(language, ""), *order)),
        )
        .join(Response.item)
        .join(Response.panelist)
        .where(
            Response.round_id == round_.id,
            Response.status == ResponseStatus.SUBMITTED,
            Response.rationale.is_not(None),
            Response.rationale != "",
        )
        .group_by(Item.key)
        .order_by(Item.key)
    ).all()
    counted = comments_of((key, answer, None, None) for key, answer in cannot_judge)
    return {
        "rationales": {key: texts for key, texts, _ in rows},
        "rationale_languages": {key: languages for key, _, languages in rows},
        "cannot_judge": counted["cannot_judge"],
    }


def comments_of(
    rows: Iterable[tuple[str, dict[str, Any], str | None, str | None]],
) -> dict[str, dict[str, Any]]:
    """The rationales by item, their languages and the "I can't judge this" counts of
    (item key, answer, rationale, language) rows, as :func:`panel_comments` stores them.

    ``rationale_languages[key][i]`` is the language ``rationales[key][i]`` is written
    in ("" when unknown): a list beside the texts rather than in them, so that readers
    of ``rationales`` (the API, older code) keep reading plain texts, and summaries
    stored before languages were recorded simply have none."""
    rationales: dict[str, list[str]] = {}
    languages: dict[str, list[str]] = {}
    cannot_judge: dict[str, int] = {}
    for key, answer, rationale, language in rows:
        if rationale:
            rationales.setdefault(key, []).append(rationale)
            languages.setdefault(key, []).append(language or "")
        if answer.get("cannot_judge"):
            cannot_judge[key] = cannot_judge.get(key, 0) + 1
    return {
        "rationales": rationales,
        "rationale_languages": languages,
        "cannot_judge": cannot_judge,
    }


def responses_frame(
    session: Session, study: Study, *, round_numbers: list[int] | None = None
) -> pd.DataFrame:
    """Submitted numeric answers of a study as the tidy frame of :mod:`analysis.frame`.

    One row per number of an answer, as :func:`answer_values` splits it.  On PostgreSQL
    the server splits the answers and sends the rows with one ``COPY`` that pandas
    parses (:func:`_copied_responses_frame`): at 100,000 panelists that is seconds and
    a few hundred megabytes, where a Python object per answer took minutes and
    gigabytes.

    On both databases the rows come round by round (a close's selection of one round
    is then a view of the frame, not a copy: :meth:`analysis.grouping.Prepared.subset`)
    and each distribution's answers by panelist id, so that a sum in row order (the
    signposts' pooled means, the cross-impact tables, aggregated estimates) is the same
    at every close of the same answers.  The order of the distributions within a round
    differs: SQLite reads each panelist's answers together, in the order they were
    stored; PostgreSQL sends one distribution after the other.  Statistics that gather
    a panelist's answers to several items in row order (cross-impact tables, signposts,
    estimates) may therefore differ between the databases in their last bits.
    """
    if session.connection().dialect.name == "postgresql":
        return _copied_responses_frame(session, study, round_numbers)
    return _loaded_responses_frame(session, study, round_numbers)


def _loaded_responses_frame(
    session: Session, study: Study, round_numbers: list[int] | None
) -> pd.DataFrame:
    """:func:`responses_frame` by loading each answer into Python (any database)."""
    query = (
        select(Panelist.pseudonym, Panelist.group, Round.number, Item.key, Response.answer)
        .join(Response.panelist)
        .join(Response.round)
        .join(Response.item)
        .where(Round.study_id == study.id, Response.status == ResponseStatus.SUBMITTED)
    )
    if round_numbers is not None:
        query = query.where(Round.number.in_(round_numbers))
    # The order of the index on submitted answers (round, panelist), which SQLite reads
    # them by: stated, so that no other plan changes it (see responses_frame).
    query = query.order_by(Round.number, Response.panelist_id, Response.id)
    records = [
        (pseudonym, group, number, key, component, value)
        for pseudonym, group, number, key, answer in session.execute(query)
        for component, value in answer_values(answer)
    ]
    return answers_frame(records)


# The answers split into numbers by PostgreSQL, as answer_values splits them: "value"
# when present, else NaN for a truthy "cannot_judge" (the product stores true), then
# every component in the order written.  PostgreSQL reads a JSON number's text with a
# correctly rounded conversion, as Python's float() does, and prints a float8 in the
# shortest text that reads back to the same double, so the values are the same doubles.
# (Parsing each answer once as jsonb was slower: 13 s against 10 s at 100,000.)
# One row per distribution (round, item, component) carries its "panelist id,value"
# lines: a few dozen rows to fetch instead of one per number.  The single values and
# the parts are two scans of the answers rather than one lateral subquery per answer:
# that called json_each once per answer, most of which have no parts (a third of the
# query's time).  Within a distribution the lines keep the answers' scan order, and
# no statistic depends on it (see responses_frame).
_SPLIT_ANSWERS = sqlalchemy.text(
    """
    SELECT r.number, i.key, v.component,
           string_agg(v.panelist_id::text || ',' || v.value::text, E'\\n')
    FROM (
        SELECT s.round_id, s.item_id, s.panelist_id, '' AS component,
               CASE WHEN s.answer -> 'value' IS NOT NULL
                    THEN (s.answer ->> 'value')::float8 ELSE 'NaN'::float8 END AS value
        FROM response AS s
        WHERE s.status = :status
            AND (s.answer -> 'value' IS NOT NULL OR s.answer ->> 'cannot_judge' = 'true')
        UNION ALL
        SELECT s.round_id, s.item_id, s.panelist_id, c.key, (c.value #>> '{}')::float8
        FROM response AS s
        CROSS JOIN LATERAL json_each(s.answer -> 'components') AS c
        WHERE s.status = :status AND s.answer -> 'components' IS NOT NULL
    ) AS v
    JOIN round AS r ON r.id = v.round_id
    JOIN item AS i ON i.id = v.item_id
    WHERE r.study_id = :study_id
        AND (CAST(:all_rounds AS boolean) OR r.number = ANY(CAST(:round_numbers AS integer[])))
    GROUP BY r.number, i.key, v.component
    ORDER BY r.number, i.key, v.component
    """
)


def _copied_responses_frame(
    session: Session, study: Study, round_numbers: list[int] | None
) -> pd.DataFrame:
    """:func:`responses_frame` on PostgreSQL, in the session's transaction (so under the
    close's lock): the server splits the answers and sends each distribution's
    "panelist id,value" lines as one text, which pandas parses; the panelists'
    pseudonyms and groups come from one query of the study's panel."""
    if round_numbers is not None and not round_numbers:
        return analysis.empty_frame()
    rows = session.execute(
        _SPLIT_ANSWERS,
        {
            "study_id": study.id,
            "status": ResponseStatus.SUBMITTED.value,
            "all_rounds": round_numbers is None,
            "round_numbers": [int(number) for number in round_numbers or []],
        },
    ).all()
    if not rows:
        return analysis.empty_frame()
    parts = []
    # Each text is freed once parsed: at 100,000 panelists they are about 100 MB.
    pending = list(reversed(rows))
    del rows
    while pending:
        number, key, component, lines = pending.pop()
        part = pd.read_csv(
            io.StringIO(lines),
            header=None,
            names=["panelist_id", "value"],
            dtype={"panelist_id": "int64", "value": "float64"},
            keep_default_na=False,
            na_values={"value": ["NaN"]},
        )
        del lines
        ids = part["panelist_id"].to_numpy()
        if (ids[1:] < ids[:-1]).any():
            # By panelist, as SQLite reads them (see responses_frame): the server sends
            # them in the order it scans the table, which varies between runs.
            part = part.iloc[np.argsort(ids, kind="stable")]
        parts.append((number, key, component, part))
    panel = pd.DataFrame(
        session.execute(
            select(Panelist.id, Panelist.pseudonym, Panelist.group).where(
                Panelist.study_id == study.id
            )
        ).all(),
        columns=["id", "pseudonym", "group"],
    )
    sizes = [len(part) for *_, part in parts]
    panelist_ids = np.concatenate([part["panelist_id"].to_numpy() for *_, part in parts])
    position = pd.Index(panel["id"].to_numpy()).get_indexer(panelist_ids)
    del panelist_ids
    # The columns are new arrays made here: the frame takes them as they are (copy=False)
    # rather than copying 3,000,000-row columns again at 100,000 panelists.
    return pd.DataFrame(
        {
            "panelist": panel["pseudonym"].to_numpy(dtype=object)[position],
            "group": panel["group"].to_numpy(dtype=object)[position],
            "round": np.repeat(np.array([number for number, *_ in parts], dtype=np.int64), sizes),
            "item": np.repeat(np.array([key for _, key, *_ in parts], dtype=object), sizes),
            "component": np.repeat(
                np.array([component for _, _, component, _ in parts], dtype=object), sizes
            ),
            "value": np.concatenate([part["value"].to_numpy() for *_, part in parts]),
        },
        columns=list(analysis.COLUMNS),
        copy=False,
    )


def answers_frame(records: list[tuple[str, str, int, str, str, float]]) -> pd.DataFrame:
    """The tidy frame of :mod:`analysis.frame` from (pseudonym, group, round, item,
    component, value) records."""
    if not records:
        return analysis.empty_frame()
    return pd.DataFrame.from_records(records, columns=list(analysis.COLUMNS))


def answer_values(answer: dict[str, Any]) -> list[tuple[str, float]]:
    """The (component, value) pairs of one stored answer: ``("", value)`` for a single
    number, ``("", NaN)`` for "I can't judge this", one pair per part otherwise."""
    values: list[tuple[str, float]] = []
    if "value" in answer:
        values.append(("", float(answer["value"])))
    elif answer.get("cannot_judge"):
        values.append(("", math.nan))
    for component, value in answer.get("components", {}).items():
        values.append((component, float(value)))
    return values


def summary_records(statistics: pd.DataFrame) -> list[dict[str, Any]]:
    """Turn a summary frame into JSON-ready rows: NaN and NA become ``None``."""
    records = []
    for index, row in statistics.reset_index().iterrows():
        del index
        records.append({str(key): _plain(value) for key, value in row.items()})
    return records


def _plain(value: Any) -> Any:
    """Convert numpy and pandas scalars to plain JSON values."""
    if value is pd.NA or value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def previous_quartiles(
    session: Session, round_: Round, feedback_min_n: int | None = None
) -> dict[str, dict[str, tuple[float, float]]]:
    """The quartiles (q1, q3) of the round before ``round_``, by item and component.

    Empty in round 1; absent for distributions whose quartiles are undefined or rest on
    fewer answers than the study's ``feedback_min_n`` (read from the study unless given).
    """
    quartiles: dict[str, dict[str, tuple[float, float]]] = {}
    if round_.number == 1:
        return quartiles
    previous = session.execute(
        select(Round).where(
            Round.study_id == round_.study_id,
            Round.number == round_.number - 1,
            Round.status == RoundStatus.CLOSED,
        )
    ).scalar_one_or_none()
    if previous is None:
        return quartiles
    # The per-item feedback records, not the summary: they do not grow with the panel.
    records = round_feedback(session, previous)
    minimum = round_.study.feedback_min_n if feedback_min_n is None else feedback_min_n
    return quartiles_of((row for record in records.values() for row in record["rows"]), minimum)


def quartiles_of(
    rows: Iterable[dict[str, Any]], minimum: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """(q1, q3) by item and component of a summary's ``rows``, leaving out those resting
    on fewer than ``minimum`` answers and those undefined."""
    quartiles: dict[str, dict[str, tuple[float, float]]] = {}
    for row in rows:
        # Quartiles of too few answers would reveal them, directly or through the
        # rationale they demand: the same minimum as for the feedback applies.
        if (row.get("n") or 0) < minimum:
            continue
        if row.get("q1") is not None and row.get("q3") is not None:
            quartiles.setdefault(row["item"], {})[row["component"]] = (row["q1"], row["q3"])
    return quartiles


def closed_summary(session: Session, study: StudyIdentity, number: int) -> RoundSummary | None:
    """Return the summary of round ``number`` of ``study``, if that round is closed."""
    return _closed_summary(session, study.id, number)


def _closed_summary(session: Session, study_id: int, number: int) -> RoundSummary | None:
    """Return the summary of round ``number`` of study ``study_id``, if it is closed."""
    return session.execute(
        select(RoundSummary)
        .join(RoundSummary.round)
        .where(Round.study_id == study_id, Round.number == number)
    ).scalar_one_or_none()


def combined_state(states: Iterable[str | None]) -> str | None:
    """One state for a whole item from its parts' states in one round: ``dissensus`` if
    any part is split, ``consensus`` if every part with a rule agrees, else
    ``no_consensus``; ``None`` when no part has a rule (no state at all)."""
    given = [state for state in states if state]
    if not given:
        return None
    if "dissensus" in given:
        return "dissensus"
    if all(state == "consensus" for state in given):
        return "consensus"
    return "no_consensus"
