"""Resolving items and scoring the panel on them (issue 16, point 4): what may be
resolved and how each field is checked; scores on the closed rounds' answers only,
checked by hand (Brier 1950) for a probability item and a scenario set."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.answers import submit_responses
from surveys.errors import InvalidValues
from surveys.models import AuditEvent, ItemResolution, Panelist
from surveys.resolutions import forecast_scores, resolvable, resolve, withdraw
from surveys.rounds import close_round, open_round

SOURCE = "Reuters, 2027-03-02"


@pytest.fixture
def answered(make_study, make_panel):
    """Two panelists answer a trigger and the scenario set in round 1, which closes;
    round 2 opens and the first panelist changes the trigger (not to be scored)."""
    study = make_study()
    make_panel(study, 2)
    open_round(db.session, study)
    first, second = db.session.execute(select(Panelist).order_by(Panelist.id)).scalars()
    for panelist, trigger, scenarios in (
        (first, "80", ("60", "30", "10")),
        (second, "30", ("20", "50", "30")),
    ):
        form = {
            "trigger_tariffs": trigger,
            "scenarios.status_quo": scenarios[0],
            "scenarios.rift": scenarios[1],
            "scenarios.renewal": scenarios[2],
        }
        submit_responses(db.session, panelist, form)
    close_round(db.session, study)
    open_round(db.session, study)
    submit_responses(db.session, first, {"trigger_tariffs": "5"})
    return study, first, second


def test_only_probability_items_and_scenario_sets_resolve_and_each_field_is_checked(
    answered,
):
    study, _, _ = answered
    kinds = {entry.definition.kind for entry in resolvable(db.session, study)}
    assert kinds == {"probability", "scenario_set"}
    today = date.today()
    for key, outcome, when, source, field in [
        ("trust_now", "yes", today, SOURCE, "item"),  # a Likert item
        ("no_such_item", "yes", today, SOURCE, "item"),
        ("trigger_tariffs", "maybe", today, SOURCE, "outcome"),
        ("scenarios", "yes", today, SOURCE, "outcome"),
        ("trigger_tariffs", "yes", today + timedelta(days=2), SOURCE, "resolved_on"),
        ("trigger_tariffs", "yes", "2027-01-01", SOURCE, "resolved_on"),
        ("trigger_tariffs", "yes", today, "  ", "source"),
        ("trigger_tariffs", "yes", today, "a\nb", "source"),
        ("trigger_tariffs", "yes", today, "x" * 501, "source"),
    ]:
        with pytest.raises(InvalidValues) as refused:
            resolve(db.session, study, key, outcome, when, source)
        assert field in refused.value.errors, (key, outcome, when, source)
    assert db.session.execute(select(ItemResolution)).scalars().all() == []


def test_scores_are_brier_on_the_last_closed_round_by_hand(answered):
    """Trigger: forecasts .8 and .3, it occurred: Brier (1 − .8)² = .04 and .49.
    Scenarios (realised "rift"): Σ (p − o)² over the three scenarios:
    first .36 + .49 + .01 = .86, second .04 + .25 + .09 = .38.  Round 2's answer (5 %)
    is not scored: round 2 is open."""
    study, first, second = answered
    assert forecast_scores(db.session, study) is None  # nothing resolved yet
    resolve(db.session, study, "trigger_tariffs", "yes", date.today(), SOURCE)
    resolve(db.session, study, "scenarios", "rift", date.today(), SOURCE)
    scores = forecast_scores(db.session, study)
    assert scores is not None
    items = scores.items.set_index(["kind", "forecaster", "item"])
    assert items.loc[("panelist", first.pseudonym, "trigger_tariffs"), "brier"] == pytest.approx(
        0.04
    )
    assert items.loc[("panelist", second.pseudonym, "trigger_tariffs"), "brier"] == pytest.approx(
        0.49
    )
    assert items.loc[("panelist", first.pseudonym, "scenarios"), "brier"] == pytest.approx(0.86)
    assert items.loc[("panelist", second.pseudonym, "scenarios"), "brier"] == pytest.approx(0.38)
    # The mean pool of the trigger: .55, Brier .2025.
    assert items.loc[("pool", "mean", "trigger_tariffs"), "brier"] == pytest.approx(0.2025)
    assert scores.settings["rounds"] == {"scenarios": 1, "trigger_tariffs": 1}

    # Corrected, then withdrawn: the scores follow; each change is audited.
    resolve(db.session, study, "trigger_tariffs", "no", date.today(), SOURCE)
    items = forecast_scores(db.session, study).items.set_index(["kind", "forecaster", "item"])
    assert items.loc[("panelist", first.pseudonym, "trigger_tariffs"), "brier"] == pytest.approx(
        0.64
    )
    assert withdraw(db.session, study, "trigger_tariffs") is True
    assert withdraw(db.session, study, "trigger_tariffs") is False
    remaining = forecast_scores(db.session, study)
    assert set(remaining.items["item"]) == {"scenarios"}
    actions = db.session.execute(
        select(AuditEvent.action, AuditEvent.details).order_by(AuditEvent.id)
    ).all()
    resolved = [details for action, details in actions if action == "items.resolve"]
    assert [entry["outcome"] for entry in resolved] == ["yes", "rift", "no"]
    assert ("items.unresolve", {"item": "trigger_tariffs"}) in [
        (action, details) for action, details in actions
    ]


def test_two_first_resolutions_of_one_item_at_once_both_succeed(answered, app, monkeypatch):
    """Both requests read "not resolved yet" before either writes (held at a barrier
    right after the read): an insert would give the second a unique violation (the
    500 of a double click); the upsert lets both succeed, one outcome kept."""
    import threading

    from sqlalchemy.orm import Session

    import surveys.resolutions as resolutions

    study, _, _ = answered
    study_id = study.id
    db.session.remove()
    real = resolutions.resolvable
    barrier = threading.Barrier(2)
    waited = threading.local()

    def held(session, study):
        found = real(session, study)
        if not getattr(waited, "once", False):  # the check's read, not the scoring's
            waited.once = True
            barrier.wait(timeout=10)
        return found

    monkeypatch.setattr(resolutions, "resolvable", held)
    outcomes: list[object] = []

    def work(outcome: str) -> None:
        with app.app_context(), Session(db.engine) as session:
            try:
                mine = session.get(type(study), study_id)
                row = resolve(session, mine, "trigger_tariffs", outcome, date.today(), SOURCE)
                outcomes.append(row.outcome)
            except BaseException as error:  # reported below
                outcomes.append(error)

    threads = [threading.Thread(target=work, args=(outcome,)) for outcome in ("yes", "no")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(map(str, outcomes)) == ["no", "yes"], outcomes
    rows = db.session.execute(select(ItemResolution)).scalars().all()
    assert len(rows) == 1 and rows[0].outcome in ("yes", "no")
