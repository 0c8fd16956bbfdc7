"""After the study: the scenario tracker (issue 16, point 3).

A facilitator (in the console, or through the API with a write token) records dated
observations: a signpost seen, a signpost explicitly *not* seen by a date, or a trigger
that occurred.  The tracker then shows the pooled scenario probabilities updated by
Bayes' rule after each observation (:func:`analysis.update_scenarios`), from what the
panel said in the closed rounds, read from the rounds' stored summaries (nothing is
recomputed):

- the **prior**: the pooled scenario set of the signposts' scenario item (the mean of
  the panelists' sets, each rescaled to sum to 100, as the summary's rows hold it), or,
  when the scenario item is not in the summaries' rows, the cross-impact item's pooled
  unconditional set;
- the **likelihoods**: the summary's ``"signposts"`` matrix (P(signpost seen within
  the horizon | scenario), pooled) and, for the sensitivity range, its ``"individual"``
  likelihoods (each panelist's, by an anonymous index);
- the **conditional sets**: the summary's ``"cross_impact"`` pooled P(scenario |
  trigger) of the cross-impact item(s) on the same scenario item.

Each is taken from the latest closed round whose summary holds it.

What may be observed:

- a **signpost**: any item of kind ``"signpost"``;
- a **trigger**: a probability item listed among the ``triggers`` of a cross-impact
  item (the experts said how its occurrence shifts the scenarios); in a study without
  any cross-impact item, any probability item of the section keyed ``"triggers"``.
  Such a trigger is recorded and shown, but it cannot move the probabilities (there is
  no conditional set for it): its step is marked as not applied.

An observation the closed rounds give nothing for (a signpost added after the last
closed round, a trigger without a conditional set) is kept in the timeline, with the
probabilities unchanged and ``applied`` false.  Observations are ordered by date, then
in the order they were recorded.  Each record and withdrawal is audited with the item,
the date and whether it was seen, never a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from surveys import audit
from surveys.errors import InvalidValues
from surveys.models import (
    Item,
    Round,
    RoundSummary,
    ScenarioObservation,
    Study,
    User,
    utcnow,
)
from surveys.summary_glance import summary_parts

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SIGNPOST, TRIGGER = "signpost", "trigger"
#: What an observation can be about.
KINDS = (SIGNPOST, TRIGGER)
NOTE_LIMIT = 500
#: The section whose probability items are triggers in a study without cross-impact items.
TRIGGER_SECTION = "triggers"
#: Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

#: The messages :func:`record` may give, by field (the console translates them).
NOT_TRACKABLE = "is not a signpost or a trigger of the study"
NOT_A_SIGNPOST = "is a trigger: record that it occurred"
NOT_A_TRIGGER = "is a signpost: record whether it was seen"
TRIGGER_NOT_SEEN = "a trigger is recorded when it occurred, not when it did not"
NOT_A_DATE = "must be a date"
IN_THE_FUTURE = "cannot be later than today (UTC)"
NO_NOTE = "say where it was observed, or looked for"
NOTE_TOO_LONG = f"at most {NOTE_LIMIT} characters"
NOTE_NOT_ONE_LINE = "must be one line of text, without control characters"


@dataclass(frozen=True)
class Trackable:
    """A signpost or trigger of the study: its key, kind (``"signpost"`` or
    ``"trigger"``), its text by language and whether it is retired."""

    key: str
    kind: str
    text: dict[str, str]
    retired: bool = False

    def words(self, language: str) -> str:
        """Its text in ``language``, else in any language, else its key."""
        return self.text.get(language) or next(iter(self.text.values()), "") or self.key


def trackable(session: Session, study: Study) -> list[Trackable]:
    """The study's signposts, then its triggers, each in the study's order (retired
    items too: an observation may still concern them)."""
    items = list(
        session.execute(
            select(Item).where(Item.study_id == study.id).order_by(Item.position)
        ).scalars()
    )
    signposts = [
        Trackable(item.key, SIGNPOST, _texts(item), item.retired_at is not None)
        for item in items
        if item.kind == SIGNPOST
    ]
    # A cross-impact item's spec lists its triggers as {"key", "text"} (a copy of
    # their texts); plain keys are read too.
    named = [
        str(entry.get("key") if isinstance(entry, dict) else entry)
        for item in items
        if item.kind == "cross_impact"
        for entry in (item.spec.get("triggers") or ())
    ]
    if any(item.kind == "cross_impact" for item in items):
        wanted = set(named)
        candidates = [item for item in items if item.kind == "probability" and item.key in wanted]
    else:
        candidates = [
            item
            for item in items
            if item.kind == "probability" and item.spec.get("section") == TRIGGER_SECTION
        ]
    triggers = [
        Trackable(item.key, TRIGGER, _texts(item), item.retired_at is not None)
        for item in candidates
    ]
    return signposts + triggers


def _texts(item: Item) -> dict[str, str]:
    text = item.spec.get("text") or {}
    return {str(language): str(words) for language, words in dict(text).items()}


def observations(session: Session, study: Study) -> list[ScenarioObservation]:
    """The study's observations in the tracker's order: by date, then as recorded."""
    return list(
        session.execute(
            select(ScenarioObservation)
            .where(ScenarioObservation.study_id == study.id)
            .order_by(ScenarioObservation.observed_on, ScenarioObservation.id)
        ).scalars()
    )


def has_observations(session: Session, study: Study) -> bool:
    """Whether the study has any observation (one indexed look-up)."""
    return (
        session.execute(
            select(ScenarioObservation.id).where(ScenarioObservation.study_id == study.id).limit(1)
        ).first()
        is not None
    )


def record(
    session: Session,
    study: Study,
    *,
    kind: str,
    item_key: str,
    observed_on: Any,
    seen: bool = True,
    note: str,
    actor: User | None = None,
) -> ScenarioObservation:
    """Record one observation; checked, audited, committed.

    Raises :class:`InvalidValues` naming each field that is wrong: ``item`` (not a
    signpost or trigger of the study, or one of the other ``kind``), ``kind`` (not
    ``"signpost"`` or ``"trigger"``), ``seen`` (a trigger "not seen"), ``observed_on``
    (not a date, or later than today, UTC), ``note`` (empty, longer than
    :data:`NOTE_LIMIT`, or holding a control character).
    """
    errors: dict[str, list[str]] = {}
    found = {entry.key: entry for entry in trackable(session, study)}
    entry = found.get(item_key)
    if kind not in KINDS:
        errors["kind"] = ["choose one of " + ", ".join(KINDS)]
    elif entry is None:
        errors["item"] = [NOT_TRACKABLE]
    elif entry.kind != kind:
        errors["item"] = [NOT_A_SIGNPOST if entry.kind == TRIGGER else NOT_A_TRIGGER]
    if kind == TRIGGER and not seen:
        errors["seen"] = [TRIGGER_NOT_SEEN]
    # A datetime is a date too: refuse it, a time of day would be silently dropped.
    if not isinstance(observed_on, date) or hasattr(observed_on, "hour"):
        errors["observed_on"] = [NOT_A_DATE]
    elif observed_on > utcnow().date():
        errors["observed_on"] = [IN_THE_FUTURE]
    note = (note or "").strip()
    if not note:
        errors["note"] = [NO_NOTE]
    elif len(note) > NOTE_LIMIT:
        errors["note"] = [NOTE_TOO_LONG]
    elif _CONTROL.search(note):
        errors["note"] = [NOTE_NOT_ONE_LINE]
    if errors:
        raise InvalidValues(errors)
    row = ScenarioObservation(
        study_id=study.id,
        observed_on=observed_on,
        kind=kind,
        item_key=item_key,
        seen=bool(seen),
        note=note,
        recorded_at=utcnow(),
        recorded_by=actor.id if actor else None,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "tracker.observe",
        study=study,
        user=actor,
        observation=row.id,
        kind=kind,
        item=item_key,
        observed_on=observed_on.isoformat(),
        seen=bool(seen),
    )
    session.commit()
    return row


def withdraw(
    session: Session, study: Study, observation_id: int, actor: User | None = None
) -> bool:
    """Drop one observation (recorded by mistake); whether there was one."""
    row = session.execute(
        select(ScenarioObservation).where(
            ScenarioObservation.study_id == study.id, ScenarioObservation.id == observation_id
        )
    ).scalar_one_or_none()
    if row is None:
        return False
    details = {
        "observation": row.id,
        "kind": row.kind,
        "item": row.item_key,
        "observed_on": row.observed_on.isoformat(),
        "seen": row.seen,
    }
    session.execute(delete(ScenarioObservation).where(ScenarioObservation.id == row.id))
    audit.record(session, "tracker.withdraw", study=study, user=actor, **details)
    session.commit()
    return True


# -- what the closed rounds said -------------------------------------------------------------


@dataclass(frozen=True)
class TrackerInputs:
    """What the tracker updates with, as stored at close.

    ``prior``: scenario → probability (sums to 1); ``likelihoods``: signposts × scenarios,
    P(seen | scenario) in [0, 1]; ``individual``: each expert's likelihoods as an
    (experts, signposts, scenarios) array, or for summaries stored before as
    ``panelist``, ``signpost``, ``scenario``, ``likelihood`` rows (``panelist`` an
    anonymous index; see :func:`_individual`); ``conditionals``:
    triggers × scenarios, pooled P(scenario | trigger), or ``None``.
    ``rounds``: which closed round each came from (``prior``, ``signposts``,
    ``cross_impact``).
    """

    scenario_item: str
    scenarios: list[str]
    prior: pd.Series
    likelihoods: pd.DataFrame
    individual: pd.DataFrame | np.ndarray | None
    conditionals: pd.DataFrame | None
    rounds: dict[str, int] = field(default_factory=dict)


def tracker_inputs(
    session: Session, study: Study, *, individual: bool = True
) -> TrackerInputs | None:
    """The prior, likelihoods and conditional sets from the stored summaries of the
    closed rounds (see the module's docstring); ``None`` when no closed round holds
    signposts or cross-impact judgements on a scenario set, or no prior for it.

    Only the summaries' glances are read (:func:`surveys.summary_glance.summary_parts`):
    a summary also holds every distribution's sorted answers, and the signposts'
    ``individual`` likelihoods grow with the panel (nine an expert with three signposts
    of three scenarios), so they are read for the one round used, and only when
    ``individual`` (the sensitivity range) is wanted."""
    import pandas as pd

    stored = summary_parts(session, study.id, ("signposts", "cross_impact"), closed=True)
    signposts: dict[str, Any] | None = None
    signposts_round = None
    for number, parts in stored:
        block = parts["signposts"] if isinstance(parts["signposts"], dict) else {}
        matrix = block.get("matrix")
        if isinstance(matrix, dict) and matrix:
            signposts = {key: block.get(key) for key in ("scenario_item", "scenarios", "matrix")}
            if individual:
                signposts["individual"] = _stored_individual(session, study, number)
            signposts_round = number
            break
    scenario_item = (signposts or {}).get("scenario_item")
    cross: list[dict[str, Any]] = []
    cross_round = None
    for number, parts in stored:
        cross_block = parts["cross_impact"]
        if not isinstance(cross_block, dict) or not cross_block:
            continue
        chosen = [
            entry
            for entry in cross_block.values()
            if isinstance(entry, dict)
            and (scenario_item is None or entry.get("scenario_item") == scenario_item)
        ]
        if chosen:
            cross, cross_round = chosen, number
            if scenario_item is None:
                scenario_item = chosen[0].get("scenario_item")
                cross = [entry for entry in chosen if entry.get("scenario_item") == scenario_item]
            break
    if scenario_item is None:
        return None
    scenarios = _scenario_keys(session, study, scenario_item, signposts, cross)
    if not scenarios:
        return None
    prior, prior_round = _prior(session, study, scenario_item, scenarios, cross, cross_round)
    if prior is None:
        return None
    matrix = (signposts or {}).get("matrix") or {}
    likelihoods = pd.DataFrame(
        [[_number(matrix[key].get(scenario)) for scenario in scenarios] for key in matrix],
        index=pd.Index([str(key) for key in matrix], name="signpost"),
        columns=pd.Index(scenarios, name="scenario"),
        dtype=float,
    )
    panel_likelihoods = _individual((signposts or {}).get("individual"), likelihoods)
    conditional_rows: dict[str, list[float]] = {}
    for entry in cross:
        for trigger, values in (entry.get("conditional") or {}).items():
            if str(trigger) not in conditional_rows and isinstance(values, dict):
                conditional_rows[str(trigger)] = [
                    _number(values.get(scenario)) for scenario in scenarios
                ]
    conditionals = (
        pd.DataFrame(
            list(conditional_rows.values()),
            index=pd.Index(list(conditional_rows), name="trigger"),
            columns=pd.Index(scenarios, name="scenario"),
            dtype=float,
        )
        if conditional_rows
        else None
    )
    rounds = {"prior": prior_round}
    if signposts_round is not None:
        rounds["signposts"] = signposts_round
    if cross_round is not None:
        rounds["cross_impact"] = cross_round
    return TrackerInputs(
        scenario_item=str(scenario_item),
        scenarios=scenarios,
        prior=prior,
        likelihoods=likelihoods,
        individual=panel_likelihoods,
        conditionals=conditionals,
        rounds=rounds,
    )


def _stored_individual(session: Session, study: Study, number: int) -> Any:
    """Round ``number``'s individual likelihoods: its summary's column per signpost and
    scenario (:attr:`RoundSummary.likelihoods`, tagged ``"by_column"``), else, for a
    summary stored without them, the summary's own ``individual`` block."""
    in_round = (
        select(RoundSummary.likelihoods)
        .join(RoundSummary.round)
        .where(Round.study_id == study.id, Round.number == number)
    )
    columns = session.execute(in_round).scalar_one()
    if columns is not None:
        return {"by_column": columns}
    return session.execute(
        in_round.with_only_columns(RoundSummary.statistics["signposts"]["individual"])
    ).scalar_one()


def _individual(rows: Any, likelihoods: pd.DataFrame) -> pd.DataFrame | np.ndarray | None:
    """The stored individual likelihoods (an expert's position as an anonymous index)
    as :func:`analysis.update_scenarios` reads them; ``None`` without any.

    The columns of :attr:`RoundSummary.likelihoods` become one (experts, signposts,
    scenarios) array in the order of ``likelihoods``' rows and columns, a column at a
    time (at 100,000 experts, nine lists rather than 900,000 rows); a summary's own
    block, column-wise as :func:`surveys.signposts.signpost_summary` stores it or the
    row per likelihood of summaries stored before, becomes the ``panelist``,
    ``signpost``, ``scenario``, ``likelihood`` frame."""
    import numpy as np
    import pandas as pd

    if isinstance(rows, dict) and "by_column" in rows:
        stored = rows["by_column"]
        values = stored.get("values") or []
        if not values or not values[0]:
            return None
        shape = (len(values[0]), len(likelihoods.index), len(likelihoods.columns))
        array = np.full(shape, np.nan)
        for (signpost, scenario), column in zip(stored["columns"], values, strict=True):
            row = likelihoods.index.get_indexer([str(signpost)])[0]
            place = likelihoods.columns.get_indexer([str(scenario)])[0]
            if row >= 0 and place >= 0:
                array[:, row, place] = np.array(column, dtype=float)
        return array
    if isinstance(rows, dict):
        columns, experts = rows.get("columns") or [], rows.get("experts") or []
        if not columns or not experts:
            return None
        values = np.array(
            [[np.nan if value is None else value for value in expert] for expert in experts],
            dtype=float,
        )
        answered = ~np.isnan(values)
        positions, cells = np.nonzero(answered)
        labels = np.array([[str(part) for part in column] for column in columns], dtype=object)
        return pd.DataFrame(
            {
                "panelist": positions,
                "signpost": labels[cells, 0],
                "scenario": labels[cells, 1],
                "likelihood": values[answered],
            }
        )
    if not isinstance(rows, list) or not rows:
        return None
    frame = pd.DataFrame.from_records([row for row in rows if isinstance(row, dict)])
    frame = frame.rename(columns={"expert": "panelist"})
    if not {"panelist", "signpost", "scenario", "likelihood"} <= set(frame.columns):
        return None
    frame = frame[["panelist", "signpost", "scenario", "likelihood"]]
    frame["signpost"] = frame["signpost"].astype(str)
    frame["scenario"] = frame["scenario"].astype(str)
    frame["likelihood"] = pd.to_numeric(frame["likelihood"], errors="coerce")
    return frame


def _number(value: Any) -> float:
    """A stored probability as a float; missing is NaN."""
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _scenario_keys(
    session: Session,
    study: Study,
    scenario_item: str,
    signposts: dict[str, Any] | None,
    cross: Sequence[dict[str, Any]],
) -> list[str]:
    """The scenario item's scenarios in the definition's order (else as stored)."""
    spec = session.execute(
        select(Item.spec).where(Item.study_id == study.id, Item.key == scenario_item)
    ).scalar_one_or_none()
    if spec and spec.get("scenarios"):
        return [str(entry["key"]) for entry in spec["scenarios"]]
    if signposts and signposts.get("scenarios"):
        return [str(key) for key in signposts["scenarios"]]
    for entry in cross:
        if entry.get("scenarios"):
            return [str(key) for key in entry["scenarios"]]
    return []


def _prior(
    session: Session,
    study: Study,
    scenario_item: str,
    scenarios: list[str],
    cross: Sequence[dict[str, Any]],
    cross_round: int | None,
) -> tuple[pd.Series | None, int]:
    """The pooled scenario set (mean of the rescaled sets) of the latest closed round
    whose summary's rows hold the scenario item; else the cross-impact item's pooled
    unconditional set.  Rescaled to sum to 1."""
    import pandas as pd

    # The rows from the summaries' glances, newest first: not the whole summaries.
    for number, parts in summary_parts(session, study.id, ("rows",), closed=True):
        means = {
            str(row.get("component")): row.get("mean")
            for row in parts["rows"] or []
            if row.get("item") == scenario_item
        }
        values = [_number(means.get(scenario)) for scenario in scenarios]
        if means and all(value == value and value >= 0 for value in values) and sum(values) > 0:
            series = pd.Series(values, index=pd.Index(scenarios, name="scenario"), dtype=float)
            return series / series.sum(), int(number)
    for entry in cross:
        unconditional = entry.get("unconditional") or {}
        values = [_number(unconditional.get(scenario)) for scenario in scenarios]
        if all(value == value and value >= 0 for value in values) and sum(values) > 0:
            series = pd.Series(values, index=pd.Index(scenarios, name="scenario"), dtype=float)
            return series / series.sum(), int(cross_round or 0)
    return None, 0


# -- the timeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tracker:
    """The tracker of a study: its observations (in order) and, when the closed rounds
    give a prior, the timeline.

    ``timeline``: one row per step and scenario, the columns of
    :data:`analysis.tracking.TIMELINE_COLUMNS` plus ``observation`` (the observation's
    id; ``None`` for step 0, the prior); ``applied`` false for an observation the closed
    rounds give nothing for.  ``posterior``, ``low``, ``high``: the last step's
    probabilities and their range over the panel's individual likelihoods.
    """

    observations: list[ScenarioObservation]
    items: list[Trackable]
    inputs: TrackerInputs | None
    timeline: pd.DataFrame | None

    @property
    def last(self) -> pd.DataFrame | None:
        """The last step's rows (one per scenario), if there is a timeline."""
        if self.timeline is None:
            return None
        return self.timeline[self.timeline["step"] == self.timeline["step"].max()]


def usable(observation: ScenarioObservation, inputs: TrackerInputs) -> bool:
    """Whether the closed rounds give what ``observation`` needs to move the
    probabilities: complete likelihoods for a signpost, a complete conditional set for a
    trigger."""
    if observation.kind == SIGNPOST:
        matrix = inputs.likelihoods
        return observation.item_key in matrix.index and bool(
            matrix.loc[observation.item_key].notna().all()
        )
    table = inputs.conditionals
    if table is None or observation.item_key not in table.index:
        return False
    values = table.loc[observation.item_key]
    return bool(values.notna().all() and (values >= 0).all() and values.sum() > 0)


def timeline(inputs: TrackerInputs, ordered: Iterable[ScenarioObservation]) -> pd.DataFrame:
    """The timeline of ``ordered`` observations (already in the tracker's order) with
    :func:`analysis.update_scenarios` on the observations the closed rounds give
    something for; each other observation is a step that leaves the probabilities as
    they were (``applied`` false)."""
    import numpy as np
    import pandas as pd

    from analysis.tracking import TIMELINE_COLUMNS, Observation, update_scenarios

    ordered = list(ordered)
    chosen = [observation for observation in ordered if usable(observation, inputs)]
    result = update_scenarios(
        inputs.prior,
        inputs.likelihoods,
        [
            Observation(
                date=observation.observed_on,
                kind=observation.kind,
                key=observation.item_key,
                seen=observation.seen,
            )
            for observation in chosen
        ],
        individual=inputs.individual,
        conditionals=inputs.conditionals,
    )
    computed = result.timeline
    width = len(inputs.scenarios)
    # update_scenarios sorts by date, stably: the chosen observations keep their order.
    states = [computed.iloc[step * width : (step + 1) * width] for step in range(len(chosen) + 1)]
    frames = [states[0].assign(observation=None)]
    taken = 0
    for step, observation in enumerate(ordered, start=1):
        if taken < len(chosen) and chosen[taken] is observation:
            taken += 1
            state = states[taken].copy()
        else:
            state = frames[-1].copy()
            state["applied"] = False
        state["step"] = step
        state["date"] = observation.observed_on
        state["kind"] = observation.kind
        state["key"] = observation.item_key
        state["seen"] = observation.seen
        state["observation"] = observation.id
        frames.append(state)
    table = pd.concat(frames, ignore_index=True)
    table["step"] = table["step"].astype(np.int64)
    table["seen"] = table["seen"].astype("boolean")
    table["applied"] = table["applied"].astype(bool)
    table["observation"] = table["observation"].astype(object)
    return table[[*TIMELINE_COLUMNS, "observation"]]


def scenario_tracker(session: Session, study: Study, *, individual: bool = True) -> Tracker:
    """The study's observations and, when the closed rounds allow, their timeline
    (with the range over the panel's individual likelihoods when ``individual``)."""
    ordered = observations(session, study)
    items = trackable(session, study)
    inputs = tracker_inputs(session, study, individual=individual)
    table = timeline(inputs, ordered) if inputs is not None else None
    return Tracker(observations=ordered, items=items, inputs=inputs, timeline=table)
