"""The scenario tracker (issue 16, point 3): what may be observed and how each field
is checked; observations in date order; withdrawal; the timeline is
analysis.update_scenarios on the stored summary's numbers, checked by enumeration by
hand on a small case."""

from __future__ import annotations

import copy
import itertools
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from analysis.tracking import Observation, update_scenarios
from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.errors import InvalidValues
from surveys.models import (
    AuditEvent,
    Item,
    Panelist,
    Round,
    RoundStatus,
    RoundSummary,
    ScenarioObservation,
    Study,
    utcnow,
)
from surveys.rounds import close_round, open_round
from surveys.summary_glance import summary_glance
from surveys.tracking import (
    record,
    scenario_tracker,
    trackable,
    tracker_inputs,
    withdraw,
)

SOURCE = "Reuters, 2027-03-02"
SCENARIOS = ("status_quo", "rift", "renewal")
PRIOR = {"status_quo": 0.5, "rift": 0.3, "renewal": 0.2}
#: P(seen within the horizon | scenario), pooled.
MATRIX = {
    "signpost_a": {"status_quo": 0.8, "rift": 0.2, "renewal": 0.5},
    "signpost_b": {"status_quo": 0.1, "rift": 0.6, "renewal": 0.3},
}
#: Two panelists' own likelihoods (anonymous indexes, no pseudonym).
INDIVIDUAL = {
    0: {"signpost_a": (0.9, 0.1, 0.4), "signpost_b": (0.2, 0.7, 0.2)},
    1: {"signpost_a": (0.7, 0.3, 0.6), "signpost_b": (0.0, 0.5, 0.4)},
}
CONDITIONAL = {"trigger_tariffs": {"status_quo": 0.2, "rift": 0.6, "renewal": 0.2}}


def add_items(study: Study) -> None:
    """Two signposts on the scenario set and, unless the study has one (the demo does:
    tariffs and a unilateral strike), a cross-impact item naming the tariffs trigger."""
    kinds = {item.kind for item in study.items}
    added = [
        ("signpost_a", "signpost", {"scenario_item": "scenarios"}),
        ("signpost_b", "signpost", {"scenario_item": "scenarios"}),
    ]
    if "cross_impact" not in kinds:
        added.append(
            (
                "fake_impact",
                "cross_impact",
                {"scenario_item": "scenarios", "triggers": ["trigger_tariffs"]},
            )
        )
    position = 1000
    for key, kind, extra in added:
        position += 1
        spec = {
            "text": {"en": f"{key} in English", "es": f"{key} en español"},
            "section": "signposts",
            **extra,
        }
        db.session.add(Item(study_id=study.id, key=key, kind=kind, position=position, spec=spec))
    db.session.commit()


def closed_summary(study: Study, number: int = 1, **statistics) -> Round:
    """A closed round whose stored summary is ``statistics`` (per the issue's contract)."""
    round_ = Round(
        study_id=study.id,
        number=number,
        status=RoundStatus.CLOSED,
        opened_at=utcnow(),
        closed_at=utcnow(),
    )
    db.session.add(round_)
    db.session.flush()
    db.session.add(
        RoundSummary(
            round_id=round_.id, quantile_method="linear", respondents=3, statistics=statistics
        )
    )
    db.session.commit()
    return round_


def contract_summary() -> dict:
    """A summary's blocks per the contract: a fresh copy each time (tests change it)."""
    return copy.deepcopy(_contract_summary())


def _contract_summary() -> dict:
    return {
        "rows": [
            {"item": "scenarios", "component": key, "mean": 100 * PRIOR[key], "n": 3}
            for key in SCENARIOS
        ],
        "signposts": {
            "scenario_item": "scenarios",
            "scenarios": list(SCENARIOS),
            "matrix": MATRIX,
            "ranking": [],
            "individual": [
                {"expert": expert, "signpost": key, "scenario": scenario, "likelihood": value}
                for expert, given in INDIVIDUAL.items()
                for key, values in given.items()
                for scenario, value in zip(SCENARIOS, values, strict=True)
            ],
            "settings": {},
        },
        "cross_impact": {
            "any_impact": {
                "scenario_item": "scenarios",
                "triggers": ["trigger_tariffs"],
                "scenarios": list(SCENARIOS),
                "unconditional": PRIOR,
                "conditional": CONDITIONAL,
                "impacts": [],
            }
        },
    }


@pytest.fixture
def study(make_study):
    created = make_study()
    add_items(created)
    return created


def close_with_contract(study: Study, make_panel) -> None:
    """Round 1 really closed on two panelists' scenario sets (60/30/10 and 40/30/30: mean
    50/30/20), its stored summary then given the contract's "signposts" and
    "cross_impact" blocks, as the close stores them for a study with such items."""
    make_panel(study, 2)
    open_round(db.session, study)
    panelists = db.session.execute(select(Panelist).order_by(Panelist.id)).scalars().all()
    for panelist, values in zip(panelists, (("60", "30", "10"), ("40", "30", "30")), strict=True):
        submit_responses(
            db.session,
            panelist,
            {f"scenarios.{key}": value for key, value in zip(SCENARIOS, values, strict=True)},
        )
    close_round(db.session, study)
    summary = db.session.execute(select(RoundSummary)).scalar_one()
    extra = contract_summary()
    summary.statistics = {
        **summary.statistics,
        "signposts": extra["signposts"],
        "cross_impact": extra["cross_impact"],
    }
    summary.glance = summary_glance(summary.statistics)  # as a close writes it
    db.session.commit()


@pytest.fixture
def summarised(make_study, make_panel):
    study = make_study()
    close_with_contract(study, make_panel)
    add_items(study)
    return study


def test_signposts_and_the_cross_impact_triggers_may_be_observed_each_field_checked(study):
    items = {entry.key: entry.kind for entry in trackable(db.session, study)}
    assert items["signpost_a"] == items["signpost_b"] == "signpost"
    # Only the triggers the demo's cross-impact item names, not the other probability
    # items of its section "triggers".
    assert [key for key, kind in items.items() if kind == "trigger"] == [
        "trigger_tariffs",
        "trigger_unilateral_strike",
    ]
    today = utcnow().date()
    for kind, key, when, seen, note, field in [
        ("signpost", "trust_now", today, True, SOURCE, "item"),  # a Likert item
        ("signpost", "no_such_item", today, True, SOURCE, "item"),
        ("signpost", "trigger_tariffs", today, True, SOURCE, "item"),
        ("trigger", "signpost_a", today, True, SOURCE, "item"),
        # a probability item that no cross-impact item names as a trigger
        ("trigger", "trigger_officials_implicated", today, True, SOURCE, "item"),
        ("trigger", "trigger_tariffs", today, False, SOURCE, "seen"),
        ("rumour", "signpost_a", today, True, SOURCE, "kind"),
        ("signpost", "signpost_a", today + timedelta(days=2), True, SOURCE, "observed_on"),
        ("signpost", "signpost_a", "2027-01-01", True, SOURCE, "observed_on"),
        ("signpost", "signpost_a", datetime(2026, 1, 1, 12), True, SOURCE, "observed_on"),
        ("signpost", "signpost_a", today, True, "   ", "note"),
        ("signpost", "signpost_a", today, True, "a\nb", "note"),
        ("signpost", "signpost_a", today, True, "a\u2028b", "note"),
        ("signpost", "signpost_a", today, True, "x" * 501, "note"),
    ]:
        with pytest.raises(InvalidValues) as refused:
            record(
                db.session,
                study,
                kind=kind,
                item_key=key,
                observed_on=when,
                seen=seen,
                note=note,
            )
        assert field in refused.value.errors, (kind, key, when, note)
    assert db.session.execute(select(ScenarioObservation)).scalars().all() == []
    # "$", "=" and a formula-like note are text like any other, kept as typed.
    kept = record(
        db.session,
        study,
        kind="signpost",
        item_key="signpost_a",
        observed_on=today,
        note="=SUM(A1) costs $5 — 100 %",
    )
    assert kept.note == "=SUM(A1) costs $5 — 100 %"


NO_CROSS_IMPACT = """
[study]
slug = "no-cross-impact"
languages = ["en"]
max_rounds = 3
title = { en = "Triggers without a cross-impact item" }

[consensus]
criteria = [{ kind = "iqr", max = 20 }]

[[sections]]
key = "triggers"
title = { en = "Triggers" }

[[sections]]
key = "other"
title = { en = "Other" }

[[items]]
key = "scenarios"
section = "other"
kind = "scenario_set"
text = { en = "How likely is each scenario?" }

[[items.scenarios]]
key = "calm"
text = { en = "Calm" }

[[items.scenarios]]
key = "storm"
text = { en = "Storm" }

[[items]]
key = "trigger_flood"
section = "triggers"
kind = "probability"
text = { en = "A flood." }

[[items]]
key = "unrelated"
section = "other"
kind = "probability"
text = { en = "Something else." }
"""


def test_without_cross_impact_items_the_triggers_section_gives_the_triggers(make_study):
    """Such a trigger is recorded and listed, but no conditional set can apply it (here
    the closed rounds hold nothing to update with: no timeline)."""
    study = make_study(NO_CROSS_IMPACT)
    kinds = {entry.key: entry.kind for entry in trackable(db.session, study)}
    assert kinds == {"trigger_flood": "trigger"}
    record(
        db.session,
        study,
        kind="trigger",
        item_key="trigger_flood",
        observed_on=date(2026, 1, 5),
        note=SOURCE,
    )
    tracker = scenario_tracker(db.session, study)
    assert [row.item_key for row in tracker.observations] == ["trigger_flood"]
    assert tracker.timeline is None
    with pytest.raises(InvalidValues):
        record(
            db.session,
            study,
            kind="trigger",
            item_key="unrelated",
            observed_on=date(2026, 1, 5),
            note=SOURCE,
        )


def test_observations_are_in_date_order_then_as_recorded_and_can_be_withdrawn(summarised):
    study = summarised
    day = date(2026, 6, 1)
    later = record(
        db.session,
        study,
        kind="signpost",
        item_key="signpost_b",
        observed_on=day + timedelta(days=5),
        seen=False,
        note=SOURCE,
    )
    first = record(
        db.session, study, kind="signpost", item_key="signpost_a", observed_on=day, note=SOURCE
    )
    same_day = record(
        db.session,
        study,
        kind="trigger",
        item_key="trigger_tariffs",
        observed_on=day,
        note=SOURCE,
    )
    tracker = scenario_tracker(db.session, study)
    assert [row.id for row in tracker.observations] == [first.id, same_day.id, later.id]
    steps = tracker.timeline.drop_duplicates("step")
    assert steps["observation"].tolist() == [None, first.id, same_day.id, later.id]

    assert withdraw(db.session, study, same_day.id)
    assert not withdraw(db.session, study, same_day.id)  # already gone
    assert [row.id for row in scenario_tracker(db.session, study).observations] == [
        first.id,
        later.id,
    ]
    actions = [
        (event.action, event.details)
        for event in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()
    ]
    assert (
        "tracker.withdraw",
        {
            "observation": same_day.id,
            "kind": "trigger",
            "item": "trigger_tariffs",
            "observed_on": day.isoformat(),
            "seen": True,
        },
    ) in actions
    recorded = [details for action, details in actions if action == "tracker.observe"]
    assert len(recorded) == 3 and all(set(entry) >= {"item", "observed_on"} for entry in recorded)


def test_the_stored_summary_gives_the_prior_likelihoods_and_conditional_sets(summarised):
    inputs = tracker_inputs(db.session, summarised)
    assert inputs is not None
    assert inputs.scenario_item == "scenarios"
    assert inputs.scenarios == list(SCENARIOS)
    assert inputs.prior.to_dict() == pytest.approx(PRIOR)
    assert inputs.likelihoods.loc["signpost_b"].tolist() == [0.1, 0.6, 0.3]
    assert inputs.conditionals.loc["trigger_tariffs"].tolist() == [0.2, 0.6, 0.2]
    assert sorted(inputs.individual["panelist"].unique()) == [0, 1]
    assert inputs.rounds == {"prior": 1, "signposts": 1, "cross_impact": 1}


def test_no_closed_round_no_timeline_but_observations_are_kept(study):
    record(
        db.session,
        study,
        kind="signpost",
        item_key="signpost_a",
        observed_on=date(2026, 1, 2),
        note=SOURCE,
    )
    tracker = scenario_tracker(db.session, study)
    assert tracker.inputs is None and tracker.timeline is None
    assert len(tracker.observations) == 1


def enumerate_posterior(prior, matrix, evidence):
    """P(scenario | evidence) by summing the joint distribution of (scenario, every
    signpost's status) over all its outcomes, signposts independent given the scenario."""
    keys = list(matrix)
    joint = {}
    for scenario in prior:
        for statuses in itertools.product((True, False), repeat=len(keys)):
            weight = prior[scenario]
            for key, status in zip(keys, statuses, strict=True):
                likelihood = matrix[key][scenario]
                weight *= likelihood if status else 1 - likelihood
            joint[(scenario, statuses)] = weight
    consistent = {
        (scenario, statuses): weight
        for (scenario, statuses), weight in joint.items()
        if all(statuses[keys.index(key)] == seen for key, seen in evidence.items())
    }
    total = sum(consistent.values())
    return {
        scenario: sum(w for (s, _), w in consistent.items() if s == scenario) / total
        for scenario in prior
    }


def test_the_timeline_is_bayes_rule_checked_by_enumeration_and_by_hand(summarised):
    """Prior .5/.3/.2; signpost a seen (.8/.2/.5): .4/.06/.1 → .714/.107/.179; then b not
    seen (1 − .1/.6/.3 = .9/.4/.7): .36/.024/.07 → .793/.053/.154; then the tariffs
    trigger: the base becomes its conditional set .2/.6/.2 and both signposts still
    apply: .144/.048/.07 → .550/.183/.267."""
    study = summarised
    day = date(2026, 3, 1)
    for offset, kind, key, seen in (
        (0, "signpost", "signpost_a", True),
        (1, "signpost", "signpost_b", False),
        (2, "trigger", "trigger_tariffs", True),
    ):
        record(
            db.session,
            study,
            kind=kind,
            item_key=key,
            observed_on=day + timedelta(days=offset),
            seen=seen,
            note=SOURCE,
        )
    table = scenario_tracker(db.session, study).timeline
    by_step = {
        step: dict(zip(rows["scenario"], rows["probability"], strict=True))
        for step, rows in table.groupby("step")
    }
    assert by_step[0] == pytest.approx(PRIOR)
    assert by_step[1] == pytest.approx(enumerate_posterior(PRIOR, MATRIX, {"signpost_a": True}))
    assert by_step[1] == pytest.approx(
        {"status_quo": 0.4 / 0.56, "rift": 0.06 / 0.56, "renewal": 0.1 / 0.56}
    )
    assert by_step[2] == pytest.approx(
        enumerate_posterior(PRIOR, MATRIX, {"signpost_a": True, "signpost_b": False})
    )
    assert by_step[2] == pytest.approx(
        {"status_quo": 0.36 / 0.454, "rift": 0.024 / 0.454, "renewal": 0.07 / 0.454}
    )
    assert by_step[3] == pytest.approx(
        {"status_quo": 0.144 / 0.262, "rift": 0.048 / 0.262, "renewal": 0.07 / 0.262}
    )
    # The same as analysis.update_scenarios on the same inputs, sensitivity range included.
    expected = update_scenarios(
        pd.Series(PRIOR),
        pd.DataFrame(MATRIX).T[list(SCENARIOS)],
        [
            Observation(day, "signpost", "signpost_a", True),
            Observation(day + timedelta(days=1), "signpost", "signpost_b", False),
            Observation(day + timedelta(days=2), "trigger", "trigger_tariffs", True),
        ],
        individual=pd.DataFrame(
            [
                {"panelist": expert, "signpost": key, "scenario": scenario, "likelihood": value}
                for expert, given in INDIVIDUAL.items()
                for key, values in given.items()
                for scenario, value in zip(SCENARIOS, values, strict=True)
            ]
        ),
        conditionals=pd.DataFrame(CONDITIONAL).T[list(SCENARIOS)],
    ).timeline
    for column in ("step", "scenario", "applied"):
        assert table[column].tolist() == expected[column].tolist()
    for column in ("probability", "low", "high"):
        assert table[column].tolist() == pytest.approx(expected[column].tolist())
    # The panel's individual likelihoods widen the range around the pooled result.
    last = table[table["step"] == 3]
    assert (last["low"] <= last["probability"] + 1e-12).all()
    assert (last["high"] >= last["probability"] - 1e-12).all()
    assert (last["high"] - last["low"]).max() > 0.01


def test_an_observation_the_closed_rounds_give_nothing_for_leaves_the_probabilities(
    study,
):
    """A signpost without likelihoods in the summary (added after the round closed), or
    a trigger without a conditional set, is a step that changes nothing, marked as not
    applied; the next one applies as usual."""
    statistics = contract_summary()
    del statistics["signposts"]["matrix"]["signpost_b"]
    statistics["signposts"]["individual"] = []
    closed_summary(study, **statistics)
    for offset, kind, key in (
        (0, "signpost", "signpost_b"),
        (1, "signpost", "signpost_a"),
        # a trigger of the demo's cross-impact item without a conditional set stored
        (2, "trigger", "trigger_unilateral_strike"),
    ):
        record(
            db.session,
            study,
            kind=kind,
            item_key=key,
            observed_on=date(2026, 3, 1) + timedelta(days=offset),
            note=SOURCE,
        )
    table = scenario_tracker(db.session, study).timeline
    steps = table.drop_duplicates("step")
    assert steps["applied"].tolist() == [True, False, True, False]
    assert table[table["step"] == 3]["probability"].tolist() == pytest.approx(
        table[table["step"] == 2]["probability"].tolist()
    )
    assert table[table["step"] == 1]["probability"].tolist() == pytest.approx(
        [PRIOR[key] for key in SCENARIOS]
    )
    assert table[table["step"] == 2]["probability"].tolist() == pytest.approx(
        [0.4 / 0.56, 0.06 / 0.56, 0.1 / 0.56]
    )


def test_the_latest_closed_round_gives_the_numbers(study):
    early = contract_summary()
    closed_summary(study, 1, **early)
    late = contract_summary()
    late["signposts"]["matrix"]["signpost_a"] = {"status_quo": 0.5, "rift": 0.5, "renewal": 0.5}
    late["rows"] = [
        {"item": "scenarios", "component": key, "mean": value, "n": 3}
        for key, value in zip(SCENARIOS, (20, 20, 60), strict=True)
    ]
    closed_summary(study, 2, **late)
    inputs = tracker_inputs(db.session, study)
    assert inputs.likelihoods.loc["signpost_a"].tolist() == [0.5, 0.5, 0.5]
    assert inputs.prior.tolist() == pytest.approx([0.2, 0.2, 0.6])
    assert inputs.rounds["signposts"] == 2


def test_through_real_signpost_items_and_a_real_close(make_study, make_panel, post_answers):
    """Three experts answer the signpost study (tests/surveys/signpost_support.py) and
    round 1 closes.  Pooled (mean) likelihoods: troops .1/.8/.1, talks .4/.1/.8; prior
    (mean of the sets) .5/.3/.2.  Troops seen: .05/.24/.02 of .31; then talks not seen
    (× .6/.9/.2): .03/.216/.004 of .25 = .12/.864/.016."""
    from tests.surveys.signpost_support import ANSWERS, SIGNPOST_STUDY, form

    study = make_study(SIGNPOST_STUDY)
    links = make_panel(study, 3)
    open_round(db.session, study)
    for link, answers in zip(links, ANSWERS, strict=True):
        assert post_answers(link.token, form(answers)).status_code == 302
    close_round(db.session, study)
    kinds = {entry.key: entry.kind for entry in trackable(db.session, study)}
    assert kinds == {
        "signpost_troops": "signpost",
        "signpost_talks": "signpost",
        "signpost_weather": "signpost",
    }
    for offset, key, seen in ((0, "signpost_troops", True), (9, "signpost_talks", False)):
        record(
            db.session,
            study,
            kind="signpost",
            item_key=key,
            observed_on=date(2026, 5, 1) + timedelta(days=offset),
            seen=seen,
            note=SOURCE,
        )
    tracker = scenario_tracker(db.session, study)
    assert tracker.inputs.rounds == {"prior": 1, "signposts": 1}
    assert tracker.inputs.likelihoods.loc["signpost_troops"].tolist() == pytest.approx(
        [0.1, 0.8, 0.1]
    )
    table = tracker.timeline
    assert table[table["step"] == 0]["probability"].tolist() == pytest.approx([0.5, 0.3, 0.2])
    assert table[table["step"] == 1]["probability"].tolist() == pytest.approx(
        [0.05 / 0.31, 0.24 / 0.31, 0.02 / 0.31]
    )
    assert table[table["step"] == 2]["probability"].tolist() == pytest.approx([0.12, 0.864, 0.016])
    # Each expert's own likelihoods give the range: expert 1 alone (troops .2/.7/.1,
    # talks .3/.2/.7) puts storm after both at .3·.7·.8 / Σ = .168 / (.5·.2·.7 + .168
    # + .2·.1·.3) = .168 / .244 ≈ .689, the lowest of the three.
    last = table[table["step"] == 2].set_index("scenario")
    assert last.loc["storm", "low"] == pytest.approx(0.168 / 0.244)
    assert last.loc["storm", "high"] >= last.loc["storm", "probability"]
    # The close stored the experts' likelihoods a column per signpost and scenario, and
    # the tracker read those; from the summary's own list per expert, the same timeline.
    summary = db.session.execute(select(RoundSummary)).scalar_one()
    individual = summary.statistics["signposts"]["individual"]
    assert len(individual["experts"]) == 3
    assert summary.likelihoods == {
        "columns": individual["columns"],
        "values": [list(column) for column in zip(*individual["experts"], strict=True)],
    }
    summary.likelihoods = None
    db.session.commit()
    pd.testing.assert_frame_equal(scenario_tracker(db.session, study).timeline, table)


def test_the_study_page_reads_no_individual_likelihoods(summarised):
    assert tracker_inputs(db.session, summarised, individual=False).individual is None


def test_individual_likelihoods_one_expert_at_a_time_first_row_counts():
    """The range over the experts: expert 7 gave .9/.2/.5 for signpost a (a repeated
    .1 for status_quo after the .9 is ignored), expert 3 gave .2/.7/.4; a row for a
    signpost the matrix lacks is left out.  After a seen: expert 7 .5·.9 = .45 / (.45 + .3·.2 +
    .2·.5 = .61), expert 3 .1 / (.1 + .21 + .08 = .39)."""
    individual = pd.DataFrame(
        [
            (7, "signpost_a", "status_quo", 0.9),
            (7, "signpost_a", "status_quo", 0.1),
            (7, "signpost_a", "rift", 0.2),
            (7, "signpost_a", "renewal", 0.5),
            (3, "signpost_a", "status_quo", 0.2),
            (3, "signpost_a", "rift", 0.7),
            (3, "signpost_a", "renewal", 0.4),
            (3, "unknown", "rift", 0.5),
        ],
        columns=["panelist", "signpost", "scenario", "likelihood"],
    )
    result = update_scenarios(
        pd.Series(PRIOR),
        pd.DataFrame(MATRIX).T[list(SCENARIOS)],
        [Observation(date(2026, 1, 1), "signpost", "signpost_a", True)],
        individual=individual,
    )
    last = result.timeline[result.timeline["step"] == 1].set_index("scenario")
    assert last.loc["status_quo", "high"] == pytest.approx(0.45 / 0.61)
    assert last.loc["status_quo", "low"] == pytest.approx(0.1 / 0.39)


def test_a_trigger_through_the_demos_real_cross_impact_item_and_a_real_close(
    make_study, make_panel, post_answers
):
    """Two experts answer the demo's scenario set and its cross-impact item (tariffs:
    30/60/10 and 10/80/10, a unilateral strike: 20/70/10 and 40/40/20); round 1 closes
    and stores "cross_impact".  Prior: the mean set 50/30/20.  The tariffs trigger
    occurring makes the pooled set given tariffs, 20/70/10, the base: with no signpost
    observed, that is the probability."""
    study = make_study()
    links = make_panel(study, 2)
    open_round(db.session, study)
    for link, scenarios, tariffs, strike in (
        (links[0], (60, 30, 10), (30, 60, 10), (20, 70, 10)),
        (links[1], (40, 30, 30), (10, 80, 10), (40, 40, 20)),
    ):
        answers = {
            f"scenarios.{key}": str(value) for key, value in zip(SCENARIOS, scenarios, strict=True)
        }
        for trigger, values in (
            ("trigger_tariffs", tariffs),
            ("trigger_unilateral_strike", strike),
        ):
            answers |= {
                f"trigger_impact.{trigger}:{key}": str(value)
                for key, value in zip(SCENARIOS, values, strict=True)
            }
        answers |= {"trigger_tariffs": "40", "trigger_unilateral_strike": "15"}
        assert post_answers(link.token, answers).status_code == 302
    close_round(db.session, study)
    record(
        db.session,
        study,
        kind="trigger",
        item_key="trigger_tariffs",
        observed_on=date(2026, 6, 1),
        note=SOURCE,
    )
    tracker = scenario_tracker(db.session, study)
    assert tracker.inputs.rounds == {"prior": 1, "cross_impact": 1}
    table = tracker.timeline
    assert table[table["step"] == 0]["probability"].tolist() == pytest.approx([0.5, 0.3, 0.2])
    assert table[table["step"] == 1]["probability"].tolist() == pytest.approx([0.2, 0.7, 0.1])
    assert table["applied"].all()


def test_both_layouts_of_the_individual_likelihoods_read_the_same(summarised):
    """Summaries store the experts' likelihoods a list per expert; those stored before
    held a row per likelihood.  Both give the tracker the same frame."""
    from surveys.tracking import _individual

    rows = contract_summary()["signposts"]["individual"]
    columns = [[key, scenario] for key in ("signpost_a", "signpost_b") for scenario in SCENARIOS]
    experts = [
        [INDIVIDUAL[expert][key][SCENARIOS.index(scenario)] for key, scenario in columns]
        for expert in sorted(INDIVIDUAL)
    ]
    experts[1][0] = None  # an expert who left one cell empty
    rows = [
        row
        for row in rows
        if not (row["expert"] == 1 and row["signpost"] == "signpost_a")
        or row["scenario"] != "status_quo"
    ]
    matrix = pd.DataFrame(MATRIX).T[list(SCENARIOS)]
    old = _individual(rows, matrix)
    new = _individual({"columns": columns, "experts": experts}, matrix)
    order = ["panelist", "signpost", "scenario"]
    pd.testing.assert_frame_equal(
        old.sort_values(order, ignore_index=True),
        new.sort_values(order, ignore_index=True),
        check_dtype=False,
    )
    assert len(new) == 2 * 6 - 1
    assert _individual({"columns": [], "experts": []}, matrix) is None
    # The columns a close stores beside the summary: one array, the same timeline.
    by_column = {"columns": columns, "values": [list(c) for c in zip(*experts, strict=True)]}
    array = _individual({"by_column": by_column}, matrix)
    assert array.shape == (2, 2, 3) and np.isnan(array[1, 0, 0])
    assert array[0, 1].tolist() == list(INDIVIDUAL[0]["signpost_b"])
    seen = [Observation(date(2026, 1, 1), "signpost", "signpost_a", True)]
    pd.testing.assert_frame_equal(
        update_scenarios(pd.Series(PRIOR), matrix, seen, individual=new).timeline,
        update_scenarios(pd.Series(PRIOR), matrix, seen, individual=array).timeline,
    )
    assert _individual({"by_column": {"columns": [], "values": []}}, matrix) is None
