"""Stored scores (issue 16, point 4): written when an outcome is recorded or withdrawn
and when a round closes, read by every page; calibration tables from
MIN_CALIBRATION_EVENTS resolved events, checked by hand (Wilson 1927) and against
scikit-learn's Brier and log losses."""

from __future__ import annotations

import math
from datetime import date

import pytest
from sklearn.metrics import brier_score_loss, log_loss
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.models import ForecasterScore, Panelist, ScoreSheet
from surveys.resolutions import forecast_scores, resolve, withdraw
from surveys.rounds import close_round, open_round
from surveys.scores import (
    MIN_CALIBRATION_EVENTS,
    PANEL,
    iter_panelist_scores,
    own_score,
    panelist_scores,
    stored_scores,
)
from surveys.settings import update_settings

SOURCE = "Reuters, 2027-03-02"
TODAY = date.today()


@pytest.fixture
def answered(make_study, make_panel):
    """Two panelists answer a trigger and the scenario set in round 1, which closes;
    round 2 opens and the first panelist changes the trigger to 5 %."""
    study = make_study()
    make_panel(study, 2)
    open_round(db.session, study)
    first, second = db.session.execute(select(Panelist).order_by(Panelist.id)).scalars()
    for panelist, trigger, scenarios in (
        (first, "80", ("60", "30", "10")),
        (second, "30", ("20", "50", "30")),
    ):
        submit_responses(
            db.session,
            panelist,
            {
                "trigger_tariffs": trigger,
                "scenarios.status_quo": scenarios[0],
                "scenarios.rift": scenarios[1],
                "scenarios.renewal": scenarios[2],
            },
        )
    close_round(db.session, study)
    open_round(db.session, study)
    submit_responses(db.session, first, {"trigger_tariffs": "5"})
    return study, first, second


def _by_forecaster(rows):
    return {row["forecaster"]: row for row in rows}


def test_scores_are_stored_when_outcomes_change_and_rounds_close(answered):
    """By hand (Brier 1950; log score −ln of the probability given to what happened):
    trigger forecasts .8 and .3, it occurred: .04 and .49, −ln .8 and −ln .3; the mean
    pool .55: .2025.  Scenario sets (.6, .3, .1) and (.2, .5, .3), "rift" unfolded:
    .86 and .38; the mean pool (.4, .4, .2): .16 + .36 + .04 = .56, −ln .4."""
    study, first, second = answered
    assert stored_scores(db.session, study) is None
    resolve(db.session, study, "trigger_tariffs", "yes", TODAY, SOURCE)
    resolve(db.session, study, "scenarios", "rift", TODAY, SOURCE)
    stored = stored_scores(db.session, study)
    assert stored is not None and stored.panelists == 2
    pools = _by_forecaster(stored.pools)
    assert [row["forecaster"] for row in stored.pools] == [
        "mean",
        "median",
        "trimmed_mean",
        "geometric_odds",
        "extremized",
    ]
    assert pools["mean"]["brier"] == pytest.approx(0.2025)
    assert pools["mean"]["brier_scenarios"] == pytest.approx(0.56)
    assert pools["mean"]["log"] == pytest.approx((-math.log(0.55) - math.log(0.4)) / 2)
    panel = _by_forecaster(panelist_scores(db.session, study))
    assert panel[first.pseudonym]["brier"] == pytest.approx(0.04)
    assert panel[second.pseudonym]["brier"] == pytest.approx(0.49)
    assert panel[first.pseudonym]["brier_scenarios"] == pytest.approx(0.86)
    assert panel[second.pseudonym]["brier_scenarios"] == pytest.approx(0.38)
    assert panel[first.pseudonym]["log"] == pytest.approx((-math.log(0.8) - math.log(0.3)) / 2)
    # scikit-learn's losses over the two trigger forecasts and the four log scores.
    assert (panel[first.pseudonym]["brier"] + panel[second.pseudonym]["brier"]) / 2 == (
        pytest.approx(brier_score_loss([1, 1], [0.8, 0.3]))
    )
    logs = [panel[p.pseudonym]["log"] * 2 for p in (first, second)]
    reference = log_loss([1, 1, 1, 1], [0.8, 0.3, 0.3, 0.5], labels=[0, 1]) * 4
    assert sum(logs) == pytest.approx(reference)
    # What is stored is what the analysis computes.
    computed = forecast_scores(db.session, study).summary.reset_index()
    mean = computed[computed["forecaster"] == "mean"].iloc[0]
    assert pools["mean"]["log"] == pytest.approx(mean["log"])
    # Per pool and item, and the exports' reading of every panelist.
    items = {row["item"]: row for row in stored.pool_items["mean"]}
    assert items["trigger_tariffs"]["brier"] == pytest.approx(0.2025)
    assert items["scenarios"]["brier_scenarios"] == pytest.approx(0.56)
    assert {row["forecaster"] for row in iter_panelist_scores(db.session, study)} == {
        first.pseudonym,
        second.pseudonym,
    }

    # Corrected: the stored scores follow in the same transaction (the mean pool .55
    # of an event that did not happen: .3025), then back.
    resolve(db.session, study, "trigger_tariffs", "no", TODAY, SOURCE)
    pools = _by_forecaster(stored_scores(db.session, study).pools)
    assert pools["mean"]["brier"] == pytest.approx(0.3025)
    resolve(db.session, study, "trigger_tariffs", "yes", TODAY, SOURCE)
    stored = stored_scores(db.session, study)

    # Round 2 closes: the trigger is scored on its answer there (5 %, by the first
    # panelist only): (1 − .05)² = .9025; the second has no trigger score any more.
    revision = stored.revision
    close_round(db.session, study)
    stored = stored_scores(db.session, study)
    assert stored.revision == revision + 1
    assert stored.rounds == {"scenarios": 1, "trigger_tariffs": 2}
    panel = _by_forecaster(panelist_scores(db.session, study))
    assert panel[first.pseudonym]["brier"] == pytest.approx(0.9025)
    assert panel[second.pseudonym]["probability_items"] == 0
    assert panel[second.pseudonym]["brier"] is None

    # Withdrawn: the stored rows follow; all withdrawn, nothing is scored.
    withdraw(db.session, study, "trigger_tariffs")
    stored = stored_scores(db.session, study)
    assert set(stored.rounds) == {"scenarios"}
    assert {row["item"] for row in stored.pool_items["mean"]} == {"scenarios"}
    withdraw(db.session, study, "scenarios")
    assert stored_scores(db.session, study) is None
    assert db.session.execute(select(ForecasterScore)).scalars().all() == []
    assert db.session.get(ScoreSheet, study.id).settings["resolved"] == 0


def test_a_close_without_any_outcome_stores_nothing(answered):
    study, _, _ = answered
    close_round(db.session, study)
    assert db.session.execute(select(ScoreSheet)).scalars().all() == []


def _ten_items() -> str:
    items = "".join(
        f'[[items]]\nkey = "event_{number}"\nkind = "probability"\ntext.en = "Event {number}"\n'
        for number in range(1, 11)
    )
    return (
        '[study]\nslug = "calibrated"\nlanguages = ["en"]\nmax_rounds = 2\ntitle = { en = "C" }\n'
        '[consensus]\ncriteria = [{ kind = "iqr", max = 1 }]\n' + items
    )


def test_calibration_is_shown_from_ten_events_and_matches_hand_values(make_study, make_panel):
    """Ten events, eight of which happen; one panelist forecasts 90 % each time, the
    other 70 %.  The mean pool, .8 each time, fills one bin [.8, .9): 10 forecasts, 8
    came true, observed .8, Wilson 95 % interval (z = 1.96): centre
    (.8 + z²/20) / (1 + z²/10) = .7167, half-width
    z·√(.8·.2/10 + z²/400) / (1 + z²/10) = .2266, so [.4902, .9433].  The geometric
    mean of the odds √(9 · 7/3) = 4.583 gives .8208, the same bin.  The panel's table
    has two bins, [.7, .8) and [.9, 1], of ten forecasts each."""
    study = make_study(_ten_items())
    make_panel(study, 2)
    open_round(db.session, study)
    first, second = db.session.execute(select(Panelist).order_by(Panelist.id)).scalars()
    for panelist, value in ((first, "90"), (second, "70")):
        submit_responses(
            db.session, panelist, {f"event_{number}": value for number in range(1, 11)}
        )
    close_round(db.session, study)
    for number in range(1, 10):
        resolve(db.session, study, f"event_{number}", "yes" if number <= 8 else "no", TODAY, SOURCE)
    stored = stored_scores(db.session, study)
    assert stored.calibration["mean"].events == 9 < MIN_CALIBRATION_EVENTS
    assert not stored.calibration["mean"].shown
    resolve(db.session, study, "event_10", "no", TODAY, SOURCE)
    stored = stored_scores(db.session, study)
    mean = stored.calibration["mean"]
    assert mean.shown and mean.few
    (row,) = mean.rows
    assert (row["bin_low"], row["bin_high"], row["count"], row["events"]) == (0.8, 0.9, 10, 8)
    assert row["mean_forecast"] == pytest.approx(0.8)
    assert row["observed_frequency"] == pytest.approx(0.8)
    assert row["ci_low"] == pytest.approx(0.4902, abs=1e-4)
    assert row["ci_high"] == pytest.approx(0.9433, abs=1e-4)
    (odds,) = stored.calibration["geometric_odds"].rows
    assert odds["mean_forecast"] == pytest.approx(math.sqrt(21) / (1 + math.sqrt(21)))
    panel = stored.calibration[PANEL]
    assert (panel.events, panel.forecasts) == (10, 20)
    assert [(r["bin_low"], r["count"], r["events"]) for r in panel.rows] == [
        (0.7, 10, 8),
        (0.9, 10, 8),
    ]


def test_an_expert_sees_only_their_own_score_and_only_when_the_study_shows_it(answered):
    study, first, second = answered
    resolve(db.session, study, "trigger_tariffs", "yes", TODAY, SOURCE)
    assert own_score(db.session, study.id, first.pseudonym) is None  # off by default
    update_settings(db.session, study, {"show_own_score": True})
    mine = own_score(db.session, study.id, first.pseudonym)
    assert mine.mine["forecaster"] == first.pseudonym
    assert mine.mine["brier"] == pytest.approx(0.04)
    assert mine.pool["forecaster"] == "mean"
    assert mine.pool["brier"] == pytest.approx(0.2025)
    theirs = own_score(db.session, study.id, second.pseudonym)
    assert theirs.mine["brier"] == pytest.approx(0.49)
    assert own_score(db.session, study.id, "no-such-pseudonym") is None
