"""The glance each close stores beside a round summary (surveys.summary_glance): the
parts the study page reads, small whatever the panel's size, read the same from the
glance as from the summary itself (summaries stored before glances have none)."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import select

from elicit.extensions import db
from surveys.calibration import classical_model_glance, latest_classical_model
from surveys.cross_impact import impact_tables
from surveys.demo import SIMULATED_ROUNDS, ensure_demo
from surveys.models import Round, RoundSummary, Study
from surveys.rounds import stopping_recommendation
from surveys.signposts import signpost_matrix
from surveys.summary_glance import STORED_EXPERTS, summary_glance, summary_parts
from surveys.tracking import scenario_tracker, tracker_inputs


def _simulated_demo(link_keys) -> Study:
    ensure_demo(db.session, panelists=30, keys=link_keys, simulate=True)
    return db.session.execute(select(Study)).scalar_one()


def _summaries(study: Study) -> list[RoundSummary]:
    return list(
        db.session.execute(
            select(RoundSummary)
            .join(RoundSummary.round)
            .where(Round.study_id == study.id)
            .order_by(Round.number)
        ).scalars()
    )


def test_each_close_stores_a_glance_of_the_parts_that_do_not_grow(app, link_keys):
    study = _simulated_demo(link_keys)
    summaries = _summaries(study)
    assert len(summaries) == SIMULATED_ROUNDS
    for summary in summaries:
        statistics, glance = summary.statistics, summary.glance
        assert glance is not None
        assert glance["rows"] == statistics["rows"]
        assert glance["cross_impact"] == statistics["cross_impact"]
        signposts = statistics["signposts"]
        assert glance["signposts"] == {
            key: value for key, value in signposts.items() if key != "individual"
        }
        assert {"matrix", "likelihoods", "ranking"} <= set(glance["signposts"])
        model = statistics["classical_model"]
        stored = glance["classical_model"]
        assert stored["experts"] == model["experts"][:STORED_EXPERTS]
        assert stored["weighted_experts"] == sum(1 for row in model["experts"] if row["weight"] > 0)
        assert {
            key: value
            for key, value in stored.items()
            if key not in ("experts", "weighted_experts")
        } == {key: value for key, value in model.items() if key != "experts"}
        # What grows with the panel stays out: sorted answers, experts' likelihoods.
        assert "distributions" not in glance and "individual" not in json.dumps(glance)


def test_a_glance_trims_the_experts_of_a_large_model():
    statistics = {
        "rows": [],
        "classical_model": {
            "status": "ok",
            "experts": [{"expert": n, "weight": 1.0 if n < 40 else 0.0} for n in range(1, 101)],
        },
    }
    glance = summary_glance(statistics)
    assert [row["expert"] for row in glance["classical_model"]["experts"]] == list(
        range(1, STORED_EXPERTS + 1)
    )
    assert glance["classical_model"]["weighted_experts"] == 39
    assert "signposts" not in glance and "cross_impact" not in glance


def _what_pages_read(study: Study) -> tuple:
    """Every reader of the summaries' parts, in the order the test compares them."""
    return (
        stopping_recommendation(db.session, study),
        classical_model_glance(db.session, study),
        tracker_inputs(db.session, study, individual=True),
        scenario_tracker(db.session, study).timeline,
        signpost_matrix(db.session, study, "es"),
        impact_tables(db.session, study, "en"),
        latest_classical_model(db.session, study, "en"),
    )


def test_pages_read_the_same_from_a_glance_and_from_a_summary_without_one(app, link_keys):
    study = _simulated_demo(link_keys)
    from_glance = _what_pages_read(study)
    for summary in _summaries(study):  # as stored before glances existed
        summary.glance = None
    db.session.commit()
    parts = summary_parts(db.session, study.id, ("rows", "cross_impact"), closed=True)
    assert [number for number, _ in parts] == list(range(SIMULATED_ROUNDS, 0, -1))
    from_statistics = _what_pages_read(study)
    glance_stop, statistics_stop = from_glance[0], from_statistics[0]
    assert glance_stop is not None and statistics_stop is not None
    assert (glance_stop.stop, glance_stop.reason, glance_stop.round) == (
        statistics_stop.stop,
        statistics_stop.reason,
        statistics_stop.round,
    )
    assert glance_stop.items.equals(statistics_stop.items)
    assert from_glance[1] == from_statistics[1]
    assert from_glance[1] is not None and from_glance[1].scored_experts == 30
    glance_inputs, statistics_inputs = from_glance[2], from_statistics[2]
    assert glance_inputs is not None and statistics_inputs is not None
    assert glance_inputs.rounds == statistics_inputs.rounds
    assert glance_inputs.prior.equals(statistics_inputs.prior)
    assert glance_inputs.likelihoods.equals(statistics_inputs.likelihoods)
    # The experts' likelihoods come from the column each close stores beside the summary.
    assert isinstance(glance_inputs.individual, np.ndarray)
    assert np.array_equal(glance_inputs.individual, statistics_inputs.individual, equal_nan=True)
    assert glance_inputs.conditionals.equals(statistics_inputs.conditionals)
    assert from_glance[3].equals(from_statistics[3])
    assert from_glance[4] == from_statistics[4] and from_glance[4] is not None
    assert from_glance[5] == from_statistics[5] and from_glance[5]
    assert from_glance[6] == from_statistics[6] and from_glance[6] is not None
