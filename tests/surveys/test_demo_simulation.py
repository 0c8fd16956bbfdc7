"""``elicit demo --simulate`` (surveys.demo.simulate_demo): the demo panel answers and
closes two rounds, round 3 opens, and the aftermath of issue 16 is recorded through the
tracker's and the resolutions' own functions, each marked as fictional, so that the
tracker, the scores and the classical model's weights have something to show.  Done
once: a demo with answers is never simulated again."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from elicit.extensions import db
from surveys.demo import FICTIONAL, SIMULATED_ROUNDS, ensure_demo
from surveys.models import (
    ItemResolution,
    Response,
    Round,
    RoundStatus,
    ScenarioObservation,
    Study,
)
from surveys.scores import stored_scores
from surveys.tracking import scenario_tracker


def test_the_simulated_demo_has_closed_rounds_observations_and_outcomes(app, link_keys):
    demo = ensure_demo(db.session, panelists=6, keys=link_keys, simulate=True)
    assert demo.simulated and len(demo.links) == 6
    study = db.session.execute(select(Study)).scalar_one()
    rounds = list(
        db.session.execute(
            select(Round).where(Round.study_id == study.id).order_by(Round.number)
        ).scalars()
    )
    assert [r.status for r in rounds] == [RoundStatus.CLOSED] * SIMULATED_ROUNDS + [
        RoundStatus.OPEN
    ]
    assert all(r.summary.respondents == 6 for r in rounds[:SIMULATED_ROUNDS])
    # The last closed round holds what the pages of issue 16 show.
    statistics = rounds[SIMULATED_ROUNDS - 1].summary.statistics
    assert "cross_impact" in statistics and "classical_model" in statistics

    observed = list(db.session.execute(select(ScenarioObservation)).scalars())
    today = date.today()
    assert observed and all(o.note.startswith(FICTIONAL) for o in observed)
    assert all(o.observed_on < today for o in observed)
    assert any(o.kind == "trigger" and o.item_key == "trigger_tariffs" for o in observed)
    # A signpost seen and another one not seen by a date.
    signposts = [o for o in observed if o.kind == "signpost"]
    assert sorted((o.seen, o.item_key) for o in signposts) == [
        (False, "signpost_liaison_expulsions"),
        (True, "signpost_mass_transfers"),
    ]
    assert "signposts" in statistics
    tracker = scenario_tracker(db.session, study)
    assert tracker.timeline is not None
    assert bool(tracker.timeline["applied"].all())  # every observation moves the probabilities

    resolved = {
        r.item_key: (r.outcome, r.resolved_on, r.source)
        for r in db.session.execute(select(ItemResolution)).scalars()
    }
    assert {key: outcome for key, (outcome, _, _) in resolved.items()} == {
        "trigger_tariffs": "yes",
        "trigger_unilateral_strike": "no",
    }
    assert resolved["trigger_tariffs"][1] == today - timedelta(days=40)
    assert all(source.startswith(FICTIONAL) for _, _, source in resolved.values())
    assert stored_scores(db.session, study) is not None

    # Once answered, the demo is never played again; round 3 waits for the links.
    answers = db.session.execute(select(func.count(Response.id))).scalar_one()
    again = ensure_demo(db.session, panelists=6, keys=link_keys, simulate=True)
    assert not again.simulated
    assert db.session.execute(select(func.count(Response.id))).scalar_one() == answers
    assert db.session.execute(select(func.count(ScenarioObservation.id))).scalar_one() == len(
        observed
    )


def test_without_simulate_the_demo_only_opens_round_one(app, link_keys):
    demo = ensure_demo(db.session, panelists=3, keys=link_keys)
    assert not demo.simulated
    assert db.session.execute(select(func.count(Round.id))).scalar_one() == 1
    assert db.session.execute(select(func.count(Response.id))).scalar_one() == 0
    assert db.session.execute(select(func.count(ScenarioObservation.id))).scalar_one() == 0
