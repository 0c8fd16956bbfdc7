"""Changing a study's settings: validation, anonymity never lowered, what may change
while a round is open, the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from elicit.extensions import db
from surveys.definition import InvalidDefinition, parse_consensus
from surveys.errors import InvalidValues
from surveys.models import AuditEvent
from surveys.rounds import close_round, open_round
from surveys.serialization import consensus_from_json, consensus_to_toml
from surveys.settings import consensus_text, update_settings

SEEN = "changes what experts see or answer: change it once the open round is closed"
LOCKED = "rules cannot change while a round is open: change it once the open round is closed"
STRICTER = """\
[consensus]
combine = "all"
criteria = [{ kind = "iqr", max = 0.5 }]

[consensus.by_kind.probability]
criteria = [{ kind = "iqr", max = 10 }]
"""


@pytest.fixture
def study(make_study):
    """The demo study, not started."""
    return make_study()


def refused(study, changes):
    """The errors :func:`update_settings` reports for ``changes``."""
    with pytest.raises(InvalidValues) as raised:
        update_settings(db.session, study, changes)
    return raised.value.errors


def test_settings_change_and_are_audited(study, make_user):
    lead = make_user("lead@example.org", studies=[study])
    before = consensus_text(study)
    changed = update_settings(
        db.session,
        study,
        {
            "quantile_method": "weibull",
            "feedback_min_n": 5,
            "rationale_outside_iqr": "required",
            "max_rounds": 4,
            "cannot_judge": True,  # unchanged: not reported
            "consensus": STRICTER,
        },
        lead,
    )
    assert set(changed) == {
        "quantile_method",
        "feedback_min_n",
        "rationale_outside_iqr",
        "max_rounds",
        "consensus",
    }
    assert (study.quantile_method, study.feedback_min_n, study.max_rounds) == ("weibull", 5, 4)
    assert consensus_from_json(study.consensus) == parse_consensus(STRICTER)
    event = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "study.settings")
    ).scalar_one()
    assert event.user_email == "lead@example.org"
    assert event.details["max_rounds"] == {"from": 3, "to": 4}
    # The audit keeps both rules, not only that the rule changed.
    assert event.details["consensus"] == {
        "from": before,
        "to": consensus_to_toml(parse_consensus(STRICTER)),
    }
    assert update_settings(db.session, study, {"max_rounds": 4}) == {}


def test_every_bad_value_is_named_and_nothing_changes(study):
    errors = refused(
        study,
        {
            "quantile_method": "median-ish",
            "feedback_min_n": 0,
            "rationale_outside_iqr": "sometimes",
            "max_rounds": 21,
            "cannot_judge": "yes",
            "colour": "blue",
        },
    )
    assert set(errors) == {
        "quantile_method",
        "feedback_min_n",
        "rationale_outside_iqr",
        "max_rounds",
        "cannot_judge",
        "colour",
    }
    db.session.refresh(study)
    assert (study.quantile_method, study.feedback_min_n, study.max_rounds) == ("linear", 3, 3)


def test_consensus_errors_name_their_line(study):
    errors = refused(
        study, {"consensus": '[consensus]\ncombine = "all"\ncriteria = [{ kind = "iqr" }]\n'}
    )
    assert errors["consensus"] == ["line 3: consensus.criteria[1].max: required field is missing"]
    errors = refused(study, {"consensus": '[study]\nslug = "x"\n'})
    assert errors["consensus"] == [
        "line 1: study: write only the [consensus] table and its [consensus.by_kind.…] tables"
    ]


def test_consensus_text_is_what_the_form_shows(study):
    text = consensus_text(study)
    assert text.startswith("[consensus]\n")
    assert parse_consensus(text) == consensus_from_json(study.consensus)
    assert consensus_to_toml(parse_consensus(text)) == text


def test_anonymity_is_raised_but_never_lowered(study):
    update_settings(db.session, study, {"anonymity": "blind"})
    assert study.anonymity == "blind"
    errors = refused(study, {"anonymity": "standard"})
    assert errors == {"anonymity": ["can be raised but never lowered: the study is blind"]}
    assert study.anonymity == "blind"


def test_max_rounds_cannot_fall_below_the_rounds_held(study):
    for _ in range(2):
        open_round(db.session, study)
        close_round(db.session, study)
    errors = refused(study, {"max_rounds": 1})
    assert errors["max_rounds"] == ["must be a whole number from 2 to 20 (2 round(s) held already)"]
    changed = update_settings(db.session, study, {"max_rounds": 2}, reason="enough rounds")
    assert changed == {"max_rounds": 2}


def test_while_a_round_is_open_only_the_anonymity_changes(study):
    open_round(db.session, study)
    errors = refused(
        study,
        {
            "cannot_judge": False,
            "rationale_outside_iqr": "off",
            "feedback_min_n": 4,
            "quantile_method": "hazen",
            "consensus": STRICTER,
            "max_rounds": 5,
            "consensus_items": "leave",
        },
    )
    assert errors == {
        "cannot_judge": [SEEN],
        "rationale_outside_iqr": [SEEN],
        "feedback_min_n": [LOCKED],
        "quantile_method": [LOCKED],
        "consensus": [LOCKED],
        "max_rounds": [LOCKED],
        "consensus_items": [LOCKED],
    }
    changed = update_settings(db.session, study, {"anonymity": "blind"}, reason="asked for")
    assert changed == {"anonymity": "blind"}
    # An unchanged value of a fixed setting is no change, so the form can send it back.
    assert update_settings(db.session, study, {"cannot_judge": True, "max_rounds": 3}) == {}


def test_consensus_items_takes_one_of_three_values(study):
    assert refused(study, {"consensus_items": "sometimes"}) == {
        "consensus_items": ["choose one of leave, stay, ask"]
    }
    assert update_settings(db.session, study, {"consensus_items": "ask"}) == {
        "consensus_items": "ask"
    }
    assert study.consensus_items == "ask"


def test_consensus_reader_refuses_other_tables():
    with pytest.raises(InvalidDefinition, match=r"write only the \[consensus\] table"):
        parse_consensus(
            '[consensus]\ncriteria = [{ kind = "iqr", max = 1 }]\n[[items]]\nkey = "x"\n'
        )
