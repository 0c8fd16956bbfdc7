"""Pre-registration: the stamp at round 1, amendments with reasons after it, rules fixed
while a round is open, and what becomes of items at consensus at a close."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from elicit.extensions import db
from surveys.curation import add_item, retire_item, reword_item
from surveys.definition import parse_definition
from surveys.definition_writer import definition_to_toml
from surveys.errors import Conflict, InvalidValues
from surveys.exports import export_tables
from surveys.models import Amendment, AuditEvent, ProtocolStamp
from surveys.protocol import (
    amendments,
    is_stamped,
    protocol_stamp,
    record_amendment,
    require_no_open_round_for_rules,
)
from surveys.rounds import close_round, open_round
from surveys.serialization import item_from_json, item_to_toml
from surveys.settings import update_settings
from surveys.studies import study_definition
from tests.conftest import NEW_ITEM

STRICTER = """\
[consensus]
combine = "all"
criteria = [{ kind = "iqr", max = 0.5 }]

[consensus.by_kind.probability]
criteria = [{ kind = "iqr", max = 20 }]

[consensus.by_kind.ranking]
criteria = [{ kind = "rwg", min = 0.7 }]
"""
"""The rules of :data:`BEFORE` with a stricter default, the probability table as it
was, the scenario-set table gone and a ranking table new."""
BEFORE = """\
[consensus]
combine = "all"
criteria = [{ kind = "iqr", max = 1 }]

[consensus.by_kind.probability]
criteria = [{ kind = "iqr", max = 20 }]

[consensus.by_kind.scenario_set]
criteria = [{ kind = "iqr", max = 20 }]
"""


@pytest.fixture
def study(make_study):
    """The demo study, not started."""
    return make_study()


@pytest.fixture
def lead(make_user, study):
    """A facilitator of the study."""
    return make_user("lead@example.org", studies=[study])


@pytest.fixture
def stamped(study, lead):
    """The demo study after round 1 opened and closed (no answers)."""
    open_round(db.session, study, actor=lead)
    close_round(db.session, study, actor=lead)
    return study


def events(action):
    """The audit events of ``action``, oldest first."""
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


def amendment_count():
    """How many amendments are stored."""
    return db.session.execute(select(func.count()).select_from(Amendment)).scalar_one()


# -- the stamp ---------------------------------------------------------------------------


def test_round_1_stamps_the_definition_as_it_stood(study, lead):
    before = definition_to_toml(study_definition(study))
    assert not is_stamped(db.session, study)
    assert not is_stamped(study)
    open_round(db.session, study, actor=lead)
    stamp = protocol_stamp(db.session, study)
    assert stamp is not None
    assert is_stamped(study) and is_stamped(db.session, study)
    assert stamp.definition == before
    assert stamp.sha256 == hashlib.sha256(before.encode("utf-8")).hexdigest()
    assert stamp.user_email == "lead@example.org"
    assert stamp.consensus_items == "stay"
    assert [event.details["sha256"] for event in events("protocol.stamp")] == [stamp.sha256]


def test_the_stamped_file_holds_what_becomes_of_items_at_consensus(study, lead):
    """The stamped TOML states the study's consensus-items setting: loaded back it gives
    the stamp's own ``consensus_items``; "stay", the default, adds no line, so the
    stamp of a study that keeps its items is the text it was before the setting
    belonged to the file."""
    update_settings(db.session, study, {"consensus_items": "ask"})
    open_round(db.session, study, actor=lead)
    stamp = protocol_stamp(db.session, study)
    assert parse_definition(stamp.definition).consensus_items == stamp.consensus_items == "ask"
    assert 'consensus_items = "ask"' in stamp.definition
    without = stamp.definition.replace(
        'consensus_items = "ask"            # at each close, choose which items at consensus '
        "leave\n",
        "",
    )
    assert without == definition_to_toml(replace(study_definition(study), consensus_items="stay"))
    assert "consensus_items" not in without


def test_later_changes_and_rounds_leave_the_stamp_as_it_was(stamped, lead):
    stamp = protocol_stamp(db.session, stamped)
    assert stamp is not None
    sha256, text, at = stamp.sha256, stamp.definition, stamp.stamped_at
    update_settings(db.session, stamped, {"feedback_min_n": 5}, lead, reason="small panel")
    item = next(item for item in stamped.items if item.key == "trust_now")
    reworded = item_to_toml(item_from_json(item.key, item.kind, item.spec)).replace(
        "security leaders", "security chiefs", 1
    )
    assert reworded != item_to_toml(item_from_json(item.key, item.kind, item.spec))
    reword_item(db.session, stamped, "trust_now", reworded, lead, "clearer")
    open_round(db.session, stamped, actor=lead)
    db.session.expire_all()
    rows = db.session.execute(select(ProtocolStamp)).scalars().all()
    assert len(rows) == 1
    assert (rows[0].sha256, rows[0].definition, rows[0].stamped_at) == (sha256, text, at)
    assert definition_to_toml(study_definition(stamped)) != text


def test_opening_round_1_from_the_command_line_stamps_without_a_user(study):
    open_round(db.session, study)
    stamp = protocol_stamp(db.session, study)
    assert stamp is not None and stamp.user_email is None


# -- amendments to settings --------------------------------------------------------------


def test_before_the_stamp_settings_change_without_a_reason(study, lead):
    assert update_settings(db.session, study, {"feedback_min_n": 5}, lead) == {"feedback_min_n": 5}
    assert amendment_count() == 0


@pytest.mark.parametrize("reason", [None, "", "   \n "])
def test_after_the_stamp_a_change_without_a_reason_is_refused_and_nothing_changes(
    stamped, lead, reason
):
    with pytest.raises(InvalidValues) as refused:
        update_settings(
            db.session,
            stamped,
            {"feedback_min_n": 5, "consensus": STRICTER},
            lead,
            reason=reason,
        )
    assert list(refused.value.errors) == ["reason"]
    assert "say why" in refused.value.errors["reason"][0]
    db.session.expire_all()
    assert stamped.feedback_min_n == 3
    assert stamped.consensus["default"]["criteria"] == [{"kind": "iqr", "max": 1}]
    assert amendment_count() == 0
    assert events("study.settings") == []


def test_each_changed_setting_is_an_amendment_with_old_and_new_values(stamped, lead):
    update_settings(
        db.session,
        stamped,
        {"feedback_min_n": 5, "cannot_judge": False, "max_rounds": 3},  # max_rounds as is
        lead,
        reason="  the panel is small  ",
    )
    recorded = {a.what: a for a in amendments(db.session, stamped)}
    assert set(recorded) == {"settings.feedback_min_n", "settings.cannot_judge"}
    minimum = recorded["settings.feedback_min_n"]
    assert (minimum.old_value, minimum.new_value) == ("3", "5")
    assert (minimum.reason, minimum.first_round, minimum.user_email) == (
        "the panel is small",
        2,
        "lead@example.org",
    )
    judge = recorded["settings.cannot_judge"]
    assert (judge.old_value, judge.new_value) == ("true", "false")
    (event,) = events("study.settings")
    assert event.details["feedback_min_n"] == {"from": 3, "to": 5}
    assert event.details["cannot_judge"] == {"from": True, "to": False}
    assert event.details["reason"] == "the panel is small"


def test_a_consensus_change_is_one_amendment_per_table_and_audits_both_texts(study, lead):
    update_settings(db.session, study, {"consensus": BEFORE}, lead)
    open_round(db.session, study, actor=lead)
    close_round(db.session, study, actor=lead)
    update_settings(db.session, study, {"consensus": STRICTER}, lead, reason="pilot")
    recorded = {a.what: (a.old_value, a.new_value) for a in amendments(db.session, study)}
    assert recorded == {
        "consensus.default": (
            '{ combine = "all", criteria = [{ kind = "iqr", max = 1 }] }',
            '{ combine = "all", criteria = [{ kind = "iqr", max = 0.5 }] }',
        ),
        "consensus.by_kind.scenario_set": (
            '{ combine = "all", criteria = [{ kind = "iqr", max = 20 }] }',
            "",
        ),
        "consensus.by_kind.ranking": (
            "",
            '{ combine = "all", criteria = [{ kind = "rwg", min = 0.7 }] }',
        ),
    }
    event = events("study.settings")[-1]
    assert "max = 1 }" in event.details["consensus"]["from"]
    assert "[consensus.by_kind.scenario_set]" in event.details["consensus"]["from"]
    assert "max = 0.5 }" in event.details["consensus"]["to"]
    assert "[consensus.by_kind.ranking]" in event.details["consensus"]["to"]


# -- rules while a round is open ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("quantile_method", "hazen"),
        ("consensus", STRICTER),
        ("feedback_min_n", 4),
        ("max_rounds", 5),
        ("consensus_items", "leave"),
    ],
)
def test_rules_cannot_change_while_a_round_is_open(study, lead, name, value):
    open_round(db.session, study, actor=lead)
    with pytest.raises(InvalidValues) as refused:
        update_settings(db.session, study, {name: value}, lead, reason="after the preview")
    assert refused.value.errors == {
        name: ["rules cannot change while a round is open: change it once the open round is closed"]
    }
    db.session.expire_all()
    assert study.quantile_method == "linear" and study.feedback_min_n == 3
    assert study.max_rounds == 3 and study.consensus_items == "stay"
    assert study.consensus["default"]["criteria"] == [{"kind": "iqr", "max": 1}]
    assert amendment_count() == 0


def test_raising_the_anonymity_while_open_is_an_amendment_from_the_open_round(study, lead):
    open_round(db.session, study, actor=lead)
    update_settings(db.session, study, {"anonymity": "blind"}, lead, reason="a panelist asked")
    (amendment,) = amendments(db.session, study)
    assert (amendment.what, amendment.old_value, amendment.new_value) == (
        "settings.anonymity",
        "standard",
        "blind",
    )
    assert amendment.first_round == 1


def test_require_no_open_round_for_rules(study):
    require_no_open_round_for_rules(db.session, study)
    open_round(db.session, study)
    with pytest.raises(Conflict, match=r"^rules cannot change while a round is open$"):
        require_no_open_round_for_rules(db.session, study)
    close_round(db.session, study)
    require_no_open_round_for_rules(db.session, study)


# -- record_amendment, the interface other editors call ----------------------------------


def test_record_amendment_needs_a_stamp_and_a_reason(study, lead):
    with pytest.raises(Conflict, match="not stamped"):
        record_amendment(
            db.session, study, what="settings.max_rounds", old="3", new="4", reason="x", actor=lead
        )
    open_round(db.session, study, actor=lead)
    for reason in ("", "  ", "because\x00", "x" * 2001):
        with pytest.raises(InvalidValues) as refused:
            record_amendment(
                db.session,
                study,
                what="items.trust_now.consensus",
                old="a",
                new="b",
                reason=reason,
                actor=lead,
            )
        assert list(refused.value.errors) == ["reason"]
    with pytest.raises(InvalidValues) as refused:
        record_amendment(
            db.session, study, what="items.Trust now", old="", new="", reason="r", actor=lead
        )
    assert list(refused.value.errors) == ["what"]
    assert amendment_count() == 0


def test_record_amendment_applies_from_the_next_round_unless_told(study, lead):
    open_round(db.session, study, actor=lead)
    close_round(db.session, study, actor=lead)
    first = record_amendment(
        db.session,
        study,
        what="items.trust_now.consensus",
        old='{ combine = "all", criteria = [{ kind = "iqr", max = 1 }] }',
        new='{ combine = "all", criteria = [{ kind = "iqr", max = 0.5 }] }',
        reason="stricter",
        actor=lead,
    )
    open_round(db.session, study, actor=lead)
    second = record_amendment(
        db.session, study, what="settings.anonymity", old="a", new="b", reason="r", actor=lead
    )
    third = record_amendment(
        db.session,
        study,
        what="settings.anonymity",
        old="a",
        new="b",
        reason="r",
        actor=lead,
        applies_to_open_round=True,
    )
    db.session.commit()
    assert (first.first_round, second.first_round, third.first_round) == (2, 3, 2)
    assert [a.id for a in amendments(db.session, study)] == [first.id, second.id, third.id]
    (event, *_) = events("protocol.amend")
    assert event.details["what"] == "items.trust_now.consensus"
    assert event.details["old"].endswith("max = 1 }] }")
    assert event.details["new"].endswith("max = 0.5 }] }")
    assert event.details["reason"] == "stricter"
    assert event.details["first_round"] == 2


# -- items between rounds ----------------------------------------------------------------


def test_after_the_stamp_adding_an_item_needs_a_note_and_is_an_amendment(stamped, lead):
    keys = [item.key for item in stamped.items]
    with pytest.raises(InvalidValues) as refused:
        add_item(db.session, stamped, NEW_ITEM, lead, None)
    assert list(refused.value.errors) == ["note"]
    db.session.expire_all()
    assert [item.key for item in stamped.items] == keys
    add_item(db.session, stamped, NEW_ITEM, lead, "suggested by the panel in round 1")
    (amendment,) = amendments(db.session, stamped)
    assert amendment.what == "items.trigger_cyberattack"
    assert amendment.old_value == ""
    assert 'key = "trigger_cyberattack"' in amendment.new_value
    assert amendment.reason == "suggested by the panel in round 1"
    assert amendment.first_round == 2


def test_after_the_stamp_rewording_and_retiring_are_amendments(stamped, lead):
    item = next(item for item in stamped.items if item.key == "trust_now")
    old = item_to_toml(item_from_json(item.key, item.kind, item.spec))
    new = old.replace("security leaders", "security chiefs", 1)
    with pytest.raises(InvalidValues) as refused:
        reword_item(db.session, stamped, "trust_now", new, lead, "  ")
    assert list(refused.value.errors) == ["note"]
    assert item.version == 1
    reword_item(db.session, stamped, "trust_now", new, lead, "clearer wording")
    retire_item(db.session, stamped, "agenda_now", "asked twice", lead)
    reworded, retired = amendments(db.session, stamped)
    assert (reworded.what, reworded.old_value, reworded.new_value) == ("items.trust_now", old, new)
    assert reworded.reason == "clearer wording"
    assert retired.what == "items.agenda_now"
    assert 'key = "agenda_now"' in retired.old_value
    assert (retired.new_value, retired.reason) == ("", "asked twice")


def test_before_the_stamp_items_change_without_amendments(study, lead):
    add_item(db.session, study, NEW_ITEM, lead, None)
    retire_item(db.session, study, "agenda_now", "asked twice", lead)
    assert amendment_count() == 0


# -- items at consensus, at a close -------------------------------------------------------


def answer_round(study, links, post_answers):
    """Open a round; four panelists agree on trust_now (IQR 0.25) and disagree on
    trust_horizon (IQR 2.5)."""
    open_round(db.session, study)
    for link, now, horizon in zip(links, [4, 4, 4, 5], [1, 2, 4, 5], strict=True):
        answers = {"trust_now": str(now), "trust_horizon": str(horizon)}
        assert post_answers(link.token, answers).status_code == 302


def retired(study):
    """``{key: reason}`` of the study's retired items."""
    db.session.expire_all()
    return {item.key: item.retired_reason for item in study.items if item.retired_at is not None}


@pytest.fixture
def answered(study, make_panel, post_answers):
    """The demo study with round 1 open and answered (see :func:`answer_round`)."""

    def run(policy):
        update_settings(db.session, study, {"consensus_items": policy})
        answer_round(study, make_panel(study, 4), post_answers)
        return study

    return run


def test_leave_retires_the_items_at_consensus_when_the_round_closes(answered, lead):
    study = answered("leave")
    assert protocol_stamp(db.session, study).consensus_items == "leave"
    close_round(db.session, study, actor=lead)
    assert retired(study) == {"trust_now": "reached consensus in round 1"}
    (event,) = events("item.retire")
    assert event.details == {
        "item": "trust_now",
        "reason": "reached consensus in round 1",
        "consensus_items": "leave",
    }
    assert event.user_email == "lead@example.org"


def test_stay_keeps_them_and_refuses_a_list_of_items_to_retire(answered, lead):
    study = answered("stay")
    with pytest.raises(Conflict, match="keeps items that reached consensus"):
        close_round(db.session, study, actor=lead, retire=["trust_now"])
    close_round(db.session, study, actor=lead)
    assert retired(study) == {}


def test_ask_retires_only_the_ticked_items_that_reached_consensus(answered, lead):
    study = answered("ask")
    close_round(db.session, study, actor=lead, retire=["trust_now", "trust_horizon", "nonsense"])
    assert retired(study) == {"trust_now": "reached consensus in round 1"}


def test_ask_with_nothing_ticked_retires_nothing(answered, lead):
    study = answered("ask")
    close_round(db.session, study, actor=lead)
    assert retired(study) == {}


# -- the export ----------------------------------------------------------------------------


def test_the_export_methods_table_holds_the_stamp_and_every_amendment(study, lead):
    methods = export_methods(study)
    assert methods["protocol.stamp"] == "not stamped"
    open_round(db.session, study, actor=lead)
    close_round(db.session, study, actor=lead)
    update_settings(db.session, study, {"feedback_min_n": 4}, lead, reason="small panel")
    retire_item(db.session, study, "agenda_now", "asked twice", lead)
    stamp = protocol_stamp(db.session, study)
    assert stamp is not None
    methods = export_methods(study)
    assert methods["protocol.sha256"] == stamp.sha256
    assert methods["protocol.stamped_at"] == stamp.stamped_at.isoformat()
    assert methods["protocol.amendments"] == "2"
    assert {key: value for key, value in methods.items() if key.startswith("amendment.1.")} == {
        "amendment.1.what": "settings.feedback_min_n",
        "amendment.1.change": "changed",
        "amendment.1.first_round": "2",
        "amendment.1.at": amendments(db.session, study)[0].at.isoformat(),
        "amendment.1.reason": "small panel",
        "amendment.1.old": "3",
        "amendment.1.new": "4",
    }
    assert methods["amendment.2.what"] == "items.agenda_now"
    assert methods["amendment.2.change"] == "removed"
    assert methods["amendment.2.new"] == ""
    assert "lead@example.org" not in methods.values()


def export_methods(study):
    """The export's methods table as ``{key: value}``."""
    table = export_tables(db.session, study).methods
    return dict(zip(table["key"], table["value"], strict=True))
